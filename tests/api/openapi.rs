use std::collections::BTreeMap;

use ea_crm::domain::webhooks::WEBHOOK_TOPICS;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{ok, TestApp};
use crate::schema_check::conform;
use crate::webhooks;

#[tokio::test]
async fn the_openapi_document_lists_every_operation_with_its_security_schemes() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let spec: Value = response.json().await.unwrap();
    assert_eq!(spec["servers"][0]["url"], "/api/v1");
    let schemes = spec["components"]["securitySchemes"].as_object().unwrap();
    assert_eq!(schemes["BearerAuth"]["scheme"], "bearer");
    assert_eq!(schemes["CookieAuth"]["in"], "cookie");

    let mut operations = Vec::new();
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            operations.push(format!("{} {path}", method.to_uppercase()));
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{method} {path} has a tag"
            );
            if path == "/auth/login" {
                assert!(op.get("security").is_none(), "login is public");
                continue;
            }
            let security = op["security"].to_string();
            assert!(
                security.contains("BearerAuth") && security.contains("CookieAuth"),
                "{method} {path}: {security}"
            );
        }
    }
    operations.sort();
    // Every operation the areas promise; a new operation must be added here.
    let mut expected = [
        "GET /ai/duplicates",
        "GET /ai/leads/{id}/score",
        "GET /ai/leads/{id}/duplicates",
        "GET /ai/fit",
        "POST /ai/fit/train",
        "GET /ai/leads/{id}/relations",
        "POST /ai/leads/{id}/relations",
        "GET /ai/patterns",
        "GET /ai/status",
        "POST /ai/duplicates/merge",
        "POST /ai/intent",
        "POST /ai/leads/{id}/draft",
        "POST /ai/scores/recompute",
        "DELETE /api-keys/{id}",
        "DELETE /messages/{id}",
        "DELETE /messages/{id}/pin",
        "GET /files/{id}",
        "GET /files/{id}/thumbnail",
        "GET /notifications",
        "GET /notifications/unread-count",
        "GET /reminders",
        "DELETE /reminders/{id}",
        "GET /messages/search",
        "PUT /rooms/{id}/read",
        "DELETE /rooms/{id}/members/{user}",
        "GET /rooms",
        "GET /rooms/{id}",
        "GET /rooms/{id}/members",
        "GET /rooms/{id}/messages",
        "GET /rooms/{id}/pins",
        "PATCH /messages/{id}",
        "POST /messages/{id}/pin",
        "POST /messages/{id}/actions/{key}",
        "POST /messages/{id}/reactions",
        "POST /notifications/read",
        "POST /reminders",
        "POST /rooms",
        "POST /rooms/{id}/files",
        "POST /rooms/{id}/join",
        "POST /rooms/{id}/members",
        "POST /rooms/{id}/messages",
        "POST /ws/ticket",
        "DELETE /roles/{key}",
        "DELETE /users/{id}",
        "DELETE /webhooks/{id}",
        "GET /api-keys",
        "GET /auth/me",
        "GET /bots/status",
        "GET /bridges",
        "POST /bridges",
        "DELETE /bridges/{id}",
        "POST /me/link-code",
        "GET /me/links",
        "DELETE /me/links/{id}",
        "GET /users/{id}/links",
        "DELETE /users/{id}/links/{link_id}",
        "PUT /me/digest",
        "GET /me/digest",
        "GET /permissions",
        "GET /roles",
        "GET /roles/matrix",
        "GET /roles/{key}",
        "GET /users",
        "GET /users/{id}",
        "GET /webhooks",
        "GET /webhooks/topics",
        "GET /webhooks/{id}",
        "GET /webhooks/{id}/deliveries",
        "PATCH /roles/{key}",
        "PATCH /users/{id}",
        "PATCH /webhooks/{id}",
        "POST /api-keys",
        "POST /auth/login",
        "POST /auth/logout",
        "POST /auth/password",
        "GET /auth/2fa",
        "POST /auth/2fa/setup",
        "POST /auth/2fa/confirm",
        "POST /auth/2fa/recovery-codes",
        "POST /auth/2fa/disable",
        "DELETE /users/{id}/2fa",
        "POST /roles",
        "POST /users",
        "POST /users/{id}/deactivate",
        "GET /analytics/funnel",
        "GET /analytics/workload",
        "GET /analytics/leads",
        "GET /analytics/follow-ups",
        "GET /analytics/tasks",
        "GET /analytics/chat",
        "GET /analytics/first-contact",
        "GET /analytics/responses",
        "GET /tasks",
        "POST /tasks",
        "GET /tasks/board",
        "GET /tasks/suggest-assignee",
        "GET /tasks/statuses",
        "POST /tasks/statuses",
        "GET /tasks/{id}",
        "PATCH /tasks/{id}",
        "GET /tasks/{id}/history",
        "GET /tasks/{id}/comments",
        "POST /tasks/{id}/comments",
        "GET /tasks/{id}/files",
        "POST /tasks/{id}/files",
        "GET /tasks/{id}/files/{file_id}",
        "DELETE /tasks/{id}/files/{file_id}",
        "GET /tasks/{id}/files/{file_id}/thumbnail",
        "GET /leads",
        "GET /leads/count",
        "GET /leads/duplicates",
        "POST /leads",
        "GET /leads/{id}",
        "PATCH /leads/{id}",
        "DELETE /leads/{id}",
        "POST /leads/{id}/restore",
        "DELETE /leads/{id}/purge",
        "DELETE /leads/trash",
        "POST /leads/{id}/contacts/{contact_id}/erase",
        "POST /leads/{id}/assign",
        "GET /leads/{id}/contacts",
        "POST /leads/{id}/contacts",
        "PATCH /leads/{id}/contacts/{contact_id}",
        "DELETE /leads/{id}/contacts/{contact_id}",
        "GET /leads/{id}/follow-ups",
        "PUT /leads/{id}/follow-ups/{tier}",
        "GET /leads/{id}/calls",
        "POST /leads/{id}/calls",
        "GET /leads/{id}/notes",
        "POST /leads/{id}/notes",
        "PATCH /leads/{id}/notes/{note_id}",
        "DELETE /leads/{id}/notes/{note_id}",
        "GET /follow-ups/due",
        "GET /calls/queue",
        "GET /pipeline/statuses",
        "POST /pipeline/statuses",
        "PATCH /pipeline/statuses/{key}",
        "DELETE /pipeline/statuses/{key}",
        "GET /settings/after-third-follow-up",
        "PUT /settings/after-third-follow-up",
        "GET /settings/lead-assignment",
        "PUT /settings/lead-assignment",
        "GET /settings/trash-retention",
        "PUT /settings/trash-retention",
        "GET /geo/countries",
        "GET /geo/countries/{code}/subdivisions",
        "GET /geo/countries/{code}/timezones",
        "GET /geo/timezones",
        "POST /leads/import",
        "POST /leads/import/columns",
        "GET /leads/imports",
        "GET /leads/imports/{id}",
        "POST /leads/imports/{id}/undo",
        "POST /leads/bulk",
        "GET /leads/export",
        "GET /leads/{id}/timeline",
        "GET /audit",
        "GET /audit/export",
        "PATCH /auth/me",
        "GET /auth/sessions",
        "DELETE /auth/sessions/others",
        "DELETE /auth/sessions/{id}",
        "GET /maintenance",
        "GET /me/notification-settings",
        "PUT /me/notification-settings",
        "PUT /maintenance",
        "GET /features",
        "PUT /features/{key}",
        "POST /webhooks",
        "POST /webhooks/{id}/rotate-secret",
        "POST /webhooks/{id}/test",
    ];
    expected.sort();

    assert_eq!(operations, expected);
}

