//! AI features against the real app: the remote provider against a fake
//! OpenAI-compatible server on loopback (good answers, malformed JSON,
//! schema violations, 429s, timeouts, outages), the local provider on data
//! whose right answer is known, feature switches, and the merge.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::{Data, Json};
use poem::{handler, post, EndpointExt, IntoResponse, Response, Route, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_of, TestApp};

/// How the fake model service answers (also used by the bots' tests).
#[derive(Clone)]
pub(crate) enum Mode {
    /// 200 with this JSON object as the message content.
    Good(Value),
    /// 200 whose content is not JSON.
    Malformed,
    /// 429 for the first `n` requests, then `Good`.
    RateLimitedFirst(usize, Value),
    /// Answers after this long.
    Slow(Duration),
    /// 503 every time.
    Outage,
    /// 500 every time, as a broken server answers.
    ServerError,
    /// 401, as for a wrong key.
    Unauthorized,
}

pub(crate) struct Fake {
    pub(crate) mode: Mutex<Mode>,
    pub(crate) hits: AtomicUsize,
    pub(crate) last_body: Mutex<Value>,
    last_auth: Mutex<String>,
}

fn envelope(content: &str) -> Value {
    json!({"choices": [{"message": {"role": "assistant", "content": content}}],
           "usage": {"prompt_tokens": 120, "completion_tokens": 30}})
}

#[handler]
async fn completions(
    Data(fake): Data<&Arc<Fake>>,
    req: &poem::Request,
    Json(body): Json<Value>,
) -> Response {
    let n = fake.hits.fetch_add(1, Ordering::SeqCst);
    *fake.last_body.lock().unwrap() = body;
    *fake.last_auth.lock().unwrap() = req.header("authorization").unwrap_or_default().to_string();
    let mode = fake.mode.lock().unwrap().clone();
    match mode {
        Mode::Good(v) => Json(envelope(&v.to_string())).into_response(),
        Mode::Malformed => Json(envelope("Sure! The intent is: change status")).into_response(),
        Mode::RateLimitedFirst(limit, _) if n < limit => Response::builder()
            .status(poem::http::StatusCode::TOO_MANY_REQUESTS)
            .body("slow down"),
        Mode::RateLimitedFirst(_, v) => Json(envelope(&v.to_string())).into_response(),
        Mode::Slow(wait) => {
            tokio::time::sleep(wait).await;
            Json(envelope("{}")).into_response()
        }
        Mode::Outage => Response::builder()
            .status(poem::http::StatusCode::SERVICE_UNAVAILABLE)
            .body("down"),
        Mode::ServerError => Response::builder()
            .status(poem::http::StatusCode::INTERNAL_SERVER_ERROR)
            .body("oops"),
        Mode::Unauthorized => Response::builder()
            .status(poem::http::StatusCode::UNAUTHORIZED)
            .body("bad key"),
    }
}

/// A fake OpenAI-compatible service on loopback: its base URL and state.
pub(crate) async fn fake_llm(mode: Mode) -> (String, Arc<Fake>) {
    let fake = Arc::new(Fake {
        mode: Mutex::new(mode),
        hits: AtomicUsize::new(0),
        last_body: Mutex::new(Value::Null),
        last_auth: Mutex::new(String::new()),
    });
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let addr = acceptor.local_addr()[0].as_socket_addr().copied().unwrap();
    let app = Route::new()
        .at("/v1/chat/completions", post(completions))
        .data(fake.clone());
    tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
    (format!("http://{addr}/v1"), fake)
}

async fn app_with_llm(base: &str) -> TestApp {
    let base = base.to_string();
    TestApp::spawn_with(move |c| {
        c.openrouter_api_key = Some("sk-test-key".into());
        c.openrouter_base_url = base;
        c.ai_model = "test/model".into();
        c.ai_timeout_ms = 300;
        c.ai_max_retries = 2;
        c.ai_backoff_ms = 10;
        c.ai_breaker_threshold = 2;
        c.ai_breaker_cooldown_seconds = 60;
    })
    .await
}

