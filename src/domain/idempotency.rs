//! Retries land once: a client that may send a create twice (a timeout, a
//! dropped connection) names the request with a key, and the first answer
//! is kept under (user, operation, key) for a day. A retry with the same
//! key and the same request gets that answer back instead of creating
//! again; the same key for a different request is refused, and so is a
//! retry while the first is still running. Only answers that succeeded are
//! kept: a refused or failed first request forgets its key, so the client
//! may fix the request and send it again under the same key.
//!
//! This module keeps the keys and the answers as opaque text; what a
//! request and an answer are is the caller's business (the REST layer
//! stores the status and JSON body it sent). Chat sends keep their own
//! keys with the message (`chat::messages`).

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::clock::db_time;
use super::error::{DomainError, DomainResult};
use super::{tokens, Ctx};

/// How long a key and its answer are kept: far longer than any client
/// keeps retrying one request.
pub const KEY_RETENTION: Duration = Duration::hours(24);

/// A first request that has not answered in this long died with its
/// instance; a retry may then run the request again.
pub const ABANDONED_AFTER: Duration = Duration::minutes(5);

/// The longest key taken, in characters.
pub const MAX_KEY_CHARS: usize = 255;

/// A key as a client sent it: 1 to 255 printable ASCII characters. The
/// quoted form of draft-ietf-httpapi-idempotency-key-header (`"abc"`) and
/// the bare one (`abc`) name the same key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> DomainResult<IdempotencyKey> {
        let trimmed = raw.trim();
        let key = trimmed
            .strip_prefix('"')
            .and_then(|k| k.strip_suffix('"'))
            .unwrap_or(trimmed);
        let printable = key.chars().all(|c| (' '..='~').contains(&c));
        if key.is_empty() || key.chars().count() > MAX_KEY_CHARS || !printable {
            return Err(DomainError::invalid(
                "Idempotency-Key",
                format!("must be 1 to {MAX_KEY_CHARS} printable ASCII characters"),
            ));
        }
        Ok(IdempotencyKey(key.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What claiming a key found.
#[derive(Debug)]
pub enum Claim {
    /// The key is new: run the request, then `record` its answer or
    /// `release` the key.
    Run(Claimed),
    /// The first request with this key answered this.
    Replay { status: u16, answer: String },
}

/// A key this request holds while it runs.
#[derive(Debug)]
pub struct Claimed {
    id: String,
}

/// The record key of a (user, operation, key): one user's key never meets
/// another's, nor the same key sent to another operation.
fn record_key(user: &str, operation: &str, key: &IdempotencyKey) -> String {
    tokens::hash_token(&format!("{user}\n{operation}\n{}", key.as_str()))
}

#[derive(Deserialize)]
struct Stored {
    fingerprint: String,
    status: Option<u16>,
    answer: Option<String>,
}

/// Claims `key` for a request of `user` to `operation`; `fingerprint`
/// identifies the request (its target and body), so that a reuse of the
/// key for another request is told apart from a retry.
pub async fn claim(
    ctx: &Ctx,
    user: &str,
    operation: &str,
    key: &IdempotencyKey,
    fingerprint: &str,
) -> DomainResult<Claim> {
    let id = record_key(user, operation, key);
    // A claim that loses to a stale row clears it and tries again; a
    // second loss means another retry is racing this one.
    for _ in 0..2 {
        let now = ctx.now();
        let created = ctx
            .store
            .run(
                "CREATE type::record('idempotency_key', $id) SET user = $user,
                    operation = $operation, fingerprint = $fingerprint,
                    created_at = <datetime>$now",
                json!({"id": id, "user": user, "operation": operation,
                    "fingerprint": fingerprint, "now": db_time(now)}),
            )
            .await;
        match created {
            Ok(_) => return Ok(Claim::Run(Claimed { id })),
            Err(crate::store::StoreError::Duplicate(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let stored: Option<Stored> = ctx
            .store
            .run(
                "DELETE type::record('idempotency_key', $id)
                    WHERE created_at < <datetime>$expired
                       OR (status = NONE AND created_at < <datetime>$abandoned);
                 SELECT fingerprint, status, answer FROM ONLY type::record('idempotency_key', $id);",
                json!({"id": id, "expired": db_time(now - KEY_RETENTION),
                    "abandoned": db_time(now - ABANDONED_AFTER)}),
            )
            .await?
            .first(1)?;
        let Some(stored) = stored else {
            continue;
        };
        if stored.fingerprint != fingerprint {
            return Err(DomainError::invalid(
                "Idempotency-Key",
                "this key was already used for a different request; send a new key for a new request",
            ));
        }
        return match (stored.status, stored.answer) {
            (Some(status), Some(answer)) => Ok(Claim::Replay { status, answer }),
            _ => Err(still_running()),
        };
    }
    Err(still_running())
}

fn still_running() -> DomainError {
    DomainError::Conflict(
        "a request with this Idempotency-Key is still being processed; retry in a moment".into(),
    )
}

/// Keeps the answer of the request that holds `claimed`, for its retries.
pub async fn record(ctx: &Ctx, claimed: &Claimed, status: u16, answer: &str) -> DomainResult<()> {
    ctx.store
        .run(
            "UPDATE type::record('idempotency_key', $id) SET status = $status, answer = $answer",
            json!({"id": claimed.id, "status": status, "answer": answer}),
        )
        .await?;
    Ok(())
}

/// Gives the key up: the request failed, and a retry may run it again.
pub async fn release(ctx: &Ctx, claimed: Claimed) -> DomainResult<()> {
    ctx.store
        .run(
            "DELETE type::record('idempotency_key', $id)",
            json!({"id": claimed.id}),
        )
        .await?;
    Ok(())
}

/// Forgets keys older than `KEY_RETENTION`; returns how many. Run by the
/// service's housekeeping.
pub async fn forget_old(ctx: &Ctx) -> DomainResult<usize> {
    let cutoff: DateTime<Utc> = ctx.now() - KEY_RETENTION;
    let removed: Vec<Value> = ctx
        .store
        .run(
            "DELETE idempotency_key WHERE created_at < <datetime>$cutoff RETURN BEFORE",
            json!({"cutoff": db_time(cutoff)}),
        )
        .await?
        .rows(0)?;
    Ok(removed.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_one_to_255_printable_ascii_characters() {
        assert_eq!(IdempotencyKey::parse("abc-1").unwrap().as_str(), "abc-1");
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse("  ").is_err());
        assert!(IdempotencyKey::parse("\"\"").is_err());
        assert!(IdempotencyKey::parse("schlüssel").is_err());
        assert!(IdempotencyKey::parse("a\tb").is_err());
    }

    #[test]
    fn the_quoted_and_the_bare_form_are_one_key() {
        assert_eq!(
            IdempotencyKey::parse("\"8e03978e\"").unwrap(),
            IdempotencyKey::parse("8e03978e").unwrap()
        );
    }

    #[test]
    fn a_key_belongs_to_its_user_and_operation() {
        let key = IdempotencyKey::parse("k").unwrap();
        let base = record_key("u1", "leads.create", &key);
        assert_ne!(base, record_key("u2", "leads.create", &key));
        assert_ne!(base, record_key("u1", "tasks.create", &key));
    }
}