#[tokio::test]
async fn swagger_ui_is_served_at_docs() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    assert!(page.to_lowercase().contains("swagger"));
    assert!(
        page.contains("\"callbacks\"") && page.contains("X-EA-Signature"),
        "the page shows the served document, webhooks included"
    );
}

#[tokio::test]
async fn every_operation_documents_its_error_answers_with_the_one_error_body() {
    let app = TestApp::spawn().await;
    let spec: Value = app.openapi().await;
    let detail = &spec["components"]["schemas"]["ErrorDetail"];
    assert!(
        detail["properties"]["code"]
            .to_string()
            .contains("#/components/schemas/ErrorCode"),
        "{detail}"
    );
    let codes: Vec<&str> = spec["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("error codes are enumerated")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for code in [
        "bad_request",
        "invalid",
        "unauthenticated",
        "bad_credentials",
        "forbidden",
        "csrf",
        "not_found",
        "conflict",
        "payload_too_large",
        "rate_limited",
        "busy",
        "internal",
    ] {
        assert!(codes.contains(&code), "{code} in {codes:?}");
    }
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            for status in [
                "400", "401", "403", "404", "409", "413", "422", "429", "503",
            ] {
                let answer = responses
                    .get(status)
                    .unwrap_or_else(|| panic!("{method} {path} does not document {status}"));
                let schema =
                    answer["content"]["application/json; charset=utf-8"]["schema"]["$ref"].as_str();
                assert_eq!(
                    schema,
                    Some("#/components/schemas/ErrorBody"),
                    "{method} {path} {status}: {answer}"
                );
            }
            for status in ["429", "503"] {
                assert_eq!(
                    responses[status]["headers"]["Retry-After"]["schema"]["type"], "integer",
                    "{method} {path} {status} documents Retry-After"
                );
            }
        }
    }

    // What the service really sends matches: a code from the list, the
    // documented header.
    let unknown = app
        .get("/api/v1/leads/no-such-lead", &app.admin_token().await)
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let body: Value = unknown.json().await.unwrap();
    assert!(codes.contains(&body["error"]["code"].as_str().unwrap()));
}

