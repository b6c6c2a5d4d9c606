//! Accessibility: every page of the panel, signed out and signed in, in the
//! light and the dark scheme, checked with axe-core (labels on inputs,
//! names of buttons and links, image alternatives, ARIA, contrast) and by
//! a keyboard walk that every focused element shows its focus.
//!
//! axe-core is not vendored: `.ci/run` installs it from npm, pinned, into
//! a cache outside the clone (see `harness::axe_script_path`). The script
//! is evaluated by the WebDriver (the DevTools protocol), not loaded by the
//! page, so the panel's Content-Security-Policy stays as it is.

use chrono::Utc;
use serde_json::{json, Value};

use crate::harness::{axe_script_path, Browser, Panel};

/// Runs axe on the page and hands back one line per element that breaks a
/// rule of serious or critical impact.
const RUN_AXE: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, { resultTypes: ['violations'] }).then((r) => done(
  r.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .flatMap((v) => v.nodes.map((n) => v.id + ' (' + v.impact + ') at ' + n.target.join(' ')
      + ': ' + (n.failureSummary || v.help).replace(/\s+/g, ' ')))
)).catch((e) => done(['axe failed: ' + e]));
"#;

/// Records what each element focused from now on shows of its focus.
const WATCH_FOCUS: &str = r#"
window.__focusSeen = [];
if (!window.__focusWatched) window.__focusWatched = document.addEventListener('focusin', (e) => {
  const t = e.target;
  const s = getComputedStyle(t);
  const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
  const shadow = s.boxShadow && s.boxShadow !== 'none';
  const name = t.tagName.toLowerCase() + (t.id ? '#' + t.id : '')
    + (t.getAttribute('aria-label') ? '[aria-label="' + t.getAttribute('aria-label') + '"]' : '')
    + ' "' + (t.textContent || t.value || '').trim().slice(0, 30) + '"';
  window.__focusSeen.push({ name, visible: outline || shadow });
}) || true;
"#;

/// Opens every fold (`details`), so the forms inside are checked too.
const OPEN_FOLDS: &str = "document.querySelectorAll('details').forEach((d) => { d.open = true; });";

/// Waits until the page's content stops changing (its loads are done).
const SETTLE: &str = r#"
const done = arguments[arguments.length - 1];
let last = -1, same = 0, tries = 0;
const tick = () => {
  const n = document.body.innerHTML.length;
  same = n === last ? same + 1 : 0;
  last = n;
  if (same >= 3 || ++tries > 40) done(true); else setTimeout(tick, 120);
};
tick();
"#;

