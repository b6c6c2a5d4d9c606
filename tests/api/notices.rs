//! Notifications a team relies on: a lead or task given to you, a
//! follow-up or task of yours coming due (at its time, written in your
//! timezone), and where you choose to hear of each.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::chat::{group, say};
use crate::helpers::{error_of, ok, TestApp};

const POLL_MS: u64 = 50;

async fn app() -> TestApp {
    TestApp::spawn_with(|c| c.reminder_poll_ms = POLL_MS).await
}

async fn notices(app: &TestApp, token: &str) -> Vec<Value> {
    let page = ok(app.get("/api/v1/notifications?limit=100", token).await).await;
    page["items"].as_array().unwrap().clone()
}

async fn of_kind(app: &TestApp, token: &str, kind: &str) -> Vec<Value> {
    notices(app, token)
        .await
        .into_iter()
        .filter(|n| n["kind"] == kind)
        .collect()
}

/// Waits for the scheduler to leave `count` notices of `kind`.
async fn wait_for(app: &TestApp, token: &str, kind: &str, count: usize) -> Vec<Value> {
    for _ in 0..100 {
        let found = of_kind(app, token, kind).await;
        if found.len() >= count {
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(POLL_MS)).await;
    }
    panic!(
        "no {count} `{kind}` notices: {:?}",
        notices(app, token).await
    );
}

#[tokio::test]
async fn a_lead_or_task_given_to_someone_tells_them_and_not_the_giver() {
    let app = app().await;
    let admin = app.admin_token().await;
    let (rep_id, rep) = app.user_with_role(&admin, "rosa", "user").await;
    let lead = app.create_lead(&admin, "Globex").await;
    let response = app
        .post(
            &format!("/api/v1/leads/{lead}/assign"),
            &admin,
            json!({"owner": rep_id}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let told = of_kind(&app, &rep, "lead_assigned").await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["lead"], json!(lead));
    assert!(told[0]["text"].as_str().unwrap().contains("Globex"));
    assert!(of_kind(&app, &admin, "lead_assigned").await.is_empty());

    let task = ok(app
        .post(
            "/api/v1/tasks",
            &admin,
            json!({"title": "Send the quote", "task_type": "sales", "assignee": rep_id}),
        )
        .await)
    .await;
    let told = of_kind(&app, &rep, "task_assigned").await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["task"], task["id"]);
}

#[tokio::test]
async fn a_follow_up_and_a_task_coming_due_are_told_once_at_their_time_in_the_owners_zone() {
    let app = app().await;
    let admin = app.admin_token().await;
    let (rep_id, rep) = app.user_with_role(&admin, "rosa", "user").await;
    ok(app
        .patch(
            &format!("/api/v1/users/{rep_id}"),
            &admin,
            json!({"timezone": "Asia/Tokyo"}),
        )
        .await)
    .await;
    let lead = app.create_lead(&rep, "Initrode").await;
    let at = app.clock_now() + Duration::hours(1);
    ok(app
        .put_json(
            &format!("/api/v1/leads/{lead}/follow-ups/1"),
            &rep,
            json!({"scheduled_at": at}),
        )
        .await)
    .await;
    ok(app
        .post(
            "/api/v1/tasks",
            &admin,
            json!({"title": "Call back Initrode", "task_type": "sales", "assignee": rep_id, "due_at": at}),
        )
        .await)
    .await;

    // Not before its time.
    tokio::time::sleep(std::time::Duration::from_millis(POLL_MS * 4)).await;
    assert!(of_kind(&app, &rep, "follow_up_due").await.is_empty());
    assert!(of_kind(&app, &rep, "task_due").await.is_empty());

    app.clock.advance(Duration::minutes(61));
    let follow_up = wait_for(&app, &rep, "follow_up_due", 1).await;
    let task = wait_for(&app, &rep, "task_due", 1).await;
    let tokyo = at
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .format("%H:%M JST")
        .to_string();
    let text = follow_up[0]["text"].as_str().unwrap();
    assert!(text.contains("Initrode") && text.contains(&tokyo), "{text}");
    assert_eq!(follow_up[0]["lead"], json!(lead));
    assert!(task[0]["text"].as_str().unwrap().contains(&tokyo));

    // Once: later rounds leave nothing more.
    tokio::time::sleep(std::time::Duration::from_millis(POLL_MS * 6)).await;
    assert_eq!(of_kind(&app, &rep, "follow_up_due").await.len(), 1);

    // Moved to a later time, it is told again when that comes.
    ok(app
        .put_json(
            &format!("/api/v1/leads/{lead}/follow-ups/1"),
            &rep,
            json!({"scheduled_at": app.clock_now() + Duration::minutes(30)}),
        )
        .await)
    .await;
    app.clock.advance(Duration::minutes(31));
    wait_for(&app, &rep, "follow_up_due", 2).await;
}

#[tokio::test]
async fn each_person_chooses_where_they_hear_of_what_and_mutes_rooms() {
    let app = app().await;
    let admin = app.admin_token().await;
    let (rep_id, rep) = app.user_with_role(&admin, "rosa", "user").await;
    let settings = ok(app.get("/api/v1/me/notification-settings", &rep).await).await;
    assert_eq!(settings["kinds"].as_array().unwrap().len(), 6);
    assert!(settings["hub_off"].as_array().unwrap().is_empty());

    let noisy = group(&app, &admin, "noisy", &[&rep_id]).await;
    let quiet = group(&app, &admin, "quiet", &[&rep_id]).await;
    let chosen = ok(app
        .put_json(
            "/api/v1/me/notification-settings",
            &rep,
            json!({"hub_off": ["lead_assigned"], "muted_rooms": [noisy]}),
        )
        .await)
    .await;
    assert_eq!(chosen["hub_off"], json!(["lead_assigned"]));

    let lead = app.create_lead(&admin, "Umbrella").await;
    app.post(
        &format!("/api/v1/leads/{lead}/assign"),
        &admin,
        json!({"owner": rep_id}),
    )
    .await;
    say(&app, &admin, &noisy, "@rosa look here").await;
    say(&app, &admin, &quiet, "@rosa and here").await;
    let kinds: Vec<(String, Option<String>)> = notices(&app, &rep)
        .await
        .iter()
        .map(|n| {
            (
                n["kind"].as_str().unwrap().to_string(),
                n["room"].as_str().map(str::to_string),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![("mention".to_string(), Some(quiet.clone()))],
        "{kinds:?}"
    );

    for (body, field) in [
        (json!({"hub_off": ["gossip"]}), "hub_off"),
        (
            json!({"muted_rooms": ["not-a-room-of-mine"]}),
            "muted_rooms",
        ),
    ] {
        let (status, code, message) = error_of(
            app.put_json("/api/v1/me/notification-settings", &rep, body)
                .await,
        )
        .await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
        );
        assert!(message.starts_with(field), "{message}");
    }
}
