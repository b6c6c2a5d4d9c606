//! Bridges and bot messages across outages: the fake Telegram and the fake
//! Discord are taken away (a closed TCP gate in front of them) and brought
//! back, the app is restarted on the same store, Telegram throttles; every
//! message arrives once, in order, and the bot status shows the backlog
//! while there is one.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ea_crm::config::Config;
use ea_crm::domain::bot_outbox;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fake_discord::{self, FakeDiscord, CHANNEL};
use crate::gate::Gate;
use crate::helpers::TestApp;
use crate::telegram::{group_chat, FakeTelegram};

const WAIT: Duration = Duration::from_secs(15);
const GROUP: i64 = -100;

/// Retries come quickly in tests: a tenth of a second, doubling to one.
fn quick_outbox(config: &mut Config) {
    config.bot_outbox_poll_ms = 50;
    config.bot_outbox_backoff_base_ms = 100;
    config.bot_outbox_backoff_max_seconds = 1;
}

fn telegram_config(url: &str) -> Config {
    let mut config = Config::for_tests();
    config.telegram_bot_token = Some(crate::telegram::TOKEN.into());
    config.telegram_api_url = url.to_string();
    quick_outbox(&mut config);
    config
}

async fn bridge(app: &TestApp, admin: &str, room: &str, platform: &str, chat: &str) {
    let response = app
        .post(
            "/api/v1/bridges",
            admin,
            json!({"room": room, "platform": platform, "chat_id": chat}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

/// Polls `probe` until it returns something, for at most `WAIT`.
async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(Instant::now() < deadline, "waited in vain for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The texts the fake Telegram took for the group, in order.
fn group_texts(fake: &FakeTelegram) -> Vec<String> {
    fake.sent()
        .iter()
        .filter(|m| m["chat_id"] == GROUP)
        .map(|m| m["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Waits until the group has `expected` and asserts it has nothing else,
/// a moment later too (nothing arrives twice).
async fn group_gets_exactly(fake: &FakeTelegram, expected: &[String]) {
    eventually("every message in the group", || async {
        (group_texts(fake).len() >= expected.len()).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(group_texts(fake), expected);
}

async fn status(app: &TestApp, admin: &str) -> Value {
    crate::helpers::ok(app.get("/api/v1/bots/status", admin).await).await
}

#[tokio::test]
async fn hub_messages_posted_while_telegram_is_unreachable_all_arrive_once_in_order() {
    let fake = FakeTelegram::start().await;
    let gate = Gate::before(&fake.url).await;
    let app = TestApp::start(telegram_config(&gate.url)).await;
    let admin = app.admin_token().await;
    let room = crate::chat::group(&app, &admin, "sales floor", &[]).await;
    bridge(&app, &admin, &room, "telegram", &GROUP.to_string()).await;
    crate::chat::say(&app, &admin, &room, "before").await;
    group_gets_exactly(&fake, &["admin (web): before".to_string()]).await;

    gate.close();
    let mut expected = vec!["admin (web): before".to_string()];
    for n in 1..=5 {
        let text = format!("while away {n}");
        crate::chat::say(&app, &admin, &room, &text).await;
        expected.push(format!("admin (web): {text}"));
    }
    // The status shows the backlog, with why it is stuck.
    let backlog = eventually("a backlog with its error", || async {
        let status = status(&app, &admin).await;
        let backlog = status["backlog"][0].clone();
        (backlog["pending"] == 5 && backlog["last_error"].is_string()).then_some(backlog)
    })
    .await;
    assert_eq!(backlog["platform"], "telegram");
    assert!(backlog["oldest_age_seconds"].as_i64().unwrap() >= 0);
    assert!(!backlog.to_string().contains(crate::telegram::TOKEN));
    assert_eq!(group_texts(&fake).len(), 1, "nothing got through the gate");

    gate.open();
    group_gets_exactly(&fake, &expected).await;
    eventually("the backlog gone", || async {
        let status = status(&app, &admin).await;
        (status["backlog"] == json!([])).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_mention_made_while_telegram_is_unreachable_reaches_its_user_once_it_is_back() {
    let fake = FakeTelegram::start().await;
    let gate = Gate::before(&fake.url).await;
    let app = TestApp::start(telegram_config(&gate.url)).await;
    let admin = app.admin_token().await;
    let (maria, maria_token) = app.user_with_role(&admin, "maria", "user").await;
    crate::telegram::link(&app, &fake, &maria_token, 555).await;
    let room = crate::chat::group(&app, &admin, "deals", &[&maria]).await;

    gate.close();
    crate::chat::say(&app, &admin, &room, "@maria can you call Acme today?").await;
    eventually("the DM waiting", || async {
        let status = status(&app, &admin).await;
        (status["backlog"][0]["pending"] == 1).then_some(())
    })
    .await;
    gate.open();

    let dms = eventually("the DM", || async {
        let dms: Vec<Value> = fake
            .sent()
            .into_iter()
            .filter(|m| m["chat_id"] == 555 && m["text"].as_str().unwrap().contains("mentioned"))
            .collect();
        (!dms.is_empty()).then_some(dms)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(dms.len(), 1);
    assert_eq!(
        dms[0]["text"],
        "@admin mentioned you: @maria can you call Acme today?"
    );
}

#[tokio::test]
async fn telegrams_retry_after_is_waited_out_and_the_message_sent_once() {
    let fake = FakeTelegram::start().await;
    let app = TestApp::start(telegram_config(&fake.url)).await;
    let admin = app.admin_token().await;
    let room = crate::chat::group(&app, &admin, "sales floor", &[]).await;
    bridge(&app, &admin, &room, "telegram", &GROUP.to_string()).await;
    fake.state.throttle_sends.store(1, Ordering::SeqCst);

    crate::chat::say(&app, &admin, &room, "price is 100").await;
    group_gets_exactly(
        &fake,
        &[
            // The first attempt, refused with `retry_after: 1`, then the one
            // that went through.
            "admin (web): price is 100".to_string(),
            "admin (web): price is 100".to_string(),
        ],
    )
    .await;

    let attempts = fake.calls("sendMessage");
    let waited = attempts[1].1.duration_since(attempts[0].1);
    assert!(waited >= Duration::from_millis(950), "waited {waited:?}");
    // The backoff alone would have tried again within a tenth of a second.
    let stored: Vec<Value> = app
        .ctx()
        .store
        .run("SELECT status, attempts FROM bot_outbox", json!({}))
        .await
        .unwrap()
        .rows(0)
        .unwrap();
    assert_eq!(stored, vec![json!({"status": "sent", "attempts": 2})]);
}

#[tokio::test]
async fn a_restarted_app_sends_what_an_earlier_run_could_not() {
    let fake = FakeTelegram::start().await;
    let gate = Gate::before(&fake.url).await;
    // Telegram is unreachable for the whole first run.
    gate.close();
    let app = TestApp::start(telegram_config(&gate.url)).await;
    let admin = app.admin_token().await;
    let room = crate::chat::group(&app, &admin, "sales floor", &[]).await;
    bridge(&app, &admin, &room, "telegram", &GROUP.to_string()).await;
    let mut expected = Vec::new();
    for n in 1..=3 {
        crate::chat::say(&app, &admin, &room, &format!("first run {n}")).await;
        expected.push(format!("admin (web): first run {n}"));
    }
    eventually("three messages waiting", || async {
        let status = status(&app, &admin).await;
        (status["backlog"][0]["pending"] == 3).then_some(())
    })
    .await;
    let (store, clock) = (app.ctx().store.clone(), app.clock.clone());
    app.stop().await;

    gate.open();
    let app = TestApp::start_on(telegram_config(&gate.url), clock, Some(store)).await;
    group_gets_exactly(&fake, &expected).await;
    let admin = app.admin_token().await;
    assert_eq!(status(&app, &admin).await["backlog"], json!([]));
}

#[tokio::test]
async fn telegram_messages_sent_while_the_app_was_down_are_mirrored_once_on_start() {
    let fake = FakeTelegram::start().await;
    let app = TestApp::start(telegram_config(&fake.url)).await;
    let admin = app.admin_token().await;
    let room = crate::chat::group(&app, &admin, "sales floor", &[]).await;
    bridge(&app, &admin, &room, "telegram", &GROUP.to_string()).await;
    fake.in_chat(group_chat(), 700, "one");
    let offset = fake.state.next_update.load(Ordering::SeqCst) + 1;
    eventually("the stored offset", || async {
        let stored = bot_outbox::cursor(app.ctx(), "telegram").await.unwrap();
        (stored == Some(offset.to_string())).then_some(())
    })
    .await;
    let (store, clock) = (app.ctx().store.clone(), app.clock.clone());
    app.stop().await;

    let polls_before = fake.calls("getUpdates").len();
    fake.in_chat(group_chat(), 700, "two");
    fake.in_chat(group_chat(), 701, "three");
    let app = TestApp::start_on(telegram_config(&fake.url), clock, Some(store)).await;
    let admin = app.admin_token().await;

    let bodies = eventually("three mirrored messages", || async {
        let bodies: Vec<String> = app
            .room_history(&admin, &room)
            .await
            .iter()
            .map(|m| m["body"].as_str().unwrap_or_default().to_string())
            .collect();
        (bodies.len() >= 3).then_some(bodies)
    })
    .await;
    assert_eq!(bodies, ["one", "two", "three"]);
    // It asked from where the first run stopped.
    let first_poll = &fake.calls("getUpdates")[polls_before].0;
    assert_eq!(first_poll["offset"], offset);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(app.room_history(&admin, &room).await.len(), 3);
}

fn discord_config(url: &str) -> Config {
    let mut config = Config::for_tests();
    config.discord_bot_token = Some(fake_discord::TOKEN.into());
    config.discord_api_url = url.to_string();
    quick_outbox(&mut config);
    config
}

/// The texts the fake Discord took for the bridged channel, in order.
fn channel_texts(fake: &FakeDiscord) -> Vec<String> {
    fake.sent()
        .iter()
        .filter(|c| c.path == format!("/channels/{CHANNEL}/messages"))
        .map(|c| c.body["content"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn hub_messages_posted_while_discord_is_unreachable_all_arrive_once_in_order() {
    let fake = FakeDiscord::start().await;
    let gate = Gate::before(&fake.url).await;
    let app = TestApp::start(discord_config(&gate.url)).await;
    fake.wait_connected().await;
    let admin = app.admin_token().await;
    let room = crate::chat::group(&app, &admin, "sales floor", &[]).await;
    bridge(&app, &admin, &room, "discord", &CHANNEL.to_string()).await;
    crate::chat::say(&app, &admin, &room, "before").await;
    eventually("the first message", || async {
        (channel_texts(&fake).len() == 1).then_some(())
    })
    .await;

    gate.close();
    let mut expected = vec!["admin (web): before".to_string()];
    for n in 1..=5 {
        let text = format!("while away {n}");
        crate::chat::say(&app, &admin, &room, &text).await;
        expected.push(format!("admin (web): {text}"));
    }
    let backlog = eventually("a backlog with its error", || async {
        let status = status(&app, &admin).await;
        let backlog = status["backlog"][0].clone();
        (backlog["pending"] == 5 && backlog["last_error"].is_string()).then_some(backlog)
    })
    .await;
    assert_eq!(backlog["platform"], "discord");
    gate.open();

    eventually("every message in the channel", || async {
        (channel_texts(&fake).len() >= expected.len()).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(channel_texts(&fake), expected);
    eventually("the backlog gone", || async {
        (status(&app, &admin).await["backlog"] == json!([])).then_some(())
    })
    .await;
}

#[tokio::test]
async fn discord_messages_sent_while_the_app_was_down_are_read_from_the_history_once() {
    let fake = FakeDiscord::start().await;
    let app = TestApp::start(discord_config(&fake.url)).await;
    fake.wait_connected().await;
    let admin = app.admin_token().await;
    let room = crate::chat::group(&app, &admin, "sales floor", &[]).await;
    bridge(&app, &admin, &room, "discord", &CHANNEL.to_string()).await;
    let first = fake.say_in_channel_with_id(700, "one");
    eventually("the remembered position", || async {
        let key = format!("discord:{CHANNEL}");
        let stored = bot_outbox::cursor(app.ctx(), &key).await.unwrap();
        (stored.as_deref() == Some(first.as_str())).then_some(())
    })
    .await;
    let (store, clock) = (app.ctx().store.clone(), app.clock.clone());
    app.stop().await;

    // A new gateway session replays nothing of this.
    fake.say_in_channel(700, "two");
    fake.say_in_channel(701, "three");
    let app = TestApp::start_on(discord_config(&fake.url), clock, Some(store)).await;
    let admin = app.admin_token().await;

    let bodies = eventually("three mirrored messages", || async {
        let bodies: Vec<String> = app
            .room_history(&admin, &room)
            .await
            .iter()
            .map(|m| m["body"].as_str().unwrap_or_default().to_string())
            .collect();
        (bodies.len() >= 3).then_some(bodies)
    })
    .await;
    assert_eq!(bodies, ["one", "two", "three"]);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(app.room_history(&admin, &room).await.len(), 3);
}
