//! `/leads/import/columns`: the wizard's column step, for CSV and XLSX alike,
//! and an import that follows the mapping the user changed.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_of, TestApp, XLSX};

async fn send(
    app: &TestApp,
    token: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    app.post_file(path, token, content_type, body).await
}

fn field_of<'a>(columns: &'a Value, header: &str) -> &'a Value {
    &columns["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["header"] == header)
        .unwrap_or_else(|| panic!("no column {header} in {columns}"))["field"]
}

#[tokio::test]
async fn a_csv_shows_its_columns_and_an_import_follows_the_changed_mapping() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let csv = "Organisation,Mail,Notes,Branche\nKappa Ltd,kim@kappa.example,call in May,Retail\nLambda AG,lu@lambda.example,,Energy\n";
    let response = send(
        &app,
        &admin,
        "/api/v1/leads/import/columns",
        "text/csv",
        csv.into(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let columns: Value = response.json().await.unwrap();
    assert_eq!(field_of(&columns, "Organisation"), "company_name");
    assert_eq!(field_of(&columns, "Mail"), "contact_email");
    assert!(
        field_of(&columns, "Branche").is_null(),
        "unknown word: not guessed"
    );
    assert_eq!(
        columns["columns"][0]["samples"],
        json!(["Kappa Ltd", "Lambda AG"])
    );
    assert!(columns["fields"]
        .as_array()
        .unwrap()
        .contains(&json!("industry")));
    assert_eq!(
        app.get("/api/v1/leads/count", &admin)
            .await
            .json::<Value>()
            .await
            .unwrap()["count"],
        0,
        "nothing written"
    );

    // The user maps Branche to industry and leaves Notes out.
    let mapping = json!({"Branche": "industry", "Notes": ""}).to_string();
    let path = format!(
        "/api/v1/leads/import?wait=true&mapping={}",
        url_escape(&mapping)
    );
    let report: Value = send(&app, &admin, &path, "text/csv", csv.into())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["created"], 2, "{report}");
    assert_eq!(report["mapping"]["industry"], "Branche");
    let page: Value = app
        .get("/api/v1/leads?q=kappa", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"][0]["industry"], "Retail");
}

#[tokio::test]
async fn an_xlsx_workbook_shows_its_columns_too_and_permission_is_needed() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (col, header) in ["Account Name", "Phone", "Sector"].iter().enumerate() {
        sheet.write_string(0, col as u16, *header).unwrap();
    }
    sheet.write_string(1, 0, "Sheet Co").unwrap();
    sheet.write_number(1, 1, 4930901820.0).unwrap();
    sheet.write_string(1, 2, "Tech").unwrap();
    let bytes = book.save_to_buffer().unwrap();
    let response = send(
        &app,
        &admin,
        "/api/v1/leads/import/columns",
        XLSX,
        bytes.clone(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let columns: Value = response.json().await.unwrap();
    assert_eq!(field_of(&columns, "Account Name"), "company_name");
    assert_eq!(field_of(&columns, "Phone"), "contact_phone");
    assert_eq!(field_of(&columns, "Sector"), "industry");
    assert_eq!(columns["columns"][1]["samples"], json!(["4930901820"]));

    let (_, caller) = app.user_with_role(&admin, "cal", "caller").await;
    let (status, code, _) =
        error_of(send(&app, &caller, "/api/v1/leads/import/columns", XLSX, bytes).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::FORBIDDEN, "forbidden")
    );

    let (status, code, _) = error_of(
        send(
            &app,
            &admin,
            "/api/v1/leads/import/columns",
            XLSX,
            b"not a zip".to_vec(),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
    );
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
