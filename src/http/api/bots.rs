//! `/me/link-code` and `/bots`: linking chat accounts and the bots' status.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::ApiTags;
use crate::domain::links;
use crate::domain::permissions::Permission;
use crate::http::auth::Auth;
use crate::http::error::ApiResult;
use crate::http::AppState;

pub struct BotsApi;

#[derive(Object)]
struct LinkCodeView {
    /// Send `/link CODE` to the Telegram or Discord bot. Works once.
    code: String,
    expires_at: DateTime<Utc>,
}

#[derive(Object)]
struct BotStatusView {
    /// `telegram` or `discord`.
    platform: String,
    username: Option<String>,
    connected: bool,
    last_ok_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
    last_error_at: Option<DateTime<Utc>>,
}

#[derive(Object)]
struct BotStatusList {
    /// One entry per configured bot; empty when no bot token is set.
    bots: Vec<BotStatusView>,
}

#[OpenApi(tag = "ApiTags::Bots")]
impl BotsApi {
    /// A one-time code to link a Telegram or Discord account to yourself.
    #[oai(path = "/me/link-code", method = "post")]
    async fn link_code(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
    ) -> ApiResult<Json<LinkCodeView>> {
        let code = links::create_code(&state.ctx, auth.actor()).await?;
        Ok(Json(LinkCodeView {
            code: code.code,
            expires_at: code.expires_at,
        }))
    }

    /// Whether each bot is connected and its last error (`bots.manage`).
    #[oai(path = "/bots/status", method = "get")]
    async fn status(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
    ) -> ApiResult<Json<BotStatusList>> {
        auth.actor().require(Permission::BotsManage)?;
        let bots = state
            .bot_status
            .all()
            .into_iter()
            .map(|s| BotStatusView {
                platform: s.platform,
                username: s.username,
                connected: s.connected,
                last_ok_at: s.last_ok_at,
                last_error: s.last_error,
                last_error_at: s.last_error_at,
            })
            .collect();
        Ok(Json(BotStatusList { bots }))
    }
}
