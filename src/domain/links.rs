//! Linking chat accounts (Telegram, Discord) to CRM users.
//!
//! A signed-in user takes a one-time code (`create_code`), valid for
//! `CODE_TTL`, and sends `/link CODE` to a bot; `redeem` ties that chat
//! account to the user. From then on every bot command runs as that user,
//! with the permissions of their role, exactly like the web.
//!
//! Promises: a code is stored only as its SHA-256 and works once (the
//! claim is a conditional update inside the linking transaction, so two
//! redemptions at once cannot both win); a chat account links to one user
//! at a time (relinking replaces the old link). A link ends when its user
//! removes it (`unlink`), when someone who may manage the user removes it,
//! and when the user's password changes (`users::change_password`); while
//! the user is deactivated it acts as nothing and receives nothing.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::actor::{Actor, Channel, Credential};
use super::audit::{self, FieldChange};
use super::clock::db_time;
use super::error::{DomainError, DomainResult};
use super::permissions::Permission;
use super::{sessions, tokens, users, Ctx};
use crate::store::{StoreError, Transaction};

/// How long a link code works: long enough to switch apps and type it.
pub const CODE_TTL: Duration = Duration::minutes(10);

/// Letters and digits without look-alikes (0/O, 1/I/L), so a code read off
/// a screen is typed right the first time.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
/// 8 of 31 symbols: about 40 bits, against a 10-minute window.
const CODE_LEN: usize = 8;

/// A fresh code, shown once.
#[derive(Debug, Clone, Serialize)]
pub struct LinkCode {
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

/// A linked chat account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatLink {
    pub id: String,
    pub platform: String,
    pub platform_user_id: String,
    pub user: String,
    pub created_at: DateTime<Utc>,
}

/// The platforms a chat account can live on.
pub const PLATFORMS: &[&str] = &["telegram", "discord"];

fn code_key(code: &str) -> String {
    // Codes are read case-insensitively and without spaces or dashes, the
    // way people copy them.
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    tokens::hash_token(&normal)
}

/// Issues a one-time link code for the actor's own account. Only from a
/// login session: a linked account acts with the user's whole role, so an
/// API key (perhaps narrowed to a few permissions) or a chat account must
/// not hand one out.
pub async fn create_code(ctx: &Ctx, actor: &Actor) -> DomainResult<LinkCode> {
    if !matches!(actor.credential, Credential::Session(_)) {
        return Err(DomainError::Forbidden(
            "a login session (a link code cannot be made with an API key)".into(),
        ));
    }
    let code: String = {
        let mut rng = rand::rngs::OsRng;
        (0..CODE_LEN)
            .map(|_| CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char)
            .collect()
    };
    let now = ctx.now();
    let expires_at = now + CODE_TTL;
    ctx.store
        .run(
            "DELETE link_code WHERE user = $user AND (used_at IS NOT NONE OR expires_at <= <datetime>$now);
             CREATE type::record('link_code', $key) SET user = $user,
                expires_at = <datetime>$expires, created_at = <datetime>$now",
            json!({
                "key": code_key(&code),
                "user": actor.user_id,
                "now": db_time(now),
                "expires": db_time(expires_at),
            }),
        )
        .await?;
    Ok(LinkCode { code, expires_at })
}

fn check_platform(platform: &str) -> DomainResult<()> {
    if PLATFORMS.contains(&platform) {
        Ok(())
    } else {
        Err(DomainError::invalid("platform", "use telegram or discord"))
    }
}

const BAD_CODE: &str = "that link code is wrong, used or expired; take a new one";

/// Links a chat account with a code; returns the linked (active) user.
/// Wrong codes are limited per chat account like failed logins
/// (`LOGIN_MAX_FAILURES_PER_USER` per `LOGIN_WINDOW_SECONDS`).
#[tracing::instrument(skip(ctx, code))]
pub async fn redeem(
    ctx: &Ctx,
    platform: &str,
    platform_user_id: &str,
    code: &str,
) -> DomainResult<users::User> {
    check_platform(platform)?;
    let limits = &ctx.login_limits.link_failures_per_account;
    let account = format!("{platform}:{platform_user_id}");
    limits
        .check(&account, ctx.now())
        .map_err(|secs| DomainError::RateLimited {
            retry_after_secs: secs,
        })?;
    let redeemed = claim(ctx, platform, platform_user_id, code).await;
    match &redeemed {
        Err(DomainError::Invalid { field: "code", .. }) => {
            let _ = limits.hit(&account, ctx.now());
        }
        Ok(_) => limits.reset(&account),
        Err(_) => {}
    }
    redeemed
}

