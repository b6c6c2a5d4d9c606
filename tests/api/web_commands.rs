//! Slash commands typed in the hub run through the same command engine as
//! the Telegram and Discord bots, as the user who typed them.

use serde_json::Value;

use crate::chat::{group, say};
use crate::helpers::{ok, TestApp};
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

#[tokio::test]
async fn a_task_list_does_not_name_a_lead_its_reader_cannot_see() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (maria, maria_token) = app.user_with_role(&admin, "maria", "user").await;
    let secret = app.create_lead(&admin, "Secret Corp").await;
    let mine = app.create_lead(&maria_token, "Open Book Ltd").await;
    for (title, lead) in [("Call the board", &secret), ("Send the quote", &mine)] {
        let created = app
            .post(
                "/api/v1/tasks",
                &admin,
                serde_json::json!({"title": title, "task_type": "sales", "lead": lead,
                    "assignee": maria}),
            )
            .await;
        assert!(created.status().is_success(), "{title}");
    }
    let room = group(&app, &admin, "desk", &[&maria]).await;
    let mut ws = Client::connect(&app, &admin).await;
    ws.subscribe(&room, None).await;

    say(&app, &maria_token, &room, "/tasks").await;
    let listed = next_bot_message(&mut ws).await;
    let body = listed["body"].as_str().unwrap();
    assert!(body.contains("Call the board"), "{body}");
    assert!(!body.contains("Secret Corp"), "{body}");
    // Her own lead is named.
    assert!(body.contains("Open Book Ltd"), "{body}");

    // Its card lists its open tasks.
    say(&app, &maria_token, &room, "/show Open Book Ltd").await;
    let card = next_bot_message(&mut ws).await;
    let card = card["body"].as_str().unwrap();
    assert!(card.contains("Open tasks:"), "{card}");
    assert!(card.contains("Send the quote"), "{card}");
    assert!(!card.contains("Call the board"), "{card}");
}

#[tokio::test]
async fn a_note_typed_in_the_hub_is_stored_as_its_author_and_shown_on_the_card() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (maria, maria_token) = app.user_with_role(&admin, "maria", "user").await;
    let lead = app.create_lead(&maria_token, "Open Book Ltd").await;
    ok(app
        .post(
            "/api/v1/tasks",
            &admin,
            serde_json::json!({"title": "Print the brochure", "task_type": "print",
                "lead": lead, "assignee": maria}),
        )
        .await)
    .await;
    let room = group(&app, &admin, "notes", &[&maria]).await;
    let mut ws = Client::connect(&app, &admin).await;
    ws.subscribe(&room, None).await;

    say(
        &app,
        &maria_token,
        &room,
        "/note Open Book Ltd: budget approved for Q1",
    )
    .await;
    let answer = next_bot_message(&mut ws).await;
    assert_eq!(answer["body"], "Note added to Open Book Ltd.", "{answer}");
    let notes = ok(app
        .get(&format!("/api/v1/leads/{lead}/notes"), &maria_token)
        .await)
    .await;
    let note = &notes["items"][0];
    assert_eq!(note["text"], "budget approved for Q1", "{notes}");
    assert_eq!(note["author"]["id"], maria.as_str());
    let audit = ok(app
        .get(
            &format!("/api/v1/audit?entity_id={}", note["id"].as_str().unwrap()),
            &admin,
        )
        .await)
    .await;
    assert_eq!(audit["items"][0]["channel"], "web", "{audit}");

    say(&app, &maria_token, &room, "/show Open Book Ltd").await;
    let card = next_bot_message(&mut ws).await;
    let card = card["body"].as_str().unwrap();
    assert!(
        card.contains("Notes:\n• budget approved for Q1 (maria)"),
        "{card}"
    );
    assert!(card.contains("Open tasks:"), "{card}");
    assert!(card.contains("Print the brochure"), "{card}");
}

/// Maria in the "field" room, where she made the lead Globex Corp with
/// `/lead`; an admin's socket follows the room.
struct Field {
    maria_token: String,
    room: String,
    ws: Client,
    /// Where Globex Corp's calls are listed.
    calls_path: String,
}

async fn field_with_a_lead(app: &TestApp, admin: &str) -> Field {
    let (maria, maria_token) = app.user_with_role(admin, "maria", "user").await;
    let room = group(app, admin, "field", &[&maria]).await;
    let mut ws = Client::connect(app, admin).await;
    ws.subscribe(&room, None).await;
    say(app, &maria_token, &room, "/lead Globex Corp globex.com").await;
    next_bot_message(&mut ws).await;
    let page: Value = app
        .get("/api/v1/leads?q=globex", &maria_token)
        .await
        .json()
        .await
        .unwrap();
    let calls_path = format!(
        "/api/v1/leads/{}/calls",
        page["items"][0]["id"].as_str().unwrap()
    );
    Field {
        maria_token,
        room,
        ws,
        calls_path,
    }
}

