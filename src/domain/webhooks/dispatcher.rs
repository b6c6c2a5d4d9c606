//! The background dispatcher: fans new events out into deliveries and
//! delivers the due ones, off the request path.
//!
//! Safe with several app instances on one database: a delivery is claimed
//! with a conditional UPDATE that moves its `next_attempt_at` to the end of a
//! lease and stamps a lease token; only the instance whose update returned
//! the row sends it, and its result is written only while it still holds the
//! lease. A holder that dies simply lets the lease run out and the delivery
//! becomes due again (at-least-once; receivers dedupe on `X-EA-Delivery`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

use super::addresses::{AddressPolicy, CheckedResolver};
use super::delivery::{self, Envelope, Verdict};
use super::endpoints::{self, Webhook};
use super::outbox;
use super::topics;
use crate::config::Config;
use crate::domain::clock::db_time;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::features::{self, Feature};
use crate::domain::{tokens, Ctx};

/// How the dispatcher paces itself; from `Config` in the app, shortened in
/// tests.
#[derive(Debug, Clone)]
pub struct DispatcherSettings {
    /// The safety net: how often to look for work without being woken.
    pub poll_interval: Duration,
    /// The longest one HTTP attempt may take, connect to last byte.
    pub timeout: Duration,
    /// Attempts before a delivery is marked failed.
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Deliveries in flight at once, over all endpoints.
    pub concurrency: usize,
    /// Deliveries in flight at once to one endpoint, so a slow endpoint
    /// cannot take every slot.
    pub per_endpoint: usize,
    /// The private ranges receivers may be in (none: public addresses only).
    pub addresses: AddressPolicy,
}

impl DispatcherSettings {
    pub fn from_config(config: &Config) -> Self {
        DispatcherSettings {
            poll_interval: Duration::from_millis(config.webhook_poll_ms),
            timeout: Duration::from_secs(config.webhook_timeout_seconds),
            max_attempts: config.webhook_max_attempts,
            backoff_base: Duration::from_secs(config.webhook_backoff_base_seconds),
            backoff_max: Duration::from_secs(config.webhook_backoff_max_seconds),
            concurrency: config.webhook_concurrency,
            per_endpoint: config.webhook_per_endpoint_concurrency,
            addresses: AddressPolicy::new(config.webhook_allow_private.clone()),
        }
    }

    /// Longer than any attempt, so a live holder never loses its lease.
    fn lease(&self) -> Duration {
        self.timeout + Duration::from_secs(30)
    }
}

/// How long in-flight deliveries get to finish at shutdown before they are
/// abandoned to their leases.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

pub struct Dispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    ctx: Arc<Ctx>,
    settings: DispatcherSettings,
    client: reqwest::Client,
    permits: Arc<Semaphore>,
    in_flight: Mutex<HashMap<String, usize>>,
}

