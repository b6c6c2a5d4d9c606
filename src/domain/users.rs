//! Users: who can sign in, their role, and the rules that keep at least one
//! active admin in the system.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::actor::Actor;
use super::audit::{self, FieldChange};
use super::clock::db_time;
use super::cursor::{self, Page};
use super::error::{DomainError, DomainResult};
use super::passwords::check_strength;
use super::permissions::{self, Permission};
use super::roles::{self, ADMIN_ROLE};
use super::{tokens, Ctx};
use crate::store::{StoreError, Transaction};

/// A user as the API shows it: never the password hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub username: String,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub extra_permissions: Vec<String>,
    pub active: bool,
    pub timezone: String,
    /// Signs in with a second factor (an authenticator app).
    #[serde(default)]
    pub second_factor: bool,
    /// The last sign-in with a password; absent if there never was one.
    #[serde(default)]
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The stored row, with the secret.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct UserRecord {
    #[serde(flatten)]
    pub user: User,
    pub password_hash: String,
}

/// A username: 3 to 32 of a-z, 0-9, `.`, `_`, `-`, stored lower-case.
pub fn parse_username(raw: &str) -> DomainResult<String> {
    let name = raw.trim().to_ascii_lowercase();
    let ok = (3..=32).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(name)
    } else {
        Err(DomainError::invalid(
            "username",
            "3 to 32 characters: letters, digits, . _ -, starting with a letter or digit",
        ))
    }
}

/// An email address, lower-cased: one `@`, a non-empty local part, and a
/// domain with a dot and no spaces.
pub fn parse_email(raw: &str) -> DomainResult<String> {
    let email = raw.trim().to_lowercase();
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(char::is_whitespace)
                && email.len() <= 254
        }
        None => false,
    };
    if valid {
        Ok(email)
    } else {
        Err(DomainError::invalid(
            "email",
            "is not a valid email address",
        ))
    }
}

/// An IANA timezone name such as `Europe/Berlin`.
pub fn parse_timezone(raw: &str) -> DomainResult<String> {
    raw.trim()
        .parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_string())
        .map_err(|_| {
            DomainError::invalid("timezone", "is not an IANA timezone such as Europe/Berlin")
        })
}

fn parse_extra(items: &[String]) -> DomainResult<Vec<String>> {
    permissions::parse_list(items)
        .map(|list| list.into_iter().map(|p| p.key().to_string()).collect())
        .map_err(|e| DomainError::invalid("extra_permissions", e.to_string()))
}

async fn require_role(ctx: &Ctx, key: &str) -> DomainResult<String> {
    let key = key.trim().to_ascii_lowercase();
    match roles::find(ctx, &key).await? {
        Some(role) => Ok(role.id),
        None => Err(DomainError::invalid("role", format!("no role `{key}`"))),
    }
}

/// The permissions a user holds: their role's plus their extras.
pub async fn effective_permissions(ctx: &Ctx, user: &User) -> DomainResult<BTreeSet<Permission>> {
    permissions_of(ctx, &user.role, &user.extra_permissions).await
}

/// The permissions a role with these extras gives.
async fn permissions_of(
    ctx: &Ctx,
    role: &str,
    extras: &[String],
) -> DomainResult<BTreeSet<Permission>> {
    let mut set = match roles::find(ctx, role).await? {
        Some(role) => role.effective_permissions(),
        None => BTreeSet::new(),
    };
    set.extend(extras.iter().filter_map(|p| p.parse::<Permission>().ok()));
    Ok(set)
}

/// `users.manage` is no way up: the actor manages only users who hold
/// nothing the actor lacks (so never resets the password of someone
/// above them), grants only what it holds itself, and only admins manage
/// admins. Called with the user as they are and as they would become.
pub(crate) async fn check_may_manage(
    ctx: &Ctx,
    actor: &Actor,
    role: &str,
    extras: &[String],
) -> DomainResult<()> {
    if role == ADMIN_ROLE && actor.role != ADMIN_ROLE {
        return Err(DomainError::Forbidden(
            "admin (only admins manage admins)".into(),
        ));
    }
    let held = permissions_of(ctx, role, extras).await?;
    match held.iter().find(|p| !actor.can(**p)) {
        Some(p) => Err(DomainError::Forbidden(format!(
            "{} (to manage a user who holds it)",
            p.key()
        ))),
        None => Ok(()),
    }
}

