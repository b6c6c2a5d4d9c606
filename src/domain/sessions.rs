//! Signing in and out, and turning a presented secret (session token or API
//! key) into an `Actor`.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::actor::{Actor, Channel, Credential};
use super::audit;
use super::clock::db_time;
use super::credential_cache::Resolved;
use super::error::{DomainError, DomainResult};
use super::users::{self, User};
use super::{api_keys, second_factor, tokens, Ctx};
use crate::store::Transaction;

/// A fresh session: the token is shown to the client once and stored hashed.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
    pub user: User,
    /// The user's role requires a second factor they have not set up: the
    /// session may set one up and do nothing else until then.
    pub second_factor_setup_required: bool,
}

/// Whether a session that must first set up a second factor is let in.
/// Only the sign-in's own calls (who am I, sign out, the setup) admit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupSessions {
    Refuse,
    Admit,
}

/// Where a login attempt came from, for limits and the session record.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SessionRecord {
    id: String,
    user: String,
    csrf_token: String,
    last_seen_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    /// Opened with the second factor.
    #[serde(default)]
    second_factor: bool,
}

/// A hash that verifies nothing, to spend the same time on unknown
/// usernames as on wrong passwords.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2D6Zq0Tt4v1+1ZyVHGB8QmBs8UYqkx0FZ5Kf3wCqfd8";

/// How often `last_seen_at` is written: idle timeouts are measured in
/// minutes, so touching the row on every request would be wasted writes.
const TOUCH_EVERY: Duration = Duration::seconds(60);

/// What a person types to sign in.
pub struct SignIn<'a> {
    pub username: &'a str,
    pub password: &'a str,
    /// A code from the authenticator app, or a recovery code; needed when
    /// the user has set up a second factor.
    pub code: Option<&'a str>,
}

#[tracing::instrument(skip(ctx, sign_in, client), fields(username = %sign_in.username))]
pub async fn login(
    ctx: &Ctx,
    sign_in: SignIn<'_>,
    client: &ClientInfo,
) -> DomainResult<NewSession> {
    let SignIn {
        username,
        password,
        code,
    } = sign_in;
    let now = ctx.now();
    let user_key = username.trim().to_ascii_lowercase();
    let ip_key = crate::rate_limit::ip_key(client.ip.as_deref().unwrap_or_default());
    ctx.login_limits
        .per_ip
        .hit(&ip_key, now)
        .map_err(|secs| DomainError::RateLimited {
            retry_after_secs: secs,
        })?;
    // Failures are counted per username from this client, and (with more
    // room) from all clients together: one attacker's guesses lock the
    // username for the attacker's address, not for the user's.
    let user_client_key = format!("{user_key}\n{ip_key}");
    let limits = &ctx.login_limits;
    limits
        .failures_per_user_and_client
        .check(&user_client_key, now)
        .and_then(|()| limits.failures_per_user.check(&user_key, now))
        .map_err(|secs| DomainError::RateLimited {
            retry_after_secs: secs,
        })?;

    let record = users::find_by_username(ctx, &user_key).await?;
    let hash = record
        .as_ref()
        .map(|r| r.password_hash.as_str())
        .unwrap_or(DUMMY_HASH);
    let matches = ctx.hasher.verify(password, hash).await?;
    let count_failure = || {
        let _ = limits
            .failures_per_user_and_client
            .hit(&user_client_key, now);
        let _ = limits.failures_per_user.hit(&user_key, now);
    };
    let record = match record {
        Some(r) if matches && r.user.active => r,
        _ => {
            count_failure();
            tracing::info!("login refused");
            return Err(DomainError::BadCredentials);
        }
    };
    // A wrong code counts like a wrong password; a missing one does not
    // (it is the first step of every sign-in with a second factor).
    let passed_second_factor =
        match second_factor::check_at_sign_in(ctx, &record.user.id, code).await {
            Err(e @ DomainError::WrongSecondFactor) => {
                count_failure();
                tracing::info!("login refused: second factor");
                return Err(e);
            }
            other => other?,
        };
    super::maintenance::admit_role(ctx, &record.user.role)?;
    let second_factor_setup_required =
        !passed_second_factor && second_factor::role_requires(ctx, &record.user.role).await?;
    limits.failures_per_user_and_client.reset(&user_client_key);
    limits.failures_per_user.reset(&user_key);
    // The address limit counts failures: an office behind one NAT address
    // signs in many times on a Monday morning.
    ctx.login_limits.per_ip.forgive(&ip_key);

    let token = tokens::random_token();
    let csrf_token = tokens::random_token();
    let expires_at = now + ctx.settings.session_max;
    let user = record.user;
    let actor = Actor {
        user_id: user.id.clone(),
        username: user.username.clone(),
        role: user.role.clone(),
        permissions: Default::default(),
        channel: Channel::Web,
        credential: Credential::Session(tokens::hash_token(&token)),
    };
    let mut tx = Transaction::new();
    tx.bind("key", tokens::hash_token(&token))
        .bind("user", &user.id)
        .bind("csrf", &csrf_token)
        .bind("now", db_time(now))
        .bind("expires", db_time(expires_at))
        .bind("second_factor", passed_second_factor)
        .bind("ip", &client.ip)
        .bind(
            "agent",
            client
                .user_agent
                .as_deref()
                .map(|a| a.chars().take(300).collect::<String>()),
        );
    tx.push(
        "CREATE type::record('session', $key) SET user = $user, csrf_token = $csrf, created_at = <datetime>$now,
            last_seen_at = <datetime>$now, expires_at = <datetime>$expires, ip = $ip, user_agent = $agent,
            second_factor = $second_factor",
    );
    // Not `updated_at`: a sign-in is not an edit of the user.
    tx.push("UPDATE type::record('user', $user) SET last_login_at = <datetime>$now");
    audit::record(&mut tx, &actor, "user", &user.id, "login", &[], now);
    tx.commit(&ctx.store).await?;
    tracing::info!(user = %user.id, "login");
    Ok(NewSession {
        token,
        csrf_token,
        expires_at,
        user,
        second_factor_setup_required,
    })
}

