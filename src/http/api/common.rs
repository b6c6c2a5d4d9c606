//! Small response bodies shared by several tags.

use poem_openapi::Object;

/// The outcome of a delete.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Deleted {
    pub deleted: bool,
}

/// The outcome of an action with nothing else to return.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Done {
    pub ok: bool,
}
