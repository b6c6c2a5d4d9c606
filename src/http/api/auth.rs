//! `/auth`: login (with a second factor where set up), logout, me,
//! password change.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::cookie::{Cookie, SameSite};
use poem::web::Data;
use poem::Request;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::common::Done;
use super::second_factor::SecondFactorView;
use super::users::UserView;
use super::ApiTags;
use crate::domain::actor::Credential;
use crate::domain::{second_factor, sessions, users};
use crate::http::auth::{Auth, CSRF_COOKIE, SESSION_COOKIE};
use crate::http::error::ApiResult;
use crate::http::{client_info, AppState};

pub struct AuthApi;

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ProfileUpdate {
    display_name: Option<String>,
    email: Option<String>,
    /// An IANA zone, e.g. `Europe/Berlin`.
    timezone: Option<String>,
}

impl From<ProfileUpdate> for users::ProfilePatch {
    fn from(b: ProfileUpdate) -> Self {
        users::ProfilePatch {
            display_name: b.display_name,
            email: b.email,
            timezone: b.timezone,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct SessionView {
    /// A handle for ending this session (not its token).
    id: String,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    ip: Option<String>,
    user_agent: Option<String>,
    /// The session this request came with.
    current: bool,
}

impl From<sessions::SessionInfo> for SessionView {
    fn from(s: sessions::SessionInfo) -> Self {
        SessionView {
            id: s.id,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
            ip: s.ip,
            user_agent: s.user_agent,
            current: s.current,
        }
    }
}

#[derive(Object)]
struct SessionsEnded {
    sessions_ended: u64,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct LoginRequest {
    username: String,
    password: String,
    /// Sign in for a browser: the session travels only in an HttpOnly
    /// cookie (with a CSRF cookie beside it) and the answer carries no
    /// token, so no script on the page ever holds it. Without it the answer
    /// carries the token for `Authorization: Bearer` and sets no cookie.
    #[oai(default)]
    cookie: bool,
    /// For an account with two-factor sign-in: the 6-digit code from the
    /// authenticator app, or one of the recovery codes. Without it such an
    /// account is answered `401 second_factor_required`.
    #[oai(validator(max_length = 64))]
    code: Option<String>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct LoginResponse {
    /// Session token for `Authorization: Bearer`; absent when the sign-in
    /// asked for a cookie.
    #[oai(skip_serializing_if_is_none)]
    token: Option<String>,
    /// Send as `X-CSRF-Token` on writes authenticated by the cookie.
    csrf_token: String,
    expires_at: DateTime<Utc>,
    user: UserView,
    /// The role requires a second factor this user has not set up: the
    /// session may only set it up (`/auth/2fa/setup`) until then.
    second_factor_setup_required: bool,
}

/// Named constructors, not `From`: whether the token is in the answer
/// depends on how the client signed in, not on the session.
impl LoginResponse {
    /// A bearer sign-in: the token is the answer.
    fn bearer(s: sessions::NewSession) -> Self {
        LoginResponse {
            token: Some(s.token),
            csrf_token: s.csrf_token,
            expires_at: s.expires_at,
            user: s.user.into(),
            second_factor_setup_required: s.second_factor_setup_required,
        }
    }

    /// A cookie sign-in: the token travels only in the HttpOnly cookie.
    fn cookie(s: sessions::NewSession) -> Self {
        LoginResponse {
            token: None,
            ..Self::bearer(s)
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct Me {
    user: UserView,
    permissions: Vec<String>,
    /// Present when the request was authenticated by the session cookie.
    csrf_token: Option<String>,
    second_factor: SecondFactorView,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// A password changed, and what the old one could have handed out that is
/// now gone.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct PasswordChanged {
    ok: bool,
    /// Your other sessions, signed out (this one stays).
    sessions_ended: u64,
    /// Your API keys, revoked: make new ones where you need them.
    api_keys_revoked: u64,
    /// Your linked Telegram and Discord accounts, unlinked: link again
    /// with a new code.
    chat_links_removed: u64,
}

impl From<users::EndedCredentials> for PasswordChanged {
    fn from(e: users::EndedCredentials) -> Self {
        PasswordChanged {
            ok: true,
            sessions_ended: e.sessions as u64,
            api_keys_revoked: e.api_keys as u64,
            chat_links_removed: e.chat_links as u64,
        }
    }
}

#[OpenApi(prefix_path = "/auth", tag = "ApiTags::Auth")]
impl AuthApi {
    /// Sign in. Returns a session token and sets the HttpOnly session cookie.
    #[oai(path = "/login", method = "post")]
    async fn login(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<LoginRequest>,
    ) -> ApiResult<Json<LoginResponse>> {
        let sign_in = sessions::SignIn {
            username: &body.username,
            password: &body.password,
            code: body.code.as_deref(),
        };
        let session =
            sessions::login(&state.ctx, sign_in, &client_info(req, &state.config)).await?;
        if !body.cookie {
            return Ok(Json(LoginResponse::bearer(session)));
        }
        let max_age = (session.expires_at - state.ctx.now())
            .to_std()
            .unwrap_or_default();
        let mut cookie = Cookie::new_with_str(SESSION_COOKIE, &session.token);
        cookie.set_http_only(true);
        cookie.set_same_site(SameSite::Lax);
        cookie.set_path("/");
        cookie.set_secure(state.config.secure_cookies());
        cookie.set_max_age(max_age);
        req.cookie().add(cookie);
        let mut csrf = Cookie::new_with_str(CSRF_COOKIE, &session.csrf_token);
        csrf.set_same_site(SameSite::Lax);
        csrf.set_path("/");
        csrf.set_secure(state.config.secure_cookies());
        csrf.set_max_age(max_age);
        req.cookie().add(csrf);
        Ok(Json(LoginResponse::cookie(session)))
    }

    /// Sign out: ends this session and clears the cookies.
    #[oai(path = "/logout", method = "post")]
    async fn logout(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        auth: Auth,
    ) -> ApiResult<Json<Done>> {
        sessions::logout(&state.ctx, auth.actor()).await?;
        for name in [SESSION_COOKIE, CSRF_COOKIE] {
            let mut gone = Cookie::new_with_str(name, "");
            gone.set_path("/");
            gone.set_max_age(std::time::Duration::ZERO);
            req.cookie().add(gone);
        }
        Ok(Json(Done { ok: true }))
    }

    /// The signed-in user and the permissions in force for this credential.
    #[oai(path = "/me", method = "get")]
    async fn me(&self, state: Data<&Arc<AppState>>, auth: Auth) -> ApiResult<Json<Me>> {
        let actor = auth.actor();
        let user = users::get(&state.ctx, actor, &actor.user_id).await?;
        let csrf_token = match (&auth, &actor.credential) {
            (Auth::Cookie(_), Credential::Session(_)) => {
                sessions::csrf_token_of(&state.ctx, actor).await?
            }
            _ => None,
        };
        Ok(Json(Me {
            user: user.into(),
            permissions: actor
                .permissions
                .iter()
                .map(|p| p.key().to_string())
                .collect(),
            csrf_token,
            second_factor: second_factor::status(&state.ctx, actor).await?.into(),
        }))
    }

    /// Change one's own display name, email or timezone (the timezone
    /// drives due views, reminders and the digest).
    #[oai(path = "/me", method = "patch")]
    async fn update_me(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<ProfileUpdate>,
    ) -> ApiResult<Json<UserView>> {
        Ok(Json(
            users::update_profile(&state.ctx, auth.actor(), body.0.into())
                .await?
                .into(),
        ))
    }

    /// One's own open sessions, most recently used first; `current` marks
    /// the one this request came with.
    #[oai(path = "/sessions", method = "get")]
    async fn sessions(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
    ) -> ApiResult<Json<Vec<SessionView>>> {
        Ok(Json(
            sessions::list_own(&state.ctx, auth.actor())
                .await?
                .into_iter()
                .map(Into::into)
                .collect(),
        ))
    }

    /// Sign out everywhere else: ends every session of one's own but this
    /// one.
    #[oai(path = "/sessions/others", method = "delete")]
    async fn end_other_sessions(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
    ) -> ApiResult<Json<SessionsEnded>> {
        let ended = sessions::end_others(&state.ctx, auth.actor()).await?;
        Ok(Json(SessionsEnded {
            sessions_ended: ended as u64,
        }))
    }

    /// End one of one's own sessions (by the `id` from the list).
    #[oai(path = "/sessions/:id", method = "delete")]
    async fn end_session(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: poem_openapi::param::Path<String>,
    ) -> ApiResult<Json<Done>> {
        sessions::end_own(&state.ctx, auth.actor(), &id.0).await?;
        Ok(Json(Done { ok: true }))
    }

    /// Change one's own password: every other session of the user ends,
    /// their API keys are revoked and their chat accounts unlinked.
    #[oai(path = "/password", method = "post")]
    async fn change_password(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<PasswordChange>,
    ) -> ApiResult<Json<PasswordChanged>> {
        let ended = users::change_password(
            &state.ctx,
            auth.actor(),
            &body.current_password,
            &body.new_password,
        )
        .await?;
        Ok(Json(ended.into()))
    }
}