pub async fn logout(ctx: &Ctx, actor: &Actor) -> DomainResult<()> {
    if let Credential::Session(key) = &actor.credential {
        ctx.store
            .run("DELETE type::record('session', $key)", json!({"key": key}))
            .await?;
        ctx.credentials.forget_all();
    }
    Ok(())
}

/// What a valid session token resolves to.
pub struct SessionActor {
    pub actor: Actor,
    pub csrf_token: String,
    /// Admitted (by `SetupSessions::Admit`) while it must set up a second
    /// factor.
    pub setup_pending: bool,
}

/// Resolves a session token; an expired or idle session is deleted and
/// refused. Reuses what this instance resolved moments ago (see
/// `credential_cache`).
pub async fn authenticate_session(
    ctx: &Ctx,
    token: &str,
    channel: Channel,
    setup: SetupSessions,
) -> DomainResult<SessionActor> {
    let key = tokens::hash_token(token);
    let resolved = match ctx.credentials.get(&key, channel, ctx.now()) {
        Ok(hit) => hit,
        Err(generation) => {
            let resolved = session_by_key(ctx, &key, channel).await?;
            ctx.credentials
                .put(&key, channel, generation, resolved.clone());
            resolved
        }
    };
    if resolved.setup_pending && setup == SetupSessions::Refuse {
        return Err(DomainError::SecondFactorSetupRequired);
    }
    Ok(SessionActor {
        actor: resolved.actor,
        csrf_token: resolved.csrf_token.unwrap_or_default(),
        setup_pending: resolved.setup_pending,
    })
}

/// Checks that the credential an actor was resolved from still holds (the
/// session not ended or expired, the key not revoked, the user active) and
/// returns the actor with the permissions in force now. For connections
/// that outlive a request, such as the chat socket; always asks the
/// database.
pub async fn recheck(ctx: &Ctx, actor: &Actor) -> DomainResult<Actor> {
    match &actor.credential {
        Credential::ChatMessage(_) | Credential::ImportJob(_) => {
            actor_for(ctx, &actor.user_id, actor.channel, actor.credential.clone()).await
        }
        Credential::Internal => Ok(actor.clone()),
        credential => resolve(ctx, credential, actor.channel).await,
    }
}

