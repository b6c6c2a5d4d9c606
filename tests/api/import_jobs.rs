//! Imports as jobs: the upload is answered at once with a job, the job's
//! progress is readable and pushed, a job cut off by a stopped app resumes
//! after its last committed batch on the next start, and a finished import
//! can be undone within its window.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_of, ok, TestApp};

/// Uploads `csv` as a job and returns the 202 answer's job.
pub(crate) async fn upload(app: &TestApp, token: &str, query: &str, csv: &str) -> Value {
    let response = app
        .post_file(
            &format!("/api/v1/leads/import{query}"),
            token,
            "text/csv",
            csv.as_bytes().to_vec(),
        )
        .await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    body["job"].clone()
}

/// Reads the job until it has finished.
pub(crate) async fn finished(app: &TestApp, token: &str, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let job = ok(app.get(&format!("/api/v1/leads/imports/{id}"), token).await).await;
        if matches!(job["status"].as_str(), Some("completed" | "failed")) {
            return job;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the job did not finish: {job}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn count(app: &TestApp, token: &str, query: &str) -> u64 {
    ok(app.get(&format!("/api/v1/leads/count{query}"), token).await).await["count"]
        .as_u64()
        .unwrap()
}

/// `rows` companies, each with a website and a contact, and one bad row.
fn file(rows: usize) -> String {
    let mut csv = String::from("Company,Web Site,Country,E-Mail,Full Name\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "Job Co {i},job{i}.example.com,DE,anna{i}@job{i}.example.com,Anna {i}\n"
        ));
    }
    csv.push_str("Bad Country Co,bad.example.com,ZZ,,\n");
    csv
}

#[tokio::test]
async fn an_upload_is_answered_with_a_queued_job_whose_report_matches_the_synchronous_import() {
    let app = TestApp::spawn_with(|c| c.import_batch_rows = 7).await;
    let admin = app.admin_token().await;
    let mut events = app.ctx().events.subscribe();
    let csv = file(30);

    let job = upload(&app, &admin, "?name=leads.csv", &csv).await;
    assert_eq!(job["status"], "queued", "{job}");
    assert_eq!(
        job["rows_done"], 0,
        "answered before any row went in: {job}"
    );
    assert_eq!(job["file_name"], "leads.csv");
    let id = job["id"].as_str().unwrap();

    let done = finished(&app, &admin, id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        (done["rows_total"].as_u64(), done["rows_done"].as_u64()),
        (Some(31), Some(31))
    );
    assert_eq!(done["percent"], 100);
    assert!(done["undo_until"].is_string(), "{done}");
    assert_eq!(count(&app, &admin, "").await, 30);

    // The same file imported within the request on a fresh app reports the same.
    let fresh = TestApp::spawn().await;
    let fresh_admin = fresh.admin_token().await;
    let sync = ok(fresh
        .post_file(
            "/api/v1/leads/import?wait=true",
            &fresh_admin,
            "text/csv",
            csv.into_bytes(),
        )
        .await)
    .await;
    assert_eq!(done["report"], sync, "job report vs synchronous report");
    assert_eq!(sync["created"], 30);
    assert_eq!(sync["failed"], 1);

    // Progress went to the importer after each batch, with the job, up to 100 %.
    let mut percents = Vec::new();
    while let Ok(event) = events.try_recv() {
        if event.topic == "import.progress" && event.payload["job"] == id {
            percents.push(event.payload["percent"].as_u64().unwrap());
        }
    }
    assert_eq!(percents.len(), 5, "31 rows in batches of 7: {percents:?}");
    assert!(percents.windows(2).all(|w| w[0] <= w[1]), "{percents:?}");
    assert_eq!(percents.last(), Some(&100));

    let list = ok(app.get("/api/v1/leads/imports", &admin).await).await;
    assert_eq!(list["items"][0]["id"], id, "{list}");
}

