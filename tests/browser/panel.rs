//! The panel's first flows: leads, notes, import, chat, permissions, bulk
//! actions, AI views, bots, and the pages at phone width.

use crate::harness::{self, Panel, ADMIN_PASSWORD};
use serde_json::json;

pub async fn a_user_logs_in_creates_a_lead_finds_it_and_logs_a_follow_up() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let b = panel.signed_in("admin", 390, 844).await;
    b.goto(&panel, "#/leads").await;
    b.click("#new-lead-box summary").await;
    b.type_into("#new-lead-company", "Zephyr Robotics").await;
    b.type_into("#new-lead-contact", "Ada Byron").await;
    b.type_into("#new-lead-email", "ada@zephyr.example").await;
    b.click("#new-lead button[type=submit]").await;
    b.wait_text("#leads-table", "Zephyr Robotics").await;

    b.type_into("#lead-search", "zephyr").await;
    b.click("form[role=search] button[type=submit]").await;
    b.wait_text("#leads-table", "Zephyr Robotics").await;
    b.click("#leads-table tbody a").await;
    b.wait_text("#lead-title", "Zephyr Robotics").await;

    b.select("#fu-outcome-1", "done").await;
    b.type_into("#fu-notes-1", "Spoke to Ada, wants a demo")
        .await;
    b.click("#fu-1 button[type=submit]").await;
    b.wait_text("#timeline", "logged follow-up 1 on Zephyr Robotics: done")
        .await;
    b.wait_text("#fu-1 h3", "done").await;
    b.screenshot("lead-detail-phone").await;
    b.close().await;
}

pub async fn the_new_lead_form_names_a_possible_duplicate_while_typing_and_creates_it_only_when_told(
) {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let admin = panel.admin().await;
    panel
        .api(
            &admin,
            "POST",
            "/leads",
            json!({"company_name": "Helios Energy", "website": "helios.example"}),
        )
        .await;

    let b = panel.signed_in("admin", 1280, 800).await;
    b.goto(&panel, "#/leads").await;
    b.click("#new-lead-box summary").await;
    b.type_into("#new-lead-company", "Helios Solar").await;
    b.type_into("#new-lead-website", "www.helios.example").await;
    // Named while typing, before anything is sent.
    b.wait_text("#new-lead-duplicates", "Helios Energy").await;
    b.wait_text("#new-lead-duplicates", "same website domain helios.example")
        .await;
    b.click("#new-lead button[type=submit]").await;
    // Refused as a duplicate: still one lead, and a way to go on.
    b.wait_text("#new-lead-anyway", "Create anyway").await;
    let count = panel.api(&admin, "GET", "/leads/count", json!(null)).await;
    assert_eq!(count["count"], 1);
    b.click("#new-lead-anyway").await;
    b.wait_text("#leads-table", "Helios Solar").await;
    let count = panel.api(&admin, "GET", "/leads/count", json!(null)).await;
    assert_eq!(count["count"], 2);
    b.close().await;
}

pub async fn a_rep_adds_edits_and_deletes_a_note_and_cannot_change_the_admins() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let admin = panel.admin().await;
    let rita = panel.user("rita", "user").await;
    let lead = panel
        .api(
            &rita,
            "POST",
            "/leads",
            json!({"company_name": "Quill & Co"}),
        )
        .await;
    let lead = lead["lead"]["id"].as_str().unwrap().to_string();
    panel
        .api(
            &admin,
            "POST",
            &format!("/leads/{lead}/notes"),
            json!({"text": "Admin: priced at 40k"}),
        )
        .await;

    let b = panel.signed_in("rita", 1280, 800).await;
    b.goto(&panel, &format!("#/leads/{lead}")).await;
    b.wait_text("#notes-list", "Admin: priced at 40k").await;
    // The admin's note offers Rita no edit or delete.
    let buttons = b
        .script("return document.querySelectorAll('#notes-list li.note button').length")
        .await;
    assert_eq!(buttons, json!(0));

    b.type_into("#note-text", "Rita: wants a demo\nin March")
        .await;
    b.click("#note-form button[type=submit]").await;
    b.wait_text("#notes-list li.note:first-child", "Rita: wants a demo")
        .await;
    b.wait_text("#timeline", "note: Rita: wants a demo").await;

    b.click("#notes-list li.note:first-child button[aria-label='Edit note']")
        .await;
    b.set_value("#notes-list form.note textarea", "Rita: demo booked")
        .await;
    b.click("#notes-list form.note button[type=submit]").await;
    b.wait_text("#notes-list li.note:first-child", "edited")
        .await;
    b.wait_text("#notes-list li.note:first-child", "Rita: demo booked")
        .await;
    let notes = panel
        .api(&rita, "GET", &format!("/leads/{lead}/notes"), json!(null))
        .await;
    assert_eq!(notes["items"][0]["text"], "Rita: demo booked", "{notes}");

    b.click("#notes-list li.note:first-child button[aria-label='Delete note']")
        .await;
    b.accept_dialog().await;
    b.wait_exact(
        "#notes-list li.note:first-child .note-text",
        "Admin: priced at 40k",
    )
    .await;
    let notes = panel
        .api(&rita, "GET", &format!("/leads/{lead}/notes"), json!(null))
        .await;
    assert_eq!(notes["items"].as_array().unwrap().len(), 1, "{notes}");
    b.close().await;
}

