//! `/maintenance`: closing the service to everyone but admins.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::ApiTags;
use crate::domain::maintenance::{self, Maintenance, MaintenanceInput};
use crate::http::auth::Auth;
use crate::http::error::ApiResult;
use crate::http::AppState;

pub struct MaintenanceApi;

/// The maintenance switch.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct MaintenanceView {
    /// On now (an end time that has passed turns it off by itself).
    enabled: bool,
    /// What everyone but admins is told.
    message: String,
    /// When it ends by itself.
    until: Option<DateTime<Utc>>,
    /// When it was turned on.
    since: Option<DateTime<Utc>>,
}

impl MaintenanceView {
    /// Whether it is on depends on the time asked, which the state does not hold.
    fn at(state: Maintenance, now: DateTime<Utc>) -> Self {
        MaintenanceView {
            enabled: state.active_at(now),
            message: state.message,
            until: state.until,
            since: state.since,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct MaintenanceChange {
    enabled: bool,
    /// Shown to everyone shut out (at most 500 characters).
    #[oai(validator(max_length = 2000))]
    message: Option<String>,
    /// Ends by itself at this time; `Retry-After` counts down to it.
    until: Option<DateTime<Utc>>,
}

impl From<MaintenanceChange> for MaintenanceInput {
    fn from(b: MaintenanceChange) -> Self {
        MaintenanceInput {
            enabled: b.enabled,
            message: b.message,
            until: b.until,
        }
    }
}

#[OpenApi(prefix_path = "/maintenance", tag = "ApiTags::Maintenance")]
impl MaintenanceApi {
    /// Whether the service is closed for maintenance.
    #[oai(path = "/", method = "get")]
    async fn get(
        &self,
        state: Data<&Arc<AppState>>,
        _auth: Auth,
    ) -> ApiResult<Json<MaintenanceView>> {
        let current = maintenance::get(&state.ctx).await?;
        Ok(Json(MaintenanceView::at(current, state.ctx.now())))
    }

    /// Turn maintenance mode on or off (admins only). While on, everyone
    /// else gets `503 maintenance` with the message and `Retry-After`,
    /// their sockets are told and closed (1012), and the bots answer with
    /// the message; it holds on every instance within a second.
    #[oai(path = "/", method = "put")]
    async fn put(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<MaintenanceChange>,
    ) -> ApiResult<Json<MaintenanceView>> {
        let current = maintenance::set(&state.ctx, auth.actor(), body.0.into()).await?;
        Ok(Json(MaintenanceView::at(current, state.ctx.now())))
    }
}
