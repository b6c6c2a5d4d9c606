//! Creating, reading and changing one task: the permission rules, the
//! workflow's side effects (started, completed, cycle time, on time), and
//! what each change tells the world.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::checklist::{self, ChecklistInput, ChecklistItem};
use super::workflow;
use crate::domain::actor::Actor;
use crate::domain::audit::{self, AuditRow};
use crate::domain::chat::notification_settings;
use crate::domain::chat::notifications::{self, Notification};
use crate::domain::clock::db_time;
use crate::domain::crm::leads;
use crate::domain::crm::outgoing::Outgoing;
use crate::domain::cursor::{Page, TimeOrder};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::events::{Audience, Event};
use crate::domain::permissions::Permission;
use crate::domain::{tokens, Ctx};
use crate::store::Transaction;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
}

impl FromStr for Priority {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "low" => Ok(Priority::Low),
            "normal" => Ok(Priority::Normal),
            "high" => Ok(Priority::High),
            "urgent" => Ok(Priority::Urgent),
            _ => Err(DomainError::invalid(
                "priority",
                "use low, normal, high or urgent",
            )),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Task {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub task_type: String,
    pub priority: Priority,
    pub status: String,
    pub is_open: bool,
    /// The client: a lead id.
    pub lead: Option<String>,
    pub assignee: Option<String>,
    #[serde(default)]
    pub watchers: Vec<String>,
    pub created_by: String,
    pub due_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub estimate_minutes: i64,
    #[serde(default)]
    pub logged_minutes: i64,
    #[serde(default)]
    pub checklist: Vec<ChecklistItem>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub cycle_seconds: Option<i64>,
    pub on_time: Option<bool>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub(crate) const SELECT_TASK: &str = "SELECT *, record::id(id) AS id FROM";

/// A due date far enough away that undated tasks sort after every dated one.
const NO_DUE: &str = "9999-12-31T00:00:00Z";

pub(crate) fn sort_due(task: &Task) -> String {
    let due = task
        .due_at
        .map(db_time)
        .unwrap_or_else(|| NO_DUE.to_string());
    format!("{due}|{}", task.id)
}

pub(crate) async fn find(ctx: &Ctx, id: &str) -> DomainResult<Option<Task>> {
    Ok(ctx
        .store
        .run(
            &format!("{SELECT_TASK} ONLY type::record('task', $id)"),
            json!({"id": id}),
        )
        .await?
        .first(0)?)
}

pub async fn get(ctx: &Ctx, actor: &Actor, id: &str) -> DomainResult<Task> {
    actor.require(Permission::TasksRead)?;
    find(ctx, id).await?.ok_or(DomainError::NotFound("task"))
}

/// Whether the actor may edit this task at all.
pub(crate) fn may_edit(actor: &Actor, task: &Task) -> DomainResult<()> {
    if actor.can(Permission::TasksManage) {
        return Ok(());
    }
    actor.require(Permission::TasksWrite)?;
    let mine = task.assignee.as_deref() == Some(&actor.user_id) || task.created_by == actor.user_id;
    if mine {
        Ok(())
    } else {
        Err(DomainError::Forbidden(Permission::TasksManage.key().into()))
    }
}

fn text(field: &'static str, raw: &str, max: usize, required: bool) -> DomainResult<String> {
    let t = raw.trim();
    if required && t.is_empty() {
        return Err(DomainError::invalid(field, "is required"));
    }
    if t.chars().count() > max {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(t.to_string())
}

fn task_type(raw: &str) -> DomainResult<String> {
    let t = raw.trim().to_ascii_lowercase();
    if t.is_empty()
        || t.len() > 40
        || !t
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(DomainError::invalid(
            "task_type",
            "1 to 40 of a-z, 0-9, _ and -",
        ));
    }
    Ok(t)
}

fn minutes(field: &'static str, m: i64) -> DomainResult<i64> {
    if !(0..=1_000_000).contains(&m) {
        return Err(DomainError::invalid(field, "must be 0 to 1000000 minutes"));
    }
    Ok(m)
}

async fn user_ids(ctx: &Ctx, raw: &[String], field: &'static str) -> DomainResult<Vec<String>> {
    if raw.len() > 50 {
        return Err(DomainError::invalid(field, "at most 50 users"));
    }
    let mut out = Vec::new();
    for r in raw {
        let id = leads::resolve_user(ctx, r, field).await?;
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Default)]
pub struct NewTask {
    pub title: String,
    pub description: Option<String>,
    pub task_type: String,
    pub priority: Option<String>,
    pub status: Option<String>,
    pub lead: Option<String>,
    /// A user id or username.
    pub assignee: Option<String>,
    pub watchers: Vec<String>,
    pub due_at: Option<DateTime<Utc>>,
    pub estimate_minutes: Option<i64>,
    pub checklist: Vec<ChecklistInput>,
}

/// A change to a task. `None`: leave as is; `Some(None)`: clear.
#[derive(Debug, Clone, Default)]
pub struct TaskPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub task_type: Option<String>,
    pub priority: Option<String>,
    pub status: Option<String>,
    pub lead: Option<Option<String>>,
    pub assignee: Option<Option<String>>,
    pub watchers: Option<Vec<String>>,
    pub due_at: Option<Option<DateTime<Utc>>>,
    pub estimate_minutes: Option<i64>,
    /// Time spent, added to what was logged before.
    pub log_minutes: Option<i64>,
    pub checklist: Option<Vec<ChecklistInput>>,
}

/// Applies the workflow's bookkeeping for a move to `status`.
async fn enter_status(
    ctx: &Ctx,
    task: &mut Task,
    status: &str,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let all = workflow::list_all(ctx).await?;
    let target = all
        .iter()
        .find(|s| s.key == status)
        .cloned()
        .ok_or_else(|| workflow_error(&all, status))?;
    let first = all.first().map(|s| s.key.as_str());
    task.status = target.key.clone();
    task.is_open = !target.is_closed;
    if task.started_at.is_none() && Some(target.key.as_str()) != first && !target.is_closed {
        task.started_at = Some(now);
    }
    if target.is_done {
        if task.completed_at.is_none() {
            let began = task.started_at.unwrap_or(task.created_at);
            task.completed_at = Some(now);
            task.cycle_seconds = Some((now - began).num_seconds().max(0));
            task.on_time = task.due_at.map(|due| now <= due);
        }
    } else {
        // Reopened or cancelled: it no longer counts as finished work.
        task.completed_at = None;
        task.cycle_seconds = None;
        task.on_time = None;
    }
    Ok(())
}

fn workflow_error(all: &[workflow::TaskStatus], status: &str) -> DomainError {
    let names: Vec<&str> = all.iter().map(|s| s.key.as_str()).collect();
    DomainError::invalid(
        "status",
        format!("`{status}`: use one of {}", names.join(", ")),
    )
}

fn push_write(tx: &mut Transaction, task: &Task) {
    let n = tx.next_serial();
    tx.bind(
        &format!("task_{n}"),
        json!({
            "id": task.id, "title": task.title, "description": task.description,
            "task_type": task.task_type, "priority": task.priority.as_str(), "status": task.status,
            "is_open": task.is_open, "lead": task.lead, "assignee": task.assignee,
            "watchers": task.watchers, "created_by": task.created_by,
            "due_at": task.due_at.map(db_time), "estimate_minutes": task.estimate_minutes,
            "logged_minutes": task.logged_minutes, "checklist": task.checklist,
            "started_at": task.started_at.map(db_time), "completed_at": task.completed_at.map(db_time),
            "cycle_seconds": task.cycle_seconds, "on_time": task.on_time,
            "created_at": db_time(task.created_at), "updated_at": db_time(task.updated_at),
            "sort_created": task.id, "sort_due": sort_due(task),
        }),
    );
    let t = format!("$task_{n}");
    let time = |f: &str| format!("{f} = IF {t}.{f} THEN <datetime>{t}.{f} ELSE NONE END");
    tx.push(format!(
        "UPSERT type::record('task', {t}.id) SET title = {t}.title, description = {t}.description,
            task_type = {t}.task_type, priority = {t}.priority, status = {t}.status, is_open = {t}.is_open,
            lead = {t}.lead, assignee = {t}.assignee, watchers = {t}.watchers, created_by = {t}.created_by,
            {}, estimate_minutes = {t}.estimate_minutes, logged_minutes = {t}.logged_minutes,
            checklist = {t}.checklist, {}, {}, cycle_seconds = {t}.cycle_seconds, on_time = {t}.on_time,
            created_at = <datetime>{t}.created_at, updated_at = <datetime>{t}.updated_at,
            sort_created = {t}.sort_created, sort_due = {t}.sort_due",
        time("due_at"),
        time("started_at"),
        time("completed_at"),
    ));
}

/// The fields the audit log compares.
fn audited(task: &Task) -> Value {
    json!({
        "title": task.title, "description": task.description, "task_type": task.task_type,
        "priority": task.priority.as_str(), "status": task.status, "lead": task.lead,
        "assignee": task.assignee, "watchers": task.watchers, "due_at": task.due_at,
        "estimate_minutes": task.estimate_minutes, "logged_minutes": task.logged_minutes,
        "checklist": task.checklist,
    })
}

/// Everyone a task's events are for: assignee, creator and watchers.
pub(crate) fn audience(task: &Task) -> Audience {
    let mut users: Vec<String> = task.watchers.clone();
    users.push(task.created_by.clone());
    users.extend(task.assignee.clone());
    users.sort();
    users.dedup();
    Audience::Users(users)
}

fn assignment_notice(actor: &Actor, task: &Task, now: DateTime<Utc>) -> Option<Notification> {
    let to = task.assignee.as_deref().filter(|a| *a != actor.user_id)?;
    Some(
        Notification::new(
            to,
            "task_assigned",
            None,
            None,
            &format!(
                "@{} assigned you the task \"{}\"",
                actor.username, task.title
            ),
            now,
        )
        .about_task(&task.id),
    )
}

pub async fn create(ctx: &Ctx, actor: &Actor, input: NewTask) -> DomainResult<Task> {
    actor.require(Permission::TasksWrite)?;
    let now = ctx.now();
    let assignee = match input
        .assignee
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        Some(raw) => Some(leads::resolve_user(ctx, raw, "assignee").await?),
        // A rep's own task is theirs; a manager's may wait for an assignee.
        None if actor.can(Permission::TasksManage) => None,
        None => Some(actor.user_id.clone()),
    };
    if assignee.as_deref().is_some_and(|a| a != actor.user_id) {
        actor.require(Permission::TasksManage)?;
    }
    let lead = match input
        .lead
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        Some(id) => Some(leads::load_visible(ctx, actor, id, false).await?.id),
        None => None,
    };
    let id = tokens::new_id();
    let mut task = Task {
        id: id.clone(),
        title: text("title", &input.title, 200, true)?,
        description: text(
            "description",
            input.description.as_deref().unwrap_or(""),
            10_000,
            false,
        )?,
        task_type: task_type(&input.task_type)?,
        priority: match input.priority.as_deref() {
            Some(p) => p.parse()?,
            None => Priority::Normal,
        },
        status: String::new(),
        is_open: true,
        lead,
        assignee,
        watchers: user_ids(ctx, &input.watchers, "watchers").await?,
        created_by: actor.user_id.clone(),
        due_at: input.due_at,
        estimate_minutes: minutes("estimate_minutes", input.estimate_minutes.unwrap_or(0))?,
        logged_minutes: 0,
        checklist: checklist::parse(input.checklist)?,
        started_at: None,
        completed_at: None,
        cycle_seconds: None,
        on_time: None,
        created_at: now,
        updated_at: now,
    };
    let status = match input
        .status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) => s.to_string(),
        None => workflow::list_all(ctx)
            .await?
            .first()
            .map(|s| s.key.clone())
            .ok_or_else(|| DomainError::Internal("the task workflow is empty".into()))?,
    };
    enter_status(ctx, &mut task, &status, now).await?;

    let mut tx = Transaction::new();
    push_write(&mut tx, &task);
    audit::record(
        &mut tx,
        actor,
        "task",
        &task.id,
        "create",
        &audit::created(&audited(&task)),
        now,
    );
    let mut notice: Vec<Notification> = assignment_notice(actor, &task, now).into_iter().collect();
    notification_settings::settle(ctx, &mut notice).await?;
    notifications::add_to(&mut tx, &notice);
    let mut out = Outgoing::new();
    out.add(Event::new(
        "task.created",
        audience(&task),
        json!({"task": task, "via": actor.channel}),
    ));
    if let Some(assignee) = &task.assignee {
        out.add(Event::new(
            "task.assigned",
            Audience::Users(vec![assignee.clone()]),
            json!({"task": task, "from": null, "to": assignee, "by": actor.user_id}),
        ));
    }
    out.commit(ctx, tx).await?;
    notifications::publish(ctx, &notice);
    Ok(task)
}

