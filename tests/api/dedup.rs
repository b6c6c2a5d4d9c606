//! One lead's duplicate candidates (`GET /ai/leads/{id}/duplicates`) and
//! the all-pairs list (`GET /ai/duplicates`): what each finds, that they
//! agree on a pair, whom they name to whom, and that every lookup behind
//! them is an index lookup, not a walk of the leads.

use ea_crm::domain::ai::dedup::{walk_statement, BlockKey};
use ea_crm::domain::crm::leads::Scope;
use ea_crm::domain::crm::normalize::name_keys;
use ea_crm::store::migrations;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_of, ok, TestApp};

/// The candidates of `lead` as `token` sees them, any confidence.
async fn candidates_of(app: &TestApp, token: &str, lead: &str) -> Vec<Value> {
    let found = ok(app
        .get(
            &format!("/api/v1/ai/leads/{lead}/duplicates?min_confidence=0&limit=100"),
            token,
        )
        .await)
    .await;
    found.as_array().unwrap().clone()
}

/// Every pair `token` is offered, any confidence, as (lower id, higher id).
async fn all_pairs(app: &TestApp, token: &str) -> Vec<Value> {
    ok(app
        .get("/api/v1/ai/duplicates?min_confidence=0&limit=500", token)
        .await)
    .await
    .as_array()
    .unwrap()
    .clone()
}

fn ids(items: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = items
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<&str>) -> Vec<String> {
    ids.sort();
    ids.into_iter().map(str::to_string).collect()
}

#[tokio::test]
async fn a_leads_candidates_share_its_domain_a_contact_email_or_phone_or_a_similar_name() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let globex = app
        .create_lead_from(
            &admin,
            json!({"company_name": "Globex Industries", "website": "https://globex.example",
                   "contacts": [{"name": "Jane", "email": "jane@globex.example", "phone": "+14155550100"}]}),
        )
        .await;
    let same_site = app
        .create_lead_from(
            &admin,
            json!({"company_name": "Roadrunner Ltd", "website": "www.globex.example/about"}),
        )
        .await;
    let same_email = app
        .create_lead_from(
            &admin,
            json!({"company_name": "Wile Partners", "contacts": [{"name": "J.", "email": "JANE@globex.example"}]}),
        )
        .await;
    let same_phone = app
        .create_lead_from(
            &admin,
            json!({"company_name": "Coyote Supplies", "contacts": [{"name": "Desk", "phone": "+1 415 555 0100"}]}),
        )
        .await;
    let similar_name = app
        .create_lead_from(&admin, json!({"company_name": "Globex Industrie"}))
        .await;
    app.create_lead_from(
        &admin,
        json!({"company_name": "Initech", "website": "initech.example"}),
    )
    .await;
    let trashed = app
        .create_lead_from(
            &admin,
            json!({"company_name": "Globex Industries", "website": "globex.example"}),
        )
        .await;
    let gone = app
        .delete(&format!("/api/v1/leads/{trashed}"), &admin)
        .await;
    assert!(gone.status().is_success(), "{}", gone.status());

    let found = candidates_of(&app, &admin, &globex).await;
    assert_eq!(
        ids(&found),
        sorted(vec![&same_site, &same_email, &same_phone, &similar_name]),
        "a trashed lead and an unrelated one are not candidates: {found:?}"
    );
    let signals_of = |id: &str| -> String {
        let candidate = found.iter().find(|c| c["id"] == id).unwrap();
        candidate["signals"].to_string()
    };
    assert!(signals_of(&same_site).contains("same website domain globex.example"));
    assert!(signals_of(&same_email).contains("shared contact email jane@globex.example"));
    assert!(signals_of(&same_phone).contains("shared contact phone +14155550100"));
    assert!(signals_of(&similar_name).contains("similar names"));
    let confidences: Vec<f64> = found
        .iter()
        .map(|c| c["confidence"].as_f64().unwrap())
        .collect();
    assert!(
        confidences.windows(2).all(|w| w[0] >= w[1]),
        "most likely first: {confidences:?}"
    );
    assert_eq!(
        found[0]["id"],
        same_site.as_str(),
        "a shared domain weighs most"
    );

    // The all-pairs list scores every one of these pairs the same way.
    let pairs = all_pairs(&app, &admin).await;
    for candidate in &found {
        let other = candidate["id"].as_str().unwrap();
        let (a, b) = (globex.as_str().min(other), globex.as_str().max(other));
        let pair = pairs
            .iter()
            .find(|p| p["lead_a"] == a && p["lead_b"] == b)
            .unwrap_or_else(|| panic!("({a}, {b}) in {pairs:?}"));
        assert_eq!(pair["confidence"], candidate["confidence"]);
        assert_eq!(pair["signals"], candidate["signals"]);
    }
    assert!(
        pairs
            .iter()
            .all(|p| p["lead_a"] != trashed.as_str() && p["lead_b"] != trashed.as_str()),
        "{pairs:?}"
    );

    // A trashed lead has no candidates; an unknown one is not found.
    let (status, _, _) = error_of(
        app.get(&format!("/api/v1/ai/leads/{trashed}/duplicates"), &admin)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let strict = ok(app
        .get(
            &format!("/api/v1/ai/leads/{globex}/duplicates?min_confidence=0.89&limit=1"),
            &admin,
        )
        .await)
    .await;
    assert_eq!(ids(strict.as_array().unwrap()), vec![same_site.clone()]);
}

