use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_of, TestApp, USER_PASSWORD};

#[tokio::test]
async fn the_last_active_admin_cannot_be_demoted_deactivated_or_deleted() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let me: Value = app
        .get("/api/v1/auth/me", &admin)
        .await
        .json()
        .await
        .unwrap();
    let admin_id = me["user"]["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/users/{admin_id}");

    for (what, response) in [
        (
            "demote",
            app.patch(&path, &admin, json!({"role": "manager"})).await,
        ),
        (
            "deactivate",
            app.post(&format!("{path}/deactivate"), &admin, json!({}))
                .await,
        ),
        (
            "patch inactive",
            app.patch(&path, &admin, json!({"active": false})).await,
        ),
        ("delete", app.delete(&path, &admin).await),
    ] {
        let (status, code, message) = error_of(response).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::CONFLICT, "conflict"),
            "{what}"
        );
        assert!(message.contains("last active admin"), "{message}");
    }
    let still: Value = app.get(&path, &admin).await.json().await.unwrap();
    assert_eq!(
        (still["role"].as_str(), still["active"].as_bool()),
        (Some("admin"), Some(true))
    );

    // With a second admin, the first may step down.
    app.user_with_role(&admin, "second_admin", "admin").await;
    assert_eq!(
        app.patch(&path, &admin, json!({"role": "manager"}))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_inactive_admin_does_not_count_as_the_remaining_admin() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (second, _) = app.user_with_role(&admin, "second_admin", "admin").await;
    assert_eq!(
        app.post(
            &format!("/api/v1/users/{second}/deactivate"),
            &admin,
            json!({})
        )
        .await
        .status(),
        StatusCode::OK
    );
    let me: Value = app
        .get("/api/v1/auth/me", &admin)
        .await
        .json()
        .await
        .unwrap();
    let id = me["user"]["id"].as_str().unwrap();
    let response = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &admin,
            json!({"role": "user"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn usernames_and_emails_are_unique_and_validated() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    app.user_with_role(&admin, "carol", "user").await;
    let dup_name = app
        .post("/api/v1/users", &admin, json!({"username": "Carol", "email": "other@example.com", "password": USER_PASSWORD, "role": "user"}))
        .await;
    let (status, code, message) = error_of(dup_name).await;
    assert_eq!((status, code.as_str()), (StatusCode::CONFLICT, "conflict"));
    assert!(message.contains("username"), "{message}");
    let dup_email = app
        .post("/api/v1/users", &admin, json!({"username": "carol2", "email": "CAROL@example.com", "password": USER_PASSWORD, "role": "user"}))
        .await;
    let (status, _, message) = error_of(dup_email).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(message.contains("email"), "{message}");

    for (body, field) in [
        (
            json!({"username": "x", "email": "x@example.com", "password": USER_PASSWORD, "role": "user"}),
            "username",
        ),
        (
            json!({"username": "dave", "email": "not-an-email", "password": USER_PASSWORD, "role": "user"}),
            "email",
        ),
        (
            json!({"username": "dave", "email": "dave@example.com", "password": "short", "role": "user"}),
            "password",
        ),
        (
            json!({"username": "dave", "email": "dave@example.com", "password": USER_PASSWORD, "role": "pilot"}),
            "role",
        ),
        (
            json!({"username": "dave", "email": "dave@example.com", "password": USER_PASSWORD, "role": "user", "timezone": "Mars/Base"}),
            "timezone",
        ),
        (
            json!({"username": "dave", "email": "dave@example.com", "password": USER_PASSWORD, "role": "user", "extra_permissions": ["fly"]}),
            "extra_permissions",
        ),
    ] {
        let (status, code, message) = error_of(app.post("/api/v1/users", &admin, body).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            "{field}"
        );
        assert!(message.starts_with(field), "{field}: {message}");
    }
}

#[tokio::test]
async fn a_deactivated_user_is_signed_out_and_cannot_sign_in() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (id, token) = app.user_with_role(&admin, "erin", "user").await;
    let after: Value = app
        .post(&format!("/api/v1/users/{id}/deactivate"), &admin, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["active"], false);
    assert_eq!(
        app.get("/api/v1/auth/me", &token).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login_response("erin", USER_PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.patch(
        &format!("/api/v1/users/{id}"),
        &admin,
        json!({"active": true}),
    )
    .await;
    app.login("erin", USER_PASSWORD).await;
}

#[tokio::test]
async fn extra_permissions_add_to_the_role() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (id, token) = app.user_with_role(&admin, "frank", "caller").await;
    assert_eq!(
        app.post("/api/v1/api-keys", &token, json!({"name": "k"}))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    app.patch(
        &format!("/api/v1/users/{id}"),
        &admin,
        json!({"extra_permissions": ["api_keys.use"]}),
    )
    .await;
    assert_eq!(
        app.post("/api/v1/api-keys", &token, json!({"name": "k"}))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn users_are_listed_a_page_at_a_time_with_a_cursor() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    for name in ["user_a", "user_b", "user_c", "user_d"] {
        app.post(
            "/api/v1/users",
            &admin,
            json!({"username": name, "email": format!("{name}@example.com"), "password": USER_PASSWORD, "role": "user"}),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/users?limit=2&after={c}"),
            None => "/api/v1/users?limit=2".to_string(),
        };
        let page: Value = app.get(&path, &admin).await.json().await.unwrap();
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["username"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(seen.len() < 20, "pagination terminates");
    }
    assert_eq!(seen, ["admin", "user_a", "user_b", "user_c", "user_d"]);
}

#[tokio::test]
async fn a_deleted_user_is_gone_with_their_sessions_and_the_change_is_audited() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (id, token) = app.user_with_role(&admin, "gina", "user").await;
    app.patch(
        &format!("/api/v1/users/{id}"),
        &admin,
        json!({"display_name": "Gina G", "role": "manager"}),
    )
    .await;
    assert_eq!(
        app.delete(&format!("/api/v1/users/{id}"), &admin)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get(&format!("/api/v1/users/{id}"), &admin)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/v1/auth/me", &token).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let rows = app
        .ctx()
        .store
        .run(
            "SELECT action, field, old, new, actor_name, channel, at FROM audit WHERE entity = 'user' AND entity_id = $id ORDER BY at",
            json!({"id": id}),
        )
        .await
        .unwrap()
        .rows::<Value>(0)
        .unwrap();
    let summary: Vec<(String, Option<String>)> = rows
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_string(),
                r["field"].as_str().map(str::to_string),
            )
        })
        .collect();
    assert!(
        summary.contains(&("create".into(), Some("username".into()))),
        "{summary:?}"
    );
    assert!(summary.contains(&("login".into(), None)), "{summary:?}");
    assert!(
        summary.contains(&("update".into(), Some("role".into()))),
        "{summary:?}"
    );
    assert!(
        summary.contains(&("update".into(), Some("display_name".into()))),
        "{summary:?}"
    );
    assert!(
        summary.contains(&("delete".into(), Some("username".into()))),
        "{summary:?}"
    );
    let role_change = rows
        .iter()
        .find(|r| r["field"] == "role" && r["action"] == "update")
        .unwrap();
    assert_eq!(
        (role_change["old"].as_str(), role_change["new"].as_str()),
        (Some("\"user\""), Some("\"manager\""))
    );
    assert_eq!(role_change["actor_name"], "admin");
    assert_eq!(role_change["channel"], "api");
}

#[tokio::test]
async fn a_user_manager_grants_only_what_they_hold_and_never_manages_an_admin() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let me: Value = app
        .get("/api/v1/auth/me", &admin)
        .await
        .json()
        .await
        .unwrap();
    let admin_id = me["user"]["id"].as_str().unwrap().to_string();
    let (hr_id, _) = app.user_with_role(&admin, "hrlead", "manager").await;
    let granted = app
        .patch(
            &format!("/api/v1/users/{hr_id}"),
            &admin,
            json!({"extra_permissions": ["leads.read.own", "users.manage", "roles.manage"]}),
        )
        .await;
    assert_eq!(granted.status(), StatusCode::OK);
    let hr = app.login("hrlead", USER_PASSWORD).await;
    let new_user = |name: &str, role: &str, extra: Value| {
        json!({"username": name, "email": format!("{name}@example.com"),
               "password": USER_PASSWORD, "role": role, "extra_permissions": extra})
    };
    let forbidden = |response: reqwest::Response| async move {
        let (status, code, message) = error_of(response).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{message}"
        );
        message
    };

    // What the manager holds can be given.
    let made = app
        .post("/api/v1/users", &hr, new_user("cal", "caller", json!([])))
        .await;
    assert_eq!(made.status(), StatusCode::OK);
    let cal_id = made.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // The admin role, and permissions the manager lacks, cannot.
    let message = forbidden(
        app.post("/api/v1/users", &hr, new_user("boss", "admin", json!([])))
            .await,
    )
    .await;
    assert!(message.contains("admin"), "{message}");
    let message = forbidden(
        app.post(
            "/api/v1/users",
            &hr,
            new_user("ops", "caller", json!(["settings.manage"])),
        )
        .await,
    )
    .await;
    assert!(message.contains("settings.manage"), "{message}");
    for patch in [
        json!({"role": "admin"}),
        json!({"extra_permissions": ["bots.manage"]}),
    ] {
        forbidden(
            app.patch(&format!("/api/v1/users/{cal_id}"), &hr, patch)
                .await,
        )
        .await;
    }
    forbidden(
        app.patch(
            &format!("/api/v1/users/{hr_id}"),
            &hr,
            json!({"extra_permissions": ["users.manage", "roles.manage", "settings.manage"]}),
        )
        .await,
    )
    .await;

    // An admin's password, account and role are out of reach.
    forbidden(
        app.patch(
            &format!("/api/v1/users/{admin_id}"),
            &hr,
            json!({"password": "a-new-password-for-the-admin"}),
        )
        .await,
    )
    .await;
    forbidden(
        app.post(
            &format!("/api/v1/users/{admin_id}/deactivate"),
            &hr,
            json!({}),
        )
        .await,
    )
    .await;
    forbidden(app.delete(&format!("/api/v1/users/{admin_id}"), &hr).await).await;
    app.login("admin", crate::helpers::ADMIN_PASSWORD).await;

    // Roles gain only what the manager holds.
    let role = |key: &str, permissions: Value| json!({"key": key, "name": key, "description": "", "permissions": permissions});
    let made = app
        .post("/api/v1/roles", &hr, role("dialer", json!(["calls.log"])))
        .await;
    assert_eq!(made.status(), StatusCode::OK);
    forbidden(
        app.post(
            "/api/v1/roles",
            &hr,
            role("keys", json!(["settings.manage"])),
        )
        .await,
    )
    .await;
    forbidden(
        app.patch(
            "/api/v1/roles/dialer",
            &hr,
            json!({"permissions": ["calls.log", "bots.manage"]}),
        )
        .await,
    )
    .await;
}