#[tokio::test]
async fn a_bot_mention_in_the_hub_is_proposed_and_runs_only_when_its_author_confirms() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, ivan_token) = app.user_with_role(&admin, "ivan", "user").await;
    let Field {
        maria_token,
        room,
        mut ws,
        calls_path,
    } = field_with_a_lead(&app, &admin).await;
    let logged = || async { app.all_items(&maria_token, &calls_path).await.len() };

    let mention = say(
        &app,
        &maria_token,
        &room,
        "@bot had a call with Globex Corp today, not interested",
    )
    .await;
    let proposal = next_bot_message(&mut ws).await;

    assert_eq!(proposal["reply_to"], mention["id"]);
    let actions = proposal["actions"].as_array().unwrap();
    assert_eq!(actions[0]["label"], "Confirm");
    assert_eq!(actions[1]["label"], "Cancel");
    assert_eq!(logged().await, 0, "nothing before the button");
    let press = |token: String, key: Value| {
        let app = &app;
        let path = format!(
            "/api/v1/messages/{}/actions/{}",
            proposal["id"].as_str().unwrap(),
            key.as_str().unwrap()
        );
        async move { app.post(&path, &token, serde_json::json!({})).await }
    };
    // Someone else (here not even in the room) cannot press Maria's button.
    let refused = press(ivan_token.clone(), actions[0]["key"].clone()).await;
    assert_eq!(refused.status(), reqwest::StatusCode::NOT_FOUND);
    let refused = press(admin.clone(), actions[0]["key"].clone()).await;
    assert_eq!(refused.status(), reqwest::StatusCode::CONFLICT);
    assert_eq!(logged().await, 0);

    let done = press(maria_token.clone(), actions[0]["key"].clone()).await;

    assert_eq!(done.status(), reqwest::StatusCode::OK);
    let done: Value = done.json().await.unwrap();
    assert!(
        done["body"].as_str().unwrap().contains("Globex Corp"),
        "{done}"
    );
    assert_eq!(done["reply_to"], proposal["id"]);
    assert_eq!(logged().await, 1);
    // The buttons are gone, and a second press does nothing.
    let again = press(maria_token.clone(), actions[0]["key"].clone()).await;
    assert_eq!(again.status(), reqwest::StatusCode::NOT_FOUND);
    let cancel = press(maria_token.clone(), actions[1]["key"].clone()).await;
    assert_eq!(cancel.status(), reqwest::StatusCode::NOT_FOUND);
    assert_eq!(logged().await, 1);
}

#[tokio::test]
async fn a_bot_button_pressed_with_a_narrowed_key_runs_only_with_the_keys_permissions() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let Field {
        maria_token,
        room,
        mut ws,
        calls_path,
    } = field_with_a_lead(&app, &admin).await;
    let chat_only = app.api_key(&maria_token, &["chat.use"]).await;
    say(
        &app,
        &maria_token,
        &room,
        "@bot had a call with Globex Corp today, not interested",
    )
    .await;
    let proposal = next_bot_message(&mut ws).await;
    let confirm = &proposal["actions"][0];
    assert_eq!(confirm["label"], "Confirm", "{proposal}");

    let pressed = app
        .post(
            &format!(
                "/api/v1/messages/{}/actions/{}",
                proposal["id"].as_str().unwrap(),
                confirm["key"].as_str().unwrap()
            ),
            &chat_only,
            serde_json::json!({}),
        )
        .await;

    assert_eq!(pressed.status(), reqwest::StatusCode::OK);
    let answer: Value = pressed.json().await.unwrap();
    assert!(
        answer["body"].as_str().unwrap().contains("permission"),
        "refused in words: {answer}"
    );
    let calls = app.all_items(&maria_token, &calls_path).await;
    assert_eq!(calls.len(), 0, "no call was logged");
}

