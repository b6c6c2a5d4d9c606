//! Administration, "Your account" and the audit trail in the panel: custom
//! roles given to users, users reset and reactivated, one's own timezone
//! driving the due view, timelines and the audit log as sentences with
//! names (filtered by a person picked by name, exported as CSV), and
//! "sign out everywhere else".

use chrono::{Duration, Timelike};
use ea_crm::domain::clock::Clock;
use serde_json::{json, Value};

use crate::harness::{Panel, USER_PASSWORD};

/// Logs `username` in through the API and gives them a display name.
async fn named_user(panel: &Panel, username: &str, display_name: &str) -> String {
    let token = panel.user(username, "user").await;
    panel
        .api(
            &token,
            "PATCH",
            "/auth/me",
            json!({"display_name": display_name}),
        )
        .await;
    token
}

async fn create_lead(panel: &Panel, token: &str, company: &str) -> String {
    let created = panel
        .api(token, "POST", "/leads", json!({"company_name": company}))
        .await;
    created["lead"]["id"].as_str().unwrap().to_string()
}

pub async fn a_custom_role_is_created_and_given_to_a_user_who_then_sees_what_it_grants() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let admin = panel.admin().await;
    panel.create_user(&admin, "vera", "user").await;

    let a = panel.signed_in("admin", 1280, 900).await;
    a.goto(&panel, "#/admin/roles").await;
    a.type_into("#new-role-key", "reviewer").await;
    a.type_into("#new-role-name", "Reviewer").await;
    a.type_into("#new-role-description", "Reads the audit log")
        .await;
    a.click("#new-role-form button[type=submit]").await;
    a.wait_text(".toasts", "Role Reviewer created").await;
    a.click("#role-matrix input[data-role=reviewer][data-perm=\"audit.read\"]")
        .await;
    a.wait_text(".toasts", "granted audit.read").await;
    a.find("form[data-custom-role=reviewer]").await;

    // Vera has no audit log before.
    let v = panel.signed_in("vera", 390, 844).await;
    v.goto(&panel, "#/admin/audit").await;
    let before = v
        .find("nav.tabs")
        .await
        .prop("textContent")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(!before.contains("Audit log"), "{before}");

    a.goto(&panel, "#/admin/users").await;
    a.select("select[data-role-of=vera]", "reviewer").await;
    a.wait_text(".toasts", "Role changed").await;
    let vera = panel.api(&admin, "GET", "/users?q=vera", json!(null)).await;
    assert_eq!(vera["items"][0]["role"], "reviewer");

    // On her next page she has the audit log, and only that.
    v.refresh().await;
    v.wait_content("#nav", "Administration").await;
    v.goto(&panel, "#/admin/audit").await;
    v.find("#audit-table").await;
    let tabs = v.find("nav.tabs").await.text().await.unwrap();
    assert_eq!(tabs.trim(), "Audit log", "{tabs}");

    // A role someone holds cannot be deleted; once free, it can.
    a.goto(&panel, "#/admin/roles").await;
    a.click("button[data-delete-role=reviewer]").await;
    a.accept_dialog().await;
    a.find(".toast-error").await;
    assert_eq!(panel.status(&admin, "/roles/reviewer").await, 200);
    panel
        .api(
            &admin,
            "PATCH",
            &format!("/users/{}", vera["items"][0]["id"].as_str().unwrap()),
            json!({"role": "user"}),
        )
        .await;
    a.goto(&panel, "#/admin/roles").await;
    a.click("button[data-delete-role=reviewer]").await;
    a.accept_dialog().await;
    a.wait_text(".toasts", "Role Reviewer deleted").await;
    assert_eq!(panel.status(&admin, "/roles/reviewer").await, 404);
    a.close().await;
    v.close().await;
}

pub async fn a_user_is_deactivated_reactivated_and_given_a_new_password() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let walt = panel.user("walt", "user").await;

    let a = panel.signed_in("admin", 1280, 900).await;
    a.goto(&panel, "#/admin/users").await;
    a.type_into("#user-search", "wal").await;
    a.click("form[role=search] button[type=submit]").await;
    a.wait_exact("tr[data-user=walt] .user-state", "active")
        .await;
    let rows = a
        .script("return document.querySelectorAll('#users-table tr[data-user]').length")
        .await;
    assert_eq!(rows, json!(1), "the search keeps only walt");

    a.click("button[data-deactivate=walt]").await;
    a.wait_exact("tr[data-user=walt] .user-state", "inactive")
        .await;
    assert_eq!(panel.status(&walt, "/auth/me").await, 401, "signed out");
    a.click("button[data-reactivate=walt]").await;
    a.wait_exact("tr[data-user=walt] .user-state", "active")
        .await;

    a.click("details:has(form[data-reset-password=walt]) > summary")
        .await;
    a.type_into("#reset-password-walt", "a-brand-new-secret-77")
        .await;
    a.click("form[data-reset-password=walt] button[type=submit]")
        .await;
    a.wait_text(".toasts", "Password reset for walt").await;
    // The new password works in the panel.
    let w = panel.browser(390, 844).await;
    w.login(&panel, "walt", "a-brand-new-secret-77").await;
    a.close().await;
    w.close().await;
}

