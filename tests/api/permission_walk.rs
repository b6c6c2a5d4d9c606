//! The permission walk: every operation in `/openapi.json`, for every
//! built-in role and for a caller without a token.
//!
//! One table below says what each operation needs, written by reading its
//! handler and the domain function behind it. The test fails when the
//! document has an operation the table lacks (a new endpoint cannot ship
//! without its rule) or the table names one the document no longer has.
//! What each role holds is read from the running app (`GET /roles`), so the
//! expectation per role and operation comes from the role matrix:
//! - held: the answer is neither 401 nor 403 (a 404 or 422 from placeholder
//!   input is fine), and never a 5xx;
//! - not held: 403 with the JSON error shape (or, where the rule says so,
//!   a 404 that hides the record, or a bulk answer refusing each lead), and
//!   nothing the admin can read has changed (records, lists, settings and
//!   the audit log);
//! - no token: 401 for everything but signing in.
//!
//! Each role gets its own records, made by the admin beforehand; refused
//! calls run before allowed ones, so a delete or a logout that is allowed
//! cannot spoil a check that comes later.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{error_of, multipart, TestApp, USER_PASSWORD};

/// How a refusal is answered.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Refusal {
    /// 403 `forbidden`.
    Forbidden,
    /// 404: the record is not shown to someone who may not act on it, so
    /// its id cannot be probed.
    Hidden,
    /// 200, with every lead listed under `failed` as `forbidden`: a bulk
    /// action answers per lead.
    PerLead,
}

/// One operation's rule and how to call it.
struct Rule {
    /// `METHOD /path` as the OpenAPI document spells it.
    op: &'static str,
    /// `public`, `signed-in`, or permission keys: ` & ` joins what is all
    /// needed, `|` joins alternatives (`a|b & c` is (a or b) and c).
    needs: &'static str,
    refusal: Refusal,
    call: fn(&Walk) -> Call,
}

const PUBLIC: &str = "public";
const SIGNED_IN: &str = "signed-in";
/// The Admin role itself, whatever permissions another role holds.
const ADMIN_ROLE: &str = "admin-role";

fn rule(op: &'static str, needs: &'static str, call: fn(&Walk) -> Call) -> Rule {
    Rule {
        op,
        needs,
        refusal: Refusal::Forbidden,
        call,
    }
}

impl Rule {
    fn refused_as(self, refusal: Refusal) -> Rule {
        Rule { refusal, ..self }
    }
}

