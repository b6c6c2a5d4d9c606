//! Feature switches: every optional part is listed in one place, admins
//! switch it, and a switched-off part answers `409 feature_disabled` until
//! it is on again, on every instance.

use std::time::{Duration, Instant};

use ea_crm::config::Config;
use ea_crm::domain::clock::ManualClock;
use ea_crm::store::{migrations, Store};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::chat::{group, say};
use crate::helpers::{error_of, ok, TestApp};
use crate::ws::Client;

const ALL: [&str; 11] = [
    "chat",
    "telegram",
    "discord",
    "webhooks",
    "import",
    "lead_scoring",
    "intent",
    "dedup",
    "drafting",
    "relationship_map",
    "patterns",
];

/// Checks an answer is the refusal of a switched-off `key`.
async fn assert_disabled(response: reqwest::Response, key: &str) {
    let (status, code, message) = error_of(response).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::CONFLICT, "feature_disabled"),
        "{message}"
    );
    assert!(
        message.contains("switched off") && message.contains(key),
        "{message}"
    );
}

fn feature<'a>(list: &'a Value, key: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == key)
        .unwrap_or_else(|| panic!("{key} is not listed: {list}"))
}

async fn import_csv(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body("Company,Web Site\nAcme Corp,acme.com\n")
        .send()
        .await
        .unwrap()
}

/// The HTTP status a new socket is refused with, if it is.
async fn socket_refusal(app: &TestApp, token: &str) -> Option<u16> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Error;
    let mut request = app.ws_url().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => None,
        Err(Error::Http(response)) => Some(response.status().as_u16()),
        Err(e) => panic!("the socket failed otherwise: {e}"),
    }
}

