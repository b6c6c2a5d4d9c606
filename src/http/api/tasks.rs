//! `/tasks`: production tasks, their board, comments, audit trail, the
//! status workflow and the assignee suggestion.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::{MaybeUndefined, ToJSON};
use poem_openapi::{Object, OpenApi};

use super::transfer::AuditPage;
use super::ApiTags;
use crate::domain::crm::timeline;
use crate::domain::cursor::Page;
use crate::domain::tasks::checklist::{ChecklistInput, ChecklistItem};
use crate::domain::tasks::comments::{self, Comment};
use crate::domain::tasks::queries::{self, BoardColumn, Due, TaskFilter, TaskPage, TaskSort};
use crate::domain::tasks::suggest::{self, Candidate};
use crate::domain::tasks::task::{self as tasks, NewTask, TaskPatch};
use crate::domain::tasks::workflow::{self, NewTaskStatus, TaskStatus};
use crate::domain::tasks::Task;
use crate::http::auth::Auth;
use crate::http::error::ApiResult;
use crate::http::idempotency::{self, Idempotent, KeyHeader};
use crate::http::query_params::query_params;
use crate::http::AppState;

pub struct TasksApi;

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ChecklistItemView {
    /// Absent on a new item; kept across edits.
    pub id: Option<String>,
    pub text: String,
    #[oai(default)]
    pub done: bool,
}

impl From<ChecklistItem> for ChecklistItemView {
    fn from(c: ChecklistItem) -> Self {
        ChecklistItemView {
            id: Some(c.id),
            text: c.text,
            done: c.done,
        }
    }
}