#[tokio::test]
async fn an_own_scope_user_is_told_only_of_leads_they_can_see() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, rep) = app.user_with_role(&admin, "rep", "user").await;
    let theirs = app
        .create_lead_from(
            &admin,
            json!({"company_name": "Umbrella Corp", "website": "umbrella.example", "owner": "admin"}),
        )
        .await;
    let mine = app
        .create_lead_from(
            &rep,
            json!({"company_name": "Umbrella Holdings", "website": "umbrella.example"}),
        )
        .await;
    let also_mine = app
        .create_lead_from(
            &rep,
            json!({"company_name": "Raccoon Labs", "contacts": [{"name": "Al", "email": "al@umbrella.example"}]}),
        )
        .await;
    app.create_lead_from(
        &admin,
        json!({"company_name": "Nemesis Ltd", "owner": "admin",
               "contacts": [{"name": "Al", "email": "al@umbrella.example"}]}),
    )
    .await;

    assert!(
        candidates_of(&app, &rep, &mine).await.is_empty(),
        "the admin's lead on the same site is not named to the rep"
    );
    assert!(candidates_of(&app, &rep, &also_mine).await.is_empty());
    let (status, _, _) = error_of(
        app.get(&format!("/api/v1/ai/leads/{theirs}/duplicates"), &rep)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(all_pairs(&app, &rep).await.is_empty());

    // The admin sees both sides.
    assert_eq!(
        ids(&candidates_of(&app, &admin, &mine).await),
        vec![theirs.clone()]
    );
    let pairs = all_pairs(&app, &admin).await;
    assert_eq!(pairs.len(), 2, "{pairs:?}");
}