/// The user, if the actor may manage them (see `check_may_manage`); the
/// actor's `users.manage` is the caller's to check.
pub(crate) async fn require_may_manage_user(
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
) -> DomainResult<User> {
    let user = find_record(ctx, id)
        .await?
        .ok_or(DomainError::NotFound("user"))?
        .user;
    check_may_manage(ctx, actor, &user.role, &user.extra_permissions).await?;
    Ok(user)
}

/// What a new password ended: every way in that the old one could have
/// handed out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EndedCredentials {
    pub sessions: usize,
    pub api_keys: usize,
    pub chat_links: usize,
}

/// Where `end_credentials` put its statements in the transaction's results.
struct EndedAt {
    sessions: usize,
    api_keys: usize,
    chat_links: usize,
}

impl EndedAt {
    fn count(&self, results: &crate::store::Results) -> DomainResult<EndedCredentials> {
        let count = |i| -> DomainResult<usize> { Ok(results.rows::<serde_json::Value>(i)?.len()) };
        Ok(EndedCredentials {
            sessions: count(self.sessions)?,
            api_keys: count(self.api_keys)?,
            chat_links: count(self.chat_links)?,
        })
    }
}

/// Ends, in `tx`, the sessions of user `$id` (but `$keep`), revokes their
/// API keys (at `$now`) and removes their chat links: whoever had the old
/// password may have made any of them.
fn end_credentials(tx: &mut Transaction) -> EndedAt {
    EndedAt {
        sessions: tx
            .push("DELETE session WHERE user = $id AND record::id(id) != $keep RETURN BEFORE"),
        api_keys: tx.push(
            "UPDATE api_key SET revoked_at = <datetime>$now WHERE user = $id AND revoked_at IS NONE
                RETURN VALUE record::id(id)",
        ),
        chat_links: tx.push("DELETE chat_link WHERE user = $id RETURN BEFORE"),
    }
}

const SELECT_USER: &str = "SELECT *, record::id(id) AS id,
    type::record('second_factor', record::id(id)).secret != NONE AS second_factor FROM";

pub(crate) async fn find_record(ctx: &Ctx, id: &str) -> DomainResult<Option<UserRecord>> {
    Ok(ctx
        .store
        .run(
            &format!("{SELECT_USER} ONLY type::record('user', $id)"),
            json!({"id": id}),
        )
        .await?
        .first(0)?)
}

pub(crate) async fn find_by_username(
    ctx: &Ctx,
    username: &str,
) -> DomainResult<Option<UserRecord>> {
    Ok(ctx
        .store
        .run(
            &format!("{SELECT_USER} user WHERE username = $username LIMIT 1"),
            json!({"username": username.trim().to_ascii_lowercase()}),
        )
        .await?
        .first(0)?)
}

#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub display_name: Option<String>,
    pub password: String,
    pub role: String,
    pub extra_permissions: Vec<String>,
    pub timezone: Option<String>,
}

pub async fn create(ctx: &Ctx, actor: &Actor, input: NewUser) -> DomainResult<User> {
    actor.require(Permission::UsersManage)?;
    let role = require_role(ctx, &input.role).await?;
    let extras = parse_extra(&input.extra_permissions)?;
    check_may_manage(ctx, actor, &role, &extras).await?;
    insert(ctx, actor, input).await
}

