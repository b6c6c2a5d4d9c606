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
use crate::domain::audit_text::{self, ChangeText, Described, Names};
use crate::domain::clock::db_time;
use crate::domain::cursor::{self, Page};
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
    /// The `next_cursor` of the previous page (or, as before cursors, the
    /// id of its last row).
    pub after: Option<String>,
    pub limit: usize,
}

/// The audit row id an `after` names: a cursor from `audit_log`, or the
/// bare row id that pages were continued with before (deprecated).
fn audit_after(raw: &str) -> DomainResult<uuid::Uuid> {
    if let Ok(id) = uuid::Uuid::parse_str(raw.trim()) {
        return Ok(id);
    }
    uuid::Uuid::parse_str(&cursor::decode(raw)?).map_err(|_| cursor::not_a_cursor())
}

/// Audit rows, newest first (`audit.read`), a page at a time: the row ids
/// are UUIDv7, so id order is time order and a page is a range scan of
/// the table from the cursor.
pub async fn audit_log(
    ctx: &Ctx,
    actor: &Actor,
    filter: AuditFilter,
) -> DomainResult<Page<AuditRow>> {
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
        let uuid = audit_after(after)?;
        conds.push("id < type::record('audit', <uuid>$after)");
        vars.insert("after".into(), json!(uuid.to_string()));
    }
    let limit = filter.limit.clamp(1, 500);
    vars.insert("limit".into(), json!(limit + 1));
    let condition = if conds.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conds.join(" AND "))
    };
    let sql = format!("SELECT *, <string>record::id(id) AS id FROM audit {condition} ORDER BY id DESC LIMIT $limit");
    let rows: Vec<AuditRow> = ctx.store.run(&sql, Value::Object(vars)).await?.rows(0)?;
    Ok(Page::from_one_more(rows, limit, |row| {
        cursor::encode(&row.id)
    }))
}

/// The names the audit rows refer to: people and leads by id, statuses and
/// roles by key. One query each, whatever the number of rows.
pub async fn names_for(ctx: &Ctx, rows: &[AuditRow]) -> DomainResult<Names> {
    names_with(ctx, rows, Vec::new()).await
}

/// Like `names_for`, also naming the people in `more_users`.
async fn names_with(ctx: &Ctx, rows: &[AuditRow], more_users: Vec<String>) -> DomainResult<Names> {
    let (mut users, leads) = audit_text::wanted_ids(rows);
    users.extend(more_users);
    users.sort();
    users.dedup();
    let results = ctx
        .store
        .run(
            "SELECT record::id(id) AS id, display_name AS name FROM array::map($users, |$u| type::record('user', $u))
                WHERE id IS NOT NONE;
             SELECT record::id(id) AS id, company_name AS name FROM array::map($leads, |$l| type::record('lead', $l))
                WHERE id IS NOT NONE;
             SELECT record::id(id) AS id, name FROM pipeline_status;
             SELECT record::id(id) AS id, name FROM role;",
            json!({"users": users, "leads": leads}),
        )
        .await?;
    let pairs = |i: usize| -> DomainResult<std::collections::HashMap<String, String>> {
        Ok(results
            .rows::<Value>(i)?
            .into_iter()
            .filter_map(|r| {
                Some((
                    r["id"].as_str()?.to_string(),
                    r["name"].as_str()?.to_string(),
                ))
            })
            .collect())
    };
    Ok(Names {
        users: pairs(0)?,
        leads: pairs(1)?,
        statuses: pairs(2)?,
        roles: pairs(3)?,
    })
}

/// Audit rows, each with its sentence (see `audit_text`).
pub async fn describe_rows(
    ctx: &Ctx,
    rows: Vec<AuditRow>,
) -> DomainResult<Vec<(AuditRow, Described)>> {
    let names = names_for(ctx, &rows).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let d = audit_text::describe(&r, &names);
            (r, d)
        })
        .collect())
}

#[derive(Debug, Clone, Serialize)]
pub struct TimelineItem {
    pub at: DateTime<Utc>,
    /// change, follow_up, call, note or message.
    pub kind: String,
    pub actor: Option<String>,
    /// A sentence with names, e.g. "Anna changed the status of Acme GmbH
    /// from New to Contacted".
    pub summary: String,
    /// For a change: each field with its readable value before and after.
    pub changes: Vec<ChangeText>,
    pub details: Value,
    /// The stored row's id: with `at` and `kind`, the item's place in the
    /// timeline, which its cursor holds.
    #[serde(skip)]
    pub row_id: String,
}

impl TimelineItem {
    /// The timeline's order, newest first: time, then kind, then row id.
    fn place(&self) -> (DateTime<Utc>, &str, &str) {
        (self.at, &self.kind, &self.row_id)
    }

    fn cursor(&self) -> String {
        cursor::encode_at(self.at, &format!("{}:{}", self.kind, self.row_id))
    }
}

/// Where a timeline page starts: after the item a cursor names.
struct TimelineAfter {
    at: DateTime<Utc>,
    kind: String,
    row_id: String,
}

