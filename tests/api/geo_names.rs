//! Countries and states typed as names ("Germany", "Bavaria") are stored as
//! ISO codes wherever a lead comes in, and the import report says how it
//! read them.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_of, ok, TestApp};

/// Imports within the request (`wait=true`) and returns the report.
async fn import(app: &TestApp, token: &str, query: &str, csv: &str) -> Value {
    let query = match query {
        "" => "?wait=true".to_string(),
        q => format!("{q}&wait=true"),
    };
    ok(app
        .post_file(
            &format!("/api/v1/leads/import{query}"),
            token,
            "text/csv",
            csv.as_bytes().to_vec(),
        )
        .await)
    .await
}

async fn the_lead(app: &TestApp, token: &str, q: &str) -> Value {
    let page = ok(app.get(&format!("/api/v1/leads?q={q}"), token).await).await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    items[0].clone()
}

#[tokio::test]
async fn a_lead_given_a_country_and_state_by_name_is_stored_with_their_codes() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    let created = ok(app
        .post(
            "/api/v1/leads",
            &admin,
            json!({"company_name": "Brauerei Huber", "country": "Germany", "state": "Bavaria",
                   "contacts": [{"name": "Sepp Huber", "phone": "089 1234567"}]}),
        )
        .await)
    .await;
    let lead = &created["lead"];
    assert_eq!(
        (lead["country"].as_str(), lead["state"].as_str()),
        (Some("DE"), Some("DE-BY"))
    );
    assert_eq!(
        lead["timezone"], "Europe/Berlin",
        "the zone is inferred from the country read"
    );
    assert_eq!(
        created["contacts"][0]["phone"], "+49891234567",
        "the phone's default region is the country read"
    );

    // An edit reads names the same way.
    let id = lead["id"].as_str().unwrap();
    let edited = ok(app
        .patch(
            &format!("/api/v1/leads/{id}"),
            &admin,
            json!({"country": "United States", "state": "california"}),
        )
        .await)
    .await;
    assert_eq!(
        (edited["country"].as_str(), edited["state"].as_str()),
        (Some("US"), Some("US-CA"))
    );
    let edited = ok(app
        .patch(
            &format!("/api/v1/leads/{id}"),
            &admin,
            json!({"country": "Côte d’Ivoire"}),
        )
        .await)
    .await;
    assert_eq!(edited["country"], "CI");
    assert_eq!(edited["timezone"], "Africa/Abidjan");

    let stored = ok(app.get(&format!("/api/v1/leads/{id}"), &admin).await).await;
    assert_eq!(stored["lead"]["country"], "CI");
}

#[tokio::test]
async fn a_name_that_is_unknown_or_fits_several_places_is_refused_saying_what_was_typed() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    for (body, field, typed) in [
        (
            json!({"company_name": "X", "country": "Atlantis"}),
            "country",
            "Atlantis",
        ),
        (
            json!({"company_name": "X", "country": "Korea"}),
            "country",
            "Korea",
        ),
        (
            json!({"company_name": "X", "country": "USA", "state": "Bavaria"}),
            "state",
            "Bavaria",
        ),
        (
            json!({"company_name": "X", "country": "Bangladesh", "state": "Dhaka"}),
            "state",
            "Dhaka",
        ),
    ] {
        let (status, code, message) =
            error_of(app.post("/api/v1/leads", &admin, body.clone()).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            "{body}"
        );
        assert!(message.starts_with(field), "{body}: {message}");
        assert!(message.contains(&format!("`{typed}`")), "{message}");
        assert!(message.contains("neither"), "{message}");
    }
    let count = ok(app.get("/api/v1/leads/count", &admin).await).await;
    assert_eq!(count["count"], 0, "nothing is stored");
}

