//! Checks a JSON value against a schema of the served OpenAPI document:
//! `$ref`s followed, `allOf` parts merged, types, required and documented
//! properties, enums and `nullable`. Shared by the tests that hold what
//! the service sends or shows (webhook payloads, request examples) to the
//! document.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// A schema with `$ref`s followed and `allOf` parts merged: its types, the
/// properties it names, the ones it requires, its items and its enum.
#[derive(Default)]
struct Merged {
    types: Vec<String>,
    properties: BTreeMap<String, Value>,
    required: BTreeSet<String>,
    items: Option<Value>,
    values: Option<Vec<Value>>,
    nullable: bool,
}

fn merge(spec: &Value, schema: &Value, into: &mut Merged) {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        let target = &spec["components"]["schemas"][name];
        assert!(target.is_object(), "{reference} resolves");
        return merge(spec, target, into);
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        merge(spec, part, into);
    }
    if let Some(t) = schema["type"].as_str() {
        into.types.push(t.to_string());
    }
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        // A later part narrows an earlier one (the topic's own `data`).
        into.properties.insert(name.clone(), property.clone());
    }
    for name in schema["required"].as_array().into_iter().flatten() {
        into.required.insert(name.as_str().unwrap().to_string());
    }
    if schema.get("items").is_some() {
        into.items = Some(schema["items"].clone());
    }
    if let Some(values) = schema["enum"].as_array() {
        into.values = Some(values.clone());
    }
    into.nullable |= schema["nullable"] == true;
}

/// Collects where `value` departs from `schema`.
pub fn conform(spec: &Value, schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
    let mut s = Merged::default();
    merge(spec, schema, &mut s);
    if value.is_null() {
        if !s.nullable {
            problems.push(format!("{at}: null"));
        }
        return;
    }
    if let Some(values) = &s.values {
        if !values.contains(value) {
            problems.push(format!("{at}: {value} is not one of {values:?}"));
        }
    }
    let fits = |t: &str| match t {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        _ => true,
    };
    if !s.types.iter().all(|t| fits(t)) {
        problems.push(format!("{at}: {value} is not {:?}", s.types));
        return;
    }
    if let Some(object) = value.as_object() {
        for name in &s.required {
            if !object.contains_key(name) {
                problems.push(format!("{at}.{name}: required, missing"));
            }
        }
        if s.properties.is_empty() && !s.types.is_empty() {
            return;
        }
        for (name, field) in object {
            match s.properties.get(name) {
                Some(property) => conform(spec, property, field, &format!("{at}.{name}"), problems),
                None => problems.push(format!("{at}.{name}: sent but not documented")),
            }
        }
    }
    if let (Some(items), Some(array)) = (&s.items, value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            conform(spec, items, item, &format!("{at}[{i}]"), problems);
        }
    }
}
