//! The past imports on the import page: each with its state, counts, who
//! and when, its report, and Undo while the server's window lasts.

use serde_json::{json, Value};

use crate::harness::Panel;

/// Imports `csv` as the admin, through the API, waiting for the report;
/// returns the job's id.
async fn import(panel: &Panel, admin: &str, name: &str, csv: &str) -> String {
    panel
        .post_bytes(
            admin,
            &format!("/leads/import?wait=true&name={name}"),
            "text/csv",
            csv.as_bytes(),
        )
        .await;
    let jobs = panel.api(admin, "GET", "/leads/imports", json!(null)).await;
    let job = jobs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["file_name"] == json!(name))
        .unwrap_or_else(|| panic!("no job for {name}: {jobs}"));
    job["id"].as_str().unwrap().to_string()
}

fn companies(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["company_name"].as_str().unwrap().to_string())
        .collect()
}

pub async fn the_older_of_two_imports_is_undone_from_the_list_of_past_imports() {
    let Some(panel) = Panel::start().await else {
        return;
    };
    let admin = panel.admin().await;
    let older = import(
        &panel,
        &admin,
        "spring.csv",
        "Company,Email\nOlder One GmbH,a@older-one.example\nOlder Two Ltd,b@older-two.example\n",
    )
    .await;
    panel.clock.advance(chrono::Duration::minutes(5));
    let newer = import(
        &panel,
        &admin,
        "summer.csv",
        "Company,Email\nNewer Inc,c@newer.example\n",
    )
    .await;

    let b = panel.signed_in("admin", 1280, 800).await;
    b.goto(&panel, "#/import").await;
    let older_row = format!("#import-history li[data-import=\"{older}\"]");
    let newer_row = format!("#import-history li[data-import=\"{newer}\"]");
    // Newest first, each with its name, state, counts, who and when.
    b.wait_text(&newer_row, "summer.csv").await;
    b.wait_text(&older_row, "spring.csv").await;
    b.wait_text(&older_row, "2 created").await;
    b.wait_text(&older_row, "by admin").await;
    b.wait_text(&older_row, "Completed").await;
    let order = b
        .script("return [...document.querySelectorAll('#import-history li[data-import]')].map((li) => li.dataset.import)")
        .await;
    assert_eq!(order, json!([newer.clone(), older.clone()]));
    // The report opens in place.
    b.click(&format!("{older_row} summary")).await;
    b.wait_text(&format!("{older_row} dd[data-key=created]"), "2")
        .await;

    b.click(&format!("{older_row} button[data-action=undo]"))
        .await;
    b.accept_dialog().await;
    b.wait_text(".toasts", "2 created leads moved to the trash")
        .await;
    b.wait_text(&format!("{older_row} .import-state"), "Undone")
        .await;
    assert!(
        !b.appears(
            &format!("{older_row} button[data-action=undo]"),
            std::time::Duration::from_millis(300)
        )
        .await
    );
    b.find(&format!("{newer_row} button[data-action=undo]"))
        .await;

    // The older import's leads are in the trash, the newer one's are not.
    let trash = panel
        .api(&admin, "GET", "/leads?deleted=true&limit=50", json!(null))
        .await;
    let mut trashed = companies(&trash);
    trashed.sort();
    assert_eq!(trashed, ["Older One GmbH", "Older Two Ltd"]);
    let live = companies(
        &panel
            .api(&admin, "GET", "/leads?limit=50", json!(null))
            .await,
    );
    assert_eq!(live, ["Newer Inc"]);
    b.goto(&panel, "#/trash").await;
    b.wait_text("#trash-table", "Older One GmbH").await;
    let shown = b.find("#trash-table").await.text().await.unwrap();
    assert!(!shown.contains("Newer Inc"), "{shown}");
    b.close().await;
}