/// The table: every operation, what it needs, and a call with real ids of
/// the role's records (or a placeholder where nothing real is needed).
/// `leads.read.all|leads.read.own` in a rule means the domain loads the
/// lead (or lists leads) in the actor's scope, which needs one of them.
fn rules() -> Vec<Rule> {
    vec![
        // Auth: src/domain/sessions.rs, src/domain/users.rs.
        rule("POST /auth/login", PUBLIC, |w| {
            Call::at(&[]).json(json!({"username": w.username, "password": USER_PASSWORD}))
        }),
        // Each of these acts on the caller's own session or account.
        rule("POST /auth/logout", SIGNED_IN, |_| {
            Call::at(&[]).with_spare_session()
        }),
        rule("GET /auth/me", SIGNED_IN, |_| Call::at(&[])),
        rule("PATCH /auth/me", SIGNED_IN, |_| {
            Call::at(&[]).json(json!({"timezone": "UTC"}))
        }),
        rule("GET /auth/sessions", SIGNED_IN, |_| Call::at(&[])),
        rule("DELETE /auth/sessions/{id}", SIGNED_IN, |_| {
            Call::at(&["no-such-session"])
        }),
        // Ends the caller's other sessions and keeps the one it came with.
        rule("DELETE /auth/sessions/others", SIGNED_IN, |_| Call::at(&[])),
        // A new password that is too short: refused without ending sessions.
        rule("POST /auth/password", SIGNED_IN, |_| {
            Call::at(&[]).json(json!({"current_password": USER_PASSWORD, "new_password": "short"}))
        }),
        // Two-factor sign-in (src/domain/second_factor): one's own, with a
        // session. Confirm, renew and disable get codes that match nothing:
        // refused as input, never for the role.
        rule("GET /auth/2fa", SIGNED_IN, |_| Call::at(&[])),
        rule("POST /auth/2fa/setup", SIGNED_IN, |_| Call::at(&[])),
        rule("POST /auth/2fa/confirm", SIGNED_IN, |_| {
            Call::at(&[]).json(json!({"code": "000000"}))
        }),
        rule("POST /auth/2fa/recovery-codes", SIGNED_IN, |_| {
            Call::at(&[]).json(json!({"code": "000000"}))
        }),
        rule("POST /auth/2fa/disable", SIGNED_IN, |_| {
            Call::at(&[]).json(json!({"password": USER_PASSWORD, "code": "000000"}))
        }),
        // Maintenance (src/domain/maintenance.rs): anyone signed in reads
        // the switch; only the Admin role turns it (off here, so the walk
        // goes on).
        rule("GET /maintenance", SIGNED_IN, |_| Call::at(&[])),
        // One's own notification settings (src/domain/chat/notification_settings.rs).
        rule(
            "GET /me/notification-settings",
            SIGNED_IN,
            |_| Call::at(&[]),
        ),
        rule("PUT /me/notification-settings", SIGNED_IN, |_| {
            Call::at(&[]).json(json!({"bot_off": ["task_due"]}))
        }),
        rule("PUT /maintenance", ADMIN_ROLE, |_| {
            Call::at(&[]).json(json!({"enabled": false}))
        }),
        // Feature switches (src/domain/features.rs): anyone signed in reads
        // them; `settings.manage` switches (`ai.manage` only the AI ones,
        // so the walk switches a non-AI one), on here, so the walk goes on.
        rule("GET /features", SIGNED_IN, |_| Call::at(&[])),
        rule("PUT /features/{key}", "settings.manage", |_| {
            Call::at(&["import"]).json(json!({"enabled": true}))
        }),
        // Users: users::list/get need users.read or users.manage (one's own
        // record needs nothing; the walk reads someone else's).
        rule("GET /users", "users.read|users.manage", |_| Call::at(&[])),
        rule("POST /users", "users.manage", |w| {
            Call::at(&[]).json(json!({"username": format!("{}-made", w.username),
                "email": format!("{}-made@example.com", w.username),
                "password": USER_PASSWORD, "role": "user"}))
        }),
        rule("GET /users/{id}", "users.read|users.manage", |w| {
            Call::at(&[&w.target_user])
        }),
        rule("PATCH /users/{id}", "users.manage", |w| {
            Call::at(&[&w.target_user]).json(json!({"display_name": "Walked"}))
        }),
        rule("POST /users/{id}/deactivate", "users.manage", |w| {
            Call::at(&[&w.target_user])
        }),
        rule("DELETE /users/{id}", "users.manage", |w| {
            Call::at(&[&w.target_user])
        }),
        rule("DELETE /users/{id}/2fa", "users.manage", |w| {
            Call::at(&[&w.target_user])
        }),
        // Roles: roles::list/get/matrix need any of roles.manage,
        // users.manage, users.read; changes need roles.manage.
        rule("GET /roles", "roles.manage|users.manage|users.read", |_| {
            Call::at(&[])
        }),
        rule("POST /roles", "roles.manage", |w| {
            Call::at(&[]).json(
                json!({"key": format!("{}_made", w.role), "name": format!("Made {}", w.role)}),
            )
        }),
        rule(
            "GET /roles/matrix",
            "roles.manage|users.manage|users.read",
            |_| Call::at(&[]),
        ),
        rule(
            "GET /roles/{key}",
            "roles.manage|users.manage|users.read",
            |w| Call::at(&[&w.custom_role]),
        ),
        rule("PATCH /roles/{key}", "roles.manage", |w| {
            Call::at(&[&w.custom_role]).json(json!({"name": "Walked"}))
        }),
        rule("DELETE /roles/{key}", "roles.manage", |w| {
            Call::at(&[&w.custom_role])
        }),
        // The catalogue of permission names, for every panel.
        rule("GET /permissions", SIGNED_IN, |_| Call::at(&[])),
        // API keys: one's own keys are listed without a permission; making
        // one needs api_keys.use; someone else's key is revoked only with
        // users.manage and is "not found" to anyone else.
        rule("GET /api-keys", SIGNED_IN, |_| Call::at(&[])),
        rule("POST /api-keys", "api_keys.use", |_| {
            Call::at(&[]).json(json!({"name": "walk"}))
        }),
        rule("DELETE /api-keys/{id}", "users.manage", |w| {
            Call::at(&[&w.admin_key])
        })
        .refused_as(Refusal::Hidden),
        // Leads: src/domain/crm/leads.rs, query.rs, contacts.rs.
        rule("GET /leads", "leads.read.all|leads.read.own", |_| {
            Call::at(&[])
        }),
        rule("GET /leads/count", "leads.read.all|leads.read.own", |_| {
            Call::at(&[])
        }),
        rule(
            "GET /leads/duplicates",
            "leads.read.all|leads.read.own",
            |_| Call::at(&[]).query("company_name=Acme"),
        ),
        rule("POST /leads", "leads.write", |w| {
            Call::at(&[]).json(json!({"company_name": format!("Made by {}", w.role)}))
        }),
        rule("GET /leads/{id}", "leads.read.all|leads.read.own", |w| {
            Call::at(&[&w.lead])
        }),
        rule(
            "PATCH /leads/{id}",
            "leads.write & leads.read.all|leads.read.own",
            |w| Call::at(&[&w.lead]).json(json!({"industry": "Walked"})),
        ),
        rule(
            "DELETE /leads/{id}",
            "leads.delete & leads.read.all|leads.read.own",
            |w| Call::at(&[&w.lead_to_delete]),
        ),
        rule(
            "POST /leads/{id}/restore",
            "leads.delete & leads.read.all|leads.read.own",
            |w| Call::at(&[&w.lead_to_delete]),
        ),
        // Only a trashed lead is purged: the live one answers 409 to those
        // who may. Emptying the trash takes what the walk left there.
        rule(
            "DELETE /leads/{id}/purge",
            "leads.purge & leads.read.all|leads.read.own",
            |w| Call::at(&[&w.lead]),
        ),
        rule(
            "DELETE /leads/trash",
            "leads.purge & leads.read.all|leads.read.own",
            |_| Call::at(&[]),
        ),
        // From the role's user to the admin: a refusal leaves the owner.
        rule(
            "POST /leads/{id}/assign",
            "leads.assign & leads.read.all|leads.read.own",
            |w| Call::at(&[&w.lead]).json(json!({"owner": w.admin_id})),
        ),
        rule(
            "POST /leads/bulk",
            "leads.delete & leads.read.all|leads.read.own",
            |w| Call::at(&[]).json(json!({"ids": [w.lead_for_bulk], "action": "delete"})),
        )
        .refused_as(Refusal::PerLead),
        rule(
            "GET /leads/{id}/contacts",
            "leads.read.all|leads.read.own",
            |w| Call::at(&[&w.lead]),
        ),
        rule(
            "POST /leads/{id}/contacts",
            "leads.write & leads.read.all|leads.read.own",
            |w| Call::at(&[&w.lead]).json(json!({"name": "Walk Contact"})),
        ),
        rule(
            "PATCH /leads/{id}/contacts/{contact_id}",
            "leads.write & leads.read.all|leads.read.own",
            |w| Call::at(&[&w.lead, &w.contact]).json(json!({"position": "Walked"})),
        ),
        rule(
            "DELETE /leads/{id}/contacts/{contact_id}",
            "leads.write & leads.read.all|leads.read.own",
            |w| Call::at(&[&w.lead, &w.contact_to_delete]),
        ),
        rule(
            "POST /leads/{id}/contacts/{contact_id}/erase",
            "contacts.erase & leads.read.all|leads.read.own",
            |w| Call::at(&[&w.lead, &w.contact]),
        ),
        // Follow-ups and calls: src/domain/crm/followups.rs, calls.rs.
        rule(
            "GET /leads/{id}/follow-ups",
            "leads.read.all|leads.read.own",
            |w| Call::at(&[&w.lead]),
        ),
        rule(
            "PUT /leads/{id}/follow-ups/{tier}",
            "leads.write|calls.log & leads.read.all|leads.read.own",
            |w| Call::at(&[&w.lead, "1"]).json(json!({"notes": "walked"})),
        ),
        rule(
            "GET /leads/{id}/calls",
            "leads.read.all|leads.read.own",
            |w| Call::at(&[&w.lead]),
        ),
        rule(
            "POST /leads/{id}/calls",
            "calls.log & leads.read.all|leads.read.own",
            |w| Call::at(&[&w.lead]).json(json!({"outcome": "no_answer"})),
        ),
        // Notes: src/domain/crm/notes.rs. Writing one takes what logging a
        // follow-up takes; the admin's note is changed by its author or a
        // holder of leads.delete.
        rule(
            "GET /leads/{id}/notes",
            "leads.read.all|leads.read.own",
            |w| Call::at(&[&w.lead]),
        ),
        rule(
            "POST /leads/{id}/notes",
            "leads.write|calls.log & leads.read.all|leads.read.own",
            |w| Call::at(&[&w.lead]).json(json!({"text": "walked"})),
        ),
        rule(
            "PATCH /leads/{id}/notes/{note_id}",
            "leads.write|calls.log & leads.delete & leads.read.all|leads.read.own",
            |w| Call::at(&[&w.lead, &w.note]).json(json!({"text": "walked"})),
        ),
        rule(
            "DELETE /leads/{id}/notes/{note_id}",
            "leads.write|calls.log & leads.delete & leads.read.all|leads.read.own",
            |w| Call::at(&[&w.lead, &w.note_to_delete]),
        ),
        rule(
            "GET /follow-ups/due",
            "leads.read.all|leads.read.own",
            |_| Call::at(&[]),
        ),
        rule(
            "GET /calls/queue",
            "calls.log & leads.read.all|leads.read.own",
            |_| Call::at(&[]),
        ),
        // Pipeline and settings: reading them is for every form; changing
        // them needs settings.manage (src/domain/crm/pipeline.rs, settings.rs).
        rule("GET /pipeline/statuses", SIGNED_IN, |_| Call::at(&[])),
        rule("POST /pipeline/statuses", "settings.manage", |w| {
            Call::at(&[]).json(
                json!({"key": format!("{}_made", w.role), "name": format!("Made {}", w.role)}),
            )
        }),
        rule("PATCH /pipeline/statuses/{key}", "settings.manage", |w| {
            Call::at(&[&w.pipeline_status]).json(json!({"name": "Walked"}))
        }),
        rule("DELETE /pipeline/statuses/{key}", "settings.manage", |w| {
            Call::at(&[&w.pipeline_status])
        }),
        rule("GET /settings/after-third-follow-up", SIGNED_IN, |_| {
            Call::at(&[])
        }),
        // Each setting is put back as it is.
        rule(
            "PUT /settings/after-third-follow-up",
            "settings.manage",
            |w| Call::at(&[]).json(w.after_third.clone()),
        ),
        rule(
            "GET /settings/lead-assignment",
            SIGNED_IN,
            |_| Call::at(&[]),
        ),
        rule("PUT /settings/lead-assignment", "settings.manage", |w| {
            Call::at(&[]).json(w.assignment.clone())
        }),
        rule(
            "GET /settings/trash-retention",
            SIGNED_IN,
            |_| Call::at(&[]),
        ),
        rule("PUT /settings/trash-retention", "settings.manage", |w| {
            Call::at(&[]).json(w.trash_retention.clone())
        }),
        // Reference data for address forms.
        rule("GET /geo/countries", SIGNED_IN, |_| Call::at(&[])),
        rule("GET /geo/countries/{code}/subdivisions", SIGNED_IN, |_| {
            Call::at(&["DE"])
        }),
        rule("GET /geo/countries/{code}/timezones", SIGNED_IN, |_| {
            Call::at(&["DE"])
        }),
        rule("GET /geo/timezones", SIGNED_IN, |_| Call::at(&[])),
        // Import, export, timeline and audit: src/domain/crm/import.rs,
        // export.rs, timeline.rs. An import refuses before reading the file.
        rule(
            "POST /leads/import",
            "leads.import & leads.write & leads.read.all|leads.read.own",
            |_| {
                Call::at(&[])
                    .query("dry_run=true")
                    .csv("Company\nWalk Import\n")
            },
        ),
        rule(
            "POST /leads/import/columns",
            "leads.import & leads.write",
            |_| Call::at(&[]).csv("Company\nWalk Import\n"),
        ),
        // Import jobs: src/domain/crm/import_jobs.rs. A job nobody made is
        // not found for those who may look.
        rule("GET /leads/imports", "leads.import", |_| Call::at(&[])),
        rule("GET /leads/imports/{id}", "leads.import", |_| {
            Call::at(&["no-such-job"])
        }),
        rule(
            "POST /leads/imports/{id}/undo",
            "leads.import & leads.write",
            |_| Call::at(&["no-such-job"]),
        ),
        rule(
            "GET /leads/export",
            "leads.export & leads.read.all|leads.read.own",
            |_| Call::at(&[]),
        ),
        rule(
            "GET /leads/{id}/timeline",
            "leads.read.all|leads.read.own",
            |w| Call::at(&[&w.lead]),
        ),
        rule("GET /audit", "audit.read", |_| Call::at(&[])),
        rule("GET /audit/export", "audit.read", |_| Call::at(&[])),
        // Webhooks: every operation needs settings.manage
        // (src/domain/webhooks/endpoints.rs) but the topic catalogue.
        rule("GET /webhooks", "settings.manage", |_| Call::at(&[])),
        rule("POST /webhooks", "settings.manage", |_| {
            Call::at(&[]).json(json!({"url": "http://127.0.0.1:9/made", "topics": ["*"]}))
        }),
        rule("GET /webhooks/topics", SIGNED_IN, |_| Call::at(&[])),
        rule("GET /webhooks/{id}", "settings.manage", |w| {
            Call::at(&[&w.webhook])
        }),
        rule("PATCH /webhooks/{id}", "settings.manage", |w| {
            Call::at(&[&w.webhook]).json(json!({"description": "walked"}))
        }),
        rule("DELETE /webhooks/{id}", "settings.manage", |w| {
            Call::at(&[&w.webhook])
        }),
        rule(
            "POST /webhooks/{id}/rotate-secret",
            "settings.manage",
            |w| Call::at(&[&w.webhook]),
        ),
        rule("POST /webhooks/{id}/test", "settings.manage", |w| {
            Call::at(&[&w.webhook])
        }),
        rule("GET /webhooks/{id}/deliveries", "settings.manage", |w| {
            Call::at(&[&w.webhook])
        }),
        // Chat: membership is checked after chat.use (src/domain/chat/).
        // The role's user is a member of the admin's channel.
        rule("POST /ws/ticket", SIGNED_IN, |_| Call::at(&[])),
        rule("GET /rooms", "chat.use", |_| Call::at(&[])),
        rule("POST /rooms", "chat.use", |_| {
            Call::at(&[]).json(json!({"kind": "group", "name": "Made"}))
        }),
        rule("GET /rooms/{id}", "chat.use", |w| Call::at(&[&w.room])),
        rule("POST /rooms/{id}/join", "chat.use", |w| {
            Call::at(&[&w.room])
        }),
        rule("GET /rooms/{id}/members", "chat.use", |w| {
            Call::at(&[&w.room])
        }),
        // A channel takes new people from its creator or a moderator.
        rule(
            "POST /rooms/{id}/members",
            "chat.use & chat.moderate",
            |w| Call::at(&[&w.room]).json(json!({"user": w.target_user})),
        ),
        rule("GET /rooms/{id}/messages", "chat.use", |w| {
            Call::at(&[&w.room])
        }),
        rule("POST /rooms/{id}/messages", "chat.use", |w| {
            Call::at(&[&w.room]).json(json!({"body": "walked"}))
        }),
        rule("GET /rooms/{id}/pins", "chat.use", |w| Call::at(&[&w.room])),
        // Someone else out of a channel: its creator or a moderator.
        rule(
            "DELETE /rooms/{id}/members/{user}",
            "chat.use & chat.moderate",
            |w| Call::at(&[&w.room, &w.target_user]),
        ),
        rule("PUT /rooms/{id}/read", "chat.use", |w| {
            Call::at(&[&w.room]).json(json!({"seq": 1}))
        }),
        rule("GET /messages/search", "chat.use", |_| {
            Call::at(&[]).query("q=walk")
        }),
        rule("POST /rooms/{id}/files", "chat.use", |w| {
            Call::at(&[&w.room]).file("walk.txt")
        }),
        rule("GET /files/{id}", "chat.use", |w| Call::at(&[&w.chat_file])),
        rule("GET /files/{id}/thumbnail", "chat.use", |w| {
            Call::at(&[&w.chat_file])
        }),
        // The role's user edits their own message; only its author may.
        rule("PATCH /messages/{id}", "chat.use", |w| {
            Call::at(&[&w.own_message]).json(json!({"body": "edited"}))
        }),
        // Someone else's message: its author or a moderator deletes it.
        rule("DELETE /messages/{id}", "chat.use & chat.moderate", |w| {
            Call::at(&[&w.message_to_delete])
        }),
        rule("POST /messages/{id}/reactions", "chat.use", |w| {
            Call::at(&[&w.message]).json(json!({"emoji": "+1"}))
        }),
        rule("POST /messages/{id}/pin", "chat.use", |w| {
            Call::at(&[&w.message])
        }),
        // Pinned by the admin: whoever pinned it or a moderator unpins.
        rule(
            "DELETE /messages/{id}/pin",
            "chat.use & chat.moderate",
            |w| Call::at(&[&w.pinned_message]),
        ),
        // No such button: the message is read (chat.use), then not found.
        rule("POST /messages/{id}/actions/{key}", "chat.use", |w| {
            Call::at(&[&w.message, "walk"])
        }),
        // Notifications and reminders are one's own, behind chat.use.
        rule("GET /notifications", "chat.use", |_| Call::at(&[])),
        rule("GET /notifications/unread-count", "chat.use", |_| {
            Call::at(&[])
        }),
        rule("POST /notifications/read", "chat.use", |_| {
            Call::at(&[]).json(json!({}))
        }),
        rule("GET /reminders", "chat.use", |_| Call::at(&[])),
        rule("DELETE /reminders/{id}", "chat.use", |_| {
            Call::at(&["no-such-reminder"])
        }),
        rule("POST /reminders", "chat.use", |_| {
            Call::at(&[]).json(json!({"due_at": "2100-01-01T09:00:00Z", "text": "walk"}))
        }),
        // Bots: one's own chat links and digest need a login session only
        // (src/domain/links.rs, digests.rs); someone else's links need
        // users.manage; bridges and the bot status need bots.manage.
        rule("POST /me/link-code", SIGNED_IN, |_| Call::at(&[])),
        rule("GET /me/links", SIGNED_IN, |_| Call::at(&[])),
        rule("DELETE /me/links/{id}", SIGNED_IN, |_| {
            Call::at(&["no-such-link"])
        }),
        rule("GET /me/digest", SIGNED_IN, |_| Call::at(&[])),
        rule("PUT /me/digest", SIGNED_IN, |_| {
            Call::at(&[]).json(json!({"time": "08:30"}))
        }),
        rule("GET /users/{id}/links", "users.manage", |w| {
            Call::at(&[&w.target_user])
        }),
        rule("DELETE /users/{id}/links/{link_id}", "users.manage", |w| {
            Call::at(&[&w.target_user, "no-such-link"])
        }),
        rule("GET /bridges", "bots.manage", |_| Call::at(&[])),
        rule("POST /bridges", "bots.manage", |w| {
            Call::at(&[]).json(json!({"room": w.room, "platform": "telegram", "chat_id": format!("-100{}", w.number)}))
        }),
        rule("DELETE /bridges/{id}", "bots.manage", |w| {
            Call::at(&[&w.bridge])
        }),
        rule("GET /bots/status", "bots.manage", |_| Call::at(&[])),
        // AI: src/domain/ai/. Reading a lead's score, draft or relations
        // reads the lead; merging deletes one and edits the other.
        rule("GET /ai/status", "ai.manage", |_| Call::at(&[])),
        rule("GET /ai/fit", "ai.use", |_| Call::at(&[])),
        rule("POST /ai/fit/train", "ai.manage", |_| Call::at(&[])),
        rule("POST /ai/scores/recompute", "ai.manage", |_| Call::at(&[])),
        rule("POST /ai/intent", "ai.use", |_| {
            Call::at(&[]).json(json!({"text": "call me back tomorrow"}))
        }),
        rule(
            "GET /ai/duplicates",
            "ai.use & leads.read.all|leads.read.own",
            |_| Call::at(&[]),
        ),
        rule(
            "POST /ai/duplicates/merge",
            "ai.use & leads.write & leads.delete & leads.read.all|leads.read.own",
            |w| Call::at(&[]).json(json!({"keep": w.lead, "merge": w.lead_to_merge})),
        ),
        rule(
            "GET /ai/leads/{id}/duplicates",
            "ai.use & leads.read.all|leads.read.own",
            |w| Call::at(&[&w.lead]),
        ),
        rule(
            "GET /ai/leads/{id}/score",
            "ai.use & leads.read.all|leads.read.own",
            |w| Call::at(&[&w.lead]),
        ),
        rule(
            "POST /ai/leads/{id}/draft",
            "ai.use & leads.read.all|leads.read.own",
            |w| Call::at(&[&w.lead]).json(json!({})),
        ),
        rule(
            "GET /ai/leads/{id}/relations",
            "ai.use & leads.read.all|leads.read.own",
            |w| Call::at(&[&w.lead]),
        ),
        rule(
            "POST /ai/leads/{id}/relations",
            "ai.use & leads.write & leads.read.all|leads.read.own",
            |w| Call::at(&[&w.lead]).json(json!({"to": w.lead_to_delete, "kind": "referral"})),
        ),
        rule(
            "GET /ai/patterns",
            "ai.use & leads.read.all|leads.read.own",
            |_| Call::at(&[]),
        ),
        // Analytics: every series needs analytics.read
        // (src/domain/analytics/).
        rule("GET /analytics/funnel", "analytics.read", |_| Call::at(&[])),
        rule("GET /analytics/leads", "analytics.read", |_| {
            Call::at(&[]).query("by=source")
        }),
        rule("GET /analytics/follow-ups", "analytics.read", |_| {
            Call::at(&[])
        }),
        rule("GET /analytics/tasks", "analytics.read", |_| Call::at(&[])),
        rule("GET /analytics/workload", "analytics.read", |_| {
            Call::at(&[])
        }),
        rule("GET /analytics/chat", "analytics.read", |_| Call::at(&[])),
        rule("GET /analytics/first-contact", "analytics.read", |_| {
            Call::at(&[])
        }),
        rule("GET /analytics/responses", "analytics.read", |_| {
            Call::at(&[])
        }),
        // Tasks: src/domain/tasks/. Reading needs tasks.read; the role's
        // user is the task's assignee, so editing it needs tasks.write (or
        // tasks.manage, which edits any task).
        rule("GET /tasks", "tasks.read", |_| Call::at(&[])),
        rule("POST /tasks", "tasks.write", |_| {
            Call::at(&[]).json(json!({"title": "Made", "task_type": "design"}))
        }),
        rule("GET /tasks/board", "tasks.read", |_| Call::at(&[])),
        rule("GET /tasks/suggest-assignee", "tasks.write", |_| {
            Call::at(&[]).query("task_type=design")
        }),
        rule("GET /tasks/statuses", "tasks.read", |_| Call::at(&[])),
        rule("POST /tasks/statuses", "tasks.manage", |w| {
            Call::at(&[]).json(json!({"key": format!("{}_made", w.role), "name": format!("Made {}", w.role), "position": 90}))
        }),
        rule("GET /tasks/{id}", "tasks.read", |w| Call::at(&[&w.task])),
        rule(
            "PATCH /tasks/{id}",
            "tasks.read & tasks.write|tasks.manage",
            |w| Call::at(&[&w.task]).json(json!({"title": "Walked"})),
        ),
        rule("GET /tasks/{id}/history", "tasks.read", |w| {
            Call::at(&[&w.task])
        }),
        rule("GET /tasks/{id}/comments", "tasks.read", |w| {
            Call::at(&[&w.task])
        }),
        rule(
            "POST /tasks/{id}/comments",
            "tasks.read & tasks.write|tasks.manage",
            |w| Call::at(&[&w.task]).json(json!({"body": "walked"})),
        ),
        rule("GET /tasks/{id}/files", "tasks.read", |w| {
            Call::at(&[&w.task])
        }),
        rule(
            "POST /tasks/{id}/files",
            "tasks.read & tasks.write|tasks.manage",
            |w| Call::at(&[&w.task]).file("walk.txt"),
        ),
        rule("GET /tasks/{id}/files/{file_id}", "tasks.read", |w| {
            Call::at(&[&w.task, &w.task_file])
        }),
        rule(
            "GET /tasks/{id}/files/{file_id}/thumbnail",
            "tasks.read",
            |w| Call::at(&[&w.task, &w.task_file]),
        ),
        // The admin's upload: someone else's file goes with edit rights.
        rule(
            "DELETE /tasks/{id}/files/{file_id}",
            "tasks.read & tasks.write|tasks.manage",
            |w| Call::at(&[&w.task, &w.task_file_to_delete]),
        ),
    ]
}

