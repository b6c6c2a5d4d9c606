//! `Idempotency-Key` on the creates a client may retry: a retry gets the
//! first answer and creates nothing; the key is the caller's own, refused
//! for a different request, forgotten when the first attempt failed, and
//! forgotten after a day.

use ea_crm::domain::error::DomainError;
use ea_crm::domain::idempotency::{self, Claim, IdempotencyKey};
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{error_of, ok, TestApp};

fn replayed(response: &Response) -> bool {
    response
        .headers()
        .get("Idempotency-Replayed")
        .is_some_and(|v| v == "true")
}

async fn lead_count(app: &TestApp, token: &str) -> i64 {
    ok(app.get("/api/v1/leads/count", token).await).await["count"]
        .as_i64()
        .unwrap()
}

async fn create_lead_with_key(app: &TestApp, token: &str, key: &str, body: Value) -> Response {
    app.send_with_key(Method::POST, "/api/v1/leads", token, key, body)
        .await
}

#[tokio::test]
async fn a_retried_lead_create_answers_the_same_lead_and_creates_one() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let before = lead_count(&app, &admin).await;
    let body = json!({"company_name": "Retry GmbH", "contacts": [{"name": "Ann"}]});

    let first = create_lead_with_key(&app, &admin, "order-1", body.clone()).await;
    assert!(!replayed(&first), "a first answer is not a replay");
    let first = ok(first).await;
    let again = create_lead_with_key(&app, &admin, "order-1", body).await;
    assert!(replayed(&again), "the retry says it is the kept answer");
    let again = ok(again).await;

    assert_eq!(
        first, again,
        "the retry gets the first answer, body and all"
    );
    assert_eq!(lead_count(&app, &admin).await, before + 1);
}

#[tokio::test]
async fn the_same_key_for_a_different_lead_is_refused_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    ok(create_lead_with_key(&app, &admin, "k1", json!({"company_name": "First"})).await).await;
    let before = lead_count(&app, &admin).await;

    let (status, code, message) =
        error_of(create_lead_with_key(&app, &admin, "k1", json!({"company_name": "Second"})).await)
            .await;

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(code, "invalid");
    assert!(message.contains("different request"), "{message}");
    assert_eq!(lead_count(&app, &admin).await, before);
}

#[tokio::test]
async fn two_users_may_use_the_same_key_independently() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (ann_id, ann) = app.user_with_role(&admin, "ann", "user").await;
    let body = json!({"company_name": "Shared Key AG"});

    let by_admin = ok(create_lead_with_key(&app, &admin, "same", body.clone()).await).await;
    let by_ann = create_lead_with_key(&app, &ann, "same", body).await;
    assert!(!replayed(&by_ann), "ann's key is not the admin's");
    let by_ann = ok(by_ann).await;

    assert_ne!(by_admin["lead"]["id"], by_ann["lead"]["id"]);
    assert_eq!(by_ann["lead"]["created_by"], ann_id.as_str());
}

#[tokio::test]
async fn a_refused_first_attempt_keeps_nothing_so_the_fixed_request_runs() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let before = lead_count(&app, &admin).await;

    let (status, code, _) = error_of(
        create_lead_with_key(
            &app,
            &admin,
            "fix-me",
            json!({"company_name": "Fixed", "country": "XX"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
    );

    let fixed = create_lead_with_key(
        &app,
        &admin,
        "fix-me",
        json!({"company_name": "Fixed", "country": "DE"}),
    )
    .await;
    assert!(!replayed(&fixed));
    assert_eq!(ok(fixed).await["lead"]["country"], "DE");
    assert_eq!(lead_count(&app, &admin).await, before + 1);
}

#[tokio::test]
async fn a_key_that_is_not_1_to_255_printable_characters_is_refused() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let before = lead_count(&app, &admin).await;
    for key in ["k".repeat(256), "schlüssel".to_string()] {
        let response = app
            .request(Method::POST, "/api/v1/leads", Some(&admin))
            .header("Idempotency-Key", key.as_bytes())
            .json(&json!({"company_name": "Keyed"}))
            .send()
            .await
            .unwrap();
        let (status, code, message) = error_of(response).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
        );
        assert!(message.starts_with("Idempotency-Key"), "{message}");
    }
    assert_eq!(lead_count(&app, &admin).await, before);
}