#[tokio::test]
async fn every_answer_of_every_operation_documents_the_rate_limit_headers() {
    let app = TestApp::spawn().await;
    let spec: Value = app.openapi().await;
    let declared = &spec["components"]["headers"];
    for name in [
        "RateLimit-Limit",
        "RateLimit-Remaining",
        "RateLimit-Reset",
        "Retry-After",
    ] {
        assert_eq!(declared[name]["schema"]["type"], "integer", "{name}");
        assert_eq!(declared[name]["required"], true, "{name}");
    }
    let header = |answer: &Value, name: &str| -> Value {
        let header = &answer["headers"][name];
        match header["$ref"].as_str() {
            Some(target) => {
                let name = target.strip_prefix("#/components/headers/").unwrap();
                declared[name].clone()
            }
            None => header.clone(),
        }
    };
    let mut answers = 0;
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            for (status, answer) in op["responses"].as_object().unwrap() {
                answers += 1;
                for name in ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"] {
                    assert_eq!(
                        header(answer, name)["schema"]["type"],
                        "integer",
                        "{method} {path} {status} documents {name}"
                    );
                }
                if status == "429" {
                    assert_eq!(
                        header(answer, "Retry-After")["schema"]["type"],
                        "integer",
                        "{method} {path} 429 documents Retry-After"
                    );
                }
            }
        }
    }
    assert!(answers > 1000, "{answers}");
}

/// The request a webhook endpoint receives for `topic`, as documented.
fn webhook_callback<'a>(spec: &'a Value, topic: &str) -> &'a Value {
    &spec["paths"]["/webhooks"]["post"]["callbacks"][topic]["{$request.body#/url}"]["post"]
}

/// The headers a webhook request carries, as documented: name to
/// parameter (a shared one through its `$ref`).
fn webhook_headers<'a>(spec: &'a Value, callback: &'a Value) -> BTreeMap<String, &'a Value> {
    callback["parameters"]
        .as_array()
        .expect("a callback lists its headers")
        .iter()
        .map(|p| match p["$ref"].as_str() {
            Some(reference) => {
                let name = reference.trim_start_matches("#/components/parameters/");
                &spec["components"]["parameters"][name]
            }
            None => p,
        })
        .filter(|p| p["in"] == "header")
        .map(|p| (p["name"].as_str().unwrap().to_ascii_lowercase(), p))
        .collect()
}