impl TimelineAfter {
    fn decode(raw: &str) -> DomainResult<TimelineAfter> {
        let (at, place) = cursor::decode_at(raw)?;
        let (kind, row_id) = place
            .split_once(':')
            .filter(|(kind, id)| TIMELINE_KINDS.contains(kind) && !id.is_empty())
            .ok_or_else(cursor::not_a_cursor)?;
        Ok(TimelineAfter {
            at,
            kind: kind.to_string(),
            row_id: row_id.to_string(),
        })
    }

    /// The condition on one source's rows (of `kind`, timed by `at_field`)
    /// that keeps those after the cursor in the timeline's order; binds
    /// `$after_at` and `$after_id`.
    fn condition(&self, kind: &str, at_field: &str) -> String {
        let at = format!("{at_field} < <datetime>$after_at");
        let tie = format!("{at_field} = <datetime>$after_at");
        match kind.cmp(self.kind.as_str()) {
            std::cmp::Ordering::Less => format!(" AND ({at} OR {tie})"),
            std::cmp::Ordering::Greater => format!(" AND {at}"),
            std::cmp::Ordering::Equal => {
                format!(" AND ({at} OR ({tie} AND <string>record::id(id) < $after_id))")
            }
        }
    }
}

/// The kinds of timeline item, in the order they take at the same time.
const TIMELINE_KINDS: [&str; 5] = ["call", "change", "follow_up", "message", "note"];

/// Everything that happened to a lead, newest first, a page at a time.
/// Each source (changes, follow-ups, calls, notes, the discussion) is read
/// by its lead index from the cursor on, at most a page and one more of
/// each; merged, the first page of them is the answer.
pub async fn lead_timeline(
    ctx: &Ctx,
    actor: &Actor,
    lead_id: &str,
    after: Option<&str>,
    limit: usize,
) -> DomainResult<Page<TimelineItem>> {
    let after = after.map(TimelineAfter::decode).transpose()?;
    let lead = load_visible(ctx, actor, lead_id, true).await?;
    let limit = limit.clamp(1, 500);
    let from = |kind: &str, at_field: &str| {
        after
            .as_ref()
            .map(|a| a.condition(kind, at_field))
            .unwrap_or_default()
    };
    let sql = format!(
        "SELECT *, <string>record::id(id) AS row_id FROM audit WHERE subject = $lead AND entity NOT IN ['follow_up', 'call']
            AND (entity != $note_entity OR action != 'create'){changes} ORDER BY at DESC, id DESC LIMIT $limit;
         SELECT *, <string>record::id(id) AS row_id FROM follow_up_history WHERE lead = $lead{follow_ups} ORDER BY at DESC, id DESC LIMIT $limit;
         SELECT *, <string>record::id(id) AS row_id FROM call WHERE lead = $lead{calls} ORDER BY at DESC, id DESC LIMIT $limit;
         LET $rooms = (SELECT VALUE record::id(id) FROM room WHERE subject_kind = 'lead' AND subject_id = $lead);
         LET $mine = (SELECT VALUE room FROM room_member WHERE user = $me AND room IN $rooms);
         SELECT *, <string>record::id(id) AS row_id FROM message WHERE room IN $mine AND deleted_at IS NONE{messages}
            ORDER BY created_at DESC, id DESC LIMIT $limit;
         SELECT *, record::id(id) AS id FROM lead_note WHERE lead = $lead{notes}
            ORDER BY created_at DESC, id DESC LIMIT $limit;",
        changes = from("change", "at"),
        follow_ups = from("follow_up", "at"),
        calls = from("call", "at"),
        messages = from("message", "created_at"),
        notes = from("note", "created_at"),
    );
    let results = ctx
        .store
        .run(
            &sql,
            json!({
                "lead": lead.id, "limit": limit + 1, "me": actor.user_id,
                "note_entity": notes::AUDIT_ENTITY,
                "after_at": after.as_ref().map(|a| db_time(a.at)),
                "after_id": after.as_ref().map(|a| a.row_id.clone()),
            }),
        )
        .await?;
    let mut items = Vec::new();
    let raw_changes = results.rows::<Value>(0)?;
    let audit_rows: Vec<AuditRow> = raw_changes
        .iter()
        .map(|row| {
            let mut row = row.clone();
            if let Value::Object(map) = &mut row {
                map.insert("id".into(), json!(""));
            }
            serde_json::from_value(row)
        })
        .collect::<Result<_, _>>()
        .map_err(|e| DomainError::Internal(format!("an audit row did not read back: {e}")))?;
    let follow_ups = results.rows::<Value>(1)?;
    let calls = results.rows::<Value>(2)?;
    // Follow-ups and calls keep who logged them by id and username; people
    // read display names.
    let loggers: Vec<String> = follow_ups
        .iter()
        .filter_map(|r| r["by"].as_str())
        .chain(calls.iter().filter_map(|r| r["user"].as_str()))
        .map(str::to_string)
        .collect();
    let mut names = names_with(ctx, &audit_rows, loggers).await?;
    let person = |id: &Value, recorded: &Value| -> String {
        id.as_str()
            .and_then(|id| names.users.get(id))
            .map(String::as_str)
            .or(recorded.as_str())
            .unwrap_or("Someone")
            .to_string()
    };
    names
        .leads
        .insert(lead.id.clone(), lead.company_name.clone());
    for (row, audit_row) in raw_changes.iter().zip(&audit_rows) {
        let described = audit_text::describe(audit_row, &names);
        let mut it = item(
            row,
            "at",
            "change",
            Some(&described.actor),
            described.sentence,
        );
        it.changes = described.changes;
        items.push(it);
    }
    let company = lead.company_name.clone();
    for row in follow_ups {
        let who = person(&row["by"], &row["by_name"]);
        let summary = format!(
            "{who} logged follow-up {} on {company}: {}{}",
            row["tier"],
            row["outcome"].as_str().unwrap_or(""),
            row["notes"]
                .as_str()
                .filter(|n| !n.is_empty())
                .map(|n| format!(" — {n}"))
                .unwrap_or_default()
        );
        items.push(item(&row, "at", "follow_up", Some(&who), summary));
    }
    for row in calls {
        let who = person(&row["user"], &row["user_name"]);
        let summary = format!(
            "{who} called {company}: {} ({} s){}",
            row["outcome"].as_str().unwrap_or(""),
            row["duration_seconds"],
            row["notes"]
                .as_str()
                .filter(|n| !n.is_empty())
                .map(|n| format!(" — {n}"))
                .unwrap_or_default()
        );
        items.push(item(&row, "at", "call", Some(&who), summary));
    }
    // A note is its own entry; its edits and deletion stay changes.
    for row in results.rows::<Value>(6)? {
        let summary = format!(
            "{} added a note: {}",
            row["author_name"].as_str().unwrap_or("Someone"),
            row["text"].as_str().unwrap_or("")
        );
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
        let summary = format!(
            "{} wrote in the discussion: {}",
            row["author_name"].as_str().unwrap_or("Someone"),
            row["body"].as_str().unwrap_or("")
        );
        items.push(item(
            &row,
            "created_at",
            "message",
            row["author_name"].as_str(),
            summary,
        ));
    }
    items.sort_by(|a, b| b.place().cmp(&a.place()));
    Ok(Page::from_one_more(items, limit, TimelineItem::cursor))
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
        map.remove("row_id");
    }
    TimelineItem {
        // A note's row has its plain id already (the answer shows it).
        row_id: row["row_id"]
            .as_str()
            .or(row["id"].as_str())
            .unwrap_or_default()
            .to_string(),
        at: serde_json::from_value(row[at_field].clone()).unwrap_or_default(),
        kind: kind.into(),
        actor: actor.map(str::to_string),
        summary,
        changes: Vec::new(),
        details,
    }
}