#[tokio::test]
async fn a_file_or_mapping_that_cannot_be_read_is_refused_before_a_job_is_made() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let response = app
        .post_file(
            "/api/v1/leads/import",
            &admin,
            "text/csv",
            b"Notes,Other\nx,y\n".to_vec(),
        )
        .await;
    let (status, code, message) = error_of(response).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
    );
    assert!(message.contains("company_name"), "{message}");
    let list = ok(app.get("/api/v1/leads/imports", &admin).await).await;
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn a_job_cut_off_by_a_stopped_app_resumes_after_its_last_batch_and_stores_each_row_once() {
    // A folder of the test's own, so it outlives the first app.
    let folder = std::env::temp_dir().join(format!("ea-crm-import-resume-{}", std::process::id()));
    let first = TestApp::spawn_with(|c| {
        c.import_batch_rows = 10;
        c.import_stop_after_batches = Some(2);
        c.upload_dir = folder.clone();
    })
    .await;
    let admin = first.admin_token().await;
    let job = upload(&first, &admin, "", &file(45)).await;
    let id = job["id"].as_str().unwrap().to_string();

    // The worker stops after two batches, as if the process died there.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let job = ok(first
            .get(&format!("/api/v1/leads/imports/{id}"), &admin)
            .await)
        .await;
        if job["rows_done"] == 20 {
            assert_eq!(job["status"], "running", "{job}");
            assert_eq!(job["report"]["created"], 20, "{job}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{job}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(count(&first, &admin, "").await, 20);
    let (store, clock) = (first.ctx().store.clone(), first.clock.clone());
    first.stop().await;

    // The next start takes the job up once the dead worker's lease ran out.
    clock.advance(chrono::Duration::minutes(2));
    let mut config = ea_crm::config::Config::for_tests();
    config.import_batch_rows = 10;
    config.upload_dir = folder.clone();
    let second = TestApp::start_on(config, clock, Some(store)).await;
    let admin = second.admin_token().await;
    let done = finished(&second, &admin, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        (
            done["report"]["rows"].as_u64(),
            done["report"]["created"].as_u64(),
            done["report"]["failed"].as_u64()
        ),
        (Some(46), Some(45), Some(1)),
        "{done}"
    );
    assert_eq!(done["report"]["errors"][0]["row"], 47, "{done}");
    assert_eq!(count(&second, &admin, "").await, 45, "one lead per row");
    let per_company: Vec<Value> = second
        .ctx()
        .store
        .run(
            "SELECT company_name, count() AS n FROM lead GROUP BY company_name",
            json!({}),
        )
        .await
        .unwrap()
        .rows(0)
        .unwrap();
    assert_eq!(per_company.len(), 45, "{per_company:?}");
    assert!(
        per_company.iter().all(|row| row["n"] == 1),
        "{per_company:?}"
    );
    let left: Vec<_> = std::fs::read_dir(&folder).unwrap().collect();
    assert!(left.is_empty(), "the spooled file is removed once imported");
    second.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
}

const UPDATE_FILE: &str = "Company,Web Site,Industry,E-Mail,Full Name\n\
Acme Corp,acme.com,Software,new@acme.com,New Person\n\
Fresh One,fresh-one.com,Retail,,\n\
Fresh Two,fresh-two.com,Retail,,\n";

/// An Acme lead to update, then `UPDATE_FILE` imported with `policy=update`
/// by `token`; returns (Acme's id, the finished job).
async fn imported_over_acme(app: &TestApp, token: &str) -> (String, Value) {
    let acme = ok(app
        .post(
            "/api/v1/leads",
            token,
            json!({"company_name": "Acme Corp", "website": "acme.com",
                   "contacts": [{"name": "Old Person", "email": "old@acme.com"}]}),
        )
        .await)
    .await["lead"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let job = upload(app, token, "?policy=update", UPDATE_FILE).await;
    let done = finished(app, token, job["id"].as_str().unwrap()).await;
    assert_eq!(
        (
            done["report"]["created"].as_u64(),
            done["report"]["updated"].as_u64()
        ),
        (Some(2), Some(1)),
        "{done}"
    );
    (acme, done)
}

#[tokio::test]
async fn an_undo_trashes_what_the_import_created_and_restores_what_it_updated_audited() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (acme, job) = imported_over_acme(&app, &admin).await;
    let id = job["id"].as_str().unwrap();
    let updated = ok(app.get(&format!("/api/v1/leads/{acme}"), &admin).await).await;
    assert_eq!(updated["lead"]["industry"], "Software", "{updated}");
    assert_eq!(updated["contacts"].as_array().unwrap().len(), 2);

    let undone = ok(app
        .post(
            &format!("/api/v1/leads/imports/{id}/undo"),
            &admin,
            json!({}),
        )
        .await)
    .await;
    assert_eq!(undone["status"], "undone", "{undone}");
    assert_eq!(
        (
            undone["undo"]["trashed"].as_u64(),
            undone["undo"]["restored"].as_u64(),
            undone["undo"]["left_count"].as_u64()
        ),
        (Some(2), Some(1), Some(0)),
        "{undone}"
    );
    assert!(undone["undo_until"].is_null(), "{undone}");

    assert_eq!(count(&app, &admin, "").await, 1, "only Acme is left");
    let trash = ok(app.get("/api/v1/leads?deleted=true", &admin).await).await;
    let mut trashed: Vec<&str> = trash["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["company_name"].as_str().unwrap())
        .collect();
    trashed.sort();
    assert_eq!(trashed, ["Fresh One", "Fresh Two"]);
    let restored = ok(app.get(&format!("/api/v1/leads/{acme}"), &admin).await).await;
    assert!(restored["lead"]["industry"].is_null(), "{restored}");
    let contacts: Vec<&str> = restored["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        contacts,
        ["Old Person"],
        "the contact the import added is gone"
    );

    let audit = ok(app
        .get(
            &format!("/api/v1/audit?entity=lead&entity_id={acme}"),
            &admin,
        )
        .await)
    .await;
    let undo_rows: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "import_undo")
        .collect();
    assert!(
        undo_rows
            .iter()
            .any(|r| r["field"] == "industry" && r["old"] == "\"Software\""),
        "{audit}"
    );

    let again = app
        .post(
            &format!("/api/v1/leads/imports/{id}/undo"),
            &admin,
            json!({}),
        )
        .await;
    let (status, _, message) = error_of(again).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(message.contains("undone already"), "{message}");
}

#[tokio::test]
async fn an_undo_leaves_alone_a_lead_changed_after_the_import_and_says_so() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, job) = imported_over_acme(&app, &admin).await;
    let page = ok(app.get("/api/v1/leads?q=fresh-one.com", &admin).await).await;
    let fresh = page["items"][0]["id"].as_str().unwrap().to_string();
    ok(app
        .patch(
            &format!("/api/v1/leads/{fresh}"),
            &admin,
            json!({"industry": "Mining"}),
        )
        .await)
    .await;

    let id = job["id"].as_str().unwrap();
    let undone = ok(app
        .post(
            &format!("/api/v1/leads/imports/{id}/undo"),
            &admin,
            json!({}),
        )
        .await)
    .await;
    assert_eq!(undone["undo"]["trashed"], 1, "{undone}");
    assert_eq!(
        undone["undo"]["left"][0]["lead"],
        fresh.as_str(),
        "{undone}"
    );
    let kept = ok(app.get(&format!("/api/v1/leads/{fresh}"), &admin).await).await;
    assert!(kept["lead"]["deleted_at"].is_null(), "{kept}");
    assert_eq!(kept["lead"]["industry"], "Mining");
}