#[tokio::test]
async fn common_passwords_are_refused_for_new_users_password_changes_and_resets() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (ann, ann_token) = app.user_with_role(&admin, "ann", "user").await;
    let refused = |response: reqwest::Response| async move {
        let (status, code, message) = error_of(response).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{message}");
        assert_eq!(code, "invalid");
        assert!(message.contains("common"), "{message}");
    };

    refused(
        app.post(
            "/api/v1/users",
            &admin,
            json!({"username": "bob", "email": "bob@example.com",
                   "password": "Password123", "role": "user"}),
        )
        .await,
    )
    .await;
    refused(
        app.post(
            "/api/v1/auth/password",
            &ann_token,
            json!({"current_password": USER_PASSWORD,
                   "new_password": "QWERTYUIOP"}),
        )
        .await,
    )
    .await;
    refused(
        app.patch(
            &format!("/api/v1/users/{ann}"),
            &admin,
            json!({"password": "1q2w3e4r5t"}),
        )
        .await,
    )
    .await;
    let operator_reset =
        ea_crm::domain::users::reset_password(app.ctx(), "ann", Some("iloveyou123".into())).await;
    assert!(
        matches!(
            operator_reset,
            Err(ea_crm::domain::error::DomainError::Invalid { .. })
        ),
        "{operator_reset:?}"
    );

    app.login("ann", USER_PASSWORD).await;
}

#[tokio::test]
async fn the_users_list_shows_when_each_last_signed_in() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let response = app
        .post(
            "/api/v1/users",
            &admin,
            json!({"username": "nia", "email": "nia@example.com", "password": USER_PASSWORD, "role": "user"}),
        )
        .await;
    let created = crate::helpers::ok(response).await;
    assert!(
        created.get("last_login_at").is_none(),
        "never signed in: {created}"
    );
    let id = created["id"].as_str().unwrap().to_string();

    app.clock.advance(chrono::Duration::minutes(5));
    let signed_in_at = app.clock_now();
    app.login("nia", USER_PASSWORD).await;
    // A wrong password is not a sign-in.
    app.clock.advance(chrono::Duration::minutes(5));
    app.login_response("nia", "wrong-password-here").await;

    let page = crate::helpers::ok(app.get("/api/v1/users?limit=200", &admin).await).await;
    let nia = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == json!(id))
        .expect("nia listed")
        .clone();
    let at: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(nia["last_login_at"].clone()).unwrap();
    assert_eq!(at.timestamp(), signed_in_at.timestamp(), "{nia}");
    assert_eq!(
        nia["updated_at"], created["updated_at"],
        "a sign-in is not an edit"
    );
}