/// Creates a user without a permission check: for `create` above and for the
/// first admin, made by the service itself.
async fn insert(ctx: &Ctx, actor: &Actor, input: NewUser) -> DomainResult<User> {
    let username = parse_username(&input.username)?;
    let email = parse_email(&input.email)?;
    check_strength("password", &input.password)?;
    let role = require_role(ctx, &input.role).await?;
    let extra = parse_extra(&input.extra_permissions)?;
    let timezone = parse_timezone(input.timezone.as_deref().unwrap_or("UTC"))?;
    let display_name = input
        .display_name
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| username.clone());
    if display_name.chars().count() > 100 {
        return Err(DomainError::invalid(
            "display_name",
            "must be at most 100 characters",
        ));
    }
    let hash = ctx.hasher.hash(&input.password).await?;
    let id = tokens::new_id();
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("id", &id)
        .bind("username", &username)
        .bind("email", &email)
        .bind("display_name", &display_name)
        .bind("hash", &hash)
        .bind("role", &role)
        .bind("extra", &extra)
        .bind("timezone", &timezone)
        .bind("now", db_time(now));
    tx.push(
        "CREATE type::record('user', $id) SET username = $username, email = $email, display_name = $display_name,
            password_hash = $hash, role = $role, extra_permissions = $extra, active = true, timezone = $timezone,
            created_at = <datetime>$now, updated_at = <datetime>$now, password_changed_at = <datetime>$now",
    );
    let changes = vec![
        FieldChange::new("username", None, Some(json!(username))),
        FieldChange::new("email", None, Some(json!(email))),
        FieldChange::new("role", None, Some(json!(role))),
    ];
    audit::record(&mut tx, actor, "user", &id, "create", &changes, now);
    tx.commit(&ctx.store).await.map_err(|e| match e {
        StoreError::Duplicate(msg) if msg.contains("user_email") => {
            DomainError::Conflict("a user with that email already exists".into())
        }
        StoreError::Duplicate(_) => {
            DomainError::Conflict("a user with that username already exists".into())
        }
        other => other.into(),
    })?;
    Ok(find_record(ctx, &id)
        .await?
        .ok_or(DomainError::NotFound("user"))?
        .user)
}

/// A page of users ordered by username; `after` is the `next_cursor` of
/// the previous page (its last username, opaque like every list's);
/// `search`, when given, keeps those whose username, display name or email
/// contains it (any case).
pub async fn list(
    ctx: &Ctx,
    actor: &Actor,
    after: Option<&str>,
    search: Option<&str>,
    limit: usize,
) -> DomainResult<Page<User>> {
    actor.require_any(&[Permission::UsersRead, Permission::UsersManage])?;
    let limit = limit.clamp(1, cursor::MAX_PAGE);
    let after = after.map(cursor::decode).transpose()?;
    let search = search
        .map(|q| q.trim().to_lowercase())
        .filter(|q| !q.is_empty());
    if search.as_ref().is_some_and(|q| q.chars().count() > 100) {
        return Err(DomainError::invalid("q", "must be at most 100 characters"));
    }
    let matches = if search.is_some() {
        " AND (string::contains(username, $q) OR string::contains(string::lowercase(display_name), $q)
            OR string::contains(email, $q))"
    } else {
        ""
    };
    let rows: Vec<User> = ctx
        .store
        .run(
            &format!(
                "{SELECT_USER} user WHERE username > $after{matches} ORDER BY username ASC LIMIT $limit"
            ),
            // One more than the page: it only says there is a next page.
            json!({"after": after.unwrap_or_default(), "limit": limit + 1, "q": search}),
        )
        .await?
        .rows(0)?;
    Ok(Page::from_one_more(rows, limit, |u| {
        cursor::encode(&u.username)
    }))
}

/// What a person may change about their own account.
#[derive(Debug, Clone, Default)]
pub struct ProfilePatch {
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub timezone: Option<String>,
}

/// Applies and checks the fields a person may change on their own account
/// (and an admin on anyone's).
fn apply_profile(user: &mut User, patch: &ProfilePatch) -> DomainResult<()> {
    if let Some(email) = &patch.email {
        user.email = parse_email(email)?;
    }
    if let Some(name) = &patch.display_name {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(DomainError::invalid(
                "display_name",
                "must be 1 to 100 characters",
            ));
        }
        user.display_name = name.to_string();
    }
    if let Some(tz) = &patch.timezone {
        user.timezone = parse_timezone(tz)?;
    }
    Ok(())
}