impl From<ChecklistItemView> for ChecklistInput {
    fn from(c: ChecklistItemView) -> Self {
        ChecklistInput {
            id: c.id,
            text: c.text,
            done: c.done,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct TaskView {
    pub id: String,
    pub title: String,
    pub description: String,
    pub task_type: String,
    /// low, normal, high or urgent.
    pub priority: String,
    /// A workflow status key.
    pub status: String,
    pub is_open: bool,
    /// The client lead's id.
    pub lead: Option<String>,
    pub assignee: Option<String>,
    pub watchers: Vec<String>,
    pub created_by: String,
    pub due_at: Option<DateTime<Utc>>,
    pub estimate_minutes: i64,
    pub logged_minutes: i64,
    pub checklist: Vec<ChecklistItemView>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// Seconds from start (or creation) to done.
    pub cycle_seconds: Option<i64>,
    /// Whether it was done by its due date; absent without one.
    pub on_time: Option<bool>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Task> for TaskView {
    fn from(t: Task) -> Self {
        TaskView {
            id: t.id,
            title: t.title,
            description: t.description,
            task_type: t.task_type,
            priority: t.priority.as_str().to_string(),
            status: t.status,
            is_open: t.is_open,
            lead: t.lead,
            assignee: t.assignee,
            watchers: t.watchers,
            created_by: t.created_by,
            due_at: t.due_at,
            estimate_minutes: t.estimate_minutes,
            logged_minutes: t.logged_minutes,
            checklist: t.checklist.into_iter().map(Into::into).collect(),
            started_at: t.started_at,
            completed_at: t.completed_at,
            cycle_seconds: t.cycle_seconds,
            on_time: t.on_time,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct CreateTask {
    title: String,
    description: Option<String>,
    /// A short slug such as `design` or `print`.
    task_type: String,
    /// Default normal.
    priority: Option<String>,
    /// Default: the workflow's first status.
    status: Option<String>,
    /// The client lead's id.
    lead: Option<String>,
    /// User id or username; assigning to someone else needs `tasks.manage`.
    assignee: Option<String>,
    #[oai(default)]
    watchers: Vec<String>,
    due_at: Option<DateTime<Utc>>,
    estimate_minutes: Option<i64>,
    #[oai(default)]
    checklist: Vec<ChecklistItemView>,
}

impl From<CreateTask> for NewTask {
    fn from(b: CreateTask) -> Self {
        NewTask {
            title: b.title,
            description: b.description,
            task_type: b.task_type,
            priority: b.priority,
            status: b.status,
            lead: b.lead,
            assignee: b.assignee,
            watchers: b.watchers,
            due_at: b.due_at,
            estimate_minutes: b.estimate_minutes,
            checklist: b.checklist.into_iter().map(Into::into).collect(),
        }
    }
}

/// Absent fields stay; `null` clears.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct UpdateTask {
    title: Option<String>,
    description: Option<String>,
    task_type: Option<String>,
    priority: Option<String>,
    status: Option<String>,
    lead: MaybeUndefined<String>,
    /// Changing it needs `tasks.manage`; the new assignee is notified.
    assignee: MaybeUndefined<String>,
    watchers: Option<Vec<String>>,
    due_at: MaybeUndefined<DateTime<Utc>>,
    estimate_minutes: Option<i64>,
    /// Minutes worked, added to the logged time.
    log_minutes: Option<i64>,
    /// The whole list; items without an id are new.
    checklist: Option<Vec<ChecklistItemView>>,
}

impl From<UpdateTask> for TaskPatch {
    fn from(b: UpdateTask) -> Self {
        TaskPatch {
            title: b.title,
            description: b.description,
            task_type: b.task_type,
            priority: b.priority,
            status: b.status,
            lead: b.lead.into(),
            assignee: b.assignee.into(),
            watchers: b.watchers,
            due_at: b.due_at.into(),
            estimate_minutes: b.estimate_minutes,
            log_minutes: b.log_minutes,
            checklist: b.checklist.map(|c| c.into_iter().map(Into::into).collect()),
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct TaskPageView {
    items: Vec<TaskView>,
    /// Pass as `after` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

impl From<TaskPage> for TaskPageView {
    fn from(p: TaskPage) -> Self {
        TaskPageView {
            items: p.items.into_iter().map(Into::into).collect(),
            next_cursor: p.next_cursor,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct TaskStatusView {
    key: String,
    name: String,
    position: i64,
    is_closed: bool,
    is_done: bool,
}

impl From<TaskStatus> for TaskStatusView {
    fn from(s: TaskStatus) -> Self {
        TaskStatusView {
            key: s.key,
            name: s.name,
            position: s.position,
            is_closed: s.is_closed,
            is_done: s.is_done,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct CreateTaskStatus {
    key: String,
    name: String,
    position: i64,
    #[oai(default)]
    is_closed: bool,
    #[oai(default)]
    is_done: bool,
}

impl From<CreateTaskStatus> for NewTaskStatus {
    fn from(b: CreateTaskStatus) -> Self {
        NewTaskStatus {
            key: b.key,
            name: b.name,
            position: b.position,
            is_closed: b.is_closed,
            is_done: b.is_done,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct BoardColumnView {
    status: TaskStatusView,
    count: u64,
    items: Vec<TaskView>,
    /// Continue this column with `GET /tasks?status=..&after=..`.
    next_cursor: Option<String>,
}

impl From<BoardColumn> for BoardColumnView {
    fn from(c: BoardColumn) -> Self {
        BoardColumnView {
            status: c.status.into(),
            count: c.count,
            items: c.page.items.into_iter().map(Into::into).collect(),
            next_cursor: c.page.next_cursor,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct CommentView {
    id: String,
    task: String,
    author: String,
    author_name: String,
    body: String,
    /// User ids notified by @mention.
    mentions: Vec<String>,
    created_at: DateTime<Utc>,
}

impl From<Comment> for CommentView {
    fn from(c: Comment) -> Self {
        CommentView {
            id: c.id,
            task: c.task,
            author: c.author,
            author_name: c.author_name,
            body: c.body,
            mentions: c.mentions,
            created_at: c.created_at,
        }
    }
}

/// A page of a task's comments.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct CommentPageView {
    /// Oldest first.
    items: Vec<CommentView>,
    /// Pass as `after` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

impl From<Page<Comment>> for CommentPageView {
    fn from(p: Page<Comment>) -> Self {
        CommentPageView {
            items: p.items.into_iter().map(Into::into).collect(),
            next_cursor: p.next_cursor,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct NewComment {
    body: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct CandidateView {
    user_id: String,
    username: String,
    open_tasks: u64,
    done_of_type_90d: u64,
    /// (done of this type in 90 days + 1) / (open tasks + 1).
    score: f64,
}

impl From<Candidate> for CandidateView {
    fn from(c: Candidate) -> Self {
        CandidateView {
            user_id: c.user_id,
            username: c.username,
            open_tasks: c.open_tasks,
            done_of_type_90d: c.done_of_type_90d,
            score: c.score,
        }
    }
}

query_params! {
    /// The task filters, the same on the list and the board.
    pub struct TaskFilterQuery {
        /// A user id, or `me`.
        assignee: Option<String>,
        /// The client lead's id.
        lead: Option<String>,
        /// low, normal, high or urgent.
        priority: Option<String>,
        /// A task type.
        task_type: Option<String>,
        /// overdue, soon or none.
        due: Option<String>,
        /// The due-soon window in hours (default 48).
        soon_hours: Option<i64>,
    }
}

impl TaskFilterQuery {
    /// The filter, with the list's own refinements: one workflow status,
    /// open tasks only (the board has a column per status instead).
    fn into_filter(self, status: Option<String>, open_only: bool) -> ApiResult<TaskFilter> {
        Ok(TaskFilter {
            status,
            assignee: self.assignee,
            lead: self.lead,
            priority: self.priority,
            task_type: self.task_type,
            due: self
                .due
                .as_deref()
                .map(|d| Due::parse(d, self.soon_hours))
                .transpose()?,
            open_only,
        })
    }
}

#[OpenApi(tag = "ApiTags::Tasks")]
impl TasksApi {
    /// Tasks matching the filters, a cursor page at a time. `due=overdue`
    /// and `due=soon` are the overdue and due-soon views (open tasks only).
    #[oai(path = "/tasks", method = "get")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        filter: TaskFilterQuery,
        /// A workflow status key.
        status: Query<Option<String>>,
        /// Only open tasks.
        open: Query<Option<bool>>,
        /// created (newest first, default) or due (soonest first).
        sort: Query<Option<String>>,
        /// The `next_cursor` of the previous page.
        after: Query<Option<String>>,
        /// 1 to 500, default 50.
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<TaskPageView>> {
        let f = filter.into_filter(status.0, open.0.unwrap_or(false))?;
        let sort = sort
            .0
            .as_deref()
            .map(TaskSort::parse)
            .transpose()?
            .unwrap_or_default();
        let page = queries::list(
            &state.ctx,
            auth.actor(),
            &f,
            sort,
            after.0.as_deref(),
            limit.0.unwrap_or(50) as usize,
        )
        .await?;
        Ok(Json(page.into()))
    }

    /// The board: one column a workflow status with its count and first page.
    #[oai(path = "/tasks/board", method = "get")]
    async fn board(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        filter: TaskFilterQuery,
        /// created (newest first, default) or due (soonest first).
        sort: Query<Option<String>>,
        /// Tasks per column (default 50).
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<Vec<BoardColumnView>>> {
        let f = filter.into_filter(None, false)?;
        let sort = sort
            .0
            .as_deref()
            .map(TaskSort::parse)
            .transpose()?
            .unwrap_or_default();
        let columns = queries::board(
            &state.ctx,
            auth.actor(),
            &f,
            sort,
            limit.0.unwrap_or(50) as usize,
        )
        .await?;
        Ok(Json(columns.into_iter().map(Into::into).collect()))
    }

    #[oai(path = "/tasks", method = "post")]
    async fn create(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        /// 1 to 255 printable characters naming this request: a retry with
        /// the same key and body gets the first answer again instead of a
        /// second task (kept 24 h).
        #[oai(name = "Idempotency-Key")]
        idempotency_key: KeyHeader,
        body: Json<CreateTask>,
    ) -> ApiResult<Idempotent<TaskView>> {
        let request = serde_json::json!({"body": body.0.to_json()});
        let (ctx, actor) = (Arc::clone(&state.ctx), auth.actor().clone());
        let input = NewTask::from(body.0);
        let create = async move { Ok(tasks::create(&ctx, &actor, input).await?.into()) };
        idempotency::once(
            &state.ctx,
            auth.actor(),
            "tasks.create",
            idempotency_key.0.as_deref(),
            request,
            create,
        )
        .await
    }

    /// Ranked assignees for a new task of this type (a suggestion only).
    #[oai(path = "/tasks/suggest-assignee", method = "get")]
    async fn suggest_assignee(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        task_type: Query<String>,
    ) -> ApiResult<Json<Vec<CandidateView>>> {
        let list = suggest::suggest(&state.ctx, auth.actor(), &task_type.0).await?;
        Ok(Json(list.into_iter().map(Into::into).collect()))
    }

    /// The status workflow, in order.
    #[oai(path = "/tasks/statuses", method = "get")]
    async fn statuses(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
    ) -> ApiResult<Json<Vec<TaskStatusView>>> {
        let list = workflow::list(&state.ctx, auth.actor()).await?;
        Ok(Json(list.into_iter().map(Into::into).collect()))
    }

    /// Add a status to the workflow (`tasks.manage`).
    #[oai(path = "/tasks/statuses", method = "post")]
    async fn create_status(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<CreateTaskStatus>,
    ) -> ApiResult<Json<TaskStatusView>> {
        let status = workflow::create(&state.ctx, auth.actor(), body.0.into()).await?;
        Ok(Json(status.into()))
    }

    #[oai(path = "/tasks/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Json<TaskView>> {
        Ok(Json(
            tasks::get(&state.ctx, auth.actor(), &id.0).await?.into(),
        ))
    }

    #[oai(path = "/tasks/:id", method = "patch")]
    async fn update(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        body: Json<UpdateTask>,
    ) -> ApiResult<Json<TaskView>> {
        let task = tasks::update(&state.ctx, auth.actor(), &id.0, body.0.into()).await?;
        Ok(Json(task.into()))
    }

    /// The task's audit trail, newest first, a page at a time.
    #[oai(path = "/tasks/:id/history", method = "get")]
    async fn history(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        /// The `next_cursor` of the previous page.
        after: Query<Option<String>>,
        /// 1 to 200, default 50.
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<AuditPage>> {
        let limit = limit.0.unwrap_or(50) as usize;
        let page =
            tasks::history(&state.ctx, auth.actor(), &id.0, after.0.as_deref(), limit).await?;
        let rows = timeline::describe_rows(&state.ctx, page.items).await?;
        Ok(Json(AuditPage::new(rows, page.next_cursor)))
    }

    /// The task's comments, oldest first, a page at a time.
    #[oai(path = "/tasks/:id/comments", method = "get")]
    async fn comments(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        /// The `next_cursor` of the previous page.
        after: Query<Option<String>>,
        /// 1 to 200, default 50.
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<CommentPageView>> {
        let limit = limit.0.unwrap_or(50) as usize;
        Ok(Json(
            comments::list(&state.ctx, auth.actor(), &id.0, after.0.as_deref(), limit)
                .await?
                .into(),
        ))
    }

    /// Comment; each @username mentioned is notified.
    #[oai(path = "/tasks/:id/comments", method = "post")]
    async fn comment(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        /// 1 to 255 printable characters naming this request: a retry with
        /// the same key and body gets the first answer again instead of a
        /// second comment (kept 24 h).
        #[oai(name = "Idempotency-Key")]
        idempotency_key: KeyHeader,
        body: Json<NewComment>,
    ) -> ApiResult<Idempotent<CommentView>> {
        let request = serde_json::json!({"task": id.0, "body": body.0.to_json()});
        let (ctx, actor) = (Arc::clone(&state.ctx), auth.actor().clone());
        let (task, text) = (id.0, body.0.body);
        let add = async move { Ok(comments::add(&ctx, &actor, &task, &text).await?.into()) };
        idempotency::once(
            &state.ctx,
            auth.actor(),
            "tasks.comments.add",
            idempotency_key.0.as_deref(),
            request,
            add,
        )
        .await
    }
}
