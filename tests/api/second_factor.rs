//! Two-factor sign-in: setting up an authenticator app, signing in with its
//! codes or a recovery code, roles that require it, and an admin's reset.
//! Codes are computed here from the shared secret, as an app would.

#[path = "../common/totp.rs"]
mod totp;

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_of, TestApp, USER_PASSWORD};

/// The code an authenticator app shows for `secret` now, by the app's
/// clock.
fn app_code(app: &TestApp, secret: &str) -> String {
    totp::app_code(secret, app.clock_now().timestamp())
}

async fn sign_in(app: &TestApp, username: &str, code: Option<&str>) -> reqwest::Response {
    let mut body = json!({"username": username, "password": USER_PASSWORD});
    if let Some(code) = code {
        body["code"] = json!(code);
    }
    app.client
        .post(app.url("/api/v1/auth/login"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn token_of(response: reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::OK, "sign-in");
    let body: Value = response.json().await.unwrap();
    body["token"].as_str().unwrap().to_string()
}

async fn json_of(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Sets up a factor for the user behind `token`; returns the secret and
/// the recovery codes. Moves the clock to the next step, so the code used
/// here is not the one the caller uses next.
async fn set_up(app: &TestApp, token: &str) -> (String, Vec<String>) {
    let setup = json_of(app.post("/api/v1/auth/2fa/setup", token, json!({})).await).await;
    let secret = setup["secret"].as_str().unwrap().to_string();
    let confirmed = json_of(
        app.post(
            "/api/v1/auth/2fa/confirm",
            token,
            json!({"code": app_code(app, &secret)}),
        )
        .await,
    )
    .await;
    let codes = confirmed["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    app.clock.advance(Duration::seconds(30));
    (secret, codes)
}

#[tokio::test]
async fn a_user_with_an_authenticator_app_signs_in_only_with_its_code() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, token) = app.user_with_role(&admin, "maria", "user").await;
    let other_session = app.login("maria", USER_PASSWORD).await;

    let status = json_of(app.get("/api/v1/auth/2fa", &token).await).await;
    assert_eq!(status["enabled"], false);
    let setup = json_of(app.post("/api/v1/auth/2fa/setup", &token, json!({})).await).await;
    let secret = setup["secret"].as_str().unwrap().to_string();
    let uri = setup["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/EA%20CRM%3Amaria?"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");

    // A wrong code leaves the factor off.
    let wrong = app
        .post(
            "/api/v1/auth/2fa/confirm",
            &token,
            json!({"code": "000000"}),
        )
        .await;
    let (status, code, _) = error_of(wrong).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
    );
    assert!(token_of(sign_in(&app, "maria", None).await).await.len() > 10);

    let (_, recovery) = {
        let confirmed = json_of(
            app.post(
                "/api/v1/auth/2fa/confirm",
                &token,
                json!({"code": app_code(&app, &secret)}),
            )
            .await,
        )
        .await;
        (
            (),
            confirmed["recovery_codes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(recovery.len(), 10);

    // This session stays; the ones opened with the password alone end.
    let me = json_of(app.get("/api/v1/auth/me", &token).await).await;
    assert_eq!(me["second_factor"]["enabled"], true);
    assert_eq!(me["second_factor"]["recovery_codes_left"], 10);
    assert_eq!(
        app.get("/api/v1/auth/me", &other_session).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // The password alone is not enough any more.
    let (status, code, message) = error_of(sign_in(&app, "maria", None).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "second_factor_required")
    );
    assert!(message.contains("code"), "{message}");
    let (status, code, _) = error_of(sign_in(&app, "maria", Some("123456")).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "bad_credentials")
    );

    // The code that confirmed the setup was spent; the next one signs in,
    // once.
    let spent = app_code(&app, &secret);
    assert_eq!(
        sign_in(&app, "maria", Some(&spent)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.clock.advance(Duration::seconds(30));
    let fresh = app_code(&app, &secret);
    let session = token_of(sign_in(&app, "maria", Some(&fresh)).await).await;
    assert_eq!(
        sign_in(&app, "maria", Some(&fresh)).await.status(),
        StatusCode::UNAUTHORIZED,
        "a code is good once"
    );
    // A session that passed the factor may mint what acts for the user.
    assert_eq!(
        app.post("/api/v1/api-keys", &session, json!({"name": "laptop"}))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.post("/api/v1/me/link-code", &session, json!({}))
            .await
            .status(),
        StatusCode::OK
    );

    // A recovery code works however it is typed, and only once.
    let typed = recovery[0].replace('-', "").to_uppercase();
    token_of(sign_in(&app, "maria", Some(&typed)).await).await;
    assert_eq!(
        sign_in(&app, "maria", Some(&recovery[0])).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let me = json_of(app.get("/api/v1/auth/me", &session).await).await;
    assert_eq!(me["second_factor"]["recovery_codes_left"], 9);
}

#[tokio::test]
async fn wrong_codes_count_as_failed_sign_ins() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, token) = app.user_with_role(&admin, "guesser", "user").await;
    let (secret, _) = set_up(&app, &token).await;
    for guess in 0..5 {
        let response = sign_in(&app, "guesser", Some(&format!("{guess:06}"))).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // Even the right code waits now: guessing six digits is bounded.
    let response = sign_in(&app, "guesser", Some(&app_code(&app, &secret))).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn a_user_turns_the_factor_off_with_password_and_code_and_renews_recovery_codes() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, token) = app.user_with_role(&admin, "olga", "user").await;
    let (secret, old_codes) = set_up(&app, &token).await;

    let renewed = json_of(
        app.post(
            "/api/v1/auth/2fa/recovery-codes",
            &token,
            json!({"code": app_code(&app, &secret)}),
        )
        .await,
    )
    .await;
    let new_codes = renewed["recovery_codes"].as_array().unwrap();
    assert_eq!(new_codes.len(), 10);
    assert_eq!(
        sign_in(&app, "olga", Some(&old_codes[0])).await.status(),
        StatusCode::UNAUTHORIZED,
        "the old recovery codes stopped working"
    );

    // A wrong password refuses, with the factor still on.
    let response = app
        .post(
            "/api/v1/auth/2fa/disable",
            &token,
            json!({"password": "not-the-password", "code": new_codes[0]}),
        )
        .await;
    let (status, code, message) = error_of(response).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
    );
    assert!(message.contains("password"), "{message}");
    let response = app
        .post(
            "/api/v1/auth/2fa/disable",
            &token,
            json!({"password": USER_PASSWORD, "code": new_codes[0]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    token_of(sign_in(&app, "olga", None).await).await;

    // Changing the factor takes a session: an API key cannot.
    let key = app.api_key(&token, &[]).await;
    let (status, code, _) =
        error_of(app.post("/api/v1/auth/2fa/setup", &key, json!({})).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::FORBIDDEN, "forbidden")
    );

    let audit = json_of(app.get("/api/v1/audit?entity=user&limit=100", &admin).await).await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|row| row["action"].as_str())
        .collect();
    for action in [
        "second_factor_on",
        "recovery_codes_renewed",
        "second_factor_off",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    assert!(
        !audit.to_string().contains(&secret),
        "the secret never reaches the audit log"
    );
}

#[tokio::test]
async fn a_role_that_requires_a_second_factor_admits_its_holders_only_to_set_it_up() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (bob_id, before) = app.user_with_role(&admin, "bob", "manager").await;

    let role = json_of(
        app.patch(
            "/api/v1/roles/manager",
            &admin,
            json!({"require_second_factor": true}),
        )
        .await,
    )
    .await;
    assert_eq!(role["require_second_factor"], true);

    // A session opened before is held to it at once, and so is a new one.
    let fresh = sign_in(&app, "bob", None).await;
    assert_eq!(fresh.status(), StatusCode::OK);
    let fresh: Value = fresh.json().await.unwrap();
    assert_eq!(fresh["second_factor_setup_required"], true);
    let after = fresh["token"].as_str().unwrap().to_string();
    for token in [&before, &after] {
        let (status, code, _) = error_of(app.get("/api/v1/leads", token).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::FORBIDDEN, "second_factor_setup_required")
        );
        let (status, code, _) = error_of(
            app.post("/api/v1/api-keys", token, json!({"name": "sneaky"}))
                .await,
        )
        .await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::FORBIDDEN, "second_factor_setup_required")
        );
        let me = json_of(app.get("/api/v1/auth/me", token).await).await;
        assert_eq!(me["second_factor"]["setup_required"], true);
    }
    // Nor does the chat socket open for it.
    let (status, code, _) = error_of(app.post("/api/v1/ws/ticket", &after, json!({})).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::FORBIDDEN, "second_factor_setup_required")
    );

    let shown = json_of(app.get(&format!("/api/v1/users/{bob_id}"), &admin).await).await;
    assert_eq!(shown["second_factor"], false);
    let (secret, _) = set_up(&app, &after).await;
    assert_eq!(
        app.get("/api/v1/leads", &after).await.status(),
        StatusCode::OK
    );
    let shown = json_of(app.get(&format!("/api/v1/users/{bob_id}"), &admin).await).await;
    assert_eq!(shown["second_factor"], true, "the admin sees who has it on");
    // While the role requires it, it stays on.
    let (status, code, _) = error_of(
        app.post(
            "/api/v1/auth/2fa/disable",
            &after,
            json!({"password": USER_PASSWORD, "code": app_code(&app, &secret)}),
        )
        .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (StatusCode::CONFLICT, "conflict"));

    // A lost phone: the admin resets it; bob's sessions end and he sets up
    // a new one at his next sign-in.
    let response = app
        .delete(&format!("/api/v1/users/{bob_id}/2fa"), &admin)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        app.get("/api/v1/auth/me", &after).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let again: Value = json_of(sign_in(&app, "bob", None).await).await;
    assert_eq!(again["second_factor_setup_required"], true);

    // A manager (no users.manage) cannot reset anyone's factor.
    let (_, other_manager) = {
        let response = app
            .patch(
                "/api/v1/roles/manager",
                &admin,
                json!({"require_second_factor": false}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        app.user_with_role(&admin, "carol", "manager").await
    };
    let (status, _, _) = error_of(
        app.delete(&format!("/api/v1/users/{bob_id}/2fa"), &other_manager)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
