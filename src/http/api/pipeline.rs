//! `/pipeline/statuses` and the CRM settings (`/settings/...`).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};

use super::common::Deleted;
use super::ApiTags;
use crate::domain::crm::pipeline::{self, PipelineStatus, StatusInput};
use crate::domain::crm::settings::{
    self, AfterThirdRule, AssignmentMode, AssignmentRule, TrashRetention,
};
use crate::http::auth::Auth;
use crate::http::error::ApiResult;
use crate::http::AppState;

pub struct PipelineApi;

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct StatusView {
    /// Stable key stored on leads.
    id: String,
    name: String,
    position: i64,
    is_won: bool,
    is_lost: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<PipelineStatus> for StatusView {
    fn from(s: PipelineStatus) -> Self {
        StatusView {
            id: s.id,
            name: s.name,
            position: s.position,
            is_won: s.is_won,
            is_lost: s.is_lost,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct CreateStatus {
    key: String,
    name: Option<String>,
    position: Option<i64>,
    is_won: Option<bool>,
    is_lost: Option<bool>,
}

impl From<CreateStatus> for StatusInput {
    fn from(b: CreateStatus) -> Self {
        StatusInput {
            key: Some(b.key),
            name: b.name,
            position: b.position,
            is_won: b.is_won,
            is_lost: b.is_lost,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct UpdateStatus {
    name: Option<String>,
    position: Option<i64>,
    is_won: Option<bool>,
    is_lost: Option<bool>,
}

impl From<UpdateStatus> for StatusInput {
    fn from(b: UpdateStatus) -> Self {
        StatusInput {
            key: None,
            name: b.name,
            position: b.position,
            is_won: b.is_won,
            is_lost: b.is_lost,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AfterThirdView {
    enabled: bool,
    /// The status a lead moves to after the third follow-up without a reply.
    status: String,
}

impl From<AfterThirdRule> for AfterThirdView {
    fn from(r: AfterThirdRule) -> Self {
        AfterThirdView {
            enabled: r.enabled,
            status: r.status,
        }
    }
}

impl From<AfterThirdView> for AfterThirdRule {
    fn from(b: AfterThirdView) -> Self {
        AfterThirdRule {
            enabled: b.enabled,
            status: b.status,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct TrashRetentionView {
    /// Days a lead stays in the trash before it is deleted for good
    /// (1–3650); absent or `null`: kept until someone empties the trash.
    trash_retention_days: Option<u32>,
}

impl From<TrashRetention> for TrashRetentionView {
    fn from(r: TrashRetention) -> Self {
        TrashRetentionView {
            trash_retention_days: r.trash_retention_days,
        }
    }
}

impl From<TrashRetentionView> for TrashRetention {
    fn from(b: TrashRetentionView) -> Self {
        TrashRetention {
            trash_retention_days: b.trash_retention_days,
        }
    }
}

#[derive(Enum, Clone, Copy)]
#[oai(rename_all = "snake_case")]
enum ModeView {
    Manual,
    RoundRobin,
    Territory,
}

impl From<AssignmentMode> for ModeView {
    fn from(m: AssignmentMode) -> Self {
        match m {
            AssignmentMode::Manual => ModeView::Manual,
            AssignmentMode::RoundRobin => ModeView::RoundRobin,
            AssignmentMode::Territory => ModeView::Territory,
        }
    }
}

impl From<ModeView> for AssignmentMode {
    fn from(m: ModeView) -> Self {
        match m {
            ModeView::Manual => AssignmentMode::Manual,
            ModeView::RoundRobin => AssignmentMode::RoundRobin,
            ModeView::Territory => AssignmentMode::Territory,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AssignmentView {
    mode: ModeView,
    /// Round robin: the role whose active users take turns.
    role: Option<String>,
    /// Territory: country code -> user id.
    #[oai(default)]
    territories: BTreeMap<String, String>,
}

impl From<AssignmentRule> for AssignmentView {
    fn from(r: AssignmentRule) -> Self {
        AssignmentView {
            mode: r.mode.into(),
            role: r.role,
            territories: r.territories,
        }
    }
}

impl From<AssignmentView> for AssignmentRule {
    fn from(b: AssignmentView) -> Self {
        AssignmentRule {
            mode: b.mode.into(),
            role: b.role,
            territories: b.territories,
        }
    }
}

#[OpenApi(tag = "ApiTags::Pipeline")]
impl PipelineApi {
    /// The pipeline, in order.
    #[oai(path = "/pipeline/statuses", method = "get")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
    ) -> ApiResult<Json<Vec<StatusView>>> {
        Ok(Json(
            pipeline::list(&state.ctx, auth.actor())
                .await?
                .into_iter()
                .map(Into::into)
                .collect(),
        ))
    }

    /// Add a status (`settings.manage`).
    #[oai(path = "/pipeline/statuses", method = "post")]
    async fn create(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<CreateStatus>,
    ) -> ApiResult<Json<StatusView>> {
        Ok(Json(
            pipeline::create(&state.ctx, auth.actor(), body.0.into())
                .await?
                .into(),
        ))
    }

    /// Rename, reorder or flag a status.
    #[oai(path = "/pipeline/statuses/:key", method = "patch")]
    async fn update(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        key: Path<String>,
        body: Json<UpdateStatus>,
    ) -> ApiResult<Json<StatusView>> {
        Ok(Json(
            pipeline::update(&state.ctx, auth.actor(), &key.0, body.0.into())
                .await?
                .into(),
        ))
    }

    /// Delete a status no lead has.
    #[oai(path = "/pipeline/statuses/:key", method = "delete")]
    async fn delete(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        key: Path<String>,
    ) -> ApiResult<Json<Deleted>> {
        pipeline::delete(&state.ctx, auth.actor(), &key.0).await?;
        Ok(Json(Deleted { deleted: true }))
    }

    /// What happens after the third follow-up without a reply.
    #[oai(path = "/settings/after-third-follow-up", method = "get")]
    async fn after_third(
        &self,
        state: Data<&Arc<AppState>>,
        _auth: Auth,
    ) -> ApiResult<Json<AfterThirdView>> {
        Ok(Json(settings::after_third_rule(&state.ctx).await?.into()))
    }

    /// Change the after-third rule (`settings.manage`).
    #[oai(path = "/settings/after-third-follow-up", method = "put")]
    async fn set_after_third(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<AfterThirdView>,
    ) -> ApiResult<Json<AfterThirdView>> {
        Ok(Json(
            settings::set_after_third_rule(&state.ctx, auth.actor(), body.0.into())
                .await?
                .into(),
        ))
    }

    /// How long the trash keeps a lead.
    #[oai(path = "/settings/trash-retention", method = "get")]
    async fn trash_retention(
        &self,
        state: Data<&Arc<AppState>>,
        _auth: Auth,
    ) -> ApiResult<Json<TrashRetentionView>> {
        Ok(Json(settings::trash_retention(&state.ctx).await?.into()))
    }

    /// Change the trash retention (`settings.manage`); leads trashed longer
    /// ago are deleted for good by an hourly round.
    #[oai(path = "/settings/trash-retention", method = "put")]
    async fn set_trash_retention(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<TrashRetentionView>,
    ) -> ApiResult<Json<TrashRetentionView>> {
        Ok(Json(
            settings::set_trash_retention(&state.ctx, auth.actor(), body.0.into())
                .await?
                .into(),
        ))
    }

    /// How new leads without an owner are assigned.
    #[oai(path = "/settings/lead-assignment", method = "get")]
    async fn assignment(
        &self,
        state: Data<&Arc<AppState>>,
        _auth: Auth,
    ) -> ApiResult<Json<AssignmentView>> {
        Ok(Json(settings::assignment_rule(&state.ctx).await?.into()))
    }

    /// Change the assignment rule (`settings.manage`).
    #[oai(path = "/settings/lead-assignment", method = "put")]
    async fn set_assignment(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<AssignmentView>,
    ) -> ApiResult<Json<AssignmentView>> {
        Ok(Json(
            settings::set_assignment_rule(&state.ctx, auth.actor(), body.0.into())
                .await?
                .into(),
        ))
    }
}
