//! The bots' durable outbox: what a bot sends on its own initiative (a hub
//! message mirrored out to a bridged chat, its edit or delete, a direct
//! message: a mention, a reminder, a due notice, a digest) is stored here
//! first and delivered by a sender loop (`bots::outbox`) on every instance.
//!
//! Promises:
//! - A row is written once per thing to send: rows that must not be sent
//!   twice (a mirrored hub message, a notification's DM) carry a key derived
//!   from what they are about, so writing one again is a no-op.
//! - Per chat, rows go out in the order they were written, one at a time: a
//!   row that fails stays the chat's head and holds back only its own chat.
//! - A row is claimed with a lease (like webhook deliveries): only the
//!   sender whose conditional update returned it sends it, and a sender that
//!   dies lets the lease run out, so the row becomes due again. Delivery is
//!   at least once; a duplicate needs a crash between the platform's answer
//!   and the write of the outcome.
//! - A failed attempt is retried with backoff for as long as it takes, or
//!   after the platform's own `retry_after`; only a refusal for good (chat
//!   not found, bot blocked or removed) ends a row, and the reason is kept.
//! - Rows outlive the process: a restarted or another instance takes them
//!   up.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::actor::Actor;
use super::clock::db_time;
use super::error::DomainResult;
use super::permissions::Permission;
use super::{tokens, Ctx};
use crate::store::{StoreError, Transaction};

/// A hub message posted in a bridged chat.
pub const BRIDGE_POST: &str = "bridge_post";
/// A change of a mirrored hub message's text.
pub const BRIDGE_EDIT: &str = "bridge_edit";
/// A mirrored hub message deleted in the hub.
pub const BRIDGE_DELETE: &str = "bridge_delete";
/// A direct message to a linked account.
pub const DIRECT: &str = "dm";

/// How long sent and refused rows are kept (for the record) before they
/// are swept.
pub const KEEP_DONE: Duration = Duration::days(7);

/// A row to write.
#[derive(Debug, Clone)]
pub struct NewItem<'a> {
    /// Makes the row unique: the same key twice is written once.
    pub key: Option<String>,
    pub platform: &'a str,
    pub chat_id: &'a str,
    pub kind: &'static str,
    /// The hub message a bridge row is about.
    pub message: Option<&'a str>,
    pub body: &'a str,
}

/// A row as a sender reads it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Item {
    pub id: String,
    pub platform: String,
    pub chat_id: String,
    pub kind: String,
    pub message: Option<String>,
    pub body: String,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
}

/// A stable row key from the parts that make a row unique.
pub fn key_of(parts: &[&str]) -> String {
    let digest = Sha256::digest(parts.join("\u{1f}").as_bytes());
    hex::encode(&digest[..16])
}

/// Strictly increasing within the process, and following the clock across
/// processes: sorts a chat's rows in the order they were written.
fn next_order_key(now: DateTime<Utc>) -> String {
    static LAST: AtomicI64 = AtomicI64::new(0);
    let micros = now.timestamp_micros().max(0);
    let mut current = LAST.load(Ordering::SeqCst);
    let value = loop {
        let next = micros.max(current + 1);
        match LAST.compare_exchange(current, next, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => break next,
            Err(seen) => current = seen,
        }
    };
    format!("{value:020}")
}

/// Adds the row to `tx`, to be sent once the transaction commits.
pub fn push(tx: &mut Transaction, item: &NewItem<'_>, now: DateTime<Utc>) {
    let n = tx.next_serial();
    tx.bind(
        &format!("bot_outbox_{n}"),
        json!({
            "id": item.key.clone().unwrap_or_else(tokens::new_id),
            "platform": item.platform,
            "chat": item.chat_id,
            "kind": item.kind,
            "message": item.message,
            "body": item.body,
            "order": next_order_key(now),
            "now": db_time(now),
        }),
    );
    tx.push(format!(
        "CREATE type::record('bot_outbox', $bot_outbox_{n}.id) SET
            platform = $bot_outbox_{n}.platform, chat_id = $bot_outbox_{n}.chat,
            kind = $bot_outbox_{n}.kind, message = $bot_outbox_{n}.message,
            body = $bot_outbox_{n}.body, order_key = $bot_outbox_{n}.order,
            status = 'pending', attempts = 0,
            next_attempt_at = <datetime>$bot_outbox_{n}.now,
            created_at = <datetime>$bot_outbox_{n}.now"
    ));
}

