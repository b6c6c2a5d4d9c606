//! Data a company must be able to remove: a trashed lead deleted for good
//! (one, the whole trash, or past the retention an admin sets, on the
//! controllable clock), and a contact's personal data erased on request
//! (GDPR art. 17) everywhere it was copied, each audited without the
//! values.

use chrono::Duration;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{error_of, ok, TestApp};

const POLL_MS: u64 = 40;

/// A lead with one contact, a note naming the contact, and a call; returns
/// (lead id, contact id).
async fn lead_with_contact(app: &TestApp, token: &str, company: &str) -> (String, String) {
    let created = ok(app
        .post(
            "/api/v1/leads",
            token,
            json!({"company_name": company, "country": "DE",
                   "contacts": [{"name": "Jane Quixote", "email": "jquixote@mail.example",
                                 "phone": "+49 30 98765432", "position": "Head of Buying"}]}),
        )
        .await)
    .await;
    let lead = created["lead"]["id"].as_str().unwrap().to_string();
    let contact = created["contacts"][0]["id"].as_str().unwrap().to_string();
    app.add_note(
        token,
        &lead,
        "Jane Quixote asked for a quote: write to jquixote@mail.example",
    )
    .await;
    ok(app
        .post(
            &format!("/api/v1/leads/{lead}/calls"),
            token,
            json!({"outcome": "no_answer", "notes": "Rang Jane Quixote, no answer"}),
        )
        .await)
    .await;
    (lead, contact)
}

async fn audit_rows(app: &TestApp, admin: &str, query: &str) -> Vec<Value> {
    ok(app.get(&format!("/api/v1/audit?{query}"), admin).await).await["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn trash(app: &TestApp, token: &str, lead: &str) {
    let response = app.delete(&format!("/api/v1/leads/{lead}"), token).await;
    assert_eq!(response.status(), StatusCode::OK, "trash {lead}");
}

async fn status_of(app: &TestApp, token: &str, path: &str) -> StatusCode {
    app.get(path, token).await.status()
}

async fn trashed_ids(app: &TestApp, token: &str) -> Vec<String> {
    ok(app.get("/api/v1/leads?deleted=true&limit=500", token).await).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_string())
        .collect()
}

fn mentions_the_person(text: &str) -> Option<&'static str> {
    let lower = text.to_lowercase();
    ["quixote", "98765432", "head of buying"]
        .into_iter()
        .find(|needle| lower.contains(needle))
}

#[tokio::test]
async fn a_trashed_lead_is_purged_with_its_records_and_the_audit_keeps_a_purge_row_without_values()
{
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (lead, contact) = lead_with_contact(&app, &admin, "Purged Widgets").await;
    let task = ok(app
        .post(
            "/api/v1/tasks",
            &admin,
            json!({"title": "Ship the sample", "task_type": "sales", "lead": lead}),
        )
        .await)
    .await;
    let task_id = task["id"].as_str().unwrap();
    trash(&app, &admin, &lead).await;

    let purged = ok(app
        .delete(&format!("/api/v1/leads/{lead}/purge"), &admin)
        .await)
    .await;
    assert_eq!(purged, json!({"deleted": true}));

    // Gone from everywhere a user could reach it, the trash included.
    assert_eq!(
        status_of(&app, &admin, &format!("/api/v1/leads/{lead}")).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status_of(&app, &admin, &format!("/api/v1/leads/{lead}/contacts")).await,
        StatusCode::NOT_FOUND
    );
    assert!(!trashed_ids(&app, &admin).await.contains(&lead));
    let restore = app
        .post(&format!("/api/v1/leads/{lead}/restore"), &admin, json!({}))
        .await;
    assert_eq!(restore.status(), StatusCode::NOT_FOUND);
    let left = app
        .ctx()
        .store
        .run(
            "RETURN [
                array::len((SELECT VALUE id FROM contact WHERE lead = $lead)),
                array::len((SELECT VALUE id FROM lead_note WHERE lead = $lead)),
                array::len((SELECT VALUE id FROM call WHERE lead = $lead))]",
            json!({"lead": lead}),
        )
        .await
        .unwrap();
    assert_eq!(left.value(0), &json!([0, 0, 0]), "contacts, notes, calls");

    // The task stays, unlinked, and says so in its audit.
    let task = ok(app.get(&format!("/api/v1/tasks/{task_id}"), &admin).await).await;
    assert!(task.get("lead").is_none(), "{task}");
    let task_rows = audit_rows(&app, &admin, &format!("entity=task&entity_id={task_id}")).await;
    assert!(
        task_rows
            .iter()
            .any(|r| r["field"] == "lead" && r["old"] == json!(format!("\"{lead}\""))),
        "{task_rows:?}"
    );

    // One row about the lead remains: the purge, with counts and no values.
    let rows = audit_rows(&app, &admin, &format!("entity=lead&entity_id={lead}")).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["action"], "purge");
    assert_eq!(rows[0]["actor_name"], "admin");
    let removed: Value = serde_json::from_str(rows[0]["new"].as_str().unwrap()).unwrap();
    assert_eq!(
        (
            &removed["contacts"],
            &removed["notes"],
            &removed["calls"],
            &removed["tasks_unlinked"]
        ),
        (&json!(1), &json!(1), &json!(1), &json!(1))
    );
    assert!(
        audit_rows(&app, &admin, &format!("entity=contact&entity_id={contact}"))
            .await
            .is_empty()
    );
    let everything = serde_json::to_string(&audit_rows(&app, &admin, "limit=500").await).unwrap();
    assert_eq!(mentions_the_person(&everything), None, "{everything}");
}

