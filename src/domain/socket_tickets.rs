//! Single-use tickets for opening a chat socket. A client that cannot set
//! `Authorization` on the upgrade request asks for a ticket with its
//! session or API key and puts the ticket in the socket URL instead of the
//! token itself: URLs end up in proxy and access logs, and a ticket found
//! there is spent or expired. The socket then acts for the credential that
//! asked, checked again when the ticket is redeemed.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::json;

use super::actor::{Actor, Channel, Credential};
use super::clock::db_time;
use super::error::{DomainError, DomainResult};
use super::{sessions, tokens, Ctx};

/// How long a ticket waits to be used.
pub const TICKET_LIFETIME: Duration = Duration::seconds(30);

pub struct Ticket {
    pub ticket: String,
    pub expires_at: DateTime<Utc>,
}

/// A ticket for the actor's own credential (a session or an API key).
pub async fn issue(ctx: &Ctx, actor: &Actor) -> DomainResult<Ticket> {
    let (kind, id) = match &actor.credential {
        Credential::Session(key) => ("session", key),
        Credential::ApiKey(id) => ("api_key", id),
        _ => {
            return Err(DomainError::Forbidden(
                "a socket ticket needs a session or an API key".into(),
            ))
        }
    };
    let ticket = tokens::random_token();
    let expires_at = ctx.now() + TICKET_LIFETIME;
    ctx.store
        .run(
            "CREATE type::record('socket_ticket', $key) SET credential = $kind,
                credential_id = $id, channel = $channel, expires_at = <datetime>$expires",
            json!({"key": tokens::hash_token(&ticket), "kind": kind, "id": id,
                "channel": actor.channel.as_str(), "expires": db_time(expires_at)}),
        )
        .await?;
    Ok(Ticket { ticket, expires_at })
}

#[derive(Deserialize)]
struct Stored {
    credential: String,
    credential_id: String,
    channel: String,
    expires_at: DateTime<Utc>,
}

/// The actor a ticket was issued to, as their credential stands now. The
/// ticket is spent whatever the outcome; an unknown, spent or expired one
/// is `Unauthenticated`.
pub async fn redeem(ctx: &Ctx, ticket: &str) -> DomainResult<Actor> {
    let stored: Option<Stored> = ctx
        .store
        .run(
            "DELETE type::record('socket_ticket', $key) RETURN BEFORE",
            json!({"key": tokens::hash_token(ticket)}),
        )
        .await?
        .first(0)?;
    let stored = stored
        .filter(|s| ctx.now() < s.expires_at)
        .ok_or(DomainError::Unauthenticated)?;
    let credential = match stored.credential.as_str() {
        "session" => Credential::Session(stored.credential_id),
        "api_key" => Credential::ApiKey(stored.credential_id),
        _ => return Err(DomainError::Unauthenticated),
    };
    let channel = Channel::parse(&stored.channel).unwrap_or(Channel::Api);
    sessions::resolve(ctx, &credential, channel).await
}

/// Removes tickets that expired unused; returns how many. Run by the
/// service's housekeeping.
pub async fn forget_expired(ctx: &Ctx) -> DomainResult<usize> {
    let removed = ctx
        .store
        .run(
            "DELETE socket_ticket WHERE expires_at < <datetime>$now RETURN BEFORE",
            json!({"now": db_time(ctx.now())}),
        )
        .await?;
    Ok(removed.value(0).as_array().map_or(0, Vec::len))
}
