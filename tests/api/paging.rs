//! One paging convention on every list: a page is `{items, next_cursor}`,
//! the next one is asked for with `after=<next_cursor>`, and a cursor that
//! no page gave out is a malformed request.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_of, ok, TestApp};

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

    let paged = app.walk(&admin, "/api/v1/audit", 3).await;
    let ids = |rows: &[Value]| -> Vec<String> {
        rows.iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&paged), ids(&whole));

    // A filter pages the same way.
    let leads_only = app.walk(&admin, "/api/v1/audit?entity=lead", 4).await;
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
        let paged = app.walk(&admin, &path, limit).await;
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
    let task = app.create_task(&admin, "Cursor task").await;
    let hook = ok(app
        .post(
            "/api/v1/webhooks",
            &admin,
            json!({"url": "https://hooks.example.com/in", "topics": ["note.deleted"]}),
        )
        .await)
    .await["webhook"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The lists paged by a time and an id.
    let by_time = [
        format!("/api/v1/webhooks/{hook}/deliveries"),
        format!("/api/v1/leads/{lead}/calls"),
        format!("/api/v1/tasks/{task}/comments"),
        format!("/api/v1/tasks/{task}/history"),
        format!("/api/v1/tasks/{task}/files"),
        "/api/v1/messages/search?q=x".to_string(),
        "/api/v1/follow-ups/due".to_string(),
        "/api/v1/reminders".to_string(),
        "/api/v1/api-keys".to_string(),
        "/api/v1/leads/imports".to_string(),
    ];
    // Not base64 at all, on every list with a cursor.
    let others = [
        "/api/v1/audit".to_string(),
        format!("/api/v1/leads/{lead}/timeline"),
        "/api/v1/leads".to_string(),
        format!("/api/v1/leads/{lead}/notes"),
        "/api/v1/notifications".to_string(),
        "/api/v1/tasks".to_string(),
        "/api/v1/calls/queue".to_string(),
        "/api/v1/users".to_string(),
    ];
    for list in by_time.iter().chain(&others) {
        let sep = if list.contains('?') { '&' } else { '?' };
        refused(&app, &admin, &format!("{list}{sep}after=!!")).await;
    }
    // Base64 of no time and id, and of a time with an id no row has the
    // shape of (a quote in it).
    let bad_id = base64_url("2026-01-01T00:00:00.000000Z|x'y");
    for list in &by_time {
        let sep = if list.contains('?') { '&' } else { '?' };
        refused(&app, &admin, &format!("{list}{sep}after=bm90IGEgY3Vyc29y")).await;
        refused(&app, &admin, &format!("{list}{sep}after={bad_id}")).await;
    }
    let nowhere = base64_url("somewhere|050|abc");
    refused(
        &app,
        &admin,
        &format!("/api/v1/calls/queue?after={nowhere}"),
    )
    .await;
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

/// Reads `path` whole (one page of 200) and in pages of 1, 2 and 3, and
/// checks each way gives the same `expected` items in the same order.
async fn pages_add_up(app: &TestApp, token: &str, path: &str, expected: usize) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let whole = ok(app.get(&format!("{path}{sep}limit=200"), token).await).await;
    assert!(whole.get("next_cursor").is_none(), "{path}: {whole}");
    let whole = whole["items"].as_array().unwrap().clone();
    assert_eq!(whole.len(), expected, "{path}: {whole:?}");
    for limit in [1, 2, 3] {
        let paged = app.walk(token, path, limit).await;
        assert_eq!(paged, whole, "{path} in pages of {limit}");
    }
    let first = ok(app.get(path, token).await).await;
    assert_eq!(first["items"].as_array().unwrap().len(), expected.min(50));
    whole
}

/// The values of `field` in `items`, in order.
fn values<'a>(items: &'a [Value], field: &str) -> Vec<&'a str> {
    items.iter().map(|i| i[field].as_str().unwrap()).collect()
}

