//! Builds the whole service from a `Config`: store, migrations, domain,
//! HTTP server. `main` and the tests start the same thing.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use poem::{Endpoint, Response};

use crate::bots::direct;
use crate::bots::discord::DiscordSettings;
use crate::bots::outbox::{Couriers, OutboxSettings};
use crate::bots::telegram::{TelegramSettings, WebhookSettings};
use crate::config::{Config, ConfigError};
use crate::domain::chat::reminders;
use crate::domain::clock::{Clock, SystemClock};
use crate::domain::webhooks::{Dispatcher, DispatcherHandle, DispatcherSettings};
use crate::domain::{roles, users, Ctx};
use crate::http::{self, AppState};
use crate::realtime;
use crate::store::{self, migrations, Store};

/// Why the service could not start; printed as one line, exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("cannot open the database: {0}")]
    Database(String),
    #[error("cannot listen on {addr}: {reason}")]
    Bind { addr: String, reason: String },
}

/// A built service: bound to its port, store open and migrated, not yet
/// serving.
pub struct App {
    pub addr: SocketAddr,
    pub ctx: Arc<Ctx>,
    pub state: Arc<AppState>,
    /// Set when the first admin was created with a generated password; shown
    /// once by the caller.
    pub generated_admin_password: Option<String>,
    acceptor: TcpAcceptor,
    /// The webhook dispatcher, when this instance runs one.
    webhooks: Option<DispatcherHandle>,
    background: BackgroundTasks,
}

/// Tasks that run beside the server (the hub's event pump, the live-query
/// listener, the reminder scheduler); stopped when the app stops or is
/// dropped.
#[derive(Default)]
struct BackgroundTasks(Vec<tokio::task::JoinHandle<()>>);

impl BackgroundTasks {
    async fn stop(mut self) {
        for task in &self.0 {
            task.abort();
        }
        for task in self.0.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for BackgroundTasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// How long in-flight requests get to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);
/// How long the store gets to flush and release its files at exit.
const STORE_CLOSE_GRACE: Duration = Duration::from_secs(10);

impl App {
    pub async fn build(config: Config) -> Result<App, StartupError> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<App, StartupError> {
        Self::build_with(config, clock, None).await
    }

    /// Builds on an already open `store` when given one: two apps on one
    /// store behave like two instances sharing a database server.
    pub async fn build_with(
        config: Config,
        clock: Arc<dyn Clock>,
        store: Option<Store>,
    ) -> Result<App, StartupError> {
        config.validate()?;
        let addr = config.bind_addr()?;
        let acceptor =
            TcpListener::bind(addr)
                .into_acceptor()
                .await
                .map_err(|e| StartupError::Bind {
                    addr: config.bind.clone(),
                    reason: e.kind().to_string(),
                })?;
        let local = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .unwrap_or(addr);

        let ctx = Arc::new(open_domain_on(&config, clock, store).await?);
        let generated_admin_password = users::ensure_first_admin(
            &ctx,
            &config.admin_username,
            config.admin_password.as_deref(),
        )
        .await
        .map_err(|e| StartupError::Database(e.to_string()))?;
        let webhooks = if config.webhook_dispatcher {
            let settings = DispatcherSettings::from_config(&config);
            let dispatcher = Dispatcher::new(ctx.clone(), settings)
                .map_err(|e| StartupError::Database(e.to_string()))?;
            Some(dispatcher.spawn())
        } else {
            None
        };
        let reminder_poll = Duration::from_millis(config.reminder_poll_ms);
        let presence_every = Duration::from_millis(config.presence_flush_ms);
        let mut state = AppState::new(ctx.clone(), Arc::new(config));
        let telegram = match (
            &state.config.telegram_bot_token,
            &state.config.telegram_webhook_url,
        ) {
            (Some(token), Some(url)) => {
                let (sender, updates) =
                    tokio::sync::mpsc::channel(crate::bots::telegram::WEBHOOK_QUEUE);
                let secret = state
                    .config
                    .telegram_webhook_secret
                    .clone()
                    .unwrap_or_default();
                state.telegram_webhook = Some(crate::bots::telegram::WebhookInbox {
                    secret: secret.clone(),
                    updates: sender,
                });
                let webhook = WebhookSettings {
                    url: url.clone(),
                    secret,
                    updates,
                };
                Some(telegram_settings(&state.config, token, Some(webhook)))
            }
            (Some(token), None) => Some(telegram_settings(&state.config, token, None)),
            (None, _) => None,
        };
        let state = Arc::new(state);
        let mut background = BackgroundTasks(vec![
            tokio::spawn(realtime::pump_events(ctx.events.clone(), state.hub.clone())),
            tokio::spawn(realtime::live::listen(ctx.store.clone(), state.hub.clone())),
            tokio::spawn(realtime::live::listen_read_markers(
                state.hub.clone(),
                ctx.store.clone(),
            )),
            tokio::spawn(realtime::live::listen_memberships(
                ctx.clone(),
                state.hub.clone(),
            )),
            tokio::spawn(reminders::run_scheduler(ctx.clone(), reminder_poll)),
            tokio::spawn(realtime::flush_presence(state.hub.clone(), presence_every)),
            tokio::spawn(realtime::presence_sync::run(
                ctx.clone(),
                state.hub.clone(),
                presence_every,
            )),
            tokio::spawn(crate::domain::ai::scoring::run_scorer(
                ctx.clone(),
                ctx.events.subscribe(),
            )),
            tokio::spawn(crate::bots::web_chat::run(ctx.clone())),
            tokio::spawn(crate::domain::ai::fit::run_trainer(ctx.clone())),
            tokio::spawn(crate::domain::follow_switches(ctx.clone())),
            tokio::spawn(crate::domain::crm::import_jobs::run_worker(ctx.clone())),
        ]);
        if let Some(schedule) = crate::backup::schedule::Schedule::from_config(&state.config) {
            background.0.push(tokio::spawn(crate::backup::schedule::run(
                ctx.clone(),
                state.config.clone(),
                schedule,
            )));
        }
        let discord = state
            .config
            .discord_bot_token
            .clone()
            .map(|token| DiscordSettings {
                token,
                api_url: state.config.discord_api_url.clone(),
            });
        if telegram.is_some() || discord.is_some() {
            let mut configured = Vec::new();
            if telegram.is_some() {
                configured.push(crate::bots::telegram::PLATFORM);
            }
            if discord.is_some() {
                configured.push(crate::bots::discord::PLATFORM);
            }
            let couriers = Arc::new(Couriers::new(configured));
            background.0.push(tokio::spawn(crate::bots::outbox::run(
                ctx.clone(),
                couriers.clone(),
                OutboxSettings::from_config(&state.config),
            )));
            background
                .0
                .push(tokio::spawn(crate::bots::bridging::queue_hub_messages(
                    ctx.clone(),
                    couriers.clone(),
                    ctx.events.subscribe(),
                    state.config.public_base_url.clone(),
                )));
            background
                .0
                .push(tokio::spawn(direct::deliver_notifications(
                    ctx.clone(),
                    couriers.clone(),
                    ctx.events.subscribe(),
                )));
            background.0.push(tokio::spawn(direct::send_digests(
                ctx.clone(),
                couriers.clone(),
                reminder_poll,
            )));
            if let Some(settings) = telegram {
                background.0.push(tokio::spawn(crate::bots::telegram::run(
                    ctx.clone(),
                    state.bot_status.clone(),
                    couriers.clone(),
                    settings,
                )));
            }
            if let Some(settings) = discord {
                background.0.push(tokio::spawn(crate::bots::discord::run(
                    ctx.clone(),
                    state.bot_status.clone(),
                    couriers,
                    settings,
                )));
            }
        }
        Ok(App {
            webhooks,
            addr: local,
            ctx,
            state,
            generated_admin_password,
            acceptor,
            background,
        })
    }

    /// Serves until `shutdown` resolves, lets in-flight requests finish,
    /// then closes the store.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let App {
            state,
            ctx,
            acceptor,
            webhooks,
            background,
            ..
        } = self;
        let database = state.config.database_kind().ok();
        let hub = state.hub.clone();
        let shutdown = async move {
            shutdown.await;
            hub.close_all();
        };
        let config = state.config.clone();
        let endpoint = http::routes(state);
        drop(ctx);
        let served = serve(acceptor, endpoint, &config, shutdown).await;
        // After the server, so no request can still be committing events; before
        // the store closes, so in-flight deliveries can record their outcome.
        if let Some(dispatcher) = webhooks {
            dispatcher.stop().await;
        }
        background.stop().await;
        if let Some(kind) = database {
            if !store::wait_until_released(&kind, STORE_CLOSE_GRACE).await {
                tracing::warn!(
                    "the database was still busy at exit; it recovers on the next start"
                );
            }
        }
        served
    }
}

