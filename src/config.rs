//! One `Config` for the whole service: every setting has its flag, its
//! environment variable, its default and its doc in one place.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

/// Settings for `ea-crm serve` (and the other subcommands that open the store).
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Where the data lives: `surrealkv://PATH` (embedded, default), `mem://`
    /// (embedded, gone at exit) or `ws://host:port` (a SurrealDB server).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "surrealkv://data/ea-crm.db"
    )]
    pub database_url: String,

    /// User for a remote SurrealDB server (ignored by embedded stores).
    #[arg(long, env = "DATABASE_USER")]
    pub database_user: Option<String>,

    /// That user's password.
    #[arg(long, env = "DATABASE_PASSWORD", hide_env_values = true)]
    pub database_password: Option<String>,

    /// Where `DATABASE_USER` is defined on the server: `root`, `namespace`
    /// (`DATABASE_NS`) or `database` (`DATABASE_NS`/`DATABASE_DB`). A
    /// database-level user can reach nothing but the service's own data.
    #[arg(long, env = "DATABASE_AUTH_LEVEL", value_enum, default_value_t = DatabaseAuthLevel::Root)]
    pub database_auth_level: DatabaseAuthLevel,

    /// SurrealDB namespace.
    #[arg(long, env = "DATABASE_NS", default_value = "ea_crm")]
    pub database_ns: String,

    /// SurrealDB database.
    #[arg(long, env = "DATABASE_DB", default_value = "main")]
    pub database_db: String,

    /// Address the HTTP server listens on.
    #[arg(long, env = "BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,

    /// Username of the first admin, used only when no user exists yet.
    #[arg(long, env = "ADMIN_USERNAME", default_value = "admin")]
    pub admin_username: String,

    /// Password of the first admin; when unset on first start a strong one is
    /// generated and printed once.
    #[arg(long, env = "ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,

    /// API key for the OpenRouter-compatible LLM service (unset: local AI).
    #[arg(long, env = "OPENROUTER_API_KEY", hide_env_values = true)]
    pub openrouter_api_key: Option<String>,

    /// Base URL of the OpenRouter-compatible LLM service.
    #[arg(
        long,
        env = "OPENROUTER_BASE_URL",
        default_value = "https://openrouter.ai/api/v1"
    )]
    pub openrouter_base_url: String,

    /// Model name sent to the LLM service.
    #[arg(long, env = "AI_MODEL", default_value = "openai/gpt-4o-mini")]
    pub ai_model: String,

    /// The longest one request to the LLM service may take, in milliseconds.
    #[arg(long, env = "AI_TIMEOUT_MS", default_value_t = 20_000)]
    pub ai_timeout_ms: u64,

    /// Retries of an LLM request after a 429, a 5xx, a timeout or a refused
    /// connection (with doubling backoff); then the local provider answers.
    #[arg(long, env = "AI_MAX_RETRIES", default_value_t = 2)]
    pub ai_max_retries: u32,

    /// The first retry's wait in milliseconds; each next one doubles it.
    #[arg(long, env = "AI_BACKOFF_MS", default_value_t = 500)]
    pub ai_backoff_ms: u64,

    /// Consecutive failed LLM calls after which the circuit opens and the
    /// local provider answers without trying the network.
    #[arg(long, env = "AI_BREAKER_THRESHOLD", default_value_t = 5)]
    pub ai_breaker_threshold: u32,

    /// How long an open circuit stays open before one call may try again.
    #[arg(long, env = "AI_BREAKER_COOLDOWN_SECONDS", default_value_t = 60)]
    pub ai_breaker_cooldown_seconds: u64,

    /// Telegram bot token (unset: no Telegram bot).
    #[arg(long, env = "TELEGRAM_BOT_TOKEN", hide_env_values = true)]
    pub telegram_bot_token: Option<String>,

    /// Telegram Bot API base URL.
    #[arg(
        long,
        env = "TELEGRAM_API_URL",
        default_value = "https://api.telegram.org"
    )]
    pub telegram_api_url: String,

    /// Public URL Telegram posts updates to (ending in `/telegram/webhook`);
    /// unset: the bot long-polls instead.
    #[arg(long, env = "TELEGRAM_WEBHOOK_URL")]
    pub telegram_webhook_url: Option<String>,

    /// Secret Telegram sends back in `X-Telegram-Bot-Api-Secret-Token` with
    /// every webhook call (1-256 of A-Z, a-z, 0-9, `_`, `-`); required with
    /// TELEGRAM_WEBHOOK_URL.
    #[arg(long, env = "TELEGRAM_WEBHOOK_SECRET", hide_env_values = true)]
    pub telegram_webhook_secret: Option<String>,

    /// Discord bot token (unset: no Discord bot).
    #[arg(long, env = "DISCORD_BOT_TOKEN", hide_env_values = true)]
    pub discord_bot_token: Option<String>,

    /// Discord API base URL. Anything but discord.com is taken as a proxy
    /// (e.g. twilight-http-proxy, or the tests' fake): REST calls go there
    /// and serenity leaves rate limits to it; the bot still waits out a 429.
    #[arg(
        long,
        env = "DISCORD_API_URL",
        default_value = "https://discord.com/api"
    )]
    pub discord_api_url: String,

    /// The address people reach this server at (e.g.
    /// `https://crm.example.com`); files shared in a bridged room are sent
    /// to Telegram/Discord as links under it. Unset: only the file's name.
    #[arg(long, env = "PUBLIC_BASE_URL")]
    pub public_base_url: Option<String>,

    /// Folder for uploaded files (created when missing).
    #[arg(long, env = "UPLOAD_DIR", default_value = "data/uploads")]
    pub upload_dir: PathBuf,

    /// Largest accepted upload, in MiB.
    #[arg(long, env = "MAX_UPLOAD_MB", default_value_t = 25)]
    pub max_upload_mb: u64,

    /// Largest accepted JSON request body, in KiB.
    #[arg(long, env = "MAX_BODY_KB", default_value_t = 1024)]
    pub max_body_kb: u64,

    /// Seconds a client may take to send a request's headers, and that a
    /// kept-alive connection may sit idle; also the longest pause within a
    /// request body. A client that dawdles longer is disconnected (a body
    /// cut short is answered 408), so slow clients cannot hold connections.
    #[arg(long, env = "HTTP_READ_TIMEOUT_SECONDS", default_value_t = 30)]
    pub http_read_timeout_seconds: u64,

    /// A session ends after this many minutes without use.
    #[arg(long, env = "SESSION_IDLE_MINUTES", default_value_t = 60 * 12)]
    pub session_idle_minutes: u64,

    /// A session ends this many hours after login, used or not.
    #[arg(long, env = "SESSION_MAX_HOURS", default_value_t = 24 * 14)]
    pub session_max_hours: u64,

    /// Failed logins allowed per username within the login window.
    #[arg(long, env = "LOGIN_MAX_FAILURES_PER_USER", default_value_t = 5)]
    pub login_max_failures_per_user: u32,

    /// Failed logins allowed per client IP within the login window (an
    /// attempt counts while it runs; a successful one is not kept).
    #[arg(long, env = "LOGIN_MAX_ATTEMPTS_PER_IP", default_value_t = 30)]
    pub login_max_attempts_per_ip: u32,

    /// Length of the login rate-limit window, in seconds.
    #[arg(long, env = "LOGIN_WINDOW_SECONDS", default_value_t = 900)]
    pub login_window_seconds: u64,

    /// Requests per minute allowed per client IP on the whole API.
    #[arg(long, env = "RATE_LIMIT_PER_IP", default_value_t = 1200)]
    pub rate_limit_per_ip: u32,

    /// Requests per minute allowed per session or API key.
    #[arg(long, env = "RATE_LIMIT_PER_TOKEN", default_value_t = 600)]
    pub rate_limit_per_token: u32,

    /// Password hashes computed at once; more wait, so a login storm cannot
    /// take every core from chat. Defaults to half the cores (at least one).
    #[arg(long, env = "MAX_CONCURRENT_HASHES", default_value_t = half_the_cores())]
    pub max_concurrent_hashes: usize,

    /// Take the client address from `X-Forwarded-For` (only behind a proxy
    /// you run, such as the nginx site in deploy/).
    #[arg(long, env = "TRUST_FORWARDED_FOR", default_value_t = false)]
    pub trust_forwarded_for: bool,

    /// Mark the session and CSRF cookies `Secure` (sent over HTTPS only).
    /// Unset: on when `PUBLIC_BASE_URL` starts with `https://`. Read it
    /// through `secure_cookies()`.
    #[arg(
        long,
        env = "COOKIE_SECURE",
        num_args = 0..=1,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub cookie_secure: Option<bool>,

    /// How many days after it finished an import can be undone
    /// (`POST /leads/imports/{id}/undo`).
    #[arg(long, env = "IMPORT_UNDO_DAYS", default_value_t = 7)]
    pub import_undo_days: u64,

    /// Rows an import commits in one transaction (one batch of a job).
    #[arg(long, env = "IMPORT_BATCH_ROWS", default_value_t = 250)]
    pub import_batch_rows: usize,

    /// Leads a search page (`q`) reads along its sort order before it stops
    /// walking: a word most leads share fills its page well within it; a
    /// rare one (at most a quarter of this many full-text hits) is read
    /// through the full-text index instead, and one in between answers a page that
    /// may be short, with a `next_cursor` where the walk stopped.
    #[arg(long, env = "SEARCH_WALK_BUDGET", default_value_t = 2000)]
    pub search_walk_budget: usize,

    /// Test hook: this instance's import worker stops, as if the process
    /// died, after this many batches.
    #[arg(long, env = "IMPORT_STOP_AFTER_BATCHES", hide = true)]
    pub import_stop_after_batches: Option<u64>,

    /// Run the webhook dispatcher in this instance. Any number of instances
    /// may run it against one database; switch it off to keep outbound
    /// traffic on some of them only.
    #[arg(long, env = "WEBHOOK_DISPATCHER", default_value_t = true, action = clap::ArgAction::Set)]
    pub webhook_dispatcher: bool,

    /// How often, in milliseconds, the webhook dispatcher looks for work
    /// when nothing woke it.
    #[arg(long, env = "WEBHOOK_POLL_MS", default_value_t = 5000)]
    pub webhook_poll_ms: u64,

    /// The longest one webhook delivery attempt may take, in seconds.
    #[arg(long, env = "WEBHOOK_TIMEOUT_SECONDS", default_value_t = 10)]
    pub webhook_timeout_seconds: u64,

    /// Attempts per webhook delivery before it is marked failed.
    #[arg(long, env = "WEBHOOK_MAX_ATTEMPTS", default_value_t = 8)]
    pub webhook_max_attempts: u32,

    /// First retry delay of a webhook delivery, in seconds; doubles with each
    /// attempt (with jitter).
    #[arg(long, env = "WEBHOOK_BACKOFF_BASE_SECONDS", default_value_t = 30)]
    pub webhook_backoff_base_seconds: u64,

    /// Longest retry delay of a webhook delivery, in seconds (also caps a
    /// receiver's Retry-After).
    #[arg(long, env = "WEBHOOK_BACKOFF_MAX_SECONDS", default_value_t = 3600)]
    pub webhook_backoff_max_seconds: u64,

    /// Webhook deliveries in flight at once per instance.
    #[arg(long, env = "WEBHOOK_CONCURRENCY", default_value_t = 16)]
    pub webhook_concurrency: usize,

    /// Webhook deliveries in flight at once to one endpoint, so one slow
    /// receiver cannot hold every slot.
    #[arg(long, env = "WEBHOOK_PER_ENDPOINT_CONCURRENCY", default_value_t = 4)]
    pub webhook_per_endpoint_concurrency: usize,

    /// How often, in milliseconds, the bots' outbox sender looks for
    /// messages to send (bridged messages, direct messages) when nothing
    /// woke it.
    #[arg(long, env = "BOT_OUTBOX_POLL_MS", default_value_t = 1000)]
    pub bot_outbox_poll_ms: u64,

    /// First retry delay of a bot message the platform did not take, in
    /// milliseconds; doubles with each attempt (with jitter). A platform's
    /// own `retry_after` wins.
    #[arg(long, env = "BOT_OUTBOX_BACKOFF_BASE_MS", default_value_t = 1000)]
    pub bot_outbox_backoff_base_ms: u64,

    /// Longest retry delay of a bot message, in seconds. Messages are
    /// retried for as long as it takes; only a refusal for good ends one.
    #[arg(long, env = "BOT_OUTBOX_BACKOFF_MAX_SECONDS", default_value_t = 300)]
    pub bot_outbox_backoff_max_seconds: u64,

    /// Private ranges webhooks may be delivered to, comma-separated CIDRs
    /// (e.g. `10.20.0.0/16,127.0.0.1/32`) for receivers on your own network.
    /// Unset: only public addresses; loopback, link-local (cloud metadata),
    /// private and unique-local addresses are refused at delivery time,
    /// after resolving the receiver's name.
    #[arg(long, env = "WEBHOOK_ALLOW_PRIVATE", value_delimiter = ',')]
    pub webhook_allow_private: Vec<ipnet::IpNet>,
    /// Largest WebSocket message a client may send, in KiB; a bigger one
    /// closes the socket with code 1009.
    #[arg(long, env = "WS_MAX_MESSAGE_KB", default_value_t = 64)]
    pub ws_max_message_kb: u64,

    /// Frames queued for one WebSocket client before it is dropped as too
    /// slow (it reconnects and resumes from its sequence numbers).
    #[arg(long, env = "WS_SEND_QUEUE", default_value_t = 512)]
    pub ws_send_queue: usize,

    /// A typing indicator goes out at most this often per person and room,
    /// in milliseconds.
    #[arg(long, env = "TYPING_THROTTLE_MS", default_value_t = 3000)]
    pub typing_throttle_ms: u64,

    /// How often an open WebSocket re-checks its session or API key (so a
    /// logout, a revoked key or a deactivated user closes it), in
    /// milliseconds.
    #[arg(long, env = "WS_AUTH_RECHECK_MS", default_value_t = 60_000)]
    pub ws_auth_recheck_ms: u64,

    /// How long a resolved session or API key is reused by this instance
    /// before it is looked up again, in milliseconds (0: every request).
    /// This instance forgets them at once when it revokes one; another
    /// instance on the same database notices within this time.
    #[arg(long, env = "AUTH_CACHE_MS", default_value_t = 2_000)]
    pub auth_cache_ms: u64,

    /// Presence changes are gathered and sent out together this often, in
    /// milliseconds.
    #[arg(long, env = "PRESENCE_FLUSH_MS", default_value_t = 1000)]
    pub presence_flush_ms: u64,

    /// How often the reminder scheduler looks for due reminders, in
    /// milliseconds.
    #[arg(long, env = "REMINDER_POLL_MS", default_value_t = 5000)]
    pub reminder_poll_ms: u64,

    /// Folder for scheduled backups (unset: no scheduled backups). Each is
    /// the archive `ea-crm backup` writes, named by its time slot.
    #[arg(long, env = "BACKUP_DIR")]
    pub backup_dir: Option<PathBuf>,

    /// How often a scheduled backup is made: minutes, or a number with `m`,
    /// `h` or `d` (`30m`, `6h`, `1d`). With several instances on one
    /// database, one of them makes each backup.
    #[arg(long, env = "BACKUP_INTERVAL", default_value = "24h", value_parser = parse_interval)]
    pub backup_interval: Duration,

    /// Scheduled backups kept in BACKUP_DIR; older ones are deleted.
    #[arg(long, env = "BACKUP_KEEP", default_value_t = 7)]
    pub backup_keep: usize,

    /// How often the backup scheduler checks whether a backup is due, in
    /// milliseconds.
    #[arg(long, env = "BACKUP_POLL_MS", default_value_t = 30_000)]
    pub backup_poll_ms: u64,
}

