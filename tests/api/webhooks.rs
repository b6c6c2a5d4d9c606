//! Outbound webhooks end to end: a receiver on 127.0.0.1 records what the
//! real app sends it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ea_crm::config::Config;
use ea_crm::domain::webhooks::{self, Dispatcher, DispatcherSettings};
use ea_crm::domain::Ctx;
use ea_crm::store::Transaction;
use hmac::{Hmac, Mac};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Request, Response, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::{error_of, TestApp};

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub event: String,
    pub delivery: String,
    pub timestamp: String,
    pub signature: String,
    /// Every header, names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Hit {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("webhook body is JSON")
    }
}

/// A webhook receiver that answers 500 to its first `fail_first` requests.
pub(crate) struct Receiver {
    pub url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl Receiver {
    pub async fn start(fail_first: usize) -> Receiver {
        Self::start_with(fail_first, Duration::ZERO).await
    }

    /// Like `start`, taking `delay` to answer each request.
    async fn start_with(fail_first: usize, delay: Duration) -> Receiver {
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let seen = Arc::new(AtomicUsize::new(0));
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .unwrap();
        let addr = *acceptor.local_addr()[0].as_socket_addr().unwrap();
        let recorded = hits.clone();
        let endpoint = poem::endpoint::make(move |mut req: Request| {
            let (recorded, seen) = (recorded.clone(), seen.clone());
            async move {
                let header = |name: &str| req.header(name).unwrap_or_default().to_string();
                let hit = Hit {
                    event: header("x-ea-event"),
                    delivery: header("x-ea-delivery"),
                    timestamp: header("x-ea-timestamp"),
                    signature: header("x-ea-signature"),
                    headers: req
                        .headers()
                        .iter()
                        .map(|(name, value)| {
                            let value = value.to_str().unwrap_or_default().to_string();
                            (name.as_str().to_string(), value)
                        })
                        .collect(),
                    body: String::new(),
                };
                let body = req.take_body().into_string().await.unwrap_or_default();
                recorded.lock().unwrap().push(Hit { body, ..hit });
                tokio::time::sleep(delay).await;
                if seen.fetch_add(1, Ordering::SeqCst) < fail_first {
                    Response::builder()
                        .status(
                            StatusCode::INTERNAL_SERVER_ERROR
                                .as_u16()
                                .try_into()
                                .unwrap(),
                        )
                        .body("boom")
                } else {
                    Response::builder().body("thanks")
                }
            }
        });
        tokio::spawn(Server::new_with_acceptor(acceptor).run(endpoint));
        Receiver {
            url: format!("http://{addr}/hooks"),
            hits,
        }
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    pub async fn wait_for(&self, count: usize) -> Vec<Hit> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let hits = self.hits();
            if hits.len() >= count {
                return hits;
            }
            assert!(
                Instant::now() < deadline,
                "expected {count} requests, got {}",
                hits.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Quick retries, and the receivers' loopback allowed as an on-premises
/// range would be (webhooks reach only public addresses by default).
pub(crate) fn fast(config: &mut Config) {
    config.webhook_poll_ms = 50;
    config.webhook_backoff_base_seconds = 60;
    config.webhook_max_attempts = 3;
    config.webhook_allow_private = vec!["127.0.0.0/8".parse().unwrap()];
}

/// Registers an endpoint; returns (id, secret).
pub(crate) async fn register(
    app: &TestApp,
    admin: &str,
    url: &str,
    topics: Value,
) -> (String, String) {
    let response = app
        .post(
            "/api/v1/webhooks",
            admin,
            json!({"url": url, "topics": topics}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    (
        body["webhook"]["id"].as_str().unwrap().to_string(),
        body["secret"].as_str().unwrap().to_string(),
    )
}

/// Commits one event the way the CRM core does: inside a transaction.
async fn emit(ctx: &Ctx, topic: &str, data: Value) {
    let mut tx = Transaction::new();
    webhooks::record_event(&mut tx, topic, &data, ctx.now());
    tx.commit(&ctx.store).await.expect("event committed");
    webhooks::wake(ctx);
}

async fn deliveries(app: &TestApp, admin: &str, id: &str) -> Vec<Value> {
    let page: Value = app
        .get(&format!("/api/v1/webhooks/{id}/deliveries"), admin)
        .await
        .json()
        .await
        .unwrap();
    page["items"].as_array().unwrap().clone()
}

/// Waits until the endpoint's newest delivery satisfies `done`.
async fn wait_for_delivery(
    app: &TestApp,
    admin: &str,
    id: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(d) = deliveries(app, admin, id).await.first() {
            if done(d) {
                return d.clone();
            }
            assert!(Instant::now() < deadline, "delivery never got there: {d}");
        }
        assert!(Instant::now() < deadline, "no delivery");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

pub(crate) fn expected_signature(secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn registering_a_webhook_checks_url_and_topics_shows_the_secret_once_and_needs_settings_manage(
) {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    for (body, field) in [
        (
            json!({"url": "ftp://example.com/x", "topics": ["lead.created"]}),
            "url",
        ),
        (
            json!({"url": "not a url", "topics": ["lead.created"]}),
            "url",
        ),
        (
            json!({"url": "https://example.com/x", "topics": ["lead.exploded"]}),
            "topics",
        ),
        (
            json!({"url": "https://example.com/x", "topics": []}),
            "topics",
        ),
    ] {
        let (status, code, message) =
            error_of(app.post("/api/v1/webhooks", &admin, body).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
        );
        assert!(message.starts_with(field), "{message}");
    }

    let (_, rep) = app.user_with_role(&admin, "rep", "user").await;
    let (status, _, message) = error_of(
        app.post(
            "/api/v1/webhooks",
            &rep,
            json!({"url": "https://example.com/x", "topics": ["*"]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(message.contains("settings.manage"));
    assert_eq!(
        app.get("/api/v1/webhooks", &rep).await.status(),
        StatusCode::FORBIDDEN
    );

    let (id, secret) = register(
        &app,
        &admin,
        "https://example.com/x",
        json!(["lead.created", "*"]),
    )
    .await;
    assert!(secret.starts_with("whsec_"));
    let listed = app
        .get("/api/v1/webhooks", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(listed.contains(&id));
    assert!(!listed.contains(&secret), "the secret is never shown again");

    let rotated: Value = app
        .post(
            &format!("/api/v1/webhooks/{id}/rotate-secret"),
            &admin,
            json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(rotated["secret"], secret);

    let patched: Value = app
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            &admin,
            json!({"active": false, "description": "CRM sync"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (patched["active"].clone(), patched["description"].clone()),
        (json!(false), json!("CRM sync"))
    );

    let topics: Value = app
        .get("/api/v1/webhooks/topics", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert!(topics
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["topic"] == "lead.status_changed"));

    let audited: Vec<Value> = app
        .ctx()
        .store
        .run(
            "SELECT action, at FROM audit WHERE entity = 'webhook' ORDER BY at",
            json!({}),
        )
        .await
        .unwrap()
        .rows(0)
        .unwrap();
    let actions: Vec<&str> = audited
        .iter()
        .filter_map(|r| r["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"create")
            && actions.contains(&"rotate_secret")
            && actions.contains(&"update"),
        "{actions:?}"
    );
    let audit_text = serde_json::to_string(
        &app.ctx()
            .store
            .run("SELECT * FROM audit", json!({}))
            .await
            .unwrap()
            .value(0),
    )
    .unwrap();
    assert!(
        !audit_text.contains(&secret),
        "the audit trail never holds the secret"
    );

    let deleted = app.delete(&format!("/api/v1/webhooks/{id}"), &admin).await;
    assert_eq!(deleted.status(), StatusCode::OK);
    assert_eq!(
        app.get(&format!("/api/v1/webhooks/{id}"), &admin)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn an_event_committed_in_a_transaction_reaches_the_receiver_with_a_valid_signature() {
    let app = TestApp::spawn_with(fast).await;
    let admin = app.admin_token().await;
    let receiver = Receiver::start(0).await;
    let (id, secret) = register(&app, &admin, &receiver.url, json!(["lead.created"])).await;

    emit(
        app.ctx(),
        "lead.created",
        json!({"id": "L1", "name": "Acme"}),
    )
    .await;

    let hit = receiver.wait_for(1).await.remove(0);
    assert_eq!(hit.event, "lead.created");
    assert_eq!(
        hit.signature,
        expected_signature(&secret, &hit.timestamp, &hit.body)
    );
    let body = hit.json();
    assert_eq!(body["topic"], "lead.created");
    assert_eq!(body["data"], json!({"id": "L1", "name": "Acme"}));
    assert!(body["id"].is_string() && body["created_at"].is_string());

    let delivery = wait_for_delivery(&app, &admin, &id, |d| d["status"] == "delivered").await;
    assert_eq!(delivery["id"], hit.delivery.as_str());
    assert_eq!(delivery["attempts"], 1);
    assert_eq!(delivery["last_status"], 200);
    assert!(
        !delivery.to_string().contains("thanks"),
        "the log shows the status, not the reply: {delivery}"
    );
    assert!(delivery["delivered_at"].is_string());
}

#[tokio::test]
async fn an_event_in_a_rolled_back_transaction_is_never_sent() {
    let app = TestApp::spawn_with(fast).await;
    let admin = app.admin_token().await;
    let receiver = Receiver::start(0).await;
    register(&app, &admin, &receiver.url, json!(["*"])).await;

    let mut tx = Transaction::new();
    webhooks::record_event(
        &mut tx,
        "lead.created",
        &json!({"id": "ghost"}),
        app.ctx().now(),
    );
    tx.push("THROW 'the change was refused'");
    assert!(tx.commit(&app.ctx().store).await.is_err());
    emit(app.ctx(), "lead.created", json!({"id": "real"})).await;

    receiver.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let hits: Vec<Value> = receiver.hits().iter().map(Hit::json).collect();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["data"]["id"], "real");
}

#[tokio::test]
async fn a_receiver_that_fails_first_gets_the_same_delivery_later_and_the_log_shows_both_attempts()
{
    let app = TestApp::spawn_with(fast).await;
    let admin = app.admin_token().await;
    let receiver = Receiver::start(1).await;
    let (id, secret) = register(&app, &admin, &receiver.url, json!(["follow_up.logged"])).await;

    emit(app.ctx(), "follow_up.logged", json!({"lead": "L1"})).await;
    receiver.wait_for(1).await;
    let failed_once = wait_for_delivery(&app, &admin, &id, |d| d["attempts"] == 1).await;
    assert_eq!(failed_once["status"], "pending");
    assert_eq!(failed_once["last_status"], 500);
    assert!(
        !failed_once.to_string().contains("boom"),
        "the log shows the status, not the reply: {failed_once}"
    );

    // The retry waits for its backoff (at most 60 s at this setting)...
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.hits().len(), 1, "no retry before the backoff ends");
    // ...and goes once the clock has passed it.
    app.clock.advance(chrono::Duration::seconds(61));
    webhooks::wake(app.ctx());
    let hits = receiver.wait_for(2).await;
    assert_eq!(
        hits[0].delivery, hits[1].delivery,
        "the retry carries the same delivery id"
    );
    assert_eq!(hits[0].body, hits[1].body);
    assert_eq!(
        hits[1].signature,
        expected_signature(&secret, &hits[1].timestamp, &hits[1].body)
    );

    let done = wait_for_delivery(&app, &admin, &id, |d| d["status"] == "delivered").await;
    assert_eq!(done["attempts"], 2);
    let statuses: Vec<&Value> = done["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["status"])
        .collect();
    assert_eq!(statuses, [&json!(500), &json!(200)]);
    assert!(
        done["last_error"].is_null(),
        "a success clears the last error: {done}"
    );
}

#[tokio::test]
async fn a_dead_endpoint_ends_failed_after_the_configured_attempts_and_never_slows_the_write() {
    let app = TestApp::spawn_with(fast).await;
    let admin = app.admin_token().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/gone", closed.local_addr().unwrap());
    drop(closed);
    let (id, _) = register(&app, &admin, &dead, json!(["*"])).await;

    let started = Instant::now();
    let queued = app
        .post(&format!("/api/v1/webhooks/{id}/test"), &admin, json!({}))
        .await;
    assert_eq!(queued.status(), StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the write waited for the endpoint"
    );

    for attempt in 1..=3 {
        let d = wait_for_delivery(&app, &admin, &id, |d| d["attempts"] == attempt).await;
        assert_eq!(d["last_error"], "could not connect");
        app.clock.advance(chrono::Duration::hours(1));
        webhooks::wake(app.ctx());
    }
    let failed = wait_for_delivery(&app, &admin, &id, |d| d["status"] == "failed").await;
    assert_eq!(failed["attempts"], 3);
    assert_eq!(failed["topic"], "webhook.test");
    assert!(failed["delivered_at"].is_null());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        deliveries(&app, &admin, &id).await[0]["attempts"],
        3,
        "no attempt after giving up"
    );
}

#[tokio::test]
async fn each_endpoint_receives_only_the_topics_it_subscribed_to() {
    let app = TestApp::spawn_with(fast).await;
    let admin = app.admin_token().await;
    let (leads, everything, paused) = (
        Receiver::start(0).await,
        Receiver::start(0).await,
        Receiver::start(0).await,
    );
    let (leads_id, _) = register(&app, &admin, &leads.url, json!(["lead.created"])).await;
    register(&app, &admin, &everything.url, json!(["*"])).await;
    let (paused_id, _) = register(&app, &admin, &paused.url, json!(["*"])).await;
    app.patch(
        &format!("/api/v1/webhooks/{paused_id}"),
        &admin,
        json!({"active": false}),
    )
    .await;

    for topic in ["lead.created", "contact.created", "lead.updated"] {
        emit(app.ctx(), topic, json!({"topic": topic})).await;
    }
    app.post(
        &format!("/api/v1/webhooks/{leads_id}/test"),
        &admin,
        json!({}),
    )
    .await;

    let mut all: Vec<String> = everything
        .wait_for(3)
        .await
        .into_iter()
        .map(|h| h.event)
        .collect();
    let mut only: Vec<String> = leads
        .wait_for(2)
        .await
        .into_iter()
        .map(|h| h.event)
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    all.sort();
    only.sort();
    assert_eq!(all, ["contact.created", "lead.created", "lead.updated"]);
    assert_eq!(only, ["lead.created", "webhook.test"]);
    assert!(
        paused.hits().is_empty(),
        "an inactive endpoint receives nothing"
    );
    assert_eq!(
        everything.hits().len(),
        3,
        "the test event went to its endpoint only"
    );
}

#[tokio::test]
async fn two_dispatchers_on_one_database_deliver_each_event_once() {
    let app = TestApp::spawn_with(|c| {
        fast(c);
        c.webhook_poll_ms = 10;
    })
    .await;
    let admin = app.admin_token().await;
    let receiver = Receiver::start(0).await;
    register(&app, &admin, &receiver.url, json!(["*"])).await;

    // A second instance: its own context and dispatcher, the same database.
    let mut config = Config::for_tests();
    fast(&mut config);
    config.webhook_poll_ms = 10;
    let other = Arc::new(Ctx::new(
        app.ctx().store.clone(),
        Arc::new(app.clock.clone()),
        &config,
    ));
    let second = Dispatcher::new(other.clone(), DispatcherSettings::from_config(&config))
        .unwrap()
        .spawn();

    for n in 0..20 {
        emit(app.ctx(), "lead.created", json!({"n": n})).await;
        webhooks::wake(&other);
    }
    receiver.wait_for(20).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let hits = receiver.hits();
    let mut ids: Vec<String> = hits.iter().map(|h| h.delivery.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        (hits.len(), ids.len()),
        (20, 20),
        "every event exactly once"
    );
    second.stop().await;
}

#[tokio::test]
async fn a_slow_endpoint_delays_only_its_own_deliveries() {
    let app = TestApp::spawn_with(|c| {
        fast(c);
        c.webhook_per_endpoint_concurrency = 1;
    })
    .await;
    let admin = app.admin_token().await;
    let slow = Receiver::start_with(0, Duration::from_secs(3)).await;
    let quick = Receiver::start(0).await;
    register(&app, &admin, &slow.url, json!(["*"])).await;
    register(&app, &admin, &quick.url, json!(["*"])).await;

    let started = Instant::now();
    for n in 0..5 {
        emit(app.ctx(), "call.logged", json!({"n": n})).await;
    }
    quick.wait_for(5).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the quick endpoint waited for the slow one: {:?}",
        started.elapsed()
    );
    assert_eq!(
        slow.hits().len(),
        1,
        "the slow endpoint gets one request at a time"
    );
}

#[tokio::test]
async fn lead_changes_through_the_api_reach_a_subscribed_webhook_signed() {
    let app = TestApp::spawn_with(fast).await;
    let admin = app.admin_token().await;
    let receiver = Receiver::start(0).await;
    let (_, secret) = register(
        &app,
        &admin,
        &receiver.url,
        json!(["lead.created", "lead.status_changed", "follow_up.logged"]),
    )
    .await;
    let created: Value = app
        .post(
            "/api/v1/leads",
            &admin,
            json!({"company_name": "Hooked Ltd"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = created["lead"]["id"].as_str().unwrap();
    app.patch(
        &format!("/api/v1/leads/{id}"),
        &admin,
        json!({"status": "qualified", "industry": "Tech"}),
    )
    .await;
    app.put_json(
        &format!("/api/v1/leads/{id}/follow-ups/1"),
        &admin,
        json!({"outcome": "done"}),
    )
    .await;
    let hits = receiver.wait_for(3).await;
    let mut topics: Vec<String> = hits.iter().map(|h| h.event.clone()).collect();
    topics.sort();
    assert_eq!(
        topics,
        ["follow_up.logged", "lead.created", "lead.status_changed"],
        "lead.updated was not subscribed"
    );
    for hit in &hits {
        assert_eq!(
            hit.signature,
            expected_signature(&secret, &hit.timestamp, &hit.body)
        );
    }
    let status_change = hits
        .iter()
        .find(|h| h.event == "lead.status_changed")
        .unwrap()
        .json();
    assert_eq!(status_change["data"]["to"], "qualified");
    assert_eq!(status_change["data"]["lead"]["company_name"], "Hooked Ltd");
}

#[tokio::test]
async fn a_webhook_aimed_at_loopback_is_refused_at_delivery_unless_its_range_is_allowed() {
    let app = TestApp::spawn_with(|c| {
        fast(c);
        c.webhook_allow_private = Vec::new();
    })
    .await;
    let admin = app.admin_token().await;
    let receiver = Receiver::start(0).await;
    let by_name = receiver.url.replace("127.0.0.1", "localhost");
    let as_ipv6 = receiver.url.replace("127.0.0.1", "[::ffff:127.0.0.1]");
    let mut hooks = Vec::new();
    for url in [&receiver.url, &by_name, &as_ipv6] {
        hooks.push(register(&app, &admin, url, json!(["lead.created"])).await.0);
    }

    emit(app.ctx(), "lead.created", json!({"id": "L1"})).await;

    for id in &hooks {
        let failed = wait_for_delivery(&app, &admin, id, |d| d["status"] == "failed").await;
        assert_eq!(failed["attempts"], 1, "refused for good: {failed}");
        assert!(failed["last_status"].is_null(), "{failed}");
        let error = failed["last_error"].as_str().unwrap();
        assert!(
            error.starts_with("refused") && error.contains("loopback"),
            "{error}"
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.hits().is_empty(), "nothing reached the receiver");
}

#[tokio::test]
async fn a_delivery_waits_while_webhooks_are_switched_off_and_goes_out_when_they_are_on_again() {
    let app = TestApp::spawn_with(fast).await;
    let admin = app.admin_token().await;
    let receiver = Receiver::start(0).await;
    let (id, _) = register(&app, &admin, &receiver.url, json!(["lead.created"])).await;
    let off = app
        .put_json(
            "/api/v1/features/webhooks",
            &admin,
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(off.status(), StatusCode::OK);

    emit(app.ctx(), "lead.created", json!({"id": "L7"})).await;
    // Ten polls of the dispatcher.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(receiver.hits().is_empty(), "sent while off");

    let on = app
        .put_json(
            "/api/v1/features/webhooks",
            &admin,
            json!({"enabled": true}),
        )
        .await;
    assert_eq!(on.status(), StatusCode::OK);
    let hit = receiver.wait_for(1).await.remove(0);
    assert_eq!(hit.json()["data"], json!({"id": "L7"}));
    let delivery = wait_for_delivery(&app, &admin, &id, |d| d["status"] == "delivered").await;
    assert_eq!(delivery["attempts"], 1);
}

/// The delivery log pages like every list (`after` = `next_cursor`); the
/// old name `before` still reads the same cursor.
#[tokio::test]
async fn the_delivery_log_pages_by_after_and_still_reads_before() {
    let app = TestApp::spawn_with(fast).await;
    let admin = app.admin_token().await;
    let receiver = Receiver::start(0).await;
    let (id, _) = register(&app, &admin, &receiver.url, json!(["lead.created"])).await;
    for _ in 0..3 {
        let tested = app
            .post(&format!("/api/v1/webhooks/{id}/test"), &admin, json!({}))
            .await;
        assert_eq!(tested.status(), StatusCode::OK);
    }
    receiver.wait_for(3).await;
    let page = |param: &'static str, cursor: Option<String>| {
        let app = &app;
        let admin = &admin;
        let id = &id;
        async move {
            let query = cursor.map(|c| format!("&{param}={c}")).unwrap_or_default();
            crate::helpers::ok(
                app.get(
                    &format!("/api/v1/webhooks/{id}/deliveries?limit=2{query}"),
                    admin,
                )
                .await,
            )
            .await
        }
    };
    let first = page("after", None).await;
    let next = first["next_cursor"].as_str().unwrap().to_string();
    let second = page("after", Some(next.clone())).await;
    let old_name = page("before", Some(next)).await;
    let ids = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&first).len(), 2);
    assert_eq!(ids(&second).len(), 1);
    assert!(second.get("next_cursor").is_none(), "{second}");
    assert!(!ids(&first).contains(&ids(&second)[0]));
    assert_eq!(ids(&old_name), ids(&second));
}