pub async fn an_import_with_one_bad_row_shows_the_report() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("leads.csv");
    std::fs::write(
        &csv,
        "Company,Contact,Email,Status,Country\nNorthwind,Nancy Davolio,nancy@northwind.example,new,Germany\n,Nobody,bad-row@example.com,new,\nContoso,Kim Abercrombie,kim@contoso.example,contacted,US\n",
    )
    .unwrap();
    let b = panel.signed_in("admin", 1280, 800).await;
    b.goto(&panel, "#/import").await;
    let file = b.find("#import-file").await;
    file.send_keys(csv.to_str().unwrap()).await.unwrap();
    // The columns come back with their automatic mapping, changeable.
    b.wait_text("#import-columns", "Contact").await;
    b.find("#import-columns select[data-header=Email] option[value=contact_email]:checked")
        .await;
    b.find("#import-dry-run:enabled").await;
    b.click("#import-dry-run").await;
    b.wait_text("#import-report", "Dry run").await;
    b.wait_text("#import-errors", "3").await;
    // A country given by name is shown with the code it will be stored as.
    b.wait_text("#import-names", "country \"Germany\"").await;
    b.wait_text("#import-names", "DE").await;
    b.click("#import-run").await;
    b.wait_text("#import-report", "Import finished").await;
    b.wait_text("#import-report dd[data-key=created]", "2")
        .await;
    b.wait_text("#import-report dd[data-key=failed]", "1").await;
    b.screenshot("import-report").await;
    // Within the window the import can be undone: its leads go to the trash.
    b.click("#import-undo").await;
    b.accept_dialog().await;
    b.wait_text("#import-undone", "2 created leads moved to the trash")
        .await;
    b.close().await;
}

pub async fn two_people_chat_and_a_mention_raises_the_others_badge() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let admin = panel.admin().await;
    panel.create_user(&admin, "bea", "user").await;
    let room = panel
        .api(
            &admin,
            "POST",
            "/rooms",
            serde_json::json!({"name": "general", "kind": "channel"}),
        )
        .await;
    let room = room["id"].as_str().unwrap().to_string();
    let bea_token = panel.api_login("bea", harness::USER_PASSWORD).await;
    panel
        .api(
            &bea_token,
            "POST",
            &format!("/rooms/{room}/join"),
            serde_json::json!({}),
        )
        .await;

    let a = panel.signed_in("admin", 1280, 800).await;
    let bea = panel.signed_in("bea", 390, 844).await;
    bea.goto(&panel, "#/dashboard").await;

    a.goto(&panel, &format!("#/chat/{room}")).await;
    a.find("#chat-input").await;
    a.type_into("#chat-input", "hello team").await;
    a.key("#chat-input", "\u{E007}").await;
    a.wait_text("#messages", "hello team").await;
    a.type_into("#chat-input", "@be").await;
    a.wait_text(".suggest", "@bea").await;
    a.key("#chat-input", "\u{E004}").await; // Tab takes the suggestion
    a.type_into("#chat-input", "can you call Northwind?").await;
    a.key("#chat-input", "\u{E007}").await;
    a.wait_text("#messages", "@bea can you call Northwind?")
        .await;

    bea.wait_text("#mention-badge", "1").await;
    // The nav is folded away at phone width, so read the badge's own text.
    bea.wait_content("#chat-badge", "2").await;
    bea.screenshot("mention-badge-phone").await;
    bea.goto(&panel, &format!("#/chat/{room}")).await;
    bea.wait_text("#messages", "can you call Northwind?").await;
    // Opening the room read the mention, for every device of Bea's.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let count = panel
            .api(
                &bea_token,
                "GET",
                "/notifications/unread-count",
                serde_json::Value::Null,
            )
            .await;
        if count["unread_count"] == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the mention stayed unread: {count}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    a.screenshot("chat-hub").await;
    a.close().await;
    bea.close().await;
}

