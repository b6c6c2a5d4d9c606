//! The outbound webhooks as the OpenAPI document shows them, so integrators
//! can generate and check receivers too.
//!
//! poem-openapi writes OpenAPI 3.0, which has no top-level `webhooks`, and
//! its operations have no `callbacks`; so the served document is
//! poem-openapi's with, on `POST /webhooks` (the operation that registers
//! the URL they are sent to), one callback per topic of
//! [`WEBHOOK_TOPICS`]: the request an endpoint receives (its headers, the
//! signature and how to check it, the event envelope) and what each answer
//! makes of the delivery. What is written here is what
//! `domain::webhooks::delivery` sends and `outbox` puts in the body.

use indexmap::IndexMap;
use serde_json::{json, Value};

use super::doc_tree::Node;

use super::webhook_payloads;
use crate::domain::webhooks::signing::SECRET_PREFIX;
use crate::domain::webhooks::{PAYLOAD_VERSION, TEST_TOPIC, WEBHOOK_TOPICS};

/// The envelope's schema name under `components/schemas`.
pub const EVENT_SCHEMA: &str = "WebhookEvent";

/// Where a callback is sent: the `url` the endpoint was registered with.
pub const CALLBACK_URL: &str = "{$request.body#/url}";

/// Adds the webhooks to `doc`, the document poem-openapi wrote; the order
/// of its keys is kept.
///
/// # Panics
/// When `doc` has no `POST /webhooks`: fixed when the binary is built, and
/// every test starts the real routes.
pub fn add_webhooks(doc: &mut Node) {
    let callbacks = WEBHOOK_TOPICS
        .iter()
        .map(|&(topic, about)| {
            let request = json!({ CALLBACK_URL: { "post": delivery(topic, about) } });
            (topic.to_string(), Node::Leaf(request))
        })
        .collect();
    doc.object(&["paths", "/webhooks", "post"])
        .expect("POST /webhooks is in the document")
        .insert("callbacks".into(), Node::Object(callbacks));
    let components = doc
        .object(&["components"])
        .expect("the document has components");
    components
        .entry("parameters".into())
        .or_insert_with(|| Node::Object(IndexMap::new()));
    let Some(Node::Object(parameters)) = components.get_mut("parameters") else {
        panic!("components/parameters is an object");
    };
    for (name, parameter) in shared_headers() {
        parameters.insert(name.into(), Node::Leaf(parameter));
    }
    let schemas = doc
        .object(&["components", "schemas"])
        .expect("the document has schemas");
    schemas.insert(EVENT_SCHEMA.into(), Node::Leaf(envelope_schema()));
    for (name, schema) in webhook_payloads::shared_schemas() {
        schemas.insert(name.into(), Node::Leaf(schema));
    }
}

/// The body of every webhook request, as `outbox::fan_out` builds it.
fn envelope_schema() -> Value {
    let topics: Vec<&str> = WEBHOOK_TOPICS.iter().map(|(t, _)| *t).collect();
    json!({
        "type": "object",
        "description": "The body of every webhook request. The same event goes to every endpoint subscribed to its topic; a retry sends the same bytes again.",
        "required": ["id", "topic", "version", "created_at", "data"],
        "properties": {
            "id": {
                "type": "string",
                "description": "The event's id: one per change, the same in the request to each endpoint."
            },
            "topic": {
                "type": "string",
                "enum": topics,
                "description": "What happened; the same as the `X-EA-Event` header."
            },
            "version": {
                "type": "integer",
                "enum": [PAYLOAD_VERSION],
                "description": "The version of the payloads' format. Within a version fields may be added, never removed, renamed or retyped; a change that would do that comes as a new version, announced in the changelog ahead."
            },
            "created_at": {
                "type": "string",
                "format": "date-time",
                "description": "When the change was made (UTC, RFC 3339 with milliseconds)."
            },
            "data": {
                "type": "object",
                "description": "The event's details; their fields depend on the topic (each topic's callback gives them). As in every answer, a field without a value is left out, never sent as null."
            }
        }
    })
}

