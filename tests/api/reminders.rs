//! Reminders fire once, as a notification, after their time on the
//! controllable clock: across a restart and with two instances.

use std::time::Duration;

use chrono::Utc;
use ea_crm::domain::clock::ManualClock;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_of, TestApp};

const POLL_MS: u64 = 40;

async fn remind(app: &TestApp, token: &str, text: &str, in_minutes: i64) -> Value {
    let due = app.clock_now() + chrono::Duration::minutes(in_minutes);
    let response = app
        .post(
            "/api/v1/reminders",
            token,
            json!({"text": text, "due_at": due.to_rfc3339()}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Reminder notifications stored for everyone.
async fn fired(app: &TestApp) -> Vec<Value> {
    app.ctx()
        .store
        .run(
            "SELECT user, text FROM notification WHERE kind = 'reminder'",
            json!({}),
        )
        .await
        .unwrap()
        .rows(0)
        .unwrap()
}

/// Waits until `count` reminder notifications exist, then a little more
/// to catch any extra.
async fn settle(app: &TestApp, count: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while fired(app).await.len() < count && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(POLL_MS)).await;
    }
    tokio::time::sleep(Duration::from_millis(POLL_MS * 6)).await;
    fired(app).await
}

#[tokio::test]
async fn a_reminder_fires_once_when_its_time_comes_and_not_before() {
    let app = TestApp::spawn_with(|c| c.reminder_poll_ms = POLL_MS).await;
    let admin = app.admin_token().await;
    remind(&app, &admin, "call ACME back", 30).await;
    tokio::time::sleep(Duration::from_millis(POLL_MS * 4)).await;
    assert!(fired(&app).await.is_empty(), "not due yet");

    app.clock.advance(chrono::Duration::minutes(31));
    let notes = settle(&app, 1).await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["text"], "Reminder: call ACME back");
    let page: Value = app
        .get("/api/v1/notifications", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["unread_count"], 1);
    let listed: Value = app
        .get("/api/v1/reminders", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert!(listed["items"][0]["fired_at"].is_string());
}

#[tokio::test]
async fn a_reminder_about_a_message_needs_access_to_that_message() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, eve) = app.user_with_role(&admin, "eve", "user").await;
    let room = crate::chat::group(&app, &admin, "private", &[]).await;
    let message = crate::chat::say(&app, &admin, &room, "the numbers").await;
    let due = (Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let response = app
        .post(
            "/api/v1/reminders",
            &eve,
            json!({"due_at": due, "message": message["id"]}),
        )
        .await;
    let (status, _, _) = error_of(response).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let response = app
        .post(
            "/api/v1/reminders",
            &admin,
            json!({"due_at": due, "message": message["id"]}),
        )
        .await;
    let reminder: Value = response.json().await.unwrap();
    assert_eq!(reminder["room"], room.as_str());
}

#[tokio::test]
async fn a_reminder_due_while_the_service_was_down_fires_once_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("surrealkv://{}", dir.path().join("db").display());
    let clock = ManualClock::new();
    let config = |url: &str| {
        let mut c = ea_crm::config::Config::for_tests();
        c.database_url = url.to_string();
        c.reminder_poll_ms = POLL_MS;
        c
    };
    let app = TestApp::start_on(config(&url), clock.clone(), None).await;
    let admin = app.admin_token().await;
    remind(&app, &admin, "renewal", 10).await;
    app.stop().await;

    clock.advance(chrono::Duration::minutes(15));
    let app = TestApp::start_on(config(&url), clock.clone(), None).await;
    let notes = settle(&app, 1).await;
    assert_eq!(notes.len(), 1);
    app.stop().await;

    let app = TestApp::start_on(config(&url), clock, None).await;
    let notes = settle(&app, 1).await;
    assert_eq!(notes.len(), 1, "a second restart does not fire it again");
}

#[tokio::test]
async fn two_instances_fire_each_reminder_exactly_once() {
    let first = TestApp::spawn_with(|c| c.reminder_poll_ms = POLL_MS).await;
    let second = first
        .second_instance_with(|c| c.reminder_poll_ms = POLL_MS)
        .await;
    let admin = first.admin_token().await;
    for i in 0..12 {
        remind(&first, &admin, &format!("r{i}"), 5).await;
    }
    first.clock.advance(chrono::Duration::minutes(6));
    let notes = settle(&second, 12).await;
    let mut texts: Vec<&str> = notes.iter().map(|n| n["text"].as_str().unwrap()).collect();
    texts.sort();
    texts.dedup();
    assert_eq!(notes.len(), 12, "{notes:?}");
    assert_eq!(texts.len(), 12);
}

#[tokio::test]
async fn a_reminder_is_cancelled_by_its_owner_only_and_then_never_fires() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, ann) = app.user_with_role(&admin, "ann", "user").await;
    let reminder = remind(&app, &ann, "call Acme", 5).await;
    let path = format!("/api/v1/reminders/{}", reminder["id"].as_str().unwrap());

    // Someone else's reminder is not found, and stays.
    let (status, code, _) = error_of(app.delete(&path, &admin).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );

    let response = app.delete(&path, &ann).await;
    assert_eq!(response.status(), StatusCode::OK);
    let listed: Value = app
        .get("/api/v1/reminders", &ann)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!({"items": []}));
    let (status, _, _) = error_of(app.delete(&path, &ann).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    app.clock.advance(chrono::Duration::minutes(10));
    ea_crm::domain::chat::reminders::fire_due(app.ctx())
        .await
        .unwrap();
    assert!(fired(&app).await.is_empty(), "a cancelled reminder fired");
}