/// A request, before the role's token and the base URL are added.
struct Call {
    params: Vec<String>,
    query: String,
    body: Body,
    spare_session: bool,
}

enum Body {
    None,
    Json(Value),
    Csv(&'static str),
    File(&'static str),
}

impl Call {
    /// The path parameters, in the order the path template names them.
    fn at(params: &[&str]) -> Call {
        Call {
            params: params.iter().map(|p| p.to_string()).collect(),
            query: String::new(),
            body: Body::None,
            spare_session: false,
        }
    }

    fn json(self, body: Value) -> Call {
        Call {
            body: Body::Json(body),
            ..self
        }
    }

    fn csv(self, text: &'static str) -> Call {
        Call {
            body: Body::Csv(text),
            ..self
        }
    }

    /// A multipart upload of a small text file called `name`.
    fn file(self, name: &'static str) -> Call {
        Call {
            body: Body::File(name),
            ..self
        }
    }

    fn query(self, query: &str) -> Call {
        Call {
            query: query.to_string(),
            ..self
        }
    }

    /// Ends a session: made with a second session of the same user, so
    /// the walk's own token stays good.
    fn with_spare_session(self) -> Call {
        Call {
            spare_session: true,
            ..self
        }
    }
}

/// What an operation needs, parsed from the table.
enum Needs {
    Public,
    SignedIn,
    AdminRole,
    /// All of the groups, each satisfied by any one of its permissions.
    Permissions(Vec<Vec<String>>),
}

impl Needs {
    fn parse(text: &str) -> Needs {
        match text {
            PUBLIC => Needs::Public,
            SIGNED_IN => Needs::SignedIn,
            ADMIN_ROLE => Needs::AdminRole,
            _ => Needs::Permissions(
                text.split('&')
                    .map(|group| group.split('|').map(|p| p.trim().to_string()).collect())
                    .collect(),
            ),
        }
    }

    fn met_by(&self, role: &str, held: &BTreeSet<String>) -> bool {
        match self {
            Needs::Public | Needs::SignedIn => true,
            Needs::AdminRole => role == "admin",
            Needs::Permissions(groups) => groups
                .iter()
                .all(|any| any.iter().any(|p| held.contains(p))),
        }
    }

    fn keys(&self) -> Vec<&str> {
        match self {
            Needs::Permissions(groups) => groups.iter().flatten().map(String::as_str).collect(),
            _ => Vec::new(),
        }
    }
}

/// One built-in role's walk: its user, sessions and records.
struct Walk {
    role: String,
    /// The role's place in the walk, for chat ids that must differ.
    number: usize,
    admin_id: String,
    username: String,
    token: String,
    lead: String,
    lead_to_delete: String,
    lead_to_merge: String,
    lead_for_bulk: String,
    contact: String,
    contact_to_delete: String,
    /// The admin's notes on `lead`.
    note: String,
    note_to_delete: String,
    task: String,
    task_file: String,
    task_file_to_delete: String,
    room: String,
    message: String,
    pinned_message: String,
    message_to_delete: String,
    own_message: String,
    chat_file: String,
    webhook: String,
    custom_role: String,
    pipeline_status: String,
    target_user: String,
    admin_key: String,
    bridge: String,
    after_third: Value,
    assignment: Value,
    trash_retention: Value,
}

/// The body of a 200 answer to a set-up call.
async fn made(response: reqwest::Response, what: &str) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "set up {what}: {text}");
    serde_json::from_str(&text).unwrap()
}