#[tokio::test]
async fn concurrent_sends_with_one_key_create_one_lead() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let before = lead_count(&app, &admin).await;
    let body = json!({"company_name": "Racing Ltd"});

    let sends = (0..5).map(|_| create_lead_with_key(&app, &admin, "race", body.clone()));
    let answers = futures_util::future::join_all(sends).await;

    let mut fresh = 0;
    for answer in answers {
        match answer.status() {
            StatusCode::OK if replayed(&answer) => {}
            StatusCode::OK => fresh += 1,
            _ => {
                let (status, code, message) = error_of(answer).await;
                assert_eq!((status, code.as_str()), (StatusCode::CONFLICT, "conflict"));
                assert!(message.contains("still being processed"), "{message}");
            }
        }
    }
    assert_eq!(fresh, 1, "exactly one send ran");
    assert_eq!(lead_count(&app, &admin).await, before + 1);
}

#[tokio::test]
async fn a_key_whose_first_request_still_runs_is_a_conflict_until_answered() {
    let app = TestApp::spawn().await;
    let key = IdempotencyKey::parse("running").unwrap();
    let Claim::Run(claimed) = idempotency::claim(app.ctx(), "u1", "op", &key, "fp")
        .await
        .unwrap()
    else {
        panic!("a new key is ours to run");
    };
    let meanwhile = idempotency::claim(app.ctx(), "u1", "op", &key, "fp").await;
    assert!(
        matches!(meanwhile, Err(DomainError::Conflict(_))),
        "{meanwhile:?}"
    );

    idempotency::record(app.ctx(), &claimed, 200, "{\"id\":\"x\"}")
        .await
        .unwrap();
    match idempotency::claim(app.ctx(), "u1", "op", &key, "fp").await {
        Ok(Claim::Replay { status, answer }) => {
            assert_eq!((status, answer.as_str()), (200, "{\"id\":\"x\"}"))
        }
        other => panic!("the answer is kept: {other:?}"),
    }
}

#[tokio::test]
async fn a_key_abandoned_by_a_dead_instance_may_run_again_after_five_minutes() {
    let app = TestApp::spawn().await;
    let key = IdempotencyKey::parse("orphan").unwrap();
    let first = idempotency::claim(app.ctx(), "u1", "op", &key, "fp").await;
    assert!(matches!(first, Ok(Claim::Run(_))));
    app.clock.advance(chrono::Duration::minutes(6));
    let retry = idempotency::claim(app.ctx(), "u1", "op", &key, "fp").await;
    assert!(matches!(retry, Ok(Claim::Run(_))), "{retry:?}");
}

#[tokio::test]
async fn keys_are_forgotten_after_a_day() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    ok(create_lead_with_key(&app, &admin, "daily", json!({"company_name": "Monday"})).await).await;

    app.clock.advance(chrono::Duration::hours(25));
    let removed = idempotency::forget_old(app.ctx()).await.unwrap();
    assert_eq!(removed, 1);

    let admin = app.admin_token().await;
    let reused =
        create_lead_with_key(&app, &admin, "daily", json!({"company_name": "Tuesday"})).await;
    assert!(!replayed(&reused));
    assert_eq!(ok(reused).await["lead"]["company_name"], "Tuesday");
}

