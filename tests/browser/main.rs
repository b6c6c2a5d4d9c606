//! Browser tests: the real app on a random port, driven through real
//! headless Chromium by WebDriver. Skipped, with one line saying so, where
//! Chromium or chromedriver is not installed.

mod harness;

use harness::{Panel, ADMIN_PASSWORD};

#[tokio::test]
async fn a_user_logs_in_creates_a_lead_finds_it_and_logs_a_follow_up() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let b = panel.browser(390, 844).await;
    b.login(&panel, "admin", ADMIN_PASSWORD).await;
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
    b.wait_text("#timeline", "follow-up 1: done").await;
    b.wait_text("#fu-1 h3", "done").await;
    b.screenshot("lead-detail-phone").await;
    b.close().await;
}

#[tokio::test]
async fn an_import_with_one_bad_row_shows_the_report() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("leads.csv");
    std::fs::write(
        &csv,
        "Company,Contact,Email,Status\nNorthwind,Nancy Davolio,nancy@northwind.example,new\n,Nobody,bad-row@example.com,new\nContoso,Kim Abercrombie,kim@contoso.example,contacted\n",
    )
    .unwrap();
    let b = panel.browser(1280, 800).await;
    b.login(&panel, "admin", ADMIN_PASSWORD).await;
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
    b.click("#import-run").await;
    b.wait_text("#import-report", "Import finished").await;
    b.wait_text("#import-report dd[data-key=created]", "2")
        .await;
    b.wait_text("#import-report dd[data-key=failed]", "1").await;
    b.screenshot("import-report").await;
    b.close().await;
}

#[tokio::test]
async fn two_people_chat_and_a_mention_raises_the_others_badge() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let admin = panel.api_login("admin", ADMIN_PASSWORD).await;
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

    let a = panel.browser(1280, 800).await;
    a.login(&panel, "admin", ADMIN_PASSWORD).await;
    let bea = panel.browser(390, 844).await;
    bea.login(&panel, "bea", harness::USER_PASSWORD).await;
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

#[tokio::test]
async fn removing_a_permission_takes_away_the_page_and_the_api_call() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let admin = panel.api_login("admin", ADMIN_PASSWORD).await;
    panel.create_user(&admin, "sam", "user").await;
    let sam_token = panel.api_login("sam", harness::USER_PASSWORD).await;
    assert_eq!(panel.status(&sam_token, "/leads").await, 200);

    let sam = panel.browser(1280, 800).await;
    sam.login(&panel, "sam", harness::USER_PASSWORD).await;
    sam.wait_text("#nav", "Leads").await;

    let a = panel.browser(1280, 800).await;
    a.login(&panel, "admin", ADMIN_PASSWORD).await;
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
