use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{error_of, TestApp};

#[tokio::test]
async fn every_kind_of_error_has_the_json_shape_and_no_internals() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, caller) = app.user_with_role(&admin, "cal", "caller").await;
    let cases = vec![
        (
            "unknown route",
            app.client
                .get(app.url("/api/v1/nothing-here"))
                .send()
                .await
                .unwrap(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "no token",
            app.client
                .get(app.url("/api/v1/users"))
                .send()
                .await
                .unwrap(),
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        ),
        (
            "no permission",
            app.post("/api/v1/roles", &caller, json!({"key": "x_y", "name": "X"}))
                .await,
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            "missing record",
            app.get("/api/v1/users/ffffffffffffffffffffffffffffffff", &admin)
                .await,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "malformed JSON",
            app.client
                .post(app.url("/api/v1/auth/login"))
                .header("content-type", "application/json")
                .body("{\"username\": ")
                .send()
                .await
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "missing field",
            app.client
                .post(app.url("/api/v1/auth/login"))
                .json(&json!({"username": "admin"}))
                .send()
                .await
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "wrong content type",
            app.client
                .post(app.url("/api/v1/auth/login"))
                .body("username=admin")
                .send()
                .await
                .unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "wrong method",
            app.client
                .put(app.url("/api/v1/auth/login"))
                .send()
                .await
                .unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            "injection attempt in a path",
            app.get("/api/v1/users/x';%20DELETE%20user;%20--", &admin)
                .await,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (what, response, status, code) in cases {
        let (got_status, got_code, message) = error_of(response).await;
        assert_eq!(
            (got_status, got_code.as_str()),
            (status, code),
            "{what}: {message}"
        );
        assert!(!message.is_empty());
    }
    let users = app.get("/api/v1/users", &admin).await.text().await.unwrap();
    assert!(users.contains("\"admin\""), "nothing was harmed");
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413() {
    let app = TestApp::spawn_with(|c| c.max_body_kb = 4).await;
    let big = "x".repeat(8 * 1024);
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": big, "password": "p"}))
        .send()
        .await
        .unwrap();
    let (status, code, _) = error_of(response).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
}

#[tokio::test]
async fn a_body_that_declares_no_length_is_capped_too_over_cleartext_http2() {
    let app = TestApp::spawn_with(|c| c.max_body_kb = 4).await;
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let body = json!({"username": "x".repeat(8 * 1024), "password": "p"}).to_string();
    // Streamed in pieces: HTTP/2 sends no Content-Length and no chunking.
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> = body
        .as_bytes()
        .chunks(1024)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let response = h2
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            pieces,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    let (status, code, _) = error_of(response).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    // A body within the limit still goes through over HTTP/2.
    let small = h2
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": crate::helpers::ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(small.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_ipv6_client_is_limited_by_its_64_network_not_per_address() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limit_per_ip = 3;
        c.trust_forwarded_for = true;
    })
    .await;
    let from = |address: &str| {
        app.client
            .get(app.url("/healthz"))
            .header("x-forwarded-for", address)
            .send()
    };
    for host in 1..=3 {
        let ok = from(&format!("2001:db8:1:2::{host}")).await.unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
    }
    let limited = from("2001:db8:1:2:ffff::4").await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let neighbour = from("2001:db8:1:3::1").await.unwrap();
    assert_eq!(
        neighbour.status(),
        StatusCode::OK,
        "another /64 has its own limit"
    );
}

#[tokio::test]
async fn requests_past_the_per_ip_limit_get_429_with_retry_after() {
    let app = TestApp::spawn_with(|c| c.rate_limit_per_ip = 5).await;
    for _ in 0..5 {
        assert_eq!(
            app.client
                .get(app.url("/healthz"))
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
    }
    let limited = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        limited.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert_eq!(error_of(limited).await.1, "rate_limited");
    app.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn requests_past_the_per_token_limit_get_429() {
    let app = TestApp::spawn_with(|c| c.rate_limit_per_token = 3).await;
    let token = app.admin_token().await;
    for _ in 0..3 {
        assert_eq!(
            app.get("/api/v1/auth/me", &token).await.status(),
            StatusCode::OK
        );
    }
    let limited = app.get("/api/v1/auth/me", &token).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key("retry-after"));
    let other = app.admin_token().await;
    assert_eq!(
        app.get("/api/v1/auth/me", &other).await.status(),
        StatusCode::OK,
        "another token has its own budget"
    );
}

#[tokio::test]
async fn responses_carry_security_headers_and_a_request_id() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    let h = response.headers();
    assert_eq!(h["x-request-id"], "abc-123");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert!(!h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("unsafe-inline"));
    assert!(h.contains_key("referrer-policy"));
    let generated = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(generated.headers()["x-request-id"].len(), 36);
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let ready: serde_json::Value = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready");
    let token = app.admin_token().await;
    app.get("/api/v1/users", &token).await;
    app.client
        .get(app.url("/api/v1/users"))
        .send()
        .await
        .unwrap();
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            r#"ea_crm_http_requests_total{method="GET",route="/api/v1/users",status="200"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"ea_crm_http_requests_total{method="GET",route="/api/v1/users",status="401"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"ea_crm_http_request_duration_seconds_count{route="/api/v1/users"} 2"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("ea_crm_websocket_connections"),
        "{metrics}"
    );
}

