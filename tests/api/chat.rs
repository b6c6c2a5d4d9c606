//! Rooms, messages, mentions, notifications and pins over REST.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_of, ok, TestApp, USER_PASSWORD};

/// A group room made by `owner` with `members`; returns its id.
pub async fn group(app: &TestApp, owner: &str, name: &str, members: &[&str]) -> String {
    let response = app
        .post(
            "/api/v1/rooms",
            owner,
            json!({"name": name, "kind": "group", "members": members}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "create room");
    let room: Value = response.json().await.unwrap();
    room["id"].as_str().unwrap().to_string()
}

pub async fn say(app: &TestApp, token: &str, room: &str, body: &str) -> Value {
    let response = app
        .post(
            &format!("/api/v1/rooms/{room}/messages"),
            token,
            json!({ "body": body }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "post `{body}`");
    response.json::<Value>().await.unwrap()["message"].clone()
}

async fn bodies(app: &TestApp, token: &str, path: &str) -> Vec<String> {
    let page: Value = app.get(path, token).await.json().await.unwrap();
    page.as_array()
        .unwrap_or_else(|| panic!("not a list: {page}"))
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn messages_get_increasing_sequence_numbers_and_page_by_them() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (ann, ann_token) = app.user_with_role(&admin, "ann", "user").await;
    let room = group(&app, &admin, "sales", &[&ann]).await;
    for i in 1..=5 {
        let token = if i % 2 == 0 { &ann_token } else { &admin };
        let message = say(&app, token, &room, &format!("m{i}")).await;
        assert_eq!(message["seq"], i);
    }
    let path = format!("/api/v1/rooms/{room}/messages");
    assert_eq!(
        bodies(&app, &ann_token, &path).await,
        ["m1", "m2", "m3", "m4", "m5"]
    );
    assert_eq!(
        bodies(&app, &ann_token, &format!("{path}?after=3")).await,
        ["m4", "m5"]
    );
    assert_eq!(
        bodies(&app, &ann_token, &format!("{path}?before=3&limit=1")).await,
        ["m2"]
    );
    assert_eq!(
        bodies(&app, &ann_token, &format!("{path}?q=M4")).await,
        ["m4"]
    );
    let rooms: Value = app
        .get("/api/v1/rooms", &ann_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rooms[0]["last_seq"], 5);
}

#[tokio::test]
async fn a_non_member_cannot_read_or_post_in_a_private_room() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, outsider) = app.user_with_role(&admin, "olga", "user").await;
    let room = group(&app, &admin, "secret", &[]).await;
    say(&app, &admin, &room, "the plan").await;

    let (status, code, _) = error_of(
        app.get(&format!("/api/v1/rooms/{room}/messages"), &outsider)
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let response = app
        .post(
            &format!("/api/v1/rooms/{room}/messages"),
            &outsider,
            json!({"body": "hi"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let (status, _, _) = error_of(
        app.post(&format!("/api/v1/rooms/{room}/join"), &outsider, json!({}))
            .await,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a group cannot be joined uninvited"
    );
    let listed = app
        .get("/api/v1/rooms", &outsider)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !listed.contains(&room),
        "private rooms are not listed: {listed}"
    );
}

#[tokio::test]
async fn anyone_can_join_a_public_channel_and_then_read_it() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, bob) = app.user_with_role(&admin, "bob", "user").await;
    let response = app
        .post(
            "/api/v1/rooms",
            &admin,
            json!({"name": "general", "kind": "channel"}),
        )
        .await;
    let room: Value = response.json().await.unwrap();
    let room = room["id"].as_str().unwrap();
    let listed: Value = app.get("/api/v1/rooms", &bob).await.json().await.unwrap();
    assert_eq!(listed[0]["joined"], false);
    let response = app
        .post(&format!("/api/v1/rooms/{room}/join"), &bob, json!({}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    say(&app, &bob, room, "hello all").await;
    let listed: Value = app.get("/api/v1/rooms", &bob).await.json().await.unwrap();
    assert_eq!(listed[0]["joined"], true);
}

#[tokio::test]
async fn a_retried_post_with_the_same_idempotency_key_lands_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let room = group(&app, &admin, "ops", &[]).await;
    let path = format!("/api/v1/rooms/{room}/messages");
    let send = json!({"body": "ship it", "idempotency_key": "k-1"});
    let first: Value = app
        .post(&path, &admin, send.clone())
        .await
        .json()
        .await
        .unwrap();
    let again: Value = app.post(&path, &admin, send).await.json().await.unwrap();
    assert_eq!(first["duplicate"], false);
    assert_eq!(again["duplicate"], true);
    assert_eq!(first["message"]["id"], again["message"]["id"]);
    assert_eq!(bodies(&app, &admin, &path).await, ["ship it"]);
}

/// Notifications page like every list: `after` the last page's
/// `next_cursor`, each once, in order, even when they share an instant (the
/// test clock stands still).
#[tokio::test]
async fn notifications_page_by_cursor_without_repeats_or_gaps() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (ann, ann_token) = app.user_with_role(&admin, "ann", "user").await;
    let room = group(&app, &admin, "deals", &[&ann]).await;
    for n in 0..5 {
        say(&app, &admin, &room, &format!("@ann call number {n}")).await;
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..5 {
        let query = after
            .as_deref()
            .map(|a| format!("&after={a}"))
            .unwrap_or_default();
        let page = ok(app
            .get(&format!("/api/v1/notifications?limit=2{query}"), &ann_token)
            .await)
        .await;
        for item in page["items"].as_array().unwrap() {
            seen.push(item["text"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(next) => after = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    for n in 0..5 {
        let want = format!("call number {n}");
        assert_eq!(
            seen.iter().filter(|t| t.contains(&want)).count(),
            1,
            "{seen:?}"
        );
    }
    let (status, code, _) = error_of(
        app.get("/api/v1/notifications?after=not-a-cursor", &ann_token)
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "bad_request")
    );
}

#[tokio::test]
async fn a_mention_leaves_a_notification_with_an_unread_count_until_read() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (ann, ann_token) = app.user_with_role(&admin, "ann", "user").await;
    let room = group(&app, &admin, "deals", &[&ann]).await;
    say(&app, &admin, &room, "@ann please call ACME").await;

    let page: Value = app
        .get("/api/v1/notifications", &ann_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["unread_count"], 1);
    assert_eq!(page["items"][0]["kind"], "mention");
    assert_eq!(page["items"][0]["room"], room.as_str());
    assert!(page["items"][0]["text"]
        .as_str()
        .unwrap()
        .contains("please call ACME"));
    let own: Value = app
        .get("/api/v1/notifications/unread-count", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(own["unread_count"], 0, "the author is not notified");

    let id = page["items"][0]["id"].as_str().unwrap();
    let after: Value = app
        .post(
            "/api/v1/notifications/read",
            &ann_token,
            json!({"ids": [id]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["unread_count"], 0);
}

#[tokio::test]
async fn at_all_needs_the_mention_all_permission() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (ann, ann_token) = app.user_with_role(&admin, "ann", "user").await;
    let (bob, bob_token) = app.user_with_role(&admin, "bob", "user").await;
    let room = group(&app, &admin, "all-hands", &[&ann, &bob]).await;
    let response = app
        .post(
            &format!("/api/v1/rooms/{room}/messages"),
            &ann_token,
            json!({"body": "@all lunch"}),
        )
        .await;
    let (status, _, message) = error_of(response).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(message.contains("chat.mention_all"));

    say(&app, &admin, &room, "@here standup now").await;
    for token in [&ann_token, &bob_token] {
        let count: Value = app
            .get("/api/v1/notifications/unread-count", token)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(count["unread_count"], 1);
    }
}

#[tokio::test]
async fn the_audit_records_who_wrote_edited_and_deleted_a_message_but_never_its_text() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (ann, ann_token) = app.user_with_role(&admin, "ann", "user").await;
    let room = group(&app, &admin, "edits", &[&ann]).await;
    let message = say(&app, &ann_token, &room, "price is 100").await;
    let id = message["id"].as_str().unwrap();

    let response = app
        .patch(
            &format!("/api/v1/messages/{id}"),
            &admin,
            json!({"body": "hacked"}),
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "only the author edits"
    );
    let edited: Value = app
        .patch(
            &format!("/api/v1/messages/{id}"),
            &ann_token,
            json!({"body": "price is 120"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(edited["body"], "price is 120");
    assert!(edited["edited_at"].is_string());
    // The admin moderates: deleting someone else's message is allowed.
    let deleted: Value = app
        .delete(&format!("/api/v1/messages/{id}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(deleted["body"], "");
    assert!(deleted["deleted_at"].is_string());

    // A manager who is not in the room reads the audit: who wrote, edited
    // and deleted the message and when, never what it said.
    let (_, manager_token) = app.user_with_role(&admin, "mona", "manager").await;
    let audit: Value = app
        .get("/api/v1/audit?entity=message&limit=50", &manager_token)
        .await
        .json()
        .await
        .unwrap();
    let text = audit.to_string();
    for said in ["price is 100", "price is 120", "hacked"] {
        assert!(!text.contains(said), "the audit shows message text: {text}");
    }
    let rows: Vec<Value> = app
        .ctx()
        .store
        .run(
            "SELECT action, actor, old, new FROM audit WHERE entity = 'message' AND entity_id = $id ORDER BY at",
            json!({"id": id}),
        )
        .await
        .unwrap()
        .rows(0)
        .unwrap();
    let actions: Vec<&str> = rows.iter().filter_map(|a| a["action"].as_str()).collect();
    assert_eq!(actions, ["create", "edit", "delete"]);
    assert!(rows
        .iter()
        .all(|a| a["old"].is_null() && a["new"].is_null()));
}

#[tokio::test]
async fn members_pin_react_and_reply() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (ann, ann_token) = app.user_with_role(&admin, "ann", "user").await;
    let room = group(&app, &admin, "pins", &[&ann]).await;
    let message = say(&app, &admin, &room, "the contract template").await;
    let id = message["id"].as_str().unwrap();

    let response = app
        .post(&format!("/api/v1/messages/{id}/pin"), &ann_token, json!({}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let pins: Value = app
        .get(&format!("/api/v1/rooms/{room}/pins"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pins[0]["message"], id);

    let reacted: Value = app
        .post(
            &format!("/api/v1/messages/{id}/reactions"),
            &ann_token,
            json!({"emoji": "👍"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(reacted["reactions"], json!([{"emoji": "👍", "user": ann}]));

    let reply: Value = app
        .post(
            &format!("/api/v1/rooms/{room}/messages"),
            &ann_token,
            json!({"body": "thanks", "reply_to": id}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(reply["message"]["reply_to"], id);

    let response = app
        .delete(&format!("/api/v1/messages/{id}/pin"), &admin)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let pins: Value = app
        .get(&format!("/api/v1/rooms/{room}/pins"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pins, json!([]));
}

#[tokio::test]
async fn a_room_is_attached_only_to_a_lead_its_creator_can_read() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, ann) = app.user_with_role(&admin, "ann", "user").await;
    let (_, bob) = app.user_with_role(&admin, "bob", "user").await;
    let anns_lead = app.create_lead(&ann, "Ann's Account").await;
    let about = |lead: &str| {
        json!({"name": "about it", "kind": "group",
               "subject_kind": "lead", "subject_id": lead})
    };

    let refused = app.post("/api/v1/rooms", &bob, about(&anns_lead)).await;
    let (status, code, message) = error_of(refused).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(code, "invalid", "{message}");
    let unknown = app.post("/api/v1/rooms", &ann, about("no-such-lead")).await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let allowed = app.post("/api/v1/rooms", &ann, about(&anns_lead)).await;
    assert_eq!(allowed.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_direct_room_is_one_per_pair() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (ann, ann_token) = app.user_with_role(&admin, "ann", "user").await;
    let (admin_id, _) = {
        let me: Value = app
            .get("/api/v1/auth/me", &admin)
            .await
            .json()
            .await
            .unwrap();
        (me["user"]["id"].as_str().unwrap().to_string(), ())
    };
    let first: Value = app
        .post(
            "/api/v1/rooms",
            &admin,
            json!({"kind": "direct", "members": [ann]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let second: Value = app
        .post(
            "/api/v1/rooms",
            &ann_token,
            json!({"kind": "direct", "members": [admin_id]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["id"], second["id"]);
}

#[tokio::test]
async fn concurrent_sends_through_two_instances_get_distinct_gap_free_sequence_numbers() {
    let first = TestApp::spawn().await;
    let second = first.second_instance().await;
    let admin = first.admin_token().await;
    let room = group(&first, &admin, "busy", &[]).await;
    let path = format!("/api/v1/rooms/{room}/messages");
    let sends = (0..16).map(|i| {
        let app = if i % 2 == 0 { &first } else { &second };
        app.post(&path, &admin, json!({"body": format!("m{i}")}))
    });
    for response in futures_util::future::join_all(sends).await {
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{:?}",
            response.text().await
        );
    }
    let page: Value = first
        .get(&format!("{path}?limit=100"), &admin)
        .await
        .json()
        .await
        .unwrap();
    let seqs: Vec<i64> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=16).collect::<Vec<_>>());
}

#[tokio::test]
async fn history_pages_are_read_through_the_room_and_seq_index() {
    let app = TestApp::spawn().await;
    let plan = app
        .ctx()
        .store
        .run(
            "SELECT * FROM message WHERE room = $room AND seq > $seq ORDER BY seq ASC LIMIT 50 EXPLAIN",
            json!({"room": "r", "seq": 10}),
        )
        .await
        .unwrap();
    let text = plan.value(0).to_string();
    assert!(text.contains("message_room_seq"), "{text}");
}

#[tokio::test]
async fn idempotency_keys_are_forgotten_after_a_week() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let room = group(&app, &admin, "keys", &[]).await;
    let path = format!("/api/v1/rooms/{room}/messages");
    let send = json!({"body": "weekly report", "idempotency_key": "w1"});
    app.post(&path, &admin, send.clone()).await;
    app.clock.advance(chrono::Duration::days(8));
    let removed = ea_crm::domain::chat::messages::forget_old_send_keys(app.ctx())
        .await
        .unwrap();
    assert_eq!(removed, 1);
    // A week later the old session has expired too.
    let admin = app.admin_token().await;
    let again: Value = app.post(&path, &admin, send).await.json().await.unwrap();
    assert_eq!(
        again["duplicate"], false,
        "a key may be reused once forgotten"
    );
}

/// Ann's room list, as `(unread, last_read)` for `room`.
async fn unread_in(app: &TestApp, token: &str, room: &str) -> (i64, i64) {
    let rooms = ok(app.get("/api/v1/rooms", token).await).await;
    let found = rooms
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == room)
        .unwrap_or_else(|| panic!("room {room} not listed: {rooms}"))
        .clone();
    (
        found["unread"].as_i64().unwrap(),
        found["last_read"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn the_read_marker_is_kept_on_the_server_and_follows_the_user_to_another_session() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (ann, laptop) = app.user_with_role(&admin, "ann", "user").await;
    let room = group(&app, &admin, "sales", &[&ann]).await;
    for i in 1..=3 {
        say(&app, &admin, &room, &format!("m{i}")).await;
    }
    assert_eq!(unread_in(&app, &laptop, &room).await, (3, 0));

    let read = format!("/api/v1/rooms/{room}/read");
    let marker = ok(app.put_json(&read, &laptop, json!({"seq": 2})).await).await;
    assert_eq!(marker["last_read"], 2);
    assert_eq!(marker["room"], room.as_str());

    // The phone is a second session of the same person: it sees the same.
    let phone = app.login("ann", USER_PASSWORD).await;
    assert_eq!(unread_in(&app, &phone, &room).await, (1, 2));

    // A device that reports an older position moves nothing back.
    let marker = ok(app.put_json(&read, &phone, json!({"seq": 1})).await).await;
    assert_eq!(marker["last_read"], 2);
    // Past the newest message counts as the newest.
    let marker = ok(app.put_json(&read, &phone, json!({"seq": 99})).await).await;
    assert_eq!(marker["last_read"], 3);
    assert_eq!(unread_in(&app, &laptop, &room).await, (0, 3));
    // The admin's own marker is apart from Ann's.
    assert_eq!(unread_in(&app, &admin, &room).await, (3, 0));

    let (status, code, _) = error_of(app.put_json(&read, &phone, json!({"seq": -1})).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
    );

    // Someone outside a private room cannot mark it, nor learn it exists.
    let (_, bob) = app.user_with_role(&admin, "bob", "user").await;
    let (status, _, _) = error_of(app.put_json(&read, &bob, json!({"seq": 1})).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn search_finds_messages_in_every_room_of_the_caller_and_no_other() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (ann, ann_token) = app.user_with_role(&admin, "ann", "user").await;
    let sales = group(&app, &admin, "sales", &[&ann]).await;
    let support = group(&app, &admin, "support", &[&ann]).await;
    let board = group(&app, &admin, "board", &[]).await;
    say(&app, &admin, &sales, "Pricing for Acme").await;
    say(&app, &ann_token, &support, "acme PRICING question").await;
    say(&app, &admin, &board, "secret pricing plan").await;
    say(&app, &admin, &sales, "nothing to see").await;
    let deleted = say(&app, &admin, &sales, "old pricing, withdrawn").await;
    let id = deleted["id"].as_str().unwrap();
    ok(app.delete(&format!("/api/v1/messages/{id}"), &admin).await).await;

    let found = ok(app
        .get("/api/v1/messages/search?q=pricing", &ann_token)
        .await)
    .await;
    let hits: Vec<(&str, &str)> = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["room"].as_str().unwrap(), m["body"].as_str().unwrap()))
        .collect();
    assert_eq!(
        hits,
        [
            (support.as_str(), "acme PRICING question"),
            (sales.as_str(), "Pricing for Acme")
        ]
    );
    // The admin is in all three.
    let found = ok(app.get("/api/v1/messages/search?q=pricing", &admin).await).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 3);

    let (status, code, _) =
        error_of(app.get("/api/v1/messages/search?q=%20", &ann_token).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
    );
    // Without a query at all: the same error shape.
    let (status, _, message) = error_of(app.get("/api/v1/messages/search", &ann_token).await).await;
    assert!(status.is_client_error(), "{status}");
    assert!(message.contains('q'), "{message}");
}

#[tokio::test]
async fn members_leave_or_are_removed_by_the_creator_and_then_read_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (ann, ann_token) = app.user_with_role(&admin, "ann", "user").await;
    let (bob, bob_token) = app.user_with_role(&admin, "bob", "user").await;
    let room = group(&app, &admin, "deal desk", &[&ann, &bob]).await;
    say(&app, &admin, &room, "numbers for Q3").await;
    let history = format!("/api/v1/rooms/{room}/messages");
    // Both have read the room, so each instance remembers them as members.
    assert_eq!(app.get(&history, &ann_token).await.status(), StatusCode::OK);
    let other = app.second_instance().await;
    assert_eq!(
        other.get(&history, &bob_token).await.status(),
        StatusCode::OK
    );

    // A plain member removes nobody else.
    let (status, code, _) = error_of(
        app.delete(&format!("/api/v1/rooms/{room}/members/{ann}"), &bob_token)
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::FORBIDDEN, "forbidden")
    );

    // Ann leaves; she reads and posts nothing there any more.
    ok(app
        .delete(&format!("/api/v1/rooms/{room}/members/{ann}"), &ann_token)
        .await)
    .await;
    let (status, _, _) = error_of(app.get(&history, &ann_token).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The creator removes Bob on this instance; the other instance, which
    // had Bob's membership remembered, hears of it too.
    ok(app
        .delete(&format!("/api/v1/rooms/{room}/members/{bob}"), &admin)
        .await)
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while other.get(&history, &bob_token).await.status() != StatusCode::NOT_FOUND {
        assert!(
            std::time::Instant::now() < deadline,
            "the other instance still lets Bob read"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let members = ok(app
        .get(&format!("/api/v1/rooms/{room}/members"), &admin)
        .await)
    .await;
    assert_eq!(members.as_array().unwrap().len(), 1);
    let (status, _, _) = error_of(
        app.delete(&format!("/api/v1/rooms/{room}/members/{bob}"), &admin)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A direct room keeps its two people.
    let dm = ok(app
        .post(
            "/api/v1/rooms",
            &admin,
            json!({"kind": "direct", "members": [ann]}),
        )
        .await)
    .await;
    let dm = dm["id"].as_str().unwrap();
    let (status, code, _) = error_of(
        app.delete(&format!("/api/v1/rooms/{dm}/members/{ann}"), &admin)
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
    );
}
