//! Free-standing notes on a lead: what a rep wants remembered that is not
//! the note of a call or a follow-up.
//!
//! Whoever can see the lead reads its notes, newest first, a cursor page at
//! a time. Writing one takes what logging a follow-up takes (`leads.write`
//! or `calls.log`, on a lead in scope). A note is changed or deleted by its
//! author, or by someone who holds `leads.delete` (who may delete the whole
//! lead anyway), as a chat message is by its author or a moderator. Every
//! write and its audit row commit together; the lead's audience hears
//! `note.created`, `note.updated` or `note.deleted` after the commit.

use crate::domain::cursor;
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::leads::{self, load_visible, Lead};
use super::outgoing::Outgoing;
use crate::domain::actor::Actor;
use crate::domain::audit::{self, FieldChange};
use crate::domain::clock::db_time;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::events::Event;
use crate::domain::permissions::Permission;
use crate::domain::{tokens, users, Ctx};
use crate::store::Transaction;

/// The longest note, in characters.
pub const MAX_TEXT_CHARS: usize = 10_000;

/// The entity name of a note in the audit log.
pub const AUDIT_ENTITY: &str = "lead_note";

/// One page of a lead's notes, newest first: the lead, the exclusive upper
/// bound of `sort_key` (the previous page's last id) and one more than the
/// page size (the extra row says that there is a next page).
/// Served by the `lead_note_lead` index alone.
pub const LIST_PAGE: &str = "SELECT *, record::id(id) AS id FROM lead_note
    WHERE lead = $lead AND sort_key < $after ORDER BY sort_key DESC LIMIT $limit";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Note {
    pub id: String,
    pub lead: String,
    /// The author's user id.
    pub author: String,
    /// The author's display name when the note was written.
    pub author_name: String,
    pub text: String,
    pub created_at: DateTime<Utc>,
    /// The last edit; `None` for a note never edited.
    #[serde(default)]
    pub edited_at: Option<DateTime<Utc>>,
}

/// A page of a lead's notes; its cursor is passed as `after` for the next.
pub type NotePage = cursor::Page<Note>;

/// A note's text: trimmed, not empty, at most `MAX_TEXT_CHARS`.
pub fn parse_text(raw: &str) -> DomainResult<String> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(DomainError::invalid("text", "is required"));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(DomainError::invalid(
            "text",
            format!("must be at most {MAX_TEXT_CHARS} characters"),
        ));
    }
    Ok(text.to_string())
}

/// Whether the actor may write notes at all: what logging a follow-up takes.
fn require_write(actor: &Actor) -> DomainResult<()> {
    actor.require_any(&[Permission::LeadsWrite, Permission::CallsLog])
}

/// Whether the actor may edit or delete this note: its author, or someone
/// holding `leads.delete`.
pub fn may_change(actor: &Actor, note: &Note) -> DomainResult<()> {
    if note.author == actor.user_id {
        Ok(())
    } else {
        actor.require(Permission::LeadsDelete)
    }
}

fn encode_cursor(note: &Note) -> String {
    cursor::encode(&note.id)
}

/// The lead's notes, newest first, a page at a time (`limit` 1 to 200).
pub async fn list(
    ctx: &Ctx,
    actor: &Actor,
    lead_id: &str,
    after: Option<&str>,
    limit: usize,
) -> DomainResult<NotePage> {
    let lead = load_visible(ctx, actor, lead_id, false).await?;
    let limit = limit.clamp(1, 200);
    // The open bound on the first page keeps the walk on the index.
    let bound = match after {
        Some(a) => cursor::decode(a)?,
        None => char::MAX.to_string(),
    };
    let rows: Vec<Note> = ctx
        .store
        .run(
            LIST_PAGE,
            // One more than the page: it only says there is a next page.
            json!({"lead": lead.id, "after": bound, "limit": limit + 1}),
        )
        .await?
        .rows(0)?;
    Ok(cursor::Page::from_one_more(rows, limit, encode_cursor))
}

