//! Leads in the panel: the create and edit form with its country → state →
//! time zone pickers and contacts, contacts changed in place, a stale edit,
//! filters kept in the address, and the Caller's call queue.

use std::time::Duration;

use chrono::{Datelike, Timelike, Utc};
use serde_json::{json, Value};

use crate::harness::{Browser, Panel, ADMIN_PASSWORD, USER_PASSWORD};

/// Waits until the form control's value is `want`.
async fn wait_value(b: &Browser, css: &str, want: &str) {
    let js = format!(
        "const e = document.querySelector({}); return e ? e.value : null;",
        serde_json::to_string(css).unwrap()
    );
    let mut last = Value::Null;
    for _ in 0..100 {
        last = b.script(&js).await;
        if last == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("`{css}` never had the value `{want}`; last: {last}");
}

/// Waits until `check` holds for what GET `path` answers.
async fn wait_api(panel: &Panel, token: &str, path: &str, check: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..100 {
        last = panel.api(token, "GET", path, json!(null)).await;
        if check(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("GET {path} never matched; last: {last}");
}

async fn only_lead(panel: &Panel, token: &str, company: &str) -> Value {
    let q = format!("/leads?q={}", company.replace(' ', "%20"));
    let page = wait_api(panel, token, &q, |v| {
        v["items"].as_array().is_some_and(|a| a.len() == 1)
    })
    .await;
    page["items"][0].clone()
}

pub async fn a_lead_is_created_with_two_contacts_through_the_pickers_and_edited_in_place() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let admin = panel.admin().await;
    let b = panel.signed_in("admin", 1280, 900).await;
    b.goto(&panel, "#/leads").await;
    b.click("#new-lead-box summary").await;
    b.type_into("#new-lead-company", "Kestrel Analytics").await;
    b.type_into("#new-lead-website", "kestrel.example").await;
    b.type_into("#new-lead-industry", "SaaS").await;
    b.type_into("#new-lead-source", "trade fair").await;
    b.type_into("#new-lead-tags", "dach, analytics").await;
    b.select("#new-lead-country", "DE").await;
    // The country's states arrive, and its zone is inferred.
    b.find("#new-lead-state option[value='DE-BY']").await;
    b.select("#new-lead-state", "DE-BY").await;
    wait_value(&b, "#new-lead-timezone", "Europe/Berlin").await;
    b.wait_text("#new-lead-timezone-hint", "Inferred").await;

    b.type_into("#new-lead-contact", "Greta Maier").await;
    b.type_into("#new-lead-contact-position", "CTO").await;
    b.type_into("#new-lead-contact-phone", "+49 89 1234567")
        .await;
    b.type_into("#new-lead-email", "greta@kestrel.example")
        .await;
    b.click("#new-lead-add-contact").await;
    b.type_into("#new-lead-contact-2-name", "Jonas Weber").await;
    b.type_into("#new-lead-contact-2-phone", "+49 89 7654321")
        .await;
    b.type_into("#new-lead-contact-2-email", "jonas@kestrel.example")
        .await;
    b.click("#new-lead button[type=submit]").await;
    b.wait_text("#leads-table", "Kestrel Analytics").await;

    let lead = only_lead(&panel, &admin, "Kestrel").await;
    assert_eq!(lead["country"], "DE");
    assert_eq!(lead["state"], "DE-BY");
    assert_eq!(lead["timezone"], "Europe/Berlin");
    assert_eq!(lead["industry"], "SaaS");
    assert_eq!(lead["source"], "trade fair");
    assert_eq!(lead["tags"], json!(["analytics", "dach"]));
    let id = lead["id"].as_str().unwrap().to_string();
    let detail = panel
        .api(&admin, "GET", &format!("/leads/{id}"), json!(null))
        .await;
    assert_eq!(detail["contacts"].as_array().unwrap().len(), 2, "{detail}");

    // The lead's page: phones call, emails write.
    b.click("#leads-table tbody a").await;
    b.wait_text("#lead-title", "Kestrel Analytics").await;
    b.find("#contacts-list a[href='tel:+49891234567']").await;
    b.find("#contacts-list a[href='mailto:greta@kestrel.example']")
        .await;
    b.wait_text("#lead-facts", "Europe/Berlin").await;

    // Edit: the zone overridden by hand, the industry changed.
    b.click("#edit-lead-box summary").await;
    wait_value(&b, "#edit-lead-country", "DE").await;
    wait_value(&b, "#edit-lead-state", "DE-BY").await;
    b.select("#edit-lead-timezone", "Europe/Busingen").await;
    b.find("#edit-lead-industry").await.clear().await.unwrap();
    b.type_into("#edit-lead-industry", "Analytics").await;
    // Saved from the keyboard: Enter in a field submits the form.
    b.key("#edit-lead-industry", "\u{E007}").await;
    b.wait_text("#lead-facts", "Europe/Busingen").await;
    b.wait_text("#lead-facts", "Analytics").await;
    let detail = panel
        .api(&admin, "GET", &format!("/leads/{id}"), json!(null))
        .await;
    assert_eq!(detail["lead"]["timezone"], "Europe/Busingen");
    assert_eq!(detail["lead"]["industry"], "Analytics");
    assert_eq!(detail["lead"]["state"], "DE-BY", "untouched fields stay");

    // A call logged here moves the lead's dates, not what the form shows:
    // the next edit goes through without a false conflict.
    b.click("#edit-lead-box summary").await;
    b.select("#call-form select", "connected").await;
    b.click("#call-form button[type=submit]").await;
    b.wait_text("#calls", "Connected").await;
    b.find("#edit-lead-source").await.clear().await.unwrap();
    b.type_into("#edit-lead-source", "referral").await;
    b.click("#edit-lead button[type=submit]").await;
    b.wait_text("#lead-facts", "referral").await;

    // A contact edited in place, another removed, a third added.
    b.click("button[aria-label='Edit contact Greta Maier']")
        .await;
    let position = ".contact-editor input[id$='-position']";
    b.find(position).await.clear().await.unwrap();
    b.type_into(position, "CEO").await;
    b.click(".contact-editor button[type=submit]").await;
    b.wait_text("#contacts-list", "CEO").await;
    b.click("button[aria-label='Remove contact Jonas Weber']")
        .await;
    b.accept_dialog().await;
    wait_api(&panel, &admin, &format!("/leads/{id}/contacts"), |v| {
        v.as_array().is_some_and(|a| a.len() == 1)
    })
    .await;
    b.click("#add-contact-box summary").await;
    b.type_into("#add-contact-name", "Lena Vogt").await;
    b.type_into("#add-contact-phone", "+49 30 901820").await;
    b.click("#add-contact button[type=submit]").await;
    b.wait_text("#contacts-list", "Lena Vogt").await;
    b.find("#contacts-list a[href='tel:+4930901820']").await;
    let contacts = panel
        .api(&admin, "GET", &format!("/leads/{id}/contacts"), json!(null))
        .await;
    let names: Vec<&str> = contacts
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"Greta Maier")
            && names.contains(&"Lena Vogt")
            && !names.contains(&"Jonas Weber"),
        "{names:?}"
    );
    let greta = contacts
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Greta Maier")
        .unwrap();
    assert_eq!(greta["position"], "CEO");
    assert_eq!(
        greta["email"], "greta@kestrel.example",
        "the edit kept the rest"
    );
    b.close().await;
}