fn id_at(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {pointer} in {value}"))
        .to_string()
}

impl Walk {
    /// The role's user and a fresh set of records for it, made by the admin
    /// (the user's own chat message by the user).
    async fn prepare(
        app: &TestApp,
        admin: &str,
        admin_id: &str,
        role: &str,
        number: usize,
    ) -> Walk {
        let username = format!("walk-{}", role.replace('_', "-"));
        let (user_id, token) = app.user_with_role(admin, &username, role).await;
        let (target_user, _) = app
            .user_with_role(admin, &format!("{username}-target"), "user")
            .await;

        let lead_of = |company: String| {
            let body = json!({"company_name": company, "owner": user_id,
                "contacts": [{"name": "Ada Walk"}, {"name": "Bob Walk"}]});
            async move { made(app.post("/api/v1/leads", admin, body).await, "lead").await }
        };
        let lead = lead_of(format!("Walk {role}")).await;
        let lead_to_delete = lead_of(format!("Walk {role} trash")).await;
        let lead_to_merge = lead_of(format!("Walk {role} twin")).await;
        let lead_for_bulk = lead_of(format!("Walk {role} bulk")).await;
        let lead_id = id_at(&lead, "/lead/id");
        let note = id_at(&app.add_note(admin, &lead_id, "kept").await, "/id");
        let note_to_delete = id_at(&app.add_note(admin, &lead_id, "doomed").await, "/id");

        let task = made(
            app.post(
                "/api/v1/tasks",
                admin,
                json!({"title": format!("Walk {role}"), "task_type": "design", "assignee": user_id}),
            )
            .await,
            "task",
        )
        .await;
        let task = id_at(&task, "/id");
        let attach = |name: &'static str| {
            let path = format!("/api/v1/tasks/{task}/files");
            async move {
                let (content_type, body) = multipart(&[], name, b"walk");
                let response = app
                    .request(Method::POST, &path, Some(admin))
                    .header("content-type", content_type)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                id_at(&made(response, "task file").await, "/id")
            }
        };
        let task_file = attach("kept.txt").await;
        let task_file_to_delete = attach("gone.txt").await;

