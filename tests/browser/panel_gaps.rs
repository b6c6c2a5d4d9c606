//! The API operations that had no place in the panel (#15): a webhook's
//! delivery log and secret rotation, the after-third-follow-up setting, the
//! time-to-first-contact table on the dashboards and the lead-fit model on
//! the AI page.

use std::time::Duration;

use serde_json::json;

use crate::harness::{Panel, ADMIN_PASSWORD};

pub async fn a_webhook_test_delivery_shows_in_its_log_and_its_secret_rotates() {
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
    let admin = panel.admin().await;
    // Nothing listens on port 9: the delivery is tried and fails.
    let created = panel
        .api(
            &admin,
            "POST",
            "/webhooks",
            json!({"url": "http://127.0.0.1:9/hook", "topics": ["lead.created"]}),
        )
        .await;
    let id = created["webhook"]["id"].as_str().unwrap().to_string();
    let first_secret = created["secret"].as_str().unwrap().to_string();

    let b = panel.signed_in("admin", 390, 844).await;
    b.goto(&panel, "#/admin/webhooks").await;
    let row = format!("li[data-webhook=\"{id}\"]");
    b.click(&format!("{row} button[data-action=test]")).await;
    b.wait_text(".toasts", "Test event queued").await;

    // The delivery is logged once the event fans out.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let page = panel
            .api(
                &admin,
                "GET",
                &format!("/webhooks/{id}/deliveries"),
                json!(null),
            )
            .await;
        if page["items"].as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{page}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.click(&format!("{row} button[data-action=deliveries]"))
        .await;
    b.wait_content(&format!("{row} .webhook-deliveries tbody"), "webhook.test")
        .await;
    let head = b
        .find(&format!("{row} .webhook-deliveries thead"))
        .await
        .prop("textContent")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(
        head.contains("Attempts") && head.contains("Last error"),
        "{head}"
    );

    // Fifty more: the log shows the newest fifty, and "Older" the rest.
    panel.failed_deliveries(&admin, &id, 50, 51).await;
    let count = format!(
        "return document.querySelectorAll('li[data-webhook=\"{id}\"] tr[data-delivery]').length"
    );
    b.click(&format!("{row} button[data-action=refresh]")).await;
    wait_for(&b, &count, 50).await;
    b.click(&format!("{row} button[data-action=older]")).await;
    wait_for(&b, &count, 51).await;
    let older_hidden = b
        .script(&format!("return document.querySelector('li[data-webhook=\"{id}\"] button[data-action=older]').hidden"))
        .await;
    assert_eq!(older_hidden, json!(true));

    // Rotating asks first, then shows the new secret once.
    b.click(&format!("{row} button[data-action=rotate]")).await;
    b.accept_dialog().await;
    b.wait_text(".toasts", "Secret rotated").await;
    let shown = b
        .find(&format!("{row} .secret-value"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!shown.is_empty());
    assert_ne!(shown, first_secret);
}

pub async fn the_after_third_follow_up_setting_saves_and_reloads() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let admin = panel.admin().await;
    let before = panel
        .api(
            &admin,
            "GET",
            "/settings/after-third-follow-up",
            json!(null),
        )
        .await;
    let statuses = panel
        .api(&admin, "GET", "/pipeline/statuses", json!(null))
        .await;
    let other = statuses
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .find(|s| *s != before["status"].as_str().unwrap_or_default())
        .unwrap();

    let b = panel.browser_with(390, 844, true).await;
    b.login(&panel, "admin", ADMIN_PASSWORD).await;
    b.goto(&panel, "#/admin/pipeline").await;
    b.find("#after-third-form").await;
    let was_on = before["enabled"].as_bool().unwrap();
    if was_on {
        b.click("#after-third-enabled").await;
    }
    b.select("#after-third-status", &other).await;
    b.click("#after-third-form button[type=submit]").await;
    b.wait_text(".toasts", "After the third follow-up").await;
    let after = panel
        .api(
            &admin,
            "GET",
            "/settings/after-third-follow-up",
            json!(null),
        )
        .await;
    assert_eq!(after["status"], other.as_str());
    assert_eq!(after["enabled"], false);

    // A reload shows what was saved.
    b.refresh().await;
    b.find("#after-third-form").await;
    let shown = b
        .script("return [document.querySelector('#after-third-status').value, document.querySelector('#after-third-enabled').checked]")
        .await;
    assert_eq!(shown, json!([other, false]));
}

pub async fn the_marketing_dashboard_shows_time_to_first_contact_and_responses() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let admin = panel.admin().await;
    for company in ["Fresh One", "Fresh Two"] {
        panel
            .api(&admin, "POST", "/leads", json!({"company_name": company}))
            .await;
    }
    let b = panel.browser_with(390, 844, true).await;
    b.login(&panel, "admin", ADMIN_PASSWORD).await;
    b.goto(&panel, "#/analytics/marketing").await;
    b.wait_content("#table-first-contact", "All leads").await;
    let table = b
        .find("#table-first-contact")
        .await
        .prop("textContent")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(
        table.contains("Median time") && table.contains("Within a day"),
        "{table}"
    );
    // Two leads created, none contacted yet.
    let overall = b
        .script("return [...document.querySelectorAll('#table-first-contact tbody tr:first-child td')].map((c) => c.textContent)")
        .await;
    assert_eq!(overall[0], "2", "{overall}");
    assert_eq!(overall[1], "0", "{overall}");
    b.find("#table-responses-rep").await;

    // The same range controls redraw it.
    b.select("#first-contact-by", "source").await;
    b.wait_content("#table-first-contact figcaption", "by source")
        .await;
}

pub async fn the_fit_model_is_trained_from_the_ai_page() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let admin = panel.admin().await;
    // 20 won print leads and 20 lost mining leads: enough to learn from.
    let countries = ["DE", "US", "FR"];
    for i in 0..20 {
        for (industry, status) in [("print", "won"), ("mining", "lost")] {
            panel
                .api(
                    &admin,
                    "POST",
                    "/leads",
                    json!({"company_name": format!("{industry} {i}"), "industry": industry,
                           "status": status, "country": countries[i % 3], "source": "web"}),
                )
                .await;
        }
    }
    let b = panel.signed_in("admin", 1280, 900).await;
    b.goto(&panel, "#/admin/ai").await;
    b.wait_text("#ai-fit-mode", "win-rate rule").await;
    b.wait_text("#ai-fit-facts", "never").await;
    b.click("#ai-fit-train").await;
    b.wait_text(".toasts", "Fit model trained on 40 leads")
        .await;
    b.wait_text("#ai-fit-mode", "learned").await;
    b.find("#ai-fit-weights tbody tr").await;
    let status = panel.api(&admin, "GET", "/ai/fit", json!(null)).await;
    assert_eq!(status["mode"], "learned");
    assert_eq!(status["samples"], 40);
    // The page shows the same after a reload.
    b.refresh().await;
    b.wait_text("#ai-fit-mode", "learned").await;
    let facts = b.find("#ai-fit-facts").await.text().await.unwrap();
    assert!(facts.contains("40") && !facts.contains("never"), "{facts}");
}

/** Waits until the script's answer is `want`. */
async fn wait_for(b: &crate::harness::Browser, script: &str, want: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let got = b.script(script).await;
        if got == json!(want) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{script}: {got}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