pub async fn an_edit_of_a_lead_someone_else_changed_meanwhile_is_refused_with_a_reload() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let admin = panel.admin().await;
    let created = panel
        .api(
            &admin,
            "POST",
            "/leads",
            json!({"company_name": "Osprey Logistics", "industry": "Freight"}),
        )
        .await;
    let id = created["lead"]["id"].as_str().unwrap().to_string();
    let b = panel.signed_in("admin", 390, 844).await;
    b.goto(&panel, &format!("#/leads/{id}")).await;
    b.wait_text("#lead-title", "Osprey Logistics").await;
    b.click("#edit-lead-box summary").await;
    b.find("#edit-lead-industry").await;

    // Someone else changes the lead after the page was loaded.
    panel
        .api(
            &admin,
            "PATCH",
            &format!("/leads/{id}"),
            json!({"industry": "Shipping"}),
        )
        .await;
    b.find("#edit-lead-industry").await.clear().await.unwrap();
    b.type_into("#edit-lead-industry", "Warehousing").await;
    b.click("#edit-lead button[type=submit]").await;
    b.wait_text("#edit-lead-conflict", "changed by someone else")
        .await;
    let detail = panel
        .api(&admin, "GET", &format!("/leads/{id}"), json!(null))
        .await;
    assert_eq!(
        detail["lead"]["industry"], "Shipping",
        "the other change stands"
    );

    // Reloaded, the form shows the current lead and saves.
    b.click("#edit-lead-reload").await;
    b.wait_text("#lead-facts", "Shipping").await;
    b.click("#edit-lead-box summary").await;
    wait_value(&b, "#edit-lead-industry", "Shipping").await;
    b.find("#edit-lead-industry").await.clear().await.unwrap();
    b.type_into("#edit-lead-industry", "Warehousing").await;
    b.click("#edit-lead button[type=submit]").await;
    b.wait_text("#lead-facts", "Warehousing").await;
    b.close().await;
}

