//! Builds the whole service from a `Config`: store, migrations, domain,
//! HTTP server. `main` and the tests start the same thing.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use poem::{Endpoint, Response, Server};

use crate::config::{Config, ConfigError};
use crate::domain::clock::{Clock, SystemClock};
use crate::domain::webhooks::{Dispatcher, DispatcherHandle, DispatcherSettings};
use crate::domain::{roles, users, Ctx};
use crate::http::{self, AppState};
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

        let ctx = Arc::new(open_domain(&config, clock).await?);
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
        let state = Arc::new(AppState::new(ctx.clone(), Arc::new(config)));
        Ok(App {
            webhooks,
            addr: local,
            ctx,
            state,
            generated_admin_password,
            acceptor,
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
            ..
        } = self;
        let database = state.config.database_kind().ok();
        let endpoint = http::routes(state);
        drop(ctx);
        let served = serve(acceptor, endpoint, shutdown).await;
        // After the server, so no request can still be committing events; before
        // the store closes, so in-flight deliveries can record their outcome.
        if let Some(dispatcher) = webhooks {
            dispatcher.stop().await;
        }
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

async fn serve(
    acceptor: TcpAcceptor,
    endpoint: impl Endpoint<Output = Response> + 'static,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(endpoint, shutdown, Some(SHUTDOWN_GRACE))
        .await
}

/// Opens the store, applies migrations and seeds built-in roles: what every
/// subcommand that touches data needs.
pub async fn open_domain(config: &Config, clock: Arc<dyn Clock>) -> Result<Ctx, StartupError> {
    let store = Store::connect(config)
        .await
        .map_err(|e| StartupError::Database(e.to_string()))?;
    migrations::migrate(&store)
        .await
        .map_err(|e| StartupError::Database(e.to_string()))?;
    let ctx = Ctx::new(store, clock, config);
    roles::seed_built_in(&ctx)
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
