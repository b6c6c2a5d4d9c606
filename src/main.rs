//! The `ea-crm` command line: `serve` (the default), `admin` and `bench`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ea_crm::app::{self, App, StartupError};
use ea_crm::config::Config;
use ea_crm::domain::clock::SystemClock;
use ea_crm::domain::users;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "ea-crm",
    version,
    about = "Chat-first sales CRM and realtime team hub"
)]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (the default).
    Serve,
    /// Benchmarks that print figures; with no suite, every suite and one table.
    Bench {
        #[command(subcommand)]
        suite: Option<BenchSuite>,
        /// With no suite: small sizes (a smoke run, not a measurement).
        #[arg(long)]
        quick: bool,
        /// With no suite: leads for the crm and analytics suites (tasks are
        /// half as many) instead of 100,000.
        #[arg(long)]
        leads: Option<usize>,
    },
    /// Write the database and the uploaded files to one archive (with the
    /// service stopped when the store is embedded).
    Backup { file: std::path::PathBuf },
    /// Restore an archive made by `backup` into an empty database.
    Restore { file: std::path::PathBuf },
    /// Operator tasks on the database.
    Admin {
        #[command(subcommand)]
        task: AdminTask,
    },
}

#[derive(Subcommand)]
enum BenchSuite {
    /// Import N leads, then time list pages (first and last) and search.
    Crm(ea_crm::bench::crm::CrmBench),
    /// The realtime hub under a team's load, from a separate process:
    /// connections in rooms, an open-loop message rate, REST posts and
    /// sign-ins meanwhile; then the same against a bare broadcast.
    Chat(ea_crm::bench::ChatLoad),
    /// The baseline broadcast server `bench chat` measures against.
    #[command(hide = true)]
    BareServer {
        #[arg(long)]
        bind: std::net::SocketAddr,
    },
    /// Seed leads, follow-ups, tasks and messages; time every analytics query.
    Analytics(ea_crm::bench::analytics::AnalyticsBench),
    /// Open N idle authenticated WebSocket connections: time to open, the
    /// server's memory each.
    Idle(ea_crm::bench::idle::IdleBench),
}

#[derive(Subcommand)]
enum AdminTask {
    /// Set a new password for USER, end their sessions, take away their
    /// second factor and reactivate them; prints the password.
    ResetPassword {
        username: String,
        /// Use this password instead of generating one.
        #[arg(long, env = "NEW_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Close the service to everyone but admins (`on`), or open it again
    /// (`off`), for when the panel is the problem.
    Maintenance {
        #[arg(value_parser = ["on", "off"])]
        state: String,
        /// What everyone shut out is told.
        #[arg(long)]
        message: Option<String>,
        /// When it ends by itself: an RFC 3339 time, or a span from now
        /// such as `30m` or `2h`.
        #[arg(long)]
        until: Option<String>,
    },
}

/// Exit code for a start that cannot succeed as configured.
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,surrealdb=warn,surrealkv=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    // The embedded SurrealDB parses and runs queries recursively on the
    // worker that polls them; 2 MiB stacks are too tight for that in debug
    // builds and leave little room in release.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(8 * 1024 * 1024)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ea-crm: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> ExitCode {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.config).await,
        Command::Bench {
            suite,
            quick,
            leads,
        } => bench(suite, quick, leads).await,
        Command::Admin {
            task: AdminTask::ResetPassword { username, password },
        } => reset_password(cli.config, &username, password).await,
        Command::Admin {
            task:
                AdminTask::Maintenance {
                    state,
                    message,
                    until,
                },
        } => maintenance(cli.config, state == "on", message, until.as_deref()).await,
        Command::Backup { file } => backup(cli.config, &file).await,
        Command::Restore { file } => restore(cli.config, &file).await,
    }
}

