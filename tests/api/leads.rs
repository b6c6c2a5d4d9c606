use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_of, TestApp};

async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let response = app.post("/api/v1/leads", token, body.clone()).await;
    assert_eq!(response.status(), StatusCode::OK, "create {body}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_lead_is_created_normalised_with_contacts_and_read_back() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let created = create(
        &app,
        &admin,
        json!({"company_name": "  Acme   GmbH ", "website": "http://www.Acme.de/", "country": "de", "state": "BY",
               "industry": "Manufacturing", "tags": ["B2B", "b2b", "Germany"],
               "contacts": [{"name": "Jana Müller", "email": "Jana@Acme.DE", "phone": "089 1234567", "position": "CEO",
                             "linkedin": "linkedin.com/in/jana"}]}),
    )
    .await;
    let lead = &created["lead"];
    assert_eq!(lead["company_name"], "Acme GmbH");
    assert_eq!(lead["website"], "https://acme.de");
    assert_eq!(lead["domain"], "acme.de");
    assert_eq!(
        (lead["country"].as_str(), lead["state"].as_str()),
        (Some("DE"), Some("DE-BY"))
    );
    assert_eq!(
        lead["timezone"], "Europe/Berlin",
        "inferred from the country"
    );
    assert_eq!(lead["status"], "new");
    assert_eq!(lead["tags"], json!(["b2b", "germany"]));
    let contact = &created["contacts"][0];
    assert_eq!(contact["email"], "jana@acme.de");
    assert_eq!(
        contact["phone"], "+49891234567",
        "E.164 with the lead's country as default"
    );
    assert_eq!(contact["linkedin"], "https://linkedin.com/in/jana");

    let id = lead["id"].as_str().unwrap();
    let read: Value = app
        .get(&format!("/api/v1/leads/{id}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["lead"]["company_name"], "Acme GmbH");
    assert_eq!(read["contacts"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_lead_input_is_refused_field_by_field_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    for (body, field) in [
        (json!({"company_name": ""}), "company_name"),
        (
            json!({"company_name": "X", "website": "not a site"}),
            "website",
        ),
        (json!({"company_name": "X", "country": "XX"}), "country"),
        (
            json!({"company_name": "X", "country": "US", "state": "BY"}),
            "state",
        ),
        (json!({"company_name": "X", "state": "CA"}), "state"),
        (
            json!({"company_name": "X", "timezone": "Mars/Base"}),
            "timezone",
        ),
        (json!({"company_name": "X", "status": "dreaming"}), "status"),
        (
            json!({"company_name": "X", "owner": "nobody-here"}),
            "owner",
        ),
        (
            json!({"company_name": "X", "contacts": [{"name": "A", "email": "nope"}]}),
            "email",
        ),
        (
            json!({"company_name": "X", "contacts": [{"name": "A", "phone": "12"}]}),
            "phone",
        ),
    ] {
        let (status, code, message) =
            error_of(app.post("/api/v1/leads", &admin, body.clone()).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            "{body}"
        );
        assert!(message.starts_with(field), "{field}: {message}");
    }
    let count: Value = app
        .get("/api/v1/leads/count", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(count["count"], 0);
}

#[tokio::test]
async fn own_only_users_see_and_change_only_their_own_leads_everywhere() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, rep_a) = app.user_with_role(&admin, "rep_a", "user").await;
    let (_, rep_b) = app.user_with_role(&admin, "rep_b", "user").await;
    let (_, manager) = app.user_with_role(&admin, "boss", "manager").await;
    let a_lead = create(
        &app,
        &rep_a,
        json!({"company_name": "Alpha Searchable", "website": "alpha.io"}),
    )
    .await;
    create(
        &app,
        &rep_b,
        json!({"company_name": "Beta Searchable", "website": "beta.io"}),
    )
    .await;
    let a_id = a_lead["lead"]["id"].as_str().unwrap();

    let names = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["company_name"].as_str().unwrap().to_string())
            .collect()
    };
    let a_list: Value = app.get("/api/v1/leads", &rep_a).await.json().await.unwrap();
    assert_eq!(names(&a_list), ["Alpha Searchable"]);
    let a_search: Value = app
        .get("/api/v1/leads?q=searchable", &rep_a)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        names(&a_search),
        ["Alpha Searchable"],
        "search respects ownership"
    );
    let a_count: Value = app
        .get("/api/v1/leads/count", &rep_a)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(a_count["count"], 1, "counts respect ownership");
    let boss_count: Value = app
        .get("/api/v1/leads/count", &manager)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(boss_count["count"], 2);
    let boss_search: Value = app
        .get(
            "/api/v1/leads?q=searchable&sort=company&order=asc",
            &manager,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names(&boss_search), ["Alpha Searchable", "Beta Searchable"]);

    // rep_b can neither read nor change rep_a's lead: it does not exist for them.
    assert_eq!(
        app.get(&format!("/api/v1/leads/{a_id}"), &rep_b)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let edit = app
        .patch(
            &format!("/api/v1/leads/{a_id}"),
            &rep_b,
            json!({"status": "won"}),
        )
        .await;
    assert_eq!(edit.status(), StatusCode::NOT_FOUND);
    let contact = app
        .post(
            &format!("/api/v1/leads/{a_id}/contacts"),
            &rep_b,
            json!({"name": "Spy"}),
        )
        .await;
    assert_eq!(contact.status(), StatusCode::NOT_FOUND);
    let still: Value = app
        .get(&format!("/api/v1/leads/{a_id}"), &rep_a)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(still["lead"]["status"], "new");
    assert_eq!(still["contacts"], json!([]));
}

