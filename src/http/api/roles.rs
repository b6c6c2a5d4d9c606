//! `/roles`: built-in and custom roles and the permission matrix.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::common::Deleted;
use super::permissions::PermissionView;
use super::ApiTags;
use crate::domain::roles::{self, NewRole, Role, RolePatch};
use crate::http::auth::Auth;
use crate::http::error::ApiResult;
use crate::http::AppState;

pub struct RolesApi;

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct RoleView {
    /// Stable key, e.g. `lead_generator`.
    id: String,
    name: String,
    description: String,
    /// The permissions in force (for Admin: all of them).
    permissions: Vec<String>,
    built_in: bool,
    /// Holders must sign in with a second factor (TOTP).
    require_second_factor: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Role> for RoleView {
    fn from(r: Role) -> Self {
        RoleView {
            permissions: r
                .effective_permissions()
                .iter()
                .map(|p| p.key().to_string())
                .collect(),
            id: r.id,
            name: r.name,
            description: r.description,
            built_in: r.built_in,
            require_second_factor: r.require_second_factor,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct CreateRole {
    key: String,
    name: String,
    #[oai(default)]
    description: String,
    #[oai(default)]
    permissions: Vec<String>,
}

impl From<CreateRole> for NewRole {
    fn from(b: CreateRole) -> Self {
        NewRole {
            key: b.key,
            name: b.name,
            description: b.description,
            permissions: b.permissions,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct UpdateRole {
    name: Option<String>,
    description: Option<String>,
    permissions: Option<Vec<String>>,
    /// Require holders to sign in with a second factor; those without one
    /// set it up at their next request before anything else. Only admins
    /// change it for the Admin role.
    require_second_factor: Option<bool>,
}

impl From<UpdateRole> for RolePatch {
    fn from(b: UpdateRole) -> Self {
        RolePatch {
            name: b.name,
            description: b.description,
            permissions: b.permissions,
            require_second_factor: b.require_second_factor,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct MatrixRowView {
    role: String,
    name: String,
    /// Whether the permissions can be changed (not for Admin).
    editable: bool,
    permissions: Vec<String>,
    /// Holders must sign in with a second factor.
    require_second_factor: bool,
}

impl From<roles::MatrixRow> for MatrixRowView {
    fn from(r: roles::MatrixRow) -> Self {
        MatrixRowView {
            role: r.role,
            name: r.name,
            editable: r.editable,
            permissions: r.permissions,
            require_second_factor: r.require_second_factor,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct MatrixView {
    permissions: Vec<PermissionView>,
    roles: Vec<MatrixRowView>,
}

impl From<roles::Matrix> for MatrixView {
    fn from(m: roles::Matrix) -> Self {
        MatrixView {
            permissions: m.permissions.into_iter().map(Into::into).collect(),
            roles: m.roles.into_iter().map(Into::into).collect(),
        }
    }
}

#[OpenApi(prefix_path = "/roles", tag = "ApiTags::Roles")]
impl RolesApi {
    /// Every role.
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
    ) -> ApiResult<Json<Vec<RoleView>>> {
        Ok(Json(
            roles::list(&state.ctx, auth.actor())
                .await?
                .into_iter()
                .map(Into::into)
                .collect(),
        ))
    }

    /// Create a custom role (`roles.manage`).
    #[oai(path = "/", method = "post")]
    async fn create(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<CreateRole>,
    ) -> ApiResult<Json<RoleView>> {
        Ok(Json(
            roles::create(&state.ctx, auth.actor(), body.0.into())
                .await?
                .into(),
        ))
    }

    /// The permission matrix: every permission and which roles hold it.
    #[oai(path = "/matrix", method = "get")]
    async fn matrix(&self, state: Data<&Arc<AppState>>, auth: Auth) -> ApiResult<Json<MatrixView>> {
        let m = roles::matrix(&state.ctx, auth.actor()).await?;
        Ok(Json(m.into()))
    }

    /// One role.
    #[oai(path = "/:key", method = "get")]
    async fn get(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        key: Path<String>,
    ) -> ApiResult<Json<RoleView>> {
        Ok(Json(
            roles::get(&state.ctx, auth.actor(), &key.0).await?.into(),
        ))
    }

    /// Rename a role or set its permissions (`roles.manage`); takes effect
    /// on every holder's next request.
    #[oai(path = "/:key", method = "patch")]
    async fn update(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        key: Path<String>,
        body: Json<UpdateRole>,
    ) -> ApiResult<Json<RoleView>> {
        Ok(Json(
            roles::update(&state.ctx, auth.actor(), &key.0, body.0.into())
                .await?
                .into(),
        ))
    }

    /// Delete a custom role that no user holds.
    #[oai(path = "/:key", method = "delete")]
    async fn delete(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        key: Path<String>,
    ) -> ApiResult<Json<Deleted>> {
        roles::delete(&state.ctx, auth.actor(), &key.0).await?;
        Ok(Json(Deleted { deleted: true }))
    }
}
