//! The business rules, one module a concept. Every entry point (REST,
//! WebSocket, Telegram, Discord, the CLI) calls these functions with an
//! `Actor`; permissions are checked here and nowhere else.

pub mod actor;
pub mod ai;
pub mod analytics;
pub mod api_keys;
pub mod audit;
pub mod audit_text;
pub mod bot_outbox;
pub mod bridges;
pub mod chat;
pub mod clock;
pub mod credential_cache;
pub mod crm;
pub mod cursor;
pub mod digests;
pub mod due_notices;
pub mod error;
pub mod events;
pub mod features;
pub mod geo;
pub mod idempotency;
pub mod links;
pub mod maintenance;
pub mod passwords;
pub mod permissions;
pub mod roles;
pub mod second_factor;
pub mod sessions;
pub mod socket_tickets;
pub mod tasks;
pub mod tokens;
pub mod uploads;
pub mod users;
pub mod webhooks;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::config::Config;
use crate::rate_limit::WindowLimiter;
use crate::store::Store;
use clock::Clock;
use events::EventBus;
use passwords::PasswordHasher;

/// Session lifetimes.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    pub session_idle: Duration,
    pub session_max: Duration,
}

/// Login limits: failed attempts per client IP, per username from one
/// client, per username from all clients together (ten times as many, so
/// one attacker cannot lock a user out of every other address), wrong
/// current passwords per user, and wrong link codes per chat account.
pub struct LoginLimits {
    pub per_ip: WindowLimiter,
    pub failures_per_user_and_client: WindowLimiter,
    pub failures_per_user: WindowLimiter,
    pub password_change_failures: WindowLimiter,
    pub link_failures_per_account: WindowLimiter,
}

/// How many more failures a username may take from all clients together
/// than from one.
pub const FAILURES_FROM_ALL_CLIENTS: u32 = 10;

/// What every domain function needs: the store, the clock, the hasher and
/// the settings. Built once by `App::build`; shared by every entry point.
pub struct Ctx {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub hasher: PasswordHasher,
    pub settings: SessionSettings,
    pub login_limits: LoginLimits,
    pub events: EventBus,
    /// Pokes the webhook dispatcher; see `webhooks::wake`.
    pub webhook_wake: Arc<tokio::sync::Notify>,
    /// The AI providers (remote when configured, local always).
    pub ai: ai::AiService,
    /// Where new chat messages queue to be numbered and stored.
    pub message_writer: chat::writer::MessageWriter,
    /// Sessions and API keys resolved in the last few seconds.
    pub credentials: credential_cache::CredentialCache,
    /// Room memberships seen by this instance.
    pub known_members: chat::known_members::KnownMembers,
    /// Whether the service is closed for maintenance, as last read.
    pub maintenance: maintenance::MaintenanceSwitch,
    /// Which optional parts are switched off, as last read.
    pub features: features::FeatureSwitches,
    /// How import jobs run, and the poke for their worker.
    pub import_jobs: crm::import_jobs::JobSettings,
    /// Leads a search page reads along its sort order before it stops
    /// walking (`SEARCH_WALK_BUDGET`).
    pub search_walk_budget: usize,
}

impl Ctx {
    pub fn new(store: Store, clock: Arc<dyn Clock>, config: &Config) -> Self {
        let window = Duration::seconds(config.login_window_seconds as i64);
        let events = EventBus::new();
        Ctx {
            message_writer: chat::writer::MessageWriter::start(store.clone(), events.clone()),
            store,
            clock,
            hasher: PasswordHasher::new(config.max_concurrent_hashes),
            settings: SessionSettings {
                session_idle: Duration::from_std(config.session_idle())
                    .unwrap_or(Duration::hours(12)),
                session_max: Duration::from_std(config.session_max()).unwrap_or(Duration::days(14)),
            },
            login_limits: LoginLimits {
                per_ip: WindowLimiter::new(config.login_max_attempts_per_ip, window),
                failures_per_user_and_client: WindowLimiter::new(
                    config.login_max_failures_per_user,
                    window,
                ),
                failures_per_user: WindowLimiter::new(
                    config.login_max_failures_per_user * FAILURES_FROM_ALL_CLIENTS,
                    window,
                ),
                password_change_failures: WindowLimiter::new(
                    config.login_max_failures_per_user,
                    window,
                ),
                link_failures_per_account: WindowLimiter::new(
                    config.login_max_failures_per_user,
                    window,
                ),
            },
            events,
            webhook_wake: Arc::new(tokio::sync::Notify::new()),
            ai: ai::AiService::from_config(config),
            credentials: credential_cache::CredentialCache::new(std::time::Duration::from_millis(
                config.auth_cache_ms,
            )),
            known_members: Default::default(),
            maintenance: Default::default(),
            features: Default::default(),
            import_jobs: crm::import_jobs::JobSettings::from_config(config),
            search_walk_budget: config.search_walk_budget,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

/// Re-reads the stored switches (maintenance mode and the feature
/// switches) into this instance's view, now.
pub async fn refresh_switches(ctx: &Ctx) -> error::DomainResult<()> {
    maintenance::refresh(ctx).await?;
    features::refresh(ctx).await?;
    Ok(())
}

/// Keeps this instance's view of the stored switches current, re-reading
/// them every `maintenance::POLL_EVERY`: how late another instance's change
/// reaches this one at most. Runs for the life of the service.
pub async fn follow_switches(ctx: Arc<Ctx>) {
    let mut tick = tokio::time::interval(maintenance::POLL_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = refresh_switches(&ctx).await {
            tracing::warn!(error = %e, "could not read the stored switches");
        }
    }
}