fn newest_first(times: &[&str]) -> bool {
    times.windows(2).all(|w| w[0] >= w[1])
}

fn oldest_first(times: &[&str]) -> bool {
    times.windows(2).all(|w| w[0] <= w[1])
}

#[tokio::test]
async fn a_leads_calls_page_newest_first_and_every_call_comes_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let lead = app.create_lead(&admin, "Many Calls Ltd").await;
    let path = format!("/api/v1/leads/{lead}/calls");
    for n in 0..7 {
        // Some calls at the same time, so the order falls back on the id.
        let at = (app.clock_now() - chrono::Duration::minutes(n / 2)).to_rfc3339();
        ok(app
            .post(&path, &admin, json!({"outcome": "connected", "at": at}))
            .await)
        .await;
    }
    let calls = pages_add_up(&app, &admin, &path, 7).await;
    assert!(newest_first(&values(&calls, "at")), "{calls:?}");
}

#[tokio::test]
async fn a_tasks_comments_history_and_files_page_and_every_row_comes_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let task = app.create_task(&admin, "Paged task").await;
    for n in 0..5 {
        ok(app
            .post(
                &format!("/api/v1/tasks/{task}/comments"),
                &admin,
                json!({"body": format!("comment {n}")}),
            )
            .await)
        .await;
        ok(app
            .patch(
                &format!("/api/v1/tasks/{task}"),
                &admin,
                json!({"title": format!("Paged task, take {n}")}),
            )
            .await)
        .await;
        ok(app
            .upload(
                &format!("/api/v1/tasks/{task}/files"),
                &admin,
                None,
                &[],
                &format!("note-{n}.txt"),
                format!("note {n}\n").as_bytes(),
            )
            .await)
        .await;
    }

    let comments = pages_add_up(&app, &admin, &format!("/api/v1/tasks/{task}/comments"), 5).await;
    assert_eq!(
        values(&comments, "body"),
        [
            "comment 0",
            "comment 1",
            "comment 2",
            "comment 3",
            "comment 4"
        ]
    );
    let files = pages_add_up(&app, &admin, &format!("/api/v1/tasks/{task}/files"), 5).await;
    assert_eq!(
        values(&files, "name"),
        [
            "note-0.txt",
            "note-1.txt",
            "note-2.txt",
            "note-3.txt",
            "note-4.txt"
        ]
    );
    let history_path = format!("/api/v1/tasks/{task}/history");
    let rows = app.all_items(&admin, &history_path).await;
    assert!(rows.len() >= 6, "created and five edits: {rows:?}");
    let history = pages_add_up(&app, &admin, &history_path, rows.len()).await;
    assert!(newest_first(&values(&history, "at")), "{history:?}");
}

#[tokio::test]
async fn message_search_pages_newest_first_across_rooms() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    for room_name in ["search-one", "search-two"] {
        let room = app.create_room(&admin, room_name).await;
        for n in 0..4 {
            ok(app
                .post(
                    &format!("/api/v1/rooms/{room}/messages"),
                    &admin,
                    json!({"body": format!("invoice {n} in {room_name}")}),
                )
                .await)
            .await;
        }
        ok(app
            .post(
                &format!("/api/v1/rooms/{room}/messages"),
                &admin,
                json!({"body": "nothing to find"}),
            )
            .await)
        .await;
    }
    let found = pages_add_up(&app, &admin, "/api/v1/messages/search?q=invoice", 8).await;
    assert!(newest_first(&values(&found, "created_at")), "{found:?}");
    assert!(values(&found, "body").iter().all(|b| b.contains("invoice")));
}