#[tokio::test]
async fn a_live_lead_is_not_purged_and_nothing_changes() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    // The background scorer would otherwise store the lead's score at a
    // moment of its own, between the two reads compared below.
    app.switch_feature(&admin, "lead_scoring", false).await;
    let (lead, _) = lead_with_contact(&app, &admin, "Live Widgets").await;
    let before = ok(app.get(&format!("/api/v1/leads/{lead}"), &admin).await).await;
    let rows_before = audit_rows(&app, &admin, "limit=500").await.len();

    let (status, code, message) = error_of(
        app.delete(&format!("/api/v1/leads/{lead}/purge"), &admin)
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (StatusCode::CONFLICT, "conflict"));
    assert!(message.contains("not in the trash"), "{message}");

    let after = ok(app.get(&format!("/api/v1/leads/{lead}"), &admin).await).await;
    assert_eq!(before, after);
    assert_eq!(
        audit_rows(&app, &admin, "limit=500").await.len(),
        rows_before
    );
    // Emptying the trash leaves live leads alone too.
    let emptied = ok(app.delete("/api/v1/leads/trash", &admin).await).await;
    assert_eq!(emptied, json!({"purged": 0, "more": false}));
    assert_eq!(
        status_of(&app, &admin, &format!("/api/v1/leads/{lead}")).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn purging_and_emptying_the_trash_need_leads_purge_and_a_manager_has_it() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, rep) = app.user_with_role(&admin, "rhea", "user").await;
    let (_, manager) = app.user_with_role(&admin, "mona", "manager").await;
    let lead = app.create_lead(&rep, "Rhea's Lead").await;
    trash(&app, &admin, &lead).await;

    for response in [
        app.delete(&format!("/api/v1/leads/{lead}/purge"), &rep)
            .await,
        app.delete("/api/v1/leads/trash", &rep).await,
    ] {
        let (status, code, message) = error_of(response).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::FORBIDDEN, "forbidden")
        );
        assert!(message.contains("leads.purge"), "{message}");
    }
    assert!(trashed_ids(&app, &admin).await.contains(&lead));

    ok(app
        .delete(&format!("/api/v1/leads/{lead}/purge"), &manager)
        .await)
    .await;
    assert!(!trashed_ids(&app, &admin).await.contains(&lead));
}

