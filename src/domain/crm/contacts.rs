//! Contacts: the people at a lead. Phones are stored in E.164, emails
//! lower-case, so duplicates can be found by either.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::leads::{self, load_visible};
use super::normalize::{optional_text, parse_linkedin, parse_phone};
use super::outgoing::Outgoing;
use crate::domain::actor::Actor;
use crate::domain::audit::{self, FieldChange};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::events::Event;
use crate::domain::permissions::Permission;
use crate::domain::{tokens, users, Ctx};
use crate::store::Transaction;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Contact {
    pub id: String,
    pub lead: String,
    pub name: String,
    pub position: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub linkedin: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct NewContact {
    pub name: String,
    pub position: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub linkedin: Option<String>,
}

/// A contact's fields, validated, not yet tied to a lead.
#[derive(Debug, Clone)]
pub struct PreparedContact {
    pub name: String,
    pub position: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub linkedin: Option<String>,
}

impl PreparedContact {
    pub fn to_contact(&self, lead: &str, now: DateTime<Utc>) -> Contact {
        Contact {
            id: tokens::new_id(),
            lead: lead.to_string(),
            name: self.name.clone(),
            position: self.position.clone(),
            phone: self.phone.clone(),
            email: self.email.clone(),
            linkedin: self.linkedin.clone(),
            created_at: now,
            updated_at: now,
        }
    }
}

pub fn prepare(input: NewContact, country: Option<&str>) -> DomainResult<PreparedContact> {
    let name = input.name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() || name.chars().count() > 120 {
        return Err(DomainError::invalid("name", "must be 1 to 120 characters"));
    }
    let phone = match input
        .phone
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        Some(p) => Some(parse_phone(p, country)?),
        None => None,
    };
    let email = match input
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        Some(e) => Some(users::parse_email(e)?),
        None => None,
    };
    let linkedin = match input
        .linkedin
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        Some(l) => Some(parse_linkedin(l)?),
        None => None,
    };
    Ok(PreparedContact {
        name,
        position: optional_text(input.position.as_deref(), "position", 120)?,
        phone,
        email,
        linkedin,
    })
}

const WRITE_CONTACT: &str =
    "UPSERT type::record('contact', $c.id) SET lead = $c.lead, name = $c.name,
    position = $c.position, phone = $c.phone, email = $c.email, linkedin = $c.linkedin,
    created_at = <datetime>$c.created_at, updated_at = <datetime>$c.updated_at";

pub(crate) fn audited(c: &Contact) -> serde_json::Value {
    json!({"name": c.name, "position": c.position, "phone": c.phone, "email": c.email, "linkedin": c.linkedin})
}

/// Writes the array of contacts bound as `$var` as new contacts in one
/// statement, each stored as `push_write` stores it.
pub(crate) fn insert_statement(var: &str) -> String {
    format!(
        "INSERT INTO contact (SELECT *, type::record('contact', id) AS id,
            <datetime>created_at AS created_at, <datetime>updated_at AS updated_at
            FROM ${var}) RETURN NONE"
    )
}

fn push_write(tx: &mut Transaction, contact: &Contact) {
    let name = format!("contact_{}", tx.next_serial());
    tx.bind(&name, contact);
    tx.push(WRITE_CONTACT.replace("$c", &format!("${name}")));
}

/// Adds a new contact and its audit rows to `tx`.
pub(crate) fn push_insert(tx: &mut Transaction, actor: &Actor, contact: &Contact) {
    push_write(tx, contact);
    let changes = audit::created(&audited(contact));
    audit::record_about(
        tx,
        actor,
        Some(&contact.lead),
        "contact",
        &contact.id,
        "create",
        &changes,
        contact.created_at,
    );
}

pub async fn of_lead(ctx: &Ctx, lead: &str) -> DomainResult<Vec<Contact>> {
    Ok(ctx
        .store
        .run(
            "SELECT *, record::id(id) AS id FROM contact WHERE lead = $lead ORDER BY created_at ASC, id ASC",
            json!({"lead": lead}),
        )
        .await?
        .rows(0)?)
}

/// What a lead's search text needs of its contacts: names and emails.
pub(crate) fn search_names(contacts: &[Contact]) -> Vec<(String, Option<String>)> {
    contacts
        .iter()
        .map(|c| (c.name.clone(), c.email.clone()))
        .collect()
}

/// `search_names` of a stored lead's contacts.
pub(crate) async fn search_names_of(
    ctx: &Ctx,
    lead: &str,
) -> DomainResult<Vec<(String, Option<String>)>> {
    Ok(search_names(&of_lead(ctx, lead).await?))
}

pub async fn list(ctx: &Ctx, actor: &Actor, lead_id: &str) -> DomainResult<Vec<Contact>> {
    let lead = load_visible(ctx, actor, lead_id, false).await?;
    of_lead(ctx, &lead.id).await
}

