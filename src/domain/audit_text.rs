//! The audit trail as people read it: one audit row becomes a sentence with
//! names ("Anna changed the status of Acme GmbH from New to Contacted") and
//! its field changes become before → after pairs of readable values. Pure:
//! the names are looked up by the caller (`Names`), so every view (a lead's
//! timeline, the audit log) words the same row the same way.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use super::audit::AuditRow;

/// The names an audit row may need: people by user id, leads by lead id,
/// pipeline statuses by key, roles by key.
#[derive(Debug, Clone, Default)]
pub struct Names {
    pub users: HashMap<String, String>,
    pub leads: HashMap<String, String>,
    pub statuses: HashMap<String, String>,
    pub roles: HashMap<String, String>,
}

/// One field change as shown: a label and readable values (absent: nothing
/// was there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeText {
    pub field: String,
    pub label: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// An audit row worded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Described {
    /// Who did it: their display name, else the name recorded at the time,
    /// else "The system".
    pub actor: String,
    /// What it was done to, by name where one is known.
    pub target: String,
    pub sentence: String,
    pub changes: Vec<ChangeText>,
}

/// Fields whose values are user ids.
const USER_FIELDS: &[&str] = &["owner", "user", "assignee", "created_by", "by"];
/// Values longer than this are cut with an ellipsis.
const MAX_VALUE: usize = 80;

/// A field's label in a sentence ("company_name" → "company name").
pub fn label(field: &str) -> String {
    match field {
        "extra_permissions" => "extra permissions".into(),
        "require_second_factor" => "second-factor requirement".into(),
        "deleted_at" => "trash date".into(),
        other => other.replace('_', " "),
    }
}

/// The noun of an entity kind ("pipeline_status" → "pipeline status").
fn noun(entity: &str) -> String {
    match entity {
        "follow_up" => "follow-up".into(),
        "api_key" => "API key".into(),
        "chat_link" => "chat account link".into(),
        "lead_note" | "note" => "note".into(),
        other => other.replace('_', " "),
    }
}

/// A stored value (JSON text) made readable: user ids become names, status
/// and role keys their names, lists are joined, objects listed as
/// `field: value`, long text cut.
pub fn value(field: &str, raw: Option<&str>, names: &Names) -> Option<String> {
    let raw = raw?;
    let parsed: Value = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.into()));
    let text = plain(field, &parsed, names)?;
    Some(cut(&text))
}

fn plain(field: &str, v: &Value, names: &Names) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Bool(b) => Some(if *b { "yes" } else { "no" }.into()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(name_of(field, s, names)),
        Value::Array(items) => {
            let parts: Vec<String> = items
                .iter()
                .filter_map(|i| plain(field, i, names))
                .collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        }
        Value::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .filter_map(|(k, v)| plain(k, v, names).map(|t| format!("{}: {t}", label(k))))
                .collect();
            (!parts.is_empty()).then(|| parts.join("; "))
        }
    }
}

fn name_of(field: &str, s: &str, names: &Names) -> String {
    let found = if USER_FIELDS.contains(&field) {
        names.users.get(s)
    } else if field == "status" {
        names.statuses.get(s)
    } else if field == "role" {
        names.roles.get(s)
    } else if field == "lead" {
        names.leads.get(s)
    } else {
        None
    };
    found.cloned().unwrap_or_else(|| s.to_string())
}

fn cut(s: &str) -> String {
    if s.chars().count() <= MAX_VALUE {
        s.to_string()
    } else {
        let head: String = s.chars().take(MAX_VALUE - 1).collect();
        format!("{head}…")
    }
}

/// The user and lead ids that naming these rows needs.
pub fn wanted_ids(rows: &[AuditRow]) -> (Vec<String>, Vec<String>) {
    let (mut users, mut leads) = (Vec::new(), Vec::new());
    fn user_value(users: &mut Vec<String>, field: &str, v: &Value) {
        if USER_FIELDS.contains(&field) {
            if let Some(s) = v.as_str() {
                users.push(s.to_string());
            }
        }
    }
    for row in rows {
        users.extend(row.actor.clone());
        if row.entity == "user" {
            users.push(row.entity_id.clone());
        }
        if row.entity == "lead" {
            leads.push(row.entity_id.clone());
        }
        leads.extend(row.subject.clone());
        let field = row.field.as_deref().unwrap_or("");
        for raw in [&row.old, &row.new].into_iter().flatten() {
            match serde_json::from_str::<Value>(raw) {
                Ok(Value::Object(map)) if field == "*" => {
                    map.iter().for_each(|(k, v)| user_value(&mut users, k, v));
                }
                Ok(v) => user_value(&mut users, field, &v),
                Err(_) => {}
            }
        }
    }
    for ids in [&mut users, &mut leads] {
        ids.sort();
        ids.dedup();
    }
    (users, leads)
}

/// The one who acted, by name.
pub fn actor_name(row: &AuditRow, names: &Names) -> String {
    row.actor
        .as_ref()
        .and_then(|id| names.users.get(id))
        .or(row.actor_name.as_ref())
        .cloned()
        .unwrap_or_else(|| "The system".into())
}