async fn claim(
    ctx: &Ctx,
    platform: &str,
    platform_user_id: &str,
    code: &str,
) -> DomainResult<users::User> {
    let key = code_key(code);
    let stored: Option<serde_json::Value> = ctx
        .store
        .run(
            "SELECT user FROM ONLY type::record('link_code', $key)",
            json!({"key": key}),
        )
        .await?
        .first(0)?;
    let user_id = stored
        .as_ref()
        .and_then(|s| s["user"].as_str())
        .ok_or_else(|| DomainError::invalid("code", BAD_CODE))?
        .to_string();
    let user = users::find_record(ctx, &user_id)
        .await?
        .filter(|r| r.user.active)
        .ok_or_else(|| DomainError::invalid("code", BAD_CODE))?
        .user;
    let now = ctx.now();
    let link_id = tokens::new_id();
    let actor = Actor {
        user_id: user.id.clone(),
        username: user.username.clone(),
        role: user.role.clone(),
        permissions: Default::default(),
        channel: channel_of(platform),
        credential: Credential::ChatLink(link_id.clone()),
    };
    let mut tx = Transaction::new();
    tx.bind("key", &key)
        .bind("now", db_time(now))
        .bind("platform", platform)
        .bind("puid", platform_user_id)
        .bind("user", &user.id)
        .bind("link", &link_id);
    tx.push(
        "LET $claimed = (UPDATE type::record('link_code', $key) SET used_at = <datetime>$now
            WHERE used_at IS NONE AND expires_at > <datetime>$now)",
    );
    tx.push(format!(
        "IF array::len($claimed) = 0 {{ THROW '{BAD_CODE}' }}"
    ));
    tx.push("DELETE chat_link WHERE platform = $platform AND platform_user_id = $puid");
    tx.push(
        "CREATE type::record('chat_link', $link) SET platform = $platform,
            platform_user_id = $puid, user = $user, created_at = <datetime>$now",
    );
    let changes = vec![
        FieldChange::new("platform", None, Some(json!(platform))),
        FieldChange::new("user", None, Some(json!(user.id))),
    ];
    audit::record(
        &mut tx,
        &actor,
        "chat_link",
        &link_id,
        "link",
        &changes,
        now,
    );
    match tx.commit(&ctx.store).await {
        Ok(_) => Ok(user),
        Err(StoreError::Rule(_)) => Err(DomainError::invalid("code", BAD_CODE)),
        Err(e) => Err(e.into()),
    }
}

/// The audit channel of a platform.
pub fn channel_of(platform: &str) -> Channel {
    match Channel::parse(platform) {
        Some(channel @ (Channel::Discord | Channel::Web)) => channel,
        _ => Channel::Telegram,
    }
}

