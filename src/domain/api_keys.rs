//! API keys for integrators: owned by a user, shown once, stored hashed,
//! optionally narrowed to some of the owner's permissions and given an
//! expiry.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::actor::{Actor, Channel, Credential};
use super::audit::{self, FieldChange};
use super::clock::db_time;
use super::credential_cache::Resolved;
use super::cursor::{Page, TimeOrder};
use super::error::{DomainError, DomainResult};
use super::permissions::{self, Permission};
use super::sessions::actor_for;
use super::{tokens, Ctx};
use crate::store::Transaction;

/// Every key starts with this, so a leaked one is easy to spot and the
/// server can tell keys from session tokens.
pub const KEY_PREFIX: &str = "eak_";

const TOUCH_EVERY: Duration = Duration::seconds(60);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    pub user: String,
    pub name: String,
    /// The first characters of the key, to tell keys apart in a list.
    pub prefix: String,
    /// `None`: all of the owner's permissions.
    pub permissions: Option<Vec<String>>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub name: String,
    pub permissions: Option<Vec<String>>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A created key: `secret` is the only time the full key is shown.
#[derive(Debug, Clone)]
pub struct CreatedApiKey {
    pub secret: String,
    pub key: ApiKey,
}

const SELECT_KEY: &str = "SELECT *, record::id(id) AS id FROM";

pub async fn create(ctx: &Ctx, actor: &Actor, input: NewApiKey) -> DomainResult<CreatedApiKey> {
    actor.require(Permission::ApiKeysUse)?;
    // A key can only be made from a login, so a narrowed key cannot mint a
    // wider one.
    if !matches!(actor.credential, Credential::Session(_)) {
        return Err(DomainError::Forbidden(
            "api_keys.use (from a login session, not an API key)".into(),
        ));
    }
    let name = input.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(DomainError::invalid("name", "must be 1 to 80 characters"));
    }
    let scope = match &input.permissions {
        None => None,
        Some(list) => {
            let parsed = permissions::parse_list(list)
                .map_err(|e| DomainError::invalid("permissions", e.to_string()))?;
            if let Some(p) = parsed.iter().find(|p| !actor.can(**p)) {
                return Err(DomainError::invalid(
                    "permissions",
                    format!("`{p}` is not one of your own permissions"),
                ));
            }
            Some(
                parsed
                    .iter()
                    .map(|p| p.key().to_string())
                    .collect::<Vec<_>>(),
            )
        }
    };
    let now = ctx.now();
    if let Some(expiry) = input.expires_at {
        if expiry <= now {
            return Err(DomainError::invalid("expires_at", "must be in the future"));
        }
    }
    let secret = format!("{KEY_PREFIX}{}", tokens::random_token());
    let id = tokens::new_id();
    let prefix: String = secret.chars().take(KEY_PREFIX.len() + 6).collect();
    let mut tx = Transaction::new();
    tx.bind("id", &id)
        .bind("user", &actor.user_id)
        .bind("name", &name)
        .bind("prefix", &prefix)
        .bind("hash", tokens::hash_token(&secret))
        .bind("permissions", &scope)
        .bind("now", db_time(now))
        .bind("expires", input.expires_at.map(db_time));
    tx.push(
        "CREATE type::record('api_key', $id) SET user = $user, name = $name, prefix = $prefix, key_hash = $hash,
            permissions = $permissions, created_at = <datetime>$now,
            expires_at = IF $expires THEN <datetime>$expires ELSE NONE END",
    );
    let changes = vec![
        FieldChange::new("name", None, Some(json!(name))),
        FieldChange::new("permissions", None, Some(json!(scope))),
    ];
    audit::record(&mut tx, actor, "api_key", &id, "create", &changes, now);
    tx.commit(&ctx.store).await?;
    let key = find(ctx, &id)
        .await?
        .ok_or(DomainError::NotFound("API key"))?;
    Ok(CreatedApiKey { secret, key })
}

async fn find(ctx: &Ctx, id: &str) -> DomainResult<Option<ApiKey>> {
    Ok(ctx
        .store
        .run(
            &format!("{SELECT_KEY} ONLY type::record('api_key', $id)"),
            json!({"id": id}),
        )
        .await?
        .first(0)?)
}

/// The actor's own keys, newest first; with `users.manage` and `all`, every key.
/// Which keys a list shows, and which page of them.
#[derive(Debug, Clone, Default)]
pub struct KeyListing {
    /// Everyone's keys (`users.manage`) instead of the actor's own.
    pub all: bool,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
    /// 1 to 200.
    pub limit: usize,
}

