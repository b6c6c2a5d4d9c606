//! Erasing a contact's personal data on request (GDPR article 17).
//!
//! The contact keeps its place on the lead under a pseudonym ("Erased
//! contact 1a2b"); its position, phone, email and LinkedIn are cleared.
//! Where the values were copied, they are rewritten in the same
//! transaction:
//! - the contact's own audit rows: each personal field's old and new value
//!   (and those inside a creation row) become the pseudonym or `[erased]`;
//! - the lead's other audit rows, notes, follow-ups and their history,
//!   calls, and the title and description of tasks linked to the lead: the
//!   name, email, phone and LinkedIn address, wherever they appear in the
//!   text, are replaced the same way;
//! - the lead's search text (rebuilt from its contacts);
//! - the webhook outbox and delivery log and the stored answers of retried
//!   requests (`idempotency_key`), which copy whole payloads.
//!
//! Exports and backups read the database, so those made afterwards hold
//! only the pseudonym. Chat messages are the team's conversation and are
//! not rewritten. The erasure itself is audited with the names of the
//! fields it erased and no values.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::contacts::{self, Contact};
use super::leads;
use super::outgoing::Outgoing;
use crate::domain::actor::Actor;
use crate::domain::audit::{self, FieldChange};
use crate::domain::clock::db_time;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::events::Event;
use crate::domain::permissions::Permission;
use crate::domain::Ctx;
use crate::store::Transaction;

/// What an erased value (other than the name) reads as afterwards.
pub const ERASED: &str = "[erased]";
/// A contact's personal fields, as its audit rows name them.
const PERSONAL: &[&str] = &["name", "position", "phone", "email", "linkedin"];
/// Values shorter than this are not searched for in free text: they would
/// match inside unrelated words. (Emails and phones are always longer.)
const MIN_FREE_TEXT: usize = 3;

/// The name an erased contact keeps: stable for the contact, telling it
/// apart from others on the lead, and saying nothing about the person.
pub fn pseudonym(contact_id: &str) -> String {
    let tail: String = contact_id
        .chars()
        .rev()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("Erased contact {}", tail.to_lowercase())
}

/// One value to replace in copied text.
#[derive(Debug, Clone, PartialEq)]
struct Replacement {
    /// As typed, for free text (notes, task text); `None` for a value
    /// replaced only where it stands whole in JSON.
    from: Option<String>,
    to: String,
    /// As it reads inside JSON text (audit values, payloads): the inner
    /// text of a JSON string, or for a whole value the quoted string.
    json_from: String,
    json_to: String,
}

