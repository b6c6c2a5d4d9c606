//! Integration tests of the HTTP API against the real app.

mod helpers;

mod api_keys;
mod auth;
mod bench;
mod chat;
mod errors;
mod files;
mod followups;
mod import_export;
mod leads;
mod openapi;
mod rbac;
mod reminders;
mod roles;
mod startup;
mod telegram;
mod users;
mod web_commands;
mod webhooks;
mod ws;
