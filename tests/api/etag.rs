//! `ETag` and `If-Match` on a lead: an edit made conditional on the
//! version the client read is refused with 412 once someone else changed
//! the lead, and changes nothing.

use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{error_of, ok, TestApp};

fn etag_of(response: &Response) -> String {
    response
        .headers()
        .get("etag")
        .expect("an ETag header")
        .to_str()
        .unwrap()
        .to_string()
}

async fn read(app: &TestApp, token: &str, lead: &str) -> (String, Value) {
    let response = app.get(&format!("/api/v1/leads/{lead}"), token).await;
    let etag = etag_of(&response);
    (etag, ok(response).await)
}

async fn patch_if_match(
    app: &TestApp,
    token: &str,
    lead: &str,
    if_match: &str,
    body: Value,
) -> Response {
    app.request(Method::PATCH, &format!("/api/v1/leads/{lead}"), Some(token))
        .header("If-Match", if_match)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_lead_answers_with_a_strong_etag() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let lead = app.create_lead(&admin, "Tagged GmbH").await;

    let (etag, _) = read(&app, &admin, &lead).await;
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert!(!etag.starts_with("W/"), "{etag}");
    let (again, _) = read(&app, &admin, &lead).await;
    assert_eq!(etag, again, "an unchanged lead keeps its ETag");
}

#[tokio::test]
async fn an_edit_with_the_current_etag_lands_and_answers_the_new_one() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let lead = app.create_lead(&admin, "Current AG").await;
    let (etag, _) = read(&app, &admin, &lead).await;

    let response = patch_if_match(&app, &admin, &lead, &etag, json!({"industry": "Print"})).await;
    let new_etag = etag_of(&response);
    assert_eq!(ok(response).await["industry"], "Print");

    assert_ne!(new_etag, etag);
    let (read_back, detail) = read(&app, &admin, &lead).await;
    assert_eq!(
        read_back, new_etag,
        "the edit's ETag is the lead's as read back"
    );
    assert_eq!(detail["lead"]["industry"], "Print");
}

#[tokio::test]
async fn an_edit_with_a_stale_etag_is_refused_with_412_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    // The background scorer would otherwise store the lead's score at a
    // moment of its own, between the two reads compared below.
    app.switch_feature(&admin, "lead_scoring", false).await;
    let lead = app.create_lead(&admin, "Stale Ltd").await;
    let (stale, _) = read(&app, &admin, &lead).await;
    // Someone else changes the lead meanwhile.
    ok(app
        .patch(
            &format!("/api/v1/leads/{lead}"),
            &admin,
            json!({"industry": "Retail"}),
        )
        .await)
    .await;
    let (current, before) = read(&app, &admin, &lead).await;

    let response = patch_if_match(&app, &admin, &lead, &stale, json!({"industry": "Print"})).await;
    let (status, code, message) = error_of(response).await;

    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(code, "precondition_failed");
    assert!(message.contains("If-Match"), "{message}");
    let (after_etag, after) = read(&app, &admin, &lead).await;
    assert_eq!(after, before, "nothing changed");
    assert_eq!(after_etag, current);
}

#[tokio::test]
async fn a_change_made_elsewhere_makes_the_etag_stale() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let lead = app.create_lead(&admin, "Followed Oy").await;
    let (etag, _) = read(&app, &admin, &lead).await;
    ok(app
        .put_json(
            &format!("/api/v1/leads/{lead}/follow-ups/1"),
            &admin,
            json!({"outcome": "done"}),
        )
        .await)
    .await;

    let response = patch_if_match(&app, &admin, &lead, &etag, json!({"industry": "Print"})).await;
    assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
}

#[tokio::test]
async fn if_match_takes_a_list_star_or_nothing_and_never_a_weak_tag() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let lead = app.create_lead(&admin, "Lists BV").await;

    let (etag, _) = read(&app, &admin, &lead).await;
    let weak = format!("W/{etag}");
    let response = patch_if_match(&app, &admin, &lead, &weak, json!({"industry": "A"})).await;
    assert_eq!(
        response.status(),
        StatusCode::PRECONDITION_FAILED,
        "weak tags never match"
    );

    let list = format!("\"old\", {etag}");
    let response = patch_if_match(&app, &admin, &lead, &list, json!({"industry": "B"})).await;
    assert_eq!(ok(response).await["industry"], "B");

    let response = patch_if_match(&app, &admin, &lead, "*", json!({"industry": "C"})).await;
    assert_eq!(ok(response).await["industry"], "C");

    // An empty header sets no condition.
    let response = patch_if_match(&app, &admin, &lead, "", json!({"industry": "D"})).await;
    assert_eq!(ok(response).await["industry"], "D");
}

#[tokio::test]
async fn an_edit_without_if_match_works_as_before_and_answers_an_etag() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let lead = app.create_lead(&admin, "Plain SA").await;

    let response = app
        .patch(
            &format!("/api/v1/leads/{lead}"),
            &admin,
            json!({"industry": "Food"}),
        )
        .await;
    let etag = etag_of(&response);
    assert_eq!(ok(response).await["industry"], "Food");
    assert_eq!(read(&app, &admin, &lead).await.0, etag);
}

#[tokio::test]
async fn the_openapi_document_shows_etag_and_412_on_the_lead() {
    let app = TestApp::spawn().await;
    let spec = app.openapi().await;
    let get = &spec["paths"]["/leads/{id}"]["get"];
    let patch = &spec["paths"]["/leads/{id}"]["patch"];
    assert!(get["responses"]["200"]["headers"]["ETag"].is_object());
    assert!(patch["responses"]["200"]["headers"]["ETag"].is_object());
    assert!(patch["responses"]["412"].is_object(), "PATCH documents 412");
    assert!(get["responses"]["412"].is_null(), "GET cannot answer 412");
    let takes_if_match = patch["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "If-Match" && p["in"] == "header");
    assert!(takes_if_match);
    let codes = &spec["components"]["schemas"]["ErrorCode"]["enum"];
    assert!(codes
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "precondition_failed"));
}
