//! Slash commands typed in the hub run through the same command engine as
//! the Telegram and Discord bots, as the user who typed them.

use serde_json::Value;

use crate::chat::{group, say};
use crate::helpers::TestApp;
use crate::ws::Client;

/// The next message in the room written by the bot.
async fn next_bot_message(ws: &mut Client) -> Value {
    loop {
        let frame = ws.next_of("message").await;
        if frame["message"]["author"] == "bot" {
            return frame["message"].clone();
        }
    }
}

#[tokio::test]
async fn a_slash_command_in_a_hub_room_is_answered_by_the_bot_in_the_room() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (maria, maria_token) = app.user_with_role(&admin, "maria", "user").await;
    let room = group(&app, &admin, "sales", &[&maria]).await;
    let mut ws = Client::connect(&app, &admin).await;
    ws.subscribe(&room, None).await;

    let command = say(
        &app,
        &maria_token,
        &room,
        "/lead Beta GmbH beta.de country=DE",
    )
    .await;
    let answer = next_bot_message(&mut ws).await;

    assert!(
        answer["body"]
            .as_str()
            .unwrap()
            .starts_with("Lead created: Beta GmbH (beta.de)"),
        "{answer}"
    );
    assert_eq!(answer["reply_to"], command["id"]);
    assert_eq!(answer["author_name"], "EA CRM bot");
    let page: Value = app
        .get("/api/v1/leads?q=beta", &maria_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"][0]["created_by"], maria.as_str());

    // A command the user may not run is refused in words, as the user.
    say(&app, &maria_token, &room, "/assign beta.de @admin").await;
    let refused = next_bot_message(&mut ws).await;
    assert!(
        refused["body"].as_str().unwrap().contains("leads.assign"),
        "{refused}"
    );

    // Plain talk is not for the bot.
    say(&app, &maria_token, &room, "lunch?").await;
    say(&app, &maria_token, &room, "/followup Beta 5 done").await;
    let usage = next_bot_message(&mut ws).await;
    assert!(
        usage["body"].as_str().unwrap().contains("Usage: /followup"),
        "{usage}"
    );
}

#[tokio::test]
async fn a_task_made_by_slash_command_lands_in_the_tasks_service() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (maria, maria_token) = app.user_with_role(&admin, "maria", "user").await;
    let room = group(&app, &admin, "ops", &[&maria]).await;
    let mut ws = Client::connect(&app, &admin).await;
    ws.subscribe(&room, None).await;

    say(
        &app,
        &maria_token,
        &room,
        "/task \"Send the deck\" priority=high",
    )
    .await;
    let answer = next_bot_message(&mut ws).await;
    assert!(
        answer["body"].as_str().unwrap().contains("Send the deck"),
        "{answer}"
    );
    let tasks: Value = app
        .get("/api/v1/tasks?assignee=me", &maria_token)
        .await
        .json()
        .await
        .unwrap();
    let task = &tasks["items"][0];
    assert_eq!(
        (task["title"].as_str(), task["priority"].as_str()),
        (Some("Send the deck"), Some("high")),
        "{tasks}"
    );
    assert_eq!(task["assignee"], maria.as_str());

    say(&app, &maria_token, &room, "/tasks").await;
    let listed = next_bot_message(&mut ws).await;
    assert!(
        listed["body"].as_str().unwrap().contains("Send the deck"),
        "{listed}"
    );
}