#[tokio::test]
async fn reminders_and_api_keys_page_and_every_one_comes_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    for n in 0..6 {
        // Pairs due at the same minute, so the order falls back on the id.
        let due = app.clock_now() + chrono::Duration::minutes(10 + n / 2);
        ok(app
            .post(
                "/api/v1/reminders",
                &admin,
                json!({"text": format!("reminder {n}"), "due_at": due.to_rfc3339()}),
            )
            .await)
        .await;
        ok(app
            .post(
                "/api/v1/api-keys",
                &admin,
                json!({"name": format!("key {n}")}),
            )
            .await)
        .await;
    }
    let reminders = pages_add_up(&app, &admin, "/api/v1/reminders", 6).await;
    assert!(oldest_first(&values(&reminders, "due_at")), "{reminders:?}");
    let keys = pages_add_up(&app, &admin, "/api/v1/api-keys", 6).await;
    assert!(newest_first(&values(&keys, "created_at")), "{keys:?}");
    let everyones = pages_add_up(&app, &admin, "/api/v1/api-keys?all=true", 6).await;
    assert_eq!(everyones, keys);
}

#[tokio::test]
async fn imports_page_newest_first() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    for n in 0..4 {
        let csv = format!("company_name\nImported {n} GmbH\n");
        let response = app
            .post_file(
                "/api/v1/leads/import?policy=skip&wait=true",
                &admin,
                "text/csv",
                csv.into_bytes(),
            )
            .await;
        assert!(response.status().is_success(), "{}", response.status());
    }
    let jobs = pages_add_up(&app, &admin, "/api/v1/leads/imports", 4).await;
    assert!(newest_first(&values(&jobs, "created_at")), "{jobs:?}");
}

