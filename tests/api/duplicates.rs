//! Duplicates at entry: a new lead that shares a website domain, a company
//! name or a contact's email or phone with a lead its creator can see is
//! refused with `409 duplicate` naming the candidates, unless the creator
//! says `allow_duplicate`; the same candidates are offered while someone
//! types (`GET /leads/duplicates`).

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_of, ok, TestApp};

async fn lead_count(app: &TestApp, token: &str) -> u64 {
    ok(app.get("/api/v1/leads/count", token).await).await["count"]
        .as_u64()
        .unwrap()
}

/// Creates a lead from `body`; its id.
async fn app_created(app: &TestApp, token: &str, body: Value) -> String {
    ok(app.post("/api/v1/leads", token, body).await).await["lead"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_lead_with_a_known_website_is_refused_naming_the_stored_one_until_allowed() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let acme = app_created(
        &app,
        &admin,
        json!({"company_name": "Acme Corp", "website": "https://acme.com"}),
    )
    .await;

    let response = app
        .post(
            "/api/v1/leads",
            &admin,
            json!({"company_name": "Roadrunner Supplies", "website": "www.ACME.com/contact"}),
        )
        .await;
    let body: Value = {
        assert_eq!(response.status(), StatusCode::CONFLICT);
        response.json().await.unwrap()
    };
    assert_eq!(body["error"]["code"], "duplicate", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("Acme Corp"), "{message}");
    let candidates = body["error"]["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 1, "{body}");
    assert_eq!(candidates[0]["id"], json!(acme));
    assert_eq!(candidates[0]["company_name"], "Acme Corp");
    assert_eq!(candidates[0]["domain"], "acme.com");
    assert!(candidates[0]["confidence"].as_f64().unwrap() >= 0.9);
    assert!(
        candidates[0]["signals"][0]
            .as_str()
            .unwrap()
            .contains("acme.com"),
        "{body}"
    );
    assert_eq!(lead_count(&app, &admin).await, 1, "nothing was created");

    // Said on purpose, it is created.
    app_created(
        &app,
        &admin,
        json!({"company_name": "Roadrunner Supplies", "website": "acme.com",
               "allow_duplicate": true}),
    )
    .await;
    assert_eq!(lead_count(&app, &admin).await, 2);
}

#[tokio::test]
async fn the_same_company_name_or_a_contacts_email_or_phone_is_a_duplicate_too() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let acme = app_created(
        &app,
        &admin,
        json!({"company_name": "ACME, Inc.", "country": "US",
               "contacts": [{"name": "Jane Doe", "email": "jane@acme.example",
                             "phone": "+1 415 555 2671"}]}),
    )
    .await;

    for body in [
        json!({"company_name": "Acme"}),
        json!({"company_name": "Wile E. Enterprises",
               "contacts": [{"name": "J. Doe", "email": "JANE@acme.example"}]}),
        json!({"company_name": "Coyote Labs", "country": "US",
               "contacts": [{"name": "Jane", "phone": "(415) 555-2671"}]}),
    ] {
        let response = app.post("/api/v1/leads", &admin, body.clone()).await;
        assert_eq!(response.status(), StatusCode::CONFLICT, "{body}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["error"]["code"], "duplicate");
        assert_eq!(
            answer["error"]["candidates"][0]["id"],
            json!(acme),
            "{body}: {answer}"
        );
    }
    // Nothing in common: created at once.
    app_created(&app, &admin, json!({"company_name": "Globex"})).await;
    assert_eq!(lead_count(&app, &admin).await, 2);
}

#[tokio::test]
async fn a_form_is_shown_the_candidates_while_someone_types() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let acme = app_created(
        &app,
        &admin,
        json!({"company_name": "Acme Corp", "website": "acme.com",
               "contacts": [{"name": "Jane", "email": "jane@acme.example"}]}),
    )
    .await;

    let found = ok(app
        .get(
            "/api/v1/leads/duplicates?company_name=acme%20corporation",
            &admin,
        )
        .await)
    .await;
    assert_eq!(found["items"][0]["id"], json!(acme), "{found}");
    let found = ok(app
        .get("/api/v1/leads/duplicates?email=jane@acme.example", &admin)
        .await)
    .await;
    assert_eq!(found["items"][0]["id"], json!(acme), "{found}");
    // Half-typed values are no evidence and no error.
    for partial in [
        "website=acm",
        "email=jane@",
        "phone=%2B1%204",
        "company_name=",
        "",
    ] {
        let found = ok(app
            .get(&format!("/api/v1/leads/duplicates?{partial}"), &admin)
            .await)
        .await;
        assert_eq!(found["items"], json!([]), "{partial}: {found}");
    }
}

#[tokio::test]
async fn a_lead_the_creator_cannot_see_is_not_named_and_does_not_block() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, maria) = app.user_with_role(&admin, "maria", "user").await;
    let (_, tom) = app.user_with_role(&admin, "tom", "user").await;
    app_created(
        &app,
        &maria,
        json!({"company_name": "Initech", "website": "initech.example"}),
    )
    .await;

    let found = ok(app
        .get("/api/v1/leads/duplicates?website=initech.example", &tom)
        .await)
    .await;
    assert_eq!(found["items"], json!([]), "{found}");
    app_created(
        &app,
        &tom,
        json!({"company_name": "Initech", "website": "initech.example"}),
    )
    .await;
    // Maria sees her own lead as a candidate.
    let response = app
        .post(
            "/api/v1/leads",
            &maria,
            json!({"company_name": "Initech Ltd"}),
        )
        .await;
    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (StatusCode::CONFLICT, "duplicate"));
}

#[tokio::test]
async fn with_smart_dedup_switched_off_nothing_is_checked() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    app_created(&app, &admin, json!({"company_name": "Umbrella"})).await;
    ok(app
        .put_json("/api/v1/features/dedup", &admin, json!({"enabled": false}))
        .await)
    .await;
    app_created(&app, &admin, json!({"company_name": "Umbrella"})).await;
    let found = ok(app
        .get("/api/v1/leads/duplicates?company_name=umbrella", &admin)
        .await)
    .await;
    assert_eq!(found["items"], json!([]));
}

#[tokio::test]
async fn a_trashed_lead_is_no_duplicate() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let old = app.create_lead(&admin, "Soylent").await;
    assert!(app
        .delete(&format!("/api/v1/leads/{old}"), &admin)
        .await
        .status()
        .is_success());
    app.create_lead(&admin, "Soylent").await;
}
