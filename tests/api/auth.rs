use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_of, set_cookies, TestApp, ADMIN_PASSWORD};

#[tokio::test]
async fn login_with_the_right_password_returns_a_token_and_sets_no_cookie() {
    let app = TestApp::spawn().await;
    let response = app.login_response("admin", ADMIN_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("set-cookie").is_none());
    let body: Value = response.json().await.unwrap();
    let token = body["token"].as_str().unwrap();
    assert!(token.len() >= 22, "at least 128 bits of token");
    assert_eq!(body["user"]["username"], "admin");
    assert!(body["user"].get("password_hash").is_none());

    let me: Value = app
        .get("/api/v1/auth/me", token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["username"], "admin");
    assert!(me["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p == "users.manage"));
}

#[tokio::test]
async fn a_browser_login_keeps_the_session_token_in_an_httponly_cookie_only() {
    let app = TestApp::spawn().await;
    let response = app.cookie_login_response("admin", ADMIN_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookies = set_cookies(&response);
    let session = cookies
        .iter()
        .find(|c| c.starts_with("ea_session="))
        .expect("session cookie");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Lax"), "{session}");
    let token = session
        .trim_start_matches("ea_session=")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let text = response.text().await.unwrap();
    // No script on the page can read the session from the answer.
    assert!(!text.contains(&token), "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert!(body.get("token").is_none(), "{text}");
    assert!(body["csrf_token"].as_str().is_some_and(|t| !t.is_empty()));
    // The cookie alone signs in.
    let me = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .header("cookie", format!("ea_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
}

#[tokio::test]
async fn cookies_are_secure_when_the_public_address_is_https() {
    let app = TestApp::spawn_with(|config| {
        config.public_base_url = Some("https://crm.example.com".into());
    })
    .await;
    let response = app.cookie_login_response("admin", ADMIN_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookies = set_cookies(&response);
    assert!(!cookies.is_empty());
    for cookie in &cookies {
        assert!(cookie.contains("Secure"), "{cookie}");
    }
}

#[tokio::test]
async fn a_wrong_password_or_unknown_user_is_refused_alike() {
    let app = TestApp::spawn().await;
    let (status, code, message) =
        error_of(app.login_response("admin", "not-the-password").await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "bad_credentials")
    );
    let (status2, code2, message2) =
        error_of(app.login_response("nobody", "not-the-password").await).await;
    assert_eq!(
        (status2, code2.as_str()),
        (StatusCode::UNAUTHORIZED, "bad_credentials")
    );
    assert_eq!(message, message2, "no hint which part was wrong");
}

#[tokio::test]
async fn repeated_failures_for_one_username_are_limited_with_retry_after() {
    let app = TestApp::spawn_with(|c| c.login_max_failures_per_user = 3).await;
    for _ in 0..3 {
        assert_eq!(
            app.login_response("admin", "wrong-password").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let limited = app.login_response("admin", ADMIN_PASSWORD).await;
    assert_eq!(
        limited.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0);
    let (_, code, _) = error_of(limited).await;
    assert_eq!(code, "rate_limited");

    app.clock.advance(Duration::seconds(retry as i64 + 1));
    assert_eq!(
        app.login_response("admin", ADMIN_PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn one_clients_failures_lock_the_username_for_that_client_only_until_many_clients_fail() {
    let app = TestApp::spawn_with(|c| {
        c.login_max_failures_per_user = 3;
        c.trust_forwarded_for = true;
    })
    .await;
    let login_from = |address: String, password: &'static str| {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", address)
            .json(&json!({"username": "admin", "password": password}))
            .send()
    };
    let attacker = || "203.0.113.7".to_string();
    for _ in 0..3 {
        let failed = login_from(attacker(), "wrong-password").await.unwrap();
        assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    }
    let attacker_again = login_from(attacker(), ADMIN_PASSWORD).await.unwrap();
    assert_eq!(attacker_again.status(), StatusCode::TOO_MANY_REQUESTS);
    let owner = login_from("198.51.100.2".into(), ADMIN_PASSWORD)
        .await
        .unwrap();
    assert_eq!(
        owner.status(),
        StatusCode::OK,
        "the owner, elsewhere, still signs in"
    );

    // Failures from many addresses together still lock the username (ten
    // times the per-client limit).
    for i in 0..30 {
        let failed = login_from(format!("192.0.2.{i}"), "wrong-password")
            .await
            .unwrap();
        assert_eq!(failed.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let locked = login_from("198.51.100.2".into(), ADMIN_PASSWORD)
        .await
        .unwrap();
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn login_attempts_from_one_address_are_limited_across_usernames() {
    let app = TestApp::spawn_with(|c| c.login_max_attempts_per_ip = 4).await;
    for i in 0..4 {
        let r = app
            .login_response(&format!("someone{i}"), "whatever-password")
            .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = app
        .login_response("someone-else", "whatever-password")
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn an_office_behind_one_address_signs_in_more_often_than_the_failure_limit() {
    let app = TestApp::spawn_with(|c| c.login_max_attempts_per_ip = 4).await;
    for _ in 0..6 {
        let r = app.login_response("admin", ADMIN_PASSWORD).await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    for i in 0..4 {
        let r = app
            .login_response(&format!("someone{i}"), "whatever-password")
            .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = app.login_response("admin", ADMIN_PASSWORD).await;
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "failures still count"
    );
}

#[tokio::test]
async fn an_idle_session_expires() {
    let app = TestApp::spawn_with(|c| c.session_idle_minutes = 30).await;
    let token = app.admin_token().await;
    app.clock.advance(Duration::minutes(20));
    assert_eq!(
        app.get("/api/v1/auth/me", &token).await.status(),
        StatusCode::OK,
        "use keeps it alive"
    );
    app.clock.advance(Duration::minutes(20));
    assert_eq!(
        app.get("/api/v1/auth/me", &token).await.status(),
        StatusCode::OK,
        "20 min after last use"
    );
    app.clock.advance(Duration::minutes(31));
    let (status, code, _) = error_of(app.get("/api/v1/auth/me", &token).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_expiry_even_when_used() {
    let app = TestApp::spawn_with(|c| {
        c.session_idle_minutes = 60;
        c.session_max_hours = 2;
    })
    .await;
    let token = app.admin_token().await;
    for _ in 0..3 {
        app.clock.advance(Duration::minutes(35));
        assert_eq!(
            app.get("/api/v1/auth/me", &token).await.status(),
            StatusCode::OK
        );
    }
    app.clock.advance(Duration::minutes(35));
    assert_eq!(
        app.get("/api/v1/auth/me", &token).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    assert_eq!(
        app.post("/api/v1/auth/logout", &token, json!({}))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get("/api/v1/auth/me", &token).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn cookie_authenticated_writes_need_the_csrf_token() {
    let app = TestApp::spawn().await;
    let response = app.login_response("admin", ADMIN_PASSWORD).await;
    let body: Value = response.json().await.unwrap();
    let (token, csrf) = (
        body["token"].as_str().unwrap(),
        body["csrf_token"].as_str().unwrap(),
    );
    let cookie = format!("ea_session={token}");

    let me = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK, "reads need no CSRF token");
    let me: Value = me.json().await.unwrap();
    assert_eq!(
        me["csrf_token"], csrf,
        "the panel can recover its CSRF token"
    );

    let role = json!({"key": "csrf_probe", "name": "CSRF probe"});
    let refused = app
        .client
        .post(app.url("/api/v1/roles"))
        .header("cookie", &cookie)
        .json(&role)
        .send()
        .await
        .unwrap();
    let (status, code, _) = error_of(refused).await;
    assert_eq!((status, code.as_str()), (StatusCode::FORBIDDEN, "csrf"));
    let wrong = app
        .client
        .post(app.url("/api/v1/roles"))
        .header("cookie", &cookie)
        .header("x-csrf-token", "guess")
        .json(&role)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let roles: Value = app.get("/api/v1/roles", token).await.json().await.unwrap();
    assert!(
        !roles.to_string().contains("csrf_probe"),
        "nothing was written"
    );

    let accepted = app
        .client
        .post(app.url("/api/v1/roles"))
        .header("cookie", &cookie)
        .header("x-csrf-token", csrf)
        .json(&role)
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), StatusCode::OK);
}

#[tokio::test]
async fn guessing_the_current_password_is_limited_like_sign_ins() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let change = |current: &'static str| {
        app.post(
            "/api/v1/auth/password",
            &token,
            json!({"current_password": current, "new_password": "a-brand-new-password"}),
        )
    };
    for _ in 0..5 {
        assert_eq!(
            error_of(change("wrong-one-here").await).await.0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
    let refused = change(ADMIN_PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(
        app.login_response("admin", ADMIN_PASSWORD).await.status(),
        StatusCode::OK,
        "the password was not changed"
    );
    app.clock.advance(Duration::minutes(16));
    assert_eq!(change(ADMIN_PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn changing_the_password_ends_other_sessions_and_keeps_this_one() {
    let app = TestApp::spawn().await;
    let here = app.admin_token().await;
    let elsewhere = app.admin_token().await;
    let bad = app
        .post(
            "/api/v1/auth/password",
            &here,
            json!({"current_password": "wrong-one-here", "new_password": "a-brand-new-password"}),
        )
        .await;
    assert_eq!(error_of(bad).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    let short = app
        .post(
            "/api/v1/auth/password",
            &here,
            json!({"current_password": ADMIN_PASSWORD, "new_password": "short"}),
        )
        .await;
    let (status, code, message) = error_of(short).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
    );
    // Named by the field it came in.
    assert!(message.starts_with("new_password:"), "{message}");
    let ok = app
        .post(
            "/api/v1/auth/password",
            &here,
            json!({"current_password": ADMIN_PASSWORD, "new_password": "a-brand-new-password"}),
        )
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(
        app.get("/api/v1/auth/me", &here).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get("/api/v1/auth/me", &elsewhere).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login_response("admin", ADMIN_PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.login("admin", "a-brand-new-password").await;
}

#[tokio::test]
async fn a_login_storm_past_the_hashing_queue_is_answered_busy_and_loses_nothing() {
    let app = TestApp::spawn_with(|c| {
        c.max_concurrent_hashes = 1;
        c.login_max_attempts_per_ip = 1_000;
    })
    .await;
    // One hashing thread takes one hash and queues 16 more; the rest of a
    // burst is refused at once rather than left waiting.
    let answers = futures_util::future::join_all(
        (0..40).map(|_| app.login_response("admin", ADMIN_PASSWORD)),
    )
    .await;
    let signed_in = answers
        .iter()
        .filter(|r| r.status() == StatusCode::OK)
        .count();
    let busy: Vec<_> = answers
        .into_iter()
        .filter(|r| r.status() == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(signed_in >= 17, "{signed_in} signed in");
    assert!(!busy.is_empty(), "no login was refused as busy");
    assert_eq!(signed_in + busy.len(), 40, "only 200s and 503s");
    for response in busy {
        assert_eq!(
            response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
            Some("1")
        );
        let (_, code, _) = error_of(response).await;
        assert_eq!(code, "busy");
    }
    // The storm over, signing in works again.
    let again = app.login_response("admin", ADMIN_PASSWORD).await;
    assert_eq!(again.status(), StatusCode::OK);
}

/// A session's last use is written down once a minute, on the request that
/// finds it due; when a client sends many at that moment (a panel loading a
/// page, an integration's workers), each of them finds it due, and none may
/// be refused because another wrote it first.
#[tokio::test]
async fn concurrent_requests_when_the_session_is_due_a_touch_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("surrealkv://{}", dir.path().join("db").display());
    let app = TestApp::spawn_with(|c| c.database_url = url).await;
    let token = app.admin_token().await;
    for round in 0..3 {
        app.clock.advance(Duration::seconds(61));
        let requests = (0..16).map(|_| app.get("/api/v1/leads?limit=5", &token));
        let statuses: Vec<StatusCode> = futures_util::future::join_all(requests)
            .await
            .iter()
            .map(|r| r.status())
            .collect();
        assert!(
            statuses.iter().all(|s| *s == StatusCode::OK),
            "round {round}: {statuses:?}"
        );
    }
}