        let room = made(
            app.post(
                "/api/v1/rooms",
                admin,
                json!({"kind": "channel", "name": format!("walk-{role}"), "members": [user_id]}),
            )
            .await,
            "room",
        )
        .await;
        let room = id_at(&room, "/id");
        let message = id_at(&crate::chat::say(app, admin, &room, "hello").await, "/id");
        let pinned_message = id_at(&crate::chat::say(app, admin, &room, "pinned").await, "/id");
        made(
            app.post(
                &format!("/api/v1/messages/{pinned_message}/pin"),
                admin,
                json!({}),
            )
            .await,
            "pin",
        )
        .await;
        let message_to_delete = id_at(&crate::chat::say(app, admin, &room, "doomed").await, "/id");
        let own_message = id_at(&crate::chat::say(app, &token, &room, "mine").await, "/id");
        let chat_file = made(
            crate::files::upload(app, admin, &room, "shared.txt", b"walk").await,
            "chat file",
        )
        .await;
        let chat_file = id_at(&chat_file, "/file/id");

        let webhook = made(
            app.post(
                "/api/v1/webhooks",
                admin,
                json!({"url": "http://127.0.0.1:9/walk", "topics": ["*"]}),
            )
            .await,
            "webhook",
        )
        .await;
        let custom_role = format!("{role}_walk");
        made(
            app.post(
                "/api/v1/roles",
                admin,
                json!({"key": custom_role, "name": format!("Walk {role}"), "permissions": ["tasks.read"]}),
            )
            .await,
            "role",
        )
        .await;
        let pipeline_status = format!("{role}_walk");
        made(
            app.post(
                "/api/v1/pipeline/statuses",
                admin,
                json!({"key": pipeline_status, "name": format!("Walk {role}")}),
            )
            .await,
            "pipeline status",
        )
        .await;
        let admin_key = made(
            app.post(
                "/api/v1/api-keys",
                admin,
                json!({"name": format!("walk {role}")}),
            )
            .await,
            "API key",
        )
        .await;
        let bridge = made(
            app.post(
                "/api/v1/bridges",
                admin,
                json!({"room": room, "platform": "discord", "chat_id": format!("4242{number}")}),
            )
            .await,
            "bridge",
        )
        .await;
        let after_third = made(
            app.get("/api/v1/settings/after-third-follow-up", admin)
                .await,
            "after-third rule",
        )
        .await;
        let assignment = made(
            app.get("/api/v1/settings/lead-assignment", admin).await,
            "assignment rule",
        )
        .await;
        let trash_retention = made(
            app.get("/api/v1/settings/trash-retention", admin).await,
            "trash retention",
        )
        .await;