/// `BACKUP_INTERVAL`: plain minutes, or a number with `m`, `h` or `d`; at
/// least one minute.
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "m"),
    };
    let minutes_per = match unit.trim() {
        "m" | "min" => 1,
        "h" => 60,
        "d" => 24 * 60,
        _ => return Err(format!("`{text}` is not an interval such as 30m, 6h or 1d")),
    };
    match number.parse::<u64>() {
        Ok(n) if n > 0 => Ok(Duration::from_secs(n * minutes_per * 60)),
        _ => Err(format!("`{text}` is not an interval such as 30m, 6h or 1d")),
    }
}

/// Why the configuration cannot be used; printed as one line, exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "DATABASE_URL `{0}` is not understood: use mem://, surrealkv://PATH or ws://HOST:PORT"
    )]
    DatabaseUrl(String),
    #[error("BIND `{0}` is not a socket address such as 127.0.0.1:8080")]
    Bind(String),
    #[error("UPLOAD_DIR `{path}` cannot be used: {reason}")]
    UploadDir { path: String, reason: String },
    #[error("BACKUP_DIR `{path}` cannot be used: {reason}")]
    BackupDir { path: String, reason: String },
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
    #[error("TELEGRAM_WEBHOOK_SECRET must be set with TELEGRAM_WEBHOOK_URL: 1 to 256 of A-Z, a-z, 0-9, _ and -")]
    TelegramWebhookSecret,
}

