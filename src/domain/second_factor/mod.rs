//! A second factor for signing in: codes from an authenticator app (TOTP),
//! with one-time recovery codes for a lost phone.
//!
//! A user turns it on for themselves; an admin can require it of a role.
//! Whoever holds such a role and has not set it up signs in to a session
//! that may do nothing but set it up (see `sessions`). Creating an API key
//! or a chat link code needs a session, and a session of someone with a
//! second factor exists only after the code was given, so neither can be
//! minted on the password alone.

pub mod totp;

use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::Deserialize;
use serde_json::json;

use super::actor::{Actor, Credential};
use super::audit::{self, FieldChange};
use super::clock::db_time;
use super::error::{DomainError, DomainResult};
use super::permissions::Permission;
use super::{roles, tokens, users, Ctx};
use crate::store::Transaction;

/// What authenticator apps show as the account's issuer.
const ISSUER: &str = "EA CRM";
/// Recovery codes handed out at a time.
const RECOVERY_CODES: usize = 10;

/// The stored factor of one user (`second_factor:<user id>`).
#[derive(Debug, Deserialize)]
struct FactorRecord {
    secret: Option<String>,
    pending_secret: Option<String>,
    enabled_at: Option<DateTime<Utc>>,
    #[serde(default)]
    recovery_codes: Vec<String>,
}

impl FactorRecord {
    fn enabled(&self) -> bool {
        self.secret.is_some()
    }
}

/// Where a user stands.
#[derive(Debug, Clone)]
pub struct Status {
    pub enabled: bool,
    pub enabled_at: Option<DateTime<Utc>>,
    /// The user's role requires a second factor.
    pub required: bool,
    /// Unused recovery codes.
    pub recovery_codes_left: usize,
    /// A setup was started and awaits its first code.
    pub setup_pending: bool,
}

/// A setup under way: what the app is given.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The secret in base32, for typing into an app.
    pub secret: String,
    /// The `otpauth://` URI, for a QR code or a link on a phone.
    pub uri: String,
}

async fn find(ctx: &Ctx, user_id: &str) -> DomainResult<Option<FactorRecord>> {
    Ok(ctx
        .store
        .run(
            "SELECT * FROM ONLY type::record('second_factor', $user)",
            json!({"user": user_id}),
        )
        .await?
        .first(0)?)
}

/// Whether holders of `role` must sign in with a second factor.
pub async fn role_requires(ctx: &Ctx, role: &str) -> DomainResult<bool> {
    Ok(roles::find(ctx, role)
        .await?
        .is_some_and(|r| r.require_second_factor))
}

/// Changing one's own factor needs a session: not an API key, a chat
/// account or a command typed in the chat.
fn require_session(actor: &Actor) -> DomainResult<&str> {
    match &actor.credential {
        Credential::Session(key) => Ok(key),
        _ => Err(DomainError::Forbidden(
            "a signed-in session (API keys and chat accounts cannot change the second factor)"
                .into(),
        )),
    }
}

pub async fn status(ctx: &Ctx, actor: &Actor) -> DomainResult<Status> {
    let record = find(ctx, &actor.user_id).await?;
    Ok(Status {
        enabled: record.as_ref().is_some_and(FactorRecord::enabled),
        enabled_at: record.as_ref().and_then(|r| r.enabled_at),
        required: role_requires(ctx, &actor.role).await?,
        recovery_codes_left: record
            .as_ref()
            .filter(|r| r.enabled())
            .map_or(0, |r| r.recovery_codes.len()),
        setup_pending: record.as_ref().is_some_and(|r| r.pending_secret.is_some()),
    })
}

/// Starts a setup: a new secret, kept aside until a code from it is shown.
pub async fn begin_setup(ctx: &Ctx, actor: &Actor) -> DomainResult<Setup> {
    require_session(actor)?;
    if find(ctx, &actor.user_id)
        .await?
        .is_some_and(|r| r.enabled())
    {
        return Err(DomainError::Conflict(
            "two-factor sign-in is already on; turn it off first to move it to another app".into(),
        ));
    }
    let secret = totp::new_secret();
    ctx.store
        .run(
            "UPSERT type::record('second_factor', $user) SET pending_secret = $secret",
            json!({"user": actor.user_id, "secret": totp::encode_secret(&secret)}),
        )
        .await?;
    Ok(Setup {
        secret: totp::encode_secret(&secret),
        uri: totp::provisioning_uri(ISSUER, &actor.username, &secret),
    })
}