/// The lead's latest notes, for a card that shows a few.
pub async fn latest(ctx: &Ctx, actor: &Actor, lead_id: &str, n: usize) -> DomainResult<Vec<Note>> {
    Ok(list(ctx, actor, lead_id, None, n).await?.items)
}

async fn find(ctx: &Ctx, lead: &Lead, note_id: &str) -> DomainResult<Note> {
    let note: Option<Note> = ctx
        .store
        .run(
            "SELECT *, record::id(id) AS id FROM ONLY type::record('lead_note', $id)",
            json!({"id": note_id}),
        )
        .await?
        .first(0)?;
    // A note of another lead is not found under this one.
    note.filter(|n| n.lead == lead.id)
        .ok_or(DomainError::NotFound("note"))
}

/// The name a note shows for its author: their display name, else the
/// username.
async fn author_name(ctx: &Ctx, actor: &Actor) -> DomainResult<String> {
    Ok(users::find_record(ctx, &actor.user_id)
        .await?
        .map(|r| r.user.display_name)
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| actor.username.clone()))
}

/// Now, to the microsecond the store keeps, so an answer shows the times a
/// later read gives.
fn stored_now(ctx: &Ctx) -> DateTime<Utc> {
    ctx.now().trunc_subsecs(6)
}

fn announce(out: &mut Outgoing, topic: &str, lead: &Lead, note: &Note, actor: &Actor) {
    out.add(Event::new(
        topic,
        leads::audience(lead),
        json!({"lead_id": lead.id, "note": note, "via": actor.channel}),
    ));
}

/// Adds a note to a lead.
pub async fn create(ctx: &Ctx, actor: &Actor, lead_id: &str, text: &str) -> DomainResult<Note> {
    require_write(actor)?;
    let lead = load_visible(ctx, actor, lead_id, false).await?;
    let text = parse_text(text)?;
    let now = stored_now(ctx);
    let note = Note {
        id: tokens::new_id(),
        lead: lead.id.clone(),
        author: actor.user_id.clone(),
        author_name: author_name(ctx, actor).await?,
        text,
        created_at: now,
        edited_at: None,
    };
    let mut tx = Transaction::new();
    tx.bind("note", &note).bind("now", db_time(now));
    tx.push(
        "CREATE type::record('lead_note', $note.id) SET lead = $note.lead, sort_key = $note.id,
            author = $note.author, author_name = $note.author_name, text = $note.text,
            created_at = <datetime>$now",
    );
    audit::record_about(
        &mut tx,
        actor,
        Some(&lead.id),
        AUDIT_ENTITY,
        &note.id,
        "create",
        &[FieldChange::new("text", None, Some(json!(note.text)))],
        now,
    );
    let mut out = Outgoing::new();
    announce(&mut out, "note.created", &lead, &note, actor);
    out.commit(ctx, tx).await?;
    Ok(note)
}

/// Changes the text of a note (its author, or a holder of `leads.delete`);
/// the audit keeps the text before and after.
pub async fn edit(
    ctx: &Ctx,
    actor: &Actor,
    lead_id: &str,
    note_id: &str,
    text: &str,
) -> DomainResult<Note> {
    require_write(actor)?;
    let lead = load_visible(ctx, actor, lead_id, false).await?;
    let before = find(ctx, &lead, note_id).await?;
    may_change(actor, &before)?;
    let text = parse_text(text)?;
    if text == before.text {
        return Ok(before);
    }
    let now = stored_now(ctx);
    let after = Note {
        text,
        edited_at: Some(now),
        ..before.clone()
    };
    let mut tx = Transaction::new();
    tx.bind("id", &after.id)
        .bind("text", &after.text)
        .bind("now", db_time(now));
    tx.push("UPDATE type::record('lead_note', $id) SET text = $text, edited_at = <datetime>$now");
    audit::record_about(
        &mut tx,
        actor,
        Some(&lead.id),
        AUDIT_ENTITY,
        &after.id,
        "edit",
        &[FieldChange::new(
            "text",
            Some(json!(before.text)),
            Some(json!(after.text)),
        )],
        now,
    );
    let mut out = Outgoing::new();
    announce(&mut out, "note.updated", &lead, &after, actor);
    out.commit(ctx, tx).await?;
    Ok(after)
}