/// Which kind of store `DATABASE_URL` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseKind {
    Memory,
    SurrealKv(PathBuf),
    Remote,
}

impl Config {
    /// A configuration for tests and tools: in-memory store, random port,
    /// everything else at its default.
    pub fn for_tests() -> Self {
        use clap::Parser;
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            config: Config,
        }
        let mut config = Wrapper::parse_from(["ea-crm"]).config;
        config.database_url = "mem://".into();
        config.bind = "127.0.0.1:0".into();
        config.admin_password = Some("admin-password-for-tests".into());
        config.upload_dir =
            std::env::temp_dir().join(format!("ea-crm-uploads-{}", uuid::Uuid::new_v4()));
        config
    }

    /// Checks every value that can be checked before touching the network.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.database_kind()?;
        self.bind_addr()?;
        for (name, value) in [
            ("SESSION_IDLE_MINUTES", self.session_idle_minutes),
            ("SESSION_MAX_HOURS", self.session_max_hours),
            ("MAX_UPLOAD_MB", self.max_upload_mb),
            ("MAX_BODY_KB", self.max_body_kb),
            ("HTTP_READ_TIMEOUT_SECONDS", self.http_read_timeout_seconds),
            ("LOGIN_WINDOW_SECONDS", self.login_window_seconds),
            ("MAX_CONCURRENT_HASHES", self.max_concurrent_hashes as u64),
            ("RATE_LIMIT_PER_IP", self.rate_limit_per_ip as u64),
            ("RATE_LIMIT_PER_TOKEN", self.rate_limit_per_token as u64),
            ("WEBHOOK_POLL_MS", self.webhook_poll_ms),
            ("WEBHOOK_TIMEOUT_SECONDS", self.webhook_timeout_seconds),
            ("AI_TIMEOUT_MS", self.ai_timeout_ms),
            ("AI_BREAKER_THRESHOLD", self.ai_breaker_threshold as u64),
            ("WEBHOOK_MAX_ATTEMPTS", self.webhook_max_attempts as u64),
            (
                "WEBHOOK_BACKOFF_BASE_SECONDS",
                self.webhook_backoff_base_seconds,
            ),
            (
                "WEBHOOK_BACKOFF_MAX_SECONDS",
                self.webhook_backoff_max_seconds,
            ),
            ("WEBHOOK_CONCURRENCY", self.webhook_concurrency as u64),
            (
                "WEBHOOK_PER_ENDPOINT_CONCURRENCY",
                self.webhook_per_endpoint_concurrency as u64,
            ),
            ("WS_MAX_MESSAGE_KB", self.ws_max_message_kb),
            ("WS_SEND_QUEUE", self.ws_send_queue as u64),
            ("REMINDER_POLL_MS", self.reminder_poll_ms),
            ("BOT_OUTBOX_POLL_MS", self.bot_outbox_poll_ms),
            (
                "BOT_OUTBOX_BACKOFF_BASE_MS",
                self.bot_outbox_backoff_base_ms,
            ),
            (
                "BOT_OUTBOX_BACKOFF_MAX_SECONDS",
                self.bot_outbox_backoff_max_seconds,
            ),
            ("WS_AUTH_RECHECK_MS", self.ws_auth_recheck_ms),
            ("PRESENCE_FLUSH_MS", self.presence_flush_ms),
            ("BACKUP_KEEP", self.backup_keep as u64),
            ("BACKUP_POLL_MS", self.backup_poll_ms),
            ("SEARCH_WALK_BUDGET", self.search_walk_budget as u64),
        ] {
            if value == 0 {
                return Err(ConfigError::Zero(name));
            }
        }
        if self.telegram_webhook_url.is_some() {
            let secret_ok = self.telegram_webhook_secret.as_deref().is_some_and(|s| {
                (1..=256).contains(&s.len())
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            });
            if !secret_ok {
                return Err(ConfigError::TelegramWebhookSecret);
            }
        }
        if let Some(dir) = &self.backup_dir {
            std::fs::create_dir_all(dir).map_err(|e| ConfigError::BackupDir {
                path: dir.display().to_string(),
                reason: e.kind().to_string(),
            })?;
        }
        self.prepare_upload_dir()
    }

    pub fn database_kind(&self) -> Result<DatabaseKind, ConfigError> {
        let url = self.database_url.trim();
        let bad = || ConfigError::DatabaseUrl(url.to_string());
        let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
        match scheme {
            "mem" | "memory" if rest.is_empty() => Ok(DatabaseKind::Memory),
            "surrealkv" if !rest.is_empty() => Ok(DatabaseKind::SurrealKv(PathBuf::from(rest))),
            "ws" | "wss" if is_host_port(rest) => Ok(DatabaseKind::Remote),
            _ => Err(bad()),
        }
    }

    pub fn bind_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.bind
            .parse()
            .map_err(|_| ConfigError::Bind(self.bind.clone()))
    }

    pub fn session_idle(&self) -> Duration {
        Duration::from_secs(self.session_idle_minutes * 60)
    }

    pub fn upload_limit_bytes(&self) -> usize {
        (self.max_upload_mb * 1024 * 1024) as usize
    }

    /// Whether cookies are `Secure`: as `COOKIE_SECURE` says, or else as
    /// the public address's scheme.
    pub fn secure_cookies(&self) -> bool {
        self.cookie_secure.unwrap_or_else(|| {
            self.public_base_url
                .as_deref()
                .is_some_and(|url| url.trim().to_ascii_lowercase().starts_with("https://"))
        })
    }

    pub fn session_max(&self) -> Duration {
        Duration::from_secs(self.session_max_hours * 3600)
    }

    /// Creates the upload folder and proves it writable, so a wrong path stops
    /// the start instead of the first upload.
    fn prepare_upload_dir(&self) -> Result<(), ConfigError> {
        let path = &self.upload_dir;
        let fail = |reason: String| ConfigError::UploadDir {
            path: path.display().to_string(),
            reason,
        };
        std::fs::create_dir_all(path).map_err(|e| fail(e.kind().to_string()))?;
        let probe = path.join(format!(".probe-{}", uuid::Uuid::new_v4()));
        std::fs::write(&probe, b"ok").map_err(|e| fail(format!("not writable ({})", e.kind())))?;
        std::fs::remove_file(&probe).map_err(|e| fail(e.kind().to_string()))?;
        std::fs::read_dir(path).map_err(|e| fail(format!("not readable ({})", e.kind())))?;
        Ok(())
    }
}