/// Finishes a setup with a code from the app: the factor is on, this
/// session counts as having passed it, the user's other sessions end
/// (they were opened with the password alone), and the recovery codes are
/// returned, once.
pub async fn confirm_setup(ctx: &Ctx, actor: &Actor, code: &str) -> DomainResult<Vec<String>> {
    let session = require_session(actor)?;
    let record = find(ctx, &actor.user_id).await?;
    let pending = record
        .as_ref()
        .filter(|r| !r.enabled())
        .and_then(|r| r.pending_secret.as_deref())
        .and_then(totp::decode_secret)
        .ok_or_else(|| {
            DomainError::Conflict("no setup is under way; start one with /auth/2fa/setup".into())
        })?;
    let now = ctx.now();
    let step = totp::matching_step(&pending, code, now.timestamp())
        .ok_or_else(|| DomainError::invalid("code", "is not the app's current code"))?;
    let codes = new_recovery_codes();
    let mut tx = Transaction::new();
    tx.bind("user", &actor.user_id)
        .bind("secret", totp::encode_secret(&pending))
        .bind("step", step)
        .bind("codes", hashed(&codes))
        .bind("now", db_time(now))
        .bind("keep", session);
    tx.push(
        "UPDATE type::record('second_factor', $user) SET secret = $secret, pending_secret = NONE,
            enabled_at = <datetime>$now, last_step = $step, recovery_codes = $codes",
    );
    tx.push("UPDATE type::record('session', $keep) SET second_factor = true");
    tx.push("DELETE session WHERE user = $user AND record::id(id) != $keep");
    audit::record(
        &mut tx,
        actor,
        "user",
        &actor.user_id,
        "second_factor_on",
        &[],
        now,
    );
    tx.commit(&ctx.store).await?;
    ctx.credentials.forget_all();
    Ok(codes)
}

/// Turns one's own factor off, with the password and a code (or a
/// recovery code); refused while the role requires it.
pub async fn disable(ctx: &Ctx, actor: &Actor, password: &str, code: &str) -> DomainResult<()> {
    require_session(actor)?;
    if role_requires(ctx, &actor.role).await? {
        return Err(DomainError::Conflict(
            "your role requires two-factor sign-in; set it up again in another app instead".into(),
        ));
    }
    check_password(ctx, actor, password).await?;
    let record = find(ctx, &actor.user_id)
        .await?
        .filter(FactorRecord::enabled)
        .ok_or_else(|| DomainError::Conflict("two-factor sign-in is not on".into()))?;
    if !use_code(ctx, &actor.user_id, &record, code).await? {
        return Err(DomainError::invalid("code", "is wrong or was already used"));
    }
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("user", &actor.user_id);
    tx.push("DELETE type::record('second_factor', $user)");
    audit::record(
        &mut tx,
        actor,
        "user",
        &actor.user_id,
        "second_factor_off",
        &[],
        now,
    );
    tx.commit(&ctx.store).await?;
    ctx.credentials.forget_all();
    Ok(())
}

/// New recovery codes for a code from the app; the old ones stop working.
pub async fn renew_recovery_codes(
    ctx: &Ctx,
    actor: &Actor,
    code: &str,
) -> DomainResult<Vec<String>> {
    require_session(actor)?;
    let record = find(ctx, &actor.user_id)
        .await?
        .filter(FactorRecord::enabled)
        .ok_or_else(|| DomainError::Conflict("two-factor sign-in is not on".into()))?;
    let secret = record.secret.as_deref().and_then(totp::decode_secret);
    let now = ctx.now();
    let step = secret
        .and_then(|s| totp::matching_step(&s, code, now.timestamp()))
        .ok_or_else(|| DomainError::invalid("code", "is not the app's current code"))?;
    if !claim_step(ctx, &actor.user_id, step).await? {
        return Err(DomainError::invalid("code", "was already used"));
    }
    let codes = new_recovery_codes();
    let mut tx = Transaction::new();
    tx.bind("user", &actor.user_id)
        .bind("codes", hashed(&codes));
    tx.push("UPDATE type::record('second_factor', $user) SET recovery_codes = $codes");
    audit::record(
        &mut tx,
        actor,
        "user",
        &actor.user_id,
        "recovery_codes_renewed",
        &[],
        now,
    );
    tx.commit(&ctx.store).await?;
    Ok(codes)
}

/// An admin takes someone's factor away (a lost phone, no recovery codes
/// left): their sessions end, and if their role requires a factor they set
/// up a new one at their next sign-in.
pub async fn reset(ctx: &Ctx, actor: &Actor, user_id: &str) -> DomainResult<()> {
    actor.require(Permission::UsersManage)?;
    let user = users::find_record(ctx, user_id)
        .await?
        .ok_or(DomainError::NotFound("user"))?
        .user;
    users::check_may_manage(ctx, actor, &user.role, &user.extra_permissions).await?;
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("user", &user.id);
    tx.push("DELETE type::record('second_factor', $user)");
    tx.push("DELETE session WHERE user = $user");
    audit::record(
        &mut tx,
        actor,
        "user",
        &user.id,
        "second_factor_reset",
        &[FieldChange::new("second_factor", Some(json!("on")), None)],
        now,
    );
    tx.commit(&ctx.store).await?;
    ctx.credentials.forget_all();
    Ok(())
}