/// What the row is about, by name where known: a lead by its company, a
/// user by their name, a role or status by its name; otherwise "the
/// <entity>", with its lead's name for contacts, notes, follow-ups, calls.
pub fn target(row: &AuditRow, names: &Names) -> String {
    let created_name = |key: &str| {
        row.new
            .as_deref()
            .and_then(|n| serde_json::from_str::<Value>(n).ok())
            .and_then(|v| v.get(key).and_then(Value::as_str).map(str::to_string))
    };
    let kind = noun(&row.entity);
    match row.entity.as_str() {
        "lead" => names
            .leads
            .get(&row.entity_id)
            .cloned()
            .or_else(|| created_name("company_name"))
            .unwrap_or_else(|| "a lead".into()),
        "user" => names
            .users
            .get(&row.entity_id)
            .cloned()
            .or_else(|| {
                // A deleted user's rows name them by the username they record.
                (row.field.as_deref() == Some("username"))
                    .then(|| row.old.as_deref().or(row.new.as_deref()))
                    .flatten()
                    .and_then(|v| serde_json::from_str::<Value>(v).ok())
                    .and_then(|v| v.as_str().map(str::to_string))
            })
            .unwrap_or_else(|| "a user who was deleted".into()),
        "role" => format!(
            "the role {}",
            names
                .roles
                .get(&row.entity_id)
                .cloned()
                .unwrap_or_else(|| row.entity_id.clone())
        ),
        "pipeline_status" => format!(
            "the status {}",
            names
                .statuses
                .get(&row.entity_id)
                .cloned()
                .unwrap_or_else(|| row.entity_id.clone())
        ),
        "setting" | "feature_switch" => format!("the {kind} {}", label(&row.entity_id)),
        _ => {
            let own = created_name("name")
                .map(|n| format!(" {n}"))
                .unwrap_or_default();
            match row.subject.as_ref().and_then(|s| names.leads.get(s)) {
                Some(lead) => format!("the {kind}{own} of {lead}"),
                None => format!("the {kind}{own}"),
            }
        }
    }
}

/// The sentence for one audit row.
pub fn describe(row: &AuditRow, names: &Names) -> Described {
    let actor = actor_name(row, names);
    let target = target(row, names);
    let field = row.field.as_deref().filter(|f| !f.is_empty());
    let kind = noun(&row.entity);
    let mut changes = Vec::new();
    if field == Some("*") {
        // A creation: every field that was set, as one change each.
        if let Some(Value::Object(map)) = row
            .new
            .as_deref()
            .and_then(|n| serde_json::from_str(n).ok())
        {
            for (k, v) in &map {
                if let Some(after) = plain(k, v, names) {
                    changes.push(ChangeText {
                        field: k.clone(),
                        label: label(k),
                        before: None,
                        after: Some(cut(&after)),
                    });
                }
            }
        }
    } else if let Some(f) = field {
        changes.push(ChangeText {
            field: f.to_string(),
            label: label(f),
            before: value(f, row.old.as_deref(), names),
            after: value(f, row.new.as_deref(), names),
        });
    }
    let sentence = match (row.action.as_str(), field) {
        ("create", _) if row.entity == "lead" => format!("{actor} created the lead {target}"),
        ("create", _) if row.entity == "user" => format!("{actor} created the user {target}"),
        ("create", _) => match (
            row.subject.as_ref().and_then(|s| names.leads.get(s)),
            row.entity.as_str(),
        ) {
            (Some(lead), "contact") => {
                let who = changes
                    .iter()
                    .find(|c| c.field == "name")
                    .and_then(|c| c.after.clone())
                    .map(|n| format!(" {n}"))
                    .unwrap_or_default();
                format!("{actor} added the contact{who} to {lead}")
            }
            _ => format!("{actor} created {target}"),
        },
        ("delete", _) => format!("{actor} deleted {target}"),
        ("login", _) => format!("{actor} signed in"),
        ("end_sessions", _) => format!("{actor} signed out their other sessions"),
        ("change_password", _) => format!("{actor} changed their password"),
        ("reset_password", _) => format!("{actor} reset the password of {target}"),
        ("update" | "edit", Some(f)) => {
            let c = &changes[0];
            let of = if f == "password" {
                return Described {
                    sentence: format!("{actor} set a new password for {target}"),
                    actor,
                    target,
                    changes: Vec::new(),
                };
            } else {
                format!("the {} of {target}", c.label)
            };
            match (&c.before, &c.after) {
                (Some(b), Some(a)) => format!("{actor} changed {of} from {b} to {a}"),
                (None, Some(a)) => format!("{actor} set {of} to {a}"),
                (Some(b), None) => format!("{actor} cleared {of} (was {b})"),
                (None, None) => format!("{actor} changed {of}"),
            }
        }
        ("update" | "edit", None) => format!("{actor} changed {target}"),
        ("trash", _) => format!("{actor} moved {target} to the trash"),
        ("restore", _) => format!("{actor} restored {target} from the trash"),
        (action, _) => format!("{actor} {} {target}", verb(action, &kind)),
    };
    Described {
        actor,
        target,
        sentence,
        changes,
    }
}

