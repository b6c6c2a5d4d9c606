//! The sender of the bots' durable outbox (`domain::bot_outbox`): one loop
//! per instance delivers the stored rows through each connected platform's
//! [`Courier`], in order per chat.
//!
//! How it goes: the loop looks for chats with a due row (woken when a row
//! is written here, else every `poll`); each such chat is drained by one
//! task that claims the chat's head row, makes one attempt, records the
//! outcome, and goes on to the next row until the chat is empty or its head
//! has to wait. A failed head therefore holds back only its own chat. The
//! courier makes exactly one attempt per call and says whether a failure is
//! worth another ([`SendError::Retry`], with the platform's `retry_after`
//! when it gave one) or final ([`SendError::Refused`]); the waiting is the
//! outbox's, with exponential backoff, so nothing is dropped because an
//! outage outlasted a fixed number of tries.
//!
//! Rows of a platform whose bot is not connected on this instance, or is
//! switched off, wait. Maintenance does not stop the sender: like webhooks,
//! reminders and digests (whose DMs are rows here), what was written before
//! or by admins during it still goes out.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::config::Config;
use crate::domain::bot_outbox::{self, Item, Outcome};
use crate::domain::bridges::{self, MirroredMessage};
use crate::domain::features::{self, Feature};
use crate::domain::webhooks::delivery::backoff;
use crate::domain::{tokens, Ctx};

/// Why one attempt failed.
#[derive(Debug, Clone, PartialEq)]
pub enum SendError {
    /// Worth another try: the network, the platform's server, a rate limit
    /// (with how long the platform asked to wait, if it said).
    Retry {
        error: String,
        after: Option<Duration>,
    },
    /// The platform refused for good: the chat is gone, the bot was blocked
    /// or removed, the message cannot be sent as it is.
    Refused(String),
}

impl SendError {
    pub fn retry(error: impl Into<String>) -> SendError {
        SendError::Retry {
            error: error.into(),
            after: None,
        }
    }
}

pub type SendFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, SendError>> + Send + 'a>>;

/// What a platform adapter does for the outbox: one attempt each.
pub trait Courier: Send + Sync {
    /// `telegram`, `discord`.
    fn platform(&self) -> &'static str;
    /// Posts `text` in a bridged chat; returns the platform's message id.
    fn post<'a>(&'a self, chat_id: &'a str, text: &'a str) -> SendFuture<'a, String>;
    fn edit<'a>(
        &'a self,
        chat_id: &'a str,
        message_id: &'a str,
        text: &'a str,
    ) -> SendFuture<'a, ()>;
    fn delete<'a>(&'a self, chat_id: &'a str, message_id: &'a str) -> SendFuture<'a, ()>;
    /// Sends `text` privately to the account `platform_user_id`.
    fn send_dm<'a>(&'a self, platform_user_id: &'a str, text: &'a str) -> SendFuture<'a, ()>;
}

/// How the sender paces itself; from `Config`, shortened in tests.
#[derive(Debug, Clone)]
pub struct OutboxSettings {
    /// How often to look for due rows without being woken.
    pub poll: Duration,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// How long a claimed row is held: longer than any one attempt.
    pub lease: Duration,
    /// Chats drained at once by this instance.
    pub concurrency: usize,
}

impl OutboxSettings {
    pub fn from_config(config: &Config) -> Self {
        OutboxSettings {
            poll: Duration::from_millis(config.bot_outbox_poll_ms),
            backoff_base: Duration::from_millis(config.bot_outbox_backoff_base_ms),
            backoff_max: Duration::from_secs(config.bot_outbox_backoff_max_seconds),
            lease: Duration::from_secs(60),
            concurrency: 16,
        }
    }
}

/// The platforms configured on this instance and the couriers of those
/// connected now; shared by the adapters (which register), the writers of
/// rows (which wake the sender) and the sender.
pub struct Couriers {
    configured: Vec<&'static str>,
    connected: RwLock<Vec<Arc<dyn Courier>>>,
    wake: Notify,
}

impl Couriers {
    /// `configured`: the platforms whose bot this instance runs. Rows are
    /// written only for those, so nothing piles up for a bot that no
    /// instance would send with.
    pub fn new(configured: Vec<&'static str>) -> Couriers {
        Couriers {
            configured,
            connected: RwLock::new(Vec::new()),
            wake: Notify::new(),
        }
    }