/// Rewrites the lead's search text after its contacts changed.
fn refresh_lead(tx: &mut Transaction, lead: &leads::Lead, contacts: &[Contact]) {
    let names: Vec<(String, Option<String>)> = contacts
        .iter()
        .map(|c| (c.name.clone(), c.email.clone()))
        .collect();
    leads::push_update(tx, lead, lead, &names);
}

pub async fn add(
    ctx: &Ctx,
    actor: &Actor,
    lead_id: &str,
    input: NewContact,
) -> DomainResult<Contact> {
    actor.require(Permission::LeadsWrite)?;
    let lead = load_visible(ctx, actor, lead_id, false).await?;
    let contact = prepare(input, lead.country.as_deref())?.to_contact(&lead.id, ctx.now());
    let mut existing = of_lead(ctx, &lead.id).await?;
    existing.push(contact.clone());
    let mut tx = Transaction::new();
    push_insert(&mut tx, actor, &contact);
    refresh_lead(&mut tx, &lead, &existing);
    let mut out = Outgoing::new();
    out.add(Event::new(
        "contact.created",
        leads::audience(&lead),
        json!({"contact": contact, "lead": lead.id}),
    ));
    out.commit(ctx, tx).await?;
    Ok(contact)
}

#[derive(Debug, Clone, Default)]
pub struct ContactPatch {
    pub name: Option<String>,
    pub position: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub linkedin: Option<Option<String>>,
}

async fn load(
    ctx: &Ctx,
    actor: &Actor,
    lead_id: &str,
    contact_id: &str,
) -> DomainResult<(leads::Lead, Vec<Contact>, Contact)> {
    let lead = load_visible(ctx, actor, lead_id, false).await?;
    let contacts = of_lead(ctx, &lead.id).await?;
    let contact = contacts
        .iter()
        .find(|c| c.id == contact_id)
        .cloned()
        .ok_or(DomainError::NotFound("contact"))?;
    Ok((lead, contacts, contact))
}

pub async fn update(
    ctx: &Ctx,
    actor: &Actor,
    lead_id: &str,
    contact_id: &str,
    patch: ContactPatch,
) -> DomainResult<Contact> {
    actor.require(Permission::LeadsWrite)?;
    let (lead, contacts, before) = load(ctx, actor, lead_id, contact_id).await?;
    let merged = NewContact {
        name: patch.name.unwrap_or(before.name.clone()),
        position: patch.position.unwrap_or(before.position.clone()),
        phone: patch.phone.unwrap_or(before.phone.clone()),
        email: patch.email.unwrap_or(before.email.clone()),
        linkedin: patch.linkedin.unwrap_or(before.linkedin.clone()),
    };
    let prepared = prepare(merged, lead.country.as_deref())?;
    let now = ctx.now();
    let after = Contact {
        name: prepared.name,
        position: prepared.position,
        phone: prepared.phone,
        email: prepared.email,
        linkedin: prepared.linkedin,
        updated_at: now,
        ..before.clone()
    };
    let changes = audit::diff(&audited(&before), &audited(&after), &[]);
    if changes.is_empty() {
        return Ok(before);
    }
    let all: Vec<Contact> = contacts
        .into_iter()
        .map(|c| if c.id == after.id { after.clone() } else { c })
        .collect();
    let mut tx = Transaction::new();
    push_write(&mut tx, &after);
    refresh_lead(&mut tx, &lead, &all);
    audit::record_about(
        &mut tx,
        actor,
        Some(&lead.id),
        "contact",
        &after.id,
        "update",
        &changes,
        now,
    );
    let mut out = Outgoing::new();
    out.add(Event::new(
        "contact.updated",
        leads::audience(&lead),
        json!({"contact": after, "lead": lead.id}),
    ));
    out.commit(ctx, tx).await?;
    Ok(after)
}

/// Removes a contact; its last values stay in the audit rows.
pub async fn delete(ctx: &Ctx, actor: &Actor, lead_id: &str, contact_id: &str) -> DomainResult<()> {
    actor.require(Permission::LeadsWrite)?;
    let (lead, contacts, contact) = load(ctx, actor, lead_id, contact_id).await?;
    let rest: Vec<Contact> = contacts
        .into_iter()
        .filter(|c| c.id != contact.id)
        .collect();
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("contact_id", &contact.id);
    tx.push("DELETE type::record('contact', $contact_id)");
    refresh_lead(&mut tx, &lead, &rest);
    let changes: Vec<FieldChange> = audit::diff(&audited(&contact), &json!({}), &[]);
    audit::record_about(
        &mut tx,
        actor,
        Some(&lead.id),
        "contact",
        &contact.id,
        "delete",
        &changes,
        now,
    );
    let mut out = Outgoing::new();
    out.add(Event::new(
        "contact.deleted",
        leads::audience(&lead),
        json!({"contact": contact.id, "lead": lead.id}),
    ));
    out.commit(ctx, tx).await?;
    Ok(())
}