async fn bench(suite: Option<BenchSuite>, quick: bool, leads: Option<usize>) -> ExitCode {
    use ea_crm::bench::{self, figures_table};
    // Benchmarks always run on a throwaway service on loopback, whatever
    // DATABASE_URL or BIND say.
    let config = Config::for_tests();
    let build = if cfg!(debug_assertions) {
        "debug build"
    } else {
        "release build"
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let outcome = match suite {
        None => {
            let mut sizes = if quick {
                bench::all::Sizes::quick()
            } else {
                bench::all::Sizes::full()
            };
            if let Some(leads) = leads {
                sizes.crm.leads = leads;
                sizes.analytics.leads = leads;
                sizes.analytics.tasks = leads / 2;
            }
            let (figures, failures) = bench::all::run(config, sizes).await;
            println!("ea-crm bench: every suite ({build}, {cores} cores)\n");
            print!("{}", figures_table(&figures));
            for f in &failures {
                eprintln!("ea-crm bench: suite {} failed: {:#}", f.suite, f.error);
            }
            return if failures.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            };
        }
        Some(BenchSuite::Crm(args)) => bench::crm::run(args).await,
        Some(BenchSuite::Chat(load)) => bench::chat::run(load).await,
        Some(BenchSuite::BareServer { bind }) => {
            return match bench::bare::serve(bind).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("ea-crm bench bare-server: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        Some(BenchSuite::Analytics(args)) => bench::analytics::run(config, args).await,
        Some(BenchSuite::Idle(args)) => bench::idle::run(args).await,
    };
    match outcome {
        Ok(figures) => {
            println!("ea-crm bench ({build}, {cores} cores)\n");
            print!("{}", figures_table(&figures));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ea-crm bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> ExitCode {
    let app = match App::build(config).await {
        Ok(app) => app,
        Err(e) => return startup_failed(e),
    };
    if let Some(password) = &app.generated_admin_password {
        println!(
            "First start: created admin user `{}` with password: {password}\nIt is shown only this once; change it after signing in.",
            app.state.config.admin_username
        );
    }
    tracing::info!(addr = %app.addr, "EA CRM listening on http://{}", app.addr);
    match app.run_until(app::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ea-crm: server stopped: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn reset_password(config: Config, username: &str, password: Option<String>) -> ExitCode {
    let ctx = match app::open_domain(&config, std::sync::Arc::new(SystemClock)).await {
        Ok(ctx) => ctx,
        Err(e) => return startup_failed(e),
    };
    let outcome = users::reset_password(&ctx, username, password).await;
    drop(ctx);
    close_store(&config).await;
    match outcome {
        Ok(password) => {
            println!("New password for `{username}`: {password}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ea-crm: cannot reset the password: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn maintenance(
    config: Config,
    enabled: bool,
    message: Option<String>,
    until: Option<&str>,
) -> ExitCode {
    use ea_crm::domain::maintenance::{self, MaintenanceInput};
    let ctx = match app::open_domain(&config, std::sync::Arc::new(SystemClock)).await {
        Ok(ctx) => ctx,
        Err(e) => return startup_failed(e),
    };
    let outcome = async {
        let until = until
            .map(|raw| maintenance::parse_until(raw, ctx.now()))
            .transpose()?;
        let input = MaintenanceInput {
            enabled,
            message,
            until,
        };
        maintenance::set(&ctx, &ea_crm::domain::actor::Actor::system(), input).await
    }
    .await;
    drop(ctx);
    close_store(&config).await;
    match outcome {
        Ok(state) if state.enabled => {
            let until = state
                .until
                .map(|u| format!(" until {}", u.to_rfc3339()))
                .unwrap_or_default();
            println!("Maintenance mode is on{until}: only admins can use EA CRM.");
            ExitCode::SUCCESS
        }
        Ok(_) => {
            println!("Maintenance mode is off.");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ea-crm: cannot switch maintenance mode: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn backup(config: Config, file: &std::path::Path) -> ExitCode {
    let ctx = match app::open_domain(&config, std::sync::Arc::new(SystemClock)).await {
        Ok(ctx) => ctx,
        Err(e) => return startup_failed(e),
    };
    let outcome = ea_crm::backup::backup(&config, &ctx.store, file).await;
    drop(ctx);
    close_store(&config).await;
    match outcome {
        Ok(s) => {
            println!(
                "Backed up {} bytes of database and {} files to {}",
                s.database_bytes,
                s.files,
                file.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ea-crm: backup failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn restore(config: Config, file: &std::path::Path) -> ExitCode {
    if let Err(e) = config.validate() {
        return startup_failed(e.into());
    }
    // Straight to the store: migrations would make the database non-empty.
    let store = match ea_crm::store::Store::connect(&config).await {
        Ok(store) => store,
        Err(e) => return startup_failed(StartupError::Database(e.to_string())),
    };
    let outcome = ea_crm::backup::restore(&config, &store, file).await;
    drop(store);
    close_store(&config).await;
    match outcome {
        Ok(s) => {
            println!(
                "Restored {} bytes of database and {} files from {}",
                s.database_bytes,
                s.files,
                file.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ea-crm: restore failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Lets the embedded engine flush and release its folder before exit.
async fn close_store(config: &Config) {
    if let Ok(kind) = config.database_kind() {
        ea_crm::store::wait_until_released(&kind, std::time::Duration::from_secs(10)).await;
    }
}

fn startup_failed(e: StartupError) -> ExitCode {
    eprintln!("ea-crm: {e}");
    ExitCode::from(EXIT_CONFIG)
}
