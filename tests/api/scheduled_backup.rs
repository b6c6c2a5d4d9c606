//! Scheduled backups on the controllable clock: one archive per interval,
//! the oldest pruned beyond the retention, one instance per slot, and a
//! scheduled archive restores into an empty database whole.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ea_crm::backup::schedule::{archives, file_name, slot_start};
use ea_crm::config::Config;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::backup::{config as surrealkv_config, run, snapshot};
use crate::chat::group;
use crate::files::upload;
use crate::helpers::{TestApp, USER_PASSWORD};

const HOUR: Duration = Duration::from_secs(3600);
const POLL_MS: u64 = 40;

fn scheduled(config: &mut Config, dir: &Path, keep: usize) {
    config.backup_dir = Some(dir.to_path_buf());
    config.backup_interval = HOUR;
    config.backup_keep = keep;
    config.backup_poll_ms = POLL_MS;
}

/// The archive the current slot (on the app's clock) gets.
fn current_archive(app: &TestApp, dir: &Path) -> PathBuf {
    dir.join(file_name(slot_start(app.clock_now(), HOUR)))
}

/// Waits, bounded, until `done` holds.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(POLL_MS)).await;
    }
}

fn names(paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

async fn slots(app: &TestApp) -> Vec<Value> {
    app.ctx()
        .store
        .run(
            "SELECT record::id(id) AS slot, instance, finished_at, file, error
             FROM backup_slot ORDER BY slot",
            json!({}),
        )
        .await
        .unwrap()
        .rows(0)
        .unwrap()
}

#[tokio::test]
async fn a_backup_is_written_each_interval_and_the_oldest_are_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_with(|c| scheduled(c, dir.path(), 3)).await;
    let mut expected = Vec::new();
    for hour in 0..5 {
        if hour > 0 {
            app.clock.advance(chrono::Duration::hours(1));
        }
        let archive = current_archive(&app, dir.path());
        expected.push(archive.clone());
        eventually(&format!("backup {hour} is written"), || archive.exists()).await;
    }
    let newest: Vec<PathBuf> = expected[2..].to_vec();
    eventually("the two oldest are pruned", || {
        archives(dir.path()).unwrap() == newest
    })
    .await;
    assert_eq!(names(&archives(dir.path()).unwrap()), names(&newest));
    // Nothing half-written or temporary is left beside them.
    let mut everything: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    everything.sort();
    assert_eq!(everything, names(&newest));

    let slots = slots(&app).await;
    assert_eq!(slots.len(), 5, "{slots:?}");
    for slot in &slots {
        assert!(slot["finished_at"].is_string(), "{slot}");
        assert!(slot["error"].is_null(), "{slot}");
    }
}

#[tokio::test]
async fn two_instances_make_each_scheduled_backup_once() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = TestApp::spawn_with(|c| scheduled(c, a.path(), 10)).await;
    let second = first
        .second_instance_with(|c| scheduled(c, b.path(), 10))
        .await;
    let mut slot_names = Vec::new();
    for hour in 0..4 {
        if hour > 0 {
            first.clock.advance(chrono::Duration::hours(1));
        }
        let name = file_name(slot_start(first.clock_now(), HOUR));
        let (in_a, in_b) = (a.path().join(&name), b.path().join(&name));
        eventually(&format!("slot {name} is backed up"), || {
            in_a.exists() || in_b.exists()
        })
        .await;
        slot_names.push(name);
    }
    // Both schedulers get more rounds in which a second copy would appear.
    tokio::time::sleep(Duration::from_millis(POLL_MS * 10)).await;
    for name in &slot_names {
        let copies = [a.path(), b.path()]
            .iter()
            .filter(|d| d.join(name).exists())
            .count();
        assert_eq!(copies, 1, "{name} was written {copies} times");
    }
    assert_eq!(slots(&second).await.len(), slot_names.len());
}

#[tokio::test]
async fn a_scheduled_backup_restores_into_an_empty_database_with_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("backups");
    let app = TestApp::spawn_with(|c| scheduled(c, &backups, 5)).await;
    let admin = app.admin_token().await;
    let (ann, ann_token) = app.user_with_role(&admin, "ann", "user").await;
    let lead: Value = app
        .post(
            "/api/v1/leads",
            &ann_token,
            json!({"company_name": "Backed Up On Schedule", "contacts": [{"name": "Bea"}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(lead["lead"]["id"].is_string(), "{lead}");
    let room = group(&app, &admin, "scheduled", &[&ann]).await;
    let said = app
        .post(
            &format!("/api/v1/rooms/{room}/messages"),
            &ann_token,
            json!({"body": "kept by the schedule"}),
        )
        .await;
    assert_eq!(said.status(), StatusCode::OK);
    let shared: Value = upload(&app, &ann_token, &room, "plan.txt", b"scheduled words")
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

    // The slot after the data was written.
    app.clock.advance(chrono::Duration::hours(1));
    let archive = current_archive(&app, &backups);
    eventually("the scheduled backup is written", || archive.exists()).await;
    app.stop().await;

    let target = surrealkv_config(dir.path(), "target");
    let (ok, out) = run(&["restore", archive.to_str().unwrap()], &target);
    assert!(ok, "{out}");
    let restored = TestApp::start(target).await;
    let after = snapshot(&restored).await;
    for (table, rows) in before.as_object().unwrap() {
        // Slot records track the backups themselves: the archive holds its
        // own slot as claimed, not yet finished.
        if table == "backup_slot" {
            continue;
        }
        assert_eq!(
            Some(rows),
            after.get(table),
            "table {table} came back whole"
        );
    }
    let ann_again = restored.login("ann", USER_PASSWORD).await;
    let download = restored
        .get(&format!("/api/v1/files/{file_id}"), &ann_again)
        .await;
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.bytes().await.unwrap().as_ref(), b"scheduled words");
    restored.stop().await;
}
