//! Credentials on HTTP requests: a bearer token (session token or API key)
//! for the API, or the HttpOnly session cookie for the panel, which must
//! then carry the CSRF token on every write.

use std::sync::Arc;

use poem::http::Method;
use poem::{Request, RequestBody};
use poem_openapi::auth::{ApiKey, Bearer};
use poem_openapi::registry::Registry;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions, SecurityScheme};

use super::error::{ApiError, CsrfError};
use super::middleware::QuotaSlot;
use super::AppState;
use crate::domain::actor::{Actor, Channel};
use crate::domain::error::DomainError;
use crate::domain::sessions::SetupSessions;
use crate::domain::{maintenance, sessions, tokens};

pub const SESSION_COOKIE: &str = "ea_session";
pub const CSRF_COOKIE: &str = "ea_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A session token or an API key (`eak_…`) in `Authorization: Bearer`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", checker = "check_bearer")]
pub struct BearerAuth(Actor);

/// The panel's session cookie; writes must send `X-CSRF-Token`.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "ea_session",
    key_in = "cookie",
    checker = "check_cookie"
)]
pub struct CookieAuth(Actor);

/// Either credential; every `/api/v1` operation but login takes this.
///
/// Written out rather than derived: the derived enum reports the error of
/// the last scheme it tried, so a bearer token refused for its rate limit
/// would come back as "no cookie". Here a request with an `Authorization`
/// header is judged by it alone, and one without by its cookie.
pub enum Auth {
    Bearer(BearerAuth),
    Cookie(CookieAuth),
}

impl<'a> ApiExtractor<'a> for Auth {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        BearerAuth::register(registry);
        CookieAuth::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        let mut schemes = BearerAuth::security_schemes();
        schemes.extend(CookieAuth::security_schemes());
        schemes
    }

    async fn from_request(
        req: &'a Request,
        body: &mut RequestBody,
        param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        if req
            .headers()
            .contains_key(poem::http::header::AUTHORIZATION)
        {
            BearerAuth::from_request(req, body, param_opts)
                .await
                .map(Auth::Bearer)
        } else {
            CookieAuth::from_request(req, body, param_opts)
                .await
                .map(Auth::Cookie)
        }
    }
}

impl Auth {
    pub fn actor(&self) -> &Actor {
        match self {
            Auth::Bearer(BearerAuth(actor)) | Auth::Cookie(CookieAuth(actor)) => actor,
        }
    }
}

fn state(req: &Request) -> poem::Result<&Arc<AppState>> {
    req.data::<Arc<AppState>>()
        .ok_or_else(|| ApiError(DomainError::Internal("application state missing".into())).into())
}

/// The calls a session that must first set up a second factor may make:
/// who am I, sign out, and the setup itself.
fn setup_sessions(req: &Request) -> SetupSessions {
    let path = req.original_uri().path();
    let admitted = matches!(path, "/api/v1/auth/me" | "/api/v1/auth/logout")
        || path == "/api/v1/auth/2fa"
        || path.starts_with("/api/v1/auth/2fa/");
    if admitted {
        SetupSessions::Admit
    } else {
        SetupSessions::Refuse
    }
}

async fn check_bearer(req: &Request, bearer: Bearer) -> poem::Result<Actor> {
    let state = state(req)?;
    let actor =
        sessions::authenticate_bearer(&state.ctx, &bearer.token, Channel::Api, setup_sessions(req))
            .await
            .map_err(ApiError)?;
    maintenance::admit(&state.ctx, &actor).map_err(ApiError)?;
    limit_per_token(req, state, &actor)?;
    Ok(actor)
}

async fn check_cookie(req: &Request, cookie: ApiKey) -> poem::Result<Actor> {
    let state = state(req)?;
    let session =
        sessions::authenticate_session(&state.ctx, &cookie.key, Channel::Web, setup_sessions(req))
            .await
            .map_err(ApiError)?;
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        let sent = req.header(CSRF_HEADER).unwrap_or_default();
        if !tokens::constant_time_eq(sent, &session.csrf_token) {
            return Err(CsrfError.into());
        }
    }
    maintenance::admit(&state.ctx, &session.actor).map_err(ApiError)?;
    limit_per_token(req, state, &session.actor)?;
    Ok(session.actor)
}

/// Counts a request against its credential's limit.
fn limit_per_token(req: &Request, state: &AppState, actor: &Actor) -> poem::Result<()> {
    let Some(key) = actor.rate_limit_key() else {
        return Ok(());
    };
    let now = state.ctx.now();
    let counted = match req.extensions().get::<QuotaSlot>() {
        Some(slot) => slot.count(&state.token_limiter, &key, now),
        None => state.token_limiter.hit(&key, now),
    };
    counted.map_err(|secs| {
        ApiError(DomainError::RateLimited {
            retry_after_secs: secs,
        })
        .into()
    })
}