#[tokio::test]
async fn emptying_the_trash_purges_every_trashed_lead_and_leaves_live_ones() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let a = app.create_lead(&admin, "Trash A").await;
    let b = app.create_lead(&admin, "Trash B").await;
    let live = app.create_lead(&admin, "Still Here").await;
    trash(&app, &admin, &a).await;
    trash(&app, &admin, &b).await;

    let emptied = ok(app.delete("/api/v1/leads/trash", &admin).await).await;
    assert_eq!(emptied, json!({"purged": 2, "more": false}));
    assert!(trashed_ids(&app, &admin).await.is_empty());
    for gone in [&a, &b] {
        assert_eq!(
            status_of(&app, &admin, &format!("/api/v1/leads/{gone}")).await,
            StatusCode::NOT_FOUND
        );
        let rows = audit_rows(&app, &admin, &format!("entity=lead&entity_id={gone}")).await;
        assert_eq!(
            rows.iter().map(|r| r["action"].clone()).collect::<Vec<_>>(),
            vec![json!("purge")]
        );
    }
    assert_eq!(
        status_of(&app, &admin, &format!("/api/v1/leads/{live}")).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_retention_purges_only_leads_trashed_longer_ago_than_the_setting() {
    let app = TestApp::spawn_with(|c| c.reminder_poll_ms = POLL_MS).await;
    let admin = app.admin_token().await;
    let (_, rep) = app.user_with_role(&admin, "remy", "user").await;

    // Off by default; only settings.manage changes it, within its bounds.
    let setting = ok(app.get("/api/v1/settings/trash-retention", &rep).await).await;
    assert_eq!(setting, json!({}));
    let (status, _, _) = error_of(
        app.put_json(
            "/api/v1/settings/trash-retention",
            &rep,
            json!({"trash_retention_days": 30}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, code, message) = error_of(
        app.put_json(
            "/api/v1/settings/trash-retention",
            &admin,
            json!({"trash_retention_days": 0}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
    );
    assert!(message.starts_with("trash_retention_days"), "{message}");
    let set = ok(app
        .put_json(
            "/api/v1/settings/trash-retention",
            &admin,
            json!({"trash_retention_days": 30}),
        )
        .await)
    .await;
    assert_eq!(set, json!({"trash_retention_days": 30}));

    let old = app.create_lead(&admin, "Trashed Long Ago").await;
    let recent = app.create_lead(&admin, "Trashed Lately").await;
    let live = app.create_lead(&admin, "Never Trashed").await;
    trash(&app, &admin, &old).await;
    app.clock.advance(Duration::days(20));
    // Sessions do not last weeks: sign in again after each jump.
    let admin = app.admin_token().await;
    trash(&app, &admin, &recent).await;
    app.clock.advance(Duration::days(11));
    let admin = app.admin_token().await;

    // `old` has been in the trash 31 days, `recent` 11: the next hourly
    // round takes `old` only.
    let mut rounds = 0;
    while trashed_ids(&app, &admin).await.contains(&old) {
        rounds += 1;
        assert!(rounds < 250, "the retention round never purged {old}");
        tokio::time::sleep(std::time::Duration::from_millis(POLL_MS)).await;
    }
    assert_eq!(trashed_ids(&app, &admin).await, vec![recent.clone()]);
    assert_eq!(
        status_of(&app, &admin, &format!("/api/v1/leads/{live}")).await,
        StatusCode::OK
    );
    let rows = audit_rows(&app, &admin, &format!("entity=lead&entity_id={old}")).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (
            &rows[0]["action"],
            &rows[0]["actor_name"],
            &rows[0]["channel"]
        ),
        (&json!("purge"), &json!("system"), &json!("system"))
    );

    // Switched off again, nothing more goes.
    let off = ok(app
        .put_json(
            "/api/v1/settings/trash-retention",
            &admin,
            json!({"trash_retention_days": null}),
        )
        .await)
    .await;
    assert_eq!(off, json!({}));
}

#[tokio::test]
async fn an_erased_contact_leaves_no_trace_in_the_lead_audit_timeline_search_export_or_a_backup() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    // Created with an idempotency key, so the stored answer holds the
    // contact too.
    let created = ok(app
        .send_with_key(
            Method::POST,
            "/api/v1/leads",
            &admin,
            "erasure-create-1",
            json!({"company_name": "Umbrella Trading", "country": "DE",
                   "contacts": [
                       {"name": "Jane Quixote", "email": "jquixote@mail.example",
                        "phone": "+49 30 98765432", "position": "Head of Buying"},
                       {"name": "Bob Keeper", "email": "bob.keeper@mail.example"}]}),
        )
        .await)
    .await;
    let lead = created["lead"]["id"].as_str().unwrap().to_string();
    let contact = created["contacts"][0]["id"].as_str().unwrap().to_string();
    // An edit, so the audit holds an old and a new value of hers.
    ok(app
        .patch(
            &format!("/api/v1/leads/{lead}/contacts/{contact}"),
            &admin,
            json!({"email": "jane.quixote@mail.example"}),
        )
        .await)
    .await;
    app.add_note(
        &admin,
        &lead,
        "Jane Quixote wants the catalogue at jane.quixote@mail.example",
    )
    .await;
    let found = ok(app.get("/api/v1/leads?q=quixote", &admin).await).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");

    // A manager may not erase (contacts.erase is the admin's).
    let (_, manager) = app.user_with_role(&admin, "max", "manager").await;
    let (status, _, message) = error_of(
        app.post(
            &format!("/api/v1/leads/{lead}/contacts/{contact}/erase"),
            &manager,
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(message.contains("contacts.erase"), "{message}");

    let erased = ok(app
        .post(
            &format!("/api/v1/leads/{lead}/contacts/{contact}/erase"),
            &admin,
            json!({}),
        )
        .await)
    .await;
    let pseudonym = erased["name"].as_str().unwrap().to_string();
    assert!(pseudonym.starts_with("Erased contact "), "{erased}");
    for field in ["email", "phone", "position", "linkedin"] {
        assert!(erased.get(field).is_none(), "{field} in {erased}");
    }

    let detail = ok(app.get(&format!("/api/v1/leads/{lead}"), &admin).await).await;
    let names: Vec<&str> = detail["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec![pseudonym.as_str(), "Bob Keeper"]);
    let timeline = ok(app
        .get(&format!("/api/v1/leads/{lead}/timeline?limit=500"), &admin)
        .await)
    .await;
    let audit = audit_rows(&app, &admin, "limit=500").await;
    let export = app.get("/api/v1/leads/export", &admin).await;
    assert_eq!(export.status(), StatusCode::OK);
    let export = export.text().await.unwrap();
    assert!(
        export.contains("Bob Keeper") && export.contains(&pseudonym),
        "{export}"
    );
    for (place, text) in [
        ("lead", detail.to_string()),
        ("timeline", timeline.to_string()),
        ("audit", serde_json::to_string(&audit).unwrap()),
        ("export", export),
    ] {
        assert_eq!(mentions_the_person(&text), None, "{place}: {text}");
    }
    let found = ok(app.get("/api/v1/leads?q=quixote", &admin).await).await;
    assert!(found["items"].as_array().unwrap().is_empty(), "{found}");
    let still = ok(app.get("/api/v1/leads?q=keeper", &admin).await).await;
    assert_eq!(still["items"].as_array().unwrap().len(), 1, "{still}");

    // The erasure is audited with the field names and no values.
    let erase_rows: Vec<Value> =
        audit_rows(&app, &admin, &format!("entity=contact&entity_id={contact}"))
            .await
            .into_iter()
            .filter(|r| r["action"] == "erase")
            .collect();
    let mut fields: Vec<&str> = erase_rows
        .iter()
        .map(|r| r["field"].as_str().unwrap())
        .collect();
    fields.sort();
    assert_eq!(fields, vec!["email", "name", "phone", "position"]);
    assert!(erase_rows
        .iter()
        .all(|r| r.get("old").is_none() && r.get("new").is_none() && r["actor_name"] == "admin"));

    // Erasing again changes nothing and writes no second erasure.
    ok(app
        .post(
            &format!("/api/v1/leads/{lead}/contacts/{contact}/erase"),
            &admin,
            json!({}),
        )
        .await)
    .await;
    assert_eq!(
        audit_rows(&app, &admin, &format!("entity=contact&entity_id={contact}"))
            .await
            .iter()
            .filter(|r| r["action"] == "erase")
            .count(),
        4
    );

    // A backup made afterwards holds the pseudonym, not the person.
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("after-erasure.tar");
    let mut config = ea_crm::config::Config::for_tests();
    config.upload_dir = app.upload_dir();
    ea_crm::backup::backup(&config, &app.ctx().store, &archive)
        .await
        .unwrap();
    let bytes = std::fs::read(&archive).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains("Bob Keeper"),
        "the backup holds the lead's data"
    );
    assert_eq!(mentions_the_person(&text), None);
}
