//! What an import stores: a lead, its contact and their audit rows exactly
//! as a lead created through `POST /leads` stores them (the import writes a
//! batch's new records with one statement per table), and a row that
//! repeats a lead created earlier in its own batch updates that lead.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::helpers::{ok, TestApp};
use crate::import_jobs::{finished, upload};

/// A lead's stored rows with everything that differs between two creations
/// of the same data (record keys, times) checked for its form and then
/// replaced by a placeholder: the lead, its contacts, the audit rows about it.
async fn stored(app: &TestApp, lead: &str) -> Value {
    let results = app
        .ctx()
        .store
        .run(
            "SELECT *, <string>id AS ref, record::id(id) AS key FROM lead WHERE id = type::record('lead', $lead);
             SELECT *, <string>id AS ref, record::id(id) AS key FROM contact WHERE lead = $lead ORDER BY id;
             SELECT *, <string>id AS ref, <string>record::id(id) AS key FROM audit WHERE subject = $lead ORDER BY id;",
            json!({"lead": lead}),
        )
        .await
        .unwrap();
    // Each row's id as text (`table:key`), which shows the key's type.
    let rows = |i: usize| {
        let mut rows = results.rows::<Value>(i).unwrap();
        for row in &mut rows {
            let row = row.as_object_mut().unwrap();
            let text = row.remove("ref").unwrap();
            row.insert("id".into(), text);
        }
        rows
    };
    let (mut leads, mut contacts, mut audit) = (rows(0), rows(1), rows(2));
    assert_eq!(leads.len(), 1, "{leads:?}");
    let created = time(&leads[0]["created_at"]);
    let micros = created.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);

    // Every key, wherever it appears (ids, sort keys, links), by its role.
    let mut keys: Vec<(String, String)> = vec![(lead.to_string(), "<lead>".into())];
    for (i, c) in contacts.iter().enumerate() {
        keys.push((string(&c["key"]), format!("<contact {i}>")));
    }
    for (i, a) in audit.iter().enumerate() {
        keys.push((string(&a["key"]), format!("<audit {i}>")));
    }

    let row = &mut leads[0];
    assert_eq!(time(&row["updated_at"]), created, "{row}");
    let sort_updated = string(&row["sort_updated"]);
    assert_eq!(
        sort_updated,
        format!("{micros}|{lead}"),
        "the update sort key is the update time, then the id"
    );
    // Lead scoring rescores a lead created by hand on its own, after the
    // creation; the score key follows whatever score it has.
    let score = row["score"].as_i64().unwrap();
    assert_eq!(row["sort_score"], format!("{score:03}|{lead}"), "{row}");
    for field in ["created_at", "updated_at", "sort_updated"] {
        row[field] = json!("<time>");
    }
    row["score"] = json!("<score>");
    row["sort_score"] = json!("<score>");
    for c in &mut contacts {
        assert_eq!(time(&c["created_at"]), created, "{c}");
        assert_eq!(time(&c["updated_at"]), created, "{c}");
        c["created_at"] = json!("<time>");
        c["updated_at"] = json!("<time>");
    }
    for a in &mut audit {
        assert_eq!(
            time(&a["at"]).to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            micros,
            "{a}"
        );
        a["at"] = json!("<time>");
    }
    let mut all = json!({"lead": leads[0], "contacts": contacts, "audit": audit});
    replace_keys(&mut all, &keys);
    all
}

fn string(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_string()
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&string(v))
        .unwrap_or_else(|e| panic!("not a time: {v}: {e}"))
        .with_timezone(&Utc)
}

