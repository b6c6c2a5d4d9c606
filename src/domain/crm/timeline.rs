//! The audit log as people read it: filtered lists, and a lead's timeline
//! that merges its changes, follow-ups, calls, notes and its discussion
//! room.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::leads::load_visible;
use super::notes;
use crate::domain::actor::Actor;
use crate::domain::audit::AuditRow;
use crate::domain::clock::db_time;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::permissions::Permission;
use crate::domain::Ctx;

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub entity: Option<String>,
    pub entity_id: Option<String>,
    pub user: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// The id of the last row of the previous page.
    pub after: Option<String>,
    pub limit: usize,
}

/// Audit rows, newest first (`audit.read`).
pub async fn audit_log(
    ctx: &Ctx,
    actor: &Actor,
    filter: AuditFilter,
) -> DomainResult<Vec<AuditRow>> {
    actor.require(Permission::AuditRead)?;
    let mut conds: Vec<&str> = Vec::new();
    let mut vars = Map::new();
    let mut eq = |cond: &'static str, name: &str, value: &Option<String>| {
        if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            conds.push(cond);
            vars.insert(name.into(), json!(v));
        }
    };
    eq("entity = $entity", "entity", &filter.entity);
    eq("entity_id = $entity_id", "entity_id", &filter.entity_id);
    eq("actor = $user", "user", &filter.user);
    if let Some(from) = filter.from {
        conds.push("at >= <datetime>$from");
        vars.insert("from".into(), json!(db_time(from)));
    }
    if let Some(to) = filter.to {
        conds.push("at < <datetime>$to");
        vars.insert("to".into(), json!(db_time(to)));
    }
    if let Some(after) = &filter.after {
        let uuid = uuid::Uuid::parse_str(after.trim()).map_err(|_| {
            DomainError::invalid("after", "is not an audit row id from a previous page")
        })?;
        conds.push("id < type::record('audit', <uuid>$after)");
        vars.insert("after".into(), json!(uuid.to_string()));
    }
    vars.insert("limit".into(), json!(filter.limit.clamp(1, 500)));
    let condition = if conds.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conds.join(" AND "))
    };
    let sql = format!("SELECT *, <string>record::id(id) AS id FROM audit {condition} ORDER BY id DESC LIMIT $limit");
    Ok(ctx.store.run(&sql, Value::Object(vars)).await?.rows(0)?)
}

#[derive(Debug, Clone, Serialize)]
pub struct TimelineItem {
    pub at: DateTime<Utc>,
    /// change, follow_up, call, note or message.
    pub kind: String,
    pub actor: Option<String>,
    pub summary: String,
    pub details: Value,
}

/// Everything that happened to a lead, newest first.
pub async fn lead_timeline(
    ctx: &Ctx,
    actor: &Actor,
    lead_id: &str,
    limit: usize,
) -> DomainResult<Vec<TimelineItem>> {
    let lead = load_visible(ctx, actor, lead_id, true).await?;
    let limit = limit.clamp(1, 500);
    let results = ctx
        .store
        .run(
            "SELECT * FROM audit WHERE subject = $lead AND entity NOT IN ['follow_up', 'call']
                AND (entity != $note_entity OR action != 'create') ORDER BY at DESC LIMIT $limit;
             SELECT * FROM follow_up_history WHERE lead = $lead ORDER BY at DESC LIMIT $limit;
             SELECT * FROM call WHERE lead = $lead ORDER BY at DESC LIMIT $limit;
             LET $rooms = (SELECT VALUE record::id(id) FROM room WHERE subject_kind = 'lead' AND subject_id = $lead);
             LET $mine = (SELECT VALUE room FROM room_member WHERE user = $me AND room IN $rooms);
             SELECT * FROM message WHERE room IN $mine AND deleted_at IS NONE ORDER BY created_at DESC LIMIT $limit;
             SELECT *, record::id(id) AS id FROM lead_note WHERE lead = $lead ORDER BY sort_key DESC LIMIT $limit;",
            json!({"lead": lead.id, "limit": limit, "me": actor.user_id, "note_entity": notes::AUDIT_ENTITY}),
        )
        .await?;
    let mut items = Vec::new();
    for row in results.rows::<Value>(0)? {
        let (entity, action) = (
            row["entity"].as_str().unwrap_or(""),
            row["action"].as_str().unwrap_or(""),
        );
        let summary = match row["field"].as_str() {
            Some(field) => format!(
                "{entity} {action}: {field} {} → {}",
                row["old"].as_str().unwrap_or("∅"),
                row["new"].as_str().unwrap_or("∅")
            ),
            None => format!("{entity} {action}"),
        };
        items.push(item(
            &row,
            "at",
            "change",
            row["actor_name"].as_str(),
            summary,
        ));
    }
    for row in results.rows::<Value>(1)? {
        let summary = format!(
            "follow-up {}: {}{}",
            row["tier"],
            row["outcome"].as_str().unwrap_or(""),
            row["notes"]
                .as_str()
                .filter(|n| !n.is_empty())
                .map(|n| format!(" — {n}"))
                .unwrap_or_default()
        );
        items.push(item(
            &row,
            "at",
            "follow_up",
            row["by_name"].as_str(),
            summary,
        ));
    }
    for row in results.rows::<Value>(2)? {
        let summary = format!(
            "call: {} ({} s){}",
            row["outcome"].as_str().unwrap_or(""),
            row["duration_seconds"],
            row["notes"]
                .as_str()
                .filter(|n| !n.is_empty())
                .map(|n| format!(" — {n}"))
                .unwrap_or_default()
        );
        items.push(item(&row, "at", "call", row["user_name"].as_str(), summary));
    }
    // A note is its own entry; its edits and deletion stay changes.
    for row in results.rows::<Value>(6)? {
        let summary = format!("note: {}", row["text"].as_str().unwrap_or(""));
        items.push(item(
            &row,
            "created_at",
            "note",
            row["author_name"].as_str(),
            summary,
        ));
    }
    // The lead's discussion rooms, those the actor is in.
    for row in results.rows::<Value>(5)? {
        let summary = format!("discussion: {}", row["body"].as_str().unwrap_or(""));
        items.push(item(
            &row,
            "created_at",
            "message",
            row["author_name"].as_str(),
            summary,
        ));
    }
    items.sort_by_key(|item| std::cmp::Reverse(item.at));
    items.truncate(limit);
    Ok(items)
}

fn item(
    row: &Value,
    at_field: &str,
    kind: &str,
    actor: Option<&str>,
    summary: String,
) -> TimelineItem {
    let mut details = row.clone();
    if let Value::Object(map) = &mut details {
        map.remove("id");
    }
    TimelineItem {
        at: serde_json::from_value(row[at_field].clone()).unwrap_or_default(),
        kind: kind.into(),
        actor: actor.map(str::to_string),
        summary,
        details,
    }
}
