//! One paging convention on every list: a page is `{items, next_cursor}`,
//! the next one is asked for with `after=<next_cursor>`, and a cursor that
//! no page gave out is a malformed request.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_of, ok, TestApp};

/// Every item of a list, read `limit` at a time by following
/// `next_cursor`.
async fn walk(app: &TestApp, token: &str, path: &str, limit: usize) -> Vec<Value> {
    let mut items = Vec::new();
    let mut after: Option<String> = None;
    let sep = if path.contains('?') { '&' } else { '?' };
    for _ in 0..200 {
        let page_path = match &after {
            Some(cursor) => format!("{path}{sep}limit={limit}&after={cursor}"),
            None => format!("{path}{sep}limit={limit}"),
        };
        let page = ok(app.get(&page_path, token).await).await;
        let got = page["items"].as_array().unwrap();
        assert!(got.len() <= limit, "{page}");
        items.extend(got.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => after = Some(cursor.to_string()),
            None => return items,
        }
    }
    panic!("{path} did not end in 200 pages");
}

#[tokio::test]
async fn paging_through_the_audit_log_by_after_returns_every_row_once_in_order() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    for n in 0..7 {
        let lead = app.create_lead(&admin, &format!("Audited {n}")).await;
        app.patch(
            &format!("/api/v1/leads/{lead}"),
            &admin,
            json!({"industry": format!("Industry {n}")}),
        )
        .await;
    }
    let whole = ok(app.get("/api/v1/audit?limit=500", &admin).await).await;
    assert!(whole.get("next_cursor").is_none(), "{whole}");
    let whole = whole["items"].as_array().unwrap().clone();
    assert!(whole.len() >= 14, "{}", whole.len());

    let paged = walk(&app, &admin, "/api/v1/audit", 3).await;
    let ids = |rows: &[Value]| -> Vec<String> {
        rows.iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&paged), ids(&whole));

    // A filter pages the same way.
    let leads_only = walk(&app, &admin, "/api/v1/audit?entity=lead", 4).await;
    assert!(leads_only.iter().all(|r| r["entity"] == "lead"));
    let expected: Vec<String> = ids(&whole)
        .into_iter()
        .zip(&whole)
        .filter(|(_, r)| r["entity"] == "lead")
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids(&leads_only), expected);
}

/// A lead with some of every kind of timeline item: calls, notes, edits,
/// follow-ups and messages in its discussion room.
async fn lead_with_a_history(app: &TestApp, admin: &str) -> String {
    let lead = app.create_lead(admin, "Timeline Paging GmbH").await;
    for n in 0..3 {
        ok(app
            .post(
                &format!("/api/v1/leads/{lead}/calls"),
                admin,
                json!({"outcome": "connected", "duration_seconds": 30 + n}),
            )
            .await)
        .await;
        app.add_note(admin, &lead, &format!("note {n}")).await;
        ok(app
            .patch(
                &format!("/api/v1/leads/{lead}"),
                admin,
                json!({"industry": format!("Industry {n}")}),
            )
            .await)
        .await;
    }
    for tier in 1..=2 {
        ok(app
            .put_json(
                &format!("/api/v1/leads/{lead}/follow-ups/{tier}"),
                admin,
                json!({"outcome": "done", "notes": format!("tier {tier}")}),
            )
            .await)
        .await;
    }
    let room = ok(app
        .post(
            "/api/v1/rooms",
            admin,
            json!({"name": "timeline-paging", "kind": "group", "subject_kind": "lead", "subject_id": lead}),
        )
        .await)
    .await;
    for n in 0..3 {
        ok(app
            .post(
                &format!("/api/v1/rooms/{}/messages", room["id"].as_str().unwrap()),
                admin,
                json!({"body": format!("message {n}")}),
            )
            .await)
        .await;
    }

    lead
}

#[tokio::test]
async fn paging_through_a_lead_timeline_by_after_returns_every_item_once_in_order() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let lead = Box::pin(lead_with_a_history(&app, &admin)).await;

    let path = format!("/api/v1/leads/{lead}/timeline");
    let whole = ok(app.get(&format!("{path}?limit=500"), &admin).await).await;
    assert!(whole.get("next_cursor").is_none(), "{whole}");
    let whole = whole["items"].as_array().unwrap().clone();
    let kinds: std::collections::BTreeSet<&str> =
        whole.iter().filter_map(|i| i["kind"].as_str()).collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["call", "change", "follow_up", "message", "note"],
        "{whole:?}"
    );
    assert!(whole.len() >= 14, "{}", whole.len());
    let times: Vec<&str> = whole.iter().map(|i| i["at"].as_str().unwrap()).collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );

    for limit in [1, 2, 5] {
        let paged = walk(&app, &admin, &path, limit).await;
        assert_eq!(paged, whole, "pages of {limit}");
    }
}

#[tokio::test]
async fn a_malformed_cursor_answers_400_with_the_error_body_on_every_list() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let lead = app.create_lead(&admin, "Cursor Check Ltd").await;
    async fn refused(app: &TestApp, token: &str, path: &str) {
        let (status, code, message) = error_of(app.get(path, token).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::BAD_REQUEST, "bad_request"),
            "{path}"
        );
        assert!(message.starts_with("after:"), "{path}: {message}");
    }
    // Not base64 at all, on every list with a cursor.
    for list in [
        "/api/v1/audit".to_string(),
        format!("/api/v1/leads/{lead}/timeline"),
        "/api/v1/leads".to_string(),
        format!("/api/v1/leads/{lead}/notes"),
        "/api/v1/notifications".to_string(),
        "/api/v1/tasks".to_string(),
    ] {
        refused(&app, &admin, &format!("{list}?after=!!")).await;
    }
    // Base64 of something no page of these lists gives out ("not a
    // cursor", and a timeline place of a kind that does not exist).
    let strange = base64_url("2026-01-01T00:00:00.000000Z|shoe:1");
    for list in [
        "/api/v1/audit".to_string(),
        format!("/api/v1/leads/{lead}/timeline"),
    ] {
        refused(&app, &admin, &format!("{list}?after=bm90IGEgY3Vyc29y")).await;
        refused(&app, &admin, &format!("{list}?after={strange}")).await;
    }
}

/// URL-safe base64 without padding, as cursors are written.
fn base64_url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}
