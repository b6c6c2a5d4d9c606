//! Hostile text in everything the panel shows: leads, contacts, follow-ups,
//! calls, notes, tasks, comments, file names, rooms, messages, mentions and a
//! display name. Every page that shows them must show them as text: no
//! payload runs, no element the data built carries an `on…` attribute, and
//! no link or source points at `javascript:`.
//!
//! The page's Content-Security-Policy forbids inline script, so a payload
//! that reached the DOM would usually not run: the DOM checks, not
//! `window.__xss`, are what catch markup built from data.

use chrono::Utc;
use serde_json::{json, Value};

use crate::harness::{Browser, Panel};

const IMG: &str = r#"<img src=x onerror="window.__xss=1">"#;
const SCRIPT: &str = "<script>window.__xss=2</script>";
const SVG: &str = r#""><svg onload="window.__xss=3">"#;
const JS_URL: &str = "javascript:window.__xss=4";
/// Upload names lose `"` and everything before a `/`, so these have neither.
const CHAT_FILE: &str = "<img src=x onerror=window.__xss=5>.txt";
const TASK_FILE: &str = "<svg onload=window.__xss=6>.txt";

/// What the page would show if data had become markup, one line a finding.
const FINDINGS: &str = r#"
const bad = [];
if (window.__xss !== undefined) bad.push('a payload ran: window.__xss = ' + window.__xss);
for (const e of document.querySelectorAll('*')) {
  for (const a of e.attributes) {
    if (a.name.toLowerCase().startsWith('on')) bad.push(e.tagName + ' has ' + a.name + '=' + a.value);
    const v = a.value.replace(/[\s\u0000-\u001f]/g, '').toLowerCase();
    if (['href', 'src', 'action', 'formaction', 'xlink:href'].includes(a.name.toLowerCase()) && v.startsWith('javascript:')) {
      bad.push(e.tagName + ' ' + a.name + '=' + a.value);
    }
  }
}
for (const e of document.querySelectorAll('img[src=x], svg[onload], script:not([src])')) {
  bad.push('injected ' + e.outerHTML.slice(0, 100));
}
return bad;
"#;