/// Stops the dispatcher's task.
pub struct DispatcherHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl DispatcherHandle {
    /// Stops claiming work, lets in-flight deliveries finish for a moment,
    /// and returns once the task has ended.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

#[derive(Debug, Deserialize)]
struct Due {
    id: String,
    webhook: String,
}

#[derive(Debug, Deserialize)]
struct Claimed {
    webhook: String,
    topic: String,
    body: String,
    attempts: u32,
}

impl Dispatcher {
    pub fn new(ctx: Arc<Ctx>, settings: DispatcherSettings) -> DomainResult<Dispatcher> {
        let client = reqwest::Client::builder()
            // A redirect could point anywhere; receivers must give the final URL.
            .redirect(reqwest::redirect::Policy::none())
            // Connect only to addresses the resolver checked, never through
            // a proxy that would resolve the name again.
            .no_proxy()
            .dns_resolver(Arc::new(CheckedResolver {
                policy: settings.addresses.clone(),
            }))
            .user_agent(concat!("EA-CRM-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| DomainError::Internal(format!("webhook HTTP client: {e}")))?;
        Ok(Dispatcher {
            inner: Arc::new(Inner {
                permits: Arc::new(Semaphore::new(settings.concurrency.max(1))),
                ctx,
                settings,
                client,
                in_flight: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Runs the dispatcher on its own task until the handle stops it.
    pub fn spawn(self) -> DispatcherHandle {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(self.run(stopped));
        DispatcherHandle { stop, task }
    }

    async fn run(self, mut stopped: watch::Receiver<bool>) {
        let mut tasks = JoinSet::new();
        // Any committed change published on the bus may have written an
        // event, so it is a reason to look.
        let mut bus = self.inner.ctx.events.subscribe();
        loop {
            if let Err(e) = self.pass(&mut tasks).await {
                tracing::warn!(error = %e, "webhook dispatch pass failed; retrying at the next poll");
            }
            let poll = tokio::time::sleep(self.inner.settings.poll_interval);
            tokio::pin!(poll);
            // Only events that can become deliveries are a reason to look:
            // chat traffic is not, and must not cost a pass per message.
            let stop = loop {
                tokio::select! {
                    _ = stopped.changed() => break true,
                    _ = self.inner.ctx.webhook_wake.notified() => break false,
                    event = bus.recv() => match event {
                        Ok(event) if !topics::may_have_deliveries(&event.topic) => continue,
                        _ => break false,
                    },
                    Some(_) = tasks.join_next(), if !tasks.is_empty() => break false,
                    _ = &mut poll => break false,
                }
            };
            if stop {
                break;
            }
        }
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::info!(
                "webhook deliveries still in flight at shutdown; their leases expire and they are retried"
            );
            tasks.abort_all();
        }
    }

    /// One pass: fan out new events, claim what is due, start deliveries.
    /// While webhooks are switched off it does nothing: events keep being
    /// recorded with their changes and wait in the outbox, and pending
    /// deliveries keep their place, until webhooks are on again (the switch
    /// wakes the dispatcher).
    async fn pass(&self, tasks: &mut JoinSet<()>) -> DomainResult<()> {
        let ctx = &self.inner.ctx;
        if !features::is_on(ctx, Feature::Webhooks) {
            return Ok(());
        }
        let hooks: HashMap<String, Webhook> = endpoints::all(ctx)
            .await?
            .into_iter()
            .map(|h| (h.id.clone(), h))
            .collect();
        let list: Vec<Webhook> = hooks.values().cloned().collect();
        outbox::fan_out(ctx, &list).await?;

        let free = self.inner.permits.available_permits();
        if free == 0 {
            return Ok(());
        }
        let now = ctx.now();
        // More candidates than free slots, so that endpoints at their own cap
        // can be skipped without starving the others.
        let due: Vec<Due> = ctx
            .store
            .run(
                "SELECT record::id(id) AS id, webhook FROM webhook_delivery
                 WHERE status = 'pending' AND next_attempt_at <= <datetime>$now
                 ORDER BY next_attempt_at ASC LIMIT $limit",
                json!({"now": db_time(now), "limit": free * 4}),
            )
            .await?
            .rows(0)?;
        for row in due {
            if !self.has_room_for(&row.webhook) {
                continue;
            }
            let Ok(permit) = self.inner.permits.clone().try_acquire_owned() else {
                break;
            };
            let lease = tokens::new_id();
            let Some(claimed) = self.claim(&row.id, &lease).await? else {
                continue;
            };
            match hooks.get(&claimed.webhook).filter(|h| h.active) {
                Some(hook) => {
                    let guard = InFlight::enter(&self.inner, &claimed.webhook);
                    tasks.spawn(deliver(
                        self.inner.clone(),
                        row.id,
                        lease,
                        claimed,
                        hook.clone(),
                        permit,
                        guard,
                    ));
                }
                None => cancel(ctx, &row.id, &lease).await?,
            }
        }
        Ok(())
    }

    fn has_room_for(&self, webhook: &str) -> bool {
        let map = self
            .inner
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        map.get(webhook).copied().unwrap_or(0) < self.inner.settings.per_endpoint.max(1)
    }

    /// Takes the delivery if it is still due and unheld; `None` when another
    /// dispatcher got it first.
    async fn claim(&self, id: &str, lease: &str) -> DomainResult<Option<Claimed>> {
        let ctx = &self.inner.ctx;
        let now = ctx.now();
        let until = now
            + chrono::Duration::from_std(self.inner.settings.lease())
                .unwrap_or(chrono::Duration::minutes(1));
        Ok(ctx
            .store
            .run(
                "UPDATE type::record('webhook_delivery', $id)
                    SET lease = $lease, next_attempt_at = <datetime>$until
                    WHERE status = 'pending' AND next_attempt_at <= <datetime>$now
                    RETURN AFTER",
                json!({"id": id, "lease": lease, "now": db_time(now), "until": db_time(until)}),
            )
            .await?
            .first(0)?)
    }
}

/// Counts a delivery against its endpoint's cap until dropped.
struct InFlight {
    inner: Arc<Inner>,
    webhook: String,
}

impl InFlight {
    fn enter(inner: &Arc<Inner>, webhook: &str) -> InFlight {
        let mut map = inner.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry(webhook.to_string()).or_default() += 1;
        InFlight {
            inner: inner.clone(),
            webhook: webhook.to_string(),
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut map = self
            .inner
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.webhook) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.webhook);
            }
        }
    }
}

/// The endpoint was deleted or deactivated since the event.
async fn cancel(ctx: &Ctx, id: &str, lease: &str) -> DomainResult<()> {
    ctx.store
        .run(
            "UPDATE type::record('webhook_delivery', $id) SET status = 'cancelled', lease = NONE,
                last_error = 'the webhook was deactivated or deleted', next_attempt_at = <datetime>$now
                WHERE lease = $lease",
            json!({"id": id, "lease": lease, "now": db_time(ctx.now())}),
        )
        .await?;
    Ok(())
}

async fn deliver(
    inner: Arc<Inner>,
    id: String,
    lease: String,
    claimed: Claimed,
    hook: Webhook,
    _permit: OwnedSemaphorePermit,
    _in_flight: InFlight,
) {
    let ctx = &inner.ctx;
    let settings = &inner.settings;
    let started_at = ctx.now();
    let outcome = delivery::attempt(
        &inner.client,
        &settings.addresses,
        Envelope {
            url: &hook.url,
            secret: &hook.secret.0,
            delivery_id: &id,
            topic: &claimed.topic,
            body: &claimed.body,
            now: started_at,
            timeout: settings.timeout,
        },
    )
    .await;
    let attempts = claimed.attempts + 1;
    let now = ctx.now();
    let (status, next) = match outcome.verdict {
        Verdict::Delivered => ("delivered", now),
        Verdict::Retry if attempts < settings.max_attempts => {
            let wait = delivery::backoff(
                attempts,
                settings.backoff_base,
                settings.backoff_max,
                outcome.retry_after,
            );
            (
                "pending",
                now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1)),
            )
        }
        Verdict::Retry | Verdict::Reject => ("failed", now),
    };
    let written = ctx
        .store
        .run(
            "UPDATE type::record('webhook_delivery', $id) SET
                status = $status, attempts = $attempts, lease = NONE,
                last_status = $code, last_response = NONE, last_error = $error,
                last_attempt_at = <datetime>$at, next_attempt_at = <datetime>$next,
                delivered_at = IF $delivered THEN <datetime>$at ELSE NONE END,
                attempt_log += { at: <datetime>$at, status: $code, error: $error, duration_ms: $ms }
             WHERE lease = $lease",
            json!({
                "id": id,
                "lease": lease,
                "status": status,
                "attempts": attempts,
                "code": outcome.status,
                "error": outcome.error,
                "at": db_time(started_at),
                "next": db_time(next),
                "delivered": status == "delivered",
                "ms": outcome.duration.as_millis() as u64,
            }),
        )
        .await;
    if let Err(e) = written {
        tracing::warn!(delivery = %id, error = %e, "could not record a webhook attempt; it will be retried when its lease ends");
    }
    match status {
        "delivered" => {
            tracing::debug!(delivery = %id, webhook = %hook.id, attempts, "webhook delivered")
        }
        "pending" => {
            tracing::info!(delivery = %id, webhook = %hook.id, attempts, status = ?outcome.status, error = ?outcome.error, retry_at = %next, "webhook attempt failed; will retry")
        }
        _ => {
            tracing::warn!(delivery = %id, webhook = %hook.id, attempts, status = ?outcome.status, error = ?outcome.error, "webhook delivery failed for good")
        }
    }
}
