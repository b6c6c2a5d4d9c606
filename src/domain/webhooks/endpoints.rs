//! Webhook endpoints as admins manage them (`settings.manage`): register a
//! URL and its topics, edit, delete, rotate the signing secret, read the
//! delivery log and send a test event. Every change is audited in its own
//! transaction.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::outbox;
use super::signing;
use super::topics::{self, ALL_TOPICS, TEST_TOPIC};
use crate::domain::actor::Actor;
use crate::domain::audit;
use crate::domain::clock::db_time;
use crate::domain::cursor::{self, TimeOrder};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::features::{self, Feature};
use crate::domain::permissions::Permission;
use crate::domain::{tokens, Ctx};
use crate::store::Transaction;

/// An endpoint's signing secret; its `Debug` never shows it.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub topics: Vec<String>,
    pub active: bool,
    pub description: String,
    pub secret: Secret,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub url: String,
    pub topics: Vec<String>,
    pub description: Option<String>,
    pub active: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub topics: Option<Vec<String>>,
    pub description: Option<String>,
    pub active: Option<bool>,
}

/// A created endpoint or a rotated secret: the only time `secret` is shown.
#[derive(Debug, Clone)]
pub struct WebhookWithSecret {
    pub webhook: Webhook,
    pub secret: String,
}

/// One attempt in a delivery's log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attempt {
    pub at: DateTime<Utc>,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: u64,
}

/// A delivery of one event to one endpoint, with the outcome of its last
/// attempt and a line per attempt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delivery {
    pub id: String,
    pub webhook: String,
    pub event: String,
    pub topic: String,
    /// `pending`, `delivered`, `failed` or `cancelled`.
    pub status: String,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub attempt_log: Vec<Attempt>,
}

/// A page of the delivery log, newest first; pass `next_cursor` back as
/// `after` for the next page (absent on the last).
pub type DeliveryPage = cursor::Page<Delivery>;

/// The order of an endpoint's delivery log: newest first, on the
/// `webhook_delivery_by_webhook` index.
const DELIVERY_ORDER: TimeOrder = TimeOrder::newest_first("webhook_delivery", "created_at");

const SELECT_WEBHOOK: &str = "SELECT *, record::id(id) AS id FROM";
const MAX_URL: usize = 2048;
const MAX_DESCRIPTION: usize = 200;