#[tokio::test]
async fn the_document_holds_a_callback_for_every_webhook_topic_with_its_signature_header() {
    let app = TestApp::spawn().await;
    let spec: Value = app.openapi().await;
    let callbacks = spec["paths"]["/webhooks"]["post"]["callbacks"]
        .as_object()
        .expect("POST /webhooks documents its callbacks");
    let listed: Value = app
        .get("/api/v1/webhooks/topics", &app.admin_token().await)
        .await
        .json()
        .await
        .unwrap();
    let mut topics: Vec<&str> = WEBHOOK_TOPICS.iter().map(|(t, _)| *t).collect();
    topics.sort();
    let mut served: Vec<&str> = listed
        .as_array()
        .expect("a topic list")
        .iter()
        .filter_map(|t| t["topic"].as_str())
        .collect();
    served.sort();
    assert_eq!(served, topics, "GET /webhooks/topics lists the catalogue");
    assert_eq!(
        callbacks.keys().map(String::as_str).collect::<Vec<_>>(),
        topics,
        "one callback a topic"
    );
    let envelope = &spec["components"]["schemas"]["WebhookEvent"];
    let enumerated: Vec<&str> = envelope["properties"]["topic"]["enum"]
        .as_array()
        .expect("the envelope enumerates its topics")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for topic in &topics {
        assert!(enumerated.contains(topic), "{topic} in {enumerated:?}");
        let callback = webhook_callback(&spec, topic);
        let headers = webhook_headers(&spec, callback);
        let signature = headers
            .get("x-ea-signature")
            .unwrap_or_else(|| panic!("{topic} documents X-EA-Signature"));
        assert_eq!(signature["required"], true);
        let how = signature["description"].as_str().unwrap_or_default();
        assert!(
            how.contains("HMAC-SHA256") && how.contains("X-EA-Timestamp"),
            "{topic}: the signature says how to check it: {how}"
        );
        assert_eq!(headers["x-ea-event"]["schema"]["enum"], json!([topic]));
        let body = &callback["requestBody"]["content"]["application/json"]["schema"];
        assert_eq!(
            body["allOf"][0]["$ref"], "#/components/schemas/WebhookEvent",
            "{topic}: {body}"
        );
        assert!(callback["responses"]["2XX"].is_object(), "{topic}");
    }
}

#[tokio::test]
async fn a_real_webhook_delivery_carries_exactly_the_headers_and_fields_the_document_names() {
    let app = TestApp::spawn_with(webhooks::fast).await;
    let admin = app.admin_token().await;
    let spec: Value = app.openapi().await;
    let receiver = webhooks::Receiver::start(0).await;
    let (id, secret) =
        webhooks::register(&app, &admin, &receiver.url, json!(["lead.created"])).await;
    app.create_lead(&admin, "Documented Delivery Ltd").await;
    let tested = app
        .post(&format!("/api/v1/webhooks/{id}/test"), &admin, json!({}))
        .await;
    assert_eq!(tested.status(), StatusCode::OK);
    let hits = receiver.wait_for(2).await;

    let envelope = &spec["components"]["schemas"]["WebhookEvent"];
    let mut fields: Vec<&str> = envelope["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort();
    let mut required: Vec<&str> = envelope["required"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    required.sort();
    assert_eq!(required, fields, "every field is always sent");

    let mut seen_topics = Vec::new();
    for hit in &hits {
        let body = hit.json();
        let topic = body["topic"].as_str().expect("a topic").to_string();
        let callback = webhook_callback(&spec, &topic);
        assert!(callback.is_object(), "{topic} is documented");

        // The headers the document names, no more and no fewer of ours.
        let documented: Vec<String> = webhook_headers(&spec, callback).into_keys().collect();
        let mut sent: Vec<String> = hit
            .headers
            .iter()
            .map(|(name, _)| name.clone())
            .filter(|name| name.starts_with("x-ea-"))
            .collect();
        sent.sort();
        assert_eq!(sent, documented, "{topic}");
        let content_type = hit
            .headers
            .iter()
            .find(|(name, _)| name == "content-type")
            .map(|(_, value)| value.as_str());
        let documented_type = callback["requestBody"]["content"]
            .as_object()
            .unwrap()
            .keys()
            .next()
            .cloned();
        assert_eq!(content_type, documented_type.as_deref(), "{topic}");

        // Their values as described.
        assert_eq!(hit.event, topic);
        assert!(hit.timestamp.parse::<i64>().is_ok(), "{}", hit.timestamp);
        assert!(!hit.delivery.is_empty());
        assert_eq!(
            hit.signature,
            webhooks::expected_signature(&secret, &hit.timestamp, &hit.body),
            "signed as the document says"
        );

        // The body's fields, exactly the envelope's, typed as documented.
        let mut keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort();
        assert_eq!(keys, fields, "{topic}: {body}");
        assert!(body["id"].is_string() && body["data"].is_object(), "{body}");
        let at = body["created_at"].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(at).is_ok(), "{at}");
        seen_topics.push(topic);
    }
    seen_topics.sort();
    assert_eq!(seen_topics, ["lead.created", "webhook.test"]);
}

/// The query parameters an operation takes, by name.
fn query_params<'a>(spec: &'a Value, op: &str) -> BTreeMap<&'a str, &'a Value> {
    let (method, path) = op.split_once(' ').unwrap();
    spec["paths"][path][method]["parameters"]
        .as_array()
        .unwrap_or_else(|| panic!("{op} has parameters"))
        .iter()
        .filter(|p| p["in"] == "query")
        .map(|p| (p["name"].as_str().unwrap(), p))
        .collect()
}

