use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_of, xlsx_with_one_lead, xlsx_with_part, TestApp, XLSX};

/// Imports `csv` within the request (`wait=true`), answered with the report.
async fn import(app: &TestApp, token: &str, query: &str, csv: &str) -> reqwest::Response {
    let query = match query {
        "" => "?wait=true".to_string(),
        q => format!("{q}&wait=true"),
    };
    app.client
        .post(app.url(&format!("/api/v1/leads/import{query}")))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(csv.to_string())
        .send()
        .await
        .unwrap()
}

async fn count(app: &TestApp, token: &str) -> u64 {
    let v: Value = app
        .get("/api/v1/leads/count", token)
        .await
        .json()
        .await
        .unwrap();
    v["count"].as_u64().unwrap()
}

const FILE: &str = "Company,Web Site,Country,E-Mail,Full Name,Phone,Tags\n\
Acme Corp,acme.com,US,jane@acme.com,Jane Doe,+1 415 555 2671,saas;b2b\n\
Globex,globex.io,DE,hank@globex.io,Hank,030 901820,\n\
Broken Co,broken.example,XX,,,,\n\
ACME Inc.,https://www.acme.com/,US,bob@acme.com,Bob Roe,,\n\
Bad Mail,badmail.com,FR,not-an-email,Someone,,\n";

#[tokio::test]
async fn an_import_reports_bad_rows_skips_duplicates_and_a_rerun_changes_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut events = app.ctx().events.subscribe();

    let dry: Value = import(&app, &admin, "?dry_run=true", FILE)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            dry["created"].as_u64(),
            dry["skipped"].as_u64(),
            dry["failed"].as_u64()
        ),
        (Some(2), Some(1), Some(2)),
        "{dry}"
    );
    assert_eq!(count(&app, &admin).await, 0, "a dry run writes nothing");
    assert_eq!(dry["mapping"]["company_name"], "Company");
    assert_eq!(dry["mapping"]["contact_email"], "E-Mail");

    let report: Value = import(&app, &admin, "", FILE).await.json().await.unwrap();
    assert_eq!(
        (
            report["created"].as_u64(),
            report["skipped"].as_u64(),
            report["failed"].as_u64()
        ),
        (Some(2), Some(1), Some(2))
    );
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors[0]["row"], 4);
    assert_eq!(errors[0]["column"], "Country");
    assert!(errors[0]["reason"].as_str().unwrap().contains("XX"));
    assert_eq!(errors[1]["row"], 6);
    assert_eq!(errors[1]["column"], "E-Mail");
    assert_eq!(count(&app, &admin).await, 2);

    let page: Value = app
        .get("/api/v1/leads?q=acme", &admin)
        .await
        .json()
        .await
        .unwrap();
    let acme = &page["items"][0];
    assert_eq!(acme["domain"], "acme.com");
    assert_eq!(acme["tags"], json!(["b2b", "saas"]));
    let detail: Value = app
        .get(
            &format!("/api/v1/leads/{}", acme["id"].as_str().unwrap()),
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["contacts"][0]["phone"], "+14155552671");

    let again: Value = import(&app, &admin, "", FILE).await.json().await.unwrap();
    assert_eq!(
        (again["created"].as_u64(), again["skipped"].as_u64()),
        (Some(0), Some(3)),
        "{again}"
    );
    assert_eq!(
        count(&app, &admin).await,
        2,
        "re-running the same file changes nothing"
    );

    // Update policy: the duplicate row adds Bob to Acme; a second run finds nothing new.
    let updated: Value = import(&app, &admin, "?policy=update", FILE)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(updated["contacts_added"], 1, "{updated}");
    let detail: Value = app
        .get(
            &format!("/api/v1/leads/{}", acme["id"].as_str().unwrap()),
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = detail["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Jane Doe", "Bob Roe"]);
    let once_more: Value = import(&app, &admin, "?policy=update", FILE)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            once_more["created"].as_u64(),
            once_more["updated"].as_u64(),
            once_more["contacts_added"].as_u64()
        ),
        (Some(0), Some(0), Some(0)),
        "{once_more}"
    );
    assert_eq!(once_more["unchanged"], 3);

    let mut progress = 0;
    while let Ok(event) = events.try_recv() {
        if event.topic == "import.progress" {
            progress += 1;
        }
    }
    assert!(progress >= 5, "each import reported progress ({progress})");
}