fn telegram_settings(
    config: &Config,
    token: &str,
    webhook: Option<WebhookSettings>,
) -> TelegramSettings {
    TelegramSettings {
        token: token.to_string(),
        api_url: config.telegram_api_url.clone(),
        poll_timeout_secs: 10,
        webhook,
    }
}

async fn serve(
    acceptor: TcpAcceptor,
    endpoint: impl Endpoint<Output = Response> + 'static,
    config: &Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = http::server::ConnectionLimits {
        header_read: Duration::from_secs(config.http_read_timeout_seconds),
        http2_max_streams: 100,
        http2_max_header_bytes: 16 * 1024,
        http2_max_pending_resets: 20,
    };
    http::server::serve(
        http::acceptor::NoDelayAcceptor(acceptor),
        endpoint,
        limits,
        shutdown,
        SHUTDOWN_GRACE,
    )
    .await
}

/// Opens the store, applies migrations and seeds built-in roles: what every
/// subcommand that touches data needs.
pub async fn open_domain(config: &Config, clock: Arc<dyn Clock>) -> Result<Ctx, StartupError> {
    open_domain_on(config, clock, None).await
}

async fn open_domain_on(
    config: &Config,
    clock: Arc<dyn Clock>,
    store: Option<Store>,
) -> Result<Ctx, StartupError> {
    let store = match store {
        Some(store) => store,
        None => Store::connect(config)
            .await
            .map_err(|e| StartupError::Database(e.to_string()))?,
    };
    migrations::migrate(&store)
        .await
        .map_err(|e| StartupError::Database(e.to_string()))?;
    let ctx = Ctx::new(store, clock, config);
    roles::seed_built_in(&ctx)
        .await
        .map_err(|e| StartupError::Database(e.to_string()))?;
    // A restart during maintenance comes back closed, and a switched-off
    // part stays off, before the first request or command.
    crate::domain::refresh_switches(&ctx)
        .await
        .map_err(|e| StartupError::Database(e.to_string()))?;
    Ok(ctx)
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
