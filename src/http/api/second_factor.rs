//! `/auth/2fa`: setting up, using and removing one's second factor, and an
//! admin's reset of someone else's.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::common::Done;
use super::ApiTags;
use crate::domain::second_factor::{self, Setup, Status};
use crate::http::auth::Auth;
use crate::http::error::ApiResult;
use crate::http::AppState;

pub struct SecondFactorApi;

/// Where the signed-in user stands with two-factor sign-in.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct SecondFactorView {
    /// Sign-ins need a code from the authenticator app.
    pub enabled: bool,
    pub enabled_at: Option<DateTime<Utc>>,
    /// The user's role requires it.
    pub required: bool,
    /// The role requires it and it is not set up: until it is, this
    /// session may only set it up.
    pub setup_required: bool,
    /// A setup was started and waits for its first code.
    pub setup_pending: bool,
    /// Recovery codes not used yet.
    pub recovery_codes_left: u32,
}

impl From<Status> for SecondFactorView {
    fn from(s: Status) -> Self {
        SecondFactorView {
            setup_required: s.required && !s.enabled,
            enabled: s.enabled,
            enabled_at: s.enabled_at,
            required: s.required,
            setup_pending: s.setup_pending,
            recovery_codes_left: s.recovery_codes_left as u32,
        }
    }
}

/// What to give the authenticator app.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct SetupView {
    /// The shared secret, base32, for typing into the app.
    secret: String,
    /// `otpauth://totp/…`: the same secret as a link or QR code.
    otpauth_uri: String,
}

impl From<Setup> for SetupView {
    fn from(s: Setup) -> Self {
        SetupView {
            secret: s.secret,
            otpauth_uri: s.uri,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct CodeInput {
    /// The 6-digit code the app shows now.
    #[oai(validator(max_length = 64))]
    code: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct DisableInput {
    /// The account's password.
    #[oai(validator(max_length = 1024))]
    password: String,
    /// A code from the app, or a recovery code.
    #[oai(validator(max_length = 64))]
    code: String,
}

/// One-time recovery codes, shown this once: each signs in once in place
/// of an app code.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct RecoveryCodes {
    recovery_codes: Vec<String>,
}

#[OpenApi(prefix_path = "/auth/2fa", tag = "ApiTags::Auth")]
impl SecondFactorApi {
    /// Where the signed-in user stands with two-factor sign-in.
    #[oai(path = "/", method = "get")]
    async fn status(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
    ) -> ApiResult<Json<SecondFactorView>> {
        Ok(Json(
            second_factor::status(&state.ctx, auth.actor())
                .await?
                .into(),
        ))
    }

    /// Start setting up an authenticator app (a session, not an API key):
    /// returns the secret to enter or scan. Nothing changes until
    /// `/auth/2fa/confirm` gets a code from it.
    #[oai(path = "/setup", method = "post")]
    async fn setup(&self, state: Data<&Arc<AppState>>, auth: Auth) -> ApiResult<Json<SetupView>> {
        Ok(Json(
            second_factor::begin_setup(&state.ctx, auth.actor())
                .await?
                .into(),
        ))
    }

    /// Finish the setup with the app's current code: sign-ins need a code
    /// from now on, the user's other sessions end, and ten recovery codes
    /// are returned, once.
    #[oai(path = "/confirm", method = "post")]
    async fn confirm(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<CodeInput>,
    ) -> ApiResult<Json<RecoveryCodes>> {
        let recovery_codes =
            second_factor::confirm_setup(&state.ctx, auth.actor(), &body.code).await?;
        Ok(Json(RecoveryCodes { recovery_codes }))
    }

    /// Replace the recovery codes (an app code proves the phone is at hand);
    /// the old ones stop working.
    #[oai(path = "/recovery-codes", method = "post")]
    async fn recovery_codes(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<CodeInput>,
    ) -> ApiResult<Json<RecoveryCodes>> {
        let recovery_codes =
            second_factor::renew_recovery_codes(&state.ctx, auth.actor(), &body.code).await?;
        Ok(Json(RecoveryCodes { recovery_codes }))
    }

    /// Turn two-factor sign-in off, with the password and a code; refused
    /// while the role requires it.
    #[oai(path = "/disable", method = "post")]
    async fn disable(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<DisableInput>,
    ) -> ApiResult<Json<Done>> {
        second_factor::disable(&state.ctx, auth.actor(), &body.password, &body.code).await?;
        Ok(Json(Done { ok: true }))
    }
}