pub async fn removing_a_permission_takes_away_the_page_and_the_api_call() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let sam_token = panel.user("sam", "user").await;
    assert_eq!(panel.status(&sam_token, "/leads").await, 200);

    let sam = panel.signed_in("sam", 1280, 800).await;
    sam.wait_text("#nav", "Leads").await;

    let a = panel.signed_in("admin", 1280, 800).await;
    a.goto(&panel, "#/admin/roles").await;
    for perm in ["leads.read.all", "leads.read.own"] {
        let sel = format!("#role-matrix input[data-role=user][data-perm='{perm}']");
        let el = a.find(&sel).await;
        if el.prop("checked").await.unwrap().as_deref() == Some("true") {
            el.click().await.unwrap();
            a.wait_text(".toasts", &format!("removed {perm}")).await;
        }
    }
    a.screenshot("role-matrix").await;

    assert_eq!(panel.status(&sam_token, "/leads").await, 403);
    sam.refresh().await;
    sam.wait_text("#nav", "Dashboard").await;
    let nav = sam.find("#nav").await.text().await.unwrap();
    assert!(!nav.contains("Leads"), "nav still offers Leads: {nav}");
    sam.goto(&panel, "#/leads").await;
    sam.wait_text("#forbidden", "does not allow").await;
    sam.close().await;
    a.close().await;
}

pub async fn selected_leads_are_bulk_assigned_and_the_new_owner_shows_in_the_table_and_the_api() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let admin = panel.admin().await;
    panel.create_user(&admin, "olga", "user").await;
    let mut ids = Vec::new();
    for name in ["Orion Labs", "Pegasus Freight", "Quasar Foods"] {
        let created = panel
            .api(
                &admin,
                "POST",
                "/leads",
                serde_json::json!({"company_name": name}),
            )
            .await;
        ids.push(created["lead"]["id"].as_str().unwrap().to_string());
    }
    let b = panel.signed_in("admin", 1280, 800).await;
    b.goto(&panel, "#/leads").await;
    b.wait_text("#leads-table", "Quasar Foods").await;
    for id in &ids[..2] {
        b.click(&format!("#leads-table input[value='{id}']")).await;
    }
    b.select("#bulk-owner", &olga_id(&panel, &admin).await)
        .await;
    b.click("#bulk-assign").await;
    b.wait_text(".toasts", "Assigned: 2 of 2").await;
    b.wait_text("#leads-table", "olga").await;
    b.screenshot("bulk-assign").await;

    let olga = olga_id(&panel, &admin).await;
    for (i, id) in ids.iter().enumerate() {
        let lead = panel
            .api(
                &admin,
                "GET",
                &format!("/leads/{id}"),
                serde_json::json!(null),
            )
            .await;
        let owner = lead["lead"]["owner"].as_str().unwrap_or_default();
        assert_eq!(owner == olga, i < 2, "lead {i} owner {owner}");
    }
    let rows = b.find("#leads-table tbody").await.text().await.unwrap();
    assert_eq!(rows.matches("olga").count(), 2, "{rows}");
    b.close().await;
}

async fn olga_id(panel: &Panel, admin: &str) -> String {
    let users = panel
        .api(admin, "GET", "/users?limit=50", serde_json::json!(null))
        .await;
    users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "olga")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

