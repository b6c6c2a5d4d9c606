//! Integration tests of the HTTP API against the real app.

mod helpers;

mod ai;
mod analytics;
mod api_keys;
mod auth;
mod backup;
mod bench;
mod chat;
mod crash;
mod discord;
mod errors;
mod fake_discord;
mod files;
mod followups;
mod import_export;
mod leads;
mod openapi;
mod rbac;
mod reminders;
mod roles;
mod startup;
mod tasks;
mod telegram;
mod users;
mod web_commands;
mod webhooks;
mod ws;
