//! `ea-crm backup` and `ea-crm restore`: an archive restored into an empty
//! database gives back every record and every uploaded file.

use std::process::Command;

use ea_crm::config::Config;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::chat::group;
use crate::files::upload;
use crate::helpers::{TestApp, ADMIN_PASSWORD};

const BIN: &str = env!("CARGO_BIN_EXE_ea-crm");

pub fn config(dir: &std::path::Path, name: &str) -> Config {
    let mut config = Config::for_tests();
    config.database_url = format!("surrealkv://{}", dir.join(format!("{name}.db")).display());
    config.upload_dir = dir.join(format!("{name}-uploads"));
    config
}

/// Every row of every table, as JSON, in id order.
pub async fn snapshot(app: &TestApp) -> Value {
    let info = app.ctx().store.run("INFO FOR DB", json!({})).await.unwrap();
    let mut tables: Vec<String> = info.value(0)["tables"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    tables.sort();
    let mut out = serde_json::Map::new();
    for table in tables {
        let rows = app
            .ctx()
            .store
            .run(
                "SELECT * FROM type::table($t) ORDER BY id",
                json!({"t": table}),
            )
            .await
            .unwrap();
        out.insert(table, rows.value(0).clone());
    }
    Value::Object(out)
}

pub fn run(args: &[&str], config: &Config) -> (bool, String) {
    let output = Command::new(BIN)
        .args(args)
        .env_clear()
        .env("DATABASE_URL", &config.database_url)
        .env("UPLOAD_DIR", &config.upload_dir)
        .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test]
async fn a_restore_into_an_empty_database_gives_back_every_record_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let source = config(dir.path(), "source");
    let app = TestApp::start(source.clone()).await;
    let admin = app.admin_token().await;
    let (ann, ann_token) = app.user_with_role(&admin, "ann", "user").await;
    let lead: Value = app
        .post(
            "/api/v1/leads",
            &ann_token,
            json!({"company_name": "Backed Up", "contacts": [{"name": "Bea"}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let lead_id = lead["lead"]["id"].as_str().unwrap();
    app.put_json(
        &format!("/api/v1/leads/{lead_id}/follow-ups/1"),
        &ann_token,
        json!({"outcome": "done"}),
    )
    .await;
    let room = group(&app, &admin, "archive", &[&ann]).await;
    app.post(
        &format!("/api/v1/rooms/{room}/messages"),
        &ann_token,
        json!({"body": "hello @admin"}),
    )
    .await;
    let shared: Value = upload(&app, &ann_token, &room, "notes.txt", b"plain words")
        .await
        .json()
        .await
        .unwrap();
    let file_id = shared["file"]["id"]
        .as_str()
        .or(shared["id"].as_str())
        .unwrap()
        .to_string();
    let before = snapshot(&app).await;
    app.stop().await;

    let archive = dir.path().join("backup.tar");
    let (ok, out) = run(&["backup", archive.to_str().unwrap()], &source);
    assert!(ok, "{out}");

    let target = config(dir.path(), "target");
    let (ok, out) = run(&["restore", archive.to_str().unwrap()], &target);
    assert!(ok, "{out}");
    let (ok, out) = run(&["restore", archive.to_str().unwrap()], &target);
    assert!(
        !ok && out.contains("not empty"),
        "a second restore is refused: {out}"
    );

    let app = TestApp::start(target).await;
    let after = snapshot(&app).await;
    for (table, rows) in before.as_object().unwrap() {
        assert_eq!(
            Some(rows),
            after.get(table),
            "table {table} came back whole"
        );
    }
    let ann_again = app.login("ann", crate::helpers::USER_PASSWORD).await;
    let download = app
        .get(&format!("/api/v1/files/{file_id}"), &ann_again)
        .await;
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.bytes().await.unwrap().as_ref(), b"plain words");
    app.stop().await;
}

#[test]
fn restoring_a_file_that_is_not_an_archive_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let target = config(dir.path(), "target");
    let junk = dir.path().join("junk.tar");
    std::fs::write(&junk, b"not a tar file at all").unwrap();
    let (ok, out) = run(&["restore", junk.to_str().unwrap()], &target);
    assert!(!ok);
    assert!(out.contains("restore failed"), "{out}");
    assert!(!out.contains("panicked"), "{out}");
}
