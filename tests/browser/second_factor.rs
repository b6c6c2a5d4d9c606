//! Two-factor sign-in in the panel: a role that requires it sends its
//! holder to the setup before anything else; from then on the sign-in asks
//! for the app's code.

#[path = "../common/totp.rs"]
mod totp;

use chrono::Duration;
use ea_crm::domain::clock::Clock;
use serde_json::json;

use crate::harness::{self, Panel};

fn code_now(panel: &Panel, secret: &str) -> String {
    totp::app_code(secret, panel.clock.now().timestamp())
}

pub async fn a_role_requiring_two_factor_sends_its_holder_to_set_it_up_then_asks_for_codes() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let admin = panel.admin().await;
    panel.create_user(&admin, "tess", "user").await;

    // The admin turns the requirement on in the role matrix.
    let a = panel.signed_in("admin", 1280, 800).await;
    a.goto(&panel, "#/admin/roles").await;
    a.click("#role-matrix input[data-role=user][data-second-factor=required]")
        .await;
    a.wait_text(".toasts", "two-factor sign-in required").await;
    let role = panel.api(&admin, "GET", "/roles/user", json!(null)).await;
    assert_eq!(role["require_second_factor"], true);

    // Tess signs in and meets the setup, not the panel.
    let b = panel.browser(390, 844).await;
    b.goto(&panel, "").await;
    b.type_into("#login-username", "tess").await;
    b.type_into("#login-password", harness::USER_PASSWORD).await;
    b.click("#login-form button[type=submit]").await;
    b.wait_text("#second-factor-required", "Set up two-factor sign-in")
        .await;
    let nav = b
        .script("return document.getElementById('nav').hidden")
        .await;
    assert_eq!(nav, json!(true), "no navigation before the setup");
    b.click("#second-factor-start").await;
    b.wait_text("#second-factor-secret", "").await;
    let secret = b.find("#second-factor-secret").await.text().await.unwrap();
    assert!(secret.len() >= 32, "{secret}");
    b.type_into("#second-factor-code", &code_now(&panel, &secret))
        .await;
    b.click("#second-factor-confirm button[type=submit]").await;
    b.wait_text("#recovery-codes", "Recovery codes").await;
    b.screenshot("second-factor-recovery-codes").await;
    b.click("#second-factor-continue").await;
    b.wait_content("#nav", "Leads").await;

    // Next time, the sign-in asks for the code.
    b.click("#logout").await;
    b.wait_text("#login-form", "Sign in").await;
    panel.clock.advance(Duration::seconds(30));
    b.type_into("#login-username", "tess").await;
    b.type_into("#login-password", harness::USER_PASSWORD).await;
    b.click("#login-form button[type=submit]").await;
    b.wait_text("#login-error", "code from your authenticator app")
        .await;
    b.type_into("#login-code", &code_now(&panel, &secret)).await;
    b.click("#login-form button[type=submit]").await;
    b.wait_content("#nav", "Leads").await;
    b.goto(&panel, "#/account").await;
    b.wait_text("#second-factor-state", "Recovery codes left: 10")
        .await;

    // The admin sees it on in the users list.
    a.goto(&panel, "#/admin/users").await;
    a.find("button[data-reset-2fa=tess]").await;
    a.close().await;
    b.close().await;
}
