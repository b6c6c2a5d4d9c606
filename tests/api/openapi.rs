use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::TestApp;

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
        "POST /leads/bulk",
        "GET /leads/export",
        "GET /leads/{id}/timeline",
        "GET /audit",
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
    assert!(response
        .text()
        .await
        .unwrap()
        .to_lowercase()
        .contains("swagger"));
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
