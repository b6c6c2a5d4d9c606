//! `/leads/count` answers the common filters (trash, status, owner, and a
//! `leads.read.own` user's scope) from `lead_count`, a table the database
//! keeps with every change to a lead. These tests walk the lead list page
//! by page after each kind of change and hold the count to that walk.

use serde_json::{json, Value};

use crate::helpers::{ok, TestApp};
use crate::import_jobs::{finished, upload};

/// Every lead the list gives for `query`, page by page.
async fn walk(app: &TestApp, token: &str, query: &str) -> u64 {
    let mut seen = 0;
    let mut after: Option<String> = None;
    for _ in 0..100 {
        let cursor = after
            .as_deref()
            .map(|c| format!("&after={c}"))
            .unwrap_or_default();
        let page = ok(app
            .get(&format!("/api/v1/leads?limit=3{query}{cursor}"), token)
            .await)
        .await;
        seen += page["items"].as_array().unwrap().len() as u64;
        match page["next_cursor"].as_str() {
            Some(next) => after = Some(next.to_string()),
            None => return seen,
        }
    }
    panic!("the list did not end within 100 pages");
}

async fn count(app: &TestApp, token: &str, query: &str) -> u64 {
    let path = format!("/api/v1/leads/count?{}", query.trim_start_matches('&'));
    ok(app.get(&path, token).await).await["count"]
        .as_u64()
        .unwrap()
}

/// Holds every count the tally answers to a walk of the list, for the
/// admin and for each rep (whose scope is their own leads).
async fn counts_match_a_walk(app: &TestApp, who: &[(&str, &str)], owners: &[&str], step: &str) {
    let mut queries = vec![String::new(), "&deleted=true".to_string()];
    for status in ["new", "contacted", "won"] {
        queries.push(format!("&status={status}"));
        queries.push(format!("&status={status}&deleted=true"));
    }
    for owner in owners {
        queries.push(format!("&owner={owner}"));
        queries.push(format!("&owner={owner}&status=new"));
    }
    for (name, token) in who {
        for query in &queries {
            assert_eq!(
                count(app, token, query).await,
                walk(app, token, query).await,
                "after {step}: {name}'s count of `{query}`"
            );
        }
    }
}

async fn lead(app: &TestApp, token: &str, company: &str, owner: Option<&str>) -> String {
    let mut body = json!({"company_name": company, "allow_duplicate": true});
    if let Some(owner) = owner {
        body["owner"] = json!(owner);
    }
    let created = ok(app.post("/api/v1/leads", token, body).await).await;
    created["lead"]["id"].as_str().unwrap().to_string()
}

async fn patch(app: &TestApp, token: &str, id: &str, body: Value) {
    ok(app.patch(&format!("/api/v1/leads/{id}"), token, body).await).await;
}

#[tokio::test]
async fn counts_equal_a_walk_of_the_list_after_every_kind_of_change() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (ann, ann_token) = app.user_with_role(&admin, "ann", "user").await;
    let (bob, bob_token) = app.user_with_role(&admin, "bob", "user").await;
    let who = [
        ("admin", admin.as_str()),
        ("ann", &ann_token),
        ("bob", &bob_token),
    ];
    let owners = [ann.as_str(), bob.as_str()];

    // Created by the admin for the reps, and by the reps themselves.
    let mut ids = Vec::new();
    for i in 0..4 {
        let owner = owners[i % 2];
        ids.push(lead(&app, &admin, &format!("Admin Made {i}"), Some(owner)).await);
    }
    ids.push(lead(&app, &ann_token, "Ann Own", None).await);
    ids.push(lead(&app, &bob_token, "Bob Own", None).await);
    ids.push(lead(&app, &admin, "Nobody's", None).await);
    counts_match_a_walk(&app, &who, &owners, "creates").await;
    assert_eq!(count(&app, &admin, "").await, 7);
    assert_eq!(count(&app, &ann_token, "").await, 3);

    // Edits: a status moves, an owner changes hands (ann created it, bob
    // owns it now, so both see it), a bulk action moves two more.
    patch(&app, &admin, &ids[0], json!({"status": "contacted"})).await;
    patch(&app, &admin, &ids[4], json!({"owner": bob})).await;
    ok(app
        .post(
            "/api/v1/leads/bulk",
            &admin,
            json!({"ids": [ids[1], ids[2]], "action": "status", "status": "won"}),
        )
        .await)
    .await;
    counts_match_a_walk(&app, &who, &owners, "edits").await;
    assert_eq!(count(&app, &bob_token, "").await, 4);

    // Trash, restore, purge.
    ok(app
        .delete(&format!("/api/v1/leads/{}", ids[3]), &admin)
        .await)
    .await;
    ok(app
        .delete(&format!("/api/v1/leads/{}", ids[5]), &admin)
        .await)
    .await;
    ok(app
        .delete(&format!("/api/v1/leads/{}", ids[6]), &admin)
        .await)
    .await;
    ok(app
        .post(
            &format!("/api/v1/leads/{}/restore", ids[5]),
            &admin,
            json!({}),
        )
        .await)
    .await;
    counts_match_a_walk(&app, &who, &owners, "trash and restore").await;
    ok(app
        .delete(&format!("/api/v1/leads/{}/purge", ids[6]), &admin)
        .await)
    .await;
    counts_match_a_walk(&app, &who, &owners, "purge").await;
    assert_eq!(count(&app, &admin, "&deleted=true").await, 1);

    // A merge sends the merged lead to the trash.
    ok(app
        .post(
            "/api/v1/ai/duplicates/merge",
            &admin,
            json!({"keep": ids[0], "merge": ids[1]}),
        )
        .await)
    .await;
    counts_match_a_walk(&app, &who, &owners, "merge").await;

    // An import adds leads in batches; its undo trashes them again.
    let mut csv = String::from("Company,Owner,Status\n");
    for i in 0..5 {
        csv.push_str(&format!("Imported {i},ann,{}\n", ["new", "won"][i % 2]));
    }
    let won_before = count(&app, &ann_token, "&status=won").await;
    let job = upload(&app, &admin, "", &csv).await;
    let id = job["id"].as_str().unwrap();
    let done = finished(&app, &admin, id).await;
    assert_eq!(done["status"], "completed", "{done}");
    counts_match_a_walk(&app, &who, &owners, "import").await;
    assert!(count(&app, &ann_token, "&status=won").await > won_before);
    ok(app
        .post(
            &format!("/api/v1/leads/imports/{id}/undo"),
            &admin,
            json!({}),
        )
        .await)
    .await;
    counts_match_a_walk(&app, &who, &owners, "undo of the import").await;
    assert_eq!(count(&app, &ann_token, "&status=won").await, won_before);
}

#[tokio::test]
async fn a_status_still_held_by_a_trashed_lead_cannot_be_deleted() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    ok(app
        .post(
            "/api/v1/pipeline/statuses",
            &admin,
            json!({"key": "parked", "name": "Parked"}),
        )
        .await)
    .await;
    let id = lead(&app, &admin, "Parked Co", None).await;
    patch(&app, &admin, &id, json!({"status": "parked"})).await;
    ok(app.delete(&format!("/api/v1/leads/{id}"), &admin).await).await;
    let refused = app.delete("/api/v1/pipeline/statuses/parked", &admin).await;
    assert_eq!(refused.status(), reqwest::StatusCode::CONFLICT);
    ok(app
        .delete(&format!("/api/v1/leads/{id}/purge"), &admin)
        .await)
    .await;
    let deleted = app.delete("/api/v1/pipeline/statuses/parked", &admin).await;
    assert!(deleted.status().is_success(), "{}", deleted.status());
}