#[tokio::test]
async fn filters_sorts_and_cursor_pages_cover_every_lead_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    for (i, (country, industry)) in [
        ("DE", "SaaS"),
        ("FR", "SaaS"),
        ("DE", "Retail"),
        ("US", "SaaS"),
        ("DE", "SaaS"),
    ]
    .iter()
    .enumerate()
    {
        create(
            &app,
            &admin,
            json!({"company_name": format!("Company {i}"), "country": country, "industry": industry,
                   "tags": if i % 2 == 0 { json!(["even"]) } else { json!([]) }}),
        )
        .await;
    }
    let count = |q: &'static str| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let v: Value = app
                .get(&format!("/api/v1/leads/count{q}"), &admin)
                .await
                .json()
                .await
                .unwrap();
            v["count"].as_u64().unwrap()
        }
    };
    assert_eq!(count("?country=DE").await, 3);
    assert_eq!(count("?country=de&industry=SaaS").await, 2);
    assert_eq!(count("?tag=even").await, 3);
    assert_eq!(count("?status=new").await, 5);
    assert_eq!(count("?status=won").await, 0);

    for (sort, order) in [
        ("created", "desc"),
        ("created", "asc"),
        ("company", "asc"),
        ("updated", "desc"),
        ("score", "desc"),
    ] {
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut path = format!("/api/v1/leads?limit=2&sort={sort}&order={order}");
            if let Some(a) = &after {
                path.push_str(&format!("&after={a}"));
            }
            let page: Value = app.get(&path, &admin).await.json().await.unwrap();
            seen.extend(
                page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l["company_name"].as_str().unwrap().to_string()),
            );
            match page["next_cursor"].as_str() {
                Some(c) => after = Some(c.to_string()),
                None => break,
            }
            assert!(seen.len() <= 10);
        }
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 5, "{sort} {order}: every lead once: {seen:?}");
        if sort == "company" {
            assert_eq!(
                seen,
                [
                    "Company 0",
                    "Company 1",
                    "Company 2",
                    "Company 3",
                    "Company 4"
                ]
            );
        }
        if sort == "created" && order == "desc" {
            assert_eq!(seen[0], "Company 4", "newest first");
        }
    }
    let bad = app.get("/api/v1/leads?sort=shoe_size", &admin).await;
    assert_eq!(error_of(bad).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    let bad_cursor = app.get("/api/v1/leads?after=%25%25", &admin).await;
    assert_eq!(error_of(bad_cursor).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn full_text_search_finds_company_website_and_contact_names_and_emails() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let lead = create(
        &app,
        &admin,
        json!({"company_name": "Globex Corporation", "website": "globex-industries.com"}),
    )
    .await;
    create(&app, &admin, json!({"company_name": "Initech"})).await;
    let id = lead["lead"]["id"].as_str().unwrap();
    app.post(
        &format!("/api/v1/leads/{id}/contacts"),
        &admin,
        json!({"name": "Hank Scorpio", "email": "hank@volcano.example"}),
    )
    .await;
    for q in [
        "globex",
        "Glob",
        "industries",
        "scorpio",
        "volcano",
        "hank@volcano.example",
    ] {
        let page: Value = app
            .get(&format!("/api/v1/leads?q={q}"), &admin)
            .await
            .json()
            .await
            .unwrap();
        let names: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["company_name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Globex Corporation"], "query {q}");
    }
}