pub async fn a_bookmarked_leads_view_opens_with_its_filters_and_the_filters_follow_the_address() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let admin = panel.admin().await;
    for (company, country, industry, tags) in [
        ("Berlin Bytes", "DE", "SaaS", json!(["hot"])),
        ("Munich Metrics", "DE", "SaaS", json!([])),
        ("Paris Pixels", "FR", "SaaS", json!(["hot"])),
        ("Hamburg Hardware", "DE", "Retail", json!(["hot"])),
    ] {
        panel
            .api(&admin, "POST", "/leads", json!({"company_name": company, "country": country, "industry": industry, "tags": tags}))
            .await;
    }
    let b = panel.browser_with(390, 844, true).await;
    b.login(&panel, "admin", ADMIN_PASSWORD).await;
    b.goto(
        &panel,
        "#/leads?country=DE&industry=SaaS&sort=company&order=asc",
    )
    .await;
    b.wait_text("#leads-count", "2 leads").await;
    b.wait_text("#leads-table", "Berlin Bytes").await;
    let table = b.find("#leads-table tbody").await.text().await.unwrap();
    assert!(
        table.find("Berlin Bytes") < table.find("Munich Metrics"),
        "sorted by company: {table}"
    );
    assert!(
        !table.contains("Paris Pixels") && !table.contains("Hamburg Hardware"),
        "{table}"
    );
    wait_value(&b, "#filter-country", "DE").await;
    wait_value(&b, "#filter-industry", "SaaS").await;
    wait_value(&b, "#filter-sort", "company").await;
    wait_value(&b, "#filter-order", "asc").await;

    // A filter added in the toolbar goes into the address …
    b.type_into("#filter-tag", "hot").await;
    b.click("#lead-filters button[type=submit]").await;
    b.wait_text("#leads-count", "1 lead").await;
    let hash = b.script("return location.hash").await;
    let hash = hash.as_str().unwrap();
    assert!(
        hash.starts_with("#/leads?") && hash.contains("tag=hot") && hash.contains("country=DE"),
        "{hash}"
    );

    // … so the same address, opened again, shows the same view.
    b.refresh().await;
    b.wait_text("#leads-count", "1 lead").await;
    b.wait_text("#leads-table", "Berlin Bytes").await;
    wait_value(&b, "#filter-tag", "hot").await;
    b.click("#filter-reset").await;
    b.wait_text("#leads-count", "4 leads").await;
    assert_eq!(b.script("return location.hash").await, "#/leads");
    b.close().await;
}

pub async fn the_caller_logs_a_call_from_the_queue_in_one_click() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    // Wednesday noon UTC: business hours in Berlin, whatever day the test runs.
    let now = Utc::now();
    let days = (7 + 2 - now.weekday().num_days_from_monday() as i64) % 7 + 7;
    let target = (now + chrono::Duration::days(days))
        .with_hour(12)
        .and_then(|t| t.with_minute(0))
        .unwrap();
    panel.clock.advance(target - now);

    let admin = panel.admin().await;
    panel.create_user(&admin, "carla", "caller").await;
    panel.create_user(&admin, "gina", "lead_generator").await;
    let created = panel
        .api(
            &admin,
            "POST",
            "/leads",
            json!({"company_name": "Falcon Freight", "country": "DE", "owner": "carla",
                   "contacts": [{"name": "Otto Brandt", "phone": "+49 40 555123"}]}),
        )
        .await;
    let id = created["lead"]["id"].as_str().unwrap().to_string();
    assert_eq!(created["lead"]["timezone"], "Europe/Berlin");

    // Without calls.log there is no queue in the menu.
    let b = panel.signed_in("gina", 390, 844).await;
    b.wait_content("#nav", "Leads").await;
    let nav = b
        .find("#nav")
        .await
        .prop("textContent")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(!nav.contains("Call queue"), "{nav}");
    b.close().await;

    let b = panel.browser_with(390, 844, true).await;
    b.login(&panel, "carla", USER_PASSWORD).await;
    b.find("#nav a[href='#/calls']").await;
    b.goto(&panel, "#/calls").await;
    b.wait_text("#call-queue", "Falcon Freight").await;
    b.wait_text("#call-queue", "Never contacted").await;
    b.find("#call-queue a[href='tel:+4940555123']").await;
    b.type_into(&format!("#call-notes-{id}"), "Asked to call after the fair")
        .await;
    b.click(&format!(
        "#call-queue [data-lead='{id}'] button[data-outcome='callback']"
    ))
    .await;
    b.wait_text(
        &format!("#call-queue [data-lead='{id}'] .logged"),
        "Logged: Call back",
    )
    .await;
    let carla = panel.api_login("carla", USER_PASSWORD).await;
    let calls = panel
        .api(&carla, "GET", &format!("/leads/{id}/calls"), json!(null))
        .await;
    assert_eq!(calls["items"][0]["outcome"], "callback", "{calls}");
    assert_eq!(calls["items"][0]["notes"], "Asked to call after the fair");
    // Called now, the lead is no longer never-contacted: the queue moves on.
    b.click("#call-queue-refresh").await;
    b.wait_text("#call-queue", "Nobody to call right now").await;
    b.close().await;
}