    pub fn is_configured(&self, platform: &str) -> bool {
        self.configured.contains(&platform)
    }

    /// Adds (or replaces, after a reconnect) the platform's courier, and
    /// lets the sender deliver what waited for it.
    pub fn register(&self, courier: Arc<dyn Courier>) {
        if let Ok(mut all) = self.connected.write() {
            all.retain(|c| c.platform() != courier.platform());
            all.push(courier);
        }
        self.wake();
    }

    fn connected(&self) -> Vec<Arc<dyn Courier>> {
        self.connected.read().map(|c| c.clone()).unwrap_or_default()
    }

    /// Tells the sender to look for work now: call after writing rows.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Whether `platform`'s bot may send now.
pub fn bot_is_on(ctx: &Ctx, platform: &str) -> bool {
    match platform {
        "telegram" => features::is_on(ctx, Feature::Telegram),
        "discord" => features::is_on(ctx, Feature::Discord),
        _ => false,
    }
}

/// How often sent rows older than `bot_outbox::KEEP_DONE` are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// Delivers the outbox until the task is aborted.
pub async fn run(ctx: Arc<Ctx>, couriers: Arc<Couriers>, settings: OutboxSettings) {
    let settings = Arc::new(settings);
    let busy: Arc<Mutex<HashSet<(String, String)>>> = Arc::default();
    let mut tasks: JoinSet<()> = JoinSet::new();
    let mut last_sweep: Option<tokio::time::Instant> = None;
    loop {
        if let Err(e) = pass(&ctx, &couriers, &settings, &busy, &mut tasks).await {
            tracing::warn!(error = %e, "bot outbox pass failed; retrying at the next poll");
        }
        if last_sweep.is_none_or(|at| at.elapsed() >= SWEEP_EVERY) {
            last_sweep = Some(tokio::time::Instant::now());
            if let Err(e) = bot_outbox::sweep(&ctx).await {
                tracing::warn!(error = %e, "bot outbox sweep failed");
            }
        }
        tokio::select! {
            _ = couriers.wake.notified() => {}
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            _ = tokio::time::sleep(settings.poll) => {}
        }
    }
}

/// Starts a drain for each chat with a due row that no task here drains.
async fn pass(
    ctx: &Arc<Ctx>,
    couriers: &Couriers,
    settings: &Arc<OutboxSettings>,
    busy: &Arc<Mutex<HashSet<(String, String)>>>,
    tasks: &mut JoinSet<()>,
) -> anyhow::Result<()> {
    for courier in couriers.connected() {
        let platform = courier.platform();
        if !bot_is_on(ctx, platform) {
            continue;
        }
        let free = settings.concurrency.saturating_sub(tasks.len());
        if free == 0 {
            return Ok(());
        }
        for chat in bot_outbox::due_chats(ctx, platform, ctx.now(), free * 4).await? {
            if tasks.len() >= settings.concurrency {
                return Ok(());
            }
            let key = (platform.to_string(), chat.clone());
            if !busy
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key.clone())
            {
                continue;
            }
            let guard = Busy {
                set: busy.clone(),
                key,
            };
            tasks.spawn(drain(
                ctx.clone(),
                courier.clone(),
                settings.clone(),
                chat,
                guard,
            ));
        }
    }
    Ok(())
}

/// Marks a chat as drained by a task here until dropped.
struct Busy {
    set: Arc<Mutex<HashSet<(String, String)>>>,
    key: (String, String),
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.key);
    }
}

