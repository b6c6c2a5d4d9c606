//! Integration tests of the HTTP API against the real app.

mod helpers;

mod ai;
mod analytics;
mod api_keys;
mod auth;
mod backup;
mod bench;
mod bulk;
mod chat;
mod crash;
mod digest;
mod discord;
mod errors;
mod fake_discord;
mod files;
mod first_contact;
mod fit;
mod followups;
mod import_columns;
mod import_export;
mod leads;
mod openapi;
mod rbac;
mod reminders;
mod roles;
mod scale_out;
mod scheduled_backup;
mod startup;
mod task_files;
mod tasks;
mod telegram;
mod users;
mod web_commands;
mod webhooks;
mod ws;