/// What breaks the checks on the page as it is now, one line a finding.
async fn findings(b: &Browser, axe: &str, tabs: usize) -> Vec<String> {
    b.script_async(SETTLE, vec![]).await;
    b.script(OPEN_FOLDS).await;
    b.script_async(SETTLE, vec![]).await;
    if b.script("return typeof window.axe").await != json!("object") {
        b.script(&format!("{axe}\n;return true;")).await;
    }
    let mut found: Vec<String> =
        serde_json::from_value(b.script_async(RUN_AXE, vec![]).await).unwrap();
    if tabs > 0 {
        b.script(WATCH_FOCUS).await;
        b.press_tab(tabs).await;
        let seen = b.script("return window.__focusSeen").await;
        let seen = seen.as_array().unwrap();
        if seen.is_empty() {
            found.push("keyboard: Tab moved the focus nowhere".into());
        }
        for f in seen {
            if f["visible"] != json!(true) {
                found.push(format!(
                    "focus-visible: {} shows no outline when focused",
                    f["name"].as_str().unwrap_or("?")
                ));
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

/// Something on every page to show: leads (one in the trash), contacts,
/// notes, a call, a task with a comment, a room with messages, a reply and
/// a reaction, an import, a webhook with more deliveries than a page, an
/// API key, a custom role and a second user. Returns the lead, task, room
/// and webhook ids.
async fn fill(panel: &Panel) -> (String, String, String, String) {
    let admin = panel.admin().await;
    let bea = panel.user("bea", "user").await;
    let lead = panel
        .api(
            &admin,
            "POST",
            "/leads",
            json!({"company_name": "Northwind GmbH", "website": "https://northwind.example",
                   "industry": "Retail", "country": "DE", "tags": ["fair"],
                   "contacts": [{"name": "Nancy Davolio", "email": "nancy@northwind.example",
                                 "phone": "+4930123456", "position": "Buyer"}]}),
        )
        .await;
    let lead = id(&lead["lead"]);
    panel
        .api(
            &admin,
            "POST",
            "/leads",
            json!({"company_name": "Northwind Trading", "website": "https://www.northwind.example/about",
                   "allow_duplicate": true}),
        )
        .await;
    let gone = panel
        .api(
            &admin,
            "POST",
            "/leads",
            json!({"company_name": "Gone Ltd"}),
        )
        .await;
    panel
        .api(
            &admin,
            "DELETE",
            &format!("/leads/{}", id(&gone["lead"])),
            json!(null),
        )
        .await;
    panel
        .api(
            &admin,
            "POST",
            &format!("/leads/{lead}/notes"),
            json!({"text": "Wants a quote"}),
        )
        .await;
    panel
        .api(
            &admin,
            "POST",
            &format!("/leads/{lead}/calls"),
            json!({"outcome": "connected", "notes": "Call back Monday"}),
        )
        .await;
    let me = panel.api(&admin, "GET", "/auth/me", Value::Null).await;
    let task = panel
        .api(
            &admin,
            "POST",
            "/tasks",
            json!({"title": "Print the flyers", "description": "Two sides", "task_type": "print",
                   "assignee": me["user"]["id"], "lead": lead,
                   "due_at": Utc::now() - chrono::Duration::hours(2),
                   "checklist": [{"text": "Proof", "done": true}, {"text": "Print", "done": false}]}),
        )
        .await;
    let task = id(&task);
    panel
        .api(
            &admin,
            "POST",
            &format!("/tasks/{task}/comments"),
            json!({"body": "@bea please check"}),
        )
        .await;
    let room = panel
        .api(
            &admin,
            "POST",
            "/rooms",
            json!({"name": "general", "kind": "channel", "topic": "Everything"}),
        )
        .await;
    let room = id(&room);
    panel
        .api(&bea, "POST", &format!("/rooms/{room}/join"), json!({}))
        .await;
    let first = panel
        .api(
            &admin,
            "POST",
            &format!("/rooms/{room}/messages"),
            json!({"body": "Hello **team**, see https://example.com"}),
        )
        .await;
    let first = first["id"].as_str().or(first["message"]["id"].as_str());
    panel
        .api(
            &bea,
            "POST",
            &format!("/rooms/{room}/messages"),
            json!({"body": "@admin on it", "reply_to": first}),
        )
        .await;
    panel
        .post_bytes(
            &admin,
            "/leads/import?wait=true&name=fair.csv",
            "text/csv",
            b"Company,Email\nContoso,kim@contoso.example\n,bad@example.com\n",
        )
        .await;
    panel
        .api(&admin, "POST", "/api-keys", json!({"name": "reporting"}))
        .await;
    panel
        .api(
            &admin,
            "POST",
            "/roles",
            json!({"key": "reviewer", "name": "Reviewer", "description": "Reads the audit log"}),
        )
        .await;
    // Nothing listens on port 9: each delivery is tried and fails.
    let hook = panel
        .api(
            &admin,
            "POST",
            "/webhooks",
            json!({"url": "http://127.0.0.1:9/hook", "topics": ["lead.created"]}),
        )
        .await;
    let hook = id(&hook["webhook"]);
    panel.failed_deliveries(&admin, &hook, 51, 51).await;
    (lead, task, room, hook)
}

pub async fn every_page_passes_the_accessibility_checks_in_both_schemes() {
    let Some(axe_path) = axe_script_path() else {
        panic!(
            "axe-core's axe.min.js is not installed; .ci/run installs it (or set EA_CRM_AXE_JS)"
        );
    };
    let axe = std::fs::read_to_string(&axe_path).unwrap();
    let Some(panel) = Panel::start_with(|c| {
        c.webhook_poll_ms = 50;
        c.webhook_backoff_base_seconds = 60;
        c.webhook_max_attempts = 3;
        c.webhook_allow_private = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await
    else {
        return;
    };
    let (lead, task, room, hook) = fill(&panel).await;
    // Each page with what shows it is loaded.
    let pages: Vec<(String, &str)> = vec![
        ("#/dashboard".into(), "#my-tasks"),
        ("#/leads".into(), "#leads-table tbody tr"),
        (format!("#/leads/{lead}"), "#timeline li"),
        ("#/calls".into(), "#call-queue"),
        ("#/trash".into(), "#trash-table tbody tr"),
        ("#/tasks/board".into(), "#task-board"),
        ("#/tasks/list".into(), "#task-table tbody tr"),
        (format!("#/tasks/{task}"), "#task-comments"),
        ("#/analytics/marketing".into(), "#breakdown"),
        ("#/analytics/production".into(), "#overdue-list"),
        ("#/import".into(), "#import-history li"),
        (format!("#/chat/{room}"), "#messages li"),
        ("#/duplicates".into(), "#duplicates"),
        ("#/patterns".into(), "#patterns"),
        ("#/admin/users".into(), "#users-table"),
        ("#/admin/roles".into(), "#role-matrix"),
        ("#/admin/api-keys".into(), "main li"),
        ("#/admin/audit".into(), "#audit-table tbody tr"),
        ("#/admin/pipeline".into(), "main textarea"),
        ("#/admin/webhooks".into(), "#webhook-list li"),
        ("#/admin/bots".into(), "main h2"),
        ("#/admin/maintenance".into(), "#maintenance-form"),
        ("#/admin/features".into(), "#feature-switches"),
        ("#/admin/ai".into(), "#ai-fit"),
        ("#/account".into(), "#profile-form"),
    ];
    let mut report = Vec::new();
    for dark in [false, true] {
        let scheme = if dark { "dark" } else { "light" };
        let b = panel.browser_with(1280, 900, dark).await;
        b.goto(&panel, "").await;
        b.find("#login-form").await;
        assert_eq!(
            b.script("return matchMedia('(prefers-color-scheme: dark)').matches")
                .await,
            json!(dark),
            "the {scheme} scheme is not in force"
        );
        for f in findings(&b, &axe, 8).await {
            report.push(format!("{scheme} sign-in: {f}"));
        }
        b.login(&panel, "admin", crate::harness::ADMIN_PASSWORD)
            .await;
        for (hash, ready) in &pages {
            b.goto(&panel, hash).await;
            b.find(ready).await;
            for f in findings(&b, &axe, 25).await {
                report.push(format!("{scheme} {hash}: {f}"));
            }
        }
        // The webhook's delivery log, paged with Older, and a rotated secret.
        let row = format!("li[data-webhook=\"{hook}\"]");
        b.goto(&panel, "#/admin/webhooks").await;
        b.click(&format!("{row} button[data-action=deliveries]"))
            .await;
        b.find(&format!("{row} tr[data-delivery]")).await;
        b.find(&format!("{row} button[data-action=older]:not([hidden])"))
            .await;
        for f in findings(&b, &axe, 0).await {
            report.push(format!("{scheme} webhook deliveries: {f}"));
        }
        b.click(&format!("{row} button[data-action=older]")).await;
        b.find(&format!("{row} button[data-action=older][hidden]"))
            .await;
        b.click(&format!("{row} button[data-action=rotate]")).await;
        b.accept_dialog().await;
        b.find(&format!("{row} .secret-value")).await;
        for f in findings(&b, &axe, 0).await {
            report.push(format!("{scheme} webhook secret rotated: {f}"));
        }
        b.close().await;
    }
    assert!(
        report.is_empty(),
        "{} accessibility findings:\n{}",
        report.len(),
        report.join("\n")
    );
}