/// Asserts that nothing on the current page came from data as markup.
async fn assert_inert(b: &Browser, page: &str) {
    let findings = b.script(FINDINGS).await;
    assert_eq!(
        findings,
        json!([]),
        "{page}: hostile data became markup or ran"
    );
    assert_eq!(
        b.script("return window.__xss === undefined").await,
        json!(true),
        "{page}: a payload ran"
    );
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

pub async fn hostile_text_renders_as_text_on_every_page() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let admin = panel.admin().await;
    let me = panel.api(&admin, "GET", "/auth/me", Value::Null).await;
    let admin_id = me["user"]["id"].as_str().unwrap().to_string();
    panel
        .api(
            &admin,
            "PATCH",
            &format!("/users/{admin_id}"),
            json!({"display_name": IMG}),
        )
        .await;
    let bea = panel.user("bea", "user").await;

    // Fields the panel could make links of refuse anything but web addresses.
    for body in [
        json!({"company_name": "Safe Ltd", "website": JS_URL}),
        json!({"company_name": "Safe Ltd", "contacts": [{"name": "Jo", "linkedin": JS_URL}]}),
        json!({"company_name": "Safe Ltd", "contacts": [{"name": "Jo", "email": JS_URL}]}),
        json!({"company_name": "Safe Ltd", "contacts": [{"name": "Jo", "phone": JS_URL}]}),
    ] {
        assert_eq!(
            panel
                .api_status(&admin, "POST", "/leads", body.clone())
                .await,
            422,
            "{body}"
        );
    }

    let company_a = format!("{IMG} Hostile Ltd");
    let company_b = format!("{SCRIPT} Hostile Ltd");
    let lead_a = panel
        .api(
            &admin,
            "POST",
            "/leads",
            json!({"company_name": company_a, "website": "https://hostile-example.com",
                   "industry": SCRIPT, "source": SVG, "tags": [JS_URL],
                   "contacts": [{"name": format!("{SVG} Jane"), "position": IMG,
                                 "email": "jane@hostile-example.com", "phone": "+14155550100",
                                 "linkedin": "https://linkedin.com/in/jane"}]}),
        )
        .await;
    let lead_a = id(&lead_a["lead"]);
    // The same domain: a relation on the map and a likely duplicate.
    panel
        .api(
            &admin,
            "POST",
            "/leads",
            // A duplicate of the first on purpose: the duplicates page shows both.
            json!({"company_name": company_b, "website": "https://www.hostile-example.com/about",
                   "allow_duplicate": true}),
        )
        .await;
    panel
        .api(
            &admin,
            "PUT",
            &format!("/leads/{lead_a}/follow-ups/1"),
            json!({"outcome": "done", "notes": format!("{IMG} {JS_URL}")}),
        )
        .await;
    panel
        .api(
            &admin,
            "POST",
            &format!("/leads/{lead_a}/calls"),
            json!({"outcome": "connected", "notes": format!("{SCRIPT} {JS_URL}")}),
        )
        .await;
    panel
        .api(
            &admin,
            "POST",
            &format!("/leads/{lead_a}/notes"),
            json!({"text": format!("{SVG} note {JS_URL}")}),
        )
        .await;
    let lead_room = panel
        .api(
            &admin,
            "POST",
            "/rooms",
            json!({"name": company_a, "kind": "group", "subject_kind": "lead", "subject_id": lead_a}),
        )
        .await;
    panel
        .api(
            &admin,
            "POST",
            &format!("/rooms/{}/messages", id(&lead_room)),
            json!({"body": format!("{SVG} about the deal")}),
        )
        .await;

    let room = panel
        .api(
            &admin,
            "POST",
            "/rooms",
            json!({"name": format!("{SVG} room"), "kind": "channel", "topic": IMG}),
        )
        .await;
    let room = id(&room);
    panel
        .api(&bea, "POST", &format!("/rooms/{room}/join"), json!({}))
        .await;
    panel
        .api(
            &admin,
            "POST",
            &format!("/rooms/{room}/messages"),
            json!({"body": format!("@bea {IMG} see {JS_URL} and https://ok.example/{SCRIPT}")}),
        )
        .await;
    panel
        .api(
            &bea,
            "POST",
            &format!("/rooms/{room}/messages"),
            json!({"body": format!("@admin {SCRIPT} {JS_URL}")}),
        )
        .await;
    panel
        .upload(
            &admin,
            &format!("/rooms/{room}/files"),
            &[("caption", &format!("{SVG} caption"))],
            CHAT_FILE,
            b"hello",
        )
        .await;

    let task = panel
        .api(
            &admin,
            "POST",
            "/tasks",
            json!({"title": format!("{IMG} task"), "description": SCRIPT, "task_type": "design",
                   "assignee": admin_id, "lead": lead_a,
                   "due_at": Utc::now() - chrono::Duration::hours(2),
                   "checklist": [{"text": SVG, "done": false}]}),
        )
        .await;
    let task = id(&task);
    panel
        .api(
            &admin,
            "POST",
            &format!("/tasks/{task}/comments"),
            json!({"body": format!("@bea {SVG} {JS_URL}")}),
        )
        .await;
    panel
        .upload(
            &admin,
            &format!("/tasks/{task}/files"),
            &[],
            TASK_FILE,
            b"hello",
        )
        .await;

    let b = panel.signed_in("admin", 1280, 1000).await;

    // The dashboard: the display name, my tasks, the unread mention.
    b.wait_text("#whoami", "<img src=x onerror=").await;
    b.wait_text("#my-tasks", "<img src=x onerror=").await;
    b.wait_text("main", &format!("@bea mentioned you: @admin {SCRIPT}"))
        .await;
    assert_inert(&b, "dashboard").await;

    b.goto(&panel, "#/leads").await;
    b.wait_text("#leads-table", &company_a).await;
    b.wait_text("#leads-table", &company_b).await;
    assert_inert(&b, "leads").await;

    b.type_into("#lead-search", "hostile").await;
    b.click("form[role=search] button[type=submit]").await;
    b.wait_text("#leads-table", &company_a).await;
    assert_inert(&b, "lead search").await;

    b.goto(&panel, &format!("#/leads/{lead_a}")).await;
    b.wait_text("#lead-title", &company_a).await;
    b.wait_text(".facts", SCRIPT).await;
    b.wait_text(".facts", SVG).await;
    b.wait_text(".facts", JS_URL).await;
    b.wait_text("main", &format!("{SVG} Jane")).await;
    b.wait_text("main", &format!("{SCRIPT} {JS_URL}")).await;
    b.wait_text("#timeline", &format!("discussion: {SVG} about the deal"))
        .await;
    b.wait_text("#notes-list", &format!("{SVG} note {JS_URL}"))
        .await;
    b.wait_text("#timeline", &format!("note: {SVG} note")).await;
    b.wait_text("#relations-list", &company_b).await;
    b.find("#fu-notes-1").await;
    assert_eq!(
        b.script("return document.querySelector('#fu-notes-1').value")
            .await,
        json!(format!("{IMG} {JS_URL}"))
    );
    assert_inert(&b, "lead detail").await;

    b.goto(&panel, "#/duplicates").await;
    b.wait_text("#duplicates", &company_b).await;
    assert_inert(&b, "duplicates").await;

    b.goto(&panel, "#/tasks/board").await;
    b.wait_text("#task-board", "<img src=x onerror=").await;
    b.wait_text("#task-board", &company_a).await;
    assert_inert(&b, "task board").await;

    b.goto(&panel, "#/tasks/list").await;
    b.wait_text("#task-table", &format!("{IMG} task")).await;
    assert_inert(&b, "task list").await;

    b.goto(&panel, &format!("#/tasks/{task}")).await;
    b.wait_text("#task-title", &format!("{IMG} task")).await;
    b.wait_text("#task-comments", &format!("@bea {SVG} {JS_URL}"))
        .await;
    b.wait_text("#task-checklist", SVG).await;
    b.wait_text("#task-file-list", TASK_FILE).await;
    b.wait_text("#task-history-table", TASK_FILE).await;
    assert_eq!(
        b.script("return document.querySelector('#task-edit-description').value")
            .await,
        json!(SCRIPT)
    );
    assert_inert(&b, "task detail").await;

    b.goto(&panel, &format!("#/chat/{room}")).await;
    b.wait_text("#room-list", &format!("# {SVG} room")).await;
    b.wait_text("#room-list", &company_a).await;
    b.wait_text(".room-pane h2", &format!("# {SVG} room")).await;
    b.wait_text(".room-pane", IMG).await;
    b.wait_text("#messages", &format!("@bea {IMG} see {JS_URL}"))
        .await;
    b.wait_text("#messages", &format!("@admin {SCRIPT} {JS_URL}"))
        .await;
    b.wait_text("#messages", &format!("{SVG} caption")).await;
    // A live message and its mention toast come through the socket.
    panel
        .api(
            &bea,
            "POST",
            &format!("/rooms/{room}/messages"),
            json!({"body": format!("@admin {IMG} live")}),
        )
        .await;
    b.wait_text("#messages", &format!("@admin {IMG} live"))
        .await;
    b.wait_text(".toasts", &format!("mentioned you: @admin {IMG} live"))
        .await;
    assert_inert(&b, "chat room").await;

    b.goto(&panel, &format!("#/chat/{}", id(&lead_room))).await;
    b.wait_text("#messages", &format!("{SVG} about the deal"))
        .await;
    assert_inert(&b, "lead discussion room").await;

    b.goto(&panel, "#/analytics/marketing").await;
    b.wait_content("#breakdown", SVG).await;
    b.select("#leads-by", "industry").await;
    b.wait_content("#breakdown", SCRIPT).await;
    assert_inert(&b, "marketing dashboard").await;

    b.goto(&panel, "#/analytics/production").await;
    b.wait_text("#overdue-list", &format!("{IMG} task")).await;
    assert_inert(&b, "production dashboard").await;

    b.goto(&panel, "#/admin/users").await;
    b.wait_text("main table", "bea@example.com").await;
    assert_inert(&b, "users").await;

    b.goto(&panel, "#/admin/audit").await;
    b.wait_text("main table", "<img src=x onerror=").await;
    assert_inert(&b, "audit log").await;

    b.close().await;
}
