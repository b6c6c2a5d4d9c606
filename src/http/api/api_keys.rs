//! `/api-keys`: keys for integrators, shown once.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::ApiTags;
use crate::domain::api_keys::{self, ApiKey, KeyListing, NewApiKey};
use crate::domain::cursor::Page;
use crate::http::auth::Auth;
use crate::http::error::ApiResult;
use crate::http::AppState;

pub struct ApiKeysApi;

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ApiKeyView {
    id: String,
    user: String,
    name: String,
    /// The key's first characters, to tell keys apart.
    prefix: String,
    /// Absent: all of the owner's permissions.
    permissions: Option<Vec<String>>,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKey> for ApiKeyView {
    fn from(k: ApiKey) -> Self {
        ApiKeyView {
            id: k.id,
            user: k.user,
            name: k.name,
            prefix: k.prefix,
            permissions: k.permissions,
            created_at: k.created_at,
            expires_at: k.expires_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// A page of API keys.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ApiKeyPageView {
    /// Newest first.
    items: Vec<ApiKeyView>,
    /// Pass as `after` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

impl From<Page<ApiKey>> for ApiKeyPageView {
    fn from(p: Page<ApiKey>) -> Self {
        ApiKeyPageView {
            items: p.items.into_iter().map(Into::into).collect(),
            next_cursor: p.next_cursor,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct CreateApiKey {
    name: String,
    /// Narrow the key to some of your own permissions; absent: all of them.
    permissions: Option<Vec<String>>,
    expires_at: Option<DateTime<Utc>>,
}

impl From<CreateApiKey> for NewApiKey {
    fn from(b: CreateApiKey) -> Self {
        NewApiKey {
            name: b.name,
            permissions: b.permissions,
            expires_at: b.expires_at,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct CreatedApiKey {
    /// The full key. It is shown now and never again.
    key: String,
    api_key: ApiKeyView,
}

impl From<api_keys::CreatedApiKey> for CreatedApiKey {
    fn from(c: api_keys::CreatedApiKey) -> Self {
        CreatedApiKey {
            key: c.secret,
            api_key: c.key.into(),
        }
    }
}

#[OpenApi(prefix_path = "/api-keys", tag = "ApiTags::ApiKeys")]
impl ApiKeysApi {
    /// Create a key for yourself (from a login session, not another key).
    #[oai(path = "/", method = "post")]
    async fn create(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<CreateApiKey>,
    ) -> ApiResult<Json<CreatedApiKey>> {
        let created = api_keys::create(&state.ctx, auth.actor(), body.0.into()).await?;
        Ok(Json(created.into()))
    }

    /// Your keys, newest first, a page at a time; `all=true` lists
    /// everyone's (`users.manage`).
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        all: Query<Option<bool>>,
        /// The `next_cursor` of the previous page.
        after: Query<Option<String>>,
        /// 1 to 200, default 50.
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<ApiKeyPageView>> {
        let listing = KeyListing {
            all: all.0.unwrap_or(false),
            after: after.0,
            limit: limit.0.unwrap_or(50) as usize,
        };
        Ok(Json(
            api_keys::list(&state.ctx, auth.actor(), listing)
                .await?
                .into(),
        ))
    }

    /// Revoke a key; it stops working at once.
    #[oai(path = "/:id", method = "delete")]
    async fn revoke(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Json<ApiKeyView>> {
        Ok(Json(
            api_keys::revoke(&state.ctx, auth.actor(), &id.0)
                .await?
                .into(),
        ))
    }
}
