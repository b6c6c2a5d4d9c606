//! Every webhook topic, caused for real and received, with each body held to
//! the schema its callback documents: no field the document leaves out, none
//! it requires missing, every value of its documented type, nothing `null`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ea_crm::domain::webhooks::WEBHOOK_TOPICS;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{multipart, ok, TestApp};
use crate::schema_check::conform;
use crate::webhooks;

#[tokio::test]
async fn every_topic_is_delivered_exactly_as_its_callback_documents() {
    let app = TestApp::spawn_with(webhooks::fast).await;
    let admin = app.admin_token().await;
    let spec = app.openapi().await;
    let receiver = webhooks::Receiver::start(0).await;
    let (hook, _) = webhooks::register(&app, &admin, &receiver.url, json!(["*"])).await;
    let (rep, _) = app.user_with_role(&admin, "webb", "user").await;

    // The lead family.
    let created = ok(app
        .post(
            "/api/v1/leads",
            &admin,
            json!({"company_name": "Payload Schema GmbH", "website": "https://payload-schema.example",
                   "contacts": [{"name": "Paula Load", "email": "paula@payload-schema.example"}]}),
        )
        .await)
    .await;
    let lead = created["lead"]["id"].as_str().unwrap().to_string();
    let leads = format!("/api/v1/leads/{lead}");
    ok(app
        .patch(
            &leads,
            &admin,
            json!({"industry": "Robotics", "status": "contacted"}),
        )
        .await)
    .await;
    ok(app
        .post(&format!("{leads}/assign"), &admin, json!({"owner": rep}))
        .await)
    .await;
    let contact = ok(app
        .post(
            &format!("{leads}/contacts"),
            &admin,
            json!({"name": "Carl Contact", "phone": "+49 30 1234567"}),
        )
        .await)
    .await;
    let contact = contact["id"].as_str().unwrap().to_string();
    let contacts = format!("{leads}/contacts/{contact}");
    ok(app
        .patch(&contacts, &admin, json!({"position": "CTO"}))
        .await)
    .await;
    ok(app
        .post(&format!("{contacts}/erase"), &admin, json!({}))
        .await)
    .await;
    let other = ok(app
        .post(
            &format!("{leads}/contacts"),
            &admin,
            json!({"name": "Dora Gone"}),
        )
        .await)
    .await;
    ok(app
        .delete(
            &format!("{leads}/contacts/{}", other["id"].as_str().unwrap()),
            &admin,
        )
        .await)
    .await;
    ok(app
        .put_json(
            &format!("{leads}/follow-ups/1"),
            &admin,
            json!({"outcome": "done", "notes": "Intro"}),
        )
        .await)
    .await;
    ok(app
        .post(
            &format!("{leads}/calls"),
            &admin,
            json!({"outcome": "connected", "duration_seconds": 60}),
        )
        .await)
    .await;
    let note = app.add_note(&admin, &lead, "Wants a demo").await;
    let notes = format!("{leads}/notes/{}", note["id"].as_str().unwrap());
    ok(app
        .patch(&notes, &admin, json!({"text": "Wants a demo in May"}))
        .await)
    .await;
    ok(app.delete(&notes, &admin).await).await;
    ok(app.delete(&leads, &admin).await).await;
    ok(app
        .post(&format!("{leads}/restore"), &admin, json!({}))
        .await)
    .await;
    ok(app.delete(&leads, &admin).await).await;
    ok(app.delete(&format!("{leads}/purge"), &admin).await).await;
    let imported = app
        .request(
            reqwest::Method::POST,
            "/api/v1/leads/import?wait=true",
            Some(&admin),
        )
        .header("content-type", "text/csv")
        .body("company_name,website\nImported Payload AG,https://imported-payload.example\n")
        .send()
        .await
        .unwrap();
    assert_eq!(
        imported.status(),
        StatusCode::OK,
        "{}",
        imported.text().await.unwrap()
    );

    // The task family.
    let task = ok(app
        .post(
            "/api/v1/tasks",
            &admin,
            json!({"title": "Ship the payload", "task_type": "design", "assignee": rep}),
        )
        .await)
    .await;
    let task = task["id"].as_str().unwrap().to_string();
    let tasks = format!("/api/v1/tasks/{task}");
    ok(app.patch(&tasks, &admin, json!({"priority": "high"})).await).await;
    ok(app
        .post(
            &format!("{tasks}/comments"),
            &admin,
            json!({"body": "On it"}),
        )
        .await)
    .await;
    let (content_type, body) = multipart(&[], "brief.txt", b"the brief");
    let file = ok(app
        .post_file(&format!("{tasks}/files"), &admin, &content_type, body)
        .await)
    .await;
    ok(app
        .delete(
            &format!("{tasks}/files/{}", file["id"].as_str().unwrap()),
            &admin,
        )
        .await)
    .await;
    ok(app
        .post(&format!("/api/v1/webhooks/{hook}/test"), &admin, json!({}))
        .await)
    .await;

    // Every topic of the catalogue arrives.
    let wanted: BTreeSet<&str> = WEBHOOK_TOPICS.iter().map(|(t, _)| *t).collect();
    let mut bodies: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for _ in 0..200 {
        bodies.clear();
        for hit in receiver.hits() {
            let body = hit.json();
            bodies
                .entry(body["topic"].as_str().unwrap().to_string())
                .or_default()
                .push(body);
        }
        if wanted.iter().all(|t| bodies.contains_key(*t)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let missing: Vec<_> = wanted
        .iter()
        .filter(|t| !bodies.contains_key(**t))
        .collect();
    assert!(missing.is_empty(), "never delivered: {missing:?}");

    for (topic, sent) in &bodies {
        let callback =
            &spec["paths"]["/webhooks"]["post"]["callbacks"][topic]["{$request.body#/url}"]["post"];
        let schema = &callback["requestBody"]["content"]["application/json"]["schema"];
        assert!(schema.is_object(), "{topic} has no documented body");
        for body in sent {
            let mut problems = Vec::new();
            conform(&spec, schema, body, "$", &mut problems);
            assert!(problems.is_empty(), "{topic}: {problems:#?}\n{body:#}");
        }
    }
}
