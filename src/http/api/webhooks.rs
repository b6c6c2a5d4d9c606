//! `/webhooks`: outbound webhook endpoints, their delivery log, and the
//! topic catalogue (`settings.manage`).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::ToJSON;
use poem_openapi::{Object, OpenApi};

use super::common::Deleted;
use super::ApiTags;
use crate::domain::webhooks::endpoints::{
    self, Attempt, Delivery, NewWebhook, Webhook, WebhookPatch, WebhookWithSecret,
};
use crate::domain::webhooks::WEBHOOK_TOPICS;
use crate::http::auth::Auth;
use crate::http::error::ApiResult;
use crate::http::idempotency::{self, Idempotent, KeyHeader};
use crate::http::AppState;

pub struct WebhooksApi;

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct WebhookView {
    id: String,
    url: String,
    /// Topic names, or `*` for all.
    topics: Vec<String>,
    active: bool,
    description: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Webhook> for WebhookView {
    fn from(w: Webhook) -> Self {
        WebhookView {
            id: w.id,
            url: w.url,
            topics: w.topics,
            active: w.active,
            description: w.description,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct WebhookWithSecretView {
    /// The signing secret. It is shown now and never again.
    secret: String,
    webhook: WebhookView,
}

impl From<WebhookWithSecret> for WebhookWithSecretView {
    fn from(w: WebhookWithSecret) -> Self {
        WebhookWithSecretView {
            secret: w.secret,
            webhook: w.webhook.into(),
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct CreateWebhook {
    /// Where to POST events: an http or https URL.
    url: String,
    /// Topics to receive (see `GET /webhooks/topics`), or `["*"]` for all.
    topics: Vec<String>,
    description: Option<String>,
    /// Default true.
    active: Option<bool>,
}

impl From<CreateWebhook> for NewWebhook {
    fn from(b: CreateWebhook) -> Self {
        NewWebhook {
            url: b.url,
            topics: b.topics,
            description: b.description,
            active: b.active,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct UpdateWebhook {
    url: Option<String>,
    topics: Option<Vec<String>>,
    description: Option<String>,
    active: Option<bool>,
}

impl From<UpdateWebhook> for WebhookPatch {
    fn from(b: UpdateWebhook) -> Self {
        WebhookPatch {
            url: b.url,
            topics: b.topics,
            description: b.description,
            active: b.active,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct TopicView {
    topic: String,
    description: String,
}

/// A row of the topic catalogue, `(topic, description)`.
impl From<&(&str, &str)> for TopicView {
    fn from((topic, description): &(&str, &str)) -> Self {
        TopicView {
            topic: topic.to_string(),
            description: description.to_string(),
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AttemptView {
    at: DateTime<Utc>,
    /// The HTTP status, absent when no response came.
    status: Option<u16>,
    error: Option<String>,
    duration_ms: u64,
}

impl From<Attempt> for AttemptView {
    fn from(a: Attempt) -> Self {
        AttemptView {
            at: a.at,
            status: a.status,
            error: a.error,
            duration_ms: a.duration_ms,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct DeliveryView {
    /// Also sent as `X-EA-Delivery`; the same on every retry.
    id: String,
    webhook: String,
    event: String,
    topic: String,
    /// `pending`, `delivered`, `failed` or `cancelled`.
    status: String,
    attempts: u32,
    /// When a pending delivery is next tried.
    next_attempt_at: DateTime<Utc>,
    last_status: Option<u16>,
    last_error: Option<String>,
    last_attempt_at: Option<DateTime<Utc>>,
    delivered_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    /// One line per attempt, oldest first.
    attempt_log: Vec<AttemptView>,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        DeliveryView {
            id: d.id,
            webhook: d.webhook,
            event: d.event,
            topic: d.topic,
            status: d.status,
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_status: d.last_status,
            last_error: d.last_error,
            last_attempt_at: d.last_attempt_at,
            delivered_at: d.delivered_at,
            created_at: d.created_at,
            attempt_log: d.attempt_log.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct DeliveryPageView {
    items: Vec<DeliveryView>,
    /// Pass back as `after` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

impl From<endpoints::DeliveryPage> for DeliveryPageView {
    fn from(p: endpoints::DeliveryPage) -> Self {
        DeliveryPageView {
            items: p.items.into_iter().map(Into::into).collect(),
            next_cursor: p.next_cursor,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct TestQueued {
    /// The id of the queued `webhook.test` event (the `id` in its body).
    event_id: String,
}

#[OpenApi(prefix_path = "/webhooks", tag = "ApiTags::Webhooks")]
impl WebhooksApi {
    /// Register an endpoint (`settings.manage`); the response holds the
    /// signing secret, shown only this once.
    #[oai(path = "/", method = "post")]
    async fn create(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        /// 1 to 255 printable characters naming this request: a retry with
        /// the same key and body gets the first answer again (with the same
        /// secret) instead of a second endpoint (kept 24 h).
        #[oai(name = "Idempotency-Key")]
        idempotency_key: KeyHeader,
        body: Json<CreateWebhook>,
    ) -> ApiResult<Idempotent<WebhookWithSecretView>> {
        let request = serde_json::json!({"body": body.0.to_json()});
        let input: NewWebhook = body.0.into();
        let (ctx, actor) = (Arc::clone(&state.ctx), auth.actor().clone());
        let create = async move { Ok(endpoints::create(&ctx, &actor, input).await?.into()) };
        idempotency::once(
            &state.ctx,
            auth.actor(),
            "webhooks.create",
            idempotency_key.0.as_deref(),
            request,
            create,
        )
        .await
    }

    /// Every endpoint, oldest first.
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
    ) -> ApiResult<Json<Vec<WebhookView>>> {
        Ok(Json(
            endpoints::list(&state.ctx, auth.actor())
                .await?
                .into_iter()
                .map(Into::into)
                .collect(),
        ))
    }

    /// The topics an endpoint can subscribe to.
    #[oai(path = "/topics", method = "get")]
    async fn topics(&self, _auth: Auth) -> ApiResult<Json<Vec<TopicView>>> {
        Ok(Json(WEBHOOK_TOPICS.iter().map(Into::into).collect()))
    }

    /// One endpoint.
    #[oai(path = "/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Json<WebhookView>> {
        Ok(Json(
            endpoints::get(&state.ctx, auth.actor(), &id.0)
                .await?
                .into(),
        ))
    }

    /// Change an endpoint's URL, topics, description or active flag.
    #[oai(path = "/:id", method = "patch")]
    async fn update(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        body: Json<UpdateWebhook>,
    ) -> ApiResult<Json<WebhookView>> {
        Ok(Json(
            endpoints::update(&state.ctx, auth.actor(), &id.0, body.0.into())
                .await?
                .into(),
        ))
    }

    /// Delete an endpoint and its delivery log.
    #[oai(path = "/:id", method = "delete")]
    async fn delete(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Json<Deleted>> {
        endpoints::delete(&state.ctx, auth.actor(), &id.0).await?;
        Ok(Json(Deleted { deleted: true }))
    }

    /// Replace the signing secret; the new one is shown only this once.
    #[oai(path = "/:id/rotate-secret", method = "post")]
    async fn rotate_secret(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Json<WebhookWithSecretView>> {
        Ok(Json(
            endpoints::rotate_secret(&state.ctx, auth.actor(), &id.0)
                .await?
                .into(),
        ))
    }

    /// The delivery log, newest first, a page at a time.
    #[oai(path = "/:id/deliveries", method = "get")]
    async fn deliveries(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        /// The `next_cursor` of the previous page.
        after: Query<Option<String>>,
        /// Deprecated: the same cursor under its old name. Use `after`.
        #[oai(deprecated)]
        before: Query<Option<String>>,
        /// Page size, 1 to 200 (default 50).
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<DeliveryPageView>> {
        let limit = limit.0.unwrap_or(50).clamp(1, 200) as usize;
        let cursor = after.0.or(before.0);
        let page = endpoints::deliveries(&state.ctx, auth.actor(), &id.0, cursor.as_deref(), limit)
            .await?;
        Ok(Json(page.into()))
    }

    /// Queue a `webhook.test` event to this endpoint only.
    #[oai(path = "/:id/test", method = "post")]
    async fn test(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Json<TestQueued>> {
        let event_id = endpoints::send_test(&state.ctx, auth.actor(), &id.0).await?;
        Ok(Json(TestQueued { event_id }))
    }
}
