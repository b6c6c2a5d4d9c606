//! Task lists: filters (status, assignee, client, priority, type, due),
//! cursor pages on a unique sort key, the board (one column a status), and
//! the overdue and due-soon views (filters on `due`).

use crate::domain::cursor;
use chrono::Duration;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::task::{sort_due, Task, SELECT_TASK};
use super::workflow::{self, TaskStatus};
use crate::domain::actor::Actor;
use crate::domain::clock::db_time;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::permissions::Permission;
use crate::domain::Ctx;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Open, with a due date in the past.
    Overdue,
    /// Open, due from now to `hours` ahead.
    Soon { hours: i64 },
    /// No due date.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TaskSort {
    /// Newest first.
    #[default]
    Created,
    /// Soonest due first; undated last.
    Due,
}

impl TaskSort {
    pub fn parse(raw: &str) -> DomainResult<TaskSort> {
        match raw {
            "created" | "created_at" => Ok(TaskSort::Created),
            "due" | "due_at" => Ok(TaskSort::Due),
            other => Err(DomainError::invalid(
                "sort",
                format!("`{other}`: use created or due"),
            )),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub status: Option<String>,
    /// A user id, or `me`.
    pub assignee: Option<String>,
    pub lead: Option<String>,
    pub priority: Option<String>,
    pub task_type: Option<String>,
    pub due: Option<Due>,
    pub open_only: bool,
}

impl Due {
    pub fn parse(raw: &str, soon_hours: Option<i64>) -> DomainResult<Due> {
        match raw {
            "overdue" => Ok(Due::Overdue),
            "soon" => {
                let hours = soon_hours.unwrap_or(48);
                if !(1..=24 * 90).contains(&hours) {
                    return Err(DomainError::invalid("soon_hours", "1 to 2160"));
                }
                Ok(Due::Soon { hours })
            }
            "none" => Ok(Due::None),
            other => Err(DomainError::invalid(
                "due",
                format!("`{other}`: use overdue, soon or none"),
            )),
        }
    }
}

/// A page of tasks; its cursor is passed as `after` for the next.
pub type TaskPage = cursor::Page<Task>;

fn conditions(
    ctx: &Ctx,
    actor: &Actor,
    f: &TaskFilter,
) -> DomainResult<(Vec<String>, Map<String, Value>)> {
    let mut conds = Vec::new();
    let mut vars = Map::new();
    let mut eq = |field: &str, value: Option<String>| {
        if let Some(v) = value
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
        {
            conds.push(format!("{field} = $f_{field}"));
            vars.insert(format!("f_{field}"), json!(v));
        }
    };
    eq("status", f.status.clone());
    eq(
        "assignee",
        f.assignee
            .clone()
            .map(|a| if a == "me" { actor.user_id.clone() } else { a }),
    );
    eq("lead", f.lead.clone());
    if let Some(p) = &f.priority {
        eq(
            "priority",
            Some(p.parse::<super::Priority>()?.as_str().to_string()),
        );
    }
    eq(
        "task_type",
        f.task_type.clone().map(|t| t.to_ascii_lowercase()),
    );
    let now = ctx.now();
    match f.due {
        Some(Due::Overdue) => {
            conds
                .push("is_open = true AND due_at IS NOT NONE AND due_at < <datetime>$f_now".into());
            vars.insert("f_now".into(), json!(db_time(now)));
        }
        Some(Due::Soon { hours }) => {
            conds.push(
                "is_open = true AND due_at IS NOT NONE AND due_at >= <datetime>$f_now AND due_at < <datetime>$f_until".into(),
            );
            vars.insert("f_now".into(), json!(db_time(now)));
            vars.insert(
                "f_until".into(),
                json!(db_time(now + Duration::hours(hours))),
            );
        }
        Some(Due::None) => conds.push("due_at IS NONE".into()),
        None => {}
    }
    if f.open_only && !matches!(f.due, Some(Due::Overdue | Due::Soon { .. })) {
        conds.push("is_open = true".into());
    }
    Ok((conds, vars))
}

fn encode_cursor(task: &Task, sort: TaskSort) -> String {
    let key = match sort {
        TaskSort::Created => task.id.clone(),
        TaskSort::Due => sort_due(task),
    };
    cursor::encode(&key)
}

pub async fn list(
    ctx: &Ctx,
    actor: &Actor,
    filter: &TaskFilter,
    sort: TaskSort,
    after: Option<&str>,
    limit: usize,
) -> DomainResult<TaskPage> {
    actor.require(Permission::TasksRead)?;
    let (mut conds, mut vars) = conditions(ctx, actor, filter)?;
    let limit = limit.clamp(1, 500);
    // Newest first by id; soonest due first by sort_due. The open bound on
    // the first page makes the planner walk the sort index.
    let (field, cmp, dir, open) = match sort {
        TaskSort::Created => ("sort_created", "<", "DESC", char::MAX.to_string()),
        TaskSort::Due => ("sort_due", ">", "ASC", String::new()),
    };
    let bound = match after {
        Some(a) => cursor::decode(a)?,
        None => open,
    };
    conds.push(format!("{field} {cmp} $after"));
    vars.insert("after".into(), json!(bound));
    // One more than the page: it only says there is a next page.
    vars.insert("limit".into(), json!(limit + 1));
    let sql = format!(
        "{SELECT_TASK} task WHERE {} ORDER BY {field} {dir} LIMIT $limit",
        conds.join(" AND ")
    );
    let rows: Vec<Task> = ctx.store.run(&sql, Value::Object(vars)).await?.rows(0)?;
    Ok(cursor::Page::from_one_more(rows, limit, |t| {
        encode_cursor(t, sort)
    }))
}

#[derive(Debug, Clone, Serialize)]
pub struct BoardColumn {
    pub status: TaskStatus,
    /// Every task in this column that matches the filter.
    pub count: u64,
    /// The first page; `list` with this status and the cursor gives more.
    pub page: TaskPage,
}

/// The board: one column a workflow status, in workflow order.
pub async fn board(
    ctx: &Ctx,
    actor: &Actor,
    filter: &TaskFilter,
    sort: TaskSort,
    per_column: usize,
) -> DomainResult<Vec<BoardColumn>> {
    actor.require(Permission::TasksRead)?;
    let mut filter = filter.clone();
    filter.status = None;
    let (conds, vars) = conditions(ctx, actor, &filter)?;
    let where_clause = if conds.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conds.join(" AND "))
    };
    let counts: Vec<Value> = ctx
        .store
        .run(
            &format!("SELECT status, count() AS n FROM task {where_clause} GROUP BY status"),
            Value::Object(vars),
        )
        .await?
        .rows(0)?;
    let mut columns = Vec::new();
    for status in workflow::list_all(ctx).await? {
        let count = counts
            .iter()
            .find(|c| c["status"].as_str() == Some(&status.key))
            .and_then(|c| c["n"].as_u64())
            .unwrap_or(0);
        let mut f = filter.clone();
        f.status = Some(status.key.clone());
        let page = if count == 0 {
            TaskPage {
                items: Vec::new(),
                next_cursor: None,
            }
        } else {
            list(ctx, actor, &f, sort, None, per_column).await?
        };
        columns.push(BoardColumn {
            status,
            count,
            page,
        });
    }
    Ok(columns)
}
