//! `/permissions`: the catalogue.

use crate::http::error::ApiResult;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::ApiTags;
use crate::domain::roles;
use crate::http::auth::Auth;

pub struct PermissionsApi;

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PermissionView {
    pub key: String,
    pub description: String,
}

impl From<roles::PermissionInfo> for PermissionView {
    fn from(p: roles::PermissionInfo) -> Self {
        PermissionView {
            key: p.key,
            description: p.description,
        }
    }
}

#[OpenApi(tag = "ApiTags::Permissions")]
impl PermissionsApi {
    /// Every permission a role or API key can hold.
    #[oai(path = "/permissions", method = "get")]
    async fn list(&self, _auth: Auth) -> ApiResult<Json<Vec<PermissionView>>> {
        Ok(Json(
            roles::catalogue().into_iter().map(Into::into).collect(),
        ))
    }
}