pub async fn changing_your_timezone_moves_what_is_due_today() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    // 20:00 UTC: in Tokyo it is already 05:00 the next day.
    let now = panel.clock.now();
    let to_eight_pm = (20 * 3600 - now.num_seconds_from_midnight() as i64).rem_euclid(86_400);
    panel.clock.advance(Duration::seconds(to_eight_pm));
    let tina = named_user(&panel, "tina", "Tina Tanaka").await;
    let lead = create_lead(&panel, &tina, "Tokyo Trading").await;
    let at = panel.clock.now() + Duration::hours(6);
    panel
        .api(
            &tina,
            "PUT",
            &format!("/leads/{lead}/follow-ups/1"),
            json!({"scheduled_at": at}),
        )
        .await;

    let b = panel.browser_with(390, 844, true).await;
    b.login(&panel, "tina", USER_PASSWORD).await;
    b.goto(&panel, "#/dashboard").await;
    b.wait_text("main", "Nothing due.").await;

    b.goto(&panel, "#/account").await;
    b.find("#profile-timezone option[value=\"Asia/Tokyo\"]")
        .await;
    b.select("#profile-timezone", "Asia/Tokyo").await;
    b.click("#profile-form button[type=submit]").await;
    b.wait_text(".toasts", "Profile saved").await;
    let me = panel.api(&tina, "GET", "/auth/me", json!(null)).await;
    assert_eq!(me["user"]["timezone"], "Asia/Tokyo");

    b.goto(&panel, "#/dashboard").await;
    b.wait_text("main", "Tokyo Trading").await;
    b.close().await;
}

pub async fn a_lead_timeline_reads_as_sentences_with_names() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let anna = named_user(&panel, "anna", "Anna Adler").await;
    let lead = create_lead(&panel, &anna, "Acme GmbH").await;
    panel
        .api(
            &anna,
            "PATCH",
            &format!("/leads/{lead}"),
            json!({"status": "contacted"}),
        )
        .await;

    let b = panel.signed_in("anna", 1280, 900).await;
    b.goto(&panel, &format!("#/leads/{lead}")).await;
    b.wait_text(
        "#timeline",
        "Anna Adler changed the status of Acme GmbH from New to Contacted",
    )
    .await;
    b.wait_text("#timeline", "Anna Adler created the lead Acme GmbH")
        .await;
    let text = b.find("#timeline").await.text().await.unwrap();
    let me = panel.api(&anna, "GET", "/auth/me", json!(null)).await;
    let anna_id = me["user"]["id"].as_str().unwrap();
    assert!(!text.contains('{') && !text.contains(anna_id), "{text}");
    assert!(text.contains("owner: Anna Adler"), "{text}");
    b.close().await;
}

pub async fn the_audit_log_is_filtered_by_a_person_picked_by_name_and_exported_as_csv() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let anna = named_user(&panel, "anna", "Anna Adler").await;
    let bob = named_user(&panel, "bob", "Bob Baker").await;
    create_lead(&panel, &anna, "Acme GmbH").await;
    create_lead(&panel, &bob, "Bobcat Ltd").await;

    let a = panel.signed_in("admin", 390, 844).await;
    a.goto(&panel, "#/admin/audit").await;
    a.wait_text("#audit-table", "Bob Baker created the lead Bobcat Ltd")
        .await;
    a.type_into("#audit-person", "Anna").await;
    a.find("#audit-people option[value=\"Anna Adler (anna)\"]")
        .await;
    a.set_value("#audit-person", "Anna Adler (anna)").await;
    let today = panel.clock.now().format("%Y-%m-%d").to_string();
    a.set_value("#audit-from", &today).await;
    a.set_value("#audit-to", &today).await;
    a.click("#audit-filter button[type=submit]").await;
    a.wait_text("#audit-table", "Anna Adler created the lead Acme GmbH")
        .await;
    a.screenshot("audit-by-person-phone").await;
    let shown = a.find("#audit-table").await.text().await.unwrap();
    assert!(!shown.contains("Bobcat"), "{shown}");

    let href = a
        .script("return document.getElementById('audit-export').getAttribute('href')")
        .await;
    assert!(href.as_str().unwrap().contains("user="), "{href}");
    let csv: Value = a
        .script("return fetch(document.getElementById('audit-export').href).then((r) => r.text())")
        .await;
    let csv = csv.as_str().unwrap();
    assert!(csv.starts_with("at,actor,channel,sentence,"), "{csv}");
    assert!(
        csv.contains("Anna Adler created the lead Acme GmbH"),
        "{csv}"
    );
    assert!(!csv.contains("Bobcat"), "{csv}");

    // Tomorrow onwards holds nothing.
    let tomorrow = (panel.clock.now() + Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    a.set_value("#audit-from", &tomorrow).await;
    a.set_value("#audit-to", "").await;
    a.click("#audit-filter button[type=submit]").await;
    a.wait_text("#audit-table", "Nothing was recorded").await;
    a.close().await;
}