/// The actor a session or API key stands for now, by the credential's
/// stored reference rather than its secret; always asks the database.
pub(crate) async fn resolve(
    ctx: &Ctx,
    credential: &Credential,
    channel: Channel,
) -> DomainResult<Actor> {
    match credential {
        Credential::Session(key) => {
            let resolved = session_by_key(ctx, key, channel).await?;
            if resolved.setup_pending {
                return Err(DomainError::SecondFactorSetupRequired);
            }
            Ok(resolved.actor)
        }
        Credential::ApiKey(id) => api_keys::authenticate_by_id(ctx, id, channel).await,
        Credential::ChatLink(id) => crate::domain::links::actor_for_link(ctx, id, channel).await,
        // Neither can be resolved without the actor it came with.
        Credential::ChatMessage(_) | Credential::ImportJob(_) | Credential::Internal => {
            Err(DomainError::Unauthenticated)
        }
    }
}

async fn session_by_key(ctx: &Ctx, key: &str, channel: Channel) -> DomainResult<Resolved> {
    let session: SessionRecord = ctx
        .store
        .run(
            "SELECT *, record::id(id) AS id FROM ONLY type::record('session', $key)",
            json!({"key": key}),
        )
        .await?
        .first(0)?
        .ok_or(DomainError::Unauthenticated)?;
    let now = ctx.now();
    if now >= session.expires_at || now >= session.last_seen_at + ctx.settings.session_idle {
        ctx.store
            .run("DELETE type::record('session', $key)", json!({"key": key}))
            .await?;
        return Err(DomainError::Unauthenticated);
    }
    let mut last_seen_at = session.last_seen_at;
    if now - session.last_seen_at >= TOUCH_EVERY {
        ctx.store
            .touch(
                "UPDATE type::record('session', $key) SET last_seen_at = <datetime>$now",
                json!({"key": key, "now": db_time(now)}),
            )
            .await?;
        last_seen_at = now;
    }
    let actor = actor_for(ctx, &session.user, channel, Credential::Session(session.id)).await?;
    // Checked on every lookup, not only at sign-in, so a role that comes
    // to require a second factor holds its sessions to it at once.
    let setup_pending =
        !session.second_factor && second_factor::role_requires(ctx, &actor.role).await?;
    let look_up_again_at = session
        .expires_at
        .min(last_seen_at + ctx.settings.session_idle)
        .min(last_seen_at + TOUCH_EVERY);
    Ok(Resolved {
        actor,
        csrf_token: Some(session.csrf_token),
        setup_pending,
        look_up_again_at: Some(look_up_again_at),
    })
}

/// Resolves a bearer token of either kind.
pub async fn authenticate_bearer(
    ctx: &Ctx,
    token: &str,
    channel: Channel,
    setup: SetupSessions,
) -> DomainResult<Actor> {
    if token.starts_with(api_keys::KEY_PREFIX) {
        api_keys::authenticate(ctx, token, channel).await
    } else {
        Ok(authenticate_session(ctx, token, channel, setup)
            .await?
            .actor)
    }
}

/// Builds the actor for an active user, with the permissions of their role
/// as it is now (so a changed role takes effect on the next request).
pub(crate) async fn actor_for(
    ctx: &Ctx,
    user_id: &str,
    channel: Channel,
    credential: Credential,
) -> DomainResult<Actor> {
    let record = users::find_record(ctx, user_id)
        .await?
        .ok_or(DomainError::Unauthenticated)?;
    if !record.user.active {
        return Err(DomainError::Unauthenticated);
    }
    let permissions = users::effective_permissions(ctx, &record.user).await?;
    Ok(Actor {
        user_id: record.user.id,
        username: record.user.username,
        role: record.user.role,
        permissions,
        channel,
        credential,
    })
}