#[tokio::test]
async fn import_problems_with_the_whole_file_are_clear_errors() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (status, _, message) = error_of(import(&app, &admin, "", "Notes,Other\nx,y\n").await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message.contains("company_name"), "{message}");
    let mapped: Value = import(
        &app,
        &admin,
        "?mapping=%7B%22Firma%22%3A%22company_name%22%7D",
        "Firma\nMapped GmbH\n",
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(mapped["created"], 1);
    let bad_policy = import(&app, &admin, "?policy=merge_somehow", "Company\nX\n").await;
    assert_eq!(
        error_of(bad_policy).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let (_, rep) = app.user_with_role(&admin, "rep", "user").await;
    assert_eq!(
        error_of(import(&app, &rep, "", "Company\nX\n").await)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn an_export_re_imports_to_the_same_data() {
    let source = TestApp::spawn().await;
    let admin = source.admin_token().await;
    source
        .post(
            "/api/v1/leads",
            &admin,
            json!({"company_name": "Round, \"Trip\" Ltd", "website": "roundtrip.co.uk", "country": "GB", "industry": "Logistics",
                   "status": "qualified", "source": "fair", "tags": ["uk", "hot"],
                   "contacts": [{"name": "Ann", "email": "ann@roundtrip.co.uk", "phone": "+44 20 7946 0958", "position": "CTO"},
                                {"name": "Ben", "linkedin": "linkedin.com/in/ben"}]}),
        )
        .await;
    source.post("/api/v1/leads", &admin, json!({"company_name": "Solo", "country": "US", "state": "CA", "timezone": "America/Los_Angeles"})).await;
    let response = source.get("/api/v1/leads/export", &admin).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let csv = response.text().await.unwrap();
    assert_eq!(
        csv.lines().count(),
        4,
        "a header and one line per contact:\n{csv}"
    );

    let target = TestApp::spawn().await;
    let admin2 = target.admin_token().await;
    let report: Value = import(&target, &admin2, "?policy=update", &csv)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (report["created"].as_u64(), report["failed"].as_u64()),
        (Some(2), Some(0)),
        "{report}"
    );

    let snapshot = |app: &TestApp, token: String| {
        let app_url = app.base.clone();
        let client = app.client.clone();
        async move {
            let page: Value = client
                .get(format!("{app_url}/api/v1/leads?sort=company&order=asc"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let mut out = Vec::new();
            for lead in page["items"].as_array().unwrap() {
                let detail: Value = client
                    .get(format!(
                        "{app_url}/api/v1/leads/{}",
                        lead["id"].as_str().unwrap()
                    ))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let l = &detail["lead"];
                let contacts: Vec<Value> = detail["contacts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| {
                        json!([
                            c["name"],
                            c["position"],
                            c["email"],
                            c["phone"],
                            c["linkedin"]
                        ])
                    })
                    .collect();
                out.push(json!([
                    l["company_name"],
                    l["website"],
                    l["industry"],
                    l["status"],
                    l["country"],
                    l["state"],
                    l["timezone"],
                    l["source"],
                    l["tags"],
                    contacts
                ]));
            }
            out
        }
    };
    assert_eq!(
        snapshot(&source, admin).await,
        snapshot(&target, admin2).await
    );
}

#[tokio::test]
async fn an_own_only_users_export_holds_only_their_leads_and_export_needs_permission() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (id, rep) = app.user_with_role(&admin, "rep", "user").await;
    app.patch(
        &format!("/api/v1/users/{id}"),
        &admin,
        json!({"extra_permissions": ["leads.export"]}),
    )
    .await;
    app.post("/api/v1/leads", &rep, json!({"company_name": "Reps Own"}))
        .await;
    app.post(
        "/api/v1/leads",
        &admin,
        json!({"company_name": "Admins Own"}),
    )
    .await;
    let csv = app
        .get("/api/v1/leads/export", &rep)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        csv.contains("Reps Own") && !csv.contains("Admins Own"),
        "{csv}"
    );
    let (_, caller) = app.user_with_role(&admin, "cal", "caller").await;
    assert_eq!(
        error_of(app.get("/api/v1/leads/export", &caller).await)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn the_audit_log_filters_by_entity_user_and_date_and_a_lead_has_a_timeline() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (rep_id, rep) = app.user_with_role(&admin, "rep", "user").await;
    let created: Value = app
        .post(
            "/api/v1/leads",
            &rep,
            json!({"company_name": "Timeline Co"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = created["lead"]["id"].as_str().unwrap().to_string();
    app.patch(
        &format!("/api/v1/leads/{id}"),
        &rep,
        json!({"status": "contacted"}),
    )
    .await;
    app.put_json(
        &format!("/api/v1/leads/{id}/follow-ups/1"),
        &rep,
        json!({"outcome": "done", "notes": "met at fair"}),
    )
    .await;
    app.post(
        &format!("/api/v1/leads/{id}/calls"),
        &rep,
        json!({"outcome": "connected", "duration_seconds": 60}),
    )
    .await;
    app.post(
        &format!("/api/v1/leads/{id}/contacts"),
        &rep,
        json!({"name": "Tina"}),
    )
    .await;

    let room: Value = app
        .post(
            "/api/v1/rooms",
            &rep,
            json!({"name": "timeline-co", "kind": "group", "subject_kind": "lead", "subject_id": id}),
        )
        .await
        .json()
        .await
        .unwrap();
    let room_id = room["id"].as_str().unwrap();
    app.post(
        &format!("/api/v1/rooms/{room_id}/messages"),
        &rep,
        json!({"body": "they want a demo on Friday"}),
    )
    .await;

    let timeline: Value = app
        .get(&format!("/api/v1/leads/{id}/timeline"), &rep)
        .await
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"call") && kinds.contains(&"follow_up") && kinds.contains(&"change"),
        "{kinds:?}"
    );
    assert!(timeline.to_string().contains("met at fair"));
    assert!(
        timeline["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["kind"] == "message"
                && t["summary"].as_str().unwrap().contains("demo on Friday")),
        "the lead's discussion is in its timeline: {timeline}"
    );
    assert!(timeline.to_string().contains("Tina"));
    let times: Vec<&str> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["at"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");

    assert_eq!(
        error_of(app.get("/api/v1/audit", &rep).await).await.0,
        StatusCode::FORBIDDEN
    );
    let rows: Value = app
        .get(&format!("/api/v1/audit?entity=lead&entity_id={id}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert!(rows["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["entity"] == "lead" && r["entity_id"] == id.as_str()));
    assert!(rows["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["field"] == "status" && r["new"] == "\"contacted\""));
    let by_user: Value = app
        .get(&format!("/api/v1/audit?user={rep_id}&limit=500"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert!(by_user["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["actor"] == rep_id.as_str()));
    let future = (chrono::Utc::now() + chrono::Duration::days(1))
        .to_rfc3339()
        .replace('+', "%2B");
    let none: Value = app
        .get(&format!("/api/v1/audit?from={future}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none, json!({"items": []}));

    // A page is continued by its `next_cursor`; the id of the last row,
    // which continued a page before cursors, still does (deprecated).
    let first: Value = app
        .get("/api/v1/audit?limit=3", &admin)
        .await
        .json()
        .await
        .unwrap();
    let last_id = first["items"][2]["id"].as_str().unwrap();
    let by_id: Value = app
        .get(&format!("/api/v1/audit?limit=3&after={last_id}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    let cursor = first["next_cursor"].as_str().unwrap();
    let by_cursor: Value = app
        .get(&format!("/api/v1/audit?limit=3&after={cursor}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    let ids = |v: &Value| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&by_id), ids(&by_cursor));
    assert!(ids(&by_cursor).iter().all(|i| !ids(&first).contains(i)));
    assert_eq!(ids(&by_cursor).len(), 3);
}

#[tokio::test]
async fn an_xlsx_workbook_imports_like_a_csv() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (col, header) in ["Company", "Website", "Country", "Email", "Phone"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, col as u16, *header).unwrap();
    }
    sheet.write_string(1, 0, "Sheet Co").unwrap();
    sheet.write_string(1, 1, "sheet.example.com").unwrap();
    sheet.write_string(1, 2, "DE").unwrap();
    sheet.write_string(1, 3, "anna@sheet.example.com").unwrap();
    sheet.write_number(1, 4, 4930901820.0).unwrap();
    sheet.write_string(2, 0, "Bad Country").unwrap();
    sheet.write_string(2, 2, "ZZ").unwrap();
    let bytes = book.save_to_buffer().unwrap();
    let response = app
        .client
        .post(app.url("/api/v1/leads/import?wait=true"))
        .bearer_auth(&admin)
        .header(
            "content-type",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        .body(bytes)
        .send()
        .await
        .unwrap();
    let report: Value = response.json().await.unwrap();
    assert_eq!(
        (report["created"].as_u64(), report["failed"].as_u64()),
        (Some(1), Some(1)),
        "{report}"
    );
    assert_eq!(report["errors"][0]["row"], 3);
    assert_eq!(report["errors"][0]["column"], "Country");
    let page: Value = app
        .get("/api/v1/leads?q=sheet", &admin)
        .await
        .json()
        .await
        .unwrap();
    let id = page["items"][0]["id"].as_str().unwrap();
    let detail: Value = app
        .get(&format!("/api/v1/leads/{id}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        detail["contacts"][0]["phone"], "+4930901820",
        "a number cell read as digits"
    );

    let not_a_workbook = app
        .client
        .post(app.url("/api/v1/leads/import?wait=true"))
        .bearer_auth(&admin)
        .header(
            "content-type",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        .body("company\nnot really a workbook\n")
        .send()
        .await
        .unwrap();
    let (status, _, message) = error_of(not_a_workbook).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message.contains("XLSX"), "{message}");
}

/// Posts `workbook` to both the import and the column preview and expects
/// each to refuse it as invalid with a message holding `reason`.
async fn assert_workbook_refused(app: &TestApp, token: &str, workbook: Vec<u8>, reason: &str) {
    for path in ["/api/v1/leads/import", "/api/v1/leads/import/columns"] {
        let response = app.post_file(path, token, XLSX, workbook.clone()).await;
        let (status, code, message) = error_of(response).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            "{path}: {message}"
        );
        assert!(message.contains(reason), "{path}: {message}");
    }
}

#[tokio::test]
async fn a_tiny_workbook_claiming_four_billion_shared_strings_is_refused_and_the_service_keeps_running(
) {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let sst = br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="4000000000" uniqueCount="4000000000"><si><t>Company</t></si><si><t>Country</t></si><si><t>Tiny Co</t></si><si><t>DE</t></si></sst>"#;
    let workbook = xlsx_with_part(&xlsx_with_one_lead("Tiny Co"), "xl/sharedStrings.xml", sst);
    assert!(workbook.len() < 8 * 1024, "{} bytes", workbook.len());

    assert_workbook_refused(&app, &admin, workbook, "shared strings").await;

    assert_eq!(count(&app, &admin).await, 0);
    let response = app
        .post_file(
            "/api/v1/leads/import?wait=true",
            &admin,
            XLSX,
            xlsx_with_one_lead("Honest Co"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        count(&app, &admin).await,
        1,
        "a normal workbook still imports"
    );
}

#[tokio::test]
async fn a_shared_strings_zip_bomb_is_refused_and_the_service_keeps_running() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    // Honest counts and strings, padded with 48 MiB of blanks that deflate
    // to almost nothing: a small taste of a bomb that unpacks to tens of GB.
    let mut sst = br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="4" uniqueCount="4"><si><t>Company</t></si><si><t>Country</t></si><si><t>Bomb Co</t></si><si><t>DE</t></si>"#
        .to_vec();
    sst.resize(sst.len() + 48 * 1024 * 1024, b' ');
    sst.extend_from_slice(b"</sst>");
    let workbook = xlsx_with_part(&xlsx_with_one_lead("Bomb Co"), "xl/sharedStrings.xml", &sst);
    assert!(workbook.len() < 256 * 1024, "{} bytes", workbook.len());

    assert_workbook_refused(&app, &admin, workbook, "workbook").await;

    assert_eq!(count(&app, &admin).await, 0);
    let response = app
        .post_file(
            "/api/v1/leads/import?wait=true",
            &admin,
            XLSX,
            xlsx_with_one_lead("Honest Co"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        count(&app, &admin).await,
        1,
        "a normal workbook still imports"
    );
}

#[tokio::test]
async fn an_exported_formula_comes_out_as_text_and_re_imports_unchanged() {
    let source = TestApp::spawn().await;
    let admin = source.admin_token().await;
    let formula = "=HYPERLINK(\"http://evil.example\",\"Click\")";
    let created = source
        .post(
            "/api/v1/leads",
            &admin,
            json!({"company_name": formula, "source": "@SUM(1)",
                   "contacts": [{"name": "-Ann", "phone": "+44 20 7946 0958"}]}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::OK);

    let csv = source
        .get("/api/v1/leads/export", &admin)
        .await
        .text()
        .await
        .unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let record = reader.records().next().unwrap().unwrap();
    assert_eq!(&record[0], format!("'{formula}"), "{csv}");
    for cell in record.iter() {
        assert!(
            !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "`{cell}` would run as a formula:\n{csv}"
        );
    }

    let target = TestApp::spawn().await;
    let admin2 = target.admin_token().await;
    let report: Value = import(&target, &admin2, "", &csv)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["created"], 1, "{report}");
    let page: Value = target
        .get("/api/v1/leads", &admin2)
        .await
        .json()
        .await
        .unwrap();
    let lead = &page["items"][0];
    assert_eq!(lead["company_name"], formula);
    assert_eq!(lead["source"], "@SUM(1)");
}

#[tokio::test]
async fn an_import_matches_only_leads_the_importer_can_see() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let theirs = app.create_lead(&admin, "Hidden Industries").await;
    let (_, finder) = app.user_with_role(&admin, "finder", "lead_generator").await;
    let csv = "Company,Website\nHidden Industries,\nFresh Co,https://fresh.example\n";
    for policy in ["skip", "update"] {
        let report: Value = import(
            &app,
            &finder,
            &format!("?dry_run=true&policy={policy}"),
            csv,
        )
        .await
        .json()
        .await
        .unwrap();
        // The lead the finder cannot see is neither matched nor named: the
        // row would go in as the finder's own lead.
        assert_eq!(
            (
                report["created"].as_u64(),
                report["skipped"].as_u64(),
                report["failed"].as_u64()
            ),
            (Some(2), Some(0), Some(0)),
            "{policy}: {report}"
        );
        assert!(!report.to_string().contains(&theirs), "{report}");
        assert!(!report.to_string().contains("cannot see"), "{report}");
    }
    // The admin, who sees every lead, gets the match.
    let report: Value = import(&app, &admin, "?dry_run=true", csv)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["skipped"].as_u64(), Some(1), "{report}");
}

#[tokio::test]
async fn an_import_without_the_permission_is_refused_before_the_upload_is_read() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, rep) = app.user_with_role(&admin, "rep", "user").await;
    for (path, content_type) in [
        ("/api/v1/leads/import", "text/csv"),
        ("/api/v1/leads/import", XLSX),
        ("/api/v1/leads/import/columns", XLSX),
    ] {
        // A body that sends one chunk and then never ends: a server that
        // read or spooled it before checking would never answer.
        let first: Result<Vec<u8>, std::io::Error> = Ok(vec![b'P'; 1024]);
        let body = futures_util::stream::iter([first]).chain(futures_util::stream::pending());
        let answer = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            app.client
                .post(app.url(path))
                .bearer_auth(&rep)
                .header("content-type", content_type)
                .body(reqwest::Body::wrap_stream(body))
                .send(),
        )
        .await
        .unwrap_or_else(|_| panic!("{path} ({content_type}) read the upload before refusing"))
        .unwrap();
        assert_eq!(
            answer.status(),
            StatusCode::FORBIDDEN,
            "{path} {content_type}"
        );
    }
}

/// The lookups for rows already stored go 32 values at a time (longer `IN`
/// lists are table scans in SurrealDB); a file with many more rows than
/// that still finds every one of them on a second run, by website, by
/// company name and by contact email.
#[tokio::test]
async fn a_rerun_of_a_long_file_finds_every_row_it_stored() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut by_site = String::from("Company,Web Site,E-Mail\n");
    let mut by_name = String::from("Company\n");
    let mut by_email = String::from("Company,E-Mail\n");
    for i in 0..90 {
        by_site.push_str(&format!(
            "Site Co {i},site{i}.example,a{i}@site{i}.example\n"
        ));
        by_name.push_str(&format!("Named Co {i}\n"));
        // Another name and no website: only the email can match.
        by_email.push_str(&format!("Other Co {i},a{i}@site{i}.example\n"));
    }
    for file in [&by_site, &by_name] {
        let first: Value = import(&app, &admin, "", file).await.json().await.unwrap();
        assert_eq!(first["created"].as_u64(), Some(90), "{first}");
    }
    let stored = count(&app, &admin).await;
    for (name, file) in [("site", &by_site), ("name", &by_name), ("email", &by_email)] {
        let again: Value = import(&app, &admin, "", file).await.json().await.unwrap();
        assert_eq!(
            (again["created"].as_u64(), again["skipped"].as_u64()),
            (Some(0), Some(90)),
            "{name}: {again}"
        );
    }
    assert_eq!(count(&app, &admin).await, stored, "nothing was added twice");

    // The export finds every lead's contact too (asked for in chunks).
    let export = app
        .get("/api/v1/leads/export", &admin)
        .await
        .text()
        .await
        .unwrap();
    for i in 0..90 {
        assert!(
            export.contains(&format!("a{i}@site{i}.example")),
            "contact {i} missing from the export"
        );
    }
}