/// Every slot of an intent answer: `given`, the rest null.
pub(crate) fn slots(given: Value) -> Value {
    let mut all = json!({"company": null, "website": null, "lead": null, "tier": null, "outcome": null,
                         "when": null, "title": null, "assignee": null, "status": null, "text": null});
    all.as_object_mut()
        .unwrap()
        .extend(given.as_object().unwrap().clone());
    all
}

fn won_answer() -> Value {
    json!({"kind": "change_status", "slots": slots(json!({"lead": "Hooli", "status": "won"}))})
}

async fn intent(app: &TestApp, token: &str, text: &str) -> Value {
    let response = app
        .post("/api/v1/ai/intent", token, json!({"text": text}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// A sentence the local rules read as "mark Acme Corp as won".
const MARK_WON: &str = "mark Acme Corp as won";

#[tokio::test]
async fn a_good_model_answer_is_used_and_its_tokens_are_recorded_per_feature_and_user() {
    let (base, fake) = fake_llm(Mode::Good(won_answer())).await;
    let app = app_with_llm(&base).await;
    let admin = app.admin_token().await;
    let got = intent(&app, &admin, "we closed the Hooli deal!!").await;
    assert_eq!(got["provider"], "openrouter");
    assert_eq!(got["kind"], "change_status");
    assert_eq!(got["slots"]["status"], "won");
    assert_eq!(got["needs_confirmation"], true);
    assert!(got["fallback_reason"].is_null());

    // The request asked for JSON under a schema, with the key, and quoted
    // the message as data.
    let body = fake.last_body.lock().unwrap().clone();
    assert_eq!(body["model"], "test/model");
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert!(body["messages"][1]["content"]
        .as_str()
        .unwrap()
        .contains("Hooli deal"));
    assert_eq!(*fake.last_auth.lock().unwrap(), "Bearer sk-test-key");

    let status: Value = app
        .get("/api/v1/ai/status", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["provider"], "openrouter");
    let usage = &status["usage"][0];
    assert_eq!(usage["feature"], "intent");
    assert_eq!(usage["calls"], 1);
    assert_eq!(usage["prompt_tokens"], 120);
    assert_eq!(usage["completion_tokens"], 30);
    assert!(usage["user"].is_string());
}

#[tokio::test]
async fn malformed_json_from_the_model_falls_back_to_the_local_rules_without_retrying() {
    let (base, fake) = fake_llm(Mode::Malformed).await;
    let app = app_with_llm(&base).await;
    let admin = app.admin_token().await;
    let got = intent(&app, &admin, MARK_WON).await;
    assert_eq!(got["provider"], "local");
    assert_eq!(got["fallback_reason"], "malformed");
    assert_eq!(got["kind"], "change_status");
    assert_eq!(got["slots"]["status"], "won");
    assert_eq!(fake.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn answers_that_break_the_schema_are_refused_and_answered_locally() {
    for bad in [
        // An intent we never offered, carrying an instruction.
        json!({"kind": "delete_all_leads", "slots": slots(json!({}))}),
        // An extra field.
        json!({"kind": "none", "slots": slots(json!({})), "run": "DELETE lead"}),
        // A kind without its required slot.
        json!({"kind": "create_lead", "slots": slots(json!({}))}),
    ] {
        let (base, _) = fake_llm(Mode::Good(bad)).await;
        let app = app_with_llm(&base).await;
        let admin = app.admin_token().await;
        let got = intent(&app, &admin, MARK_WON).await;
        assert_eq!(got["provider"], "local");
        assert_eq!(got["fallback_reason"], "schema_violation");
        assert_eq!(got["kind"], "change_status");
    }
}

#[tokio::test]
async fn a_429_is_retried_with_backoff_and_the_model_answer_arrives() {
    let (base, fake) = fake_llm(Mode::RateLimitedFirst(2, won_answer())).await;
    let app = app_with_llm(&base).await;
    let admin = app.admin_token().await;
    let got = intent(&app, &admin, "closed Hooli").await;
    assert_eq!(got["provider"], "openrouter");
    assert_eq!(got["slots"]["lead"], "Hooli");
    assert_eq!(fake.hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_model_that_times_out_is_answered_locally_in_bounded_time() {
    let (base, _) = fake_llm(Mode::Slow(Duration::from_secs(5))).await;
    let app = app_with_llm(&base).await;
    let admin = app.admin_token().await;
    let started = std::time::Instant::now();
    let got = intent(&app, &admin, MARK_WON).await;
    assert_eq!(got["provider"], "local");
    assert_eq!(got["fallback_reason"], "timeout");
    assert_eq!(got["kind"], "change_status");
    // Three attempts of 300 ms plus short backoffs, not the model's 5 s.
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn an_outage_opens_the_circuit_and_later_calls_skip_the_network() {
    let (base, fake) = fake_llm(Mode::Outage).await;
    let app = app_with_llm(&base).await;
    let admin = app.admin_token().await;
    for _ in 0..2 {
        let got = intent(&app, &admin, MARK_WON).await;
        assert_eq!(got["provider"], "local");
        assert_eq!(got["fallback_reason"], "unavailable");
    }
    let hits = fake.hits.load(Ordering::SeqCst);
    assert_eq!(hits, 6, "two calls of three attempts each");
    let got = intent(&app, &admin, MARK_WON).await;
    assert_eq!(got["provider"], "local");
    assert_eq!(got["fallback_reason"], "circuit_open");
    assert_eq!(got["kind"], "change_status");
    assert_eq!(fake.hits.load(Ordering::SeqCst), hits);
    let status: Value = app
        .get("/api/v1/ai/status", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["circuit_open"], true);
    assert_eq!(status["usage"][0]["failures"], 2);
}

#[tokio::test]
async fn a_refused_key_is_not_retried_and_the_local_rules_answer() {
    let (base, fake) = fake_llm(Mode::Unauthorized).await;
    let app = app_with_llm(&base).await;
    let admin = app.admin_token().await;
    let got = intent(&app, &admin, MARK_WON).await;
    assert_eq!(got["provider"], "local");
    assert_eq!(got["fallback_reason"], "refused");
    assert_eq!(got["kind"], "change_status");
    assert_eq!(fake.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn without_a_key_the_local_provider_answers_and_admins_can_switch_features_off() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let got = intent(&app, &admin, "new lead: Initech, initech.com").await;
    assert_eq!(got["provider"], "local");
    assert!(got["fallback_reason"].is_null());
    assert_eq!(got["kind"], "create_lead");
    assert_eq!(got["slots"]["company"], "Initech");

    let (_, rep) = app.user_with_role(&admin, "rep", "user").await;
    let (status, code, _) = error_of(
        app.put_json("/api/v1/features/intent", &rep, json!({"enabled": false}))
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::FORBIDDEN, "forbidden")
    );

    let off = app
        .put_json("/api/v1/features/intent", &admin, json!({"enabled": false}))
        .await;
    assert_eq!(off.status(), StatusCode::OK);
    let (status, code, message) = error_of(
        app.post("/api/v1/ai/intent", &rep, json!({"text": MARK_WON}))
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::CONFLICT, "feature_disabled")
    );
    assert!(message.contains("switched off"));
    let status: Value = app
        .get("/api/v1/ai/status", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["provider"], "local");
    let intent_flag = status["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["feature"] == "intent")
        .unwrap();
    assert_eq!(intent_flag["enabled"], false);
    let unknown = app
        .put_json(
            "/api/v1/features/mind_reading",
            &admin,
            json!({"enabled": true}),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

/// Creates a lead from `body`, duplicate or not: these tests seed the
/// duplicates and relations the AI features find.
async fn new_lead(app: &TestApp, token: &str, mut body: Value) -> String {
    body["allow_duplicate"] = json!(true);
    let response = app.post("/api/v1/leads", token, body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let created: Value = response.json().await.unwrap();
    created["lead"]["id"].as_str().unwrap().to_string()
}

async fn stored_score(app: &TestApp, token: &str, id: &str) -> i64 {
    let detail: Value = app
        .get(&format!("/api/v1/leads/{id}"), token)
        .await
        .json()
        .await
        .unwrap();
    detail["lead"]["score"].as_i64().unwrap()
}

/// Waits for the background scorer to store a score that satisfies `ok`.
async fn score_settles(app: &TestApp, token: &str, id: &str, ok: impl Fn(i64) -> bool) -> i64 {
    for _ in 0..100 {
        let s = stored_score(app, token, id).await;
        if ok(s) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    panic!("the score of {id} never settled");
}

#[tokio::test]
async fn scores_are_kept_current_by_lead_changes_and_sort_the_list() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let bare = new_lead(&app, &admin, json!({"company_name": "Bare Ltd"})).await;
    let partial = new_lead(
        &app,
        &admin,
        json!({"company_name": "Partial GmbH", "website": "partial.de", "country": "DE",
               "contacts": [{"name": "Paul", "email": "paul@partial.de"}]}),
    )
    .await;
    let rich = new_lead(
        &app,
        &admin,
        json!({"company_name": "Rich Inc", "website": "rich.com", "industry": "SaaS", "country": "US",
               "contacts": [{"name": "Rita", "email": "rita@rich.com", "phone": "+14155550100"},
                            {"name": "Ron", "email": "ron@rich.com"}]}),
    )
    .await;
    let rich_before = score_settles(&app, &admin, &rich, |s| s > 0).await;
    let partial_score = score_settles(&app, &admin, &partial, |s| s > 0).await;
    let bare_score = score_settles(&app, &admin, &bare, |s| s > 0).await;
    assert!(rich_before > partial_score && partial_score > bare_score);

    // A conversation this week raises the score without anyone asking.
    let call = app
        .post(
            &format!("/api/v1/leads/{rich}/calls"),
            &admin,
            json!({"outcome": "interested", "duration_seconds": 240}),
        )
        .await;
    assert_eq!(call.status(), StatusCode::OK);
    let rich_after = score_settles(&app, &admin, &rich, |s| s > rich_before).await;

    // The list sorts by the stored score, highest first.
    let page: Value = app
        .get("/api/v1/leads?sort=score&order=desc", &admin)
        .await
        .json()
        .await
        .unwrap();
    let order: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(order, [rich.as_str(), partial.as_str(), bare.as_str()]);
    let strong: Value = app
        .get(
            &format!("/api/v1/leads?sort=score&score_min={partial_score}"),
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    let strong: Vec<&str> = strong["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(strong, [rich.as_str(), partial.as_str()]);

    // The reasons add up to the score a user sees.
    let explained: Value = app
        .get(&format!("/api/v1/ai/leads/{rich}/score"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(explained["score"], rich_after);
    let reasons = explained["reasons"].as_array().unwrap();
    let sum: i64 = reasons.iter().map(|r| r["points"].as_i64().unwrap()).sum();
    assert_eq!(sum, rich_after);
    let factors: Vec<&str> = reasons
        .iter()
        .map(|r| r["factor"].as_str().unwrap())
        .collect();
    assert_eq!(
        factors,
        ["completeness", "reachability", "engagement", "fit"]
    );
}

#[tokio::test]
async fn a_rep_cannot_score_or_merge_leads_they_cannot_see() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, rep) = app.user_with_role(&admin, "rep", "user").await;
    let theirs = new_lead(
        &app,
        &admin,
        json!({"company_name": "Not Yours", "owner": "admin"}),
    )
    .await;
    let (status, _, _) = error_of(
        app.get(&format!("/api/v1/ai/leads/{theirs}/score"), &rep)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let dups: Value = app
        .get("/api/v1/ai/duplicates", &rep)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(dups, json!([]));
}

#[tokio::test]
async fn duplicates_are_found_by_domain_email_phone_and_name_with_a_confidence() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let acme1 = new_lead(
        &app,
        &admin,
        json!({"company_name": "Acme Corp", "website": "acme.com"}),
    )
    .await;
    let acme2 = new_lead(
        &app,
        &admin,
        json!({"company_name": "ACME Holdings", "website": "https://www.acme.com/about"}),
    )
    .await;
    let g1 = new_lead(
        &app,
        &admin,
        json!({"company_name": "Globex", "contacts": [{"name": "Ann", "email": "ann@globex.io"}]}),
    )
    .await;
    let g2 = new_lead(&app, &admin, json!({"company_name": "Globex International", "contacts": [{"name": "Ann B", "email": "ANN@globex.io", "phone": "+14155550123"}]})).await;
    let _other = new_lead(
        &app,
        &admin,
        json!({"company_name": "Initech", "website": "initech.com"}),
    )
    .await;
    let found: Value = app
        .get("/api/v1/ai/duplicates", &admin)
        .await
        .json()
        .await
        .unwrap();
    let pairs: Vec<(String, String)> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let (a, b) = (p["lead_a"].as_str().unwrap(), p["lead_b"].as_str().unwrap());
            (a.min(b).to_string(), a.max(b).to_string())
        })
        .collect();
    let sorted = |a: &str, b: &str| (a.min(b).to_string(), a.max(b).to_string());
    assert_eq!(pairs.len(), 2, "{found}");
    assert!(pairs.contains(&sorted(&acme1, &acme2)));
    assert!(pairs.contains(&sorted(&g1, &g2)));
    for pair in found.as_array().unwrap() {
        assert!(pair["confidence"].as_f64().unwrap() >= 0.8);
        assert!(!pair["signals"].as_array().unwrap().is_empty());
    }
}

#[derive(Debug, PartialEq)]
struct Related {
    contacts: usize,
    follow_ups: usize,
    history: usize,
    calls: usize,
    audit: usize,
    /// Relationship-map edges in either direction.
    edges: usize,
}

/// The relationship-map edges touching a lead: (edge id, in, out, kind).
async fn edges_of(app: &TestApp, lead: &str) -> Vec<(String, String, String, String)> {
    let r = app
        .ctx()
        .store
        .run(
            "LET $me = type::record('lead', $l);
             SELECT <string> id AS id, record::id(in) AS from, record::id(out) AS to, kind FROM related WHERE in = $me;
             SELECT <string> id AS id, record::id(in) AS from, record::id(out) AS to, kind FROM related WHERE out = $me;",
            json!({"l": lead}),
        )
        .await
        .unwrap();
    let mut out = Vec::new();
    for i in [1, 2] {
        for e in r.value(i).as_array().cloned().unwrap_or_default() {
            let text = |k: &str| e[k].as_str().unwrap().to_string();
            out.push((text("id"), text("from"), text("to"), text("kind")));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// An edge as the map means it: derived kinds hold both ways.
fn edge_meaning(from: &str, to: &str, kind: &str) -> (String, String, String) {
    if kind == "same_domain" || kind == "shared_person" {
        let (a, b) = (from.min(to), from.max(to));
        (a.to_string(), b.to_string(), kind.to_string())
    } else {
        (from.to_string(), to.to_string(), kind.to_string())
    }
}

async fn related(app: &TestApp, lead: &str) -> Related {
    let r = app
        .ctx()
        .store
        .run(
            "SELECT VALUE id FROM contact WHERE lead = $l;
             SELECT VALUE id FROM follow_up WHERE lead = $l;
             SELECT VALUE id FROM follow_up_history WHERE lead = $l;
             SELECT VALUE id FROM call WHERE lead = $l;
             SELECT VALUE id FROM audit WHERE subject = $l;",
            json!({"l": lead}),
        )
        .await
        .unwrap();
    let n = |i: usize| r.value(i).as_array().map(Vec::len).unwrap_or(0);
    Related {
        contacts: n(0),
        follow_ups: n(1),
        history: n(2),
        calls: n(3),
        audit: n(4),
        edges: edges_of(app, lead).await.len(),
    }
}

#[tokio::test]
async fn a_merge_keeps_every_related_record_and_records_itself() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let keep = new_lead(
        &app,
        &admin,
        json!({"company_name": "Acme Corp", "website": "acme.com",
        "contacts": [{"name": "Ann", "email": "ann@acme.com"}]}),
    )
    .await;
    let gone = new_lead(&app, &admin, json!({"company_name": "Acme Inc", "website": "acme.com",
        "contacts": [{"name": "Bob", "email": "bob@acme.com"}, {"name": "Cy", "phone": "+14155550100"}]})).await;
    for (lead, tier, outcome) in [
        (&keep, 1, "done"),
        (&gone, 1, "replied"),
        (&gone, 2, "no_answer"),
    ] {
        let r = app
            .put_json(
                &format!("/api/v1/leads/{lead}/follow-ups/{tier}"),
                &admin,
                json!({"outcome": outcome}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    for (lead, outcome) in [
        (&keep, "connected"),
        (&gone, "voicemail"),
        (&gone, "interested"),
    ] {
        let r = app
            .post(
                &format!("/api/v1/leads/{lead}/calls"),
                &admin,
                json!({"outcome": outcome}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    // The relationship map around them: Xeno shares Bob with the merged
    // lead; both leads referred Xeno; the merged lead is Yonder's parent,
    // Xeno is its parent, and the kept lead referred it.
    let xeno = new_lead(
        &app,
        &admin,
        json!({"company_name": "Xeno", "website": "xeno.io",
        "contacts": [{"name": "Bob", "email": "bob@acme.com"}]}),
    )
    .await;
    let yonder = new_lead(&app, &admin, json!({"company_name": "Yonder"})).await;
    for (from, to, kind) in [
        (&keep, &xeno, "referral"),
        (&gone, &xeno, "referral"),
        (&gone, &yonder, "parent_company"),
        (&xeno, &gone, "parent_company"),
        (&keep, &gone, "referral"),
    ] {
        let r = app
            .post(
                &format!("/api/v1/ai/leads/{from}/relations"),
                &admin,
                json!({"to": to, "kind": kind}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    // The derived edges (same domain, shared person) are drawn after the
    // leads' events; wait for them.
    let derived = |edges: &[(String, String, String, String)], kind: &str, other: &str| {
        edges
            .iter()
            .any(|e| e.3 == kind && (e.1 == other || e.2 == other))
    };
    let mut settled = false;
    for _ in 0..200 {
        let around = edges_of(&app, &gone).await;
        if derived(&around, "same_domain", &keep) && derived(&around, "shared_person", &xeno) {
            settled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(settled, "{:?}", edges_of(&app, &gone).await);
    // What the map should say after the merge, worked out from the edges
    // before it: the merged lead's ends become the kept lead, edges between
    // the two vanish, and each meaning is there once.
    let mut before = edges_of(&app, &keep).await;
    before.extend(edges_of(&app, &gone).await);
    before.sort();
    before.dedup();
    let mut want: Vec<(String, String, String)> = before
        .iter()
        .map(|(_, from, to, kind)| {
            let swap = |id: &String| {
                if id == &gone {
                    keep.clone()
                } else {
                    id.clone()
                }
            };
            (swap(from), swap(to), kind.clone())
        })
        .filter(|(from, to, _)| from != to)
        .map(|(from, to, kind)| edge_meaning(&from, &to, &kind))
        .collect();
    want.sort();
    want.dedup();
    assert!(want.len() >= 4, "{want:?}");

    let (k, g) = (related(&app, &keep).await, related(&app, &gone).await);
    assert_eq!(
        (k.contacts, g.contacts, g.calls, g.follow_ups),
        (1, 2, 2, 2)
    );

    let merged = app
        .post(
            "/api/v1/ai/duplicates/merge",
            &admin,
            json!({"keep": keep, "merge": gone}),
        )
        .await;
    assert_eq!(merged.status(), StatusCode::OK);
    let after = related(&app, &keep).await;
    let empty = related(&app, &gone).await;
    assert_eq!(after.contacts, k.contacts + g.contacts);
    assert_eq!(after.calls, k.calls + g.calls);
    // Tier 1 existed on both: the kept lead's stays current and the other's
    // joins the history; tier 2 moves as it is.
    assert_eq!(after.follow_ups, 2);
    assert_eq!(after.history, k.history + g.history + 1);
    // Every audit row moved, plus the merge row itself.
    assert_eq!(after.audit, k.audit + g.audit + 1);
    assert_eq!(
        empty,
        Related {
            contacts: 0,
            follow_ups: 0,
            history: 0,
            calls: 0,
            audit: 0,
            edges: 0,
        }
    );
    // Every edge followed the merge, once each, none to itself.
    let mut got: Vec<(String, String, String)> = edges_of(&app, &keep)
        .await
        .iter()
        .map(|(_, from, to, kind)| edge_meaning(from, to, kind))
        .collect();
    got.sort();
    assert_eq!(got, want, "no duplicates, nothing lost");
    assert_eq!(after.edges, want.len());
    assert!(got.contains(&edge_meaning(&keep, &yonder, "parent_company")));
    assert!(got.contains(&edge_meaning(&xeno, &keep, "parent_company")));
    assert!(got.contains(&edge_meaning(&keep, &xeno, "shared_person")));

    // The merged lead is in the trash, pointing at the one that kept it.
    let detail: Value = app
        .get(&format!("/api/v1/leads/{gone}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["error"]["code"], "not_found");
    let row = app
        .ctx()
        .store
        .run(
            "SELECT merged_into, deleted_at FROM ONLY type::record('lead', $id)",
            json!({"id": gone}),
        )
        .await
        .unwrap();
    assert_eq!(row.value(0)["merged_into"], json!(keep));
    assert!(!row.value(0)["deleted_at"].is_null());
    let merge_rows = app
        .ctx()
        .store
        .run(
            "SELECT * FROM audit WHERE subject = $id AND action = 'merge'",
            json!({"id": keep}),
        )
        .await
        .unwrap();
    assert_eq!(merge_rows.value(0).as_array().unwrap().len(), 1);
    assert!(merge_rows.value(0)[0]["new"]
        .as_str()
        .unwrap()
        .contains(&gone));

    // Merging it again, or into itself, is refused.
    let again = app
        .post(
            "/api/v1/ai/duplicates/merge",
            &admin,
            json!({"keep": keep, "merge": gone}),
        )
        .await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    let itself = app
        .post(
            "/api/v1/ai/duplicates/merge",
            &admin,
            json!({"keep": keep, "merge": keep}),
        )
        .await;
    assert_eq!(itself.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // An empty id names no lead: not found, not the store's failure, and
    // the kept lead is untouched.
    for body in [
        json!({"keep": "", "merge": keep}),
        json!({"keep": keep, "merge": ""}),
    ] {
        let empty = app
            .post("/api/v1/ai/duplicates/merge", &admin, body.clone())
            .await;
        assert_eq!(empty.status(), StatusCode::NOT_FOUND, "{body}");
        let error: Value = empty.json().await.unwrap();
        assert_eq!(error["error"]["code"], "not_found");
    }
    let still = app.get(&format!("/api/v1/leads/{keep}"), &admin).await;
    assert_eq!(still.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_draft_follows_the_leads_history_offline_and_the_model_when_it_answers() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let lead = new_lead(&app, &admin, json!({"company_name": "Hooli", "contacts": [{"name": "Gavin Belson", "email": "gavin@hooli.xyz"}]})).await;
    app.post(
        &format!("/api/v1/leads/{lead}/calls"),
        &admin,
        json!({"outcome": "no_answer"}),
    )
    .await;
    let draft: Value = app
        .post(
            &format!("/api/v1/ai/leads/{lead}/draft"),
            &admin,
            json!({"channel": "email", "tone": "formal"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(draft["provider"], "local");
    assert!(draft["body"].as_str().unwrap().starts_with("Dear Gavin,"));
    assert!(draft["body"]
        .as_str()
        .unwrap()
        .contains("didn't manage to connect"));
    assert_eq!(draft["subject"], "Hooli — next steps");

    let (base, _) = fake_llm(Mode::Good(
        json!({"subject": "Hello again", "body": "Gavin, shall we talk?"}),
    ))
    .await;
    let remote = app_with_llm(&base).await;
    let admin = remote.admin_token().await;
    let lead = new_lead(&remote, &admin, json!({"company_name": "Hooli"})).await;
    let draft: Value = remote
        .post(&format!("/api/v1/ai/leads/{lead}/draft"), &admin, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(draft["provider"], "openrouter");
    assert_eq!(draft["body"], "Gavin, shall we talk?");
}

#[tokio::test]
async fn the_best_calling_hour_is_reported_on_the_leads_clock() {
    use chrono::{Duration as Days, TimeZone, Utc};
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let tokyo = new_lead(
        &app,
        &admin,
        json!({"company_name": "Tokyo KK", "timezone": "Asia/Tokyo", "industry": "Retail"}),
    )
    .await;
    let start = (app.clock_now() - Days::days(10)).date_naive();
    for day in 0..4 {
        let date = start + Days::days(day);
        // 00:15 UTC is 09:15 in Tokyo (no daylight saving there).
        for (hour, outcome) in [(0, "connected"), (6, "no_answer")] {
            let at = Utc.from_utc_datetime(&date.and_hms_opt(hour, 15, 0).unwrap());
            let r = app
                .post(
                    &format!("/api/v1/leads/{tokyo}/calls"),
                    &admin,
                    json!({"outcome": outcome, "at": at.to_rfc3339()}),
                )
                .await;
            assert_eq!(r.status(), StatusCode::OK);
        }
    }
    let p: Value = app
        .get("/api/v1/ai/patterns?industry=retail", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(p["touches"], 8);
    assert_eq!(p["best_hours"][0]["slot"], 9);
    assert_eq!(p["best_hours"][0]["reach_rate"], 1.0);
    assert_eq!(p["best_hours"][1]["slot"], 15);
    assert_eq!(p["reps"][0]["activities"], 8);
    let none: Value = app
        .get("/api/v1/ai/patterns?industry=mining", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["touches"], 0);
}

async fn relations_of(app: &TestApp, token: &str, id: &str) -> Vec<(String, String, String)> {
    let found: Value = app
        .get(&format!("/api/v1/ai/leads/{id}/relations"), token)
        .await
        .json()
        .await
        .unwrap();
    found
        .as_array()
        .unwrap_or_else(|| panic!("{found}"))
        .iter()
        .map(|n| {
            (
                n["lead"].as_str().unwrap().to_string(),
                n["kind"].as_str().unwrap().to_string(),
                n["direction"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_relationship_map_links_same_domain_shared_people_and_referrals() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let hq = new_lead(
        &app,
        &admin,
        json!({"company_name": "Acme HQ", "website": "acme.com"}),
    )
    .await;
    let branch = new_lead(
        &app,
        &admin,
        json!({"company_name": "Acme Branch", "website": "acme.com/branch"}),
    )
    .await;
    let partner = new_lead(&app, &admin, json!({"company_name": "Partner Co", "contacts": [{"name": "Ann", "email": "ann@consult.io"}]})).await;
    let client = new_lead(&app, &admin, json!({"company_name": "Client Co", "contacts": [{"name": "Ann", "email": "ann@consult.io"}]})).await;
    let _alone = new_lead(&app, &admin, json!({"company_name": "Alone"})).await;

    let mut seen = Vec::new();
    for _ in 0..100 {
        seen = relations_of(&app, &admin, &hq).await;
        if !seen.is_empty() && !relations_of(&app, &admin, &client).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        (seen[0].0.as_str(), seen[0].1.as_str()),
        (branch.as_str(), "same_domain")
    );
    let client_rel = relations_of(&app, &admin, &client).await;
    assert_eq!(client_rel.len(), 1, "{client_rel:?}");
    assert_eq!(
        (client_rel[0].0.as_str(), client_rel[0].1.as_str()),
        (partner.as_str(), "shared_person")
    );

    let referred = app
        .post(
            &format!("/api/v1/ai/leads/{partner}/relations"),
            &admin,
            json!({"to": hq, "kind": "referral"}),
        )
        .await;
    assert_eq!(referred.status(), StatusCode::OK);
    let around_hq = relations_of(&app, &admin, &hq).await;
    assert!(
        around_hq.contains(&(partner.clone(), "referral".into(), "in".into())),
        "{around_hq:?}"
    );
    let bad = app
        .post(
            &format!("/api/v1/ai/leads/{partner}/relations"),
            &admin,
            json!({"to": hq, "kind": "enemy"}),
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