fn is_host_port(rest: &str) -> bool {
    let rest = rest.trim_end_matches('/');
    match rest.rsplit_once(':') {
        Some((host, port)) => {
            !host.is_empty() && !host.contains('/') && port.parse::<u16>().is_ok()
        }
        None => !rest.is_empty() && !rest.contains('/'),
    }
}

/// Half the machine's cores, at least one: the default number of password
/// hashing threads. Measured under the chat bench on 2 cores, two hashing
/// threads at once left chat no core at all for 30 ms at a time (delivery
/// p99 141 ms); one thread kept it at 27 ms while sign-ins stayed well
/// inside their goal (p99 56 ms).
fn half_the_cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get() / 2)
        .unwrap_or(1)
        .max(1)
}

/// The level a remote SurrealDB user is defined at (`DATABASE_AUTH_LEVEL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DatabaseAuthLevel {
    Root,
    Namespace,
    Database,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_url(url: &str) -> Config {
        let mut c = Config::for_tests();
        c.database_url = url.into();
        c
    }

    fn parsed(args: &[&str]) -> Config {
        use clap::Parser;
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            config: Config,
        }
        Wrapper::parse_from(std::iter::once("ea-crm").chain(args.iter().copied())).config
    }

    #[test]
    fn cookies_are_secure_when_the_public_address_is_https_unless_set_otherwise() {
        assert!(!parsed(&[]).secure_cookies());
        assert!(!parsed(&["--public-base-url", "http://crm.lan"]).secure_cookies());
        assert!(parsed(&["--public-base-url", "https://crm.example.com"]).secure_cookies());
        assert!(parsed(&["--public-base-url", "HTTPS://crm.example.com"]).secure_cookies());
        let https = ["--public-base-url", "https://crm.example.com"];
        assert!(!parsed(&[&https[..], &["--cookie-secure", "false"]].concat()).secure_cookies());
        assert!(parsed(&["--cookie-secure"]).secure_cookies());
        assert!(parsed(&["--cookie-secure", "1"]).secure_cookies());
    }

    #[test]
    fn database_urls_are_classified() {
        assert_eq!(
            with_url("mem://").database_kind().unwrap(),
            DatabaseKind::Memory
        );
        assert_eq!(
            with_url("surrealkv://data/x.db").database_kind().unwrap(),
            DatabaseKind::SurrealKv("data/x.db".into())
        );
        assert_eq!(
            with_url("ws://127.0.0.1:8000").database_kind().unwrap(),
            DatabaseKind::Remote
        );
    }

    #[test]
    fn nonsense_database_urls_are_refused() {
        for url in [
            "postgres://x",
            "surrealkv://",
            "ws://",
            "ws://host:notaport",
            "plain",
        ] {
            assert!(
                with_url(url).database_kind().is_err(),
                "{url} should be refused"
            );
        }
    }

    #[test]
    fn backup_intervals_read_minutes_hours_and_days() {
        let minutes = |t: &str| parse_interval(t).map(|d| d.as_secs() / 60);
        assert_eq!(minutes("90"), Ok(90));
        assert_eq!(minutes("30m"), Ok(30));
        assert_eq!(minutes("6h"), Ok(360));
        assert_eq!(minutes("1d"), Ok(1440));
        for bad in ["", "0", "0h", "h", "6 weeks", "-1h", "1.5h"] {
            assert!(parse_interval(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn bind_must_be_a_socket_address() {
        let mut c = Config::for_tests();
        c.bind = "localhost".into();
        assert!(matches!(c.bind_addr(), Err(ConfigError::Bind(_))));
    }

    #[test]
    fn a_telegram_webhook_needs_a_well_formed_secret() {
        let mut c = with_url("mem://");
        c.telegram_webhook_url = Some("https://crm.example.com/telegram/webhook".into());
        assert!(matches!(
            c.validate(),
            Err(ConfigError::TelegramWebhookSecret)
        ));
        c.telegram_webhook_secret = Some("has spaces".into());
        assert!(matches!(
            c.validate(),
            Err(ConfigError::TelegramWebhookSecret)
        ));
        c.telegram_webhook_secret = Some("ok_Secret-1".into());
        assert!(!matches!(
            c.validate(),
            Err(ConfigError::TelegramWebhookSecret)
        ));
    }
}