#[tokio::test]
async fn metrics_label_answers_by_route_template_whatever_the_path() {
    let app = TestApp::spawn().await;
    for name in ["probe-one", "probe-two", "probe-three"] {
        let refused = app
            .client
            .get(app.url(&format!("/api/v1/users/{name}")))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    }
    app.client
        .get(app.url("/no/such/page-anywhere"))
        .send()
        .await
        .unwrap();
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!metrics.contains("probe"), "{metrics}");
    assert!(!metrics.contains("page-anywhere"), "{metrics}");
    let users = metrics
        .lines()
        .find(|l| l.starts_with("ea_crm_http_requests_total") && l.contains("status=\"401\""))
        .unwrap_or_else(|| panic!("no 401 counted: {metrics}"));
    assert!(users.contains("route=\"/api/v1/users/:"), "{users}");
    assert!(users.ends_with(" 3"), "{users}");
}

fn header_number(response: &reqwest::Response, name: &str) -> u64 {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn the_rate_limit_headers_come_with_a_200_a_404_a_405_and_a_429() {
    let app = TestApp::spawn_with(|c| c.rate_limit_per_token = 4).await;
    let admin = app.admin_token().await;
    let limits = |answer: &reqwest::Response| {
        (
            header_number(answer, "ratelimit-limit"),
            header_number(answer, "ratelimit-remaining"),
            header_number(answer, "ratelimit-reset"),
        )
    };
    let fine = app.get("/api/v1/auth/me", &admin).await;
    assert_eq!(fine.status(), StatusCode::OK);
    assert_eq!(limits(&fine).0, 4);
    let missing = app.get("/api/v1/leads/no-such-lead", &admin).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(limits(&missing).0, 4);
    assert_eq!(limits(&missing).1 + 1, limits(&fine).1, "one less");
    let unknown_route = app.get("/api/v1/no-such-thing", &admin).await;
    assert_eq!(unknown_route.status(), StatusCode::NOT_FOUND);
    assert!(limits(&unknown_route).0 >= 1);
    let wrong_method = app.delete("/api/v1/auth/me", &admin).await;
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(limits(&wrong_method).0 >= 1);
    let mut refused = None;
    for _ in 0..10 {
        let answer = app.get("/api/v1/auth/me", &admin).await;
        if answer.status() == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(answer);
            break;
        }
    }
    let refused = refused.expect("the fifth request on a limit of four is refused");
    let (limit, remaining, reset) = limits(&refused);
    assert_eq!((limit, remaining), (4, 0));
    assert!((1..=60).contains(&reset), "{reset}");
    assert!(header_number(&refused, "retry-after") >= 1);
}

#[tokio::test]
async fn every_answer_says_what_is_left_of_the_request_limit() {
    let app = TestApp::spawn_with(|c| c.rate_limit_per_token = 5).await;
    let admin = app.admin_token().await;

    // An anonymous answer carries the address's limit.
    let anonymous = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let per_ip = header_number(&anonymous, "ratelimit-limit");
    assert!(per_ip > 5, "{per_ip}");

    // A credential's answers carry its own, tighter limit, counting down.
    let mut last = None;
    loop {
        let answer = app.get("/api/v1/auth/me", &admin).await;
        if answer.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(header_number(&answer, "ratelimit-remaining"), 0);
            assert!(header_number(&answer, "retry-after") >= 1);
            assert_eq!(last, Some(0), "refused only once nothing was left");
            break;
        }
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(header_number(&answer, "ratelimit-limit"), 5);
        let remaining = header_number(&answer, "ratelimit-remaining");
        let reset = header_number(&answer, "ratelimit-reset");
        assert!((1..=60).contains(&reset), "{reset}");
        if let Some(before) = last {
            assert_eq!(remaining + 1, before, "one less each time");
        }
        last = Some(remaining);
    }
}