pub async fn update(ctx: &Ctx, actor: &Actor, id: &str, patch: TaskPatch) -> DomainResult<Task> {
    actor.require(Permission::TasksRead)?;
    let before = find(ctx, id).await?.ok_or(DomainError::NotFound("task"))?;
    may_edit(actor, &before)?;
    let now = ctx.now();
    let mut task = before.clone();
    if let Some(t) = &patch.title {
        task.title = text("title", t, 200, true)?;
    }
    if let Some(d) = &patch.description {
        task.description = text("description", d, 10_000, false)?;
    }
    if let Some(t) = &patch.task_type {
        task.task_type = task_type(t)?;
    }
    if let Some(p) = &patch.priority {
        task.priority = p.parse()?;
    }
    if let Some(lead) = &patch.lead {
        task.lead = match lead.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
            Some(l) => Some(leads::load_visible(ctx, actor, l, false).await?.id),
            None => None,
        };
    }
    if let Some(assignee) = &patch.assignee {
        task.assignee = match assignee.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
            Some(a) => Some(leads::resolve_user(ctx, a, "assignee").await?),
            None => None,
        };
        if task.assignee != before.assignee {
            // Handing work to someone else (or taking it away) is a manager's call.
            actor.require(Permission::TasksManage)?;
        }
    }
    if let Some(w) = &patch.watchers {
        task.watchers = user_ids(ctx, w, "watchers").await?;
    }
    if let Some(due) = patch.due_at {
        task.due_at = due;
    }
    if let Some(m) = patch.estimate_minutes {
        task.estimate_minutes = minutes("estimate_minutes", m)?;
    }
    if let Some(m) = patch.log_minutes {
        if m <= 0 {
            return Err(DomainError::invalid("log_minutes", "must be more than 0"));
        }
        task.logged_minutes = minutes("log_minutes", task.logged_minutes + m)?;
    }
    if let Some(items) = patch.checklist {
        task.checklist = checklist::parse(items)?;
    }
    if let Some(s) = patch.status.as_deref().map(str::trim) {
        if s != before.status {
            enter_status(ctx, &mut task, s, now).await?;
        }
    }
    let changes = audit::diff(&audited(&before), &audited(&task), &[]);
    if changes.is_empty() {
        return Ok(before);
    }
    task.updated_at = now;
    let reassigned = task.assignee != before.assignee;

    let mut tx = Transaction::new();
    push_write(&mut tx, &task);
    let action = if reassigned { "assign" } else { "update" };
    audit::record(&mut tx, actor, "task", &task.id, action, &changes, now);
    let mut notice: Vec<Notification> = if reassigned {
        assignment_notice(actor, &task, now).into_iter().collect()
    } else {
        Vec::new()
    };
    notification_settings::settle(ctx, &mut notice).await?;
    notifications::add_to(&mut tx, &notice);
    let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
    let mut out = Outgoing::new();
    out.add(Event::new(
        "task.updated",
        audience(&task),
        json!({"task": task, "fields": fields, "via": actor.channel}),
    ));
    if reassigned {
        if let Some(assignee) = &task.assignee {
            out.add(Event::new(
                "task.assigned",
                Audience::Users(vec![assignee.clone()]),
                json!({"task": task, "from": before.assignee, "to": assignee, "by": actor.user_id}),
            ));
        }
    }
    out.commit(ctx, tx).await?;
    notifications::publish(ctx, &notice);
    Ok(task)
}

/// The task's audit trail, newest first.
/// The order of a task's audit trail: newest first, on the `audit_entity`
/// index.
const HISTORY_ORDER: TimeOrder = TimeOrder::newest_first("audit", "at").with_uuid_ids();

/// The task's audit trail, newest first, a page at a time (`limit` 1 to
/// 200).
pub async fn history(
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
    after: Option<&str>,
    limit: usize,
) -> DomainResult<Page<AuditRow>> {
    let task = get(ctx, actor, id).await?;
    HISTORY_ORDER
        .page(
            &ctx.store,
            "SELECT *, <string>record::id(id) AS id FROM audit",
            &["entity = 'task'", "entity_id = $id"],
            json!({"id": task.id}),
            after,
            limit,
            |r: &AuditRow| (r.at, &r.id),
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_parse_in_any_case_and_others_are_refused() {
        assert_eq!("URGENT".parse::<Priority>().unwrap(), Priority::Urgent);
        assert!("asap".parse::<Priority>().is_err());
    }

    #[test]
    fn task_types_are_slugs() {
        assert_eq!(task_type(" Design ").unwrap(), "design");
        assert!(task_type("two words").is_err());
    }
}