/// The order of key lists: newest first, on the `api_key_user` index (or
/// `api_key_created` for everyone's).
const KEY_ORDER: TimeOrder = TimeOrder::newest_first("api_key", "created_at");

/// The actor's keys, or everyone's, newest first, a page at a time.
pub async fn list(ctx: &Ctx, actor: &Actor, listing: KeyListing) -> DomainResult<Page<ApiKey>> {
    if listing.all {
        actor.require(Permission::UsersManage)?;
    }
    let owner: &[&str] = if listing.all { &[] } else { &["user = $user"] };
    KEY_ORDER
        .page(
            &ctx.store,
            &format!("{SELECT_KEY} api_key"),
            owner,
            json!({"user": actor.user_id}),
            listing.after.as_deref(),
            listing.limit,
            |k: &ApiKey| (k.created_at, &k.id),
        )
        .await
}

/// Revokes a key: its owner, or anyone with `users.manage`.
pub async fn revoke(ctx: &Ctx, actor: &Actor, id: &str) -> DomainResult<ApiKey> {
    let key = find(ctx, id)
        .await?
        .ok_or(DomainError::NotFound("API key"))?;
    if key.user != actor.user_id {
        actor
            .require(Permission::UsersManage)
            .map_err(|_| DomainError::NotFound("API key"))?;
    }
    if key.revoked_at.is_some() {
        return Ok(key);
    }
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("id", id).bind("now", db_time(now));
    tx.push("UPDATE type::record('api_key', $id) SET revoked_at = <datetime>$now");
    audit::record(&mut tx, actor, "api_key", id, "revoke", &[], now);
    tx.commit(&ctx.store).await?;
    ctx.credentials.forget_all();
    find(ctx, id).await?.ok_or(DomainError::NotFound("API key"))
}

/// Resolves a presented key to its owner, narrowed to the key's permissions.
pub async fn authenticate(ctx: &Ctx, secret: &str, channel: Channel) -> DomainResult<Actor> {
    let hash = tokens::hash_token(secret);
    let generation = match ctx.credentials.get(&hash, channel, ctx.now()) {
        Ok(hit) => return Ok(hit.actor),
        Err(generation) => generation,
    };
    let key: ApiKey = ctx
        .store
        .run(
            &format!("{SELECT_KEY} api_key WHERE key_hash = $hash LIMIT 1"),
            json!({"hash": hash}),
        )
        .await?
        .first(0)?
        .ok_or(DomainError::Unauthenticated)?;
    let resolved = resolve_key(ctx, key, channel).await?;
    ctx.credentials
        .put(&hash, channel, generation, resolved.clone());
    Ok(resolved.actor)
}

/// Re-resolves a key by id, for a connection that authenticated with it
/// long ago: refused once the key is revoked or expired.
pub(crate) async fn authenticate_by_id(
    ctx: &Ctx,
    id: &str,
    channel: Channel,
) -> DomainResult<Actor> {
    let key = find(ctx, id).await?.ok_or(DomainError::Unauthenticated)?;
    Ok(resolve_key(ctx, key, channel).await?.actor)
}

/// The key's owner narrowed to the key's permissions, with the last use
/// written down when due; valid until the key expires or the next write of
/// its last use is due.
async fn resolve_key(ctx: &Ctx, key: ApiKey, channel: Channel) -> DomainResult<Resolved> {
    let now = ctx.now();
    if key.revoked_at.is_some() || key.expires_at.is_some_and(|e| now >= e) {
        return Err(DomainError::Unauthenticated);
    }
    let mut actor = actor_for(ctx, &key.user, channel, Credential::ApiKey(key.id.clone())).await?;
    if let Some(scope) = &key.permissions {
        let scope: BTreeSet<Permission> = scope.iter().filter_map(|p| p.parse().ok()).collect();
        actor.permissions = actor.permissions.intersection(&scope).copied().collect();
    }
    let mut last_used_at = key.last_used_at.unwrap_or(now);
    if key.last_used_at.is_none_or(|t| now - t >= TOUCH_EVERY) {
        ctx.store
            .touch(
                "UPDATE type::record('api_key', $id) SET last_used_at = <datetime>$now",
                json!({"id": key.id, "now": db_time(now)}),
            )
            .await?;
        last_used_at = now;
    }
    let touch_due = last_used_at + TOUCH_EVERY;
    Ok(Resolved {
        actor,
        csrf_token: None,
        setup_pending: false,
        look_up_again_at: Some(key.expires_at.map_or(touch_due, |e| e.min(touch_due))),
    })
}
