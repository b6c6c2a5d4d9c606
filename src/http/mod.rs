//! The HTTP surface: `/api/v1` (poem-openapi), `/openapi.json`, `/docs`,
//! health and metrics, and the embedded panel.

pub mod acceptor;
pub mod api;
pub mod assets;
pub mod auth;
pub mod conditional;
mod doc_tree;
pub mod error;
mod error_doc;
pub mod idempotency;
pub mod metrics;
pub mod middleware;
pub mod query_params;
mod rate_limit_doc;
mod request_examples;
mod request_nulls;
pub mod server;
mod webhook_doc;
mod webhook_payloads;
pub mod ws;

use std::sync::Arc;

use poem::endpoint::make_sync;
use poem::http::StatusCode;
use poem::middleware::CookieJarManager;
use poem::web::{Html, Json};
use poem::{get, handler, Endpoint, EndpointExt, IntoResponse, Request, Response, Route};
use serde_json::json;

use crate::config::Config;
use crate::domain::sessions::ClientInfo;
use crate::domain::Ctx;
use crate::rate_limit::WindowLimiter;
use crate::realtime::connection::SocketServices;
use crate::realtime::hub::Hub;
use metrics::Metrics;

/// What handlers reach through `Data<&Arc<AppState>>`.
pub struct AppState {
    pub ctx: Arc<Ctx>,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    pub ip_limiter: WindowLimiter,
    pub token_limiter: Arc<WindowLimiter>,
    pub hub: Arc<Hub>,
    /// What each socket connection is handed.
    pub sockets: Arc<SocketServices>,
    /// The bots' connection state, for `GET /bots/status`.
    pub bot_status: Arc<crate::bots::status::StatusBoard>,
    /// Set in Telegram webhook mode: where `POST /telegram/webhook` puts
    /// verified updates.
    pub telegram_webhook: Option<crate::bots::telegram::WebhookInbox>,
}

impl AppState {
    pub fn new(ctx: Arc<Ctx>, config: Arc<Config>) -> Self {
        let minute = chrono::Duration::seconds(60);
        let token_limiter = Arc::new(WindowLimiter::new(config.rate_limit_per_token, minute));
        let hub = Arc::new(Hub::new(
            config.ws_send_queue,
            std::time::Duration::from_millis(config.typing_throttle_ms),
            ctx.clock.clone(),
        ));
        AppState {
            ip_limiter: WindowLimiter::new(config.rate_limit_per_ip, minute),
            sockets: Arc::new(SocketServices {
                ctx: ctx.clone(),
                hub: hub.clone(),
                limiter: token_limiter.clone(),
                recheck_every: std::time::Duration::from_millis(config.ws_auth_recheck_ms),
                ping_every: std::time::Duration::from_secs(config.http_read_timeout_seconds),
            }),
            token_limiter,
            metrics: Arc::new(Metrics::default()),
            hub,
            bot_status: Arc::default(),
            telegram_webhook: None,
            ctx,
            config,
        }
    }
}

impl AppState {
    /// The largest request body accepted on `path`: file uploads and
    /// imports may be large, everything else is small JSON.
    pub fn body_limit_for(&self, path: &str) -> usize {
        if api::files::is_upload_path(path) {
            // The multipart envelope around the file gets a little room.
            return self.config.upload_limit_bytes() + 64 * 1024;
        }
        if path == "/api/v1/leads/import" {
            return self.config.upload_limit_bytes();
        }
        (self.config.max_body_kb * 1024) as usize
    }

    /// The longest pause allowed within a request body.
    pub fn body_pause_limit(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.config.http_read_timeout_seconds)
    }
}

/// The client's address: the socket peer, or the first `X-Forwarded-For`
/// hop when a trusted proxy sits in front.
pub fn client_ip(req: &Request, config: &Config) -> Option<String> {
    if config.trust_forwarded_for {
        if let Some(first) = req
            .header("x-forwarded-for")
            .and_then(|v| v.split(',').next())
        {
            let first = first.trim();
            if !first.is_empty() {
                return Some(first.to_string());
            }
        }
    }
    req.remote_addr()
        .as_socket_addr()
        .map(|a| a.ip().to_string())
}

pub fn client_info(req: &Request, config: &Config) -> ClientInfo {
    ClientInfo {
        ip: client_ip(req, config),
        user_agent: req.header("user-agent").map(str::to_string),
    }
}

/// Every route of the service.
pub fn routes(state: Arc<AppState>) -> impl Endpoint<Output = Response> {
    let api = api::service();
    let generated = api.spec();
    // The served document: poem-openapi's, read once and amended in place.
    let mut served = doc_tree::Node::parse(&generated);
    webhook_doc::add_webhooks(&mut served);
    request_nulls::mark_nullable(&mut served);
    rate_limit_doc::add_rate_limit_headers(&mut served);
    request_examples::add_examples(&mut served);
    let spec = served.to_text();
    let allowed_methods = Arc::new(error::AllowedMethods::from_document(&spec, "/api/v1"));
    // Swagger UI shows the same document: poem-openapi's page embeds the
    // one it generated, verbatim.
    let docs_page = api.swagger_ui_html().replacen(&generated, &spec, 1);
    let docs = Route::new().at("/", make_sync(move |_| Html(docs_page.clone())));
    let around_state = state.clone();
    Route::new()
        .at("/api/v1/ws", get(ws::websocket))
        .nest("/api/v1", api)
        .at(
            "/openapi.json",
            make_sync(move |_| spec.clone()).map_to_response().with(
                poem::middleware::SetHeader::new().overriding("content-type", "application/json"),
            ),
        )
        .nest("/docs", docs)
        .at("/telegram/webhook", poem::post(telegram_webhook))
        .at("/healthz", get(healthz))
        .at("/readyz", get(readyz))
        .at("/metrics", get(metrics_text))
        .nest("/", assets::endpoint())
        .with(error::JsonErrors::new(allowed_methods))
        .with(CookieJarManager::new())
        .data(state)
        .around(move |ep, req| middleware::around(ep, req, around_state.clone()))
        .map_to_response()
}

/// Telegram's webhook calls. Only translates: checks the secret header,
/// reads the update, queues it for the bot; 404 when not in webhook mode.
#[handler]
fn telegram_webhook(
    req: &poem::Request,
    state: poem::web::Data<&Arc<AppState>>,
    body: poem::web::Json<teloxide::types::Update>,
) -> StatusCode {
    let Some(inbox) = &state.telegram_webhook else {
        return StatusCode::NOT_FOUND;
    };
    if !inbox.verifies(req.header("X-Telegram-Bot-Api-Secret-Token")) {
        return StatusCode::UNAUTHORIZED;
    }
    match inbox.updates.try_send(body.0) {
        Ok(()) => StatusCode::OK,
        // Busy or stopping: Telegram retries a failed delivery later.
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

#[handler]
fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

#[handler]
async fn readyz(state: poem::web::Data<&Arc<AppState>>) -> Response {
    if state.ctx.store.ping().await {
        // Still ready while closed for maintenance: a load balancer that
        // took the instance out would shut the admins out too.
        let maintenance = state.ctx.maintenance.current();
        if maintenance.active_at(state.ctx.now()) {
            return Json(json!({
                "status": "maintenance",
                "message": maintenance.message,
                "until": maintenance.until,
            }))
            .into_response();
        }
        Json(json!({"status": "ready"})).into_response()
    } else {
        error::error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            error::ErrorCode::Unavailable,
            "the database does not answer",
        )
    }
}

#[handler]
fn metrics_text(state: poem::web::Data<&Arc<AppState>>) -> Response {
    Response::builder()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}