#[tokio::test]
async fn the_due_list_and_the_call_queue_page_and_every_lead_comes_once() {
    let app = TestApp::spawn_with(|c| c.session_idle_minutes = 60 * 24 * 30).await;
    let admin = app.admin_token().await;
    let overdue = (app.clock_now() - chrono::Duration::hours(1)).to_rfc3339();
    for n in 0..3 {
        let lead = ok(app
            .post(
                "/api/v1/leads",
                &admin,
                json!({"company_name": format!("Due {n} GmbH"), "country": "DE"}),
            )
            .await)
        .await["lead"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        for tier in 1..=2 {
            ok(app
                .put_json(
                    &format!("/api/v1/leads/{lead}/follow-ups/{tier}"),
                    &admin,
                    json!({"scheduled_at": overdue}),
                )
                .await)
            .await;
        }
    }
    for n in 0..4 {
        ok(app
            .post(
                "/api/v1/leads",
                &admin,
                json!({"company_name": format!("Fresh {n} GmbH"), "country": "DE"}),
            )
            .await)
        .await;
    }
    let due = pages_add_up(
        &app,
        &admin,
        "/api/v1/follow-ups/due?view=overdue&scope=team",
        6,
    )
    .await;
    assert!(oldest_first(&values(&due, "scheduled_at")), "{due:?}");

    // Next Wednesday 12:00 UTC: 13:00 in Germany, business hours.
    let now = app.clock_now();
    let mut target = now.date_naive().and_hms_opt(12, 0, 0).unwrap().and_utc();
    while target <= now || chrono::Datelike::weekday(&target) != chrono::Weekday::Wed {
        target += chrono::Duration::days(1);
    }
    app.clock.advance(target - now);
    let queue = pages_add_up(&app, &admin, "/api/v1/calls/queue", 7).await;
    let reasons: Vec<&str> = values(&queue, "reason");
    assert_eq!(
        reasons,
        [
            "follow_up_due",
            "follow_up_due",
            "follow_up_due",
            "never_contacted",
            "never_contacted",
            "never_contacted",
            "never_contacted"
        ],
        "{queue:?}"
    );
}

#[tokio::test]
async fn the_document_shows_every_growing_list_as_a_page_with_after_and_limit() {
    let app = TestApp::spawn().await;
    let spec = app.openapi().await;
    let schema_of = |reference: &Value| -> Value {
        let name = reference["$ref"]
            .as_str()
            .unwrap_or_else(|| panic!("a named schema: {reference}"))
            .trim_start_matches("#/components/schemas/")
            .to_string();
        spec["components"]["schemas"][name].clone()
    };
    for path in [
        "/leads/{id}/calls",
        "/leads/{id}/notes",
        "/leads/{id}/timeline",
        "/tasks/{id}/comments",
        "/tasks/{id}/history",
        "/tasks/{id}/files",
        "/messages/search",
        "/follow-ups/due",
        "/calls/queue",
        "/reminders",
        "/api-keys",
        "/leads/imports",
        "/notifications",
        "/audit",
        "/users",
        "/webhooks/{id}/deliveries",
    ] {
        let op = &spec["paths"][path]["get"];
        assert!(op.is_object(), "GET {path} is in the document");
        let params: Vec<&str> = op["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("{path} has parameters"))
            .iter()
            .filter(|p| p["in"] == "query")
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert!(
            params.contains(&"after") && params.contains(&"limit"),
            "{path}: {params:?}"
        );
        let page = schema_of(
            &op["responses"]["200"]["content"]["application/json; charset=utf-8"]["schema"],
        );
        assert_eq!(page["type"], "object", "{path}: {page}");
        assert_eq!(page["properties"]["items"]["type"], "array", "{path}");
        assert_eq!(
            page["properties"]["next_cursor"]["type"], "string",
            "{path}"
        );
        let required: Vec<&str> = page["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        assert!(
            required.contains(&"items") && !required.contains(&"next_cursor"),
            "{path}: items always, next_cursor may be absent: {required:?}"
        );
    }
}

#[tokio::test]
async fn a_page_after_a_cursor_seeks_its_index_to_the_cursor_instead_of_walking_from_the_start() {
    use ea_crm::domain::cursor::{encode_at, TimeOrder};
    let app = TestApp::spawn().await;
    for (table, order, index, scope, seek) in [
        (
            "call",
            TimeOrder::newest_first("call", "at"),
            "call_lead",
            "lead = $owner",
            "LessThanEqual",
        ),
        (
            "task_comment",
            TimeOrder::oldest_first("task_comment", "created_at"),
            "task_comment_task",
            "task = $owner",
            "MoreThanEqual",
        ),
        (
            "reminder",
            TimeOrder::oldest_first("reminder", "due_at"),
            "reminder_user",
            "user = $owner",
            "MoreThanEqual",
        ),
        (
            "notification",
            TimeOrder::newest_first("notification", "created_at"),
            "notification_user_created",
            "user = $owner",
            "LessThanEqual",
        ),
        (
            "webhook_delivery",
            TimeOrder::newest_first("webhook_delivery", "created_at"),
            "webhook_delivery_by_webhook",
            "webhook = $owner",
            "LessThanEqual",
        ),
    ] {
        let bound = order
            .after(Some(&encode_at(chrono::Utc::now(), "c1")))
            .unwrap();
        let (sql, text) = page_plan(&app, table, &order, &bound, &[scope]).await;
        assert!(text.contains(index), "{sql}: {text}");
        assert!(text.contains(seek), "the scan starts at the cursor: {text}");
        assert!(!text.contains("Sort"), "{sql}: {text}");
    }
}

/// The plan of a page of `table` in `order` from `bound` under `conds`
/// (which bind `$owner`), and the statement it is the plan of.
async fn page_plan(
    app: &TestApp,
    table: &str,
    order: &ea_crm::domain::cursor::TimeOrder,
    bound: &ea_crm::domain::cursor::TimeBound,
    conds: &[&str],
) -> (String, String) {
    let sql = format!(
        "{}SELECT * FROM {table} {} {} LIMIT 51 EXPLAIN",
        bound.prelude(),
        bound.filter(conds),
        order.order_by()
    );
    let plan = app
        .ctx()
        .store
        .run(
            &sql,
            json!({"owner": "o", "after_at": bound.at, "after_id": bound.id}),
        )
        .await
        .unwrap();
    let text = plan.value(bound.statements_before()).to_string();
    (sql, text)
}

/// The ids of `items`, in order.
fn ids_of(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| {
            i["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{i}"))
                .to_string()
        })
        .collect()
}

