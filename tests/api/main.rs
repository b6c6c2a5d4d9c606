//! Integration tests of the HTTP API against the real app.

mod helpers;

mod api_keys;
mod auth;
mod chat;
mod errors;
mod openapi;
mod rbac;
mod roles;
mod startup;
mod users;
mod ws;
