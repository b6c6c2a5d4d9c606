//! The transactional outbox: events are written in the caller's transaction,
//! then fanned out into one delivery per subscribed endpoint by whichever
//! dispatcher gets there first.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::endpoints::Webhook;
use super::topics;
use crate::domain::clock::db_time;
use crate::domain::error::DomainResult;
use crate::domain::{tokens, Ctx};
use crate::store::{StoreError, Transaction};

/// Adds one `webhook_event` row to `tx`. Call it inside the transaction of
/// the change it announces: the event then exists if and only if the change
/// committed, and survives a crash right after the commit. Poke the
/// dispatcher with `webhooks::wake` (or publish on the event bus) after the
/// commit so delivery starts at once instead of at the next poll.
pub fn record_event(tx: &mut Transaction, topic: &str, payload: &Value, at: DateTime<Utc>) {
    push_event(tx, topic, payload, at, None);
}

/// Like `record_event`, for one endpoint only; returns the event id.
pub(super) fn push_event(
    tx: &mut Transaction,
    topic: &str,
    payload: &Value,
    at: DateTime<Utc>,
    target: Option<&str>,
) -> String {
    if !topics::is_known(topic) {
        // Still recorded, so `*` subscribers see it; the catalogue should
        // catch up so endpoints can subscribe to it by name.
        tracing::warn!(
            topic,
            "webhook event with a topic missing from WEBHOOK_TOPICS"
        );
    }
    let n = tx.next_serial();
    let id = tokens::new_id();
    tx.bind(
        &format!("webhook_event_{n}"),
        json!({
            "id": id,
            "topic": topic,
            "payload": payload.to_string(),
            "at": db_time(at),
            "target": target,
        }),
    );
    tx.push(format!(
        "CREATE type::record('webhook_event', $webhook_event_{n}.id) SET
            topic = $webhook_event_{n}.topic, payload = $webhook_event_{n}.payload,
            created_at = <datetime>$webhook_event_{n}.at, target = $webhook_event_{n}.target,
            dispatched = false"
    ));
    id
}

#[derive(Debug, Deserialize)]
struct PendingEvent {
    id: String,
    topic: String,
    payload: String,
    created_at: DateTime<Utc>,
    target: Option<String>,
}

/// Events fanned out per pass; the rest wait for the next pass.
const FAN_OUT_BATCH: usize = 100;

/// Drops every `null` member of every object in `value`.
fn without_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(without_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(without_nulls),
        _ => {}
    }
}

/// Turns undispatched events into deliveries for each active endpoint that
/// wants them. Safe to run from several dispatchers at once: each event is
/// claimed inside its own transaction, and delivery keys are derived from
/// (event, endpoint), so a second fan-out of the same event fails as a whole.
/// Returns how many deliveries were created.
pub(super) async fn fan_out(ctx: &Ctx, hooks: &[Webhook]) -> DomainResult<usize> {
    let events: Vec<PendingEvent> = ctx
        .store
        .run(
            "SELECT record::id(id) AS id, topic, payload, created_at, target FROM webhook_event
             WHERE dispatched = false ORDER BY created_at ASC LIMIT $limit",
            json!({"limit": FAN_OUT_BATCH}),
        )
        .await?
        .rows(0)?;
    let mut created = 0;
    for event in events {
        let targets: Vec<&Webhook> = hooks
            .iter()
            .filter(|h| match &event.target {
                Some(target) => &h.id == target,
                None => h.active && topics::wants(&h.topics, &event.topic),
            })
            .collect();
        let mut data: Value = serde_json::from_str(&event.payload).unwrap_or(Value::Null);
        // One rule for absent values, as in the API's answers: left out.
        without_nulls(&mut data);
        // Keys are sorted by serde_json, so the bytes are stable.
        let body = json!({
            "id": event.id,
            "topic": event.topic,
            "version": super::PAYLOAD_VERSION,
            "created_at": event.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "data": data,
        })
        .to_string();
        let deliveries: Vec<Value> = targets
            .iter()
            .map(|h| json!({"id": delivery_id(&event.id, &h.id), "webhook": h.id}))
            .collect();
        let now = ctx.now();
        let mut tx = Transaction::new();
        tx.bind("event", &event.id)
            .bind("topic", &event.topic)
            .bind("body", &body)
            .bind("now", db_time(now))
            .bind("deliveries", &deliveries);
        tx.push(
            "LET $claimed = (UPDATE type::record('webhook_event', $event)
                SET dispatched = true, dispatched_at = <datetime>$now WHERE dispatched = false)",
        );
        tx.push("IF array::len($claimed) = 0 { THROW 'webhook event already dispatched' }");
        tx.push(
            "FOR $d IN $deliveries {
                CREATE type::record('webhook_delivery', $d.id) SET webhook = $d.webhook,
                    event = $event, topic = $topic, body = $body, status = 'pending',
                    attempts = 0, next_attempt_at = <datetime>$now, created_at = <datetime>$now;
            }",
        );
        match tx.commit(&ctx.store).await {
            Ok(_) => created += deliveries.len(),
            // Another dispatcher fanned it out first.
            Err(StoreError::Rule(_) | StoreError::Duplicate(_) | StoreError::Conflict) => {}
            // One bad event must not hold back the ones behind it; it stays
            // undispatched and is tried again on the next pass.
            Err(e) => {
                tracing::warn!(event = %event.id, error = %e, "could not fan out a webhook event")
            }
        }
    }
    Ok(created)
}

/// The same (event, endpoint) always gives the same delivery id: receivers
/// dedupe on it, and a duplicate fan-out cannot create a second delivery.
fn delivery_id(event: &str, webhook: &str) -> String {
    let digest = Sha256::digest(format!("{event}:{webhook}").as_bytes());
    hex::encode(&digest[..16])
}