#[tokio::test]
async fn an_import_stores_names_as_codes_and_its_report_says_how_each_was_read() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let csv = "Company,Country,State\n\
               Initech,United States,California\n\
               Globex,Germany,Bavaria\n\
               Hooli,United States,New York\n\
               Umbrella,US,CA\n\
               Nowhere Inc,Atlantis,\n\
               Vandelay,germany,\n";

    let dry = import(&app, &admin, "?dry_run=true", csv).await;
    assert_eq!(dry["created"], 5, "{dry}");
    assert!(
        !dry["names_read"].as_array().unwrap().is_empty(),
        "a dry run already says how names will be read: {dry}"
    );

    let report = import(&app, &admin, "", csv).await;
    assert_eq!(
        (report["created"].as_u64(), report["failed"].as_u64()),
        (Some(5), Some(1))
    );
    let error = &report["errors"][0];
    assert_eq!(error["row"], 6);
    assert_eq!(error["column"], "Country");
    assert!(
        error["reason"].as_str().unwrap().contains("`Atlantis`"),
        "{error}"
    );

    let names = report["names_read"].as_array().unwrap();
    let read = |field: &str, typed: &str| -> Value {
        names
            .iter()
            .find(|n| n["field"] == field && n["typed"] == typed)
            .cloned()
            .unwrap_or_else(|| panic!("no {field} {typed:?} in {names:?}"))
    };
    assert_eq!(
        read("country", "United States"),
        json!({"field": "country", "column": "Country", "typed": "United States",
               "read_as": "US", "first_row": 2, "rows": 2})
    );
    assert_eq!(
        read("state", "California"),
        json!({"field": "state", "column": "State", "typed": "California",
               "read_as": "US-CA", "first_row": 2, "rows": 1})
    );
    assert_eq!(read("country", "Germany")["read_as"], "DE");
    assert_eq!(read("state", "Bavaria")["read_as"], "DE-BY");
    assert_eq!(read("state", "New York")["read_as"], "US-NY");
    assert_eq!(read("country", "germany")["first_row"], 7);
    assert_eq!(
        names.len(),
        6,
        "codes are not reported, nor the refused row: {names:?}"
    );

    let initech = the_lead(&app, &admin, "initech").await;
    assert_eq!(
        (initech["country"].as_str(), initech["state"].as_str()),
        (Some("US"), Some("US-CA"))
    );
    let globex = the_lead(&app, &admin, "globex").await;
    assert_eq!(
        (
            globex["country"].as_str(),
            globex["state"].as_str(),
            globex["timezone"].as_str()
        ),
        (Some("DE"), Some("DE-BY"), Some("Europe/Berlin"))
    );
}

#[tokio::test]
async fn an_import_that_updates_a_lead_reads_a_state_name_in_the_leads_country() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    import(&app, &admin, "", "Company,Country\nInitech,USA\n").await;

    let report = import(
        &app,
        &admin,
        "?policy=update",
        "Company,State\nInitech,Texas\n",
    )
    .await;
    assert_eq!(report["updated"], 1, "{report}");
    assert_eq!(report["names_read"][0]["read_as"], "US-TX", "{report}");
    assert_eq!(the_lead(&app, &admin, "initech").await["state"], "US-TX");
}

#[tokio::test]
async fn lists_filter_by_country_and_state_names() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    for body in [
        json!({"company_name": "Munich Co", "country": "DE", "state": "BY"}),
        json!({"company_name": "Berlin Co", "country": "DE", "state": "BE"}),
        json!({"company_name": "Austin Co", "country": "US", "state": "TX"}),
    ] {
        ok(app.post("/api/v1/leads", &admin, body).await).await;
    }
    let page = ok(app
        .get("/api/v1/leads?country=Germany&state=Bavaria", &admin)
        .await)
    .await;
    let names: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["company_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Munich Co"]);
    let count = ok(app
        .get("/api/v1/leads/count?country=deutschland", &admin)
        .await)
    .await;
    assert_eq!(count["count"], 2);
    let (status, _, message) =
        error_of(app.get("/api/v1/leads?country=Narnia", &admin).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message.contains("`Narnia`"), "{message}");
}

#[tokio::test]
async fn the_openapi_document_describes_the_names_read_by_an_import() {
    let app = TestApp::spawn().await;
    let doc = app.openapi().await;
    let schemas = &doc["components"]["schemas"];
    let report = &schemas["ImportReportView"]["properties"]["names_read"];
    assert_eq!(report["type"], "array", "{report}");
    let item = &schemas["NameReadView"];
    for field in ["field", "column", "typed", "read_as", "first_row", "rows"] {
        assert!(item["properties"][field].is_object(), "{field}: {item}");
    }
    assert!(
        item["description"]
            .as_str()
            .unwrap_or_default()
            .contains("read as"),
        "{item}"
    );
}
