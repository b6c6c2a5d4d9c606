//! The Telegram bot against a fake Bot API on 127.0.0.1 that speaks the
//! real wire format: `POST /bot<token>/<method>` with JSON, answered with
//! `{ok, result}` or `{ok: false, error_code, description, parameters}`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::{Data, Json, Path};
use poem::{handler, post, EndpointExt, Route, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::ws::Client;

pub(crate) const TOKEN: &str = "123456:TEST-token";
const BOT_ID: i64 = 999;
const WAIT: Duration = Duration::from_secs(10);

/// What the fake Bot API holds: updates waiting for `getUpdates`, and
/// every call the bot made.
#[derive(Default)]
pub(crate) struct FakeState {
    /// Kept, as Telegram keeps them, until a `getUpdates` with a higher
    /// offset confirms them.
    updates: Mutex<VecDeque<Value>>,
    calls: Mutex<Vec<(String, Value, Instant)>>,
    pub(crate) next_update: AtomicI64,
    next_message: AtomicI64,
    /// How many `sendMessage` calls to refuse with a 429 first.
    pub(crate) throttle_sends: AtomicU32,
    /// Users who never started a private chat with the bot: Telegram
    /// refuses to let the bot write to them first.
    never_started: Mutex<Vec<i64>>,
}

#[derive(Clone)]
pub(crate) struct FakeTelegram {
    pub(crate) url: String,
    pub(crate) state: Arc<FakeState>,
}

fn private_chat(user: i64) -> Value {
    json!({"id": user, "type": "private", "first_name": format!("user{user}")})
}

pub(crate) fn group_chat() -> Value {
    json!({"id": -100, "type": "group", "title": "Sales"})
}

fn person(user: i64) -> Value {
    json!({"id": user, "is_bot": false, "first_name": format!("user{user}")})
}

#[handler]
async fn bot_api(
    Path((bot, method)): Path<(String, String)>,
    state: Data<&Arc<FakeState>>,
    req: &poem::Request,
    body: String,
) -> Json<Value> {
    // The token's `:` may arrive percent-encoded in the path.
    if bot.replace("%3A", ":") != format!("bot{TOKEN}") {
        return Json(json!({"ok": false, "error_code": 401, "description": "Unauthorized"}));
    }
    // Telegram reads method names without regard to case (teloxide sends
    // `GetMe`); the fake records them as the documentation spells them.
    let method = match method.to_ascii_lowercase().as_str() {
        "getme" => "getMe",
        "getupdates" => "getUpdates",
        "sendmessage" => "sendMessage",
        "answercallbackquery" => "answerCallbackQuery",
        "setmycommands" => "setMyCommands",
        "setwebhook" => "setWebhook",
        "editmessagetext" => "editMessageText",
        "deletemessage" => "deleteMessage",
        _ => "unknown",
    }
    .to_string();
    let body = read_body(req.content_type().unwrap_or_default(), &body);
    state
        .calls
        .lock()
        .unwrap()
        .push((method.clone(), body.clone(), Instant::now()));
    let result = match method.as_str() {
        "getMe" => json!({
            "id": BOT_ID, "is_bot": true, "first_name": "EA CRM", "username": "EaCrmBot",
            "can_join_groups": true, "can_read_all_group_messages": false,
            "supports_inline_queries": false, "can_connect_to_business": false,
            "has_main_web_app": false
        }),
        "getUpdates" => {
            // As Telegram: an offset confirms (forgets) the updates before
            // it; the rest are handed out until confirmed. A short
            // long-poll: what is kept, or wait a little.
            let offset = body["offset"].as_i64().unwrap_or(0);
            let deadline = Instant::now() + Duration::from_millis(300);
            loop {
                let batch: Vec<Value> = {
                    let mut kept = state.updates.lock().unwrap();
                    kept.retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
                    kept.iter().cloned().collect()
                };
                if !batch.is_empty() || Instant::now() >= deadline {
                    break json!(batch);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        "sendMessage" => {
            let throttled = state
                .throttle_sends
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if throttled {
                return Json(json!({
                    "ok": false, "error_code": 429,
                    "description": "Too Many Requests: retry after 1",
                    "parameters": {"retry_after": 1}
                }));
            }
            let chat_id = body["chat_id"].as_i64().unwrap_or_default();
            if state.never_started.lock().unwrap().contains(&chat_id) {
                return Json(json!({
                    "ok": false, "error_code": 403,
                    "description": "Forbidden: bot can't initiate conversation with a user"
                }));
            }
            let chat = if chat_id < 0 {
                group_chat()
            } else {
                private_chat(chat_id)
            };
            json!({
                "message_id": state.next_message.fetch_add(1, Ordering::SeqCst) + 1000,
                "date": 1_700_000_000,
                "chat": chat,
                "from": {"id": BOT_ID, "is_bot": true, "first_name": "EA CRM", "username": "EaCrmBot"},
                "text": body["text"],
            })
        }
        "editMessageText" => json!({
            "message_id": body["message_id"], "date": 1_700_000_000, "chat": group_chat(),
            "edit_date": 1_700_000_100,
            "from": {"id": BOT_ID, "is_bot": true, "first_name": "EA CRM", "username": "EaCrmBot"},
            "text": body["text"],
        }),
        "answerCallbackQuery" | "setMyCommands" | "setWebhook" | "deleteMessage" => json!(true),
        _ => return Json(json!({"ok": false, "error_code": 404, "description": "Not Found"})),
    };
    Json(json!({"ok": true, "result": result}))
}

/// A request's fields as JSON: teloxide sends JSON, or multipart form data
/// for methods that may carry a file (`setWebhook`).
fn read_body(content_type: &str, body: &str) -> Value {
    if let Some(boundary) = content_type.split("boundary=").nth(1) {
        let mut fields = serde_json::Map::new();
        for part in body.split(&format!("--{}", boundary.trim_matches('"'))) {
            let Some((head, value)) = part.split_once("\r\n\r\n") else {
                continue;
            };
            if let Some(name) = head
                .split("name=\"")
                .nth(1)
                .and_then(|n| n.split('"').next())
            {
                let value = value.trim_end_matches("\r\n");
                let parsed = serde_json::from_str(value).unwrap_or_else(|_| json!(value));
                fields.insert(name.to_string(), parsed);
            }
        }
        return Value::Object(fields);
    }
    serde_json::from_str(body).unwrap_or(Value::Null)
}

impl FakeTelegram {
    pub(crate) async fn start() -> FakeTelegram {
        let state = Arc::new(FakeState::default());
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .unwrap();
        let addr = acceptor.local_addr()[0].as_socket_addr().copied().unwrap();
        let app = Route::new()
            .at("/:bot/:method", post(bot_api))
            .data(state.clone());
        tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
        FakeTelegram {
            url: format!("http://{addr}/"),
            state,
        }
    }

    pub(crate) fn push(&self, mut update: Value) {
        update["update_id"] = json!(self.state.next_update.fetch_add(1, Ordering::SeqCst) + 1);
        self.state.updates.lock().unwrap().push_back(update);
    }

    /// `text` from Telegram user `user` in a private chat with the bot.
    pub(crate) fn dm(&self, user: i64, text: &str) {
        self.in_chat(private_chat(user), user, text);
    }

    /// `text` from `user` in `chat`; returns the message id.
    pub(crate) fn in_chat(&self, chat: Value, user: i64, text: &str) -> i64 {
        let id = self.state.next_message.fetch_add(1, Ordering::SeqCst) + 1;
        self.push(json!({"message": {
            "message_id": id, "date": 1_700_000_000, "chat": chat,
            "from": person(user), "text": text
        }}));
        id
    }

    /// `user` edits their message `id` in `chat` to say `text`.
    fn edit_in_chat(&self, chat: Value, user: i64, id: i64, text: &str) {
        self.push(json!({"edited_message": {
            "message_id": id, "date": 1_700_000_000, "edit_date": 1_700_000_100,
            "chat": chat, "from": person(user), "text": text
        }}));
    }

    fn press(&self, user: i64, chat: Value, data: &str) {
        self.push(json!({"callback_query": {
            "id": format!("cb{}", self.state.next_update.load(Ordering::SeqCst)),
            "from": person(user), "chat_instance": "ci", "data": data,
            "message": {"message_id": 1, "date": 1_700_000_000, "chat": chat,
                        "from": {"id": BOT_ID, "is_bot": true, "first_name": "EA CRM"},
                        "text": "proposal"}
        }}));
    }

    pub(crate) fn calls(&self, method: &str) -> Vec<(Value, Instant)> {
        self.state
            .calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, _, _)| m == method)
            .map(|(_, body, at)| (body.clone(), *at))
            .collect()
    }

    pub(crate) fn sent(&self) -> Vec<Value> {
        self.calls("sendMessage")
            .into_iter()
            .map(|(b, _)| b)
            .collect()
    }

    /// Waits for the `n`-th message the bot sends (1-based) that succeeded
    /// or not, and returns it.
    pub(crate) async fn nth_sent(&self, n: usize) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(body) = self.sent().get(n - 1) {
                return body.clone();
            }
            assert!(
                Instant::now() < deadline,
                "the bot sent {n} messages: {:?}",
                self.sent()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Sends `text` as `user` in a DM and returns the bot's next reply.
    async fn ask(&self, user: i64, text: &str) -> Value {
        let before = self.sent().len();
        self.dm(user, text);
        self.nth_sent(before + 1).await
    }
}

pub(crate) async fn app_with_bot(fake: &FakeTelegram) -> TestApp {
    let url = fake.url.clone();
    TestApp::spawn_with(move |config| {
        config.telegram_bot_token = Some(TOKEN.into());
        config.telegram_api_url = url;
    })
    .await
}

/// Links Telegram user `tg_user` to the CRM user behind `token`.
pub(crate) async fn link(app: &TestApp, fake: &FakeTelegram, token: &str, tg_user: i64) {
    let response = app.post("/api/v1/me/link-code", token, json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let code: Value = response.json().await.unwrap();
    let reply = fake
        .ask(
            tg_user,
            &format!("/link {}", code["code"].as_str().unwrap()),
        )
        .await;
    assert!(
        reply["text"].as_str().unwrap().starts_with("Linked"),
        "{reply}"
    );
}

/// Maria, a sales rep linked to Telegram account 555: (admin token,
/// Maria's id, Maria's token).
async fn linked_maria(app: &TestApp, fake: &FakeTelegram) -> (String, String, String) {
    let admin = app.admin_token().await;
    let (maria, maria_token) = app.user_with_role(&admin, "maria", "user").await;
    link(app, fake, &maria_token, 555).await;
    (admin, maria, maria_token)
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
async fn a_linked_telegram_user_creates_a_lead_and_the_web_hub_sees_it() {
    let fake = FakeTelegram::start().await;
    let app = app_with_bot(&fake).await;
    let (admin, maria, maria_token) = linked_maria(&app, &fake).await;
    let mut hub = Client::connect(&app, &maria_token).await;

    let reply = fake.ask(555, "/lead Acme Corp acme.com country=DE").await;

    let text = reply["text"].as_str().unwrap();
    assert!(
        text.starts_with("Lead created: Acme Corp (acme.com)"),
        "{text}"
    );
    assert_eq!(reply["chat_id"], 555);
    let event = hub.next_of("event").await;
    assert_eq!(event["topic"], "lead.created");
    let leads = leads_named(&app, &maria_token, "acme").await;
    assert_eq!(leads.len(), 1);
    assert_eq!(leads[0]["country"], "DE");
    assert_eq!(leads[0]["created_by"], json!(maria));
    // The audit says who and through which channel.
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
    let rows = audit["items"].as_array().unwrap();
    assert!(!rows.is_empty(), "{audit}");
    assert!(
        rows.iter()
            .all(|r| r["channel"] == "telegram" && r["actor"] == json!(maria)),
        "{audit}"
    );
}

#[tokio::test]
async fn a_telegram_lead_with_its_country_and_state_typed_as_names_is_stored_by_code() {
    let fake = FakeTelegram::start().await;
    let app = app_with_bot(&fake).await;
    let (_admin, _maria, maria_token) = linked_maria(&app, &fake).await;

    let reply = fake
        .ask(
            555,
            r#"/lead Initech initech.com country="United States" state=California"#,
        )
        .await;

    let text = reply["text"].as_str().unwrap();
    assert!(
        text.starts_with("Lead created: Initech (initech.com)"),
        "{text}"
    );
    let leads = leads_named(&app, &maria_token, "initech").await;
    assert_eq!(leads.len(), 1);
    assert_eq!(
        (leads[0]["country"].as_str(), leads[0]["state"].as_str()),
        (Some("US"), Some("US-CA"))
    );
}

/// The buttons under a bot message, as (label, callback data).
fn buttons_of(message: &Value) -> Vec<(String, String)> {
    message["reply_markup"]["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .map(|b| {
            (
                b["text"].as_str().unwrap_or_default().to_string(),
                b["callback_data"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_lead_that_may_exist_is_offered_to_open_or_create_anyway() {
    let fake = FakeTelegram::start().await;
    let app = app_with_bot(&fake).await;
    let (_admin, _maria, maria_token) = linked_maria(&app, &fake).await;
    fake.ask(555, "/lead Acme Corp acme.com").await;

    let question = fake.ask(555, "/lead ACME acme.com industry=SaaS").await;
    let text = question["text"].as_str().unwrap();
    assert!(text.starts_with("This lead may already exist:"), "{text}");
    assert!(text.contains("Acme Corp (acme.com)"), "{text}");
    let buttons = buttons_of(&question);
    let labels: Vec<&str> = buttons.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(labels, vec!["Open Acme Corp", "Create anyway", "Cancel"]);
    assert_eq!(leads_named(&app, &maria_token, "acme").await.len(), 1);

    // "Open" shows the stored lead's card.
    let before = fake.sent().len();
    fake.press(555, private_chat(555), &buttons[0].1);
    let card = fake.nth_sent(before + 1).await;
    let card_text = card["text"].as_str().unwrap();
    assert!(card_text.contains("Acme Corp"), "{card_text}");
    assert_eq!(leads_named(&app, &maria_token, "acme").await.len(), 1);

    // "Create anyway" creates the new one, with what was typed.
    let question = fake.ask(555, "/lead ACME acme.com industry=SaaS").await;
    let anyway = buttons_of(&question)[1].1.clone();
    let before = fake.sent().len();
    fake.press(555, private_chat(555), &anyway);
    let done = fake.nth_sent(before + 1).await;
    assert!(
        done["text"]
            .as_str()
            .unwrap()
            .starts_with("Lead created: ACME"),
        "{done}"
    );
    let leads = leads_named(&app, &maria_token, "acme").await;
    assert_eq!(leads.len(), 2);
    assert!(leads.iter().any(|l| l["industry"] == "SaaS"), "{leads:?}");
}

#[tokio::test]
async fn a_note_sent_on_telegram_is_stored_and_on_the_lead_card() {
    let fake = FakeTelegram::start().await;
    let app = app_with_bot(&fake).await;
    let (admin, maria, maria_token) = linked_maria(&app, &fake).await;
    fake.ask(555, "/lead Initech initech.example").await;

    let reply = fake
        .ask(555, "/note initech.example: wants a demo in March")
        .await;
    assert_eq!(reply["text"], "Note added to Initech.", "{reply}");

    let lead = leads_named(&app, &maria_token, "initech").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let notes: Value = app
        .get(&format!("/api/v1/leads/{lead}/notes"), &maria_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        notes["items"][0]["text"], "wants a demo in March",
        "{notes}"
    );
    assert_eq!(notes["items"][0]["author"]["id"], json!(maria));
    let audit: Value = app
        .get(
            &format!(
                "/api/v1/audit?entity=lead_note&entity_id={}",
                notes["items"][0]["id"].as_str().unwrap()
            ),
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["items"][0]["channel"], "telegram", "{audit}");

    let card = fake.ask(555, "/show initech").await;
    let text = card["text"].as_str().unwrap();
    assert!(
        text.contains("Notes:\n• wants a demo in March (maria)"),
        "{text}"
    );
}

#[tokio::test]
async fn an_unlinked_telegram_user_is_told_how_to_link_and_nothing_else() {
    let fake = FakeTelegram::start().await;
    let app = app_with_bot(&fake).await;
    let admin = app.admin_token().await;

    let reply = fake.ask(777, "/lead Sneaky Ltd sneaky.com").await;

    assert_eq!(reply["text"], bots::replies::LINK_PROMPT);
    assert!(leads_named(&app, &admin, "sneaky").await.is_empty());
    let reply = fake.ask(777, "/link WRONG123").await;
    assert!(
        reply["text"]
            .as_str()
            .unwrap()
            .contains("wrong, used or expired"),
        "{reply}"
    );
}

#[tokio::test]
async fn a_link_code_works_once() {
    let fake = FakeTelegram::start().await;
    let app = app_with_bot(&fake).await;
    let admin = app.admin_token().await;
    let code: Value = app
        .post("/api/v1/me/link-code", &admin, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(code["code"].as_str().unwrap().len(), 8);
    let first = fake
        .ask(1, &format!("/link {}", code["code"].as_str().unwrap()))
        .await;
    assert!(first["text"].as_str().unwrap().starts_with("Linked"));
    let second = fake
        .ask(2, &format!("/link {}", code["code"].as_str().unwrap()))
        .await;
    assert!(
        second["text"]
            .as_str()
            .unwrap()
            .contains("wrong, used or expired"),
        "{second}"
    );
}

#[tokio::test]
async fn wrong_link_codes_are_limited_per_chat_account() {
    let fake = FakeTelegram::start().await;
    let app = app_with_bot(&fake).await;
    let admin = app.admin_token().await;
    let code: Value = app
        .post("/api/v1/me/link-code", &admin, json!({}))
        .await
        .json()
        .await
        .unwrap();
    let link = format!("/link {}", code["code"].as_str().unwrap());
    for n in 0..5 {
        let reply = fake.ask(31, &format!("/link WRONG00{n}")).await;
        assert!(
            reply["text"]
                .as_str()
                .unwrap()
                .contains("wrong, used or expired"),
            "{reply}"
        );
    }

    let refused = fake.ask(31, &link).await;

    assert!(
        refused["text"]
            .as_str()
            .unwrap()
            .contains("too many attempts"),
        "even the right code waits: {refused}"
    );
    let other = fake.ask(32, &link).await;
    assert!(
        other["text"].as_str().unwrap().starts_with("Linked"),
        "another account is not held up: {other}"
    );
}

#[tokio::test]
async fn a_bad_command_gets_its_usage() {
    let fake = FakeTelegram::start().await;
    let app = app_with_bot(&fake).await;
    let admin = app.admin_token().await;
    link(&app, &fake, &admin, 555).await;

    let reply = fake.ask(555, "/followup Acme 5 done").await;

    assert_eq!(
        reply["text"],
        "/followup: tier must be 1, 2 or 3\nUsage: /followup <lead> <tier 1-3> <outcome> [when] [notes]"
    );
}

#[tokio::test]
async fn a_mention_becomes_a_confirmation_and_runs_only_after_the_button() {
    let fake = FakeTelegram::start().await;
    let app = app_with_bot(&fake).await;
    let (_admin, _maria, maria_token) = linked_maria(&app, &fake).await;
    fake.ask(555, "/lead Globex Corp globex.com").await;
    let lead = leads_named(&app, &maria_token, "globex").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let calls_path = format!("/api/v1/leads/{lead}/calls");

    // In a group the team's talk is ignored; a mention is for the bot,
    // which answers in Maria's private chat and only points there in the
    // group: the group's members may not see the CRM.
    let before = fake.sent().len();
    fake.in_chat(
        group_chat(),
        555,
        "Had a call with Globex Corp today, not interested",
    );
    fake.in_chat(
        group_chat(),
        555,
        "@EaCrmBot had a call with Globex Corp today, not interested",
    );
    let proposal = fake.nth_sent(before + 1).await;
    let pointer = fake.nth_sent(before + 2).await;

    assert_eq!(proposal["chat_id"], 555, "{proposal}");
    assert_eq!(pointer["chat_id"], -100, "{pointer}");
    let pointer_text = pointer["text"].as_str().unwrap();
    assert!(pointer_text.contains("private chat"), "{pointer_text}");
    assert!(!pointer_text.contains("Globex"), "{pointer_text}");
    assert!(pointer.get("reply_markup").is_none(), "{pointer}");
    let keyboard = proposal["reply_markup"]["inline_keyboard"]
        .as_array()
        .unwrap();
    let buttons: Vec<&Value> = keyboard
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .collect();
    assert_eq!(buttons[0]["text"], "Confirm");
    assert_eq!(buttons[1]["text"], "Cancel");
    let data = buttons[0]["callback_data"].as_str().unwrap();
    assert!(data.len() <= 64);
    let calls = app.all_items(&maria_token, &calls_path).await;
    assert_eq!(calls.len(), 0, "nothing before the button");

    // Someone else pressing Maria's button gets nothing done.
    fake.press(556, private_chat(556), data);
    let deadline = Instant::now() + WAIT;
    while fake.calls("answerCallbackQuery").is_empty() {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        fake.calls("answerCallbackQuery")[0].0["text"],
        "This button has expired."
    );

    fake.press(555, private_chat(555), data);
    let done = fake.nth_sent(before + 3).await;
    assert_eq!(done["chat_id"], 555, "{done}");

    assert!(
        done["text"].as_str().unwrap().contains("Globex Corp"),
        "{done}"
    );
    let calls = app.all_items(&maria_token, &calls_path).await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["outcome"], "not_interested");
    // A second press of the same button does not log the call twice.
    fake.press(555, private_chat(555), data);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let calls = app.all_items(&maria_token, &calls_path).await;
    assert_eq!(calls.len(), 1);
}

#[tokio::test]
async fn a_question_in_a_group_is_never_answered_with_crm_data_in_the_group() {
    let fake = FakeTelegram::start().await;
    let app = app_with_bot(&fake).await;
    let (_admin, _maria, _maria_token) = linked_maria(&app, &fake).await;
    fake.ask(555, "/lead Initech initech.example").await;

    // Asked in the group, the lead card goes to Maria's private chat.
    let before = fake.sent().len();
    fake.in_chat(group_chat(), 555, "/show initech");
    let card = fake.nth_sent(before + 1).await;
    let pointer = fake.nth_sent(before + 2).await;
    assert_eq!(card["chat_id"], 555);
    assert!(card["text"].as_str().unwrap().contains("Initech"), "{card}");
    assert_eq!(pointer["chat_id"], -100);
    assert!(
        !pointer["text"].as_str().unwrap().contains("Initech"),
        "{pointer}"
    );

    // Someone who never opened a private chat with the bot is told how,
    // and the group still sees no data.
    fake.state.never_started.lock().unwrap().push(555);
    let before = fake.sent().len();
    fake.in_chat(group_chat(), 555, "/show initech");
    let refused = fake.nth_sent(before + 1).await;
    assert_eq!(refused["chat_id"], 555, "the private chat is tried first");
    let pointer = fake.nth_sent(before + 2).await;
    let text = pointer["text"].as_str().unwrap();
    assert_eq!(pointer["chat_id"], -100, "{pointer}");
    assert!(text.contains("press Start"), "{text}");
    assert!(text.contains("@EaCrmBot"), "{text}");
    assert!(!text.contains("Initech"), "{text}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let to_group: Vec<Value> = fake
        .sent()
        .into_iter()
        .filter(|m| m["chat_id"] == -100)
        .collect();
    assert!(
        to_group
            .iter()
            .all(|m| !m["text"].as_str().unwrap_or_default().contains("Initech")),
        "{to_group:?}"
    );
}

#[tokio::test]
async fn a_429_from_telegram_is_waited_out_and_the_reply_sent_again() {
    let fake = FakeTelegram::start().await;
    let app = app_with_bot(&fake).await;
    let admin = app.admin_token().await;
    link(&app, &fake, &admin, 555).await;
    fake.state.throttle_sends.store(1, Ordering::SeqCst);

    let before = fake.sent().len();
    fake.dm(555, "/help");
    let retried = fake.nth_sent(before + 2).await;

    let attempts = fake.calls("sendMessage");
    let (first, second) = (&attempts[before], &attempts[before + 1]);
    assert_eq!(first.0["text"], second.0["text"]);
    assert!(retried["text"].as_str().unwrap().starts_with("Commands:"));
    assert!(
        second.1.duration_since(first.1) >= Duration::from_millis(950),
        "waited {:?}",
        second.1.duration_since(first.1)
    );
}

#[tokio::test]
async fn admins_see_the_telegram_bot_connected_and_others_may_not() {
    let fake = FakeTelegram::start().await;
    let app = app_with_bot(&fake).await;
    let admin = app.admin_token().await;
    let (_, user_token) = app.user_with_role(&admin, "rep", "user").await;
    let deadline = Instant::now() + WAIT;
    let status = loop {
        let status: Value = app
            .get("/api/v1/bots/status", &admin)
            .await
            .json()
            .await
            .unwrap();
        if status["bots"][0]["connected"] == true {
            break status;
        }
        assert!(Instant::now() < deadline, "{status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status["bots"][0]["platform"], "telegram");
    assert_eq!(status["bots"][0]["username"], "EaCrmBot");
    assert!(!status.to_string().contains(TOKEN));
    // The command menu was registered from the catalogue.
    let menus = fake.calls("setMyCommands");
    assert_eq!(
        menus[0].0["commands"].as_array().unwrap().len(),
        bots::command_list().len()
    );
    let refused = app.get("/api/v1/bots/status", &user_token).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_linked_user_gets_their_hub_mentions_as_a_telegram_direct_message() {
    let fake = FakeTelegram::start().await;
    let app = app_with_bot(&fake).await;
    let (admin, maria, _maria_token) = linked_maria(&app, &fake).await;
    let room = crate::chat::group(&app, &admin, "deals", &[&maria]).await;

    let before = fake.sent().len();
    crate::chat::say(&app, &admin, &room, "@maria can you call Acme today?").await;
    let dm = fake.nth_sent(before + 1).await;

    assert_eq!(dm["chat_id"], 555);
    assert_eq!(
        dm["text"],
        "@admin mentioned you: @maria can you call Acme today?"
    );
}

#[tokio::test]
async fn a_bridged_room_mirrors_both_ways_without_loops() {
    let fake = FakeTelegram::start().await;
    let app = app_with_bot(&fake).await;
    let admin = app.admin_token().await;
    let (maria, maria_token) = app.user_with_role(&admin, "maria", "user").await;
    let room = crate::chat::group(&app, &admin, "sales floor", &[&maria]).await;
    let refused = app
        .post(
            "/api/v1/bridges",
            &maria_token,
            json!({"room": room, "platform": "telegram", "chat_id": "-100"}),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let bridge = app
        .post(
            "/api/v1/bridges",
            &admin,
            json!({"room": room, "platform": "telegram", "chat_id": "-100"}),
        )
        .await;
    assert_eq!(bridge.status(), StatusCode::OK);
    let mut hub = Client::connect(&app, &maria_token).await;
    hub.subscribe(&room, None).await;

    // Telegram → hub, under the sender's name and platform.
    fake.in_chat(group_chat(), 700, "morning all, Initech signed");
    let mirrored = hub.next_of("message").await;
    assert_eq!(mirrored["message"]["author_name"], "user700 (telegram)");
    assert_eq!(mirrored["message"]["body"], "morning all, Initech signed");

    // Hub → Telegram, and only the web's own message goes out.
    let before = fake.sent().len();
    crate::chat::say(&app, &maria_token, &room, "great news!").await;
    let out = fake.nth_sent(before + 1).await;
    assert_eq!(out["chat_id"], -100);
    assert_eq!(out["text"], "maria (web): great news!");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let to_group: Vec<Value> = fake
        .sent()
        .into_iter()
        .filter(|m| m["chat_id"] == -100)
        .collect();
    assert_eq!(
        to_group.len(),
        1,
        "no echo of the mirrored message: {to_group:?}"
    );
}

#[tokio::test]
async fn bots_manage_bridges_only_rooms_it_is_in_and_never_a_direct_room() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (maria, maria_token) = app.user_with_role(&admin, "maria", "user").await;
    let (bob, _) = app.user_with_role(&admin, "bob", "user").await;
    let private = crate::chat::group(&app, &maria_token, "maria and bob", &[&bob]).await;
    let bridge = |room: String| {
        let app = &app;
        let admin = admin.clone();
        async move {
            app.post(
                "/api/v1/bridges",
                &admin,
                json!({"room": room, "platform": "telegram", "chat_id": "-100"}),
            )
            .await
        }
    };

    let (status, code, _) = crate::helpers::error_of(bridge(private).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );

    let direct: Value = app
        .post(
            "/api/v1/rooms",
            &admin,
            json!({"kind": "direct", "members": [maria]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let refused = bridge(direct["id"].as_str().unwrap().to_string()).await;
    let (status, code, message) = crate::helpers::error_of(refused).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(code, "invalid", "{message}");

    let bridges: Value = app
        .get("/api/v1/bridges", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bridges, json!([]), "nothing was bridged");
}

/// The chat links of the user behind `token` (their own, or `user`'s).
async fn links_of(app: &TestApp, token: &str, user: Option<&str>) -> Vec<Value> {
    let path = match user {
        Some(user) => format!("/api/v1/users/{user}/links"),
        None => "/api/v1/me/links".to_string(),
    };
    let response = app.get(&path, token).await;
    assert_eq!(response.status(), StatusCode::OK, "links of {user:?}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_user_unlinks_their_telegram_account_and_it_acts_as_nobody_from_then_on() {
    let fake = FakeTelegram::start().await;
    let app = app_with_bot(&fake).await;
    let (admin, _maria, maria_token) = linked_maria(&app, &fake).await;
    let linked = links_of(&app, &maria_token, None).await;
    assert_eq!(linked.len(), 1);
    assert_eq!(linked[0]["platform"], "telegram");
    assert_eq!(linked[0]["platform_user_id"], "555");
    let path = format!("/api/v1/me/links/{}", linked[0]["id"].as_str().unwrap());

    let key = app.api_key(&maria_token, &[]).await;
    let (status, _, _) = crate::helpers::error_of(app.delete(&path, &key).await).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "links are managed from a login"
    );
    assert_eq!(
        app.delete(&path, &maria_token).await.status(),
        StatusCode::OK
    );

    assert!(links_of(&app, &maria_token, None).await.is_empty());
    let reply = fake.ask(555, "/lead Sneaky Ltd sneaky.com").await;
    assert_eq!(reply["text"], bots::replies::LINK_PROMPT);
    assert!(leads_named(&app, &admin, "sneaky").await.is_empty());
}

#[tokio::test]
async fn an_admin_unlinks_anyones_chat_account_and_a_user_cannot_unlink_someone_elses() {
    let fake = FakeTelegram::start().await;
    let app = app_with_bot(&fake).await;
    let admin = app.admin_token().await;
    let (maria, maria_token) = app.user_with_role(&admin, "maria", "user").await;
    let (_, bob_token) = app.user_with_role(&admin, "bob", "user").await;
    link(&app, &fake, &maria_token, 555).await;
    let linked = links_of(&app, &admin, Some(&maria)).await;
    assert_eq!(linked.len(), 1);
    let link_id = linked[0]["id"].as_str().unwrap();
    let as_admin = format!("/api/v1/users/{maria}/links/{link_id}");

    let (status, _, _) = crate::helpers::error_of(app.delete(&as_admin, &bob_token).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let not_his = app
        .delete(&format!("/api/v1/me/links/{link_id}"), &bob_token)
        .await;
    assert_eq!(not_his.status(), StatusCode::NOT_FOUND);
    assert_eq!(links_of(&app, &maria_token, None).await.len(), 1);

    assert_eq!(app.delete(&as_admin, &admin).await.status(), StatusCode::OK);
    let reply = fake.ask(555, "/due").await;
    assert_eq!(reply["text"], bots::replies::LINK_PROMPT);
}

/// Maria (Telegram chat 555) and Bob (556), users with linked accounts,
/// and the admin who made them.
struct LinkedPair {
    fake: FakeTelegram,
    app: TestApp,
    admin: String,
    maria: (String, String),
    bob: (String, String),
}

async fn linked_pair() -> LinkedPair {
    let fake = FakeTelegram::start().await;
    let app = app_with_bot(&fake).await;
    let admin = app.admin_token().await;
    let maria = app.user_with_role(&admin, "maria", "user").await;
    let bob = app.user_with_role(&admin, "bob", "user").await;
    link(&app, &fake, &maria.1, 555).await;
    link(&app, &fake, &bob.1, 556).await;
    LinkedPair {
        fake,
        app,
        admin,
        maria,
        bob,
    }
}

#[tokio::test]
async fn a_new_password_unlinks_chat_accounts_and_revokes_api_keys_whoever_sets_it() {
    let LinkedPair {
        fake,
        app,
        admin,
        maria: (_, maria_token),
        bob: (bob, bob_token),
    } = linked_pair().await;
    let maria_key = app.api_key(&maria_token, &[]).await;
    let bob_key = app.api_key(&bob_token, &[]).await;

    let changed = app
        .post(
            "/api/v1/auth/password",
            &maria_token,
            json!({"current_password": crate::helpers::USER_PASSWORD,
                   "new_password": "a-brand-new-password"}),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let changed: Value = changed.json().await.unwrap();
    assert_eq!(changed["api_keys_revoked"], 1, "{changed}");
    assert_eq!(changed["chat_links_removed"], 1, "{changed}");
    assert_eq!(
        app.get("/api/v1/auth/me", &maria_key).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let reply = fake.ask(555, "/due").await;
    assert_eq!(reply["text"], bots::replies::LINK_PROMPT);

    let reset = app
        .patch(
            &format!("/api/v1/users/{bob}"),
            &admin,
            json!({"password": "another-brand-new-password"}),
        )
        .await;
    assert_eq!(reset.status(), StatusCode::OK);
    assert_eq!(
        app.get("/api/v1/auth/me", &bob_key).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let reply = fake.ask(556, "/due").await;
    assert_eq!(reply["text"], bots::replies::LINK_PROMPT);
}

#[tokio::test]
async fn deactivated_users_are_not_mentioned_and_the_bot_does_not_write_to_them() {
    let LinkedPair {
        fake,
        app,
        admin,
        maria: (maria, _),
        bob: (bob, _),
    } = linked_pair().await;
    let room = crate::chat::group(&app, &admin, "deals", &[&maria, &bob]).await;
    let off = app
        .post(
            &format!("/api/v1/users/{maria}/deactivate"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(off.status(), StatusCode::OK);

    let before = fake.sent().len();
    crate::chat::say(&app, &admin, &room, "@maria @bob call Acme").await;
    crate::chat::say(&app, &admin, &room, "@here standup in 5").await;
    fake.nth_sent(before + 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let dms = fake.sent()[before..].to_vec();
    assert_eq!(dms.len(), 2, "{dms:?}");
    assert!(dms.iter().all(|m| m["chat_id"] == 556), "{dms:?}");

    // Back at work, nothing from the time away is waiting.
    let on = app
        .patch(
            &format!("/api/v1/users/{maria}"),
            &admin,
            json!({"active": true}),
        )
        .await;
    assert_eq!(on.status(), StatusCode::OK);
    let maria_token = app.login("maria", crate::helpers::USER_PASSWORD).await;
    let unread: Value = app
        .get("/api/v1/notifications/unread-count", &maria_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(unread["unread_count"], 0);
}

#[tokio::test]
async fn in_webhook_mode_only_updates_with_the_secret_header_are_handled() {
    let fake = FakeTelegram::start().await;
    let url = fake.url.clone();
    let app = TestApp::spawn_with(move |config| {
        config.telegram_bot_token = Some(TOKEN.into());
        config.telegram_api_url = url;
        config.telegram_webhook_url = Some("https://crm.example.com/telegram/webhook".into());
        config.telegram_webhook_secret = Some("hook-s3cret".into());
    })
    .await;
    let deadline = Instant::now() + WAIT;
    while fake.calls("setWebhook").is_empty() {
        assert!(Instant::now() < deadline, "setWebhook was called");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let registered = &fake.calls("setWebhook")[0].0;
    assert_eq!(
        registered["url"],
        "https://crm.example.com/telegram/webhook"
    );
    assert_eq!(registered["secret_token"], "hook-s3cret");
    let update = json!({"update_id": 1, "message": {
        "message_id": 1, "date": 1_700_000_000, "chat": private_chat(555),
        "from": person(555), "text": "/help"
    }});
    let post = |secret: Option<&str>| {
        let mut request = app.client.post(app.url("/telegram/webhook")).json(&update);
        if let Some(secret) = secret {
            request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
        }
        request.send()
    };

    assert_eq!(post(None).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        post(Some("guess")).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(fake.sent().is_empty(), "refused updates are not handled");
    assert_eq!(
        post(Some("hook-s3cret")).await.unwrap().status(),
        StatusCode::OK
    );

    let reply = fake.nth_sent(1).await;
    assert_eq!(reply["chat_id"], 555);
    assert!(reply["text"].as_str().unwrap().starts_with("Commands:"));
    assert!(
        fake.calls("getUpdates").is_empty(),
        "no polling in webhook mode"
    );
}

#[tokio::test]
async fn the_daily_digest_arrives_once_a_day_at_the_chosen_time() {
    let fake = FakeTelegram::start().await;
    let url = fake.url.clone();
    let app = TestApp::spawn_with(move |config| {
        config.telegram_bot_token = Some(TOKEN.into());
        config.telegram_api_url = url;
        config.reminder_poll_ms = 100;
    })
    .await;
    let (_admin, _maria, maria_token) = linked_maria(&app, &fake).await;
    let bad = app
        .put_json("/api/v1/me/digest", &maria_token, json!({"time": "8am"}))
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let before = fake.sent().len();
    let set = app
        .put_json("/api/v1/me/digest", &maria_token, json!({"time": "00:00"}))
        .await;
    assert_eq!(set.status(), StatusCode::OK);
    let digest = fake.nth_sent(before + 1).await;

    assert_eq!(digest["chat_id"], 555);
    let text = digest["text"].as_str().unwrap();
    assert!(text.starts_with("Your day, "), "{text}");
    assert!(text.contains("Nothing due"), "{text}");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(fake.sent().len(), before + 1, "once a day");
    app.clock.advance(chrono::Duration::days(1));
    fake.nth_sent(before + 2).await;
}

#[tokio::test]
async fn bridged_edits_and_deletes_follow_between_hub_and_telegram() {
    let fake = FakeTelegram::start().await;
    let app = app_with_bot(&fake).await;
    let admin = app.admin_token().await;
    let (maria, maria_token) = app.user_with_role(&admin, "maria", "user").await;
    let room = crate::chat::group(&app, &admin, "sales floor", &[&maria]).await;
    let bridge = app
        .post(
            "/api/v1/bridges",
            &admin,
            json!({"room": room, "platform": "telegram", "chat_id": "-100"}),
        )
        .await;
    assert_eq!(bridge.status(), StatusCode::OK);
    let wait_for = |method: &'static str| {
        let fake = fake.clone();
        async move {
            let deadline = Instant::now() + WAIT;
            loop {
                if let Some((body, _)) = fake.calls(method).first() {
                    return body.clone();
                }
                assert!(Instant::now() < deadline, "no {method}");
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
    };

    // Hub → Telegram.
    let before = fake.sent().len();
    let posted = crate::chat::say(&app, &maria_token, &room, "price is 100").await;
    fake.nth_sent(before + 1).await;
    let path = format!("/api/v1/messages/{}", posted["id"].as_str().unwrap());
    let edited = app
        .patch(&path, &maria_token, json!({"body": "price is 120"}))
        .await;
    assert_eq!(edited.status(), StatusCode::OK);
    let edit = wait_for("editMessageText").await;
    assert_eq!(edit["chat_id"], -100);
    assert_eq!(edit["text"], "maria (web): price is 120");
    assert_eq!(
        app.delete(&path, &maria_token).await.status(),
        StatusCode::OK
    );
    let delete = wait_for("deleteMessage").await;
    assert_eq!(delete["chat_id"], -100);
    assert_eq!(delete["message_id"], edit["message_id"], "the same message");

    // Telegram → hub: an edit there changes the hub copy, and goes nowhere else.
    let id = fake.in_chat(group_chat(), 700, "see you at 3");
    let deadline = Instant::now() + WAIT;
    let find = |body: &'static str| {
        let app = &app;
        let (token, room) = (maria_token.clone(), room.clone());
        async move {
            let page: Value = app
                .get(&format!("/api/v1/rooms/{room}/messages"), &token)
                .await
                .json()
                .await
                .unwrap();
            page.as_array()
                .unwrap()
                .iter()
                .find(|m| m["body"] == body)
                .cloned()
        }
    };
    while find("see you at 3").await.is_none() {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    fake.edit_in_chat(group_chat(), 700, id, "see you at 4");
    let changed = loop {
        if let Some(m) = find("see you at 4").await {
            break m;
        }
        assert!(Instant::now() < deadline, "the hub copy was not edited");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(changed["author_name"], "user700 (telegram)");
    assert!(changed["edited_at"].is_string());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        fake.calls("editMessageText").len(),
        1,
        "no echo of the edit"
    );
}

#[tokio::test]
async fn during_maintenance_the_bot_answers_with_the_message_and_does_nothing() {
    let fake = FakeTelegram::start().await;
    let app = app_with_bot(&fake).await;
    let (admin, _maria, maria_token) = linked_maria(&app, &fake).await;
    let response = app
        .put_json(
            "/api/v1/maintenance",
            &admin,
            json!({"enabled": true, "message": "moving to a bigger server"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let reply = fake.ask(555, "/lead Hooli hooli.example").await;
    let text = reply["text"].as_str().unwrap();
    assert!(
        text.contains("down for maintenance") && text.contains("moving to a bigger server"),
        "{text}"
    );
    app.put_json("/api/v1/maintenance", &admin, json!({"enabled": false}))
        .await;
    assert!(leads_named(&app, &maria_token, "hooli").await.is_empty());
}

#[tokio::test]
async fn while_the_telegram_bot_is_switched_off_it_says_so_and_does_nothing() {
    let fake = FakeTelegram::start().await;
    let app = app_with_bot(&fake).await;
    let (admin, _maria, maria_token) = linked_maria(&app, &fake).await;
    let response = app
        .put_json(
            "/api/v1/features/telegram",
            &admin,
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    // Someone writing to the bot is told why it does not answer, rather
    // than met with silence.
    let reply = fake.ask(555, "/lead Hooli hooli.example").await;
    assert_eq!(
        reply["text"], "Telegram bot is switched off by an admin.",
        "{reply}"
    );
    assert!(leads_named(&app, &maria_token, "hooli").await.is_empty());

    app.put_json(
        "/api/v1/features/telegram",
        &admin,
        json!({"enabled": true}),
    )
    .await;
    let reply = fake.ask(555, "/lead Hooli hooli.example").await;
    assert!(
        reply["text"].as_str().unwrap().starts_with("Lead created"),
        "{reply}"
    );
}

#[tokio::test]
async fn help_leaves_out_the_commands_of_switched_off_parts_and_they_are_refused() {
    let fake = FakeTelegram::start().await;
    let app = app_with_bot(&fake).await;
    let (admin, _maria, _maria_token) = linked_maria(&app, &fake).await;
    let help = fake.ask(555, "/help").await;
    let text = help["text"].as_str().unwrap();
    assert!(
        text.contains("/remind") && text.contains("plain words"),
        "{text}"
    );

    for key in ["chat", "intent"] {
        let response = app
            .put_json(
                &format!("/api/v1/features/{key}"),
                &admin,
                json!({"enabled": false}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let help = fake.ask(555, "/help").await;
    let text = help["text"].as_str().unwrap();
    assert!(!text.contains("/remind"), "reminders are chat's: {text}");
    // Intent is the model's reading; the local rules still read plain words.
    assert!(text.contains("plain words"), "{text}");
    assert!(text.contains("/followup - "), "{text}");

    let refused = fake.ask(555, "/remind tomorrow 9am call Acme back").await;
    assert_eq!(
        refused["text"],
        "Chat is switched off by an admin. Send /help to see what I can do."
    );
    let plain = fake.ask(555, "log a call with Acme, interested").await;
    assert_eq!(
        plain["text"], "I'll log a call with Acme: interested. OK?\n(read by the local rules)",
        "{plain}"
    );
}

/// The bot with a model behind it: the fake LLM service at `llm`, asked
/// with `timeout_ms` per attempt.
async fn app_with_bot_and_llm(fake: &FakeTelegram, llm: &str, timeout_ms: u64) -> TestApp {
    let url = fake.url.clone();
    let llm = llm.to_string();
    TestApp::spawn_with(move |config| {
        config.telegram_bot_token = Some(TOKEN.into());
        config.telegram_api_url = url;
        config.openrouter_api_key = Some("sk-test-key".into());
        config.openrouter_base_url = llm;
        config.ai_model = "test/model".into();
        config.ai_timeout_ms = timeout_ms;
        config.ai_max_retries = 1;
        config.ai_backoff_ms = 10;
        config.ai_breaker_threshold = 5;
    })
    .await
}

/// What the fake model was last asked to read.
fn last_read(llm: &crate::ai::Fake) -> String {
    let body = llm.last_body.lock().unwrap().clone();
    let user: Value =
        serde_json::from_str(body["messages"][1]["content"].as_str().unwrap()).unwrap();
    user["message"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn with_a_model_a_mention_is_proposed_as_the_model_read_it_and_says_so() {
    use crate::ai::{fake_llm, slots, Mode};
    // The local rules see no request in the sentence; the model reads a
    // status change.
    let (llm_url, llm) = fake_llm(Mode::Good(json!({
        "kind": "change_status",
        "slots": slots(json!({"lead": "Globex Corp", "status": "Won"}))
    })))
    .await;
    let fake = FakeTelegram::start().await;
    let app = app_with_bot_and_llm(&fake, &llm_url, 2_000).await;
    let (admin, _maria, maria_token) = linked_maria(&app, &fake).await;
    fake.ask(555, "/lead Globex Corp globex.com").await;
    let lead = leads_named(&app, &maria_token, "globex").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(llm.hits.load(Ordering::SeqCst), 0, "commands need no model");
    let sentence = "we finally closed the Globex Corp deal, champagne!";
    assert_eq!(
        bots::detect_intent(
            sentence,
            &bots::ParseContext {
                now: chrono::Utc::now(),
                timezone: chrono_tz::UTC,
                bot_username: None
            }
        ),
        bots::Intent::None,
        "the local rules read nothing here"
    );

    let before = fake.sent().len();
    fake.in_chat(group_chat(), 555, &format!("@EaCrmBot {sentence}"));
    let proposal = fake.nth_sent(before + 1).await;
    assert_eq!(proposal["chat_id"], 555, "{proposal}");
    assert_eq!(
        proposal["text"], "I'll set Globex Corp to won. OK?\n(read by the model)",
        "{proposal}"
    );
    assert_eq!(llm.hits.load(Ordering::SeqCst), 1);
    assert_eq!(last_read(&llm), sentence, "without the bot's mention");

    let buttons = buttons_of(&proposal);
    assert_eq!(buttons[0].0, "Confirm");
    let lead_now: Value = app
        .get(&format!("/api/v1/leads/{lead}"), &maria_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        lead_now["lead"]["status"], "new",
        "nothing before the button"
    );

    let sent = fake.sent().len();
    fake.press(555, private_chat(555), &buttons[0].1);
    let done = fake.nth_sent(sent + 1).await;
    assert_eq!(done["text"], "Globex Corp is now won.", "{done}");
    let lead_now: Value = app
        .get(&format!("/api/v1/leads/{lead}"), &maria_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(lead_now["lead"]["status"], "won");

    // The call is accounted to Maria under the intent feature.
    let usage: Value = app
        .get("/api/v1/ai/status", &admin)
        .await
        .json()
        .await
        .unwrap();
    let intent_use = usage["usage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["feature"] == "intent")
        .cloned()
        .unwrap_or_default();
    assert_eq!(intent_use["calls"], 1, "{usage}");
    assert_eq!(intent_use["failures"], 0, "{usage}");
}

#[tokio::test]
async fn a_model_that_fails_or_answers_outside_the_schema_leaves_the_mention_to_the_local_rules() {
    use crate::ai::{fake_llm, slots, Mode};
    let (llm_url, llm) = fake_llm(Mode::Malformed).await;
    let fake = FakeTelegram::start().await;
    let app = app_with_bot_and_llm(&fake, &llm_url, 1_000).await;
    let (_admin, _maria, _maria_token) = linked_maria(&app, &fake).await;
    let local = "I'll set Globex Corp to lost. OK?\n(read by the local rules)";

    for (mode, why) in [
        (Mode::Malformed, "not JSON"),
        (
            Mode::Good(json!({"kind": "delete_all_leads", "slots": slots(json!({}))})),
            "a kind outside the schema",
        ),
        (
            Mode::Good(json!({"kind": "none", "slots": slots(json!({})), "run": "DELETE lead"})),
            "a field outside the schema",
        ),
        (
            Mode::Good(json!({"kind": "log_follow_up",
                              "slots": slots(json!({"lead": "Globex Corp", "outcome": "interested"}))})),
            "a follow-up with a call's outcome",
        ),
        (Mode::ServerError, "HTTP 500"),
    ] {
        *llm.mode.lock().unwrap() = mode;
        let hits = llm.hits.load(Ordering::SeqCst);
        let reply = fake.ask(555, "@EaCrmBot mark Globex Corp as lost").await;
        assert_eq!(reply["text"], local, "{why}: {reply}");
        assert_eq!(buttons_of(&reply).len(), 2, "{why}: {reply}");
        assert!(
            llm.hits.load(Ordering::SeqCst) > hits,
            "{why}: the model was asked"
        );
    }

    // A model slower than its timeout: the local rules answer, and
    // meanwhile the bot goes on answering other chats.
    *llm.mode.lock().unwrap() = Mode::Slow(Duration::from_secs(5));
    let before = fake.sent().len();
    let started = Instant::now();
    fake.dm(555, "mark Globex Corp as lost");
    tokio::time::sleep(Duration::from_millis(200)).await;
    fake.dm(777, "/help");
    let first = fake.nth_sent(before + 1).await;
    assert_eq!(
        first["chat_id"], 777,
        "another chat waits for no model: {first}"
    );
    let second = fake.nth_sent(before + 2).await;
    assert_eq!(second["chat_id"], 555, "{second}");
    assert_eq!(second["text"], local, "{second}");
    // Two attempts of 1 s and a short backoff, not the model's 5 s each.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn with_intent_switched_off_the_local_rules_read_mentions_and_the_model_is_not_asked() {
    use crate::ai::{fake_llm, slots, Mode};
    let (llm_url, llm) = fake_llm(Mode::Good(json!({
        "kind": "change_status",
        "slots": slots(json!({"lead": "Globex Corp", "status": "won"}))
    })))
    .await;
    let fake = FakeTelegram::start().await;
    let app = app_with_bot_and_llm(&fake, &llm_url, 2_000).await;
    let (admin, _maria, _maria_token) = linked_maria(&app, &fake).await;
    let off = app
        .put_json("/api/v1/features/intent", &admin, json!({"enabled": false}))
        .await;
    assert_eq!(off.status(), StatusCode::OK);

    let reply = fake.ask(555, "@EaCrmBot mark Globex Corp as lost").await;
    assert_eq!(
        reply["text"], "I'll set Globex Corp to lost. OK?\n(read by the local rules)",
        "{reply}"
    );
    let chatter = fake.ask(555, "we closed the Globex Corp deal").await;
    assert_eq!(
        chatter["text"],
        "I didn't catch that. Try \"log a call with Acme, interested\" or send /help.\n(read by the local rules)"
    );
    assert_eq!(
        llm.hits.load(Ordering::SeqCst),
        0,
        "the model was not asked"
    );

    app.put_json("/api/v1/features/intent", &admin, json!({"enabled": true}))
        .await;
    let reply = fake.ask(555, "@EaCrmBot mark Globex Corp as lost").await;
    assert_eq!(
        reply["text"], "I'll set Globex Corp to won. OK?\n(read by the model)",
        "{reply}"
    );
    assert_eq!(llm.hits.load(Ordering::SeqCst), 1);
}
