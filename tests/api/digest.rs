//! `GET/PUT /me/digest`: a user's own daily digest time.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::TestApp;

#[tokio::test]
async fn a_user_reads_back_the_digest_time_they_set_and_stopped() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, rep) = app.user_with_role(&admin, "dina", "user").await;
    let read = |token: String| {
        let app = &app;
        async move {
            let response = app.get("/api/v1/me/digest", &token).await;
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Value>().await.unwrap()["time"].clone()
        }
    };
    assert!(read(rep.clone()).await.is_null(), "no digest at first");
    let set = app
        .put_json("/api/v1/me/digest", &rep, json!({"time": "8:30"}))
        .await;
    assert_eq!(set.status(), StatusCode::OK);
    assert_eq!(read(rep.clone()).await, "08:30");
    assert!(
        read(admin.clone()).await.is_null(),
        "each user has their own"
    );
    app.put_json("/api/v1/me/digest", &rep, json!({"time": null}))
        .await;
    assert!(read(rep.clone()).await.is_null());
}