        Walk {
            role: role.to_string(),
            number,
            admin_id: admin_id.to_string(),
            username,
            token,
            lead: lead_id,
            contact: id_at(&lead, "/contacts/0/id"),
            contact_to_delete: id_at(&lead, "/contacts/1/id"),
            note,
            note_to_delete,
            lead_to_delete: id_at(&lead_to_delete, "/lead/id"),
            lead_to_merge: id_at(&lead_to_merge, "/lead/id"),
            lead_for_bulk: id_at(&lead_for_bulk, "/lead/id"),
            task,
            task_file,
            task_file_to_delete,
            room,
            message,
            pinned_message,
            message_to_delete,
            own_message,
            chat_file,
            webhook: id_at(&webhook, "/webhook/id"),
            custom_role,
            pipeline_status,
            target_user,
            admin_key: id_at(&admin_key, "/api_key/id"),
            bridge: id_at(&bridge, "/id"),
            after_third,
            assignment,
            trash_retention,
        }
    }

    /// What a refused call to `op` could have changed, as the admin reads
    /// it: the records of the area the operation belongs to and the newest
    /// audit rows (every change writes one). Read again after each refused
    /// change; `world` covers everything else once per role.
    async fn watched(&self, app: &TestApp, admin: &str, op: &str) -> Reading {
        let area = op.split('/').nth(1).unwrap_or_default();
        let mut paths = vec!["/audit?limit=5".to_string()];
        paths.extend(match area {
            "leads" | "ai" => vec![
                format!("/leads/{}", self.lead),
                format!("/leads/{}/notes", self.lead),
                format!("/leads/{}", self.lead_to_delete),
                format!("/leads/{}", self.lead_to_merge),
                format!("/leads/{}", self.lead_for_bulk),
            ],
            "tasks" => vec![
                format!("/tasks/{}", self.task),
                format!("/tasks/{}/files", self.task),
            ],
            "users" => vec![format!("/users/{}", self.target_user)],
            "roles" => vec![format!("/roles/{}", self.custom_role)],
            "webhooks" => vec![format!("/webhooks/{}", self.webhook)],
            "rooms" | "messages" => vec![
                format!("/rooms/{}/members", self.room),
                format!("/rooms/{}/pins", self.room),
                format!("/rooms/{}/messages", self.room),
            ],
            "api-keys" => vec!["/api-keys?all=true".to_string()],
            "pipeline" | "settings" => vec![
                "/pipeline/statuses".to_string(),
                "/settings/after-third-follow-up".to_string(),
                "/settings/lead-assignment".to_string(),
                "/settings/trash-retention".to_string(),
            ],
            "bridges" => vec!["/bridges".to_string()],
            _ => vec![],
        });
        read_all(app, admin, &paths).await
    }

    /// The walk's records, and the lists, settings and switches anyone
    /// could have changed: read before and after all of a role's refusals.
    async fn world(&self, app: &TestApp, admin: &str) -> Reading {
        let paths = [
            format!("/leads/{}/contacts", self.lead),
            format!("/leads/{}/follow-ups", self.lead),
            format!("/leads/{}/calls", self.lead),
            format!("/leads/{}/notes", self.lead),
            format!("/ai/leads/{}/relations", self.lead),
            "/leads/count".to_string(),
            format!("/tasks/{}/comments", self.task),
            "/tasks?limit=200".to_string(),
            "/tasks/statuses".to_string(),
            "/users?limit=200".to_string(),
            "/roles".to_string(),
            "/api-keys?all=true".to_string(),
            format!("/rooms/{}/messages", self.room),
            "/webhooks".to_string(),
            "/pipeline/statuses".to_string(),
            "/settings/after-third-follow-up".to_string(),
            "/settings/lead-assignment".to_string(),
            "/settings/trash-retention".to_string(),
            "/ai/status".to_string(),
            "/bridges".to_string(),
            "/audit?limit=50".to_string(),
            format!("/leads/{}", self.lead),
            format!("/leads/{}", self.lead_to_delete),
            format!("/leads/{}", self.lead_to_merge),
            format!("/leads/{}", self.lead_for_bulk),
            format!("/tasks/{}", self.task),
            format!("/tasks/{}/files", self.task),
            format!("/users/{}", self.target_user),
            format!("/roles/{}", self.custom_role),
            format!("/webhooks/{}", self.webhook),
            format!("/rooms/{}/members", self.room),
            format!("/rooms/{}/pins", self.room),
        ];
        read_all(app, admin, &paths).await
    }
}