#[tokio::test]
async fn a_retried_task_create_answers_the_same_task_and_creates_one() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let body = json!({"title": "Business cards", "task_type": "print"});

    let first = ok(app
        .send_with_key(Method::POST, "/api/v1/tasks", &admin, "t-1", body.clone())
        .await)
    .await;
    let again = app
        .send_with_key(Method::POST, "/api/v1/tasks", &admin, "t-1", body)
        .await;
    assert!(replayed(&again));
    assert_eq!(ok(again).await["id"], first["id"]);

    let tasks = ok(app.get("/api/v1/tasks", &admin).await).await;
    let cards = tasks["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["title"] == "Business cards")
        .count();
    assert_eq!(cards, 1);

    let (status, code, _) = error_of(
        app.send_with_key(
            Method::POST,
            "/api/v1/tasks",
            &admin,
            "t-1",
            json!({"title": "Flyers", "task_type": "print"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
    );
}

#[tokio::test]
async fn a_retried_task_comment_is_posted_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let task = app.create_task(&admin, "Poster").await;
    let path = format!("/api/v1/tasks/{task}/comments");
    let body = json!({"body": "Proof attached"});

    let first = ok(app
        .send_with_key(Method::POST, &path, &admin, "c-1", body.clone())
        .await)
    .await;
    let again = app
        .send_with_key(Method::POST, &path, &admin, "c-1", body)
        .await;
    assert!(replayed(&again));
    assert_eq!(ok(again).await["id"], first["id"]);

    assert_eq!(app.all_items(&admin, &path).await.len(), 1);
}

#[tokio::test]
async fn a_retried_follow_up_is_logged_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let lead = app.create_lead(&admin, "Follow Co").await;
    let path = format!("/api/v1/leads/{lead}/follow-ups/1");
    let body = json!({"outcome": "no_answer", "notes": "rang twice"});

    let first = ok(app
        .send_with_key(Method::PUT, &path, &admin, "f-1", body.clone())
        .await)
    .await;
    let again = app
        .send_with_key(Method::PUT, &path, &admin, "f-1", body.clone())
        .await;
    assert!(replayed(&again));
    assert_eq!(ok(again).await, first);

    let now = ok(app
        .get(&format!("/api/v1/leads/{lead}/follow-ups"), &admin)
        .await)
    .await;
    assert_eq!(now["history"].as_array().unwrap().len(), 1, "{now}");

    // The same key on another tier is another request.
    let (status, _, message) = error_of(
        app.send_with_key(
            Method::PUT,
            &format!("/api/v1/leads/{lead}/follow-ups/2"),
            &admin,
            "f-1",
            body,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message.contains("different request"), "{message}");
}

#[tokio::test]
async fn a_retried_call_is_logged_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let lead = app.create_lead(&admin, "Caller Inc").await;
    let path = format!("/api/v1/leads/{lead}/calls");
    let body = json!({"outcome": "connected", "duration_seconds": 120});

    let first = ok(app
        .send_with_key(Method::POST, &path, &admin, "call-1", body.clone())
        .await)
    .await;
    let again = app
        .send_with_key(Method::POST, &path, &admin, "call-1", body)
        .await;
    assert!(replayed(&again));
    assert_eq!(ok(again).await["id"], first["id"]);

    assert_eq!(app.all_items(&admin, &path).await.len(), 1);
}

#[tokio::test]
async fn the_openapi_document_shows_the_header_on_each_create_that_takes_it() {
    let app = TestApp::spawn().await;
    let spec = app.openapi().await;
    for (path, method) in [
        ("/leads", "post"),
        ("/leads/{id}/follow-ups/{tier}", "put"),
        ("/leads/{id}/calls", "post"),
        ("/tasks", "post"),
        ("/tasks/{id}/comments", "post"),
        ("/rooms/{id}/files", "post"),
        ("/tasks/{id}/files", "post"),
    ] {
        let op = &spec["paths"][path][method];
        let takes_key = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header");
        assert!(takes_key, "{method} {path} documents Idempotency-Key");
        assert!(
            op["responses"]["200"]["headers"]["Idempotency-Replayed"].is_object(),
            "{method} {path} documents Idempotency-Replayed"
        );
    }
}

/// Sends `body` to `path` twice under one key, then a different body under
/// the same key; returns the first answer. The retry must get that answer
/// back, marked replayed; the different body the documented refusal.
async fn retried_twice_then_reused(
    app: &TestApp,
    token: &str,
    path: &str,
    body: Value,
    other: Value,
) -> Value {
    let key = format!("retry {path}");
    let first = app
        .send_with_key(Method::POST, path, token, &key, body.clone())
        .await;
    assert!(!replayed(&first), "{path}");
    let first = ok(first).await;
    let again = app
        .send_with_key(Method::POST, path, token, &key, body)
        .await;
    assert!(replayed(&again), "{path}: the retry is the kept answer");
    assert_eq!(ok(again).await, first, "{path}");
    let (status, code, message) = error_of(
        app.send_with_key(Method::POST, path, token, &key, other)
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
        "{path}"
    );
    assert!(message.contains("different request"), "{path}: {message}");
    first
}

#[tokio::test]
async fn retried_contact_note_and_webhook_creates_make_one_each_and_answer_the_same() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let lead = app.create_lead(&admin, "Retried Creates Ltd").await;

    retried_twice_then_reused(
        &app,
        &admin,
        &format!("/api/v1/leads/{lead}/contacts"),
        json!({"name": "Rita Retry", "email": "rita@retried.example"}),
        json!({"name": "Someone Else"}),
    )
    .await;
    let contacts = ok(app
        .get(&format!("/api/v1/leads/{lead}/contacts"), &admin)
        .await)
    .await;
    assert_eq!(contacts.as_array().unwrap().len(), 1, "{contacts}");

    retried_twice_then_reused(
        &app,
        &admin,
        &format!("/api/v1/leads/{lead}/notes"),
        json!({"text": "asked for a demo"}),
        json!({"text": "another note"}),
    )
    .await;
    let notes = ok(app
        .get(&format!("/api/v1/leads/{lead}/notes"), &admin)
        .await)
    .await;
    assert_eq!(notes["items"].as_array().unwrap().len(), 1, "{notes}");

    let hook = retried_twice_then_reused(
        &app,
        &admin,
        "/api/v1/webhooks",
        json!({"url": "http://127.0.0.1:9/retried", "topics": ["lead.created"]}),
        json!({"url": "http://127.0.0.1:9/other", "topics": ["lead.created"]}),
    )
    .await;
    assert!(hook["secret"].as_str().is_some_and(|s| !s.is_empty()));
    let hooks = ok(app.get("/api/v1/webhooks", &admin).await).await;
    assert_eq!(hooks.as_array().unwrap().len(), 1, "{hooks}");
}

