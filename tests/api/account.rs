//! One's own account: profile (display name, email, timezone) and the list
//! of open sessions with "sign out everywhere else".

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{error_of, ok, TestApp, USER_PASSWORD};

#[tokio::test]
async fn a_user_without_users_manage_changes_their_own_name_email_and_timezone() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (id, rep) = app.user_with_role(&admin, "rita", "user").await;

    let me = ok(app
        .patch(
            "/api/v1/auth/me",
            &rep,
            json!({"display_name": "Rita Rep", "email": "rita@new.example", "timezone": "Asia/Tokyo"}),
        )
        .await)
    .await;
    assert_eq!(me["display_name"], "Rita Rep");
    assert_eq!(me["email"], "rita@new.example");
    assert_eq!(me["timezone"], "Asia/Tokyo");
    let stored = ok(app.get(&format!("/api/v1/users/{id}"), &admin).await).await;
    assert_eq!(stored["timezone"], "Asia/Tokyo");
    // Role and activity are not one's own to change here.
    assert_eq!(stored["role"], "user");

    let (status, code, message) = error_of(
        app.patch("/api/v1/auth/me", &rep, json!({"timezone": "Mars/Olympus"}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{message}");
    assert_eq!(code, "invalid");
    assert!(message.contains("timezone"), "{message}");

    app.user_with_role(&admin, "other", "user").await;
    let (status, code, _) = error_of(
        app.patch(
            "/api/v1/auth/me",
            &rep,
            json!({"email": "other@example.com"}),
        )
        .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (StatusCode::CONFLICT, "conflict"));
}

#[tokio::test]
async fn the_session_list_marks_this_one_and_sign_out_everywhere_ends_the_others() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, first) = app.user_with_role(&admin, "sam", "user").await;
    let second = app.login("sam", USER_PASSWORD).await;
    let third = app.login("sam", USER_PASSWORD).await;

    let list = ok(app.get("/api/v1/auth/sessions", &second).await).await;
    let items = list.as_array().unwrap();
    assert_eq!(items.len(), 3, "{list}");
    assert_eq!(items.iter().filter(|s| s["current"] == true).count(), 1);
    // The handles are not the tokens, nor their stored keys.
    for s in items {
        let id = s["id"].as_str().unwrap();
        assert!(!id.is_empty() && id != first && id != second && id != third);
    }

    // One session ended by its handle.
    let third_id = ok(app.get("/api/v1/auth/sessions", &third).await)
        .await
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(app
        .delete(&format!("/api/v1/auth/sessions/{third_id}"), &second)
        .await)
    .await;
    assert_eq!(
        app.get("/api/v1/auth/me", &third).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let ended = ok(app.delete("/api/v1/auth/sessions/others", &second).await).await;
    assert_eq!(ended["sessions_ended"], 1);
    assert_eq!(
        app.get("/api/v1/auth/me", &first).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let left = ok(app.get("/api/v1/auth/sessions", &second).await).await;
    assert_eq!(left.as_array().unwrap().len(), 1, "{left}");

    // Someone else's session cannot be ended by its handle.
    let admin_session = ok(app.get("/api/v1/auth/sessions", &admin).await).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, code, _) = error_of(
        app.delete(&format!("/api/v1/auth/sessions/{admin_session}"), &second)
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    assert_eq!(
        app.get("/api/v1/auth/me", &admin).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_user_list_is_searchable_and_paged() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    for name in ["alpha1", "alpha2", "alpha3", "beta1"] {
        app.user_with_role(&admin, name, "user").await;
    }
    app.patch(
        "/api/v1/auth/me",
        &app.login("beta1", USER_PASSWORD).await,
        json!({"display_name": "Betty Alphonse"}),
    )
    .await;

    let found = ok(app.get("/api/v1/users?q=ALPH&limit=2", &admin).await).await;
    let names: Vec<&str> = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alpha1", "alpha2"]);
    let cursor = found["next_cursor"].as_str().unwrap();
    let rest = ok(app
        .get(
            &format!("/api/v1/users?q=alph&limit=2&after={cursor}"),
            &admin,
        )
        .await)
    .await;
    let names: Vec<&str> = rest["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    // The display name matches too.
    assert_eq!(names, ["alpha3", "beta1"]);
    assert!(rest.get("next_cursor").is_none(), "the last page: {rest}");
    let by_email = ok(app.get("/api/v1/users?q=beta1%40example", &admin).await).await;
    assert_eq!(by_email["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn audit_rows_and_the_lead_timeline_read_as_sentences_with_names() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (anna_id, anna) = app.user_with_role(&admin, "anna", "user").await;
    app.patch(
        "/api/v1/auth/me",
        &anna,
        json!({"display_name": "Anna Adler"}),
    )
    .await;
    let lead = app.create_lead(&anna, "Acme GmbH").await;
    ok(app
        .patch(
            &format!("/api/v1/leads/{lead}"),
            &anna,
            json!({"status": "contacted"}),
        )
        .await)
    .await;

    ok(app
        .put_json(
            &format!("/api/v1/leads/{lead}/follow-ups/1"),
            &anna,
            json!({"outcome": "done", "notes": "sent the deck"}),
        )
        .await)
    .await;

    let timeline = ok(app
        .get(&format!("/api/v1/leads/{lead}/timeline"), &anna)
        .await)
    .await;
    let summaries: Vec<&str> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["summary"].as_str().unwrap())
        .collect();
    assert!(
        summaries.contains(&"Anna Adler changed the status of Acme GmbH from New to Contacted"),
        "{summaries:?}"
    );
    assert!(
        summaries.contains(&"Anna Adler logged follow-up 1 on Acme GmbH: done — sent the deck"),
        "{summaries:?}"
    );
    assert!(
        summaries.contains(&"Anna Adler created the lead Acme GmbH"),
        "{summaries:?}"
    );
    let created = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["summary"] == "Anna Adler created the lead Acme GmbH")
        .unwrap();
    let owner = created["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == "owner")
        .unwrap();
    assert_eq!(owner["after"], "Anna Adler", "{created}");
    for s in &summaries {
        assert!(!s.contains(&anna_id) && !s.contains('{'), "{s}");
    }

    let audit = ok(app
        .get(&format!("/api/v1/audit?user={anna_id}&entity=lead"), &admin)
        .await)
    .await;
    let rows = audit["items"].as_array().unwrap();
    assert!(rows.iter().all(|r| r["actor"] == anna_id.as_str()));
    let status_row = rows.iter().find(|r| r["field"] == "status").unwrap();
    assert_eq!(
        status_row["sentence"],
        "Anna Adler changed the status of Acme GmbH from New to Contacted"
    );
    assert_eq!(status_row["actor_display"], "Anna Adler");
    assert_eq!(status_row["target"], "Acme GmbH");
    assert_eq!(status_row["changes"][0]["before"], "New");
    // The raw fields stay for integrators.
    assert_eq!(status_row["new"], "\"contacted\"");
}

#[tokio::test]
async fn the_audit_log_exports_as_csv_with_the_same_filters() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (anna_id, anna) = app.user_with_role(&admin, "anna", "user").await;
    app.create_lead(&anna, "Acme GmbH").await;
    app.create_lead(&admin, "Other AG").await;

    let response = app
        .get(&format!("/api/v1/audit/export?user={anna_id}"), &admin)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(disposition.contains("audit-"), "{disposition}");
    let text = response.text().await.unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "at,actor,channel,sentence,entity,entity_id,action,field,before,after"
    );
    assert!(text.contains("anna created the lead Acme GmbH"), "{text}");
    assert!(!text.contains("Other AG"), "{text}");

    // A future window holds nothing but the header.
    let empty = app
        .get("/api/v1/audit/export?from=2999-01-01T00:00:00Z", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(empty.lines().count(), 1, "{empty}");

    let (status, code, _) = error_of(app.get("/api/v1/audit/export", &anna).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
}

#[tokio::test]
async fn audit_rows_of_a_deleted_user_read_with_the_name_recorded_at_the_time() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (gone_id, gone) = app.user_with_role(&admin, "gone", "user").await;
    let lead = app.create_lead(&gone, "Left Behind Ltd").await;
    ok(app
        .delete(&format!("/api/v1/users/{gone_id}"), &admin)
        .await)
    .await;
    ok(app.delete(&format!("/api/v1/leads/{lead}"), &admin).await).await;

    let rows = ok(app
        .get(&format!("/api/v1/audit?user={gone_id}"), &admin)
        .await)
    .await;
    let sentences: Vec<&str> = rows["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["sentence"].as_str().unwrap())
        .collect();
    assert!(
        sentences.contains(&"gone created the lead Left Behind Ltd"),
        "{sentences:?}"
    );
    let csv = app.get("/api/v1/audit/export", &admin).await;
    assert_eq!(csv.status(), StatusCode::OK);
    let text = csv.text().await.unwrap();
    assert!(
        text.contains("Admin deleted gone") || text.contains("deleted"),
        "{text}"
    );
}
