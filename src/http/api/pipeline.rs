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

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct UpdateStatus {
    name: Option<String>,
    position: Option<i64>,
    is_won: Option<bool>,
    is_lost: Option<bool>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AfterThirdView {
    enabled: bool,
    /// The status a lead moves to after the third follow-up without a reply.
    status: String,
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

#[derive(Enum, Clone, Copy)]
#[oai(rename_all = "snake_case")]
enum ModeView {
    Manual,
    RoundRobin,
    Territory,
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
            mode: match r.mode {
                AssignmentMode::Manual => ModeView::Manual,
                AssignmentMode::RoundRobin => ModeView::RoundRobin,
                AssignmentMode::Territory => ModeView::Territory,
            },
            role: r.role,
            territories: r.territories,
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
        let b = body.0;
        let input = StatusInput {
            key: Some(b.key),
            name: b.name,
            position: b.position,
            is_won: b.is_won,
            is_lost: b.is_lost,
        };
        Ok(Json(
            pipeline::create(&state.ctx, auth.actor(), input)
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
        let b = body.0;
        let input = StatusInput {
            key: None,
            name: b.name,
            position: b.position,
            is_won: b.is_won,
            is_lost: b.is_lost,
        };
        Ok(Json(
            pipeline::update(&state.ctx, auth.actor(), &key.0, input)
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
        let r = settings::after_third_rule(&state.ctx).await?;
        Ok(Json(AfterThirdView {
            enabled: r.enabled,
            status: r.status,
        }))
    }

    /// Change the after-third rule (`settings.manage`).
    #[oai(path = "/settings/after-third-follow-up", method = "put")]
    async fn set_after_third(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<AfterThirdView>,
    ) -> ApiResult<Json<AfterThirdView>> {
        let rule = AfterThirdRule {
            enabled: body.enabled,
            status: body.0.status,
        };
        let r = settings::set_after_third_rule(&state.ctx, auth.actor(), rule).await?;
        Ok(Json(AfterThirdView {
            enabled: r.enabled,
            status: r.status,
        }))
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
        let rule = TrashRetention {
            trash_retention_days: body.0.trash_retention_days,
        };
        Ok(Json(
            settings::set_trash_retention(&state.ctx, auth.actor(), rule)
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
        let b = body.0;
        let rule = AssignmentRule {
            mode: match b.mode {
                ModeView::Manual => AssignmentMode::Manual,
                ModeView::RoundRobin => AssignmentMode::RoundRobin,
                ModeView::Territory => AssignmentMode::Territory,
            },
            role: b.role,
            territories: b.territories,
        };
        Ok(Json(
            settings::set_assignment_rule(&state.ctx, auth.actor(), rule)
                .await?
                .into(),
        ))
    }
}