/// The actor changes their own display name, email or timezone (the
/// timezone drives their due views, reminders and digest). No permission
/// is needed for one's own account; role, permissions and activity stay
/// with `update`.
pub async fn update_profile(ctx: &Ctx, actor: &Actor, patch: ProfilePatch) -> DomainResult<User> {
    let before = find_record(ctx, &actor.user_id)
        .await?
        .ok_or(DomainError::Unauthenticated)?
        .user;
    let mut after = before.clone();
    apply_profile(&mut after, &patch)?;
    let view = |u: &User| json!({"email": u.email, "display_name": u.display_name, "timezone": u.timezone});
    let changes = audit::diff(&view(&before), &view(&after), &[]);
    if changes.is_empty() {
        return Ok(before);
    }
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("id", &actor.user_id)
        .bind("email", &after.email)
        .bind("display_name", &after.display_name)
        .bind("timezone", &after.timezone)
        .bind("now", db_time(now));
    tx.push(
        "UPDATE type::record('user', $id) SET email = $email, display_name = $display_name,
            timezone = $timezone, updated_at = <datetime>$now",
    );
    audit::record(
        &mut tx,
        actor,
        "user",
        &actor.user_id,
        "update",
        &changes,
        now,
    );
    tx.commit(&ctx.store).await.map_err(|e| match e {
        StoreError::Duplicate(_) => {
            DomainError::Conflict("a user with that email already exists".into())
        }
        other => other.into(),
    })?;
    ctx.credentials.forget_all();
    Ok(find_record(ctx, &actor.user_id)
        .await?
        .ok_or(DomainError::NotFound("user"))?
        .user)
}

pub async fn get(ctx: &Ctx, actor: &Actor, id: &str) -> DomainResult<User> {
    if actor.user_id != id {
        actor.require_any(&[Permission::UsersRead, Permission::UsersManage])?;
    }
    Ok(find_record(ctx, id)
        .await?
        .ok_or(DomainError::NotFound("user"))?
        .user)
}

#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub role: Option<String>,
    pub extra_permissions: Option<Vec<String>>,
    pub active: Option<bool>,
    pub timezone: Option<String>,
    pub password: Option<String>,
}

/// Refuses, inside the transaction, a change that would leave no active admin.
const KEEP_AN_ADMIN: &str =
    "IF (SELECT count() FROM user WHERE role = 'admin' AND active = true GROUP ALL)[0].count < 1 {
    THROW 'the last active admin cannot be removed, deactivated or demoted'
}";

pub async fn update(ctx: &Ctx, actor: &Actor, id: &str, patch: UserPatch) -> DomainResult<User> {
    actor.require(Permission::UsersManage)?;
    let record = find_record(ctx, id)
        .await?
        .ok_or(DomainError::NotFound("user"))?;
    let before = record.user;
    check_may_manage(ctx, actor, &before.role, &before.extra_permissions).await?;
    let mut after = before.clone();
    apply_profile(
        &mut after,
        &ProfilePatch {
            display_name: patch.display_name.clone(),
            email: patch.email.clone(),
            timezone: patch.timezone.clone(),
        },
    )?;
    if let Some(role) = &patch.role {
        after.role = require_role(ctx, role).await?;
    }
    if let Some(extra) = &patch.extra_permissions {
        after.extra_permissions = parse_extra(extra)?;
    }
    if let Some(active) = patch.active {
        after.active = active;
    }
    if after.role != before.role || after.extra_permissions != before.extra_permissions {
        check_may_manage(ctx, actor, &after.role, &after.extra_permissions).await?;
    }
    let new_hash = match &patch.password {
        Some(password) => {
            check_strength("password", password)?;
            Some(ctx.hasher.hash(password).await?)
        }
        None => None,
    };
    let view = |u: &User| {
        json!({"email": u.email, "display_name": u.display_name, "role": u.role,
               "extra_permissions": u.extra_permissions, "active": u.active, "timezone": u.timezone})
    };
    let mut changes = audit::diff(&view(&before), &view(&after), &[]);
    if new_hash.is_some() {
        changes.push(FieldChange::new("password", None, Some(json!("(changed)"))));
    }
    if changes.is_empty() {
        return Ok(before);
    }
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("id", id)
        .bind("email", &after.email)
        .bind("display_name", &after.display_name)
        .bind("role", &after.role)
        .bind("extra", &after.extra_permissions)
        .bind("active", after.active)
        .bind("timezone", &after.timezone)
        .bind("now", db_time(now));
    tx.push(
        "UPDATE type::record('user', $id) SET email = $email, display_name = $display_name, role = $role,
            extra_permissions = $extra, active = $active, timezone = $timezone, updated_at = <datetime>$now",
    );
    if let Some(hash) = &new_hash {
        tx.bind("hash", hash);
        tx.push("UPDATE type::record('user', $id) SET password_hash = $hash, password_changed_at = <datetime>$now");
    }
    let loses_admin =
        before.role == ADMIN_ROLE && before.active && (after.role != ADMIN_ROLE || !after.active);
    if loses_admin {
        tx.push(KEEP_AN_ADMIN);
    }
    // A user whose password an admin reset loses every session, API key
    // and chat link; a deactivated one is signed out everywhere (keys and
    // links stay, acting as nobody, until they are back).
    tx.bind("keep", "");
    if new_hash.is_some() {
        end_credentials(&mut tx);
    } else if !after.active {
        tx.push("DELETE session WHERE user = $id");
    }
    audit::record(&mut tx, actor, "user", id, "update", &changes, now);
    tx.commit(&ctx.store).await.map_err(|e| match e {
        StoreError::Duplicate(_) => {
            DomainError::Conflict("a user with that email already exists".into())
        }
        other => other.into(),
    })?;
    ctx.credentials.forget_all();
    Ok(find_record(ctx, id)
        .await?
        .ok_or(DomainError::NotFound("user"))?
        .user)
}

