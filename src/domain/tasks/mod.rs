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
//! Files attached to a task or a comment share the hub's upload store
//! (`domain::uploads`) and are readable by whoever can read the task.

pub mod checklist;
pub mod comments;
pub mod files;
pub mod queries;
pub mod suggest;
pub mod task;
pub mod workflow;

pub use task::{Priority, Task};