/// The most rows one audit export holds; narrow the filter for more.
pub const AUDIT_EXPORT_MAX: usize = 10_000;

/// The audit rows a filter selects (newest first, at most
/// `AUDIT_EXPORT_MAX`) as CSV with a header: when, who, channel, the
/// sentence, then the raw entity, id, field and readable before/after, so a
/// spreadsheet reads it and a script can still join on ids (`audit.read`).
pub async fn audit_csv(ctx: &Ctx, actor: &Actor, filter: AuditFilter) -> DomainResult<Vec<u8>> {
    actor.require(Permission::AuditRead)?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| DomainError::Internal(format!("audit csv: {e}"));
    out.write_record([
        "at",
        "actor",
        "channel",
        "sentence",
        "entity",
        "entity_id",
        "action",
        "field",
        "before",
        "after",
    ])
    .map_err(csv_err)?;
    let mut after = filter.after.clone();
    let mut written = 0;
    while written < AUDIT_EXPORT_MAX {
        let page = AuditFilter {
            after: after.clone(),
            limit: 500.min(AUDIT_EXPORT_MAX - written),
            ..filter.clone()
        };
        let Page {
            items: rows,
            next_cursor,
        } = audit_log(ctx, actor, page).await?;
        let full = next_cursor.is_some();
        after = next_cursor;
        written += rows.len();
        for (row, d) in describe_rows(ctx, rows).await? {
            let change = d.changes.first();
            out.write_record([
                row.at.to_rfc3339(),
                d.actor.clone(),
                row.channel.clone(),
                d.sentence.clone(),
                row.entity.clone(),
                row.entity_id.clone(),
                row.action.clone(),
                row.field.clone().unwrap_or_default(),
                change.and_then(|c| c.before.clone()).unwrap_or_default(),
                change.and_then(|c| c.after.clone()).unwrap_or_default(),
            ])
            .map_err(csv_err)?;
        }
        if !full {
            break;
        }
    }
    out.into_inner()
        .map_err(|e| DomainError::Internal(format!("audit csv: {e}")))
}