#[tokio::test]
async fn the_all_pairs_list_walks_every_page_and_names_each_pair_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    // More leads than one page of the walk (100), with names too short to
    // block on: only the pairs seeded below share anything.
    let mut leads = Vec::new();
    for i in 0..130u8 {
        let name = format!("Q{}{}", (b'a' + i / 26) as char, (b'a' + i % 26) as char);
        leads.push(
            app.create_lead_from(&admin, json!({"company_name": name}))
                .await,
        );
    }
    let (first, last) = (leads[0].clone(), leads[129].clone());
    for id in [&first, &last] {
        ok(app
            .patch(
                &format!("/api/v1/leads/{id}"),
                &admin,
                json!({"website": "spans.example"}),
            )
            .await)
        .await;
    }
    for id in [&leads[110], &leads[120]] {
        ok(app
            .post(
                &format!("/api/v1/leads/{id}/contacts"),
                &admin,
                json!({"name": "Pat", "phone": "+14155550111"}),
            )
            .await)
        .await;
    }
    let pairs = all_pairs(&app, &admin).await;
    let named: Vec<(String, String)> = pairs
        .iter()
        .map(|p| {
            (
                p["lead_a"].as_str().unwrap().to_string(),
                p["lead_b"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let pair = |x: &str, y: &str| (x.min(y).to_string(), x.max(y).to_string());
    assert_eq!(
        named,
        vec![pair(&first, &last), pair(&leads[110], &leads[120])],
        "domain (0.9) before phone (0.75), each once"
    );
    let best = ok(app.get("/api/v1/ai/duplicates?limit=1", &admin).await).await;
    assert_eq!(best.as_array().unwrap().len(), 1);
    assert_eq!(best[0]["lead_a"], pairs[0]["lead_a"]);
}

/// The plan of `sql` (which ends in `EXPLAIN`) as text.
async fn plan(app: &TestApp, sql: &str, vars: Value) -> String {
    app.ctx()
        .store
        .run(sql, vars)
        .await
        .unwrap()
        .value(0)
        .to_string()
}

#[tokio::test]
async fn each_key_of_a_lead_is_one_index_lookup_and_the_walk_one_index_range() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    for i in 0..5 {
        app.create_lead_from(
            &admin,
            json!({"company_name": format!("Planned {i}"), "website": format!("p{i}.example"),
                   "contacts": [{"name": "Pat", "email": format!("pat@p{i}.example"), "phone": "+14155550100"}]}),
        )
        .await;
    }
    for (key, index) in [
        (BlockKey::Domain("p1.example".into()), "lead_domain"),
        (BlockKey::Name("plan".into()), "lead_name_keys"),
        (BlockKey::Email("pat@p1.example".into()), "contact_email"),
        (BlockKey::Phone("+14155550100".into()), "contact_phone"),
    ] {
        let sql = format!("{} EXPLAIN", key.statement("key"));
        let text = plan(&app, &sql, json!({"key": "x"})).await;
        let lookup = format!(r#""access":"= 'x'","direction":"Forward","index":"{index}""#);
        assert!(text.contains(&lookup), "{sql}: {text}");
        assert!(!text.contains("TableScan"), "{sql}: {text}");
    }
    for scope in [Scope::All, Scope::Own("o".into())] {
        let sql = format!("{} EXPLAIN", walk_statement(&scope));
        let text = plan(&app, &sql, json!({"after": "", "scope_user": "o"})).await;
        let range =
            r#""access":"[true] MoreThan ''","direction":"Forward","index":"lead_live_created""#;
        assert!(text.contains(range), "{sql}: {text}");
        assert!(!text.contains("Sort"), "{sql}: {text}");
    }
}

/// Each stored lead's company name and `name_keys`.
async fn stored_name_keys(app: &TestApp) -> Vec<(String, Vec<String>)> {
    #[derive(serde::Deserialize)]
    struct Row {
        company_name: String,
        name_keys: Vec<String>,
    }
    let rows: Vec<Row> = app
        .ctx()
        .store
        .run(
            "SELECT company_name, name_keys FROM lead ORDER BY company_name",
            json!({}),
        )
        .await
        .unwrap()
        .rows(0)
        .unwrap();
    rows.into_iter()
        .map(|r| (r.company_name, r.name_keys))
        .collect()
}

fn assert_keys_follow_the_names(rows: &[(String, Vec<String>)]) {
    for (name, keys) in rows {
        assert_eq!(keys, &name_keys(name), "{name}");
    }
}

#[tokio::test]
async fn every_writer_of_a_company_name_keeps_its_name_keys_and_the_migration_fills_old_leads() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let created = app
        .create_lead_from(&admin, json!({"company_name": "Globex International Inc."}))
        .await;
    let renamed = app
        .create_lead_from(&admin, json!({"company_name": "Old Name"}))
        .await;
    ok(app
        .patch(
            &format!("/api/v1/leads/{renamed}"),
            &admin,
            json!({"company_name": "Müller & Söhne AG"}),
        )
        .await)
    .await;
    let imported = app
        .client
        .post(app.url("/api/v1/leads/import?wait=true"))
        .bearer_auth(&admin)
        .header("content-type", "text/csv")
        .body("company_name,website\nInitrode Systems,initrode.example\nAB Tech Techno,techno.example\nCo,co.example\n")
        .send()
        .await
        .unwrap();
    assert_eq!(imported.status(), StatusCode::OK);
    ok(app
        .post(
            "/api/v1/ai/duplicates/merge",
            &admin,
            json!({"keep": renamed, "merge": created}),
        )
        .await)
    .await;
    let rows = stored_name_keys(&app).await;
    assert_eq!(rows.len(), 5, "{rows:?}");
    assert_keys_follow_the_names(&rows);
    assert!(rows.iter().any(|(_, keys)| keys == &["müll", "söhn"]));

    // A database from before the keys: the migration gives every lead its own.
    let version = migrations::MIGRATIONS
        .iter()
        .find(|m| m.name == "dedup_name_keys")
        .unwrap()
        .version;
    let store = &app.ctx().store;
    store
        .run(
            "UPDATE lead SET name_keys = [] RETURN NONE;
             DELETE type::record('migration', $version);",
            json!({ "version": version }),
        )
        .await
        .unwrap();
    assert!(stored_name_keys(&app)
        .await
        .iter()
        .all(|(_, k)| k.is_empty()));
    assert_eq!(migrations::migrate(store).await.unwrap(), 1);
    let backfilled = stored_name_keys(&app).await;
    assert_eq!(backfilled, rows);
}
