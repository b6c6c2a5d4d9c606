//! Production tasks: work for a client lead with a type, a priority, a
//! configurable status workflow, an assignee and watchers, a due date,
//! estimate and logged time, a checklist, and live comments with
//! @mentions. Every change writes its audit rows (entity `task`) in the
//! same transaction; events and notifications go out after the commit.
//!
//! Who may do what: `tasks.read` sees every task; `tasks.write` creates
//! tasks and edits the ones assigned to or created by the actor;
//! `tasks.manage` edits any task and alone may (re)assign one to someone
//! else.
//!
//! File attachments are not here yet: the hub's stored files belong to a
//! chat room, and a task has no room.

pub mod checklist;
pub mod comments;
pub mod queries;
pub mod suggest;
pub mod task;
pub mod workflow;

pub use task::{Priority, Task};