#[tokio::test]
async fn the_shared_filters_are_the_same_documented_parameters_wherever_they_are_taken() {
    let app = TestApp::spawn().await;
    let spec: Value = app.openapi().await;
    let shared = [
        (
            ["get /leads", "get /leads/count", "get /leads/export"].as_slice(),
            [
                "status",
                "owner",
                "country",
                "state",
                "industry",
                "tag",
                "created_from",
                "created_to",
                "follow_up_due",
                "q",
                "deleted",
                "score_min",
            ]
            .as_slice(),
        ),
        (
            ["get /tasks", "get /tasks/board"].as_slice(),
            [
                "assignee",
                "lead",
                "priority",
                "task_type",
                "due",
                "soon_hours",
            ]
            .as_slice(),
        ),
    ];
    for (ops, filters) in shared {
        let first = query_params(&spec, ops[0]);
        for name in filters {
            let param = first
                .get(name)
                .unwrap_or_else(|| panic!("{} takes {name}", ops[0]));
            assert!(
                param["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{} {name} is described: {param}",
                ops[0]
            );
            assert_eq!(param["required"], false, "{name}");
            assert!(param["schema"]["type"].is_string(), "{name}: {param}");
            for op in &ops[1..] {
                assert_eq!(
                    query_params(&spec, op).get(name),
                    Some(param),
                    "{op} takes {name} as {} does",
                    ops[0]
                );
            }
        }
    }
    let mut lead_filters = shared[0].1.to_vec();
    lead_filters.sort();
    assert_eq!(
        query_params(&spec, "get /leads/count")
            .keys()
            .copied()
            .collect::<Vec<_>>(),
        lead_filters,
        "the count takes the filters and nothing else"
    );
    let typed = query_params(&spec, "get /leads");
    assert_eq!(typed["created_from"]["schema"]["format"], "date-time");
    assert_eq!(typed["deleted"]["schema"]["type"], "boolean");
    assert_eq!(typed["score_min"]["schema"]["type"], "integer");
}

/// The schema `schema` stands for, through `$ref`s and the `allOf` that
/// wraps a described `$ref`.
fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return resolve(spec, &spec["components"]["schemas"][name]);
    }
    if let Some(parts) = schema["allOf"].as_array() {
        if let Some(referenced) = parts.iter().find(|p| p.get("$ref").is_some()) {
            return resolve(spec, referenced);
        }
    }
    schema
}