#[tokio::test]
async fn every_optional_part_is_listed_and_only_those_who_manage_settings_switch_them() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, user) = app.user_with_role(&admin, "ulla", "user").await;

    let list = ok(app.get("/api/v1/features", &user).await).await;
    let keys: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ALL);
    for f in list.as_array().unwrap() {
        assert_eq!(f["enabled"], true, "{f}");
        assert!(f["name"].as_str().is_some_and(|n| !n.is_empty()), "{f}");
        assert!(f.get("updated_at").is_none(), "never switched: {f}");
    }
    assert_eq!(feature(&list, "chat")["name"], "Chat");
    assert_eq!(feature(&list, "patterns")["ai"], true);
    assert_eq!(feature(&list, "import")["ai"], false);

    let (status, code, _) = error_of(
        app.put_json("/api/v1/features/import", &user, json!({"enabled": false}))
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    assert_eq!(
        feature(
            &ok(app.get("/api/v1/features", &user).await).await,
            "import"
        )["enabled"],
        true
    );

    // `ai.manage` alone switches the AI features, not the others.
    let ai_manager = app.api_key(&admin, &["ai.manage"]).await;
    app.switch_feature(&ai_manager, "patterns", false).await;
    let (status, _, _) = error_of(
        app.put_json(
            "/api/v1/features/chat",
            &ai_manager,
            json!({"enabled": false}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let switched = app.switch_feature(&admin, "import", false).await;
    assert_eq!(switched["enabled"], false);
    assert_eq!(switched["updated_by_name"], "admin");
    let list = ok(app.get("/api/v1/features", &user).await).await;
    let import = feature(&list, "import");
    assert_eq!(import["enabled"], false);
    assert_eq!(import["updated_by_name"], "admin");
    assert!(import["updated_at"].is_string());
    assert_eq!(feature(&list, "patterns")["enabled"], false);
    assert_eq!(feature(&list, "chat")["enabled"], true);

    let audit = ok(app
        .get(
            "/api/v1/audit?entity=feature_switch&entity_id=import",
            &admin,
        )
        .await)
    .await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");

    let unknown = app
        .put_json(
            "/api/v1/features/mind_reading",
            &admin,
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn with_the_chat_off_the_socket_does_not_open_and_messages_are_refused_until_it_is_on() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (maria, maria_token) = app.user_with_role(&admin, "maria", "user").await;
    let room = group(&app, &admin, "sales", &[&maria]).await;
    let mut open = Client::connect(&app, &maria_token).await;

    app.switch_feature(&admin, "chat", false).await;

    // An open socket is told, then closed.
    let (frames, code) = open.until_closed().await;
    assert_eq!(code, 1001);
    let told = frames
        .iter()
        .find(|f| f["type"] == "feature_disabled")
        .expect("a feature_disabled frame before the close");
    assert_eq!(told["feature"], "chat");
    assert_eq!(
        socket_refusal(&app, &maria_token).await,
        Some(StatusCode::CONFLICT.as_u16())
    );
    assert_disabled(
        app.post(
            &format!("/api/v1/rooms/{room}/messages"),
            &maria_token,
            json!({"body": "anyone there?"}),
        )
        .await,
        "chat",
    )
    .await;
    assert_disabled(app.get("/api/v1/rooms", &maria_token).await, "chat").await;
    assert_disabled(
        app.get(&format!("/api/v1/rooms/{room}/messages"), &admin)
            .await,
        "chat",
    )
    .await;
    // Notifications are shared with tasks: still readable.
    ok(app.get("/api/v1/notifications", &maria_token).await).await;

    app.switch_feature(&admin, "chat", true).await;
    let mut socket = Client::connect(&app, &maria_token).await;
    socket.subscribe(&room, None).await;
    let sent = say(&app, &maria_token, &room, "back again").await;
    assert_eq!(sent["body"], "back again");
    let live = socket.next_of("message").await;
    assert_eq!(live["message"]["body"], "back again");
}

#[tokio::test]
async fn with_import_off_an_import_and_its_preview_are_refused() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    app.switch_feature(&admin, "import", false).await;
    assert_disabled(
        import_csv(&app, &admin, "/api/v1/leads/import").await,
        "import",
    )
    .await;
    assert_disabled(
        import_csv(&app, &admin, "/api/v1/leads/import/columns").await,
        "import",
    )
    .await;
    let count = ok(app.get("/api/v1/leads/count", &admin).await).await;
    assert_eq!(count["count"], 0);

    app.switch_feature(&admin, "import", true).await;
    let report = ok(import_csv(&app, &admin, "/api/v1/leads/import?wait=true").await).await;
    assert_eq!(report["created"], 1, "{report}");
}

#[tokio::test]
async fn with_webhooks_off_endpoints_cannot_be_made_or_listed() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    app.switch_feature(&admin, "webhooks", false).await;
    let body = json!({"url": "https://hooks.example.com/ea", "topics": ["lead.created"]});
    assert_disabled(
        app.post("/api/v1/webhooks", &admin, body.clone()).await,
        "webhooks",
    )
    .await;
    assert_disabled(app.get("/api/v1/webhooks", &admin).await, "webhooks").await;

    app.switch_feature(&admin, "webhooks", true).await;
    ok(app.post("/api/v1/webhooks", &admin, body).await).await;
    let list = ok(app.get("/api/v1/webhooks", &admin).await).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn every_ai_feature_answers_feature_disabled_while_it_is_off() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let lead = app.create_lead(&admin, "Initech").await;
    let other = app.create_lead(&admin, "Initrode").await;
    let relations = format!("/api/v1/ai/leads/{lead}/relations");
    ok(app.get(&relations, &admin).await).await;
    ok(app.get("/api/v1/ai/patterns", &admin).await).await;

    for key in [
        "lead_scoring",
        "intent",
        "dedup",
        "drafting",
        "relationship_map",
        "patterns",
    ] {
        app.switch_feature(&admin, key, false).await;
    }
    let status = ok(app.get("/api/v1/ai/status", &admin).await).await;
    let ai: Vec<&Value> = status["features"].as_array().unwrap().iter().collect();
    assert_eq!(ai.len(), 6, "{status}");
    assert!(ai.iter().all(|f| f["enabled"] == false), "{status}");

    assert_disabled(app.get(&relations, &admin).await, "relationship_map").await;
    assert_disabled(
        app.post(&relations, &admin, json!({"to": other, "kind": "referral"}))
            .await,
        "relationship_map",
    )
    .await;
    assert_disabled(app.get("/api/v1/ai/patterns", &admin).await, "patterns").await;
    assert_disabled(
        app.get(&format!("/api/v1/ai/leads/{lead}/score"), &admin)
            .await,
        "lead_scoring",
    )
    .await;
    assert_disabled(app.get("/api/v1/ai/fit", &admin).await, "lead_scoring").await;
    assert_disabled(
        app.post(
            "/api/v1/ai/intent",
            &admin,
            json!({"text": "call Initech tomorrow"}),
        )
        .await,
        "intent",
    )
    .await;
    assert_disabled(app.get("/api/v1/ai/duplicates", &admin).await, "dedup").await;
    assert_disabled(
        app.get(&format!("/api/v1/ai/leads/{lead}/duplicates"), &admin)
            .await,
        "dedup",
    )
    .await;
    assert_disabled(
        app.post(&format!("/api/v1/ai/leads/{lead}/draft"), &admin, json!({}))
            .await,
        "drafting",
    )
    .await;

    app.switch_feature(&admin, "relationship_map", true).await;
    app.switch_feature(&admin, "patterns", true).await;
    ok(app
        .post(&relations, &admin, json!({"to": other, "kind": "referral"}))
        .await)
    .await;
    let related = ok(app.get(&relations, &admin).await).await;
    assert_eq!(related[0]["lead"], other.as_str(), "{related}");
    ok(app.get("/api/v1/ai/patterns", &admin).await).await;
}

#[tokio::test]
async fn a_switch_holds_on_another_instance_within_a_second() {
    let first = TestApp::spawn().await;
    let second = first.second_instance().await;
    let admin = first.admin_token().await;
    assert!(import_csv(&second, &admin, "/api/v1/leads/import/columns")
        .await
        .status()
        .is_success());

    first.switch_feature(&admin, "import", false).await;
    let started = Instant::now();
    loop {
        let response = import_csv(&second, &admin, "/api/v1/leads/import/columns").await;
        if response.status() == StatusCode::CONFLICT {
            assert_disabled(response, "import").await;
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the other instance never saw the switch"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(started.elapsed() < Duration::from_millis(2500));
}

#[tokio::test]
async fn the_migration_carries_an_old_ai_flag_over_to_the_feature_switches() {
    let config = Config::for_tests();
    let store = Store::connect(&config).await.unwrap();
    let version = migrations::MIGRATIONS
        .iter()
        .find(|m| m.name == "feature_switches")
        .unwrap()
        .version;
    migrations::migrate_up_to(&store, version - 1)
        .await
        .unwrap();
    store
        .run(
            "CREATE ai_flag:dedup SET enabled = false, updated_by = 'old-admin',
                updated_at = d'2026-01-02T03:04:05Z';
             CREATE ai_flag:drafting SET enabled = true, updated_at = d'2026-01-03T00:00:00Z';",
            json!({}),
        )
        .await
        .unwrap();

    let app = TestApp::start_on(config, ManualClock::new(), Some(store)).await;
    let admin = app.admin_token().await;
    let list = ok(app.get("/api/v1/features", &admin).await).await;
    let dedup = feature(&list, "dedup");
    assert_eq!(dedup["enabled"], false);
    let changed_at: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(dedup["updated_at"].clone()).unwrap();
    assert_eq!(changed_at.to_rfc3339(), "2026-01-02T03:04:05+00:00");
    assert_eq!(dedup["updated_by"], "old-admin");
    assert_eq!(feature(&list, "drafting")["enabled"], true);
    assert_eq!(feature(&list, "chat")["enabled"], true);
    assert_disabled(app.get("/api/v1/ai/duplicates", &admin).await, "dedup").await;
}
