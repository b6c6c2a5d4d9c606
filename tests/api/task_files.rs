//! Files attached to tasks: the bytes come back as sent, only readers of
//! the task reach them, attaching and removing are audited, and programs
//! or oversize uploads are refused with a JSON error.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_of, multipart, TestApp};

async fn attach(
    app: &TestApp,
    token: &str,
    task: &str,
    name: &str,
    bytes: &[u8],
    comment: Option<&str>,
) -> reqwest::Response {
    let fields: Vec<(&str, &str)> = comment.map(|c| ("comment", c)).into_iter().collect();
    let (content_type, body) = multipart(&fields, name, bytes);
    app.request(
        reqwest::Method::POST,
        &format!("/api/v1/tasks/{task}/files"),
        Some(token),
    )
    .header("content-type", content_type)
    .body(body)
    .send()
    .await
    .unwrap()
}

async fn body(response: reqwest::Response) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).unwrap()
}

async fn task(app: &TestApp, token: &str, title: &str) -> String {
    let t = body(
        app.post(
            "/api/v1/tasks",
            token,
            json!({"title": title, "task_type": "design"}),
        )
        .await,
    )
    .await;
    t["id"].as_str().unwrap().to_string()
}

async fn file_rows(app: &TestApp, token: &str, task: &str) -> Vec<Value> {
    let rows = body(
        app.get(&format!("/api/v1/tasks/{task}/history"), token)
            .await,
    )
    .await;
    rows["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["field"] == "file")
        .cloned()
        .collect()
}

fn stored_files(app: &TestApp) -> usize {
    std::fs::read_dir(app.upload_dir())
        .map(|d| d.count())
        .unwrap_or(0)
}

/// A small PDF: typed by its `%PDF` magic bytes.
fn pdf() -> Vec<u8> {
    let mut bytes = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n".to_vec();
    bytes.extend((0..=255u8).cycle().take(5000));
    bytes
}

#[tokio::test]
async fn an_attached_file_downloads_as_sent_and_attach_and_remove_are_audited() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (ann, ann_token) = app.user_with_role(&admin, "ann", "user").await;
    let (_, mia_token) = app.user_with_role(&admin, "mia", "marketing_manager").await;
    let id = task(&app, &ann_token, "Brochure").await;

    let file = body(attach(&app, &ann_token, &id, "../brief.pdf", &pdf(), None).await).await;
    assert_eq!(file["content_type"], "application/pdf");
    assert_eq!(file["name"], "brief.pdf", "no folders in a name");
    assert_eq!(file["uploader"], ann.as_str());
    assert_eq!(file["size"], pdf().len());
    let file_id = file["id"].as_str().unwrap().to_string();

    // A reader who is not on the task (tasks.read only) sees and downloads it.
    let listed = body(
        app.get(&format!("/api/v1/tasks/{id}/files"), &mia_token)
            .await,
    )
    .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["items"][0]["id"], file_id.as_str());
    let download = app
        .get(&format!("/api/v1/tasks/{id}/files/{file_id}"), &mia_token)
        .await;
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(
        download.headers()["content-disposition"],
        "attachment; filename=\"brief.pdf\""
    );
    assert_eq!(download.bytes().await.unwrap().to_vec(), pdf());

    let rows = file_rows(&app, &ann_token, &id).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["action"], "attach_file");
    assert_eq!(rows[0]["actor"], ann.as_str());
    let recorded: Value = serde_json::from_str(rows[0]["new"].as_str().unwrap()).unwrap();
    assert_eq!(recorded["id"], file_id.as_str());
    assert_eq!(recorded["name"], "brief.pdf");
    assert!(rows[0]["old"].is_null());

    // A reader who neither uploaded it nor may edit the task cannot remove it.
    let (status, code, _) = error_of(
        app.delete(&format!("/api/v1/tasks/{id}/files/{file_id}"), &mia_token)
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::FORBIDDEN, "forbidden")
    );

    let removed = body(
        app.delete(&format!("/api/v1/tasks/{id}/files/{file_id}"), &ann_token)
            .await,
    )
    .await;
    assert_eq!(removed["deleted"], true);
    let rows = file_rows(&app, &ann_token, &id).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["action"], "remove_file", "newest first");
    let recorded: Value = serde_json::from_str(rows[0]["old"].as_str().unwrap()).unwrap();
    assert_eq!(recorded["id"], file_id.as_str());
    assert!(rows[0]["new"].is_null());

    let gone = app
        .get(&format!("/api/v1/tasks/{id}/files/{file_id}"), &ann_token)
        .await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    assert_eq!(stored_files(&app), 0, "the bytes went with the record");
}