/// A URL receivers can be reached at: absolute http(s) with a host and no
/// credentials (they would be shown in every listing).
pub fn parse_url(raw: &str) -> DomainResult<String> {
    let raw = raw.trim();
    if raw.len() > MAX_URL {
        return Err(DomainError::invalid(
            "url",
            format!("must be at most {MAX_URL} characters"),
        ));
    }
    let url = reqwest::Url::parse(raw)
        .map_err(|_| DomainError::invalid("url", "must be an absolute http or https URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(DomainError::invalid("url", "must use http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(DomainError::invalid("url", "must name a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(DomainError::invalid(
            "url",
            "must not carry credentials; verify the X-EA-Signature header instead",
        ));
    }
    if url.fragment().is_some() {
        return Err(DomainError::invalid("url", "must not have a #fragment"));
    }
    Ok(url.to_string())
}

/// Known topics or `*`, sorted and without repeats; at least one.
pub fn parse_topics(raw: &[String]) -> DomainResult<Vec<String>> {
    let mut out = Vec::with_capacity(raw.len());
    for topic in raw {
        let topic = topic.trim();
        if topic == TEST_TOPIC {
            return Err(DomainError::invalid(
                "topics",
                format!("`{TEST_TOPIC}` is sent on request only and cannot be subscribed to"),
            ));
        }
        if topic != ALL_TOPICS && !topics::is_known(topic) {
            return Err(DomainError::invalid(
                "topics",
                format!("unknown topic `{topic}`; see GET /api/v1/webhooks/topics"),
            ));
        }
        out.push(topic.to_string());
    }
    if out.is_empty() {
        return Err(DomainError::invalid(
            "topics",
            "name at least one topic, or `*` for all",
        ));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn parse_description(raw: &str) -> DomainResult<String> {
    let d = raw.trim();
    if d.chars().count() > MAX_DESCRIPTION {
        return Err(DomainError::invalid(
            "description",
            format!("must be at most {MAX_DESCRIPTION} characters"),
        ));
    }
    Ok(d.to_string())
}

/// The first line of every endpoint operation: the actor manages settings,
/// and webhooks are switched on.
fn require_webhooks(ctx: &Ctx, actor: &Actor) -> DomainResult<()> {
    actor.require(Permission::SettingsManage)?;
    features::require(ctx, Feature::Webhooks)
}

/// What the audit trail may show of an endpoint: everything but the secret.
fn audit_view(url: &str, topics: &[String], active: bool, description: &str) -> Value {
    json!({"url": url, "topics": topics, "active": active, "description": description})
}

pub async fn create(
    ctx: &Ctx,
    actor: &Actor,
    input: NewWebhook,
) -> DomainResult<WebhookWithSecret> {
    require_webhooks(ctx, actor)?;
    let url = parse_url(&input.url)?;
    let topics = parse_topics(&input.topics)?;
    let description = parse_description(input.description.as_deref().unwrap_or(""))?;
    let active = input.active.unwrap_or(true);
    let secret = signing::new_secret();
    let id = tokens::new_id();
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("id", &id)
        .bind("url", &url)
        .bind("topics", &topics)
        .bind("active", active)
        .bind("description", &description)
        .bind("secret", &secret)
        .bind("now", db_time(now));
    tx.push(
        "CREATE type::record('webhook', $id) SET url = $url, topics = $topics, active = $active,
            description = $description, secret = $secret,
            created_at = <datetime>$now, updated_at = <datetime>$now",
    );
    let changes = audit::diff(
        &json!({}),
        &audit_view(&url, &topics, active, &description),
        &[],
    );
    audit::record(&mut tx, actor, "webhook", &id, "create", &changes, now);
    tx.commit(&ctx.store).await?;
    let webhook = find(ctx, &id)
        .await?
        .ok_or(DomainError::NotFound("webhook"))?;
    Ok(WebhookWithSecret { webhook, secret })
}

pub(super) async fn find(ctx: &Ctx, id: &str) -> DomainResult<Option<Webhook>> {
    Ok(ctx
        .store
        .run(
            &format!("{SELECT_WEBHOOK} ONLY type::record('webhook', $id)"),
            json!({"id": id}),
        )
        .await?
        .first(0)?)
}

/// Every endpoint, the dispatcher's view (no permission check).
pub(super) async fn all(ctx: &Ctx) -> DomainResult<Vec<Webhook>> {
    Ok(ctx
        .store
        .run(
            &format!("{SELECT_WEBHOOK} webhook ORDER BY created_at ASC LIMIT 1000"),
            json!({}),
        )
        .await?
        .rows(0)?)
}

/// Every endpoint, oldest first.
pub async fn list(ctx: &Ctx, actor: &Actor) -> DomainResult<Vec<Webhook>> {
    require_webhooks(ctx, actor)?;
    all(ctx).await
}

pub async fn get(ctx: &Ctx, actor: &Actor, id: &str) -> DomainResult<Webhook> {
    require_webhooks(ctx, actor)?;
    find(ctx, id).await?.ok_or(DomainError::NotFound("webhook"))
}

pub async fn update(
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
    patch: WebhookPatch,
) -> DomainResult<Webhook> {
    require_webhooks(ctx, actor)?;
    let old = find(ctx, id)
        .await?
        .ok_or(DomainError::NotFound("webhook"))?;
    let url = match &patch.url {
        Some(u) => parse_url(u)?,
        None => old.url.clone(),
    };
    let topics = match &patch.topics {
        Some(t) => parse_topics(t)?,
        None => old.topics.clone(),
    };
    let description = match &patch.description {
        Some(d) => parse_description(d)?,
        None => old.description.clone(),
    };
    let active = patch.active.unwrap_or(old.active);
    let changes = audit::diff(
        &audit_view(&old.url, &old.topics, old.active, &old.description),
        &audit_view(&url, &topics, active, &description),
        &[],
    );
    if changes.is_empty() {
        return Ok(old);
    }
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("id", id)
        .bind("url", &url)
        .bind("topics", &topics)
        .bind("active", active)
        .bind("description", &description)
        .bind("now", db_time(now));
    tx.push(
        "UPDATE type::record('webhook', $id) SET url = $url, topics = $topics, active = $active,
            description = $description, updated_at = <datetime>$now",
    );
    audit::record(&mut tx, actor, "webhook", id, "update", &changes, now);
    tx.commit(&ctx.store).await?;
    find(ctx, id).await?.ok_or(DomainError::NotFound("webhook"))
}

/// Deletes an endpoint and its delivery log; pending deliveries are dropped.
pub async fn delete(ctx: &Ctx, actor: &Actor, id: &str) -> DomainResult<()> {
    require_webhooks(ctx, actor)?;
    let old = find(ctx, id)
        .await?
        .ok_or(DomainError::NotFound("webhook"))?;
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("id", id);
    tx.push("DELETE type::record('webhook', $id)");
    tx.push("DELETE webhook_delivery WHERE webhook = $id");
    let changes = audit::diff(
        &audit_view(&old.url, &old.topics, old.active, &old.description),
        &json!({}),
        &[],
    );
    audit::record(&mut tx, actor, "webhook", id, "delete", &changes, now);
    tx.commit(&ctx.store).await?;
    Ok(())
}

/// Replaces the signing secret at once; deliveries still pending are signed
/// with the new one from their next attempt.
pub async fn rotate_secret(ctx: &Ctx, actor: &Actor, id: &str) -> DomainResult<WebhookWithSecret> {
    require_webhooks(ctx, actor)?;
    find(ctx, id)
        .await?
        .ok_or(DomainError::NotFound("webhook"))?;
    let secret = signing::new_secret();
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("id", id)
        .bind("secret", &secret)
        .bind("now", db_time(now));
    tx.push(
        "UPDATE type::record('webhook', $id) SET secret = $secret, updated_at = <datetime>$now",
    );
    // The audit row says that it changed, never what to.
    audit::record(&mut tx, actor, "webhook", id, "rotate_secret", &[], now);
    tx.commit(&ctx.store).await?;
    let webhook = find(ctx, id)
        .await?
        .ok_or(DomainError::NotFound("webhook"))?;
    Ok(WebhookWithSecret { webhook, secret })
}

/// Queues a `webhook.test` event for this endpoint only; returns its id.
pub async fn send_test(ctx: &Ctx, actor: &Actor, id: &str) -> DomainResult<String> {
    require_webhooks(ctx, actor)?;
    let hook = find(ctx, id)
        .await?
        .ok_or(DomainError::NotFound("webhook"))?;
    if !hook.active {
        return Err(DomainError::Conflict(
            "the webhook is inactive; activate it first".into(),
        ));
    }
    let now = ctx.now();
    let mut tx = Transaction::new();
    let event = outbox::push_event(
        &mut tx,
        TEST_TOPIC,
        &json!({"webhook_id": id, "message": "Test event from EA CRM", "requested_by": actor.username}),
        now,
        Some(id),
    );
    audit::record(&mut tx, actor, "webhook", id, "test", &[], now);
    tx.commit(&ctx.store).await?;
    super::wake(ctx);
    Ok(event)
}

/// The delivery log of one endpoint, newest first, `limit` at a time.
pub async fn deliveries(
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
    after: Option<&str>,
    limit: usize,
) -> DomainResult<DeliveryPage> {
    require_webhooks(ctx, actor)?;
    find(ctx, id)
        .await?
        .ok_or(DomainError::NotFound("webhook"))?;
    DELIVERY_ORDER
        .page(
            &ctx.store,
            "SELECT *, record::id(id) AS id FROM webhook_delivery",
            &["webhook = $webhook"],
            json!({"webhook": id}),
            after,
            limit,
            |d: &Delivery| (d.created_at, &d.id),
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_and_https_urls_are_accepted() {
        assert!(parse_url("https://hooks.example.com/ea?x=1").is_ok());
        assert!(parse_url("http://127.0.0.1:9000/in").is_ok());
        for bad in [
            "ftp://example.com/",
            "example.com/hook",
            "https://user:pw@example.com/",
            "https://example.com/#frag",
            "javascript:alert(1)",
        ] {
            assert!(parse_url(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn topics_are_checked_against_the_catalogue() {
        let t = |v: &[&str]| parse_topics(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            t(&["lead.updated", "lead.created", "lead.created"]).unwrap(),
            vec!["lead.created", "lead.updated"]
        );
        assert!(t(&["*"]).is_ok());
        assert!(t(&[]).is_err());
        assert!(t(&["lead.exploded"]).is_err());
        assert!(t(&[TEST_TOPIC]).is_err());
    }

    #[test]
    fn cursors_round_trip_and_junk_is_refused() {
        let delivery_at = DateTime::from_timestamp_micros(1_700_000_000_000_000).unwrap();
        let raw = cursor::encode_at(delivery_at, "abc123");
        let bound = DELIVERY_ORDER.after(Some(&raw)).unwrap();
        assert_eq!(bound.id.as_deref(), Some("abc123"));
        assert_eq!(bound.at, Some(db_time(delivery_at)));
        assert!(DELIVERY_ORDER.after(Some("nonsense")).is_err());
        assert!(DELIVERY_ORDER
            .after(Some(&cursor::encode_at(delivery_at, "x'; DROP")))
            .is_err());
    }
}
