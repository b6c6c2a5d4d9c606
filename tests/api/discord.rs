//! The Discord bot against the fake Discord of `fake_discord` (REST v10 and
//! the gateway on 127.0.0.1).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fake_discord::{buttons, FakeDiscord, BOT_NAME, CHANNEL, DM_BASE, TOKEN};
use crate::helpers::TestApp;
use crate::ws::Client;

const WAIT: Duration = Duration::from_secs(10);

async fn app_with_bot(fake: &FakeDiscord) -> TestApp {
    let url = fake.url.clone();
    let app = TestApp::spawn_with(move |config| {
        config.discord_bot_token = Some(TOKEN.into());
        config.discord_api_url = url;
    })
    .await;
    fake.wait_connected().await;
    app
}

/// Links Discord user `discord_user` to the CRM user behind `token`.
async fn link(app: &TestApp, fake: &FakeDiscord, token: &str, discord_user: u64) {
    let code: Value = app
        .post("/api/v1/me/link-code", token, json!({}))
        .await
        .json()
        .await
        .unwrap();
    let reply = fake
        .ask(
            discord_user,
            &format!("/link {}", code["code"].as_str().unwrap()),
        )
        .await;
    let text = reply.body["content"].as_str().unwrap();
    assert!(text.starts_with("Linked"), "{text}");
}