/// Status and body of each `GET`, by path.
type Reading = BTreeMap<String, (u16, String)>;

/// `GET /api/v1{path}` of each path, as the admin.
async fn read_all(app: &TestApp, admin: &str, paths: &[String]) -> Reading {
    let reads = paths.iter().map(|path| async move {
        let response = app.get(&format!("/api/v1{path}"), admin).await;
        let status = response.status().as_u16();
        (path.clone(), (status, response.text().await.unwrap()))
    });
    futures_util::future::join_all(reads)
        .await
        .into_iter()
        .collect()
}

/// What differs between two readings: each path whose answer changed,
/// with both answers from a little before where they first differ.
fn changes(before: &Reading, after: &Reading) -> Vec<String> {
    before
        .iter()
        .filter(|(path, was)| after.get(*path) != Some(was))
        .map(|(path, was)| {
            let now = &after[path];
            let at = was
                .1
                .char_indices()
                .zip(now.1.chars())
                .find(|((_, a), b)| a != b)
                .map_or(was.1.len().min(now.1.len()), |((i, _), _)| i);
            let from = at.saturating_sub(80);
            let around = |text: &str| -> String {
                let start = (0..=from)
                    .rev()
                    .find(|i| text.is_char_boundary(*i))
                    .unwrap_or(0);
                text[start..].chars().take(240).collect()
            };
            format!(
                "GET {path}:\n  before {} …{}\n  after  {} …{}",
                was.0,
                around(&was.1),
                now.0,
                around(&now.1)
            )
        })
        .collect()
}

/// `op`'s path with `params` put in for its `{placeholders}`, in order.
fn fill(op: &str, call: &Call) -> (Method, String) {
    let (method, template) = op.split_once(' ').unwrap();
    let mut params = call.params.iter();
    let path: Vec<String> = template
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                params
                    .next()
                    .unwrap_or_else(|| panic!("{op}: no value for {segment}"))
                    .clone()
            } else {
                segment.to_string()
            }
        })
        .collect();
    assert!(
        params.next().is_none(),
        "{op}: more values than placeholders"
    );
    let mut url = format!("/api/v1{}", path.join("/"));
    if !call.query.is_empty() {
        url = format!("{url}?{}", call.query);
    }
    (method.parse().unwrap(), url)
}

async fn send(app: &TestApp, op: &str, call: &Call, token: Option<&str>) -> reqwest::Response {
    let (method, url) = fill(op, call);
    let request = app.request(method, &url, token);
    let request = match &call.body {
        Body::None => request,
        Body::Json(body) => request.json(body),
        Body::Csv(text) => request.header("content-type", "text/csv").body(*text),
        Body::File(name) => {
            let (content_type, body) = multipart(&[], name, b"walk");
            request.header("content-type", content_type).body(body)
        }
    };
    request.send().await.unwrap()
}

/// Checks a refusal; `None` when it was answered as the rule says.
async fn refusal_problem(response: reqwest::Response, refusal: Refusal) -> Option<String> {
    let status = response.status();
    match refusal {
        Refusal::Forbidden | Refusal::Hidden => {
            let expected = if refusal == Refusal::Forbidden {
                (StatusCode::FORBIDDEN, "forbidden")
            } else {
                (StatusCode::NOT_FOUND, "not_found")
            };
            if status != expected.0 {
                let text = response.text().await.unwrap_or_default();
                return Some(format!("answered {status}, not {}: {text}", expected.0));
            }
            let (_, code, _) = error_of(response).await;
            (code != expected.1).then(|| format!("error code `{code}`, not `{}`", expected.1))
        }
        Refusal::PerLead => {
            let body: Value = response.json().await.unwrap_or_default();
            let failed = body["failed"].as_array().cloned().unwrap_or_default();
            let all_refused = status == StatusCode::OK
                && !failed.is_empty()
                && failed.iter().all(|f| f["error"]["code"] == "forbidden")
                && body["updated"].as_array().is_some_and(Vec::is_empty);
            (!all_refused).then(|| format!("answered {status} {body}, not every lead refused"))
        }
    }
}