/// Writes one row on its own; `false` when a row with its key exists
/// already (it was written before, and is sent or on its way).
pub async fn enqueue(ctx: &Ctx, item: &NewItem<'_>) -> DomainResult<bool> {
    let mut tx = Transaction::new();
    push(&mut tx, item, ctx.now());
    match tx.commit(&ctx.store).await {
        Ok(_) => Ok(true),
        Err(StoreError::Duplicate(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Chats of `platform` whose rows may be due, oldest due first.
pub async fn due_chats(
    ctx: &Ctx,
    platform: &str,
    now: DateTime<Utc>,
    limit: usize,
) -> DomainResult<Vec<String>> {
    #[derive(Deserialize)]
    struct Row {
        chat_id: String,
    }
    let rows: Vec<Row> = ctx
        .store
        .run(
            "SELECT chat_id, next_attempt_at FROM bot_outbox
             WHERE platform = $platform AND status = 'pending'
                AND next_attempt_at <= <datetime>$now
             ORDER BY next_attempt_at ASC LIMIT $limit",
            json!({"platform": platform, "now": db_time(now), "limit": limit}),
        )
        .await?
        .rows(0)?;
    let mut chats: Vec<String> = Vec::new();
    for row in rows {
        if !chats.contains(&row.chat_id) {
            chats.push(row.chat_id);
        }
    }
    Ok(chats)
}

const SELECT_ITEM: &str = "SELECT record::id(id) AS id, platform, chat_id, kind, message, body,
    attempts, next_attempt_at, order_key FROM bot_outbox";

/// The first pending row of a chat: the only one that may be sent.
pub async fn head(ctx: &Ctx, platform: &str, chat_id: &str) -> DomainResult<Option<Item>> {
    Ok(ctx
        .store
        .run(
            &format!(
                "{SELECT_ITEM} WHERE platform = $platform AND chat_id = $chat
                    AND status = 'pending' ORDER BY order_key ASC LIMIT 1"
            ),
            json!({"platform": platform, "chat": chat_id}),
        )
        .await?
        .first(0)?)
}

/// Takes the row for `lease_for` if it is still due and unheld; `None`
/// when another sender has it or it is not due.
pub async fn claim(
    ctx: &Ctx,
    id: &str,
    lease: &str,
    lease_for: Duration,
) -> DomainResult<Option<Item>> {
    #[derive(Deserialize)]
    struct Claimed {
        platform: String,
        chat_id: String,
        kind: String,
        message: Option<String>,
        body: String,
        attempts: u32,
        next_attempt_at: DateTime<Utc>,
    }
    let now = ctx.now();
    let claimed: Option<Claimed> = ctx
        .store
        .run(
            "UPDATE type::record('bot_outbox', $id)
                SET lease = $lease, next_attempt_at = <datetime>$until
                WHERE status = 'pending' AND next_attempt_at <= <datetime>$now
                RETURN AFTER",
            json!({
                "id": id,
                "lease": lease,
                "now": db_time(now),
                "until": db_time(now + lease_for),
            }),
        )
        .await?
        .first(0)?;
    Ok(claimed.map(|c| Item {
        id: id.to_string(),
        platform: c.platform,
        chat_id: c.chat_id,
        kind: c.kind,
        message: c.message,
        body: c.body,
        attempts: c.attempts,
        next_attempt_at: c.next_attempt_at,
    }))
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Delivered (or nothing was left to do).
    Sent,
    /// Try again at the given time.
    Retry { error: String, at: DateTime<Utc> },
    /// Refused for good: the row ends, with the reason.
    Refused(String),
}

/// Writes the outcome while the lease is still held; with `mirror`, also
/// remembers which platform message a posted hub message became, in the
/// same transaction.
pub async fn record(
    ctx: &Ctx,
    item: &Item,
    lease: &str,
    outcome: &Outcome,
    mirror: Option<&super::bridges::MirroredMessage>,
) -> DomainResult<()> {
    let now = ctx.now();
    let (status, error, next) = match outcome {
        Outcome::Sent => ("sent", None, now),
        Outcome::Retry { error, at } => ("pending", Some(error.clone()), *at),
        Outcome::Refused(error) => ("failed", Some(error.clone()), now),
    };
    let mut tx = Transaction::new();
    tx.bind("id", &item.id)
        .bind("lease", lease)
        .bind("status", status)
        .bind("error", error)
        .bind("attempts", item.attempts + 1)
        .bind("now", db_time(now))
        .bind("next", db_time(next))
        .bind("sent", status == "sent");
    tx.push(
        "LET $written = (UPDATE type::record('bot_outbox', $id) SET
            status = $status, attempts = $attempts, lease = NONE, last_error = $error,
            last_attempt_at = <datetime>$now, next_attempt_at = <datetime>$next,
            sent_at = IF $sent THEN <datetime>$now ELSE NONE END
         WHERE lease = $lease)",
    );
    tx.push("IF array::len($written) = 0 { THROW 'the bot outbox lease ran out' }");
    if let Some(mirror) = mirror {
        super::bridges::push_mirror(&mut tx, mirror, now);
    }
    tx.commit(&ctx.store).await?;
    Ok(())
}

/// Forgets sent and refused rows older than `KEEP_DONE`.
pub async fn sweep(ctx: &Ctx) -> DomainResult<()> {
    ctx.store
        .run(
            "DELETE bot_outbox WHERE status IN ['sent', 'failed'] AND created_at < <datetime>$cutoff",
            json!({"cutoff": db_time(ctx.now() - KEEP_DONE)}),
        )
        .await?;
    Ok(())
}

/// What waits to be sent on one platform.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Backlog {
    pub platform: String,
    pub pending: u64,
    pub oldest_at: Option<DateTime<Utc>>,
    /// Why the last failed attempt failed, if one did.
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
}

/// The backlog of each platform that has one (`bots.manage`).
pub async fn backlog(ctx: &Ctx, actor: &Actor) -> DomainResult<Vec<Backlog>> {
    actor.require(Permission::BotsManage)?;
    #[derive(Deserialize)]
    struct Pending {
        platform: String,
        created_at: DateTime<Utc>,
        last_error: Option<String>,
        last_attempt_at: Option<DateTime<Utc>>,
    }
    let mut out: Vec<Backlog> = Vec::new();
    for platform in super::links::PLATFORMS {
        let rows: Vec<Pending> = ctx
            .store
            .run(
                "SELECT platform, created_at, last_error, last_attempt_at FROM bot_outbox
                 WHERE platform = $platform AND status = 'pending'",
                json!({"platform": platform}),
            )
            .await?
            .rows(0)?;
        if rows.is_empty() {
            continue;
        }
        let failed = rows
            .iter()
            .filter(|r| r.last_error.is_some())
            .max_by_key(|r| r.last_attempt_at);
        out.push(Backlog {
            platform: rows[0].platform.clone(),
            pending: rows.len() as u64,
            oldest_at: rows.iter().map(|r| r.created_at).min(),
            last_error: failed.and_then(|r| r.last_error.clone()),
            last_error_at: failed.and_then(|r| r.last_attempt_at),
        });
    }
    Ok(out)
}

/// Where a bot stopped reading a platform (`bot_cursor`): `telegram` for
/// the update offset, `discord:<channel>` for the last message mirrored in
/// from a bridged channel.
pub async fn cursor(ctx: &Ctx, key: &str) -> DomainResult<Option<String>> {
    let row: Option<serde_json::Value> = ctx
        .store
        .run(
            "SELECT position FROM ONLY type::record('bot_cursor', $key)",
            json!({"key": key}),
        )
        .await?
        .first(0)?;
    Ok(row.and_then(|r| r["position"].as_str().map(str::to_string)))
}

pub async fn set_cursor(ctx: &Ctx, key: &str, position: &str) -> DomainResult<()> {
    ctx.store
        .run(
            "UPSERT type::record('bot_cursor', $key) SET position = $position,
                updated_at = <datetime>$now",
            json!({"key": key, "position": position, "now": db_time(ctx.now())}),
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_keys_increase_even_within_one_microsecond_and_sort_as_text() {
        let now = Utc::now();
        let a = next_order_key(now);
        let b = next_order_key(now);
        let c = next_order_key(now - Duration::seconds(5));
        assert!(a < b && b < c, "{a} {b} {c}");
        assert_eq!(a.len(), 20);
    }

    #[test]
    fn keys_depend_on_every_part() {
        assert_eq!(
            key_of(&["post", "m1", "telegram"]),
            key_of(&["post", "m1", "telegram"])
        );
        assert_ne!(
            key_of(&["post", "m1", "telegram"]),
            key_of(&["post", "m1", "discord"])
        );
        assert_ne!(key_of(&["ab", "c"]), key_of(&["a", "bc"]));
    }
}