#[tokio::test]
async fn someone_who_cannot_read_tasks_cannot_reach_their_files() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let role = app
        .post(
            "/api/v1/roles",
            &admin,
            json!({"key": "chat_only", "name": "Chat only", "permissions": ["chat.use"]}),
        )
        .await;
    assert_eq!(role.status(), StatusCode::OK);
    let (_, eve) = app.user_with_role(&admin, "eve", "chat_only").await;
    let id = task(&app, &admin, "Secret launch").await;
    let other = task(&app, &admin, "Other").await;
    let file = body(attach(&app, &admin, &id, "plan.pdf", &pdf(), None).await).await;
    let file_id = file["id"].as_str().unwrap();

    for path in [
        format!("/api/v1/tasks/{id}/files"),
        format!("/api/v1/tasks/{id}/files/{file_id}"),
        format!("/api/v1/tasks/{id}/files/{file_id}/thumbnail"),
    ] {
        let (status, code, _) = error_of(app.get(&path, &eve).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{path}"
        );
    }
    let (status, _, _) = error_of(attach(&app, &eve, &id, "x.pdf", &pdf(), None).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = error_of(
        app.delete(&format!("/api/v1/tasks/{id}/files/{file_id}"), &eve)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A file is only reachable through its own task.
    let (status, code, _) = error_of(
        app.get(&format!("/api/v1/tasks/{other}/files/{file_id}"), &admin)
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    assert_eq!(file_rows(&app, &admin, &id).await.len(), 1);
}

#[tokio::test]
async fn only_someone_who_may_edit_the_task_attaches_files_to_it() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, ann_token) = app.user_with_role(&admin, "ann", "user").await;
    let (_, bob_token) = app.user_with_role(&admin, "bob", "user").await;
    let id = task(&app, &ann_token, "Logo").await;
    let comment = body(
        app.post(
            &format!("/api/v1/tasks/{id}/comments"),
            &bob_token,
            json!({"body": "here is mine"}),
        )
        .await,
    )
    .await;

    for on_comment in [None, comment["id"].as_str()] {
        let (status, code, _) =
            error_of(attach(&app, &bob_token, &id, "bob.pdf", &pdf(), on_comment).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::FORBIDDEN, "forbidden"),
            "bob has tasks.write but the task is neither his nor assigned to him"
        );
    }
    assert_eq!(stored_files(&app), 0);
    let by_admin = attach(&app, &admin, &id, "admin.pdf", &pdf(), None).await;
    assert_eq!(by_admin.status(), StatusCode::OK, "tasks.manage may");
}

#[tokio::test]
async fn programs_and_oversize_uploads_are_refused_with_json_errors() {
    let app = TestApp::spawn_with(|c| c.max_upload_mb = 1).await;
    let admin = app.admin_token().await;
    let id = task(&app, &admin, "Installer").await;

    let mut elf = b"\x7fELF\x02\x01\x01\x00".to_vec();
    elf.extend([0u8; 64]);
    let (status, code, message) =
        error_of(attach(&app, &admin, &id, "report.pdf", &elf, None).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
    );
    assert!(message.contains("program"), "{message}");
    let (status, _, _) =
        error_of(attach(&app, &admin, &id, "run.txt", b"#!/bin/sh\necho hi\n", None).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "scripts too");
    let (status, _, _) = error_of(attach(&app, &admin, &id, "empty.pdf", b"", None).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (status, code, _) = error_of(
        attach(
            &app,
            &admin,
            &id,
            "big.pdf",
            &vec![7u8; 2 * 1024 * 1024],
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    assert_eq!(stored_files(&app), 0, "nothing was written");
    assert!(file_rows(&app, &admin, &id).await.is_empty(), "nor audited");
    let listed = body(app.get(&format!("/api/v1/tasks/{id}/files"), &admin).await).await;
    assert_eq!(listed, json!({"items": []}));
}

#[tokio::test]
async fn a_file_can_be_attached_to_ones_own_comment_on_the_task() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, ann_token) = app.user_with_role(&admin, "ann", "user").await;
    let (_, bob_token) = app.user_with_role(&admin, "bob", "user").await;
    let id = task(&app, &ann_token, "Logo").await;
    let other = task(&app, &ann_token, "Other").await;
    let comment = body(
        app.post(
            &format!("/api/v1/tasks/{id}/comments"),
            &ann_token,
            json!({"body": "first draft attached"}),
        )
        .await,
    )
    .await;
    let comment_id = comment["id"].as_str().unwrap();

    let file =
        body(attach(&app, &ann_token, &id, "draft.pdf", &pdf(), Some(comment_id)).await).await;
    assert_eq!(file["comment"], comment_id);
    let listed = body(
        app.get(&format!("/api/v1/tasks/{id}/files"), &bob_token)
            .await,
    )
    .await;
    assert_eq!(listed["items"][0]["comment"], comment_id);

    let (status, _, message) =
        error_of(attach(&app, &admin, &id, "mine.pdf", &pdf(), Some(comment_id)).await).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "not one's own comment: {message}"
    );
    let (status, code, _) =
        error_of(attach(&app, &ann_token, &other, "x.pdf", &pdf(), Some(comment_id)).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "not_found"),
        "the comment is on another task"
    );
    assert_eq!(stored_files(&app), 1, "refused uploads leave no bytes");
}