/// Reads `path`, a list of exactly `count` items, whole, then in pages of
/// every size that divides `count` (1, 2 and `count` itself): each walk
/// ends on page `count / limit`, which has no `next_cursor` (no empty page
/// is served after it), with every item once, in the whole list's order.
async fn full_pages_end_the_walk(app: &TestApp, token: &str, path: &str, count: usize) {
    let sep = if path.contains('?') { '&' } else { '?' };
    let whole = ok(app.get(&format!("{path}{sep}limit=200"), token).await).await;
    assert!(whole.get("next_cursor").is_none(), "{path}: {whole}");
    let whole = ids_of(whole["items"].as_array().unwrap());
    assert_eq!(whole.len(), count, "{path}: {whole:?}");
    let mut limits = vec![1, 2, count];
    limits.dedup();
    for limit in limits.into_iter().filter(|l| count % l == 0) {
        let (items, pages) = app.walk_whole_pages(token, path, limit).await;
        assert_eq!(
            pages,
            count / limit,
            "{path} in pages of {limit}: the last full page ends the list"
        );
        assert_eq!(ids_of(&items), whole, "{path} in pages of {limit}");
    }
}

#[tokio::test]
async fn a_list_of_whole_pages_ends_on_its_last_full_page_without_an_empty_one() {
    const COUNT: usize = 4;
    let app = TestApp::spawn_with(crate::webhooks::fast).await;
    let admin = app.admin_token().await;
    let (rep_id, rep) = app.user_with_role(&admin, "pager_rep", "user").await;
    let mut others = Vec::new();
    for n in 0..COUNT - 1 {
        others.push(
            app.user_with_role(&admin, &format!("pager_{n}"), "user")
                .await,
        );
    }

    // Leads: the admin's, in every sort, and a rep's own scope (two owned,
    // two created by them: the two walks merged).
    for n in 0..COUNT {
        app.create_lead(&admin, &format!("Whole Page {n} GmbH"))
            .await;
    }
    for n in 0..COUNT / 2 {
        ok(app
            .post(
                "/api/v1/leads",
                &admin,
                json!({"company_name": format!("Handed {n} Ltd"), "owner": rep_id}),
            )
            .await)
        .await;
        app.create_lead(&rep, &format!("Own {n} Ltd")).await;
    }
    for query in [
        "",
        "?sort=created&order=asc",
        "?sort=updated&order=desc",
        "?sort=company&order=asc",
        "?sort=score&order=desc",
    ] {
        full_pages_end_the_walk(&app, &rep, &format!("/api/v1/leads{query}"), COUNT).await;
    }
    full_pages_end_the_walk(&app, &admin, "/api/v1/leads?q=whole", COUNT).await;
    full_pages_end_the_walk(&app, &admin, "/api/v1/leads", 2 * COUNT).await;

    // A lead's notes.
    let lead = app.create_lead(&admin, "Noted Ltd").await;
    for n in 0..COUNT {
        app.add_note(&admin, &lead, &format!("note {n}")).await;
    }
    full_pages_end_the_walk(&app, &admin, &format!("/api/v1/leads/{lead}/notes"), COUNT).await;

    // Tasks, newest first and soonest due first.
    for n in 0..COUNT {
        app.create_task(&admin, &format!("Whole task {n}")).await;
    }
    full_pages_end_the_walk(&app, &admin, "/api/v1/tasks", COUNT).await;
    full_pages_end_the_walk(&app, &admin, "/api/v1/tasks?sort=due", COUNT).await;

    // Notifications (of someone who has no others): all six, the four
    // left unread, and from `before`.
    let (ann_id, ann) = &others[0];
    let room = crate::chat::group(&app, &admin, "whole-pages", &[ann_id]).await;
    for n in 0..COUNT + 2 {
        crate::chat::say(&app, &admin, &room, &format!("@pager_0 call {n}")).await;
    }
    let newest = ok(app.get("/api/v1/notifications?limit=2", ann).await).await;
    let read = ids_of(newest["items"].as_array().unwrap());
    ok(app
        .post("/api/v1/notifications/read", ann, json!({"ids": read}))
        .await)
    .await;
    full_pages_end_the_walk(&app, ann, "/api/v1/notifications", COUNT + 2).await;
    full_pages_end_the_walk(&app, ann, "/api/v1/notifications?unread=true", COUNT).await;
    let later = (app.clock_now() + chrono::Duration::minutes(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let from_before = |limit: usize| {
        let path = format!("/api/v1/notifications?before={later}&limit={limit}");
        let app = &app;
        async move { ok(app.get(&path, ann).await).await }
    };
    let all = from_before(COUNT + 2).await;
    assert_eq!(all["items"].as_array().unwrap().len(), COUNT + 2, "{all}");
    assert!(all.get("next_cursor").is_none(), "{all}");
    let half = from_before(3).await;
    let rest = ok(app
        .get(
            &format!(
                "/api/v1/notifications?limit=3&after={}",
                half["next_cursor"].as_str().unwrap()
            ),
            ann,
        )
        .await)
    .await;
    assert!(rest.get("next_cursor").is_none(), "{rest}");
    let mut both = ids_of(half["items"].as_array().unwrap());
    both.extend(ids_of(rest["items"].as_array().unwrap()));
    assert_eq!(both, ids_of(all["items"].as_array().unwrap()));

    // A webhook's delivery log (the clock stands still: one instant, so
    // the order falls back on the id).
    let receiver = crate::webhooks::Receiver::start(0).await;
    let (hook, _) =
        crate::webhooks::register(&app, &admin, &receiver.url, json!(["note.deleted"])).await;
    for _ in 0..COUNT {
        ok(app
            .post(&format!("/api/v1/webhooks/{hook}/test"), &admin, json!({}))
            .await)
        .await;
    }
    receiver.wait_for(COUNT).await;
    full_pages_end_the_walk(
        &app,
        &admin,
        &format!("/api/v1/webhooks/{hook}/deliveries"),
        COUNT,
    )
    .await;

    // Users, by username (the search keeps the admin out).
    full_pages_end_the_walk(&app, &admin, "/api/v1/users?q=pager_", COUNT).await;
}

/// The notification list's other starts and filter stay on the same walk:
/// unread only (a filter on the walk, not a second index and a sort), and
/// the old `before` (a seek to that instant).
#[tokio::test]
async fn unread_notifications_and_those_before_an_instant_walk_the_user_and_time_index() {
    use ea_crm::domain::cursor::{encode_at, TimeOrder};
    let app = TestApp::spawn().await;
    let order = TimeOrder::newest_first("notification", "created_at");
    let now = chrono::Utc::now();
    for (bound, seek) in [
        (order.after(None).unwrap(), None),
        (
            order.after(Some(&encode_at(now, "n1"))).unwrap(),
            Some("LessThanEqual"),
        ),
        (order.past(now), Some("LessThan ")),
    ] {
        for conds in [
            &["user = $owner"][..],
            &["user = $owner", "read_at IS NONE"][..],
        ] {
            let (sql, text) = page_plan(&app, "notification", &order, &bound, conds).await;
            assert!(text.contains("notification_user_created"), "{sql}: {text}");
            assert!(!text.contains("Sort"), "{sql}: {text}");
            if let Some(seek) = seek {
                assert!(text.contains(seek), "the scan starts at the bound: {text}");
            }
        }
    }
}
