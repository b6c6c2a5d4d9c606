use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_of, TestApp};

#[tokio::test]
async fn an_api_key_is_shown_once_works_as_a_bearer_and_records_its_last_use() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let created: Value = app
        .post("/api/v1/api-keys", &admin, json!({"name": "zapier"}))
        .await
        .json()
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("eak_"));
    let id = created["api_key"]["id"].as_str().unwrap().to_string();
    assert!(created["api_key"]["last_used_at"].is_null());

    let listed = app
        .get("/api/v1/api-keys", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(listed.contains(&id));
    assert!(!listed.contains(&key), "the full key is never shown again");

    let me: Value = app.get("/api/v1/auth/me", &key).await.json().await.unwrap();
    assert_eq!(me["user"]["username"], "admin");
    let listed: Value = app
        .get("/api/v1/api-keys", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        listed["items"][0]["last_used_at"].is_string(),
        "last use recorded: {listed}"
    );
}

#[tokio::test]
async fn a_scoped_key_holds_only_the_permissions_it_names() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let created: Value = app
        .post(
            "/api/v1/api-keys",
            &admin,
            json!({"name": "read-only", "permissions": ["users.read"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap();
    assert_eq!(app.get("/api/v1/users", key).await.status(), StatusCode::OK);
    let me: Value = app.get("/api/v1/auth/me", key).await.json().await.unwrap();
    assert_eq!(me["permissions"], json!(["users.read"]));
    let refused = app
        .post("/api/v1/users", key, json!({"username": "eve", "email": "eve@example.com", "password": "password-123456", "role": "user"}))
        .await;
    let (status, code, message) = error_of(refused).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    assert!(message.contains("users.manage"));
}

#[tokio::test]
async fn a_key_cannot_exceed_its_owner_nor_mint_other_keys() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, rep) = app.user_with_role(&admin, "rep", "user").await;
    let (status, code, _) = error_of(
        app.post(
            "/api/v1/api-keys",
            &rep,
            json!({"name": "grab", "permissions": ["users.manage"]}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
    );
    let unknown = app
        .post(
            "/api/v1/api-keys",
            &rep,
            json!({"name": "x", "permissions": ["leads.fly"]}),
        )
        .await;
    assert_eq!(error_of(unknown).await.0, StatusCode::UNPROCESSABLE_ENTITY);

    let created: Value = app
        .post("/api/v1/api-keys", &rep, json!({"name": "mine"}))
        .await
        .json()
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap();
    let minted = app
        .post("/api/v1/api-keys", key, json!({"name": "child"}))
        .await;
    assert_eq!(error_of(minted).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_revoked_or_expired_key_stops_working() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let expires = (Utc::now() + Duration::hours(1)).to_rfc3339();
    let created: Value = app
        .post(
            "/api/v1/api-keys",
            &admin,
            json!({"name": "short-lived", "expires_at": expires}),
        )
        .await
        .json()
        .await
        .unwrap();
    let expiring = created["key"].as_str().unwrap().to_string();
    let created: Value = app
        .post("/api/v1/api-keys", &admin, json!({"name": "to-revoke"}))
        .await
        .json()
        .await
        .unwrap();
    let revoked = created["key"].as_str().unwrap().to_string();
    let revoked_id = created["api_key"]["id"].as_str().unwrap().to_string();

    assert_eq!(
        app.get("/api/v1/auth/me", &revoked).await.status(),
        StatusCode::OK
    );
    let after: Value = app
        .delete(&format!("/api/v1/api-keys/{revoked_id}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert!(after["revoked_at"].is_string());
    assert_eq!(
        app.get("/api/v1/auth/me", &revoked).await.status(),
        StatusCode::UNAUTHORIZED
    );

    assert_eq!(
        app.get("/api/v1/auth/me", &expiring).await.status(),
        StatusCode::OK
    );
    app.clock.advance(Duration::hours(2));
    assert_eq!(
        app.get("/api/v1/auth/me", &expiring).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let past = (Utc::now() - Duration::hours(1)).to_rfc3339();
    let refused = app
        .post(
            "/api/v1/api-keys",
            &admin,
            json!({"name": "already-dead", "expires_at": past}),
        )
        .await;
    assert_eq!(error_of(refused).await.0, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn users_cannot_revoke_each_others_keys() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, alice) = app.user_with_role(&admin, "alice", "manager").await;
    let (_, bob) = app.user_with_role(&admin, "bob", "manager").await;
    let created: Value = app
        .post("/api/v1/api-keys", &alice, json!({"name": "alice-key"}))
        .await
        .json()
        .await
        .unwrap();
    let id = created["api_key"]["id"].as_str().unwrap();
    assert_eq!(
        app.delete(&format!("/api/v1/api-keys/{id}"), &bob)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let bobs: Value = app
        .get("/api/v1/api-keys", &bob)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bobs, json!({"items": []}), "bob sees only his own keys");
    assert_eq!(
        app.delete(&format!("/api/v1/api-keys/{id}"), &admin)
            .await
            .status(),
        StatusCode::OK,
        "an admin may"
    );
}

#[tokio::test]
async fn a_narrowed_key_cannot_mint_a_chat_link_code_but_a_login_session_can() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let narrowed = app.api_key(&admin, &["leads.read.all"]).await;
    let whole = app.api_key(&admin, &[]).await;

    for key in [&narrowed, &whole] {
        let (status, code, message) =
            error_of(app.post("/api/v1/me/link-code", key, json!({})).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::FORBIDDEN, "forbidden")
        );
        assert!(message.contains("session"), "{message}");
    }

    let minted = app.post("/api/v1/me/link-code", &admin, json!({})).await;
    assert_eq!(minted.status(), StatusCode::OK);
    let code: Value = minted.json().await.unwrap();
    assert_eq!(code["code"].as_str().map(str::len), Some(8));
}