/// The request an endpoint receives for `topic`, and what its answer does.
fn delivery(topic: &str, about: &str) -> Value {
    let only_on_request = if topic == TEST_TOPIC {
        " It cannot be subscribed to."
    } else {
        ""
    };
    json!({
        "summary": format!("{topic}: {about}"),
        "description": format!(
            "Sent to each active endpoint subscribed to `{topic}` (or to `*`).{only_on_request} \
             Check `X-EA-Signature` over the raw body before trusting it, then answer 2xx quickly; \
             the same delivery may come more than once, with the same `X-EA-Delivery`."
        ),
        "parameters": [
            header("X-EA-Event", "The topic; the same as the body's `topic`.", json!({"type": "string", "enum": [topic]})),
            {"$ref": "#/components/parameters/WebhookDelivery"},
            {"$ref": "#/components/parameters/WebhookTimestamp"},
            {"$ref": "#/components/parameters/WebhookSignature"},
        ],
        "requestBody": {
            "required": true,
            "content": {
                "application/json": {
                    "schema": {
                        "allOf": [
                            {"$ref": format!("#/components/schemas/{EVENT_SCHEMA}")},
                            {
                                "type": "object",
                                "properties": {
                                    "topic": {"type": "string", "enum": [topic]},
                                    "data": webhook_payloads::data_schema(topic).expect("every topic has a data schema")
                                }
                            }
                        ]
                    }
                }
            }
        },
        "responses": {
            "2XX": {"description": "Delivered. The answer's body is not read."},
            "408": {"description": "Tried again later, with growing pauses, up to the configured number of attempts."},
            "429": {
                "description": "Tried again later, after `Retry-After` when given (within the longest pause).",
                "headers": {
                    "Retry-After": {
                        "description": "Seconds, or an HTTP date, before the next attempt.",
                        "schema": {"type": "string"}
                    }
                }
            },
            "5XX": {"description": "Tried again later, as for 408 (so is no answer within the timeout)."},
            "default": {"description": "Any other answer, a redirect included, ends the delivery as failed; it is not tried again."}
        }
    })
}

/// The headers every webhook request carries whatever its topic, under
/// `components/parameters`.
fn shared_headers() -> [(&'static str, Value); 3] {
    [
        (
            "WebhookDelivery",
            header(
                "X-EA-Delivery",
                "This delivery's id (one per event and endpoint): the same on every retry, so a receiver can drop a repeat.",
                json!({"type": "string"}),
            ),
        ),
        (
            "WebhookTimestamp",
            header(
                "X-EA-Timestamp",
                "When this attempt was signed, in Unix seconds; part of the signed text.",
                json!({"type": "integer", "format": "int64"}),
            ),
        ),
        (
            "WebhookSignature",
            header(
                "X-EA-Signature",
                &format!(
                    "`sha256=` and the lowercase hex HMAC-SHA256 of `<X-EA-Timestamp>.<body>` (the \
                     timestamp header's value, a dot, then the raw body bytes), keyed with the \
                     endpoint's whole secret (`{SECRET_PREFIX}…`, shown once when the endpoint is \
                     registered and by `POST /webhooks/{{id}}/rotate-secret`). Recompute it over the \
                     body as received, compare in constant time, and refuse a timestamp far from \
                     your clock (say five minutes) so an old delivery cannot be replayed."
                ),
                json!({"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"}),
            ),
        ),
    ]
}

fn header(name: &str, description: &str, schema: Value) -> Value {
    json!({
        "name": name,
        "in": "header",
        "required": true,
        "description": description,
        "schema": schema,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_webhooks_join_the_document_and_its_order_is_kept() {
        let spec = r#"{"openapi":"3.0.0","paths":{"/webhooks":{"post":{"summary":"Register"}}},"components":{"schemas":{"Zed":{"properties":{"b":{},"a":{}}}}}}"#;
        let mut doc = Node::parse(spec);
        add_webhooks(&mut doc);
        let out = doc.to_text();
        let keys = |s: &str| {
            let doc: Node = serde_json::from_str(s).unwrap();
            let Node::Object(map) = doc else { panic!() };
            map.keys().cloned().collect::<Vec<_>>()
        };
        assert_eq!(keys(&out), ["openapi", "paths", "components"]);
        assert!(
            out.find(r#""b""#).unwrap() < out.find(r#""a""#).unwrap(),
            "{out}"
        );
        let doc: Value = serde_json::from_str(&out).unwrap();
        let callbacks = doc["paths"]["/webhooks"]["post"]["callbacks"]
            .as_object()
            .unwrap();
        assert_eq!(callbacks.len(), WEBHOOK_TOPICS.len());
        assert_eq!(doc["paths"]["/webhooks"]["post"]["summary"], "Register");
        assert!(doc["components"]["schemas"][EVENT_SCHEMA]["properties"]["data"].is_object());
    }
}