/// For `ea-crm admin reset-password`: the operator locked out of the panel
/// may have lost the phone too.
pub(crate) fn push_removal(tx: &mut Transaction) {
    tx.push("DELETE type::record('second_factor', $id)");
}

/// The second step of a sign-in whose password was right. `Ok(true)` when
/// the user has a factor and `code` is a valid one; `Ok(false)` when the
/// user has none.
pub(crate) async fn check_at_sign_in(
    ctx: &Ctx,
    user_id: &str,
    code: Option<&str>,
) -> DomainResult<bool> {
    let Some(record) = find(ctx, user_id).await?.filter(FactorRecord::enabled) else {
        return Ok(false);
    };
    let Some(code) = code.filter(|c| !c.trim().is_empty()) else {
        return Err(DomainError::SecondFactorRequired);
    };
    if use_code(ctx, user_id, &record, code).await? {
        Ok(true)
    } else {
        Err(DomainError::WrongSecondFactor)
    }
}

/// Spends `code`: a current app code not used before, or an unused
/// recovery code. False when it is neither.
async fn use_code(
    ctx: &Ctx,
    user_id: &str,
    record: &FactorRecord,
    code: &str,
) -> DomainResult<bool> {
    let secret = record.secret.as_deref().and_then(totp::decode_secret);
    if let Some(step) = secret.and_then(|s| totp::matching_step(&s, code, ctx.now().timestamp())) {
        return claim_step(ctx, user_id, step).await;
    }
    let hash = tokens::hash_token(&normalize_recovery_code(code));
    let spent: Vec<serde_json::Value> = ctx
        .store
        .run(
            "UPDATE type::record('second_factor', $user) SET recovery_codes -= $hash
                WHERE recovery_codes CONTAINS $hash RETURN VALUE 1",
            json!({"user": user_id, "hash": hash}),
        )
        .await?
        .rows(0)?;
    Ok(!spent.is_empty())
}

/// Marks `step` used, atomically: a code seen once (by this instance or
/// another) is refused after, so one overheard cannot be replayed.
async fn claim_step(ctx: &Ctx, user_id: &str, step: i64) -> DomainResult<bool> {
    let claimed: Vec<serde_json::Value> = ctx
        .store
        .run(
            "UPDATE type::record('second_factor', $user) SET last_step = $step
                WHERE last_step < $step RETURN VALUE 1",
            json!({"user": user_id, "step": step}),
        )
        .await?
        .rows(0)?;
    Ok(!claimed.is_empty())
}

async fn check_password(ctx: &Ctx, actor: &Actor, password: &str) -> DomainResult<()> {
    let record = users::find_record(ctx, &actor.user_id)
        .await?
        .ok_or(DomainError::Unauthenticated)?;
    // Counted with the wrong current passwords of a password change: a
    // stolen session must not become a way to guess the password.
    let limits = &ctx.login_limits.password_change_failures;
    limits
        .check(&actor.user_id, ctx.now())
        .map_err(|secs| DomainError::RateLimited {
            retry_after_secs: secs,
        })?;
    if !ctx.hasher.verify(password, &record.password_hash).await? {
        let _ = limits.hit(&actor.user_id, ctx.now());
        return Err(DomainError::invalid("password", "is not your password"));
    }
    limits.reset(&actor.user_id);
    Ok(())
}

/// Ten codes of 40 random bits, written `abcd-efgh` in lower-case base32.
fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 5];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            let text = data_encoding::BASE32_NOPAD
                .encode(&bytes)
                .to_ascii_lowercase();
            format!("{}-{}", &text[..4], &text[4..])
        })
        .collect()
}

fn hashed(codes: &[String]) -> Vec<String> {
    codes
        .iter()
        .map(|c| tokens::hash_token(&normalize_recovery_code(c)))
        .collect()
}

/// People type recovery codes with or without the dash, in any case.
fn normalize_recovery_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_distinct_and_read_however_they_are_typed() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let distinct: std::collections::BTreeSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), RECOVERY_CODES);
        let code = &codes[0];
        assert_eq!(code.len(), 9);
        assert_eq!(&code[4..5], "-");
        let typed = format!(" {} ", code.replace('-', "").to_ascii_uppercase());
        assert_eq!(
            hashed(std::slice::from_ref(code)),
            vec![tokens::hash_token(&normalize_recovery_code(&typed))]
        );
    }
}
