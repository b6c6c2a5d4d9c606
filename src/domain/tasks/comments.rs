//! Comments on a task. An @mention of a user leaves them a notification
//! (stored with the comment, pushed live after the commit), and everyone
//! following the task hears `task.commented`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::task::{self, audience};
use crate::domain::actor::Actor;
use crate::domain::audit::{self, FieldChange};
use crate::domain::chat::mentions;
use crate::domain::chat::notification_settings;
use crate::domain::chat::notifications::{self, Notification};
use crate::domain::clock::db_time;
use crate::domain::crm::outgoing::Outgoing;
use crate::domain::cursor::{Page, TimeOrder};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::events::{Audience, Event};
use crate::domain::permissions::Permission;
use crate::domain::{tokens, users, Ctx};
use crate::store::Transaction;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Comment {
    pub id: String,
    pub task: String,
    pub author: String,
    pub author_name: String,
    pub body: String,
    #[serde(default)]
    pub mentions: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// The order of a task's comments: oldest first, on the `task_comment_task`
/// index.
const COMMENT_ORDER: TimeOrder = TimeOrder::oldest_first("task_comment", "created_at");

/// The task's comments, oldest first, a page at a time (`limit` 1 to 200).
pub async fn list(
    ctx: &Ctx,
    actor: &Actor,
    task_id: &str,
    after: Option<&str>,
    limit: usize,
) -> DomainResult<Page<Comment>> {
    let task = task::get(ctx, actor, task_id).await?;
    COMMENT_ORDER
        .page(
            &ctx.store,
            "SELECT *, record::id(id) AS id FROM task_comment",
            &["task = $task"],
            json!({"task": task.id}),
            after,
            limit,
            |c: &Comment| (c.created_at, &c.id),
        )
        .await
}

pub async fn add(ctx: &Ctx, actor: &Actor, task_id: &str, body: &str) -> DomainResult<Comment> {
    actor.require_any(&[Permission::TasksWrite, Permission::TasksManage])?;
    let task = task::get(ctx, actor, task_id).await?;
    let body = body.trim();
    if body.is_empty() || body.chars().count() > 10_000 {
        return Err(DomainError::invalid("body", "1 to 10000 characters"));
    }
    let now = ctx.now();
    // Only real, active users are notified; unknown names stay plain text.
    let mut mentioned: Vec<String> = Vec::new();
    for name in mentions::parse(body).usernames {
        if let Some(user) = users::find_by_username(ctx, &name).await? {
            if user.user.active
                && user.user.id != actor.user_id
                && !mentioned.contains(&user.user.id)
            {
                mentioned.push(user.user.id);
            }
        }
    }
    let comment = Comment {
        id: tokens::new_id(),
        task: task.id.clone(),
        author: actor.user_id.clone(),
        author_name: actor.username.clone(),
        body: body.to_string(),
        mentions: mentioned.clone(),
        created_at: now,
    };
    let mut notices: Vec<Notification> = mentioned
        .iter()
        .map(|user| {
            Notification::new(
                user,
                "mention",
                None,
                None,
                &format!(
                    "@{} mentioned you on the task \"{}\": {}",
                    actor.username, task.title, body
                ),
                now,
            )
        })
        .collect();
    let mut tx = Transaction::new();
    tx.bind("comment", &comment).bind("now", db_time(now));
    tx.push(
        "CREATE type::record('task_comment', $comment.id) SET task = $comment.task, author = $comment.author,
            author_name = $comment.author_name, body = $comment.body, mentions = $comment.mentions,
            created_at = <datetime>$now",
    );
    audit::record(
        &mut tx,
        actor,
        "task",
        &task.id,
        "comment",
        &[FieldChange::new("comment", None, Some(json!(comment.body)))],
        now,
    );
    notification_settings::settle(ctx, &mut notices).await?;
    notifications::add_to(&mut tx, &notices);
    let mut people = match audience(&task) {
        Audience::Users(u) => u,
        _ => Vec::new(),
    };
    people.extend(mentioned);
    people.sort();
    people.dedup();
    let mut out = Outgoing::new();
    out.add(Event::new(
        "task.commented",
        Audience::Users(people),
        json!({"task_id": task.id, "title": task.title, "comment": comment}),
    ));
    out.commit(ctx, tx).await?;
    notifications::publish(ctx, &notices);
    Ok(comment)
}