async fn leads_named(app: &TestApp, token: &str, q: &str) -> Vec<Value> {
    let page: Value = app
        .get(&format!("/api/v1/leads?q={q}"), token)
        .await
        .json()
        .await
        .unwrap();
    page["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_linked_discord_user_creates_a_lead_and_the_web_hub_sees_it() {
    let fake = FakeDiscord::start().await;
    let app = app_with_bot(&fake).await;
    let admin = app.admin_token().await;
    let (maria, maria_token) = app.user_with_role(&admin, "maria", "user").await;
    link(&app, &fake, &maria_token, 555).await;
    let mut hub = Client::connect(&app, &maria_token).await;

    let before = fake.sent().len();
    fake.say_in_channel(555, "/lead Acme Corp acme.com country=DE");
    let reply = fake.nth(before + 1, FakeDiscord::sent).await;
    let pointer = fake.nth(before + 2, FakeDiscord::sent).await;

    // Asked in a server channel, answered in a direct message: the
    // channel's members may not see the CRM.
    assert_eq!(reply.path, format!("/channels/{}/messages", DM_BASE + 555));
    assert_eq!(pointer.path, format!("/channels/{CHANNEL}/messages"));
    let pointed = pointer.body["content"].as_str().unwrap();
    assert!(pointed.contains("direct message"), "{pointed}");
    assert!(!pointed.contains("Acme"), "{pointed}");
    let text = reply.body["content"].as_str().unwrap();
    assert!(
        text.starts_with("Lead created: Acme Corp (acme.com)"),
        "{text}"
    );
    let event = hub.next_of("event").await;
    assert_eq!(event["topic"], "lead.created");
    let leads = leads_named(&app, &maria_token, "acme").await;
    assert_eq!(leads.len(), 1);
    assert_eq!(leads[0]["country"], "DE");
    assert_eq!(leads[0]["created_by"], json!(maria));
    let audit: Value = app
        .get(
            &format!(
                "/api/v1/audit?entity_id={}",
                leads[0]["id"].as_str().unwrap()
            ),
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    let rows = audit["items"].as_array().or(audit.as_array()).unwrap();
    assert!(!rows.is_empty(), "{audit}");
    assert!(
        rows.iter()
            .all(|r| r["channel"] == "discord" && r["actor"] == json!(maria)),
        "{audit}"
    );

    // `!show` reads like `/show` and answers with the lead card.
    let card = fake.ask(555, "!show acme").await;
    let text = card.body["content"].as_str().unwrap();
    assert!(text.contains("Acme Corp (acme.com)"), "{text}");
    assert!(text.contains("Follow-ups:"), "{text}");
}

#[tokio::test]
async fn an_unlinked_discord_user_is_told_how_to_link_and_nothing_else() {
    let fake = FakeDiscord::start().await;
    let app = app_with_bot(&fake).await;
    let admin = app.admin_token().await;

    let reply = fake.ask(777, "/lead Sneaky Ltd sneaky.com").await;

    assert_eq!(reply.body["content"], bots::replies::LINK_PROMPT);
    assert_eq!(reply.path, format!("/channels/{}/messages", DM_BASE + 777));
    assert!(leads_named(&app, &admin, "sneaky").await.is_empty());
    // The same through a slash command.
    let before = fake.answers().len();
    fake.slash(777, "lead", "Sneaky Ltd sneaky.com");
    let answer = fake.nth(before + 1, FakeDiscord::answers).await;
    assert_eq!(answer.body["type"], 4);
    assert_eq!(answer.body["data"]["content"], bots::replies::LINK_PROMPT);
    assert_eq!(
        answer.body["data"]["flags"], 64,
        "a slash command in a server channel is answered to its user only"
    );
    assert!(leads_named(&app, &admin, "sneaky").await.is_empty());
}

#[tokio::test]
async fn a_bad_discord_command_gets_its_usage() {
    let fake = FakeDiscord::start().await;
    let app = app_with_bot(&fake).await;
    let admin = app.admin_token().await;
    link(&app, &fake, &admin, 555).await;

    let reply = fake.ask(555, "/followup Acme 5 done").await;

    assert_eq!(
        reply.body["content"],
        "/followup: tier must be 1, 2 or 3\nUsage: /followup <lead> <tier 1-3> <outcome> [when] [notes]"
    );
}

#[tokio::test]
async fn a_discord_mention_becomes_a_confirmation_and_runs_only_after_the_button() {
    let fake = FakeDiscord::start().await;
    let app = app_with_bot(&fake).await;
    let admin = app.admin_token().await;
    let (_, maria_token) = app.user_with_role(&admin, "maria", "user").await;
    link(&app, &fake, &maria_token, 555).await;
    fake.ask(555, "/lead Globex Corp globex.com").await;
    let lead = leads_named(&app, &maria_token, "globex").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let calls_path = format!("/api/v1/leads/{lead}/calls");
    let logged_calls = || app.all_items(&maria_token, &calls_path);

    // The team's own talk in the channel is not for the bot.
    let before = fake.sent().len();
    fake.say_in_channel(555, "Had a call with Globex Corp today, not interested");
    fake.mention(555, "had a call with Globex Corp today, not interested");
    let proposal = fake.nth(before + 1, FakeDiscord::sent).await;
    let pointer = fake.nth(before + 2, FakeDiscord::sent).await;

    assert_eq!(
        proposal.path,
        format!("/channels/{}/messages", DM_BASE + 555)
    );
    assert_eq!(pointer.path, format!("/channels/{CHANNEL}/messages"));
    assert!(!pointer.body["content"].as_str().unwrap().contains("Globex"));
    let offered = buttons(&proposal.body);
    assert_eq!(offered.len(), 2, "{:?}", proposal.body);
    // No model is configured: the local rules read it, and say so.
    assert!(
        proposal.body["content"]
            .as_str()
            .unwrap()
            .ends_with("\n(read by the local rules)"),
        "{:?}",
        proposal.body
    );
    assert_eq!(offered[0].0, "Confirm");
    assert_eq!(offered[1].0, "Cancel");
    assert!(logged_calls().await.is_empty(), "nothing before the button");

    // Someone else pressing Maria's button gets nothing done.
    let answered = fake.answers().len();
    fake.press(556, &offered[0].1);
    let refused = fake.nth(answered + 1, FakeDiscord::answers).await;
    assert_eq!(refused.body["data"]["content"], "This button has expired.");
    assert_eq!(
        refused.body["data"]["flags"], 64,
        "shown only to the presser"
    );
    assert!(logged_calls().await.is_empty());

    fake.press(555, &offered[0].1);
    let done = fake.nth(answered + 2, FakeDiscord::answers).await;

    let text = done.body["data"]["content"].as_str().unwrap();
    assert!(text.contains("Globex Corp"), "{text}");
    let calls = logged_calls().await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["outcome"], "not_interested");
    // A second press does not log the call twice.
    fake.press(555, &offered[0].1);
    let again = fake.nth(answered + 3, FakeDiscord::answers).await;
    assert_eq!(again.body["data"]["content"], "This button has expired.");
    assert_eq!(logged_calls().await.len(), 1);
}

#[tokio::test]
async fn a_429_from_discord_is_waited_out_and_the_reply_sent_again() {
    let fake = FakeDiscord::start().await;
    let app = app_with_bot(&fake).await;
    let admin = app.admin_token().await;
    link(&app, &fake, &admin, 555).await;
    fake.state.throttle_messages.store(1, Ordering::SeqCst);

    let before = fake.sent().len();
    fake.dm(555, "/help");
    let retried = fake.nth(before + 2, FakeDiscord::sent).await;

    let attempts = fake.sent();
    let first = &attempts[before];
    assert_eq!(first.body["content"], retried.body["content"]);
    assert!(retried.body["content"]
        .as_str()
        .unwrap()
        .starts_with("Commands:"));
    assert!(
        retried.at.duration_since(first.at) >= Duration::from_millis(950),
        "waited {:?}",
        retried.at.duration_since(first.at)
    );
}

#[tokio::test]
async fn slash_commands_are_registered_from_the_command_list_and_answered() {
    let fake = FakeDiscord::start().await;
    let app = app_with_bot(&fake).await;
    let admin = app.admin_token().await;
    let registered = fake
        .nth(1, |f| {
            f.calls()
                .into_iter()
                .filter(|c| c.method == "PUT" && c.path.ends_with("/commands"))
                .collect()
        })
        .await;
    let commands = registered.body.as_array().unwrap();
    let names: Vec<&str> = commands
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = bots::command_list()
        .into_iter()
        .map(|(word, _)| word.to_string())
        .collect();
    assert_eq!(names, expected);
    assert!(commands
        .iter()
        .all(|c| c["options"][0]["name"] == "args" && c["options"][0]["type"] == 3));

    link(&app, &fake, &admin, 555).await;
    let before = fake.answers().len();
    fake.slash(555, "lead", "Initech initech.com country=US");
    let answer = fake.nth(before + 1, FakeDiscord::answers).await;
    let text = answer.body["data"]["content"].as_str().unwrap();
    assert!(text.starts_with("Lead created: Initech"), "{text}");
    assert_eq!(leads_named(&app, &admin, "initech").await.len(), 1);
}

#[tokio::test]
async fn admins_see_the_discord_bot_connected_and_it_resumes_after_a_reconnect() {
    let fake = FakeDiscord::start().await;
    let app = app_with_bot(&fake).await;
    let admin = app.admin_token().await;
    let connected = || async {
        let status: Value = app
            .get("/api/v1/bots/status", &admin)
            .await
            .json()
            .await
            .unwrap();
        status["bots"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["platform"] == "discord")
            .cloned()
            .unwrap()
    };
    let deadline = Instant::now() + WAIT;
    let status = loop {
        let status = connected().await;
        if status["connected"] == true {
            break status;
        }
        assert!(Instant::now() < deadline, "{status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status["username"], BOT_NAME);
    assert!(!status.to_string().contains(TOKEN));
    link(&app, &fake, &admin, 555).await;
    // The connection is kept alive with heartbeats (op 1, acked with op 11).
    let deadline = Instant::now() + WAIT;
    while fake.state.heartbeats.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "no heartbeat");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The gateway asks for a reconnect; what happens meanwhile is replayed
    // on the resume, not lost.
    fake.force_reconnect();
    let before = fake.sent().len();
    fake.dm(555, "/help");
    let reply = fake.nth(before + 1, FakeDiscord::sent).await;

    assert!(reply.body["content"]
        .as_str()
        .unwrap()
        .starts_with("Commands:"));
    assert_eq!(fake.state.resumes.load(Ordering::SeqCst), 1);
    assert_eq!(
        fake.state.identifies.load(Ordering::SeqCst),
        1,
        "resumed, not identified again"
    );
    let deadline = Instant::now() + WAIT;
    while connected().await["connected"] != true {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_linked_user_gets_their_hub_mentions_as_a_discord_direct_message() {
    let fake = FakeDiscord::start().await;
    let app = app_with_bot(&fake).await;
    let admin = app.admin_token().await;
    let (maria, maria_token) = app.user_with_role(&admin, "maria", "user").await;
    link(&app, &fake, &maria_token, 555).await;
    let room = crate::chat::group(&app, &admin, "deals", &[&maria]).await;

    let before = fake.sent().len();
    crate::chat::say(&app, &admin, &room, "@maria can you call Acme today?").await;
    let dm = fake.nth(before + 1, FakeDiscord::sent).await;

    assert_eq!(dm.path, format!("/channels/{}/messages", DM_BASE + 555));
    assert_eq!(
        dm.body["content"],
        "@admin mentioned you: @maria can you call Acme today?"
    );
    let opened = fake
        .calls()
        .into_iter()
        .find(|c| c.path == "/users/@me/channels")
        .unwrap();
    assert_eq!(opened.body["recipient_id"], "555");
}

#[tokio::test]
async fn a_room_bridged_to_discord_mirrors_both_ways_without_loops() {
    let fake = FakeDiscord::start().await;
    let app = app_with_bot(&fake).await;
    let admin = app.admin_token().await;
    let (maria, maria_token) = app.user_with_role(&admin, "maria", "user").await;
    let room = crate::chat::group(&app, &admin, "sales floor", &[&maria]).await;
    let bad = app
        .post(
            "/api/v1/bridges",
            &admin,
            json!({"room": room, "platform": "discord", "chat_id": "general"}),
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let bridge = app
        .post(
            "/api/v1/bridges",
            &admin,
            json!({"room": room, "platform": "discord", "chat_id": CHANNEL.to_string()}),
        )
        .await;
    assert_eq!(bridge.status(), StatusCode::OK);
    let mut hub = Client::connect(&app, &maria_token).await;
    hub.subscribe(&room, None).await;

    // Discord → hub, under the sender's name and platform.
    fake.say_in_channel(700, "morning all, Initech signed");
    let mirrored = hub.next_of("message").await;
    assert_eq!(mirrored["message"]["author_name"], "User 700 (discord)");
    assert_eq!(mirrored["message"]["body"], "morning all, Initech signed");

    // Hub → Discord, and only the web's own message goes out.
    let before = fake.sent().len();
    crate::chat::say(&app, &maria_token, &room, "great news!").await;
    let out = fake.nth(before + 1, FakeDiscord::sent).await;
    assert_eq!(out.path, format!("/channels/{CHANNEL}/messages"));
    assert_eq!(out.body["content"], "maria (web): great news!");
    // The bot's own message coming back through the gateway is not
    // mirrored in again.
    fake.dispatch(
        "MESSAGE_CREATE",
        json!({
            "id": "123456", "channel_id": CHANNEL.to_string(), "guild_id": "8001",
            "author": {"id": crate::fake_discord::BOT_ID.to_string(), "username": BOT_NAME,
                       "discriminator": "0", "avatar": null, "bot": true},
            "content": "maria (web): great news!", "timestamp": "2026-01-01T10:00:00.000000+00:00",
            "edited_timestamp": null, "tts": false, "mention_everyone": false, "mentions": [],
            "mention_roles": [], "attachments": [], "embeds": [], "pinned": false, "type": 0
        }),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let to_channel: Vec<_> = fake
        .sent()
        .into_iter()
        .filter(|c| c.path == format!("/channels/{CHANNEL}/messages"))
        .collect();
    assert_eq!(to_channel.len(), 1, "no echo: {to_channel:?}");
    let history: Value = app
        .get(&format!("/api/v1/rooms/{room}/messages"), &maria_token)
        .await
        .json()
        .await
        .unwrap();
    let bodies: Vec<&str> = history["items"]
        .as_array()
        .or(history["messages"].as_array())
        .or(history.as_array())
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies.iter().filter(|b| b.contains("great news")).count(),
        1,
        "{bodies:?}"
    );
}

/// The room's messages, oldest first.
async fn room_messages(app: &TestApp, token: &str, room: &str) -> Vec<Value> {
    let page: Value = app
        .get(&format!("/api/v1/rooms/{room}/messages"), token)
        .await
        .json()
        .await
        .unwrap();
    page.as_array().cloned().unwrap_or_default()
}

/// Waits until the bot made a REST call with `method` on `path_start…`.
async fn call_to(fake: &FakeDiscord, method: &str, path_start: &str) -> crate::fake_discord::Call {
    let (method, path_start) = (method.to_string(), path_start.to_string());
    fake.nth(1, move |f| {
        f.calls()
            .into_iter()
            .filter(|c| c.method == method && c.path.starts_with(&path_start))
            .collect()
    })
    .await
}

/// Waits until the room's message `id` satisfies `test`.
async fn message_becomes(
    app: &TestApp,
    token: &str,
    room: &str,
    id: &str,
    test: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let messages = room_messages(app, token, room).await;
        if let Some(m) = messages.iter().find(|m| m["id"] == id) {
            if test(m) {
                return m.clone();
            }
        }
        assert!(Instant::now() < deadline, "{messages:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn bridged_edits_deletes_and_files_follow_between_hub_and_discord() {
    let fake = FakeDiscord::start().await;
    let url = fake.url.clone();
    let app = TestApp::spawn_with(move |config| {
        config.discord_bot_token = Some(TOKEN.into());
        config.discord_api_url = url;
        config.public_base_url = Some("https://crm.example.com/".into());
    })
    .await;
    fake.wait_connected().await;
    let admin = app.admin_token().await;
    let (maria, maria_token) = app.user_with_role(&admin, "maria", "user").await;
    let room = crate::chat::group(&app, &admin, "sales floor", &[&maria]).await;
    let bridge = app
        .post(
            "/api/v1/bridges",
            &admin,
            json!({"room": room, "platform": "discord", "chat_id": CHANNEL.to_string()}),
        )
        .await;
    assert_eq!(bridge.status(), StatusCode::OK);

    // Hub → Discord: the edit and the delete reach the mirrored message.
    let posted = crate::chat::say(&app, &maria_token, &room, "price is 100").await;
    let edited = app
        .patch(
            &format!("/api/v1/messages/{}", posted["id"].as_str().unwrap()),
            &maria_token,
            json!({"body": "price is 120"}),
        )
        .await;
    assert_eq!(edited.status(), StatusCode::OK);
    let patch = call_to(&fake, "PATCH", &format!("/channels/{CHANNEL}/messages/")).await;
    assert_eq!(patch.body["content"], "maria (web): price is 120");
    let deleted = app
        .delete(
            &format!("/api/v1/messages/{}", posted["id"].as_str().unwrap()),
            &maria_token,
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::OK);
    let delete = call_to(&fake, "DELETE", &format!("/channels/{CHANNEL}/messages/")).await;
    assert_eq!(delete.path, patch.path, "the same Discord message");
    // A reaction changes no text and sends no edit.
    let reacted = crate::chat::say(&app, &maria_token, &room, "thumbs?").await;
    let react = app
        .post(
            &format!(
                "/api/v1/messages/{}/reactions",
                reacted["id"].as_str().unwrap()
            ),
            &admin,
            json!({"emoji": "👍"}),
        )
        .await;
    assert_eq!(react.status(), StatusCode::OK);

    // A shared file travels as a link under PUBLIC_BASE_URL.
    let uploaded = crate::files::upload(&app, &maria_token, &room, "quote.pdf", b"%PDF-1.4").await;
    assert_eq!(uploaded.status(), StatusCode::OK);
    let sent_file = fake
        .nth(1, |f| {
            f.sent()
                .into_iter()
                .filter(|c| {
                    c.body["content"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("quote.pdf")
                })
                .collect()
        })
        .await;
    assert_eq!(sent_file.path, format!("/channels/{CHANNEL}/messages"));
    let text = sent_file.body["content"].as_str().unwrap();
    assert!(
        text.contains("📎 quote.pdf: https://crm.example.com/api/v1/files/"),
        "{text}"
    );
    let patches = fake
        .calls()
        .into_iter()
        .filter(|c| c.method == "PATCH")
        .count();
    assert_eq!(patches, 1, "the reaction sent no edit");

    // Discord → hub: an edit there changes the hub copy; a delete removes it.
    let discord_id = fake.say_in_channel_with_id(700, "see you at 3");
    let deadline = Instant::now() + WAIT;
    let copy = loop {
        let messages = room_messages(&app, &maria_token, &room).await;
        if let Some(m) = messages.iter().find(|m| m["body"] == "see you at 3") {
            break m.clone();
        }
        assert!(Instant::now() < deadline, "{messages:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let copy_id = copy["id"].as_str().unwrap();
    fake.edit_in_channel(700, &discord_id, "see you at 4");
    let changed = message_becomes(&app, &maria_token, &room, copy_id, |m| {
        m["body"] == "see you at 4"
    })
    .await;
    assert!(changed["edited_at"].is_string());
    fake.delete_in_channel(&discord_id);
    message_becomes(&app, &maria_token, &room, copy_id, |m| {
        m["deleted_at"].is_string()
    })
    .await;
    // Neither change went back out to Discord.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let changes_out = fake
        .calls()
        .into_iter()
        .filter(|c| c.method == "PATCH" || c.method == "DELETE")
        .count();
    assert_eq!(changes_out, 2, "{:?}", fake.calls());
}

#[tokio::test]
async fn the_daily_digest_reaches_discord_once_with_due_tasks() {
    let fake = FakeDiscord::start().await;
    let url = fake.url.clone();
    let app = TestApp::spawn_with(move |config| {
        config.discord_bot_token = Some(TOKEN.into());
        config.discord_api_url = url;
        config.reminder_poll_ms = 100;
    })
    .await;
    fake.wait_connected().await;
    let admin = app.admin_token().await;
    let (_, maria_token) = app.user_with_role(&admin, "maria", "user").await;
    link(&app, &fake, &maria_token, 555).await;
    let task = app
        .post(
            "/api/v1/tasks",
            &admin,
            json!({"title": "Send the Acme quote", "task_type": "sales", "assignee": "maria",
                   "due_at": app.clock_now() - chrono::Duration::hours(1)}),
        )
        .await;
    assert_eq!(task.status(), StatusCode::OK);

    // The assignment and the task coming due are direct messages of their
    // own; the digest is the one that starts "Your day".
    let digests = |fake: &FakeDiscord| -> Vec<_> {
        FakeDiscord::sent(fake)
            .into_iter()
            .filter(|c| {
                c.body["content"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("Your day, "))
            })
            .collect()
    };
    let set = app
        .put_json("/api/v1/me/digest", &maria_token, json!({"time": "00:00"}))
        .await;
    assert_eq!(set.status(), StatusCode::OK);
    let digest = fake.nth(1, digests).await;

    assert_eq!(digest.path, format!("/channels/{}/messages", DM_BASE + 555));
    let text = digest.body["content"].as_str().unwrap();
    assert!(text.starts_with("Your day, "), "{text}");
    assert!(text.contains("Task"), "{text}");
    assert!(text.contains("Send the Acme quote"), "{text}");
    assert!(text.contains("(overdue)"), "{text}");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(digests(&fake).len(), 1, "once a day");
}

#[tokio::test]
async fn with_a_model_a_discord_mention_is_proposed_as_the_model_read_it() {
    use crate::ai::{fake_llm, slots, Mode};
    let (llm_url, llm) = fake_llm(Mode::Good(json!({
        "kind": "create_task",
        "slots": slots(json!({"title": "send Globex the pricing sheet", "assignee": "me"}))
    })))
    .await;
    let fake = FakeDiscord::start().await;
    let url = fake.url.clone();
    let app = TestApp::spawn_with(move |config| {
        config.discord_bot_token = Some(TOKEN.into());
        config.discord_api_url = url;
        config.openrouter_api_key = Some("sk-test-key".into());
        config.openrouter_base_url = llm_url;
        config.ai_timeout_ms = 2_000;
        config.ai_max_retries = 0;
    })
    .await;
    fake.wait_connected().await;
    let admin = app.admin_token().await;
    let (_, maria_token) = app.user_with_role(&admin, "maria", "user").await;
    link(&app, &fake, &maria_token, 555).await;

    let before = fake.sent().len();
    fake.mention(555, "Globex wants the pricing sheet from me");
    let proposal = fake.nth(before + 1, FakeDiscord::sent).await;
    assert_eq!(
        proposal.body["content"],
        "I'll create the task \"send Globex the pricing sheet\". OK?\n(read by the model)",
        "{:?}",
        proposal.body
    );
    assert_eq!(buttons(&proposal.body).len(), 2);
    assert_eq!(llm.hits.load(Ordering::SeqCst), 1);
}
