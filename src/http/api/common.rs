//! Small response bodies shared by several tags.

use poem_openapi::Object;

/// The outcome of a delete.
#[derive(Object)]
pub struct Deleted {
    pub deleted: bool,
}

/// The outcome of an action with nothing else to return.
#[derive(Object)]
pub struct Done {
    pub ok: bool,
}
