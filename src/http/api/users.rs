//! `/users`: accounts, their roles and extra permissions.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::common::{Deleted, Done};
use super::ApiTags;
use crate::domain::second_factor;
use crate::domain::users::{self, NewUser, User, UserPatch};
use crate::http::auth::Auth;
use crate::http::error::ApiResult;
use crate::http::AppState;

pub struct UsersApi;

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub extra_permissions: Vec<String>,
    pub active: bool,
    pub timezone: String,
    /// Signs in with a second factor (an authenticator app).
    pub second_factor: bool,
    /// The last sign-in with a password; absent if there never was one.
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        UserView {
            id: u.id,
            username: u.username,
            email: u.email,
            display_name: u.display_name,
            role: u.role,
            second_factor: u.second_factor,
            last_login_at: u.last_login_at,
            extra_permissions: u.extra_permissions,
            active: u.active,
            timezone: u.timezone,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct CreateUser {
    username: String,
    email: String,
    display_name: Option<String>,
    password: String,
    role: String,
    #[oai(default)]
    extra_permissions: Vec<String>,
    timezone: Option<String>,
}

impl From<CreateUser> for NewUser {
    fn from(b: CreateUser) -> Self {
        NewUser {
            username: b.username,
            email: b.email,
            display_name: b.display_name,
            password: b.password,
            role: b.role,
            extra_permissions: b.extra_permissions,
            timezone: b.timezone,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct UpdateUser {
    email: Option<String>,
    display_name: Option<String>,
    role: Option<String>,
    extra_permissions: Option<Vec<String>>,
    active: Option<bool>,
    timezone: Option<String>,
    /// Set a new password for the user; their sessions end.
    password: Option<String>,
}

impl From<UpdateUser> for UserPatch {
    fn from(b: UpdateUser) -> Self {
        UserPatch {
            email: b.email,
            display_name: b.display_name,
            role: b.role,
            extra_permissions: b.extra_permissions,
            active: b.active,
            timezone: b.timezone,
            password: b.password,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct UserPage {
    items: Vec<UserView>,
    /// Pass as `after` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

#[OpenApi(prefix_path = "/users", tag = "ApiTags::Users")]
impl UsersApi {
    /// List users by username, a page at a time.
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        /// The `next_cursor` of the previous page.
        after: Query<Option<String>>,
        /// Page size, 1 to 200 (default 50).
        limit: Query<Option<u32>>,
        /// Only users whose username, display name or email contains this
        /// (any case).
        q: Query<Option<String>>,
    ) -> ApiResult<Json<UserPage>> {
        let limit = limit.0.unwrap_or(50) as usize;
        let page = users::list(
            &state.ctx,
            auth.actor(),
            after.0.as_deref(),
            q.0.as_deref(),
            limit,
        )
        .await?;
        Ok(Json(UserPage {
            items: page.items.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
        }))
    }

    /// Create a user (`users.manage`).
    #[oai(path = "/", method = "post")]
    async fn create(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<CreateUser>,
    ) -> ApiResult<Json<UserView>> {
        Ok(Json(
            users::create(&state.ctx, auth.actor(), body.0.into())
                .await?
                .into(),
        ))
    }

    /// One user.
    #[oai(path = "/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Json<UserView>> {
        Ok(Json(
            users::get(&state.ctx, auth.actor(), &id.0).await?.into(),
        ))
    }

    /// Change a user (`users.manage`); the last active admin cannot be
    /// demoted or deactivated.
    #[oai(path = "/:id", method = "patch")]
    async fn update(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        body: Json<UpdateUser>,
    ) -> ApiResult<Json<UserView>> {
        Ok(Json(
            users::update(&state.ctx, auth.actor(), &id.0, body.0.into())
                .await?
                .into(),
        ))
    }

    /// Deactivate a user: they can no longer sign in and their sessions end.
    #[oai(path = "/:id/deactivate", method = "post")]
    async fn deactivate(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Json<UserView>> {
        Ok(Json(
            users::deactivate(&state.ctx, auth.actor(), &id.0)
                .await?
                .into(),
        ))
    }

    /// Take away a user's second factor (a lost phone): their sessions end;
    /// if their role requires one they set up a new one at their next
    /// sign-in. `users.manage`; only admins reset admins.
    #[oai(path = "/:id/2fa", method = "delete")]
    async fn reset_second_factor(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Json<Done>> {
        second_factor::reset(&state.ctx, auth.actor(), &id.0).await?;
        Ok(Json(Done { ok: true }))
    }

    /// Delete a user with their sessions and API keys.
    #[oai(path = "/:id", method = "delete")]
    async fn delete(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Json<Deleted>> {
        users::delete(&state.ctx, auth.actor(), &id.0).await?;
        Ok(Json(Deleted { deleted: true }))
    }
}