/// The actor a linked chat account acts as, with the permissions of the
/// user's role as they are now; `None` when the account is not linked (or
/// the user was deactivated).
pub async fn actor_of_account(
    ctx: &Ctx,
    platform: &str,
    platform_user_id: &str,
) -> DomainResult<Option<Actor>> {
    let row: Option<ChatLink> = ctx
        .store
        .run(
            "SELECT *, record::id(id) AS id FROM chat_link
                WHERE platform = $platform AND platform_user_id = $puid LIMIT 1",
            json!({"platform": platform, "puid": platform_user_id}),
        )
        .await?
        .first(0)?;
    let Some(link) = row else {
        return Ok(None);
    };
    match sessions::actor_for(
        ctx,
        &link.user,
        channel_of(platform),
        Credential::ChatLink(link.id),
    )
    .await
    {
        Ok(actor) => {
            super::maintenance::admit(ctx, &actor)?;
            Ok(Some(actor))
        }
        Err(DomainError::Unauthenticated) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Re-resolves an actor that came from a chat link (see `sessions::recheck`).
pub async fn actor_for_link(ctx: &Ctx, link_id: &str, channel: Channel) -> DomainResult<Actor> {
    let link: ChatLink = ctx
        .store
        .run(
            "SELECT *, record::id(id) AS id FROM ONLY type::record('chat_link', $id)",
            json!({"id": link_id}),
        )
        .await?
        .first(0)?
        .ok_or(DomainError::Unauthenticated)?;
    sessions::actor_for(ctx, &link.user, channel, Credential::ChatLink(link.id)).await
}

/// The chat accounts a user has linked, whoever they are: for the modules
/// that check access themselves.
async fn of_user(ctx: &Ctx, user_id: &str) -> DomainResult<Vec<ChatLink>> {
    Ok(ctx
        .store
        .run(
            "SELECT *, record::id(id) AS id FROM chat_link WHERE user = $user ORDER BY created_at",
            json!({"user": user_id}),
        )
        .await?
        .rows(0)?)
}

/// The chat accounts the bots may write to on the user's behalf: none
/// while the user is deactivated, so nothing follows them out.
pub async fn reachable_accounts(ctx: &Ctx, user_id: &str) -> DomainResult<Vec<ChatLink>> {
    let active = users::find_record(ctx, user_id)
        .await?
        .is_some_and(|r| r.user.active);
    if !active {
        return Ok(Vec::new());
    }
    of_user(ctx, user_id).await
}

/// Links are managed from a login: a narrowed API key or a chat account
/// does not add or remove them.
fn require_session(actor: &Actor) -> DomainResult<()> {
    if matches!(actor.credential, Credential::Session(_)) {
        Ok(())
    } else {
        Err(DomainError::Forbidden(
            "a login session (chat links are managed from the panel)".into(),
        ))
    }
}

/// May the actor see and remove `user_id`'s links? Their own, from a
/// login; anyone else's with `users.manage` over that user.
async fn require_may_manage_links(ctx: &Ctx, actor: &Actor, user_id: &str) -> DomainResult<()> {
    require_session(actor)?;
    if actor.user_id == user_id {
        return Ok(());
    }
    actor.require(Permission::UsersManage)?;
    users::require_may_manage_user(ctx, actor, user_id).await?;
    Ok(())
}

/// The chat accounts linked to `user_id`, oldest first.
pub async fn list(ctx: &Ctx, actor: &Actor, user_id: &str) -> DomainResult<Vec<ChatLink>> {
    require_may_manage_links(ctx, actor, user_id).await?;
    of_user(ctx, user_id).await
}

/// Removes one of `user_id`'s chat links: the chat account acts as nobody
/// from its next message on, and the bots stop writing to it.
#[tracing::instrument(skip(ctx, actor), fields(actor = %actor.user_id))]
pub async fn unlink(ctx: &Ctx, actor: &Actor, user_id: &str, link_id: &str) -> DomainResult<()> {
    require_may_manage_links(ctx, actor, user_id).await?;
    let link: ChatLink = ctx
        .store
        .run(
            "SELECT *, record::id(id) AS id FROM ONLY type::record('chat_link', $id)",
            json!({"id": link_id}),
        )
        .await?
        .first(0)?
        .filter(|l: &ChatLink| l.user == user_id)
        .ok_or(DomainError::NotFound("chat link"))?;
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("id", &link.id);
    tx.push("DELETE type::record('chat_link', $id)");
    let changes = vec![
        FieldChange::new("platform", Some(json!(link.platform)), None),
        FieldChange::new("user", Some(json!(link.user)), None),
    ];
    audit::record(
        &mut tx,
        actor,
        "chat_link",
        &link.id,
        "unlink",
        &changes,
        now,
    );
    tx.commit(&ctx.store).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_without_case_spaces_or_dashes() {
        assert_eq!(code_key("abcd-2345"), code_key("ABCD2345"));
        assert_eq!(code_key(" ABCD 2345 "), code_key("ABCD2345"));
        assert_ne!(code_key("ABCD2345"), code_key("ABCD2346"));
    }
}
