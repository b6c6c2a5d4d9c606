//! Examples in the document for the request bodies (and the import's
//! options) whose shape is not obvious from the schema alone: a lead with
//! its contacts, an edit, a follow-up, a task with a checklist, a webhook,
//! a role, a bulk action, a chat message. Each is a request the service
//! takes as it is (the tests hold every example to its schema and send
//! the creates to the running app).

use serde_json::{json, Value};

use super::doc_tree::Node;

/// The example of each operation's JSON body, by method and path as the
/// document names them.
fn body_examples() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "post",
            "/leads",
            json!({
                "company_name": "Nordlicht Logistik GmbH",
                "website": "https://nordlicht-logistik.de",
                "industry": "Logistics",
                "country": "DE",
                "state": "HH",
                "source": "Trade fair",
                "tags": ["hamburg", "fleet"],
                "contacts": [
                    {
                        "name": "Jana Weber",
                        "position": "Head of Procurement",
                        "email": "jana.weber@nordlicht-logistik.de",
                        "phone": "+49 40 1234567"
                    },
                    {"name": "Tom Berger", "linkedin": "https://www.linkedin.com/in/tom-berger"}
                ]
            }),
        ),
        (
            "patch",
            "/leads/{id}",
            json!({"status": "contacted", "industry": "Freight forwarding", "tags": ["hamburg", "priority"], "website": null}),
        ),
        (
            "put",
            "/leads/{id}/follow-ups/{tier}",
            json!({"outcome": "done", "done_at": "2026-05-04T10:30:00Z", "notes": "Sent the price list; call back after their board meeting"}),
        ),
        (
            "post",
            "/leads/{id}/contacts",
            json!({"name": "Lena Fischer", "position": "CFO", "email": "lena.fischer@nordlicht-logistik.de", "phone": "+49 40 7654321"}),
        ),
        (
            "post",
            "/tasks",
            json!({
                "title": "Design the trade fair banner",
                "description": "Two sizes: 2 x 1 m and 3 x 1 m, with the new logo.",
                "task_type": "design",
                "priority": "high",
                "due_at": "2026-05-15T16:00:00Z",
                "estimate_minutes": 240,
                "checklist": [
                    {"text": "Draft in both sizes"},
                    {"text": "Approval by marketing", "done": false}
                ]
            }),
        ),
        (
            "post",
            "/webhooks",
            json!({
                "url": "https://hooks.example.com/ea-crm",
                "topics": ["lead.created", "lead.status_changed", "follow_up.logged"],
                "description": "Sync leads into the ERP",
                "active": true
            }),
        ),
        (
            "post",
            "/roles",
            json!({
                "key": "field_sales",
                "name": "Field sales",
                "description": "Reps on the road: their own leads, calls and follow-ups.",
                "permissions": ["leads.read.own", "leads.write", "calls.log", "chat.use"]
            }),
        ),
        (
            "post",
            "/leads/bulk",
            json!({
                "ids": ["01937f4e8f6a7b2c9d0e1f2a3b4c5d6e", "01937f4e8f6a7b2c9d0e1f2a3b4c5d6f"],
                "action": "status",
                "status": "qualified"
            }),
        ),
        (
            "post",
            "/rooms/{id}/messages",
            json!({
                "body": "@jana the offer for Nordlicht is out, see /show Nordlicht",
                "idempotency_key": "web-7f3c2a-0001"
            }),
        ),
    ]
}

/// Examples of query parameters, by method, path and parameter name.
fn parameter_examples() -> Vec<(&'static str, &'static str, &'static str, Value)> {
    vec![
        (
            "post",
            "/leads/import",
            "mapping",
            json!(r#"{"Firma":"company_name","E-Mail":"email","Ansprechpartner":"contact_name"}"#),
        ),
        ("post", "/leads/import", "policy", json!("update")),
    ]
}

/// Writes the examples into `doc`: a JSON body's under its media type, a
/// parameter's on the parameter. An operation or parameter the document
/// does not have is skipped (the test that reads them back names each).
pub fn add_examples(doc: &mut Node) {
    for (method, path, example) in body_examples() {
        let Some(content) = doc.object(&["paths", path, method, "requestBody", "content"]) else {
            continue;
        };
        for (media_type, body) in content.iter_mut() {
            if !media_type.starts_with("application/json") {
                continue;
            }
            if let Node::Object(body) = body {
                body.insert("example".into(), Node::Leaf(example.clone()));
            }
        }
    }
    for (method, path, name, example) in parameter_examples() {
        let Some(operation) = doc.object(&["paths", path, method]) else {
            continue;
        };
        let Some(Node::Array(parameters)) = operation.get_mut("parameters") else {
            continue;
        };
        for parameter in parameters {
            let Node::Object(parameter) = parameter else {
                continue;
            };
            let named =
                matches!(parameter.get("name"), Some(Node::Leaf(Value::String(n))) if n == name);
            if named {
                parameter.insert("example".into(), Node::Leaf(example.clone()));
            }
        }
    }
}