/// Properties the schema declares that `value` sends as `null`.
fn nulls_against(spec: &Value, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
    let schema = resolve(spec, schema);
    match value {
        Value::Object(fields) => {
            let Some(declared) = schema["properties"].as_object() else {
                return;
            };
            for (name, field) in fields {
                let Some(field_schema) = declared.get(name) else {
                    continue;
                };
                let here = format!("{at}.{name}");
                if field.is_null() {
                    out.push(here);
                } else {
                    nulls_against(spec, field_schema, field, &here, out);
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                nulls_against(spec, &schema["items"], item, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn answers_leave_absent_values_out_instead_of_sending_null() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let spec: Value = app.openapi().await;
    // Records with most optional values unset.
    let lead = app.create_lead(&admin, "Bare Minimum Ltd").await;
    let task: Value = app
        .post(
            "/api/v1/tasks",
            &admin,
            serde_json::json!({"title": "Bare task", "task_type": "Print"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let task = task["id"].as_str().expect("a task").to_string();

    let mut checked = 0;
    let mut nulls = Vec::new();
    for (path, ops) in spec["paths"].as_object().unwrap() {
        let Some(op) = ops.get("get") else {
            continue;
        };
        let url = match path.as_str() {
            "/leads/{id}" => format!("/api/v1/leads/{lead}"),
            "/tasks/{id}" => format!("/api/v1/tasks/{task}"),
            p if p.contains('{') => continue,
            p => format!("/api/v1{p}"),
        };
        let response = app.get(&url, &admin).await;
        let is_json = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("application/json"));
        if !response.status().is_success() || !is_json {
            continue;
        }
        let body: Value = response.json().await.unwrap();
        let schema =
            &op["responses"]["200"]["content"]["application/json; charset=utf-8"]["schema"];
        nulls_against(&spec, schema, &body, &format!("GET {path}"), &mut nulls);
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} answers checked");
    assert!(nulls.is_empty(), "sent as null: {nulls:#?}");
}

#[tokio::test]
async fn every_request_example_fits_its_schema_and_the_service_takes_it() {
    let app = TestApp::spawn().await;
    let spec: Value = app.openapi().await;
    let mut bodies: BTreeMap<(String, String), Value> = BTreeMap::new();
    let mut parameters = 0;
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            for (media_type, body) in op["requestBody"]["content"]
                .as_object()
                .into_iter()
                .flatten()
            {
                let Some(example) = body.get("example") else {
                    continue;
                };
                let mut problems = Vec::new();
                conform(&spec, &body["schema"], example, "$", &mut problems);
                assert!(
                    problems.is_empty(),
                    "{method} {path} {media_type}: {problems:#?}"
                );
                bodies.insert((method.clone(), path.clone()), example.clone());
            }
            for parameter in op["parameters"].as_array().into_iter().flatten() {
                if let Some(example) = parameter.get("example") {
                    let mut problems = Vec::new();
                    conform(&spec, &parameter["schema"], example, "$", &mut problems);
                    assert!(
                        problems.is_empty(),
                        "{method} {path} {parameter}: {problems:#?}"
                    );
                    parameters += 1;
                }
            }
        }
    }
    for (method, path) in [
        ("post", "/leads"),
        ("patch", "/leads/{id}"),
        ("put", "/leads/{id}/follow-ups/{tier}"),
        ("post", "/leads/{id}/contacts"),
        ("post", "/tasks"),
        ("post", "/webhooks"),
        ("post", "/roles"),
        ("post", "/leads/bulk"),
        ("post", "/rooms/{id}/messages"),
    ] {
        assert!(
            bodies.contains_key(&(method.to_string(), path.to_string())),
            "{method} {path} has an example"
        );
    }
    assert!(parameters >= 2, "the import's options have examples");

    // Each example is a request the service takes as it is.
    let admin = app.admin_token().await;
    let example =
        |method: &str, path: &str| bodies[&(method.to_string(), path.to_string())].clone();
    let lead = ok(app
        .post("/api/v1/leads", &admin, example("post", "/leads"))
        .await)
    .await;
    assert_eq!(lead["contacts"].as_array().unwrap().len(), 2, "{lead}");
    let lead = lead["lead"]["id"].as_str().unwrap().to_string();
    ok(app
        .patch(
            &format!("/api/v1/leads/{lead}"),
            &admin,
            example("patch", "/leads/{id}"),
        )
        .await)
    .await;
    ok(app
        .put_json(
            &format!("/api/v1/leads/{lead}/follow-ups/1"),
            &admin,
            example("put", "/leads/{id}/follow-ups/{tier}"),
        )
        .await)
    .await;
    ok(app
        .post(
            &format!("/api/v1/leads/{lead}/contacts"),
            &admin,
            example("post", "/leads/{id}/contacts"),
        )
        .await)
    .await;
    for path in ["/tasks", "/webhooks", "/roles"] {
        ok(app
            .post(&format!("/api/v1{path}"), &admin, example("post", path))
            .await)
        .await;
    }
    let room = ok(app
        .post(
            "/api/v1/rooms",
            &admin,
            json!({"name": "examples", "kind": "group"}),
        )
        .await)
    .await;
    ok(app
        .post(
            &format!("/api/v1/rooms/{}/messages", room["id"].as_str().unwrap()),
            &admin,
            example("post", "/rooms/{id}/messages"),
        )
        .await)
    .await;
}
