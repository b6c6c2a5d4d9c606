//! Integration tests of the HTTP API against the real app.

mod helpers;

mod api_keys;
mod auth;
mod errors;
mod followups;
mod import_export;
mod leads;
mod openapi;
mod rbac;
mod roles;
mod startup;
mod users;
mod webhooks;
