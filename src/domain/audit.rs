//! The audit trail: who changed what, when, through which channel, field by
//! field. Rows are added to the same transaction as the change they record.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::actor::Actor;
use super::clock::db_time;
use crate::store::Transaction;

/// One changed field: its name and the values before and after.
#[derive(Debug, Clone, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub old: Option<Value>,
    pub new: Option<Value>,
}

impl FieldChange {
    pub fn new(field: &str, old: Option<Value>, new: Option<Value>) -> Self {
        Self {
            field: field.to_string(),
            old,
            new,
        }
    }
}

/// The audit of a creation: one row, field `*`, whose new value holds every
/// field that was set. Bulk imports write one row per record instead of one
/// per field, and the values are all there.
pub fn created(values: &Value) -> Vec<FieldChange> {
    let set: serde_json::Map<String, Value> = values
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    vec![FieldChange::new("*", None, Some(Value::Object(set)))]
}

/// Compares two JSON objects and lists the fields that differ; fields named
/// in `skip` (timestamps, secrets) are left out.
pub fn diff(old: &Value, new: &Value, skip: &[&str]) -> Vec<FieldChange> {
    let empty = serde_json::Map::new();
    let (o, n) = (
        old.as_object().unwrap_or(&empty),
        new.as_object().unwrap_or(&empty),
    );
    let mut keys: Vec<&String> = o.keys().chain(n.keys()).collect();
    keys.sort();
    keys.dedup();
    // A null and a missing field are the same: nothing there.
    let present =
        |m: &serde_json::Map<String, Value>, k: &str| m.get(k).filter(|v| !v.is_null()).cloned();
    keys.into_iter()
        .filter(|k| !skip.contains(&k.as_str()))
        .filter(|k| present(o, k) != present(n, k))
        .map(|k| FieldChange::new(k, present(o, k), present(n, k)))
        .collect()
}

/// Adds the audit rows of one action to `tx`. An action with no field
/// changes (a delete, a login) still writes one row.
pub fn record(
    tx: &mut Transaction,
    actor: &Actor,
    entity: &str,
    entity_id: &str,
    action: &str,
    changes: &[FieldChange],
    at: DateTime<Utc>,
) {
    record_about(tx, actor, None, entity, entity_id, action, changes, at)
}

/// Like `record`, for a change that belongs to a larger subject (a contact
/// or a call of a lead): the subject's id is kept so its timeline finds it.
#[allow(clippy::too_many_arguments)]
pub fn record_about(
    tx: &mut Transaction,
    actor: &Actor,
    subject: Option<&str>,
    entity: &str,
    entity_id: &str,
    action: &str,
    changes: &[FieldChange],
    at: DateTime<Utc>,
) {
    let n = tx.next_serial();
    tx.bind(&format!("audit_rows_{n}"), change_rows(changes));
    tx.bind(
        &format!("audit_head_{n}"),
        head(actor, subject, entity, entity_id, action, at),
    );
    tx.push(format!(
        "FOR $row IN $audit_rows_{n} {{
            CREATE type::record('audit', rand::uuid::v7()) SET at = <datetime>$audit_head_{n}.at, subject = $audit_head_{n}.subject, actor = $audit_head_{n}.actor,
                actor_name = $audit_head_{n}.actor_name, channel = $audit_head_{n}.channel,
                entity = $audit_head_{n}.entity, entity_id = $audit_head_{n}.entity_id,
                action = $audit_head_{n}.action, field = $row.field, old = $row.old, new = $row.new;
        }}"
    ));
}

/// The audit rows `record_about` writes, whole, for `insert_statement`:
/// many actions' rows written by one statement.
#[allow(clippy::too_many_arguments)]
pub fn rows_about(
    actor: &Actor,
    subject: Option<&str>,
    entity: &str,
    entity_id: &str,
    action: &str,
    changes: &[FieldChange],
    at: DateTime<Utc>,
) -> Vec<Value> {
    let head = head(actor, subject, entity, entity_id, action, at);
    change_rows(changes)
        .into_iter()
        .map(|change| {
            let mut row = head.clone();
            if let (Value::Object(row), Value::Object(change)) = (&mut row, change) {
                row.extend(change);
            }
            row
        })
        .collect()
}

/// Writes the array of `rows_about` rows bound as `$var` in one statement,
/// each stored as `record_about` stores it: a UUIDv7 id taken in the
/// order of the array, so the log lists them as if written one by one.
pub fn insert_statement(var: &str) -> String {
    format!(
        "INSERT INTO audit (SELECT *, type::record('audit', rand::uuid::v7()) AS id,
            <datetime>at AS at FROM ${var}) RETURN NONE"
    )
}

/// What every row of one action holds: when, who, through which channel,
/// about what.
fn head(
    actor: &Actor,
    subject: Option<&str>,
    entity: &str,
    entity_id: &str,
    action: &str,
    at: DateTime<Utc>,
) -> Value {
    let actor_id = actor.audited_user();
    json!({
        "at": db_time(at),
        "actor": actor_id,
        "actor_name": actor.username,
        "channel": actor.channel.as_str(),
        "entity": entity,
        "entity_id": entity_id,
        "action": action,
        "subject": subject,
    })
}

/// One row per changed field (values as JSON text); an action with no
/// field changes still gets one.
fn change_rows(changes: &[FieldChange]) -> Vec<Value> {
    let text = |v: &Option<Value>| v.as_ref().filter(|v| !v.is_null()).map(|v| v.to_string());
    if changes.is_empty() {
        vec![json!({})]
    } else {
        changes
            .iter()
            .map(|c| json!({"field": c.field, "old": text(&c.old), "new": text(&c.new)}))
            .collect()
    }
}

/// An audit row as read back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditRow {
    pub id: String,
    pub at: DateTime<Utc>,
    pub actor: Option<String>,
    pub actor_name: Option<String>,
    pub channel: String,
    pub entity: String,
    pub entity_id: String,
    pub action: String,
    pub field: Option<String>,
    pub old: Option<String>,
    pub new: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
}
