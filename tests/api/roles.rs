use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_of, TestApp};

#[tokio::test]
async fn seven_built_in_roles_exist_with_the_admin_holding_everything() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let roles: Value = app.get("/api/v1/roles", &admin).await.json().await.unwrap();
    let mut keys: Vec<&str> = roles
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "admin",
            "caller",
            "lead_generator",
            "manager",
            "marketing_manager",
            "production_manager",
            "user"
        ]
    );
    let catalogue: Value = app
        .get("/api/v1/permissions", &admin)
        .await
        .json()
        .await
        .unwrap();
    let admin_role = roles
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "admin")
        .unwrap();
    assert_eq!(
        admin_role["permissions"].as_array().unwrap().len(),
        catalogue.as_array().unwrap().len()
    );
    let caller = roles
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "caller")
        .unwrap();
    assert!(caller["permissions"]
        .as_array()
        .unwrap()
        .contains(&json!("calls.log")));
    assert!(!caller["permissions"]
        .as_array()
        .unwrap()
        .contains(&json!("leads.read.all")));
}

#[tokio::test]
async fn removing_a_permission_from_a_role_takes_effect_on_the_next_request() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, rep) = app.user_with_role(&admin, "rep", "user").await;
    assert_eq!(
        app.post("/api/v1/api-keys", &rep, json!({"name": "k1"}))
            .await
            .status(),
        StatusCode::OK
    );

    let role: Value = app
        .get("/api/v1/roles/user", &admin)
        .await
        .json()
        .await
        .unwrap();
    let without: Vec<Value> = role["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| *p != "api_keys.use")
        .cloned()
        .collect();
    let edited = app
        .patch(
            "/api/v1/roles/user",
            &admin,
            json!({"permissions": without}),
        )
        .await;
    assert_eq!(edited.status(), StatusCode::OK);

    assert_eq!(
        app.post("/api/v1/api-keys", &rep, json!({"name": "k2"}))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let matrix: Value = app
        .get("/api/v1/roles/matrix", &admin)
        .await
        .json()
        .await
        .unwrap();
    let row = matrix["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["role"] == "user")
        .unwrap();
    assert!(!row["permissions"]
        .as_array()
        .unwrap()
        .contains(&json!("api_keys.use")));
    assert!(matrix["permissions"].as_array().unwrap().len() >= 20);
}

#[tokio::test]
async fn custom_roles_can_be_created_given_and_deleted_when_unused() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let created = app
        .post("/api/v1/roles", &admin, json!({"key": "auditor", "name": "Auditor", "permissions": ["audit.read", "users.read"]}))
        .await;
    assert_eq!(created.status(), StatusCode::OK);
    let (id, token) = app.user_with_role(&admin, "ivy", "auditor").await;
    let me: Value = app
        .get("/api/v1/auth/me", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["permissions"], json!(["users.read", "audit.read"]));

    let (status, _, message) = error_of(app.delete("/api/v1/roles/auditor", &admin).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(message.contains("held by users"), "{message}");
    app.patch(
        &format!("/api/v1/users/{id}"),
        &admin,
        json!({"role": "user"}),
    )
    .await;
    assert_eq!(
        app.delete("/api/v1/roles/auditor", &admin).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get("/api/v1/roles/auditor", &admin).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn built_in_roles_cannot_be_deleted_and_admin_keeps_every_permission() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    assert_eq!(
        error_of(app.delete("/api/v1/roles/caller", &admin).await)
            .await
            .0,
        StatusCode::CONFLICT
    );
    let (status, _, message) = error_of(
        app.patch("/api/v1/roles/admin", &admin, json!({"permissions": []}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(message.contains("every permission"));
    for (body, status) in [
        (
            json!({"key": "Bad Key", "name": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"key": "ok_key", "name": ""}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"key": "ok_key", "name": "X", "permissions": ["nope"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"key": "manager", "name": "Another"}),
            StatusCode::CONFLICT,
        ),
    ] {
        assert_eq!(
            error_of(app.post("/api/v1/roles", &admin, body.clone()).await)
                .await
                .0,
            status,
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_database_made_before_gives_callers_lead_rights_once_migrated() {
    let app = TestApp::spawn().await;
    let store = &app.ctx().store;
    // The Caller role as databases made before held it.
    store
        .run(
            "UPDATE role:caller SET permissions = ['leads.read.own', 'calls.log', 'tasks.read', 'chat.use', 'users.read']",
            json!({}),
        )
        .await
        .unwrap();
    store
        .run(
            include_str!("../../src/store/migrations/0018_caller_lead_rights.surql"),
            json!({}),
        )
        .await
        .unwrap();
    let role: Value = store
        .run("SELECT permissions FROM ONLY role:caller", json!({}))
        .await
        .unwrap()
        .first(0)
        .unwrap()
        .unwrap();
    let permissions: Vec<String> = serde_json::from_value(role["permissions"].clone()).unwrap();
    assert!(
        permissions.contains(&"leads.write".to_string()),
        "{permissions:?}"
    );
    assert!(
        permissions.contains(&"calls.log".to_string()),
        "kept: {permissions:?}"
    );
}
