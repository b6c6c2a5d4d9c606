//! Files attached to a task, or to one of its comments. The bytes go
//! through the same store as the chat hub's files (typed by content,
//! random names, thumbnails, the size limit), but programs and scripts are
//! refused: these are work files other people open.
//!
//! Whoever can read the task (`tasks.read`) can list and download its
//! files; `tasks.write` attaches (to a comment: only its author); the
//! uploader or whoever may edit the task removes one. Attaching and
//! removing each write a task audit row in the same transaction as the
//! file's record.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::task::{self, audience, may_edit};
use crate::domain::actor::Actor;
use crate::domain::audit::{self, FieldChange};
use crate::domain::clock::db_time;
use crate::domain::crm::outgoing::Outgoing;
use crate::domain::cursor::{Page, TimeOrder};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::events::Event;
use crate::domain::permissions::Permission;
use crate::domain::uploads::{self, Accept, FileStore};
use crate::domain::{tokens, Ctx};
use crate::store::Transaction;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskFile {
    pub id: String,
    pub task: String,
    /// The comment it was attached to, if any.
    pub comment: Option<String>,
    pub uploader: String,
    /// The name the uploader gave, cleaned; only ever shown.
    pub name: String,
    pub stored_name: String,
    pub content_type: String,
    pub size: i64,
    pub thumbnail_name: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl TaskFile {
    pub fn is_safe_image(&self) -> bool {
        uploads::is_safe_image(&self.content_type)
    }

    /// What the audit trail says about the file.
    fn audit_value(&self) -> serde_json::Value {
        json!({"id": self.id, "name": self.name, "content_type": self.content_type,
               "size": self.size, "comment": self.comment})
    }
}

pub struct Attachment {
    pub task: String,
    pub comment: Option<String>,
    pub name: Option<String>,
    pub bytes: Vec<u8>,
}

const SELECT_FILE: &str = "SELECT *, record::id(id) AS id FROM";

async fn find(ctx: &Ctx, task_id: &str, id: &str) -> DomainResult<TaskFile> {
    let file: Option<TaskFile> = ctx
        .store
        .run(
            &format!("{SELECT_FILE} ONLY type::record('task_file', $id)"),
            json!({"id": id}),
        )
        .await?
        .first(0)?;
    // A file reached through another task's path does not exist there.
    file.filter(|f| f.task == task_id)
        .ok_or(DomainError::NotFound("file"))
}

/// The order of a task's files: oldest first, on the `task_file_task` index.
const FILE_ORDER: TimeOrder = TimeOrder::oldest_first("task_file", "created_at");

/// The task's files, oldest first, a page at a time (`limit` 1 to 200).
pub async fn list(
    ctx: &Ctx,
    actor: &Actor,
    task_id: &str,
    after: Option<&str>,
    limit: usize,
) -> DomainResult<Page<TaskFile>> {
    let task = task::get(ctx, actor, task_id).await?;
    FILE_ORDER
        .page(
            &ctx.store,
            &format!("{SELECT_FILE} task_file"),
            &["task = $task"],
            json!({"task": task.id}),
            after,
            limit,
            |f: &TaskFile| (f.created_at, &f.id),
        )
        .await
}

/// Checks that the comment is on this task and the actor wrote it.
async fn own_comment(ctx: &Ctx, actor: &Actor, task_id: &str, comment: &str) -> DomainResult<()> {
    let author: Option<String> = ctx
        .store
        .run(
            "SELECT VALUE author FROM ONLY type::record('task_comment', $id) WHERE task = $task",
            json!({"id": comment, "task": task_id}),
        )
        .await?
        .first(0)?;
    match author {
        None => Err(DomainError::NotFound("comment")),
        Some(a) if a == actor.user_id => Ok(()),
        Some(_) => Err(DomainError::invalid(
            "comment",
            "files can only be attached to your own comments",
        )),
    }
}

pub async fn attach(
    ctx: &Ctx,
    actor: &Actor,
    store: FileStore<'_>,
    input: Attachment,
) -> DomainResult<TaskFile> {
    actor.require_any(&[Permission::TasksWrite, Permission::TasksManage])?;
    let task = task::get(ctx, actor, &input.task).await?;
    // Files become part of the task: only those who may edit it add them.
    may_edit(actor, &task)?;
    let comment = input
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    if let Some(c) = &comment {
        own_comment(ctx, actor, &task.id, c).await?;
    }
    let saved = uploads::save(
        &store,
        Accept::NoPrograms,
        input.name.as_deref(),
        input.bytes,
    )
    .await?;
    let now = ctx.now();
    let file = TaskFile {
        id: tokens::new_id(),
        task: task.id.clone(),
        comment,
        uploader: actor.user_id.clone(),
        name: saved.name,
        stored_name: saved.stored_name,
        content_type: saved.content_type,
        size: saved.size,
        thumbnail_name: saved.thumbnail_name,
        created_at: now,
    };
    let mut tx = Transaction::new();
    tx.bind("file", &file).bind("now", db_time(now));
    tx.push(
        "CREATE type::record('task_file', $file.id) SET task = $file.task, comment = $file.comment,
            uploader = $file.uploader, name = $file.name, stored_name = $file.stored_name,
            content_type = $file.content_type, size = $file.size,
            thumbnail_name = $file.thumbnail_name, created_at = <datetime>$now",
    );
    audit::record(
        &mut tx,
        actor,
        "task",
        &task.id,
        "attach_file",
        &[FieldChange::new("file", None, Some(file.audit_value()))],
        now,
    );
    let mut out = Outgoing::new();
    out.add(Event::new(
        "task.file_attached",
        audience(&task),
        json!({"task_id": task.id, "title": task.title, "file": public(&file), "by": actor.user_id}),
    ));
    if let Err(e) = out.commit(ctx, tx).await {
        uploads::remove(store.dir, &file.stored_name, file.thumbnail_name.as_deref()).await;
        return Err(e);
    }
    Ok(file)
}

/// The file as events show it: no stored names.
fn public(file: &TaskFile) -> serde_json::Value {
    json!({"id": file.id, "comment": file.comment, "uploader": file.uploader, "name": file.name,
           "content_type": file.content_type, "size": file.size, "created_at": file.created_at})
}

pub async fn remove(
    ctx: &Ctx,
    actor: &Actor,
    dir: &Path,
    task_id: &str,
    id: &str,
) -> DomainResult<TaskFile> {
    let task = task::get(ctx, actor, task_id).await?;
    let file = find(ctx, &task.id, id).await?;
    if file.uploader != actor.user_id {
        may_edit(actor, &task)?;
    }
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("id", &file.id);
    tx.push("DELETE type::record('task_file', $id)");
    audit::record(
        &mut tx,
        actor,
        "task",
        &task.id,
        "remove_file",
        &[FieldChange::new("file", Some(file.audit_value()), None)],
        now,
    );
    let mut out = Outgoing::new();
    out.add(Event::new(
        "task.file_removed",
        audience(&task),
        json!({"task_id": task.id, "title": task.title, "file": public(&file), "by": actor.user_id}),
    ));
    out.commit(ctx, tx).await?;
    // The record is gone, so nothing points at the bytes any more.
    uploads::remove(dir, &file.stored_name, file.thumbnail_name.as_deref()).await;
    Ok(file)
}

/// A task's file and where its bytes (or thumbnail) are, for anyone who
/// can read the task.
pub async fn open(
    ctx: &Ctx,
    actor: &Actor,
    dir: &Path,
    task_id: &str,
    id: &str,
    thumbnail: bool,
) -> DomainResult<(TaskFile, PathBuf)> {
    let task = task::get(ctx, actor, task_id).await?;
    let file = find(ctx, &task.id, id).await?;
    let path = uploads::path_of(
        dir,
        &file.stored_name,
        file.thumbnail_name.as_deref(),
        thumbnail,
    )?;
    Ok((file, path))
}