/// The keys of the permissions in the catalogue.
async fn catalogue(app: &TestApp, admin: &str) -> BTreeSet<String> {
    made(app.get("/api/v1/permissions", admin).await, "catalogue")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap().to_string())
        .collect()
}

/// Every `METHOD /path` in the OpenAPI document.
async fn documented_operations(app: &TestApp) -> BTreeSet<String> {
    let spec = app.openapi().await;
    let mut operations = BTreeSet::new();
    for (path, methods) in spec["paths"].as_object().unwrap() {
        for method in methods.as_object().unwrap().keys() {
            operations.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    operations
}

/// The built-in roles and what each holds, as the app says.
async fn built_in_roles(app: &TestApp, admin: &str) -> Vec<(String, BTreeSet<String>)> {
    made(app.get("/api/v1/roles", admin).await, "roles")
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["built_in"] == true)
        .map(|r| {
            let held = r["permissions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_string())
                .collect();
            (r["id"].as_str().unwrap().to_string(), held)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_answers_every_built_in_role_as_its_permissions_say() {
    // About a thousand calls in a few seconds, from one address.
    let app = TestApp::spawn_with(|c| {
        c.rate_limit_per_ip = 1_000_000;
        c.rate_limit_per_token = 1_000_000;
    })
    .await;
    let admin = app.admin_token().await;
    let admin_id = made(app.get("/api/v1/auth/me", &admin).await, "me").await;
    let admin_id = id_at(&admin_id, "/user/id");
    let rules = rules();

    // The table and the document name the same operations.
    let documented = documented_operations(&app).await;
    let mut tabled = BTreeSet::new();
    let twice: Vec<&str> = rules
        .iter()
        .filter(|r| !tabled.insert(r.op.to_string()))
        .map(|r| r.op)
        .collect();
    let missing: Vec<&String> = documented.difference(&tabled).collect();
    let stale: Vec<&String> = tabled.difference(&documented).collect();
    assert!(
        missing.is_empty() && stale.is_empty() && twice.is_empty(),
        "the permission table in tests/api/permission_walk.rs is out of date.\n\
         Operations in /openapi.json without a rule (add one, from the domain's \
         `actor.require`): {missing:#?}\n\
         Rules for operations /openapi.json no longer has: {stale:#?}\n\
         Operations with two rules: {twice:#?}"
    );
    let known = catalogue(&app, &admin).await;
    for rule in &rules {
        for key in Needs::parse(rule.needs).keys() {
            assert!(
                known.contains(key),
                "{}: unknown permission `{key}`",
                rule.op
            );
        }
    }

    let roles = built_in_roles(&app, &admin).await;
    assert!(
        roles.iter().any(|(key, _)| key == "admin") && roles.len() > 1,
        "built-in roles: {roles:?}"
    );

    let mut problems: Vec<String> = Vec::new();
    let mut anonymous_done = false;
    for (number, (role, held)) in roles.iter().enumerate() {
        let walk = Walk::prepare(&app, &admin, &admin_id, role, number).await;

        // Without a token, only signing in answers.
        if !anonymous_done {
            anonymous_done = true;
            for rule in &rules {
                let call = (rule.call)(&walk);
                let response = send(&app, rule.op, &call, None).await;
                let status = response.status();
                if matches!(Needs::parse(rule.needs), Needs::Public) {
                    if matches!(status.as_u16(), 401 | 403) || status.is_server_error() {
                        problems.push(format!("no token: {} answered {status}", rule.op));
                    }
                    continue;
                }
                if status != StatusCode::UNAUTHORIZED {
                    problems.push(format!("no token: {} answered {status}, not 401", rule.op));
                    continue;
                }
                let (_, code, _) = error_of(response).await;
                if code != "unauthenticated" {
                    problems.push(format!("no token: {} error code `{code}`", rule.op));
                }
            }
        }

        let (mut allowed, refused): (Vec<&Rule>, Vec<&Rule>) = rules
            .iter()
            .partition(|r| Needs::parse(r.needs).met_by(role, held));
        // Deletions last, and the target user's last of all, so the calls
        // before them reach real records.
        allowed.sort_by_key(|r| match r.op {
            "DELETE /users/{id}" | "POST /users/{id}/deactivate" => 2,
            op if op.starts_with("DELETE ") => 1,
            _ => 0,
        });

        // Refusals first: each must leave the admin's view as it was.
        let world_before = walk.world(&app, &admin).await;
        for rule in &refused {
            let call = (rule.call)(&walk);
            let writes = !rule.op.starts_with("GET ");
            let before = if writes {
                walk.watched(&app, &admin, rule.op).await
            } else {
                Reading::new()
            };
            let response = send(&app, rule.op, &call, Some(&walk.token)).await;
            if let Some(problem) = refusal_problem(response, rule.refusal).await {
                problems.push(format!("{role}: {} ({}): {problem}", rule.op, rule.needs));
            }
            if writes {
                let after = walk.watched(&app, &admin, rule.op).await;
                for change in changes(&before, &after) {
                    problems.push(format!("{role}: {}, not held, changed {change}", rule.op));
                }
            }
        }

        let world_after = walk.world(&app, &admin).await;
        for change in changes(&world_before, &world_after) {
            problems.push(format!("{role}: the calls not held changed {change}"));
        }

        // Then what the role may do: never 401 or 403, never a 5xx.
        let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
        for rule in &allowed {
            let call = (rule.call)(&walk);
            let token = if call.spare_session {
                app.login(&walk.username, USER_PASSWORD).await
            } else {
                walk.token.clone()
            };
            let response = send(&app, rule.op, &call, Some(&token)).await;
            let status = response.status();
            *statuses.entry(status.as_u16()).or_default() += 1;
            if matches!(status.as_u16(), 401 | 403) || status.is_server_error() {
                let text = response.text().await.unwrap_or_default();
                problems.push(format!(
                    "{role}: {} ({}) answered {status}: {text}",
                    rule.op, rule.needs
                ));
            } else if !status.is_success() {
                let text = response.text().await.unwrap_or_default();
                eprintln!("{role}: {} answered {status}: {text}", rule.op);
            }
        }
        eprintln!(
            "{role}: {} operations allowed (statuses {statuses:?}), {} refused",
            allowed.len(),
            refused.len()
        );
    }

    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
