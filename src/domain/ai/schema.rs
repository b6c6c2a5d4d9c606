//! A small JSON Schema checker for the shapes we ask models for: `type`
//! (one or a list), `enum`, `properties`, `required`,
//! `additionalProperties: false`, `minimum`/`maximum` and `maxLength`.
//! Model output is untrusted data; nothing reads it before this says yes.

use serde_json::Value;

/// Checks `value` against `schema`; the error names the first offending path.
pub fn validate(schema: &Value, value: &Value) -> Result<(), String> {
    check(schema, value, "$")
}

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "null" => value.is_null(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.as_i64().is_some(),
        "number" => value.is_number(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        _ => false,
    }
}

fn check(schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    match schema.get("type") {
        Some(Value::String(t)) if !type_matches(t, value) => {
            return Err(format!("{path}: expected {t}"));
        }
        Some(Value::Array(types))
            if !types
                .iter()
                .filter_map(Value::as_str)
                .any(|t| type_matches(t, value)) =>
        {
            return Err(format!("{path}: wrong type"));
        }
        _ => {}
    }
    if let Some(Value::Array(allowed)) = schema.get("enum") {
        if !allowed.contains(value) {
            return Err(format!("{path}: not one of the allowed values"));
        }
    }
    if let Some(n) = value.as_f64() {
        if schema
            .get("minimum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n < m)
        {
            return Err(format!("{path}: below the minimum"));
        }
        if schema
            .get("maximum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n > m)
        {
            return Err(format!("{path}: above the maximum"));
        }
    }
    if let (Some(s), Some(max)) = (
        value.as_str(),
        schema.get("maxLength").and_then(Value::as_u64),
    ) {
        if s.chars().count() as u64 > max {
            return Err(format!("{path}: longer than {max} characters"));
        }
    }
    if let Value::Object(fields) = value {
        let properties = schema.get("properties").and_then(Value::as_object);
        if let Some(Value::Array(required)) = schema.get("required") {
            for name in required.iter().filter_map(Value::as_str) {
                if !fields.contains_key(name) {
                    return Err(format!("{path}.{name}: missing"));
                }
            }
        }
        let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
        for (name, field) in fields {
            match properties.and_then(|p| p.get(name)) {
                Some(sub) => check(sub, field, &format!("{path}.{name}"))?,
                None if closed => return Err(format!("{path}.{name}: not allowed")),
                None => {}
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            check(item_schema, item, &format!("{path}[{i}]"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "additionalProperties": false, "required": ["kind", "n"],
               "properties": {"kind": {"type": "string", "enum": ["a", "b"]},
                              "n": {"type": ["integer", "null"], "minimum": 1, "maximum": 3}}})
    }

    #[test]
    fn a_conforming_object_passes() {
        assert_eq!(validate(&schema(), &json!({"kind": "a", "n": 2})), Ok(()));
        assert_eq!(
            validate(&schema(), &json!({"kind": "b", "n": null})),
            Ok(())
        );
    }

    #[test]
    fn wrong_enum_missing_field_extra_field_and_range_are_refused() {
        assert!(validate(&schema(), &json!({"kind": "c", "n": 1})).is_err());
        assert!(validate(&schema(), &json!({"kind": "a"})).is_err());
        assert!(validate(&schema(), &json!({"kind": "a", "n": 1, "run": "rm -rf"})).is_err());
        assert!(validate(&schema(), &json!({"kind": "a", "n": 9})).is_err());
        assert!(validate(&schema(), &json!({"kind": "a", "n": "2"})).is_err());
    }
}
