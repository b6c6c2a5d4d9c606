//! The task board and the Production dashboard in a real browser.

use std::time::Duration;

use chrono::Utc;
use serde_json::{json, Value};

use crate::harness::Panel;

async fn task(panel: &Panel, token: &str, body: Value, status: &str) -> String {
    let created = panel.api(token, "POST", "/tasks", body).await;
    let id = created["id"].as_str().unwrap().to_string();
    if status != "todo" {
        panel
            .api(
                token,
                "PATCH",
                &format!("/tasks/{id}"),
                json!({"status": status}),
            )
            .await;
    }
    id
}

pub async fn a_production_manager_moves_a_task_to_done_and_the_dashboard_counts_it() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let admin = panel.admin().await;
    let pam = panel.user("pam", "production_manager").await;
    panel.user("ann", "user").await;
    let now = Utc::now();
    let flyers = task(
        &panel,
        &pam,
        json!({"title": "Print the Northwind flyers", "task_type": "print", "assignee": "ann",
               "priority": "high", "due_at": now + chrono::Duration::hours(5)}),
        "review",
    )
    .await;
    task(
        &panel,
        &pam,
        json!({"title": "Design the Contoso logo", "task_type": "design", "assignee": "pam",
               "priority": "urgent", "due_at": now - chrono::Duration::hours(6)}),
        "in_progress",
    )
    .await;
    let catalogue = task(
        &panel,
        &pam,
        json!({"title": "Proof the spring catalogue", "task_type": "print", "assignee": "ann",
               "due_at": now + chrono::Duration::days(6)}),
        "todo",
    )
    .await;
    task(
        &panel,
        &pam,
        json!({"title": "Pack the trade-fair kit", "task_type": "logistics"}),
        "todo",
    )
    .await;

    let b = panel.signed_in("pam", 1280, 1000).await;
    b.goto(&panel, "#/analytics/production").await;
    b.wait_exact("#kpi-open .kpi-value", "4").await;
    b.wait_exact("#kpi-overdue .kpi-value", "1").await;
    b.wait_exact("#kpi-done .kpi-value", "0").await;

    b.goto(&panel, "#/tasks/board").await;
    let card = format!(".column[data-status=review] .task-card[data-task='{flyers}']");
    let moved = format!(".column[data-status=done] .task-card[data-task='{flyers}']");
    b.find(&card).await;
    b.wait_text(".task-card.due-overdue", "Overdue").await;
    b.wait_text(".task-card.due-soon", "Due soon").await;
    b.drag(&card, ".column[data-status=done] .cards").await;
    if !b.appears(&moved, Duration::from_secs(3)).await {
        // Chromium's WebDriver does not turn pointer actions into a native
        // HTML5 drag, so the same drag events are fired inside the page.
        println!(
            "WebDriver pointer drag started no HTML5 drag; firing the drag events in the page"
        );
        b.html5_drag(&card, ".column[data-status=done]").await;
    }
    b.find(&moved).await;
    b.wait_text(".toasts", "moved to Done").await;

    let after = panel
        .api(&pam, "GET", &format!("/tasks/{flyers}"), Value::Null)
        .await;
    assert_eq!(after["status"], "done", "{after}");
    assert!(after["completed_at"].is_string(), "{after}");
    let history = panel
        .api(
            &pam,
            "GET",
            &format!("/tasks/{flyers}/history"),
            Value::Null,
        )
        .await;
    assert!(
        history["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["field"] == "status"
                && r["new"].as_str().is_some_and(|n| n.contains("done"))
                && r["actor_name"].as_str().is_some()),
        "{history}"
    );

    // The keyboard way: `]` on a focused card moves it one column right.
    let catalogue_card = format!(".task-card[data-task='{catalogue}']");
    b.find(&format!(".column[data-status=todo] {catalogue_card}"))
        .await;
    b.key(&catalogue_card, "]").await;
    b.find(&format!(
        ".column[data-status=in_progress] {catalogue_card}"
    ))
    .await;
    let catalogue_now = panel
        .api(&pam, "GET", &format!("/tasks/{catalogue}"), Value::Null)
        .await;
    assert_eq!(catalogue_now["status"], "in_progress", "{catalogue_now}");
    // The board re-rendered with focus still on the moved card.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let focused = b
            .script("return document.activeElement && document.activeElement.dataset.task || null")
            .await;
        if focused == json!(catalogue) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "focus left the moved card: {focused}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.screenshot("tasks-board").await;

    b.goto(&panel, "#/analytics/production").await;
    b.wait_exact("#kpi-done .kpi-value", "1").await;
    b.wait_exact("#kpi-open .kpi-value", "3").await;
    b.wait_content("#chart-workload table", "In progress").await;
    b.wait_text("#chart-throughput figcaption", "1 in all")
        .await;
    b.wait_content("#chart-cycle table", "ann").await;
    b.screenshot("dashboard").await;

    // The Marketing dashboard over the same range counts a new lead.
    panel
        .api(
            &admin,
            "POST",
            "/leads",
            json!({"company_name": "Northwind", "source": "web"}),
        )
        .await;
    b.click("#dash-marketing-tab").await;
    b.wait_exact("#kpi-leads .kpi-value", "1").await;
    b.wait_content("#chart-funnel table", "New").await;
    b.wait_content("#chart-leads-by table", "web").await;
    b.close().await;
}