pub async fn deactivate(ctx: &Ctx, actor: &Actor, id: &str) -> DomainResult<User> {
    update(
        ctx,
        actor,
        id,
        UserPatch {
            active: Some(false),
            ..Default::default()
        },
    )
    .await
}

/// Deletes a user with their sessions, API keys and chat links. Audit rows keep the
/// user's name, so history stays readable.
pub async fn delete(ctx: &Ctx, actor: &Actor, id: &str) -> DomainResult<()> {
    actor.require(Permission::UsersManage)?;
    let record = find_record(ctx, id)
        .await?
        .ok_or(DomainError::NotFound("user"))?;
    check_may_manage(
        ctx,
        actor,
        &record.user.role,
        &record.user.extra_permissions,
    )
    .await?;
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("id", id);
    tx.push("DELETE type::record('user', $id)");
    tx.push("DELETE session WHERE user = $id");
    tx.push("DELETE api_key WHERE user = $id");
    tx.push("DELETE chat_link WHERE user = $id");
    if record.user.role == ADMIN_ROLE && record.user.active {
        tx.push(KEEP_AN_ADMIN);
    }
    let changes = vec![FieldChange::new(
        "username",
        Some(json!(record.user.username)),
        None,
    )];
    audit::record(&mut tx, actor, "user", id, "delete", &changes, now);
    tx.commit(&ctx.store).await?;
    ctx.credentials.forget_all();
    Ok(())
}

/// The actor changes their own password: every other session of theirs
/// ends, their API keys are revoked and their chat links removed. Says how
/// many of each.
pub async fn change_password(
    ctx: &Ctx,
    actor: &Actor,
    current: &str,
    new: &str,
) -> DomainResult<EndedCredentials> {
    let record = find_record(ctx, &actor.user_id)
        .await?
        .ok_or(DomainError::Unauthenticated)?;
    // Wrong current passwords count like failed sign-ins, so a stolen
    // session cannot be used to guess the password behind it.
    let failures_key = actor.user_id.clone();
    let limits = &ctx.login_limits.password_change_failures;
    limits
        .check(&failures_key, ctx.now())
        .map_err(|secs| DomainError::RateLimited {
            retry_after_secs: secs,
        })?;
    if !ctx.hasher.verify(current, &record.password_hash).await? {
        let _ = limits.hit(&failures_key, ctx.now());
        return Err(DomainError::invalid(
            "current_password",
            "is not your current password",
        ));
    }
    limits.reset(&failures_key);
    check_strength("new_password", new)?;
    let hash = ctx.hasher.hash(new).await?;
    let now = ctx.now();
    let keep = match &actor.credential {
        super::actor::Credential::Session(key) => key.clone(),
        _ => String::new(),
    };
    let mut tx = Transaction::new();
    tx.bind("id", &actor.user_id)
        .bind("hash", hash)
        .bind("now", db_time(now))
        .bind("keep", keep);
    tx.push("UPDATE type::record('user', $id) SET password_hash = $hash, password_changed_at = <datetime>$now, updated_at = <datetime>$now");
    let ended = end_credentials(&mut tx);
    audit::record(
        &mut tx,
        actor,
        "user",
        &actor.user_id,
        "change_password",
        &[],
        now,
    );
    let results = tx.commit(&ctx.store).await?;
    ctx.credentials.forget_all();
    ended.count(&results)
}

