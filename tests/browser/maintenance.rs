//! Maintenance mode in the panel: the admin switches it on in
//! Administration; someone already signed in sees one page saying why.

use serde_json::json;

use crate::harness::Panel;

pub async fn an_admin_closes_the_panel_and_a_signed_in_user_sees_why() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let admin = panel.admin().await;
    panel.user("ugo", "user").await;
    let user = panel.signed_in("ugo", 390, 844).await;

    let a = panel.signed_in("admin", 1280, 800).await;
    a.goto(&panel, "#/admin/maintenance").await;
    a.type_into("#maintenance-message", "Back after lunch")
        .await;
    a.click("#maintenance-form button[type=submit]").await;
    a.wait_text("#maintenance-state", "only admins can use EA CRM")
        .await;
    let state = panel.api(&admin, "GET", "/maintenance", json!(null)).await;
    assert_eq!(state["enabled"], true);

    // The user's socket is closed with the reason; the page says it.
    user.wait_text("#maintenance", "Back after lunch").await;
    user.screenshot("maintenance-phone").await;

    a.click("#maintenance-form button[type=submit]").await;
    a.wait_text("#maintenance-state", "Off").await;
    user.click("#maintenance button").await;
    user.wait_content("#nav", "Leads").await;
    a.close().await;
    user.close().await;
}