pub async fn a_task_page_edits_fields_checklist_time_and_shows_comments_live() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let pam = panel.user("pam", "production_manager").await;
    let ann = panel.user("ann", "user").await;
    let id = task(
        &panel,
        &pam,
        json!({"title": "Print the Northwind flyers", "task_type": "print", "assignee": "ann",
               "estimate_minutes": 120}),
        "in_progress",
    )
    .await;

    let b = panel.signed_in("pam", 390, 844).await;
    b.goto(&panel, &format!("#/tasks/{id}")).await;
    b.wait_text("#task-title", "Print the Northwind flyers")
        .await;

    b.select("#task-edit-priority", "urgent").await;
    b.click("#task-save").await;
    b.wait_text("#task-history-table", "priority").await;

    b.type_into("#checklist-new", "Check the bleed").await;
    b.click("#task-checklist form button[type=submit]").await;
    b.wait_text("#task-checklist", "0 of 1 done").await;
    b.click("#check-0").await;
    b.wait_text("#task-checklist", "1 of 1 done").await;

    b.type_into("#log-minutes", "30").await;
    b.click("#task-time form button[type=submit]").await;
    b.wait_text("#task-logged", "30m of 2h").await;

    let saved = panel
        .api(&pam, "GET", &format!("/tasks/{id}"), Value::Null)
        .await;
    assert_eq!(saved["priority"], "urgent", "{saved}");
    assert_eq!(saved["logged_minutes"], 30, "{saved}");
    assert_eq!(saved["checklist"][0]["text"], "Check the bleed");
    assert_eq!(saved["checklist"][0]["done"], true);

    // A comment with an @mention taken from the suggestions.
    b.type_into("#task-comment-input", "Looks good @an").await;
    b.wait_text("#task-comment-form .suggest", "@ann").await;
    b.key("#task-comment-input", "\u{E004}").await; // Tab takes it
    b.type_into("#task-comment-input", "please send today")
        .await;
    b.click("#task-comment-form button[type=submit]").await;
    b.wait_text("#task-comments", "Looks good @ann please send today")
        .await;
    let unread = panel
        .api(&ann, "GET", "/notifications/unread-count", Value::Null)
        .await;
    assert!(unread["unread_count"].as_u64().unwrap() >= 1, "{unread}");

    // Someone else's comment shows up without a reload.
    panel
        .api(
            &ann,
            "POST",
            &format!("/tasks/{id}/comments"),
            json!({"body": "Sent to the printer"}),
        )
        .await;
    b.wait_text("#task-comments", "Sent to the printer").await;

    // Files: the section works against the attachments API where the
    // server has it, and says it is unavailable where it answers 404.
    if panel.status(&pam, &format!("/tasks/{id}/files")).await == 404 {
        b.wait_text("#task-files-unavailable", "not available")
            .await;
    } else {
        let dir = tempfile::tempdir().unwrap();
        let proof = dir.path().join("proof.txt");
        std::fs::write(&proof, "flyer proof\n").unwrap();
        b.find("#task-file-input")
            .await
            .send_keys(proof.to_str().unwrap())
            .await
            .unwrap();
        b.click("#task-file-form button[type=submit]").await;
        b.wait_text("#task-file-list", "proof.txt").await;
        let files = panel
            .api(&pam, "GET", &format!("/tasks/{id}/files"), Value::Null)
            .await;
        assert_eq!(files["items"][0]["name"], "proof.txt", "{files}");
    }
    b.close().await;
}
