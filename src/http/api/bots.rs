//! `/me/link-code`, `/me/links`, `/users/{id}/links`, `/bridges`, `/bots`
//! and bot message actions: linking and unlinking chat accounts, mirroring hub rooms to Telegram chats and Discord
//! channels, the bots' status, and pressing a bot's buttons in the hub.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::chat::MessageView;
use super::common::Deleted;
use super::ApiTags;
use crate::bots::status::BotStatus;
use crate::domain::{bot_outbox, bridges, digests, links};
use crate::http::auth::Auth;
use crate::http::error::ApiResult;
use crate::http::AppState;

pub struct BotsApi;

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct LinkCodeView {
    /// Send `/link CODE` to the Telegram or Discord bot. Works once.
    code: String,
    expires_at: DateTime<Utc>,
}

impl From<links::LinkCode> for LinkCodeView {
    fn from(c: links::LinkCode) -> Self {
        LinkCodeView {
            code: c.code,
            expires_at: c.expires_at,
        }
    }
}

/// A Telegram or Discord account linked to a CRM user.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ChatLinkView {
    id: String,
    /// `telegram` or `discord`.
    platform: String,
    /// The account's id on the platform.
    platform_user_id: String,
    user: String,
    created_at: DateTime<Utc>,
}

impl From<links::ChatLink> for ChatLinkView {
    fn from(l: links::ChatLink) -> Self {
        ChatLinkView {
            id: l.id,
            platform: l.platform,
            platform_user_id: l.platform_user_id,
            user: l.user,
            created_at: l.created_at,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct BotStatusView {
    /// `telegram` or `discord`.
    platform: String,
    username: Option<String>,
    connected: bool,
    last_ok_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
    last_error_at: Option<DateTime<Utc>>,
}

impl From<BotStatus> for BotStatusView {
    fn from(s: BotStatus) -> Self {
        BotStatusView {
            platform: s.platform,
            username: s.username,
            connected: s.connected,
            last_ok_at: s.last_ok_at,
            last_error: s.last_error,
            last_error_at: s.last_error_at,
        }
    }
}

/// Messages a bot still has to send on one platform (bridged messages and
/// direct messages waiting in the outbox for the platform to take them).
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct BacklogView {
    /// `telegram` or `discord`.
    platform: String,
    /// Messages waiting.
    pending: u64,
    /// When the oldest waiting message was written.
    oldest_at: Option<DateTime<Utc>>,
    /// How long the oldest has waited, in seconds.
    oldest_age_seconds: Option<i64>,
    /// Why the last failed attempt failed.
    last_error: Option<String>,
    last_error_at: Option<DateTime<Utc>>,
}

impl BacklogView {
    /// The oldest message's age is counted from `now`, which the backlog does not hold.
    fn new(b: bot_outbox::Backlog, now: DateTime<Utc>) -> Self {
        BacklogView {
            platform: b.platform,
            pending: b.pending,
            oldest_at: b.oldest_at,
            oldest_age_seconds: b.oldest_at.map(|at| (now - at).num_seconds().max(0)),
            last_error: b.last_error,
            last_error_at: b.last_error_at,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct BotStatusList {
    /// One entry per configured bot; empty when no bot token is set.
    bots: Vec<BotStatusView>,
    /// One entry per platform with messages waiting to be sent; empty when
    /// everything went out.
    backlog: Vec<BacklogView>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct BridgeView {
    id: String,
    /// The hub room.
    room: String,
    /// `telegram` or `discord`.
    platform: String,
    /// The platform's chat id (for Telegram an integer, negative for
    /// groups; for Discord the channel's id).
    chat_id: String,
    created_by: String,
    created_at: DateTime<Utc>,
}

impl From<bridges::Bridge> for BridgeView {
    fn from(b: bridges::Bridge) -> Self {
        BridgeView {
            id: b.id,
            room: b.room,
            platform: b.platform,
            chat_id: b.chat_id,
            created_by: b.created_by,
            created_at: b.created_at,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct CreateBridge {
    room: String,
    platform: String,
    chat_id: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct DigestSetting {
    /// `HH:MM` on your own clock (your profile's timezone); null stops the
    /// digest. Delivered by the Telegram bot to a linked account.
    time: Option<String>,
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
        Ok(Json(code.into()))
    }

    /// Your linked Telegram and Discord accounts (from a login session).
    #[oai(path = "/me/links", method = "get")]
    async fn my_links(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
    ) -> ApiResult<Json<Vec<ChatLinkView>>> {
        let actor = auth.actor();
        let list = links::list(&state.ctx, actor, &actor.user_id).await?;
        Ok(Json(list.into_iter().map(Into::into).collect()))
    }

    /// Unlink one of your chat accounts: it acts as nobody from its next
    /// message on (from a login session).
    #[oai(path = "/me/links/:id", method = "delete")]
    async fn unlink_mine(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Json<Deleted>> {
        let actor = auth.actor();
        links::unlink(&state.ctx, actor, &actor.user_id, &id.0).await?;
        Ok(Json(Deleted { deleted: true }))
    }

    /// A user's linked chat accounts (`users.manage` over that user).
    #[oai(path = "/users/:id/links", method = "get")]
    async fn user_links(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Json<Vec<ChatLinkView>>> {
        let list = links::list(&state.ctx, auth.actor(), &id.0).await?;
        Ok(Json(list.into_iter().map(Into::into).collect()))
    }

    /// Unlink a user's chat account (`users.manage` over that user).
    #[oai(path = "/users/:id/links/:link_id", method = "delete")]
    async fn unlink_users(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        link_id: Path<String>,
    ) -> ApiResult<Json<Deleted>> {
        links::unlink(&state.ctx, auth.actor(), &id.0, &link_id.0).await?;
        Ok(Json(Deleted { deleted: true }))
    }

    /// When the bot sends your daily digest; `time` null: no digest.
    #[oai(path = "/me/digest", method = "get")]
    async fn get_digest(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
    ) -> ApiResult<Json<DigestSetting>> {
        let time = digests::get(&state.ctx, auth.actor()).await?;
        Ok(Json(DigestSetting { time }))
    }

    /// Choose when the bot sends your daily digest of due follow-ups.
    #[oai(path = "/me/digest", method = "put")]
    async fn set_digest(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<DigestSetting>,
    ) -> ApiResult<Json<DigestSetting>> {
        let time = digests::set(&state.ctx, auth.actor(), body.0.time.as_deref()).await?;
        Ok(Json(DigestSetting { time }))
    }

    /// Press a button under a bot message in the hub (confirm or cancel a
    /// proposal). Only the person it was offered to can press it, once;
    /// the bot's answer is posted in the room and returned.
    #[oai(path = "/messages/:id/actions/:key", method = "post")]
    async fn press_action(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        key: Path<String>,
    ) -> ApiResult<Json<MessageView>> {
        let answer = crate::bots::web_chat::press(&state.ctx, auth.actor(), &id.0, &key.0).await?;
        Ok(Json(answer.into()))
    }

    /// Mirror a hub room to a Telegram chat or a Discord channel, both
    /// ways (`bots.manage`).
    #[oai(path = "/bridges", method = "post")]
    async fn create_bridge(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<CreateBridge>,
    ) -> ApiResult<Json<BridgeView>> {
        let b = body.0;
        let bridge =
            bridges::create(&state.ctx, auth.actor(), &b.room, &b.platform, &b.chat_id).await?;
        Ok(Json(bridge.into()))
    }

    /// Every bridge (`bots.manage`).
    #[oai(path = "/bridges", method = "get")]
    async fn list_bridges(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
    ) -> ApiResult<Json<Vec<BridgeView>>> {
        let list = bridges::list(&state.ctx, auth.actor()).await?;
        Ok(Json(list.into_iter().map(Into::into).collect()))
    }

    /// Stop mirroring (`bots.manage`).
    #[oai(path = "/bridges/:id", method = "delete")]
    async fn delete_bridge(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Json<Deleted>> {
        bridges::delete(&state.ctx, auth.actor(), &id.0).await?;
        Ok(Json(Deleted { deleted: true }))
    }

    /// Whether each bot is connected and its last error, and what waits to
    /// be sent per platform (`bots.manage`).
    #[oai(path = "/bots/status", method = "get")]
    async fn status(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
    ) -> ApiResult<Json<BotStatusList>> {
        let now = state.ctx.now();
        let backlog = bot_outbox::backlog(&state.ctx, auth.actor())
            .await?
            .into_iter()
            .map(|b| BacklogView::new(b, now))
            .collect();
        let bots = state.bot_status.all().into_iter().map(Into::into).collect();
        Ok(Json(BotStatusList { bots, backlog }))
    }
}