/// Sends a chat's rows in order until it is empty, its head must wait, or
/// another instance holds it.
async fn drain(
    ctx: Arc<Ctx>,
    courier: Arc<dyn Courier>,
    settings: Arc<OutboxSettings>,
    chat: String,
    _busy: Busy,
) {
    let platform = courier.platform();
    loop {
        if !bot_is_on(&ctx, platform) {
            return;
        }
        let head = match bot_outbox::head(&ctx, platform, &chat).await {
            Ok(Some(head)) if head.next_attempt_at <= ctx.now() => head,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(error = %e, platform, "cannot read the bot outbox");
                return;
            }
        };
        let lease = tokens::new_id();
        let lease_for =
            chrono::Duration::from_std(settings.lease).unwrap_or(chrono::Duration::minutes(1));
        let item = match bot_outbox::claim(&ctx, &head.id, &lease, lease_for).await {
            Ok(Some(item)) => item,
            // Another instance took it; it drains the chat now.
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, platform, "cannot claim a bot outbox row");
                return;
            }
        };
        let (outcome, mirror) = attempt(&ctx, courier.as_ref(), &item, &settings).await;
        let waits = matches!(outcome, Outcome::Retry { .. });
        match &outcome {
            Outcome::Sent => {}
            Outcome::Retry { error, at } => {
                tracing::info!(platform, kind = %item.kind, attempts = item.attempts + 1, %error, retry_at = %at, "bot message not sent; will retry")
            }
            Outcome::Refused(error) => {
                tracing::warn!(platform, kind = %item.kind, %error, "bot message refused for good")
            }
        }
        if let Err(e) = bot_outbox::record(&ctx, &item, &lease, &outcome, mirror.as_ref()).await {
            tracing::warn!(error = %e, platform, "could not record a bot message attempt; it is retried when its lease ends");
            return;
        }
        if waits {
            return;
        }
    }
}

/// One attempt at a row, and what to remember if it was a bridged post.
async fn attempt(
    ctx: &Ctx,
    courier: &dyn Courier,
    item: &Item,
    settings: &OutboxSettings,
) -> (Outcome, Option<MirroredMessage>) {
    let mut mirror = None;
    let sent: Result<(), SendError> = match item.kind.as_str() {
        bot_outbox::BRIDGE_POST => match courier.post(&item.chat_id, &item.body).await {
            Ok(platform_message_id) => {
                mirror = item.message.as_ref().map(|message| MirroredMessage {
                    message: message.clone(),
                    platform: item.platform.clone(),
                    chat_id: item.chat_id.clone(),
                    platform_message_id,
                    body: item.body.clone(),
                });
                Ok(())
            }
            Err(e) => Err(e),
        },
        bot_outbox::BRIDGE_EDIT | bot_outbox::BRIDGE_DELETE => {
            follow_change(ctx, courier, item).await
        }
        bot_outbox::DIRECT => courier.send_dm(&item.chat_id, &item.body).await,
        other => Err(SendError::Refused(format!("unknown kind {other}"))),
    };
    let outcome = match sent {
        Ok(()) => Outcome::Sent,
        Err(SendError::Refused(error)) => Outcome::Refused(error),
        Err(SendError::Retry { error, after }) => {
            // The platform's own wait wins, whatever our cap.
            let wait = after.unwrap_or_else(|| {
                backoff(
                    item.attempts + 1,
                    settings.backoff_base,
                    settings.backoff_max,
                    None,
                )
            });
            let at =
                ctx.now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1));
            Outcome::Retry { error, at }
        }
    };
    (outcome, mirror)
}

/// An edit or delete of a mirrored hub message: found by the hub message
/// when it is sent (its post went out before it, in order), and skipped
/// when the text there is already what it would become.
async fn follow_change(ctx: &Ctx, courier: &dyn Courier, item: &Item) -> Result<(), SendError> {
    let Some(message) = &item.message else {
        return Err(SendError::Refused("no hub message".into()));
    };
    let mirrors = bridges::mirrors_of_message(ctx, message)
        .await
        .map_err(|e| SendError::retry(format!("cannot read mirrors: {e}")))?;
    let Some(mirror) = mirrors
        .into_iter()
        .find(|m| m.platform == item.platform && m.chat_id == item.chat_id)
    else {
        return Err(SendError::Refused(
            "the hub message never reached this chat".into(),
        ));
    };
    if mirror.body == item.body {
        return Ok(());
    }
    if item.kind == bot_outbox::BRIDGE_DELETE {
        courier
            .delete(&mirror.chat_id, &mirror.platform_message_id)
            .await?;
    } else {
        courier
            .edit(&mirror.chat_id, &mirror.platform_message_id, &item.body)
            .await?;
    }
    bridges::update_mirror_body(ctx, &mirror, &item.body)
        .await
        .map_err(|e| SendError::retry(format!("cannot record the change: {e}")))?;
    Ok(())
}
