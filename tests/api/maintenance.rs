//! Maintenance mode: an admin closes the service to everyone else, who
//! are told why and when to come back, on the API, the socket and at
//! sign-in; health stays up; it ends when switched off or at its end time.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_of, ok, TestApp, USER_PASSWORD};
use crate::ws::Client;

#[tokio::test]
async fn an_admin_closes_the_service_and_everyone_else_is_told_why_until_it_reopens() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, manager) = app.user_with_role(&admin, "mia", "manager").await;
    let mut socket = Client::connect(&app, &manager).await;

    // Only admins switch it.
    let (status, _, _) = error_of(
        app.put_json("/api/v1/maintenance", &manager, json!({"enabled": true}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let until = app.clock_now() + Duration::hours(1);
    let on = ok(app
        .put_json(
            "/api/v1/maintenance",
            &admin,
            json!({"enabled": true, "message": "Upgrading the database", "until": until}),
        )
        .await)
    .await;
    assert_eq!(on["enabled"], true);
    assert_eq!(on["message"], "Upgrading the database");

    // The open socket is told, then closed with 1012.
    let (frames, code) = socket.until_closed().await;
    assert_eq!(code, 1012);
    let told = frames
        .iter()
        .find(|f| f["type"] == "maintenance")
        .expect("a maintenance frame before the close");
    assert!(told["message"]
        .as_str()
        .unwrap()
        .contains("Upgrading the database"));

    // Everyone but admins: 503, the message, and when to come back.
    let response = app.get("/api/v1/leads", &manager).await;
    assert_eq!(response.headers()["retry-after"].to_str().unwrap(), "3600");
    let (status, code, message) = error_of(response).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "maintenance")
    );
    assert!(message.contains("Upgrading the database"), "{message}");
    let (status, code, _) = error_of(app.login_response("mia", USER_PASSWORD).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "maintenance")
    );
    let refused = tokio_tungstenite::connect_async({
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = app.ws_url().into_client_request().unwrap();
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {manager}").parse().unwrap(),
        );
        request
    })
    .await;
    assert!(refused.is_err(), "a new socket is refused");

    // Admins work on; health stays up and readiness says why.
    assert_eq!(
        app.get("/api/v1/leads", &admin).await.status(),
        StatusCode::OK
    );
    let admin_again = app.admin_token().await;
    assert_eq!(
        app.get("/api/v1/leads", &admin_again).await.status(),
        StatusCode::OK
    );
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let ready: Value = ok(app.client.get(app.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(ready["status"], "maintenance");

    // Off again: everyone is back.
    let off = ok(app
        .put_json("/api/v1/maintenance", &admin, json!({"enabled": false}))
        .await)
    .await;
    assert_eq!(off["enabled"], false);
    assert_eq!(
        app.get("/api/v1/leads", &manager).await.status(),
        StatusCode::OK
    );
    let ready: Value = ok(app.client.get(app.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(ready["status"], "ready");

    let audit = ok(app
        .get("/api/v1/audit?entity=setting&entity_id=maintenance", &admin)
        .await)
    .await;
    assert!(
        audit["items"].as_array().unwrap().len() >= 2,
        "both switches are audited: {audit}"
    );
}

#[tokio::test]
async fn maintenance_ends_by_itself_at_its_end_time() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, user) = app.user_with_role(&admin, "uma", "user").await;
    let until = app.clock_now() + Duration::minutes(30);
    ok(app
        .put_json(
            "/api/v1/maintenance",
            &admin,
            json!({"enabled": true, "until": until}),
        )
        .await)
    .await;
    assert_eq!(
        app.get("/api/v1/leads", &user).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    app.clock.advance(Duration::minutes(31));
    assert_eq!(
        app.get("/api/v1/leads", &user).await.status(),
        StatusCode::OK
    );
    let state = ok(app.get("/api/v1/maintenance", &user).await).await;
    assert_eq!(state["enabled"], false);

    // An end time in the past is refused, and so is a message too long.
    let past = app.clock_now() - Duration::minutes(1);
    for body in [
        json!({"enabled": true, "until": past}),
        json!({"enabled": true, "message": "x".repeat(501)}),
    ] {
        let (status, code, _) =
            error_of(app.put_json("/api/v1/maintenance", &admin, body).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
        );
    }
}
