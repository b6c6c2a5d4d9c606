//! `GET /api/v1/ws`: authenticates the upgrade, then hands the socket to
//! the realtime hub.
//!
//! An `Authorization: Bearer` header is enough, and so is `?ticket=` with a
//! single-use ticket from `POST /api/v1/ws/ticket` for clients that cannot
//! set headers (a token in the URL would be written to proxy logs, so
//! `?token=` is refused). The session cookie is
//! accepted only when the `Origin` header names this very host: browsers
//! send cookies on cross-site WebSocket upgrades and do not apply CORS to
//! them, so without the check any page could open a socket as the user.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::websocket::{WebSocket, WebSocketConfig};
use poem::web::Data;
use poem::{handler, IntoResponse, Request, Response};
use serde::Deserialize;

use super::auth::SESSION_COOKIE;
use super::error::{error_response, ApiError, ErrorCode};
use super::AppState;
use crate::domain::actor::{Actor, Channel};
use crate::domain::features::{self, Feature};
use crate::domain::sessions::SetupSessions;
use crate::domain::{maintenance, sessions, socket_tickets};
use crate::realtime::connection;

/// The read and write buffer of each socket, in bytes.
const SOCKET_BUFFER: usize = 4096;

#[derive(Deserialize)]
struct CredentialQuery {
    ticket: Option<String>,
    token: Option<String>,
}

#[handler]
pub async fn websocket(req: &Request, ws: WebSocket, state: Data<&Arc<AppState>>) -> Response {
    let actor = match authenticate(req, &state).await {
        Ok(actor) => actor,
        Err(response) => return response,
    };
    // The socket is the chat's: it does not open while the chat is off.
    if let Err(e) = maintenance::admit(&state.ctx, &actor)
        .and_then(|()| features::require(&state.ctx, Feature::Chat))
    {
        return poem::error::ResponseError::as_response(&ApiError(e));
    }
    let max = (state.config.ws_max_message_kb * 1024) as usize;
    // Small buffers: an idle socket should cost kilobytes, not the 128 KiB
    // read buffer the WebSocket library zero-fills by default; frames
    // larger than a buffer are read in several pieces.
    let config = WebSocketConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
        .read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(SOCKET_BUFFER);
    let services = state.sockets.clone();
    let metrics = state.metrics.clone();
    ws.config(config)
        .on_upgrade(move |socket| async move {
            metrics.websocket_opened();
            connection::run(socket, services, actor).await;
            metrics.websocket_closed();
        })
        .into_response()
}

async fn authenticate(req: &Request, state: &AppState) -> Result<Actor, Response> {
    let query = req.params::<CredentialQuery>().ok();
    if query.as_ref().is_some_and(|q| q.token.is_some()) {
        return Err(error_response(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            "a token in the URL is not accepted: send it as Authorization: Bearer, \
             or use a ticket from POST /api/v1/ws/ticket",
        ));
    }
    if let Some(ticket) = query.and_then(|q| q.ticket) {
        return socket_tickets::redeem(&state.ctx, ticket.trim())
            .await
            .map_err(|e| poem::error::ResponseError::as_response(&ApiError(e)));
    }
    let bearer = req
        .header(poem::http::header::AUTHORIZATION)
        .and_then(|h| h.strip_prefix("Bearer "));
    if let Some(token) = bearer {
        return sessions::authenticate_bearer(
            &state.ctx,
            token.trim(),
            Channel::Api,
            SetupSessions::Refuse,
        )
        .await
        .map_err(|e| poem::error::ResponseError::as_response(&ApiError(e)));
    }
    let Some(cookie) = req.cookie().get(SESSION_COOKIE) else {
        return Err(error_response(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            "authentication required",
        ));
    };
    if !same_origin(req) {
        return Err(error_response(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "a cookie-authenticated socket must come from this site's own pages",
        ));
    }
    sessions::authenticate_session(
        &state.ctx,
        cookie.value_str(),
        Channel::Web,
        SetupSessions::Refuse,
    )
    .await
    .map(|s| s.actor)
    .map_err(|e| poem::error::ResponseError::as_response(&ApiError(e)))
}

/// Whether `Origin` is `http(s)://<the Host header>`.
fn same_origin(req: &Request) -> bool {
    let (Some(origin), Some(host)) = (req.header("origin"), req.header("host")) else {
        return false;
    };
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    origin_host.is_some_and(|o| o.eq_ignore_ascii_case(host))
}