/// Deletes a note (its author, or a holder of `leads.delete`); its text
/// stays in the audit log.
pub async fn delete(ctx: &Ctx, actor: &Actor, lead_id: &str, note_id: &str) -> DomainResult<()> {
    require_write(actor)?;
    let lead = load_visible(ctx, actor, lead_id, false).await?;
    let note = find(ctx, &lead, note_id).await?;
    may_change(actor, &note)?;
    let now = stored_now(ctx);
    let mut tx = Transaction::new();
    tx.bind("id", &note.id);
    tx.push("DELETE type::record('lead_note', $id)");
    audit::record_about(
        &mut tx,
        actor,
        Some(&lead.id),
        AUDIT_ENTITY,
        &note.id,
        "delete",
        &[FieldChange::new("text", Some(json!(note.text)), None)],
        now,
    );
    let mut out = Outgoing::new();
    announce(&mut out, "note.deleted", &lead, &note, actor);
    out.commit(ctx, tx).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::actor::{Channel, Credential};

    fn actor(id: &str, permissions: &[Permission]) -> Actor {
        Actor {
            user_id: id.into(),
            username: id.into(),
            role: "user".into(),
            permissions: permissions.iter().copied().collect(),
            channel: Channel::Api,
            credential: Credential::Internal,
        }
    }

    fn note_by(author: &str) -> Note {
        Note {
            id: "n1".into(),
            lead: "l1".into(),
            author: author.into(),
            author_name: author.into(),
            text: "budget approved".into(),
            created_at: Utc::now(),
            edited_at: None,
        }
    }

    #[test]
    fn a_note_is_trimmed_and_must_have_text() {
        assert_eq!(parse_text("  call after 10 \n").unwrap(), "call after 10");
        let err = parse_text(" \n\t ").unwrap_err();
        assert!(
            matches!(err, DomainError::Invalid { field: "text", .. }),
            "{err}"
        );
    }

    #[test]
    fn a_note_holds_at_most_ten_thousand_characters() {
        // Characters, not bytes: 10,000 umlauts are 20,000 bytes.
        assert!(parse_text(&"ü".repeat(MAX_TEXT_CHARS)).is_ok());
        let err = parse_text(&"ü".repeat(MAX_TEXT_CHARS + 1)).unwrap_err();
        assert_eq!(err.to_string(), "text: must be at most 10000 characters");
    }

    #[test]
    fn the_author_changes_their_note_without_leads_delete() {
        let rep = actor("rep", &[Permission::LeadsWrite]);
        assert!(may_change(&rep, &note_by("rep")).is_ok());
    }

    #[test]
    fn someone_elses_note_needs_leads_delete() {
        let rep = actor("rep", &[Permission::LeadsWrite, Permission::LeadsReadAll]);
        let err = may_change(&rep, &note_by("boss")).unwrap_err();
        assert!(
            matches!(&err, DomainError::Forbidden(p) if p == "leads.delete"),
            "{err}"
        );
        let manager = actor(
            "manager",
            &[Permission::LeadsWrite, Permission::LeadsDelete],
        );
        assert!(may_change(&manager, &note_by("rep")).is_ok());
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let note = note_by("rep");
        assert_eq!(cursor::decode(&encode_cursor(&note)).unwrap(), "n1");
        assert!(cursor::decode("not a cursor!").is_err());
        assert!(cursor::decode("").is_err());
    }
}
