//! The `/api/v1` operations, one poem-openapi service per tag. Handlers
//! translate between HTTP and domain calls; they hold no business rules.
//!
//! Conversions have one shape: `impl From<domain::X> for XView` and
//! `impl From<XBody> for domain::NewX` (or `XPatch`), each beside the view or
//! body it builds, so a handler reads `Json(x.into())` or
//! `items.into_iter().map(Into::into).collect()`. A view that needs more
//! than one domain value gets a named constructor beside it instead, with a
//! line saying what else it takes.

pub mod ai;
pub mod analytics;
pub mod api_keys;
pub mod auth;
pub mod bots;
pub mod chat;
pub mod common;
pub mod features;
pub mod files;
pub mod geo;
pub mod leads;
pub mod maintenance;
pub mod notes;
pub mod notifications;
pub mod permissions;
pub mod pipeline;
pub mod roles;
pub mod second_factor;
pub mod task_files;
pub mod tasks;
pub mod transfer;
pub mod users;
pub mod webhooks;
pub mod work_queues;

use poem_openapi::{OpenApiService, Tags};

use super::query_params::Expanded;

#[derive(Tags)]
pub enum ApiTags {
    /// Sign in and out, the current user, password changes, two-factor
    /// sign-in.
    Auth,
    /// User accounts.
    Users,
    /// Roles and the permission matrix.
    Roles,
    /// The permission catalogue.
    Permissions,
    /// API keys for integrators.
    ApiKeys,
    /// Leads, their contacts and notes.
    Leads,
    /// The three follow-up tiers and due lists.
    FollowUps,
    /// Call logs and the call queue.
    Calls,
    /// Pipeline statuses and CRM settings.
    Pipeline,
    /// Countries, subdivisions and time zones.
    Geo,
    /// The audit log.
    Audit,
    /// Closing the service to everyone but admins.
    Maintenance,
    /// Switching the optional parts (chat, bots, webhooks, import, each AI
    /// feature) on and off.
    Features,
    /// Outbound webhooks: endpoints, topics and the delivery log.
    Webhooks,
    /// Chat rooms, messages and pins (the socket is `/api/v1/ws`).
    Chat,
    /// Notifications and reminders.
    Notifications,
    /// Lead scores, intents, duplicates, drafts, relations, patterns.
    Ai,
    /// Production tasks: board, lists, comments and the workflow.
    Tasks,
    /// Dashboard series: funnel, lead breakdowns, follow-up compliance, tasks, chat.
    Analytics,
    /// Chat bots: linking accounts, bot status.
    Bots,
}

/// Every service, grouped by area (poem-openapi implements `OpenApi` for
/// tuples of up to 16).
pub type Api = (
    (
        auth::AuthApi,
        second_factor::SecondFactorApi,
        users::UsersApi,
        roles::RolesApi,
        permissions::PermissionsApi,
        api_keys::ApiKeysApi,
    ),
    (
        leads::LeadsApi,
        notes::NotesApi,
        work_queues::WorkQueuesApi,
        pipeline::PipelineApi,
        geo::GeoApi,
        transfer::TransferApi,
    ),
    (
        webhooks::WebhooksApi,
        maintenance::MaintenanceApi,
        features::FeaturesApi,
    ),
    (
        chat::ChatApi,
        files::FilesApi,
        notifications::NotificationsApi,
        bots::BotsApi,
    ),
    ai::AiApi,
    (
        tasks::TasksApi,
        task_files::TaskFilesApi,
        analytics::AnalyticsApi,
    ),
);

pub fn service() -> OpenApiService<Expanded<Api>, ()> {
    OpenApiService::new(
        Expanded((
            (auth::AuthApi, second_factor::SecondFactorApi, users::UsersApi, roles::RolesApi, permissions::PermissionsApi, api_keys::ApiKeysApi),
            (leads::LeadsApi, notes::NotesApi, work_queues::WorkQueuesApi, pipeline::PipelineApi, geo::GeoApi, transfer::TransferApi),
            (webhooks::WebhooksApi, maintenance::MaintenanceApi, features::FeaturesApi),
            (chat::ChatApi, files::FilesApi, notifications::NotificationsApi, bots::BotsApi),
            ai::AiApi,
            (tasks::TasksApi, task_files::TaskFilesApi, analytics::AnalyticsApi),
        )),
        "EA CRM",
        env!("CARGO_PKG_VERSION"),
    )
    .description("Chat-first sales CRM. Authenticate with `Authorization: Bearer <session token or API key>`; errors are `{error:{code,message}}`, each operation listing the statuses it can answer. A field without a value is left out of an answer, never sent as null. Every answer carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`.")
    .server("/api/v1")
}