#[tokio::test]
async fn a_deleted_lead_is_restored_with_its_contacts_and_history() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let lead = create(
        &app,
        &admin,
        json!({"company_name": "Umbrella", "contacts": [{"name": "Alice"}]}),
    )
    .await;
    let id = lead["lead"]["id"].as_str().unwrap().to_string();
    app.put_json(
        &format!("/api/v1/leads/{id}/follow-ups/1"),
        &admin,
        json!({"outcome": "no_answer", "notes": "rang twice"}),
    )
    .await;

    assert_eq!(
        app.delete(&format!("/api/v1/leads/{id}"), &admin)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get(&format!("/api/v1/leads/{id}"), &admin)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let live: Value = app
        .get("/api/v1/leads/count", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(live["count"], 0);
    let trash: Value = app
        .get("/api/v1/leads?deleted=true", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(trash["items"][0]["id"], id.as_str());

    let restored = app
        .post(&format!("/api/v1/leads/{id}/restore"), &admin, json!({}))
        .await;
    assert_eq!(restored.status(), StatusCode::OK);
    let back: Value = app
        .get(&format!("/api/v1/leads/{id}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(back["contacts"][0]["name"], "Alice");
    let fus: Value = app
        .get(&format!("/api/v1/leads/{id}/follow-ups"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fus["tiers"][0]["outcome"], "no_answer");
    assert_eq!(fus["history"][0]["notes"], "rang twice");

    // A user without leads.delete cannot delete.
    let (_, rep) = app.user_with_role(&admin, "rep", "user").await;
    let mine = create(&app, &rep, json!({"company_name": "Mine"})).await;
    let mine_id = mine["lead"]["id"].as_str().unwrap();
    assert_eq!(
        app.delete(&format!("/api/v1/leads/{mine_id}"), &rep)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn edits_are_audited_field_by_field_and_owner_changes_need_assign() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (rep_id, rep) = app.user_with_role(&admin, "rep", "user").await;
    let (other_id, _) = app.user_with_role(&admin, "other", "user").await;
    let lead = create(&app, &rep, json!({"company_name": "Hooli"})).await;
    let id = lead["lead"]["id"].as_str().unwrap().to_string();
    assert_eq!(lead["lead"]["owner"], rep_id.as_str());

    let patched: Value = app
        .patch(
            &format!("/api/v1/leads/{id}"),
            &rep,
            json!({"status": "interested", "industry": "Tech", "website": "hooli.xyz"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(patched["status"], "interested");
    let cleared: Value = app
        .patch(
            &format!("/api/v1/leads/{id}"),
            &rep,
            json!({"industry": null}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(cleared["industry"].is_null());

    let refused = app
        .patch(
            &format!("/api/v1/leads/{id}"),
            &rep,
            json!({"owner": other_id}),
        )
        .await;
    assert_eq!(error_of(refused).await.0, StatusCode::FORBIDDEN);
    let assigned: Value = app
        .post(
            &format!("/api/v1/leads/{id}/assign"),
            &admin,
            json!({"owner": "other"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(assigned["owner"], other_id.as_str());

    let rows = app
        .ctx()
        .store
        .run(
            "SELECT action, field, old, new, channel FROM audit WHERE entity = 'lead' AND entity_id = $id ORDER BY at",
            json!({"id": id}),
        )
        .await
        .unwrap()
        .rows::<Value>(0)
        .unwrap();
    let has = |action: &str, field: &str, old: Option<&str>, new: Option<&str>| {
        rows.iter().any(|r| {
            r["action"] == action
                && r["field"] == field
                && r["old"].as_str() == old
                && r["new"].as_str() == new
        })
    };
    let created = rows.iter().find(|r| r["action"] == "create").unwrap();
    assert_eq!(
        created["field"], "*",
        "a creation is one row with every field set"
    );
    let values: Value = serde_json::from_str(created["new"].as_str().unwrap()).unwrap();
    assert_eq!(
        (values["company_name"].as_str(), values["status"].as_str()),
        (Some("Hooli"), Some("new"))
    );
    assert!(
        has("update", "status", Some("\"new\""), Some("\"interested\"")),
        "{rows:?}"
    );
    assert!(
        has("update", "industry", Some("\"Tech\""), None),
        "{rows:?}"
    );
    let owner_change = format!("\"{other_id}\"");
    let rep_owner = format!("\"{rep_id}\"");
    assert!(
        has("update", "owner", Some(&rep_owner), Some(&owner_change)),
        "{rows:?}"
    );
    assert!(rows.iter().all(|r| r["channel"] == "api"));
}

#[tokio::test]
async fn round_robin_and_territory_rules_assign_new_leads() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (a, _) = app.user_with_role(&admin, "caller_a", "caller").await;
    let (b, _) = app.user_with_role(&admin, "caller_b", "caller").await;
    let (_, gen) = app.user_with_role(&admin, "finder", "lead_generator").await;
    let set = app
        .put_json(
            "/api/v1/settings/lead-assignment",
            &admin,
            json!({"mode": "round_robin", "role": "caller"}),
        )
        .await;
    assert_eq!(set.status(), StatusCode::OK);
    let mut owners = Vec::new();
    for i in 0..4 {
        let lead = create(&app, &gen, json!({"company_name": format!("RR {i}")})).await;
        owners.push(lead["lead"]["owner"].as_str().unwrap().to_string());
    }
    assert_eq!(owners, [a.clone(), b.clone(), a.clone(), b.clone()]);
    // The generator still sees the leads it created.
    let mine: Value = app
        .get("/api/v1/leads/count", &gen)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["count"], 4);

    app.put_json(
        "/api/v1/settings/lead-assignment",
        &admin,
        json!({"mode": "territory", "territories": {"fr": b}}),
    )
    .await;
    let french = create(
        &app,
        &gen,
        json!({"company_name": "Le Lead", "country": "FR"}),
    )
    .await;
    assert_eq!(french["lead"]["owner"], b.as_str());
    let other = create(
        &app,
        &admin,
        json!({"company_name": "Elsewhere", "country": "IT"}),
    )
    .await;
    let me: Value = app
        .get("/api/v1/auth/me", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(other["lead"]["owner"], me["user"]["id"]);

    let bad = app
        .put_json(
            "/api/v1/settings/lead-assignment",
            &admin,
            json!({"mode": "round_robin"}),
        )
        .await;
    assert_eq!(error_of(bad).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, rep) = app.user_with_role(&admin, "rep", "user").await;
    let forbidden = app
        .put_json(
            "/api/v1/settings/lead-assignment",
            &rep,
            json!({"mode": "manual"}),
        )
        .await;
    assert_eq!(error_of(forbidden).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn pipeline_statuses_are_configurable_with_won_and_lost_flags() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let statuses: Value = app
        .get("/api/v1/pipeline/statuses", &admin)
        .await
        .json()
        .await
        .unwrap();
    let keys: Vec<&str> = statuses
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(keys[0], "new");
    for k in [
        "contacted",
        "interested",
        "qualified",
        "proposal",
        "won",
        "lost",
        "not_interested",
    ] {
        assert!(keys.contains(&k), "{k}");
    }
    let won = statuses
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "won")
        .unwrap();
    assert_eq!(
        (won["is_won"].as_bool(), won["is_lost"].as_bool()),
        (Some(true), Some(false))
    );

    let created = app
        .post(
            "/api/v1/pipeline/statuses",
            &admin,
            json!({"key": "demo_booked", "name": "Demo booked", "position": 45}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::OK);
    let lead = create(
        &app,
        &admin,
        json!({"company_name": "Demo Co", "status": "demo_booked"}),
    )
    .await;
    assert_eq!(lead["lead"]["status"], "demo_booked");
    let in_use = app
        .delete("/api/v1/pipeline/statuses/demo_booked", &admin)
        .await;
    assert_eq!(error_of(in_use).await.0, StatusCode::CONFLICT);
    let both = app
        .patch(
            "/api/v1/pipeline/statuses/demo_booked",
            &admin,
            json!({"is_won": true, "is_lost": true}),
        )
        .await;
    assert_eq!(error_of(both).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, rep) = app.user_with_role(&admin, "rep", "user").await;
    let forbidden = app
        .post(
            "/api/v1/pipeline/statuses",
            &rep,
            json!({"key": "nope_status"}),
        )
        .await;
    assert_eq!(error_of(forbidden).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn geography_lists_countries_subdivisions_and_zones() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let countries: Value = app
        .get("/api/v1/geo/countries", &admin)
        .await
        .json()
        .await
        .unwrap();
    let de = countries
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "DE")
        .unwrap();
    assert_eq!(de["default_timezone"], "Europe/Berlin");
    let states: Value = app
        .get("/api/v1/geo/countries/US/subdivisions", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert!(states
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["code"] == "US-CA" && s["name"] == "California"));
    let zones: Value = app
        .get("/api/v1/geo/countries/us/timezones", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert!(zones
        .as_array()
        .unwrap()
        .iter()
        .any(|z| z["name"] == "America/Los_Angeles"));
    let bad = app
        .get("/api/v1/geo/countries/QQ/subdivisions", &admin)
        .await;
    assert_eq!(error_of(bad).await.0, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn own_scope_pages_hold_owned_and_created_leads_in_order_each_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (rep_id, rep) = app.user_with_role(&admin, "rep_pages", "user").await;
    let (other_id, _) = app.user_with_role(&admin, "rep_other", "user").await;
    let mut expected = Vec::new();
    for i in 0..3 {
        // Created by the admin, owned by the rep.
        let name = format!("Owned {i}");
        create(&app, &admin, json!({"company_name": name, "owner": rep_id})).await;
        expected.push(name);
        // Created by the rep (and so owned by them too: in both walks).
        let name = format!("Mine {i}");
        create(&app, &rep, json!({"company_name": name})).await;
        expected.push(name);
        // Someone else's.
        create(
            &app,
            &admin,
            json!({"company_name": format!("Not mine {i}"), "owner": other_id}),
        )
        .await;
    }
    // Created by the rep, then handed to someone else: still theirs to see.
    let handed = create(&app, &rep, json!({"company_name": "Handed on"})).await;
    let handed_id = handed["lead"]["id"].as_str().unwrap();
    let moved = app
        .patch(
            &format!("/api/v1/leads/{handed_id}"),
            &admin,
            json!({"owner": other_id}),
        )
        .await;
    assert_eq!(moved.status(), StatusCode::OK);
    expected.push("Handed on".into());

    for (sort, descending) in [
        ("created", false),
        ("created", true),
        ("company", false),
        ("updated", true),
    ] {
        let order = if descending { "desc" } else { "asc" };
        let mut seen: Vec<String> = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..20 {
            let mut path = format!("/api/v1/leads?limit=2&sort={sort}&order={order}");
            if let Some(a) = &after {
                path.push_str(&format!("&after={a}"));
            }
            let page: Value = app.get(&path, &rep).await.json().await.unwrap();
            seen.extend(
                page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l["company_name"].as_str().unwrap().to_string()),
            );
            match page["next_cursor"].as_str() {
                Some(c) => after = Some(c.to_string()),
                None => break,
            }
        }
        let mut want = expected.clone();
        // Otherwise creation order: "Handed on" was also updated last.
        if sort == "company" {
            want.sort_by_key(|n| n.to_lowercase());
        }
        if descending {
            want.reverse();
        }
        assert_eq!(seen, want, "sort={sort} order={order}");
    }
}

#[tokio::test]
async fn list_pages_walk_one_index_range_that_stops_at_the_limit() {
    let app = TestApp::spawn().await;
    for (sort, cmp, dir) in [
        ("sort_created", ">", "ASC"),
        ("sort_created", "<", "DESC"),
        ("sort_updated", "<", "DESC"),
        ("sort_company", ">", "ASC"),
        ("sort_score", "<", "DESC"),
    ] {
        for who in ["", "owner = 'u' AND ", "created_by = 'u' AND "] {
            let sql = format!(
                "SELECT * FROM lead WHERE live = true AND {who}{sort} {cmp} $after ORDER BY {sort} {dir} LIMIT 50 EXPLAIN"
            );
            let plan = app
                .ctx()
                .store
                .run(&sql, json!({"after": "m"}))
                .await
                .unwrap();
            let text = plan.value(0).to_string();
            // One IndexScan carrying the limit, nothing filtering after it.
            assert!(text.contains("IndexScan"), "{sql}: {text}");
            assert!(text.contains("\"limit\":\"50\""), "{sql}: {text}");
            assert!(!text.contains("Filter"), "{sql}: {text}");
        }
    }
}

#[tokio::test]
async fn a_caller_manages_their_own_leads_and_no_one_elses() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (caller_id, caller) = app.user_with_role(&admin, "cleo", "caller").await;
    let mine = create(
        &app,
        &admin,
        json!({"company_name": "Dialtone", "owner": caller_id,
               "contacts": [{"name": "Dee", "phone": "+49 30 1234567"}]}),
    )
    .await;
    let mine = mine["lead"]["id"].as_str().unwrap().to_string();
    let theirs = app.create_lead(&admin, "Elsewhere GmbH").await;

    // A contact added and a phone number corrected on their own lead.
    let added = app
        .post(
            &format!("/api/v1/leads/{mine}/contacts"),
            &caller,
            json!({"name": "Ravi", "email": "ravi@dialtone.example"}),
        )
        .await;
    assert_eq!(added.status(), StatusCode::OK);
    let contacts: Value = app
        .get(&format!("/api/v1/leads/{mine}/contacts"), &caller)
        .await
        .json()
        .await
        .unwrap();
    let dee = contacts
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Dee")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let fixed = app
        .patch(
            &format!("/api/v1/leads/{mine}/contacts/{dee}"),
            &caller,
            json!({"phone": "+49 30 7654321"}),
        )
        .await;
    assert_eq!(fixed.status(), StatusCode::OK, "{:?}", fixed.text().await);

    // Someone else's lead stays out of reach.
    let (status, _, _) = error_of(
        app.post(
            &format!("/api/v1/leads/{theirs}/contacts"),
            &caller,
            json!({"name": "Intruder"}),
        )
        .await,
    )
    .await;
    assert!(
        status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN,
        "{status}"
    );
    let (status, _, _) = error_of(
        app.patch(
            &format!("/api/v1/leads/{theirs}"),
            &caller,
            json!({"industry": "Telecom"}),
        )
        .await,
    )
    .await;
    assert!(
        status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN,
        "{status}"
    );
}

#[tokio::test]
async fn the_list_the_count_and_the_export_take_the_same_filters() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    create(
        &app,
        &admin,
        json!({"company_name": "Early Fair Ltd", "tags": ["fair"]}),
    )
    .await;
    let cut = app.clock_now() + chrono::Duration::hours(1);
    app.clock.advance(chrono::Duration::hours(2));
    create(
        &app,
        &admin,
        json!({"company_name": "Late Fair Ltd", "tags": ["fair"]}),
    )
    .await;
    create(&app, &admin, json!({"company_name": "Late Web Ltd"})).await;
    let cut = cut.format("%Y-%m-%dT%H:%M:%SZ");

    for (query, expected) in [
        (format!("created_from={cut}&tag=fair"), "Late Fair Ltd"),
        (format!("created_to={cut}"), "Early Fair Ltd"),
    ] {
        let list: Value = app
            .get(&format!("/api/v1/leads?{query}"), &admin)
            .await
            .json()
            .await
            .unwrap();
        let names: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|l| l["company_name"].as_str())
            .collect();
        assert_eq!(names, [expected], "list ?{query}");

        let count: Value = app
            .get(&format!("/api/v1/leads/count?{query}"), &admin)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(count["count"], 1, "count ?{query}");

        let export = app
            .get(&format!("/api/v1/leads/export?{query}"), &admin)
            .await;
        assert_eq!(export.status(), StatusCode::OK, "export ?{query}");
        let csv = export.text().await.unwrap();
        assert_eq!(csv.lines().count(), 2, "a header and one lead: {csv}");
        assert!(csv.contains(expected), "export ?{query}: {csv}");
    }

    // A value that does not parse is refused alike, with the error body.
    for path in [
        "/api/v1/leads",
        "/api/v1/leads/count",
        "/api/v1/leads/export",
    ] {
        let (status, code, message) = error_of(
            app.get(&format!("{path}?created_from=yesterday"), &admin)
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(code, "bad_request", "{path}");
        assert!(message.contains("created_from"), "{path}: {message}");
    }
}

/// The panel shows one filter for the list, its count and its export: a
/// created range, a minimum score and a follow-up view narrow all three alike.
#[tokio::test]
async fn count_and_export_take_the_same_filters_as_the_list() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    for company in ["Old One", "Old Two", "Old Three"] {
        app.create_lead(&admin, company).await;
    }
    app.clock.advance(chrono::Duration::days(3));
    let since = (app.clock_now() - chrono::Duration::minutes(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let admin = app.admin_token().await;
    for company in ["New One", "New Two"] {
        app.create_lead(&admin, company).await;
    }
    let filter = format!("created_from={since}");
    let listed: Value =
        crate::helpers::ok(app.get(&format!("/api/v1/leads?{filter}"), &admin).await).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    let counted: Value = crate::helpers::ok(
        app.get(&format!("/api/v1/leads/count?{filter}"), &admin)
            .await,
    )
    .await;
    assert_eq!(counted["count"], 2, "the count follows the created range");
    let before: Value = crate::helpers::ok(
        app.get(&format!("/api/v1/leads/count?created_to={since}"), &admin)
            .await,
    )
    .await;
    assert_eq!(before["count"], 3);

    let csv = app
        .get(&format!("/api/v1/leads/export?{filter}"), &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(csv.contains("New One") && csv.contains("New Two"), "{csv}");
    assert!(
        !csv.contains("Old One"),
        "the export follows the created range: {csv}"
    );
    let none = app
        .get("/api/v1/leads/export?score_min=100", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !none.contains("New One"),
        "the export follows the score: {none}"
    );
    let (status, code, _) = error_of(
        app.get("/api/v1/leads/export?follow_up_due=someday", &admin)
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
    );
}

/// The names of `items`, in order.
fn names_of(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|l| l["company_name"].as_str().unwrap().to_string())
        .collect()
}

/// Creates a lead per name as the user behind `token`, duplicates allowed.
async fn leads_named(app: &TestApp, token: &str, names: &[String]) {
    for name in names {
        create(
            app,
            token,
            json!({"company_name": name, "allow_duplicate": true}),
        )
        .await;
    }
}

/// The leads of `query` as pages of `limit` give them, and the names of the
/// whole list (without `q`) in the same order that hold `word`.
async fn search_and_expect(
    app: &TestApp,
    token: &str,
    order: &str,
    query: &str,
    word: &str,
    limit: usize,
) -> (Vec<String>, Vec<String>) {
    let whole = app
        .all_items(token, &format!("/api/v1/leads?{order}"))
        .await;
    let expected: Vec<String> = names_of(&whole)
        .into_iter()
        .filter(|n| n.to_lowercase().contains(word))
        .collect();
    let (items, _) = app
        .walk_whole_pages(token, &format!("/api/v1/leads?{order}&{query}"), limit)
        .await;
    (names_of(&items), expected)
}

const ORDERS: [&str; 5] = [
    "sort=created&order=desc",
    "sort=created&order=asc",
    "sort=company&order=asc",
    "sort=updated&order=desc",
    "sort=score&order=desc",
];

#[tokio::test]
async fn a_search_page_walks_the_sort_index_range_in_bounded_steps_not_the_full_text_index() {
    use ea_crm::domain::crm::query::{search_step_statement, SortKey};
    let app = TestApp::spawn().await;
    for (sort, descending, index) in [
        (SortKey::Created, true, "created"),
        (SortKey::Created, false, "created"),
        (SortKey::Updated, true, "updated"),
        (SortKey::Company, false, "company"),
        (SortKey::Score, true, "score"),
    ] {
        for (who, prefix) in [
            (None, "lead_live_"),
            (Some("owner = $scope_user"), "lead_owner_live_"),
            (Some("created_by = $scope_user"), "lead_created_by_live_"),
        ] {
            let sql = format!("{} EXPLAIN", search_step_statement(sort, descending, who));
            let plan = app
                .ctx()
                .store
                .run(
                    &sql,
                    json!({"after": "m", "step": 64, "scope_user": "u",
                           "f_w0": "holdings", "f_terms": ["holdings"]}),
                )
                .await
                .unwrap();
            let text = plan.value(0).to_string();
            // One range of the sort index, which the step's LIMIT stops;
            // the search is a test of each lead read, not an index scan.
            assert!(text.contains("IndexScan"), "{sql}: {text}");
            assert!(text.contains(&format!("{prefix}{index}")), "{sql}: {text}");
            assert!(text.contains("\"limit\":\"$step\""), "{sql}: {text}");
            assert!(!text.contains("FullText"), "{sql}: {text}");
            assert!(!text.contains("Sort"), "{sql}: {text}");
        }
    }
}

#[tokio::test]
async fn a_common_word_pages_through_every_match_once_in_order_in_every_sort_and_scope() {
    // A budget of a few leads, so the walks run out, step and merge here as
    // they would over a large table.
    let app = TestApp::spawn_with(|c| c.search_walk_budget = 12).await;
    let admin = app.admin_token().await;
    // Scores written behind the test would reorder the lists between reads.
    app.switch_feature(&admin, "lead_scoring", false).await;
    let (_, rep) = app.user_with_role(&admin, "rep_search", "user").await;
    let mut names = Vec::new();
    for i in 0..40 {
        names.push(if i % 5 == 2 {
            format!("Plain Trading {i}")
        } else {
            format!("Northwind {i} Holdings")
        });
    }
    leads_named(&app, &admin, &names[..24]).await;
    leads_named(&app, &rep, &names[24..]).await;
    let trashed = app.create_lead(&admin, "Trashed Holdings").await;
    let deleted = app
        .request(
            reqwest::Method::DELETE,
            &format!("/api/v1/leads/{trashed}"),
            Some(&admin),
        )
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());

    for order in ORDERS {
        for limit in [1, 5, 50] {
            let (found, expected) =
                search_and_expect(&app, &admin, order, "q=holdings", "holdings", limit).await;
            assert_eq!(expected.len(), 32, "{order}");
            assert_eq!(found, expected, "{order}, pages of {limit}");
            let (found, expected) =
                search_and_expect(&app, &rep, order, "q=holdings", "holdings", limit).await;
            assert_eq!(expected.len(), 13, "{order}: the rep's own");
            assert_eq!(found, expected, "{order}, the rep's pages of {limit}");
        }
    }
    // A page that finds a page's worth is full and says more follow.
    let first = crate::helpers::ok(app.get("/api/v1/leads?q=holdings&limit=5", &admin).await).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 5, "{first}");
    assert!(first["next_cursor"].is_string(), "{first}");
}

#[tokio::test]
async fn a_rare_word_is_found_at_once_and_one_in_between_in_pages_that_may_be_short() {
    // Budget 8: a word with at most 2 full-text hits is rare.
    let app = TestApp::spawn_with(|c| c.search_walk_budget = 8).await;
    let admin = app.admin_token().await;
    app.switch_feature(&admin, "lead_scoring", false).await;
    let mut names = Vec::new();
    for i in 0..36 {
        names.push(match i {
            3 => "Zebrafish Labs".to_string(),
            i if i % 7 == 5 => format!("Medium Works {i}"),
            i => format!("Filler {i} Ltd"),
        });
    }
    leads_named(&app, &admin, &names).await;

    for order in ORDERS {
        // Far fewer matches than a walk can pass over: straight from the
        // full-text index, in one page.
        let page = crate::helpers::ok(
            app.get(&format!("/api/v1/leads?{order}&q=zebra&limit=5"), &admin)
                .await,
        )
        .await;
        assert_eq!(
            names_of(page["items"].as_array().unwrap()),
            ["Zebrafish Labs"],
            "{order}"
        );
        assert!(page.get("next_cursor").is_none(), "{order}: {page}");

        // Too many hits to count as rare, too few to fill a page within the
        // budget: short pages, each match once and in order all the same.
        let (found, expected) =
            search_and_expect(&app, &admin, order, "q=medium", "medium", 5).await;
        assert_eq!(expected.len(), 5, "{order}");
        assert_eq!(found, expected, "{order}");
        let (_, pages) = app
            .walk_whole_pages(&admin, &format!("/api/v1/leads?{order}&q=medium"), 5)
            .await;
        assert!(pages > 1, "{order}: the walk stopped short and said where");
    }

    // The count and the export hold the same leads as the list.
    let count = crate::helpers::ok(app.get("/api/v1/leads/count?q=medium", &admin).await).await;
    assert_eq!(count["count"], 5);
    let csv = app
        .get("/api/v1/leads/export?q=medium", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 6, "a header and five leads: {csv}");
    assert!(!csv.contains("Filler"), "{csv}");
}

#[tokio::test]
async fn a_search_word_matches_the_start_of_a_word_walking_or_through_the_index_alike() {
    // Budget 1: every search runs out at once and reads the full-text index.
    for budget in [2000, 1] {
        let app = TestApp::spawn_with(|c| c.search_walk_budget = budget).await;
        let admin = app.admin_token().await;
        let lead = create(
            &app,
            &admin,
            json!({"company_name": "Globex Corporation", "website": "globex-industries.com",
                   "contacts": [{"name": "Hank Scorpio", "email": "hank@volcano.example"}]}),
        )
        .await;
        create(&app, &admin, json!({"company_name": "Initech"})).await;
        let globex = lead["lead"]["company_name"].as_str().unwrap();
        for (q, found) in [
            ("glob", true),
            ("GLOBEX corp", true),
            ("hank volcano", true),
            ("industries", true),
            ("obex", false),
            ("rporation", false),
            ("globex initech", false),
            ("a", false),
        ] {
            let page =
                crate::helpers::ok(app.get(&format!("/api/v1/leads?q={q}"), &admin).await).await;
            let names = names_of(page["items"].as_array().unwrap());
            let want: Vec<String> = if found { vec![globex.into()] } else { vec![] };
            assert_eq!(names, want, "budget {budget}: q={q}");
            let count =
                crate::helpers::ok(app.get(&format!("/api/v1/leads/count?q={q}"), &admin).await)
                    .await;
            assert_eq!(count["count"], want.len(), "budget {budget}: count q={q}");
        }
    }
}