pub async fn a_leads_relationship_map_shows_its_neighbour_and_a_draft_can_be_edited() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let admin = panel.admin().await;
    let lead = |name: &'static str| {
        let (panel, admin) = (&panel, &admin);
        async move {
            panel
                .api(
                    admin,
                    "POST",
                    "/leads",
                    serde_json::json!({"company_name": name,
                        "contacts": [{"name": "Rui Costa", "email": format!("rui@{}.example", name.split(' ').next().unwrap().to_lowercase())}]}),
                )
                .await["lead"]["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let atlas = lead("Atlas Shipping").await;
    let borealis = lead("Borealis Trade").await;
    panel
        .api(
            &admin,
            "POST",
            &format!("/ai/leads/{atlas}/relations"),
            serde_json::json!({"to": borealis, "kind": "referral"}),
        )
        .await;

    let b = panel.signed_in("admin", 1280, 900).await;
    b.goto(&panel, &format!("#/leads/{atlas}")).await;
    b.wait_text("#lead-title", "Atlas Shipping").await;
    b.wait_text("#relations-list", "Borealis Trade").await;
    b.wait_text("#relations-list", "referral").await;
    // The map draws the neighbour as a link to its page.
    b.find(&format!("#relations-map a[href='#/leads/{borealis}']"))
        .await;
    b.wait_content("#relations-map", "Borealis Trade").await;
    b.find("#lead-score-value").await;

    b.click("#draft-button").await;
    b.find("#draft-body:not([hidden])").await;
    let draft = b
        .find("#draft-body")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(!draft.trim().is_empty(), "a drafted message");
    b.type_into("#draft-body", " P.S. edited").await;
    let edited = b
        .find("#draft-body")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(edited.ends_with("P.S. edited"), "{edited}");
    b.scroll_to("#lead-score").await;
    b.screenshot("relationship-map").await;

    b.click(&format!("#relations-map a[href='#/leads/{borealis}']"))
        .await;
    b.wait_text("#lead-title", "Borealis Trade").await;
    b.wait_text("#relations-list", "Atlas Shipping").await;
    b.close().await;
}

pub async fn an_admin_sees_the_bots_bridges_a_room_and_creates_a_link_code() {
    let telegram = harness::fake_telegram().await;
    let Some(panel) = Panel::start_with(|c| {
        c.telegram_bot_token = Some(harness::TELEGRAM_TOKEN.into());
        c.telegram_api_url = telegram;
    })
    .await
    else {
        return;
    };
    let admin = panel.admin().await;
    // The bot connects in the background; the page shows what it reached.
    let mut connected = false;
    for _ in 0..100 {
        let status = panel
            .api(&admin, "GET", "/bots/status", serde_json::json!(null))
            .await;
        if status["bots"][0]["connected"] == true {
            connected = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(connected, "the bot connects to the fake Telegram");
    panel
        .api(
            &admin,
            "POST",
            "/rooms",
            serde_json::json!({"name": "sales-floor", "kind": "channel"}),
        )
        .await;
    let b = panel.signed_in("admin", 1280, 800).await;
    b.goto(&panel, "#/admin/bots").await;
    b.wait_text("#main", "Bridged rooms").await;
    b.find("#bots-status tr[data-platform=telegram] .dot.online")
        .await;
    b.wait_text("#bots-status", "@EaCrmBot").await;
    b.wait_text("#bridge-room", "#sales-floor").await;
    b.type_into("#bridge-chat", "-1001234567890").await;
    b.click("#bridge-form button[type=submit]").await;
    b.wait_text("#bridges", "-1001234567890").await;
    b.wait_text("#bridges", "#sales-floor").await;
    let bridges = panel
        .api(&admin, "GET", "/bridges", serde_json::json!(null))
        .await;
    assert_eq!(bridges[0]["chat_id"], "-1001234567890");
    b.screenshot("bots-admin").await;

    b.goto(&panel, "#/account").await;
    b.click("#link-code-create").await;
    b.wait_text("#link-code-box", "/link ").await;
    b.wait_text("#link-code-expiry", "valid for").await;
    let code = b.find("#link-code").await.text().await.unwrap();
    assert!(code.trim().len() >= 6, "a code: {code}");
    b.wait_text("#link-code-box", &format!("/link {}", code.trim()))
        .await;
    b.set_value("#digest-time", "08:30").await;
    b.click("#digest-form button[type=submit]").await;
    b.wait_text(".toasts", "Digest at 08:30").await;
    b.screenshot("link-code").await;
    b.goto(&panel, "#/dashboard").await;
    b.goto(&panel, "#/account").await;
    b.wait_text("#digest-current", "08:30").await;
    b.close().await;
}

pub async fn duplicates_are_merged_after_a_confirmation_patterns_show_and_an_ai_feature_is_switched_off(
) {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let admin = panel.admin().await;
    let mut ids = Vec::new();
    for (name, email) in [
        ("Nimbus Analytics", "eva@nimbus-analytics.example"),
        ("Nimbus Analytics GmbH", "eva@nimbus-analytics.example"),
    ] {
        let created = panel
            .api(
                &admin,
                "POST",
                "/leads",
                // Seeded as duplicates on purpose: the page under test merges them.
                serde_json::json!({"company_name": name, "website": "https://nimbus-analytics.example",
                    "country": "DE", "contacts": [{"name": "Eva Nimbus", "email": email}],
                    "allow_duplicate": true}),
            )
            .await;
        ids.push(created["lead"]["id"].as_str().unwrap().to_string());
    }
    // Three calls reached someone at 10:00 on the lead's own clock (Berlin).
    use chrono::TimeZone;
    let berlin = chrono_tz::Europe::Berlin;
    let today = chrono::Utc::now().with_timezone(&berlin).date_naive();
    for days in 1..=3 {
        let day = today - chrono::Duration::days(days);
        let at = berlin
            .from_local_datetime(&day.and_hms_opt(10, 0, 0).unwrap())
            .single()
            .unwrap()
            .with_timezone(&chrono::Utc);
        panel
            .api(
                &admin,
                "POST",
                &format!("/leads/{}/calls", ids[0]),
                serde_json::json!({"outcome": "connected", "at": at}),
            )
            .await;
    }

    let b = panel.signed_in("admin", 1280, 900).await;
    b.goto(&panel, "#/duplicates").await;
    b.wait_text("#duplicates", "likely the same").await;
    b.wait_text("#duplicates", "Nimbus Analytics GmbH").await;
    b.screenshot("duplicates").await;
    b.click("#duplicates .dup button").await;
    b.accept_dialog().await;
    b.wait_text(".toasts", "Merged into").await;
    b.wait_text("#duplicates", "No likely duplicates").await;
    let count = panel
        .api(&admin, "GET", "/leads/count", serde_json::json!(null))
        .await;
    assert_eq!(count["count"], 1, "one lead left after the merge");

    b.goto(&panel, "#/patterns").await;
    b.wait_text("#patterns", "3 calls and follow-ups").await;
    b.wait_text("#best-hour", "10:00").await;
    b.find("#patterns-hours").await;
    b.wait_text("#patterns-reps", "admin").await;

    b.goto(&panel, "#/admin/ai").await;
    b.wait_text("#ai-provider", "local").await;
    // The AI features are switched with every other part, under Features.
    b.goto(&panel, "#/admin/features").await;
    b.click("#feature-drafting").await;
    b.wait_text(".toasts", "switched off").await;
    let status = panel
        .api(&admin, "GET", "/ai/status", serde_json::json!(null))
        .await;
    let drafting = status["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["feature"] == "drafting")
        .unwrap();
    assert_eq!(drafting["enabled"], false);
    b.close().await;
}

pub async fn the_new_pages_work_at_phone_width_in_the_dark_scheme() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let admin = panel.admin().await;
    for name in ["Umbra Works", "Vesper Hotels"] {
        panel
            .api(
                &admin,
                "POST",
                "/leads",
                serde_json::json!({"company_name": name}),
            )
            .await;
    }
    let b = panel.browser_with(390, 844, true).await;
    b.login(&panel, "admin", ADMIN_PASSWORD).await;
    b.goto(&panel, "#/leads").await;
    b.wait_text("#leads-table", "Vesper Hotels").await;
    // Keyboard only: tab to a lead's checkbox and tick it with the space bar.
    let first = b.find("#leads-table tbody input[type=checkbox]").await;
    first.send_keys(" ").await.unwrap();
    assert_eq!(
        first.prop("checked").await.unwrap().as_deref(),
        Some("true")
    );
    b.select("#bulk-status", "contacted").await;
    b.key("#bulk-set-status", "\u{E007}").await; // Enter on the button
    b.wait_text(".toasts", "Status set: 1 of 1").await;
    b.screenshot("leads-phone-dark").await;
    b.goto(&panel, "#/admin/bots").await;
    b.wait_text("#main", "Bridged rooms").await;
    b.goto(&panel, "#/account").await;
    b.click("#link-code-create").await;
    b.wait_text("#link-code-box", "/link ").await;
    b.close().await;
}
