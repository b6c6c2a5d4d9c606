//! `/features`: the switches of the service's optional parts.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::ApiTags;
use crate::domain::features::{self, Feature, Switch};
use crate::http::auth::Auth;
use crate::http::error::ApiResult;
use crate::http::AppState;

pub struct FeaturesApi;

/// One optional part and its switch.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct FeatureView {
    /// chat, telegram, discord, webhooks, import, lead_scoring, intent,
    /// dedup, drafting, relationship_map or patterns.
    key: String,
    /// What people call it.
    name: String,
    enabled: bool,
    /// Whether `ai.manage` may switch it (`settings.manage` may switch all).
    ai: bool,
    /// When it was last switched; absent if never.
    updated_at: Option<DateTime<Utc>>,
    /// Who switched it last (user id), and their username.
    updated_by: Option<String>,
    updated_by_name: Option<String>,
}

impl From<Switch> for FeatureView {
    fn from(s: Switch) -> Self {
        FeatureView {
            key: s.feature.key().to_string(),
            name: s.feature.name().to_string(),
            enabled: s.enabled,
            ai: s.feature.is_ai(),
            updated_at: s.updated_at,
            updated_by: s.updated_by,
            updated_by_name: s.updated_by_name,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct FeatureChange {
    enabled: bool,
}

#[OpenApi(prefix_path = "/features", tag = "ApiTags::Features")]
impl FeaturesApi {
    /// Every optional part with its switch (anyone signed in: the panel
    /// hides what is off).
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        _auth: Auth,
    ) -> ApiResult<Json<Vec<FeatureView>>> {
        let all = features::list(&state.ctx).await?;
        Ok(Json(all.into_iter().map(Into::into).collect()))
    }

    /// Switches one part on or off (`settings.manage`; the AI features
    /// also `ai.manage`). While off, the part answers `409
    /// feature_disabled` and its background work pauses; it holds on every
    /// instance within a second.
    #[oai(path = "/:key", method = "put")]
    async fn set(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        key: Path<String>,
        body: Json<FeatureChange>,
    ) -> ApiResult<Json<FeatureView>> {
        let feature: Feature = key.0.parse()?;
        let switched = features::set(&state.ctx, auth.actor(), feature, body.0.enabled).await?;
        Ok(Json(switched.into()))
    }
}