#[tokio::test]
async fn a_retried_reminder_is_set_once_and_answers_the_same() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let due = (app.clock_now() + chrono::Duration::hours(2)).to_rfc3339();
    retried_twice_then_reused(
        &app,
        &admin,
        "/api/v1/reminders",
        json!({"text": "call Rita back", "due_at": due}),
        json!({"text": "something else", "due_at": due}),
    )
    .await;
    let reminders = app.all_items(&admin, "/api/v1/reminders").await;
    assert_eq!(reminders.len(), 1, "{reminders:?}");
}

#[tokio::test]
async fn a_retried_import_upload_makes_one_job_and_answers_the_same() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let upload = |csv: &'static str, key: &'static str| {
        app.request(
            Method::POST,
            "/api/v1/leads/import?policy=skip",
            Some(&admin),
        )
        .header("content-type", "text/csv")
        .header("Idempotency-Key", key)
        .body(csv)
        .send()
    };
    let csv = "company_name,website\nUpload Once GmbH,https://upload-once.example\n";
    let first = upload(csv, "import-1").await.unwrap();
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    assert!(!replayed(&first));
    let first: Value = first.json().await.unwrap();
    let again = upload(csv, "import-1").await.unwrap();
    assert_eq!(again.status(), StatusCode::ACCEPTED, "the kept status too");
    assert!(replayed(&again));
    let again: Value = again.json().await.unwrap();
    assert_eq!(again, first);

    let other = "company_name\nSomething Else AG\n";
    let (status, code, _) = error_of(upload(other, "import-1").await.unwrap()).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
    );
    let jobs = ok(app.get("/api/v1/leads/imports", &admin).await).await;
    assert_eq!(jobs["items"].as_array().unwrap().len(), 1, "{jobs}");
    // Only the first upload's file stays, for its job.
    let spooled = std::fs::read_dir(app.upload_dir())
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with(".import-"))
                .count()
        })
        .unwrap_or(0);
    assert!(spooled <= 1, "{spooled} spooled files");
}

/// Uploads `bytes` as `brief.txt` to `path` under `key`, checks whether the
/// answer is a replay, and returns its body.
async fn upload_with_key(
    app: &TestApp,
    token: &str,
    path: &str,
    key: &str,
    bytes: &[u8],
    replay: bool,
) -> Value {
    let response = app
        .upload(path, token, Some(key), &[], "brief.txt", bytes)
        .await;
    assert_eq!(replayed(&response), replay, "{path}");
    ok(response).await
}

#[tokio::test]
async fn a_retried_room_file_upload_shares_the_file_once_and_answers_the_same() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let room = app.create_room(&admin, "uploads").await;
    let path = format!("/api/v1/rooms/{room}/files");

    let first = upload_with_key(&app, &admin, &path, "up-1", b"the brief", false).await;
    let again = upload_with_key(&app, &admin, &path, "up-1", b"the brief", true).await;
    assert_eq!(
        again, first,
        "the retry gets the first answer, body and all"
    );
    let (status, code, message) = error_of(
        app.upload(
            &path,
            &admin,
            Some("up-1"),
            &[],
            "brief.txt",
            b"another brief",
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
    );
    assert!(message.contains("different request"), "{message}");

    let shared: Vec<Value> = app
        .room_history(&admin, &room)
        .await
        .into_iter()
        .filter(|m| m["file"].is_string())
        .collect();
    assert_eq!(shared.len(), 1, "one message with the file: {shared:?}");
    assert_eq!(shared[0]["file"], first["file"]["id"]);
}

#[tokio::test]
async fn a_retried_task_file_upload_attaches_the_file_once_and_answers_the_same() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let task = app.create_task(&admin, "Print run").await;
    let path = format!("/api/v1/tasks/{task}/files");

    let first = upload_with_key(&app, &admin, &path, "att-1", b"proof", false).await;
    let again = upload_with_key(&app, &admin, &path, "att-1", b"proof", true).await;
    assert_eq!(again, first);
    let (status, code, _) = error_of(
        app.upload(
            &path,
            &admin,
            Some("att-1"),
            &[],
            "brief.txt",
            b"other proof",
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
    );
    // Without a key each upload is its own.
    ok(app
        .upload(&path, &admin, None, &[], "brief.txt", b"proof")
        .await)
    .await;

    let files = app.all_items(&admin, &path).await;
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!(files[0]["id"], first["id"]);
}