/// The CSRF token of the actor's session, for a panel that reloaded.
pub async fn csrf_token_of(ctx: &Ctx, actor: &Actor) -> DomainResult<Option<String>> {
    let Credential::Session(key) = &actor.credential else {
        return Ok(None);
    };
    let row: Option<serde_json::Value> = ctx
        .store
        .run(
            "SELECT csrf_token FROM ONLY type::record('session', $key)",
            json!({"key": key}),
        )
        .await?
        .first(0)?;
    Ok(row.and_then(|r| r["csrf_token"].as_str().map(str::to_string)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_is_a_real_argon2id_hash_so_unknown_users_cost_the_same() {
        let parsed = argon2::password_hash::PasswordHash::new(DUMMY_HASH).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert_eq!(parsed.params.get_decimal("m"), Some(19456));
    }
}

/// One of the actor's open sessions, as their account page lists it. The
/// `id` is derived from the stored key (never the key itself), so the list
/// hands out nothing that could be replayed.
#[derive(Debug, Clone, Serialize)]
pub struct SessionInfo {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The session this request came with.
    pub current: bool,
}

#[derive(Debug, Deserialize)]
struct OpenSession {
    key: String,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    ip: Option<String>,
    user_agent: Option<String>,
}

/// The public handle of a stored session key.
fn handle_of(key: &str) -> String {
    tokens::hash_token(key).chars().take(24).collect()
}

async fn open_sessions(ctx: &Ctx, user_id: &str) -> DomainResult<Vec<OpenSession>> {
    Ok(ctx
        .store
        .run(
            "SELECT record::id(id) AS key, created_at, last_seen_at, expires_at, ip, user_agent
                FROM session WHERE user = $user AND expires_at > <datetime>$now ORDER BY last_seen_at DESC",
            json!({"user": user_id, "now": db_time(ctx.now())}),
        )
        .await?
        .rows(0)?)
}

/// The actor's own open sessions, most recently used first.
pub async fn list_own(ctx: &Ctx, actor: &Actor) -> DomainResult<Vec<SessionInfo>> {
    let current = match &actor.credential {
        Credential::Session(key) => Some(key.as_str()),
        _ => None,
    };
    Ok(open_sessions(ctx, &actor.user_id)
        .await?
        .into_iter()
        .map(|s| SessionInfo {
            id: handle_of(&s.key),
            current: current == Some(s.key.as_str()),
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
            ip: s.ip,
            user_agent: s.user_agent,
        })
        .collect())
}

/// Ends one of the actor's own sessions by its handle from `list_own`.
pub async fn end_own(ctx: &Ctx, actor: &Actor, id: &str) -> DomainResult<()> {
    let session = open_sessions(ctx, &actor.user_id)
        .await?
        .into_iter()
        .find(|s| handle_of(&s.key) == id.trim())
        .ok_or(DomainError::NotFound("session"))?;
    end_keys(ctx, actor, &[session.key]).await
}

/// "Sign out everywhere else": ends every session of the actor but the one
/// this request came with (all of them when it came with an API key).
/// Says how many ended.
pub async fn end_others(ctx: &Ctx, actor: &Actor) -> DomainResult<usize> {
    let current = match &actor.credential {
        Credential::Session(key) => key.clone(),
        _ => String::new(),
    };
    let keys: Vec<String> = open_sessions(ctx, &actor.user_id)
        .await?
        .into_iter()
        .map(|s| s.key)
        .filter(|k| *k != current)
        .collect();
    end_keys(ctx, actor, &keys).await?;
    Ok(keys.len())
}

async fn end_keys(ctx: &Ctx, actor: &Actor, keys: &[String]) -> DomainResult<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("keys", keys).bind("user", &actor.user_id);
    tx.push("DELETE array::map($keys, |$k| type::record('session', $k)) WHERE user = $user");
    let changes = [audit::FieldChange::new(
        "sessions",
        None,
        Some(json!(keys.len())),
    )];
    audit::record(
        &mut tx,
        actor,
        "user",
        &actor.user_id,
        "end_sessions",
        &changes,
        now,
    );
    tx.commit(&ctx.store).await?;
    ctx.credentials.forget_all();
    Ok(())
}
