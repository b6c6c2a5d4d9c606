//! `POST /leads/bulk` and the export of a selection: per-lead permission and
//! scope, one audit row per changed lead, per-id results.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_of, TestApp};

async fn lead(app: &TestApp, token: &str, name: &str) -> String {
    let response = app
        .post(
            "/api/v1/leads",
            token,
            json!({"company_name": name, "contacts": [{"name": format!("{name} Contact"), "email": format!("hi@{}.example", name.to_lowercase())}]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "create {name}");
    let body: Value = response.json().await.unwrap();
    body["lead"]["id"].as_str().unwrap().to_string()
}

async fn bulk(app: &TestApp, token: &str, body: Value) -> Value {
    let response = app.post("/api/v1/leads/bulk", token, body.clone()).await;
    assert_eq!(response.status(), StatusCode::OK, "bulk {body}");
    response.json().await.unwrap()
}

async fn audit_of(app: &TestApp, admin: &str, id: &str) -> Vec<Value> {
    let rows: Value = app
        .get(&format!("/api/v1/audit?entity=lead&entity_id={id}"), admin)
        .await
        .json()
        .await
        .unwrap();
    rows["items"].as_array().unwrap().clone()
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn bulk_assign_changes_every_lead_with_one_audit_row_each_and_reports_unknown_ids() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (rep, _) = app.user_with_role(&admin, "rita", "user").await;
    let a = lead(&app, &admin, "Alpha").await;
    let b = lead(&app, &admin, "Bravo").await;
    let missing = "0190b7a2-0000-7000-8000-000000000000";

    let result = bulk(
        &app,
        &admin,
        json!({"ids": [a, b, missing, a], "action": "assign", "owner": "rita"}),
    )
    .await;
    assert_eq!(ids(&result["updated"]), vec![a.clone(), b.clone()]);
    let failed = result["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{result}");
    assert_eq!(failed[0]["id"], missing);
    assert_eq!(failed[0]["error"]["code"], "not_found");

    for id in [&a, &b] {
        let read: Value = app
            .get(&format!("/api/v1/leads/{id}"), &admin)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(read["lead"]["owner"], rep.as_str());
        let owner_rows: Vec<Value> = audit_of(&app, &admin, id)
            .await
            .into_iter()
            .filter(|r| r["action"] == "update" && r["field"] == "owner")
            .collect();
        assert_eq!(owner_rows.len(), 1, "one audit row for {id}");
        assert_eq!(owner_rows[0]["new"], format!("\"{rep}\""));
        assert_eq!(owner_rows[0]["actor_name"], "admin");
    }

    // Again: nothing to change, nothing written.
    let again = bulk(
        &app,
        &admin,
        json!({"ids": [a, b], "action": "assign", "owner": rep}),
    )
    .await;
    assert_eq!(ids(&again["unchanged"]), vec![a.clone(), b.clone()]);
    assert!(again["updated"].as_array().unwrap().is_empty());
    assert_eq!(
        audit_of(&app, &admin, &a)
            .await
            .iter()
            .filter(|r| r["field"] == "owner")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_reader_without_the_permission_gets_a_refusal_for_every_lead_and_nothing_changes() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    // A marketing manager sees every lead but may not change them.
    let (caller_id, caller) = app
        .user_with_role(&admin, "carl", "marketing_manager")
        .await;
    let a = lead(&app, &admin, "Charlie").await;
    // Even a lead of their own is not theirs to change.
    app.post(
        &format!("/api/v1/leads/{a}/assign"),
        &admin,
        json!({"owner": caller_id}),
    )
    .await;

    let result = bulk(
        &app,
        &caller,
        json!({"ids": [a], "action": "status", "status": "contacted"}),
    )
    .await;
    let failed = result["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["error"]["code"], "forbidden");
    assert!(failed[0]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("leads.write"));
    let read: Value = app
        .get(&format!("/api/v1/leads/{a}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["lead"]["status"], "new");
}

#[tokio::test]
async fn a_rep_changes_only_their_own_leads_and_others_are_not_found() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, rep) = app.user_with_role(&admin, "una", "user").await;
    let mine = lead(&app, &rep, "Mine").await;
    let theirs = lead(&app, &admin, "Theirs").await;

    let result = bulk(
        &app,
        &rep,
        json!({"ids": [mine, theirs], "action": "status", "status": "contacted"}),
    )
    .await;
    assert_eq!(ids(&result["updated"]), vec![mine.clone()]);
    let failed = result["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["id"], theirs.as_str());
    assert_eq!(
        failed[0]["error"]["code"], "not_found",
        "another's lead is not even confirmed to exist"
    );
    let theirs_now: Value = app
        .get(&format!("/api/v1/leads/{theirs}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs_now["lead"]["status"], "new");
    let rows = audit_of(&app, &admin, &mine).await;
    assert_eq!(
        rows.iter()
            .filter(|r| r["field"] == "status" && r["new"] == "\"contacted\"")
            .count(),
        1
    );
}

#[tokio::test]
async fn bulk_delete_and_restore_round_trip_with_audit_rows() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let a = lead(&app, &admin, "Delta").await;
    let b = lead(&app, &admin, "Echo").await;

    let deleted = bulk(&app, &admin, json!({"ids": [a, b], "action": "delete"})).await;
    assert_eq!(ids(&deleted["updated"]), vec![a.clone(), b.clone()]);
    let count: Value = app
        .get("/api/v1/leads/count", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(count["count"], 0);
    // A trashed lead cannot be changed, only restored.
    let status = bulk(
        &app,
        &admin,
        json!({"ids": [a], "action": "status", "status": "won"}),
    )
    .await;
    assert_eq!(status["failed"][0]["error"]["code"], "not_found");

    let restored = bulk(&app, &admin, json!({"ids": [a, b], "action": "restore"})).await;
    assert_eq!(ids(&restored["updated"]), vec![a.clone(), b.clone()]);
    for id in [&a, &b] {
        let actions: Vec<String> = audit_of(&app, &admin, id)
            .await
            .iter()
            .map(|r| r["action"].as_str().unwrap().to_string())
            .collect();
        assert!(actions.contains(&"delete".to_string()), "{actions:?}");
        assert!(actions.contains(&"restore".to_string()), "{actions:?}");
    }
}

#[tokio::test]
async fn bad_bulk_requests_are_refused_whole() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let a = lead(&app, &admin, "Foxtrot").await;

    let too_many: Vec<String> = (0..501).map(|i| format!("id-{i}")).collect();
    let response = app
        .post(
            "/api/v1/leads/bulk",
            &admin,
            json!({"ids": too_many, "action": "delete"}),
        )
        .await;
    let (status, _, _) = error_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let response = app
        .post(
            "/api/v1/leads/bulk",
            &admin,
            json!({"ids": [a], "action": "explode"}),
        )
        .await;
    let (status, code, message) = error_of(response).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
    );
    assert!(message.contains("action"), "{message}");

    let response = app
        .post(
            "/api/v1/leads/bulk",
            &admin,
            json!({"ids": [a], "action": "assign", "owner": "nobody-here"}),
        )
        .await;
    let (status, _, message) = error_of(response).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message.contains("owner"), "{message}");
}

#[tokio::test]
async fn a_selection_exports_exactly_its_visible_leads() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let a = lead(&app, &admin, "Golf").await;
    let _not_selected = lead(&app, &admin, "Hotel").await;
    let c = lead(&app, &admin, "India").await;

    let response = app
        .get(
            &format!("/api/v1/leads/export?ids={c},{a},unknown-id"),
            &admin,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("company_name,"), "{csv}");
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[1].starts_with("India,"), "in the order asked: {csv}");
    assert!(lines[2].starts_with("Golf,"), "{csv}");
    assert!(lines[2].contains("hi@golf.example"), "{csv}");

    let (_, rep) = app
        .user_with_role(&admin, "mara", "marketing_manager")
        .await;
    let response = app
        .get(&format!("/api/v1/leads/export?ids={a}"), &rep)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let (_, caller) = app.user_with_role(&admin, "cody", "caller").await;
    let (status, code, _) = error_of(
        app.get(&format!("/api/v1/leads/export?ids={a}"), &caller)
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
}