pub async fn sign_out_everywhere_else_ends_the_other_sessions_and_keeps_this_one() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let elsewhere = panel.user("sam", "user").await;

    let b = panel.browser_with(390, 844, true).await;
    b.login(&panel, "sam", USER_PASSWORD).await;
    b.goto(&panel, "#/account").await;
    b.wait_text("#session-list", "This browser").await;
    let count = b
        .script("return document.querySelectorAll('#session-list li').length")
        .await;
    assert_eq!(count, json!(2));
    b.click("#sign-out-others").await;
    b.accept_dialog().await;
    b.wait_text(".toasts", "Signed out 1 other session").await;
    assert_eq!(panel.status(&elsewhere, "/auth/me").await, 401);
    let count = b
        .script("return document.querySelectorAll('#session-list li').length")
        .await;
    assert_eq!(count, json!(1));
    // This browser is still signed in.
    b.refresh().await;
    b.wait_text("#session-list", "This browser").await;
    b.screenshot("account-phone-dark").await;
    b.close().await;
}

/// A custom role with these permissions, made by the admin.
async fn role(panel: &Panel, admin: &str, key: &str, permissions: &[&str]) {
    panel
        .api(
            admin,
            "POST",
            "/roles",
            json!({"key": key, "name": key, "description": ""}),
        )
        .await;
    panel
        .api(
            admin,
            "PATCH",
            &format!("/roles/{key}"),
            json!({"permissions": permissions}),
        )
        .await;
}

/// The permission keys the edit form of `username` offers as extras.
async fn offered_extras(b: &crate::harness::Browser, username: &str) -> Vec<String> {
    b.find(&format!(
        "form[data-edit-user={username}] input[data-extra]"
    ))
    .await;
    let keys = b
        .script(&format!(
            "return [...document.querySelectorAll('form[data-edit-user={username}] input[data-extra]')].map((i) => i.dataset.extra)"
        ))
        .await;
    serde_json::from_value(keys).unwrap()
}

pub async fn a_user_manager_is_offered_only_the_extra_permissions_they_hold() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let admin = panel.admin().await;
    let manager_permissions = ["users.read", "users.manage", "leads.read.own", "tasks.read"];
    role(&panel, &admin, "people_lead", &manager_permissions).await;
    role(&panel, &admin, "intern", &["leads.read.own"]).await;
    panel.user("mia", "people_lead").await;
    panel.user("ivo", "intern").await;

    // Mia manages users but holds four permissions: only those are offered.
    let m = panel.signed_in("mia", 1280, 900).await;
    m.goto(&panel, "#/admin/users").await;
    let mut offered = offered_extras(&m, "ivo").await;
    offered.sort();
    let mut want: Vec<String> = manager_permissions.iter().map(|p| p.to_string()).collect();
    want.sort();
    assert_eq!(offered, want);

    // What she ticks is granted.
    m.click("tr[data-user=ivo] + tr.user-edit summary").await;
    m.click("form[data-edit-user=ivo] input[data-extra=\"tasks.read\"]")
        .await;
    m.click("form[data-edit-user=ivo] button[type=submit]")
        .await;
    m.wait_text(".toasts", "Saved ivo").await;
    let ivo = panel.api(&admin, "GET", "/users?q=ivo", json!(null)).await;
    assert_eq!(ivo["items"][0]["extra_permissions"], json!(["tasks.read"]));

    // The admin, who holds everything, is offered the whole catalogue.
    let catalogue = panel.api(&admin, "GET", "/permissions", json!(null)).await;
    let a = panel.signed_in("admin", 1280, 900).await;
    a.goto(&panel, "#/admin/users").await;
    let all = offered_extras(&a, "ivo").await;
    assert_eq!(all.len(), catalogue.as_array().unwrap().len());
    assert!(all.iter().any(|p| p == "leads.delete"));
    m.close().await;
    a.close().await;
}