#[tokio::test]
async fn an_undo_after_the_window_or_of_a_dry_run_is_refused() {
    let app = TestApp::spawn_with(|c| c.import_undo_days = 3).await;
    let admin = app.admin_token().await;
    let dry = upload(&app, &admin, "?dry_run=true", UPDATE_FILE).await;
    let dry = finished(&app, &admin, dry["id"].as_str().unwrap()).await;
    assert!(dry["undo_until"].is_null(), "{dry}");
    let (status, _, message) = error_of(
        app.post(
            &format!("/api/v1/leads/imports/{}/undo", dry["id"].as_str().unwrap()),
            &admin,
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(message.contains("dry run"), "{message}");

    let (_, job) = imported_over_acme(&app, &admin).await;
    app.clock.advance(chrono::Duration::days(4));
    let admin = app.admin_token().await;
    let (status, code, message) = error_of(
        app.post(
            &format!("/api/v1/leads/imports/{}/undo", job["id"].as_str().unwrap()),
            &admin,
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (StatusCode::CONFLICT, "conflict"));
    assert!(message.contains("3 days"), "{message}");
    assert_eq!(count(&app, &admin, "").await, 3, "nothing was undone");

    // Past the window, what the import changed is forgotten.
    let kept = |app: &TestApp| {
        let store = app.ctx().store.clone();
        let job = job["id"].clone();
        async move {
            let rows: Vec<Value> = store
                .run(
                    "SELECT lead FROM import_change WHERE job = $job",
                    json!({"job": job}),
                )
                .await
                .unwrap()
                .rows(0)
                .unwrap();
            rows.len()
        }
    };
    assert_eq!(kept(&app).await, 3);
    ea_crm::domain::crm::import_jobs::sweep(app.ctx(), 20)
        .await
        .unwrap();
    assert_eq!(kept(&app).await, 0);
}

#[tokio::test]
async fn a_job_is_seen_and_undone_only_by_its_importer_or_who_imports_and_sees_every_lead() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, importer) = app
        .user_with_role(&admin, "gen-one", "lead_generator")
        .await;
    let (_, other) = app
        .user_with_role(&admin, "gen-two", "lead_generator")
        .await;
    let (_, manager) = app.user_with_role(&admin, "boss", "manager").await;
    let (_, rep) = app.user_with_role(&admin, "rep", "user").await;

    let job = upload(&app, &importer, "", "Company\nMine Co\n").await;
    let id = job["id"].as_str().unwrap();
    finished(&app, &importer, id).await;
    let path = format!("/api/v1/leads/imports/{id}");
    let undo = format!("/api/v1/leads/imports/{id}/undo");

    let (status, _, _) = error_of(app.get(&path, &other).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another importer");
    let (status, _, _) = error_of(app.post(&undo, &other, json!({})).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another importer's undo");
    let theirs = ok(app.get("/api/v1/leads/imports", &other).await).await;
    assert_eq!(theirs["items"], json!([]));
    let (status, _, _) = error_of(app.get(&path, &rep).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no leads.import");

    let seen = ok(app.get("/api/v1/leads/imports", &manager).await).await;
    assert_eq!(seen["items"][0]["id"], id, "{seen}");
    assert_eq!(seen["items"][0]["owner_name"], "gen-one");
    let undone = ok(app.post(&undo, &manager, json!({})).await).await;
    assert_eq!(undone["undo"]["trashed"], 1, "{undone}");
}