#[tokio::test]
async fn a_slash_command_posted_with_a_narrowed_key_runs_only_with_the_keys_permissions() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (maria, maria_token) = app.user_with_role(&admin, "maria", "user").await;
    let chat_only = app.api_key(&maria_token, &["chat.use"]).await;
    let room = group(&app, &admin, "field", &[&maria]).await;
    let mut ws = Client::connect(&app, &admin).await;
    ws.subscribe(&room, None).await;

    say(&app, &chat_only, &room, "/lead Initech initech.com").await;

    let reply = next_bot_message(&mut ws).await;
    assert!(
        reply["body"].as_str().unwrap().contains("permission"),
        "refused in words: {reply}"
    );
    let page: Value = app
        .get("/api/v1/leads?q=initech", &maria_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 0, "no lead made");
}

#[tokio::test]
async fn a_lead_made_by_slash_command_takes_its_country_and_state_by_name() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (maria, maria_token) = app.user_with_role(&admin, "maria", "user").await;
    let room = group(&app, &admin, "sales", &[&maria]).await;
    let mut ws = Client::connect(&app, &admin).await;
    ws.subscribe(&room, None).await;

    say(
        &app,
        &maria_token,
        &room,
        r#"/lead Brauerei Huber huber.de country=Germany state="Bavaria""#,
    )
    .await;
    let answer = next_bot_message(&mut ws).await;
    assert!(
        answer["body"]
            .as_str()
            .unwrap()
            .starts_with("Lead created: Brauerei Huber (huber.de)"),
        "{answer}"
    );
    let lead = &ok(app.get("/api/v1/leads?q=huber", &maria_token).await).await["items"][0];
    assert_eq!(
        (
            lead["country"].as_str(),
            lead["state"].as_str(),
            lead["timezone"].as_str()
        ),
        (Some("DE"), Some("DE-BY"), Some("Europe/Berlin"))
    );

    // A name the CRM cannot read is refused in words, saying what was typed.
    say(
        &app,
        &maria_token,
        &room,
        "/lead Nowhere Ltd country=Narnia",
    )
    .await;
    let refused = next_bot_message(&mut ws).await;
    assert!(
        refused["body"].as_str().unwrap().contains("Narnia"),
        "{refused}"
    );
    let page = ok(app.get("/api/v1/leads?q=nowhere", &maria_token).await).await;
    assert_eq!(page["items"], serde_json::json!([]));
}

#[tokio::test]
async fn a_hub_mention_is_read_by_the_model_and_by_the_local_rules_while_intent_is_off() {
    use crate::ai::{fake_llm, slots, Mode};
    let (llm_url, llm) = fake_llm(Mode::Good(serde_json::json!({
        "kind": "log_call",
        "slots": slots(serde_json::json!({"lead": "acme.com", "outcome": "interested"}))
    })))
    .await;
    let app = TestApp::spawn_with(move |c| {
        c.openrouter_api_key = Some("sk-test-key".into());
        c.openrouter_base_url = llm_url;
        c.ai_timeout_ms = 2_000;
        c.ai_max_retries = 0;
    })
    .await;
    let admin = app.admin_token().await;
    let (maria, maria_token) = app.user_with_role(&admin, "maria", "user").await;
    let room = group(&app, &admin, "sales", &[&maria]).await;
    let mut ws = Client::connect(&app, &admin).await;
    ws.subscribe(&room, None).await;

    say(&app, &maria_token, &room, "@bot Acme loved the demo").await;
    let answer = next_bot_message(&mut ws).await;
    assert_eq!(
        answer["body"], "I'll log a call with acme.com: interested. OK?\n(read by the model)",
        "{answer}"
    );
    assert_eq!(
        answer["actions"].as_array().map(Vec::len),
        Some(2),
        "{answer}"
    );
    assert_eq!(llm.hits.load(std::sync::atomic::Ordering::SeqCst), 1);

    ok(app
        .put_json(
            "/api/v1/features/intent",
            &admin,
            serde_json::json!({"enabled": false}),
        )
        .await)
    .await;
    // Plain words are still read, by the local rules, so help still offers them.
    say(&app, &maria_token, &room, "/help").await;
    let help = next_bot_message(&mut ws).await;
    let text = help["body"].as_str().unwrap();
    assert!(text.contains("plain words"), "{text}");

    say(
        &app,
        &maria_token,
        &room,
        "@bot log a call with Acme, interested",
    )
    .await;
    let answer = next_bot_message(&mut ws).await;
    assert_eq!(
        answer["body"], "I'll log a call with Acme: interested. OK?\n(read by the local rules)",
        "{answer}"
    );
    assert_eq!(
        answer["actions"].as_array().map(Vec::len),
        Some(2),
        "{answer}"
    );
    assert_eq!(
        llm.hits.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the model is not asked while intent is off"
    );
}