fn json_inner(s: &str) -> String {
    let quoted = Value::String(s.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

/// Every value `contact` has held in a personal field, by field: the
/// current ones and those its own audit rows recorded (an email changed
/// last year was copied under the old value).
fn values_held(contact: &Contact, own_rows: &[AuditValues]) -> Vec<(&'static str, String)> {
    let mut held: Vec<(&'static str, String)> = Vec::new();
    let mut add = |field: &str, value: Option<&Value>| {
        let field = PERSONAL.iter().copied().find(|f| *f == field);
        if let (Some(field), Some(Value::String(v))) = (field, value) {
            let v = v.trim().to_string();
            if !v.is_empty() && !held.iter().any(|(f, x)| *f == field && *x == v) {
                held.push((field, v));
            }
        }
    };
    let current = json!({"name": contact.name, "position": contact.position,
        "phone": contact.phone, "email": contact.email, "linkedin": contact.linkedin});
    for field in PERSONAL {
        add(field, current.get(*field));
    }
    for row in own_rows {
        let parsed = [&row.old, &row.new]
            .into_iter()
            .flatten()
            .filter_map(|text| serde_json::from_str::<Value>(text).ok());
        for value in parsed {
            match (row.field.as_deref(), &value) {
                (Some("*"), Value::Object(map)) => {
                    for (k, v) in map {
                        add(k, Some(v));
                    }
                }
                (Some(field), _) => add(field, Some(&value)),
                (None, _) => {}
            }
        }
    }
    held
}

/// The replacements for the values a contact has held. The name (as the
/// pseudonym), email, phone and LinkedIn address are replaced wherever
/// they appear; the position, a common phrase, only where it is a whole
/// JSON value.
fn replacements(held: &[(&'static str, String)], pseudonym: &str) -> Vec<Replacement> {
    let mut out: Vec<Replacement> = held
        .iter()
        .filter(|(_, v)| v != pseudonym)
        .filter_map(|(field, v)| {
            let to = if *field == "name" { pseudonym } else { ERASED };
            if *field == "position" {
                Some(Replacement {
                    from: None,
                    to: to.to_string(),
                    json_from: Value::String(v.clone()).to_string(),
                    json_to: Value::String(to.to_string()).to_string(),
                })
            } else {
                (v.chars().count() >= MIN_FREE_TEXT).then(|| Replacement {
                    from: Some(v.clone()),
                    to: to.to_string(),
                    json_from: json_inner(v),
                    json_to: json_inner(to),
                })
            }
        })
        .collect();
    // Longer values first, so an email holding the name is replaced whole.
    out.sort_by_key(|r| std::cmp::Reverse(r.json_from.len()));
    out
}

/// A personal value as the contact's audit rows keep it after erasure.
fn scrubbed_value(field: &str, pseudonym: &str) -> Value {
    if field == "name" {
        json!(pseudonym)
    } else {
        json!(ERASED)
    }
}

/// One of the contact's own audit values (JSON text) after erasure, for
/// the row's `field`: a personal field's value, or the personal fields of
/// a creation row (`*`), are replaced; anything else is left.
fn scrub_audit_value(field: Option<&str>, value: Option<&str>, pseudonym: &str) -> Option<String> {
    let value = value?;
    match field {
        Some(f) if PERSONAL.contains(&f) => Some(scrubbed_value(f, pseudonym).to_string()),
        Some("*") => match serde_json::from_str::<Value>(value) {
            Ok(Value::Object(map)) => {
                let scrubbed: Map<String, Value> = map
                    .into_iter()
                    .map(|(k, v)| {
                        if PERSONAL.contains(&k.as_str()) && !v.is_null() {
                            let s = scrubbed_value(&k, pseudonym);
                            (k, s)
                        } else {
                            (k, v)
                        }
                    })
                    .collect();
                Some(Value::Object(scrubbed).to_string())
            }
            // Not an object: nothing personal is known to be in it by
            // field, so it gets the text replacements like any other row.
            _ => Some(value.to_string()),
        },
        _ => Some(value.to_string()),
    }
}

#[derive(Debug, Deserialize)]
struct AuditValues {
    id: String,
    field: Option<String>,
    old: Option<String>,
    new: Option<String>,
}

/// The personal fields of `contact` that hold something to erase.
fn fields_to_erase(contact: &Contact, pseudonym: &str) -> Vec<&'static str> {
    let mut fields = Vec::new();
    if contact.name != pseudonym {
        fields.push("name");
    }
    for (field, value) in [
        ("position", &contact.position),
        ("phone", &contact.phone),
        ("email", &contact.email),
        ("linkedin", &contact.linkedin),
    ] {
        if value.is_some() {
            fields.push(field);
        }
    }
    fields
}

/// Erases a contact's personal data everywhere it was copied
/// (`contacts.erase`); the contact keeps its place under a pseudonym. The
/// lead may be live or in the trash. Erasing an erased contact changes
/// nothing.
#[tracing::instrument(skip_all, fields(actor = %actor.username, lead = %lead_id, contact = %contact_id))]
pub async fn erase(
    ctx: &Ctx,
    actor: &Actor,
    lead_id: &str,
    contact_id: &str,
) -> DomainResult<Contact> {
    actor.require(Permission::ContactsErase)?;
    let lead = leads::load_visible(ctx, actor, lead_id, true).await?;
    let all = contacts::of_lead(ctx, &lead.id).await?;
    let before = all
        .iter()
        .find(|c| c.id == contact_id)
        .cloned()
        .ok_or(DomainError::NotFound("contact"))?;
    let name = pseudonym(&before.id);
    let fields = fields_to_erase(&before, &name);
    if fields.is_empty() {
        return Ok(before);
    }
    let now = ctx.now();
    let after = Contact {
        name: name.clone(),
        position: None,
        phone: None,
        email: None,
        linkedin: None,
        updated_at: now,
        ..before.clone()
    };
    let own_rows: Vec<AuditValues> = ctx
        .store
        .run(
            "SELECT <string>record::id(id) AS id, field, old, new FROM audit
             WHERE entity = 'contact' AND entity_id = $contact",
            json!({"contact": before.id}),
        )
        .await?
        .rows(0)?;

    let mut tx = Transaction::new();
    tx.bind("erase_contact", &after)
        .bind("erase_lead", &lead.id)
        .bind("erase_now", db_time(now));
    tx.push(
        "UPDATE type::record('contact', $erase_contact.id) SET name = $erase_contact.name,
            position = NONE, phone = NONE, email = NONE, linkedin = NONE,
            updated_at = <datetime>$erase_now",
    );
    let rewritten: Vec<Value> = own_rows
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "old": scrub_audit_value(r.field.as_deref(), r.old.as_deref(), &name),
                "new": scrub_audit_value(r.field.as_deref(), r.new.as_deref(), &name),
            })
        })
        .collect();
    tx.bind("erase_audit", rewritten);
    tx.push(
        "FOR $a IN $erase_audit {
            UPDATE type::record('audit', <uuid>$a.id) SET old = $a.old, new = $a.new;
        }",
    );
    let pairs: Vec<Value> = replacements(&values_held(&before, &own_rows), &name)
        .into_iter()
        .map(|r| {
            json!({"text": r.from.is_some(), "from": r.from.unwrap_or_default(), "to": r.to,
                   "json_from": r.json_from, "json_to": r.json_to})
        })
        .collect();
    tx.bind("erase_pairs", pairs);
    tx.push(
        "FOR $p IN $erase_pairs {
            UPDATE audit SET
                old = IF old != NONE THEN string::replace(old, $p.json_from, $p.json_to) ELSE NONE END,
                new = IF new != NONE THEN string::replace(new, $p.json_from, $p.json_to) ELSE NONE END
                WHERE subject = $erase_lead
                  AND (string::contains(old ?? '', $p.json_from) OR string::contains(new ?? '', $p.json_from));
            UPDATE webhook_event SET payload = string::replace(payload, $p.json_from, $p.json_to)
                WHERE string::contains(payload, $p.json_from);
            UPDATE webhook_delivery SET body = string::replace(body, $p.json_from, $p.json_to)
                WHERE string::contains(body, $p.json_from);
            UPDATE idempotency_key SET answer = string::replace(answer, $p.json_from, $p.json_to)
                WHERE answer != NONE AND string::contains(answer, $p.json_from);
            IF !$p.text { CONTINUE };
            UPDATE lead_note SET text = string::replace(text, $p.from, $p.to)
                WHERE lead = $erase_lead AND string::contains(text, $p.from);
            UPDATE follow_up SET notes = string::replace(notes, $p.from, $p.to)
                WHERE lead = $erase_lead AND string::contains(notes, $p.from);
            UPDATE follow_up_history SET notes = string::replace(notes, $p.from, $p.to)
                WHERE lead = $erase_lead AND string::contains(notes, $p.from);
            UPDATE call SET notes = string::replace(notes, $p.from, $p.to)
                WHERE lead = $erase_lead AND string::contains(notes, $p.from);
            UPDATE task SET title = string::replace(title, $p.from, $p.to),
                    description = string::replace(description, $p.from, $p.to)
                WHERE lead = $erase_lead
                  AND (string::contains(title, $p.from) OR string::contains(description, $p.from));
        }",
    );
    let rest: Vec<Contact> = all
        .into_iter()
        .map(|c| if c.id == after.id { after.clone() } else { c })
        .collect();
    leads::push_update(&mut tx, &lead, &lead, &contacts::search_names(&rest));
    let changes: Vec<FieldChange> = fields
        .iter()
        .map(|f| FieldChange::new(f, None, None))
        .collect();
    audit::record_about(
        &mut tx,
        actor,
        Some(&lead.id),
        "contact",
        &after.id,
        "erase",
        &changes,
        now,
    );
    let mut out = Outgoing::new();
    out.add(Event::new(
        "contact.erased",
        leads::audience(&lead),
        json!({"contact": after, "lead": lead.id, "fields": fields, "via": actor.channel}),
    ));
    out.commit(ctx, tx).await?;
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact() -> Contact {
        let t = chrono::Utc::now();
        Contact {
            id: "0190b7a2-0000-7000-8000-00000000a1b2".into(),
            lead: "l".into(),
            name: "Jane Doe".into(),
            position: Some("CEO".into()),
            phone: Some("+4930123456".into()),
            email: Some("jane@doe.example".into()),
            linkedin: None,
            created_at: t,
            updated_at: t,
        }
    }

    #[test]
    fn the_pseudonym_names_the_contact_by_the_end_of_its_id_only() {
        assert_eq!(pseudonym(&contact().id), "Erased contact a1b2");
    }

    #[test]
    fn a_creation_row_keeps_its_other_fields_and_loses_the_personal_ones() {
        let row = json!({"name": "Jane Doe", "email": "jane@doe.example", "phone": "+4930123456", "note": "kept"})
            .to_string();
        let scrubbed = scrub_audit_value(Some("*"), Some(&row), "Erased contact a1b2").unwrap();
        let v: Value = serde_json::from_str(&scrubbed).unwrap();
        assert_eq!(
            v,
            json!({"name": "Erased contact a1b2", "email": ERASED, "phone": ERASED, "note": "kept"})
        );
    }

    #[test]
    fn a_field_row_of_a_personal_field_loses_its_value_and_others_keep_theirs() {
        let p = "Erased contact a1b2";
        assert_eq!(
            scrub_audit_value(Some("email"), Some("\"jane@doe.example\""), p).as_deref(),
            Some("\"[erased]\"")
        );
        assert_eq!(scrub_audit_value(Some("email"), None, p), None);
        assert_eq!(
            scrub_audit_value(Some("status"), Some("\"won\""), p).as_deref(),
            Some("\"won\"")
        );
    }

    #[test]
    fn replacements_cover_the_values_people_type_and_skip_the_too_short() {
        let mut c = contact();
        let r = replacements(&values_held(&c, &[]), "Erased contact a1b2");
        let froms: Vec<Option<&str>> = r.iter().map(|r| r.from.as_deref()).collect();
        assert_eq!(
            froms,
            vec![
                Some("jane@doe.example"),
                Some("+4930123456"),
                Some("Jane Doe"),
                None
            ]
        );
        // The position only as a whole value.
        assert_eq!(r[3].json_from, "\"CEO\"");
        c.name = "Al".into();
        assert!(replacements(&values_held(&c, &[]), "x")
            .iter()
            .all(|r| r.from.as_deref() != Some("Al")));
    }

    #[test]
    fn values_the_contact_held_before_are_replaced_too() {
        let rows = vec![
            AuditValues {
                id: "1".into(),
                field: Some("*".into()),
                old: None,
                new: Some(json!({"name": "Jane Roe", "email": "jane@old.example"}).to_string()),
            },
            AuditValues {
                id: "2".into(),
                field: Some("email".into()),
                old: Some("\"jane@old.example\"".into()),
                new: Some("\"jane@doe.example\"".into()),
            },
        ];
        let held = values_held(&contact(), &rows);
        for value in [
            "Jane Roe",
            "jane@old.example",
            "jane@doe.example",
            "Jane Doe",
        ] {
            assert!(held.iter().any(|(_, v)| v == value), "{value} in {held:?}");
        }
        assert_eq!(
            held.iter().filter(|(_, v)| v == "jane@doe.example").count(),
            1
        );
    }

    #[test]
    fn a_name_with_a_quote_is_searched_for_as_json_writes_it() {
        let mut c = contact();
        c.name = "Jane \"JD\" Doe".into();
        let r = replacements(&values_held(&c, &[]), "Erased contact a1b2");
        let name = r
            .iter()
            .find(|r| r.from.as_deref() == Some(c.name.as_str()))
            .unwrap();
        assert_eq!(name.json_from, "Jane \\\"JD\\\" Doe");
    }

    #[test]
    fn only_fields_with_something_in_them_are_erased() {
        let c = contact();
        assert_eq!(
            fields_to_erase(&c, "Erased contact a1b2"),
            vec!["name", "position", "phone", "email"]
        );
        let erased = Contact {
            name: "Erased contact a1b2".into(),
            position: None,
            phone: None,
            email: None,
            ..c
        };
        assert!(fields_to_erase(&erased, "Erased contact a1b2").is_empty());
    }
}