fn replace_keys(value: &mut Value, keys: &[(String, String)]) {
    match value {
        Value::String(s) => {
            for (key, placeholder) in keys {
                *s = s.replace(key.as_str(), placeholder);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| replace_keys(v, keys)),
        Value::Object(map) => map.values_mut().for_each(|v| replace_keys(v, keys)),
        _ => {}
    }
}

/// Imports `csv` as a job with `query` and returns the finished report.
async fn import(app: &TestApp, token: &str, query: &str, csv: &str) -> Value {
    let job = upload(app, token, query, csv).await;
    let done = finished(app, token, job["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed", "{done}");
    done["report"].clone()
}

/// The id of the lead called `company` that is not one of `not`.
async fn lead_named(app: &TestApp, company: &str, not: &[&str]) -> String {
    let ids: Vec<String> = app
        .ctx()
        .store
        .run(
            "SELECT VALUE record::id(id) FROM lead WHERE company_name = $company",
            json!({"company": company}),
        )
        .await
        .unwrap()
        .rows(0)
        .unwrap();
    let mut left = ids.into_iter().filter(|id| !not.contains(&id.as_str()));
    let id = left.next().expect("the imported lead is stored");
    assert!(left.next().is_none(), "one lead per row");
    id
}

#[tokio::test]
async fn an_imported_lead_contact_and_audit_are_stored_as_a_lead_created_by_hand() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    app.user_with_role(&admin, "sam", "user").await;

    let full = ok(app
        .post(
            "/api/v1/leads",
            &admin,
            json!({"company_name": "Acme Corp", "website": "https://www.acme.com/pricing",
                   "industry": "Software", "status": "contacted", "country": "US",
                   "state": "California", "timezone": "America/Los_Angeles", "owner": "sam",
                   "source": "Trade fair", "tags": ["saas", "b2b"],
                   "contacts": [{"name": "Jane Doe", "position": "CEO", "phone": "+1 415 555 2671",
                                 "email": "Jane@Acme.com", "linkedin": "linkedin.com/in/janedoe"}]}),
        )
        .await)
    .await["lead"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let bare = app.create_lead(&admin, "Bare Minimum Ltd").await;

    // The same data as a file; `create` imports the rows although they
    // duplicate the leads just made.
    let csv = "Company,Website,Industry,Status,Country,State,Timezone,Owner,Source,Tags,Name,Title,Phone,Email,LinkedIn\n\
        Acme Corp,https://www.acme.com/pricing,Software,contacted,US,California,America/Los_Angeles,sam,Trade fair,saas;b2b,Jane Doe,CEO,+1 415 555 2671,Jane@Acme.com,linkedin.com/in/janedoe\n\
        Bare Minimum Ltd,,,,,,,,,,,,,,\n";
    let report = import(&app, &admin, "?policy=create", csv).await;
    assert_eq!(
        (
            report["created"].as_u64(),
            report["skipped"].as_u64(),
            report["failed"].as_u64(),
            report["contacts_added"].as_u64()
        ),
        (Some(2), Some(0), Some(0), Some(1)),
        "{report}"
    );

    let imported_full = lead_named(&app, "Acme Corp", &[&full]).await;
    let by_hand = stored(&app, &full).await;
    let imported = stored(&app, &imported_full).await;
    assert_eq!(imported, by_hand);
    // What was compared holds what it should, so an empty match proves nothing less.
    assert_eq!(by_hand["contacts"].as_array().unwrap().len(), 1);
    assert_eq!(by_hand["audit"].as_array().unwrap().len(), 2, "{by_hand}");
    assert_eq!(by_hand["lead"]["state"], "US-CA", "{by_hand}");
    assert_eq!(by_hand["lead"]["sort_created"], "<lead>", "{by_hand}");
    assert!(
        string(&by_hand["audit"][0]["id"]).starts_with("audit:u'"),
        "audit rows keep UUIDv7 keys: {by_hand}"
    );

    let imported_bare = lead_named(&app, "Bare Minimum Ltd", &[&bare]).await;
    assert_eq!(
        stored(&app, &imported_bare).await,
        stored(&app, &bare).await
    );
}

#[tokio::test]
async fn a_row_repeating_a_lead_created_earlier_in_its_batch_updates_that_lead() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let csv = "Company,Website,Industry,Email,Name\n\
        Zeta Ltd,zeta.io,,ann@zeta.io,Ann Zed\n\
        Zeta Ltd,zeta.io,Retail,ben@zeta.io,Ben Zed\n";
    let report = import(&app, &admin, "?policy=update", csv).await;
    assert_eq!(
        (
            report["created"].as_u64(),
            report["updated"].as_u64(),
            report["contacts_added"].as_u64()
        ),
        (Some(1), Some(1), Some(2)),
        "{report}"
    );
    let id = lead_named(&app, "Zeta Ltd", &[]).await;
    let detail = ok(app.get(&format!("/api/v1/leads/{id}"), &admin).await).await;
    assert_eq!(detail["lead"]["industry"], "Retail", "{detail}");
    let names: Vec<&str> = detail["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Ann Zed", "Ben Zed"]);
    let found = ok(app.get("/api/v1/leads?q=ben", &admin).await).await;
    assert_eq!(
        found["items"][0]["id"], id,
        "the second contact is in the search text: {found}"
    );

    let audit: Vec<Value> = app
        .ctx()
        .store
        .run(
            "SELECT id, entity, action, field FROM audit WHERE subject = $lead ORDER BY id",
            json!({"lead": id}),
        )
        .await
        .unwrap()
        .rows(0)
        .unwrap();
    let actions: Vec<(&str, &str, &str)> = audit
        .iter()
        .map(|a| {
            (
                a["entity"].as_str().unwrap(),
                a["action"].as_str().unwrap(),
                a["field"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("lead", "create", "*"),
            ("contact", "create", "*"),
            ("lead", "import_update", "industry"),
            ("contact", "create", "*"),
        ],
        "in the order the rows made them: {audit:?}"
    );
}