/// For the operator locked out of the panel (`ea-crm admin reset-password`):
/// sets a new password, ends every session, API key and chat link of the
/// user, takes away their second factor (they may have lost the phone
/// too), and reactivates them.
pub async fn reset_password(
    ctx: &Ctx,
    username: &str,
    password: Option<String>,
) -> DomainResult<String> {
    let record = find_by_username(ctx, username)
        .await?
        .ok_or(DomainError::NotFound("user"))?;
    let password = password.unwrap_or_else(tokens::generate_password);
    check_strength("password", &password)?;
    let hash = ctx.hasher.hash(&password).await?;
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("id", &record.user.id)
        .bind("hash", hash)
        .bind("now", db_time(now))
        .bind("keep", "");
    tx.push("UPDATE type::record('user', $id) SET password_hash = $hash, password_changed_at = <datetime>$now, updated_at = <datetime>$now, active = true");
    end_credentials(&mut tx);
    super::second_factor::push_removal(&mut tx);
    audit::record(
        &mut tx,
        &Actor::system(),
        "user",
        &record.user.id,
        "reset_password",
        &[],
        now,
    );
    tx.commit(&ctx.store).await?;
    ctx.credentials.forget_all();
    Ok(password)
}

/// On first start (no user at all) creates the admin. Returns the password
/// when it was generated, so the caller can show it once.
pub async fn ensure_first_admin(
    ctx: &Ctx,
    username: &str,
    password: Option<&str>,
) -> DomainResult<Option<String>> {
    let count: Option<serde_json::Value> = ctx
        .store
        .run("SELECT count() FROM user GROUP ALL", json!({}))
        .await?
        .first(0)?;
    if count.and_then(|c| c["count"].as_u64()).unwrap_or(0) > 0 {
        return Ok(None);
    }
    let generated = password.is_none().then(tokens::generate_password);
    let password = password
        .map(str::to_string)
        .or_else(|| generated.clone())
        .unwrap_or_default();
    let username = parse_username(username)?;
    let input = NewUser {
        email: format!("{username}@localhost.localdomain"),
        username,
        display_name: Some("Administrator".into()),
        password,
        role: ADMIN_ROLE.into(),
        ..Default::default()
    };
    match insert(ctx, &Actor::system(), input).await {
        Ok(_) => Ok(generated),
        // Another instance created it in the meantime.
        Err(DomainError::Conflict(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lowercased_and_checked() {
        assert_eq!(parse_username(" Alice.B ").unwrap(), "alice.b");
        for bad in ["ab", "-alice", "al ice", "ålice", &"a".repeat(33)] {
            assert!(parse_username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails_are_lowercased_and_checked() {
        assert_eq!(parse_email("Bob@Example.COM").unwrap(), "bob@example.com");
        for bad in [
            "bob",
            "bob@",
            "@x.com",
            "bob@x",
            "bob@@x.com",
            "b ob@x.com",
            "bob@x.com.",
        ] {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timezones_must_be_iana_names() {
        assert_eq!(parse_timezone("Europe/Berlin").unwrap(), "Europe/Berlin");
        assert!(parse_timezone("Mars/Olympus").is_err());
    }
}