/// A past-tense verb for an action recorded by key.
fn verb(action: &str, _kind: &str) -> String {
    match action {
        "pin" => "pinned".into(),
        "unpin" => "unpinned".into(),
        "revoke" => "revoked".into(),
        "rotate_secret" => "rotated the secret of".into(),
        "test" => "tested".into(),
        "purge" => "purged".into(),
        "merge" => "merged".into(),
        "erase" => "erased".into(),
        "link" => "linked".into(),
        "unlink" => "unlinked".into(),
        other => format!("did “{}” to", other.replace('_', " ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn row(
        entity: &str,
        action: &str,
        field: Option<&str>,
        old: Option<&str>,
        new: Option<&str>,
    ) -> AuditRow {
        AuditRow {
            id: "r1".into(),
            at: Utc::now(),
            actor: Some("u-anna".into()),
            actor_name: Some("anna".into()),
            channel: "web".into(),
            entity: entity.into(),
            entity_id: "l-acme".into(),
            action: action.into(),
            field: field.map(str::to_string),
            old: old.map(str::to_string),
            new: new.map(str::to_string),
            subject: Some("l-acme".into()),
        }
    }

    fn names() -> Names {
        let mut n = Names::default();
        n.users.insert("u-anna".into(), "Anna".into());
        n.users.insert("u-bob".into(), "Bob Baker".into());
        n.leads.insert("l-acme".into(), "Acme GmbH".into());
        n.statuses.insert("new".into(), "New".into());
        n.statuses.insert("contacted".into(), "Contacted".into());
        n
    }

    #[test]
    fn a_status_change_reads_with_the_names_of_person_lead_and_statuses() {
        let d = describe(
            &row(
                "lead",
                "update",
                Some("status"),
                Some("\"new\""),
                Some("\"contacted\""),
            ),
            &names(),
        );
        assert_eq!(
            d.sentence,
            "Anna changed the status of Acme GmbH from New to Contacted"
        );
        assert_eq!(d.changes[0].before.as_deref(), Some("New"));
        assert_eq!(d.changes[0].after.as_deref(), Some("Contacted"));
    }

    #[test]
    fn a_creation_lists_each_field_with_owner_ids_named_and_no_json() {
        let d = describe(
            &row(
                "lead",
                "create",
                Some("*"),
                None,
                Some(
                    r#"{"company_name":"Acme GmbH","owner":"u-bob","status":"new","tags":["b2b","eu"]}"#,
                ),
            ),
            &names(),
        );
        assert_eq!(d.sentence, "Anna created the lead Acme GmbH");
        let owner = d.changes.iter().find(|c| c.field == "owner").unwrap();
        assert_eq!(owner.after.as_deref(), Some("Bob Baker"));
        let tags = d.changes.iter().find(|c| c.field == "tags").unwrap();
        assert_eq!(tags.after.as_deref(), Some("b2b, eu"));
        assert!(d
            .changes
            .iter()
            .all(|c| !c.after.as_deref().unwrap_or("").contains('{')));
    }

    #[test]
    fn setting_and_clearing_a_field_say_so() {
        let set = describe(
            &row("lead", "update", Some("website"), None, Some("\"acme.de\"")),
            &names(),
        );
        assert_eq!(set.sentence, "Anna set the website of Acme GmbH to acme.de");
        let cleared = describe(
            &row("lead", "update", Some("owner"), Some("\"u-bob\""), None),
            &names(),
        );
        assert_eq!(
            cleared.sentence,
            "Anna cleared the owner of Acme GmbH (was Bob Baker)"
        );
    }

    #[test]
    fn a_contact_added_to_a_lead_names_both() {
        let mut r = row(
            "contact",
            "create",
            Some("*"),
            None,
            Some(r#"{"name":"Jo Smith","email":"jo@acme.de"}"#),
        );
        r.entity_id = "c1".into();
        assert_eq!(
            describe(&r, &names()).sentence,
            "Anna added the contact Jo Smith to Acme GmbH"
        );
    }

    #[test]
    fn an_unknown_actor_falls_back_to_the_recorded_name_then_the_system() {
        let mut r = row("lead", "delete", None, None, None);
        r.actor = Some("u-gone".into());
        assert_eq!(describe(&r, &names()).sentence, "anna deleted Acme GmbH");
        r.actor = None;
        r.actor_name = None;
        assert_eq!(
            describe(&r, &names()).sentence,
            "The system deleted Acme GmbH"
        );
    }

    #[test]
    fn a_password_change_never_shows_a_value() {
        let mut r = row(
            "user",
            "update",
            Some("password"),
            None,
            Some("\"(changed)\""),
        );
        r.entity_id = "u-bob".into();
        let d = describe(&r, &names());
        assert_eq!(d.sentence, "Anna set a new password for Bob Baker");
        assert!(d.changes.is_empty());
    }

    #[test]
    fn long_values_are_cut() {
        let long = format!("\"{}\"", "x".repeat(200));
        assert!(
            value("notes", Some(&long), &names())
                .unwrap()
                .chars()
                .count()
                <= MAX_VALUE
        );
    }
}
