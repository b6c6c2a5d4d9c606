//! Feature switches in the panel: an admin switches the chat off in
//! Administration → Features, and it leaves a user's menu.

use std::time::Duration;

use serde_json::json;

use crate::harness::{self, Panel};

/// Whether the menu has a link to `page`.
async fn menu_has(b: &harness::Browser, page: &str) -> bool {
    b.script(&format!(
        "return document.querySelector('#nav a[data-page=\"{page}\"]') !== null;"
    ))
    .await
        == json!(true)
}

/// Waits until the menu has (or lacks) a link to `page`.
async fn wait_menu(b: &harness::Browser, page: &str, present: bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while menu_has(b, page).await != present {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the menu never {} {page}",
            if present { "showed" } else { "dropped" }
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the stored chat switch reads `enabled`.
async fn wait_for_chat(panel: &Panel, admin: &str, enabled: bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let list = panel.api(admin, "GET", "/features", json!(null)).await;
        let chat = list
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["key"] == "chat")
            .unwrap()
            .clone();
        if chat["enabled"] == enabled {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the chat never became {enabled}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn an_admin_switches_the_chat_off_and_it_leaves_a_users_menu() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let admin = panel.admin().await;
    panel.user("ugo", "user").await;
    let user = panel.signed_in("ugo", 1280, 800).await;
    user.wait_content("#nav", "Chat").await;

    let a = panel.signed_in("admin", 1280, 800).await;
    a.goto(&panel, "#/admin/features").await;
    a.wait_text("#feature-switches", "Relationship map").await;
    a.click("#feature-chat").await;
    wait_for_chat(&panel, &admin, false).await;
    // The admin's menu follows at once.
    wait_menu(&a, "chat", false).await;

    user.refresh().await;
    user.wait_content("#nav", "Leads").await;
    assert!(
        !menu_has(&user, "chat").await,
        "the chat is still in the menu"
    );
    assert!(menu_has(&user, "leads").await);
    user.goto(&panel, "#/chat").await;
    user.wait_text("#switched-off", "switched this part off")
        .await;

    // On again: back after a reload.
    a.goto(&panel, "#/admin/features").await;
    a.click("#feature-chat").await;
    wait_for_chat(&panel, &admin, true).await;
    user.goto(&panel, "#/leads").await;
    user.refresh().await;
    user.wait_content("#nav", "Chat").await;
    assert!(menu_has(&user, "chat").await);
    a.close().await;
    user.close().await;
}
