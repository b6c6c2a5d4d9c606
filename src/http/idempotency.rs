//! `Idempotency-Key` on the REST creates a client may retry (as in
//! draft-ietf-httpapi-idempotency-key-header): the first request with a key
//! runs and its answer is kept; a retry with the same key and the same
//! request gets that answer again, marked `Idempotency-Replayed: true`, and
//! creates nothing. The rules of keeping and expiring keys are the
//! domain's (`domain::idempotency`); this module reads the header, names
//! the request, and writes the kept answer back out.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use poem::http::StatusCode;
use poem::{IntoResponse, Request, RequestBody, Response};
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaHeader, MetaParamIn, MetaResponses, MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};
use poem_openapi::{ApiExtractor, ApiExtractorType, ApiResponse, ExtractParamOptions};
use serde_json::Value;

use super::error::ApiResult;
use crate::domain::actor::Actor;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::idempotency::{self, Claim, IdempotencyKey};
use crate::domain::{tokens, Ctx};

/// The header that marks a kept answer sent again.
pub const REPLAYED: &str = "Idempotency-Replayed";

/// The `Idempotency-Key` request header (an operation parameter named so
/// with `#[oai(name = "Idempotency-Key")]`). Unlike `param::Header`, which
/// takes a value that is not visible ASCII for no header at all, it keeps
/// such a value, so the key is refused instead of the create running
/// unprotected.
pub struct KeyHeader(pub Option<String>);

impl<'a> ApiExtractor<'a> for KeyHeader {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::Parameter];
    const PARAM_IS_REQUIRED: bool = false;

    type ParamType = Option<String>;
    type ParamRawType = String;

    fn param_in() -> Option<MetaParamIn> {
        Some(MetaParamIn::Header)
    }

    fn param_schema_ref() -> Option<MetaSchemaRef> {
        Some(String::schema_ref())
    }

    fn param_raw_type(&self) -> Option<&Self::ParamRawType> {
        self.0.as_ref()
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut RequestBody,
        param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        Ok(KeyHeader(request.headers().get(param_opts.name).map(|v| {
            String::from_utf8_lossy(v.as_bytes()).into_owned()
        })))
    }
}

/// A JSON answer to a create that may have been sent before. `Doc` is how
/// the document shows the answer: by default the JSON of `T` with 200; an
/// operation whose first answer may take one of several statuses names
/// its own `ApiResponse` (see `once_with_status`).
pub struct Idempotent<T, Doc = Json<T>> {
    status: StatusCode,
    body: String,
    replayed: bool,
    answer: PhantomData<fn() -> (T, Doc)>,
}

impl<T, Doc> Idempotent<T, Doc> {
    /// Whether this is the kept answer of an earlier request.
    pub fn replayed(&self) -> bool {
        self.replayed
    }

    fn fresh(status: StatusCode, body: String) -> Self {
        Idempotent {
            status,
            body,
            replayed: false,
            answer: PhantomData,
        }
    }
}

/// The SHA-256 of an uploaded file, in hex: what tells a retried upload
/// (the same bytes) from another upload that reuses its key.
pub fn file_digest(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

/// The JSON text of an answer, as sent and as kept.
pub fn json_text<T: ToJSON>(answer: &T) -> String {
    serde_json::to_string(&answer.to_json()).unwrap_or_else(|_| "null".into())
}

impl<T, Doc> IntoResponse for Idempotent<T, Doc> {
    fn into_response(self) -> Response {
        let mut response = Response::builder()
            .status(self.status)
            .content_type("application/json; charset=utf-8");
        if self.replayed {
            response = response.header(REPLAYED, "true");
        }
        response.body(self.body)
    }
}

impl<T: Send, Doc: ApiResponse> ApiResponse for Idempotent<T, Doc> {
    fn meta() -> MetaResponses {
        let mut meta = Doc::meta();
        for answer in &mut meta.responses {
            answer.headers.push(MetaHeader {
                name: REPLAYED.into(),
                description: Some(
                    "`true` when this is the kept answer of an earlier request with the same \
                     `Idempotency-Key`; nothing was created again."
                        .into(),
                ),
                required: false,
                deprecated: false,
                schema: String::schema_ref(),
            });
        }
        meta
    }

    fn register(registry: &mut Registry) {
        Doc::register(registry);
    }
}

/// Runs `create` once per `Idempotency-Key`: without a key it just runs;
/// with one, `request` (what the call targets and its body) tells a retry
/// from another request that reuses the key, and the answer of the first
/// success is kept for the retries. `operation` scopes the key along with
/// the actor's user.
pub async fn once<T, F>(
    ctx: &Arc<Ctx>,
    actor: &Actor,
    operation: &'static str,
    key: Option<&str>,
    request: Value,
    create: F,
) -> ApiResult<Idempotent<T>>
where
    T: ToJSON + Send + 'static,
    F: Future<Output = DomainResult<T>> + Send + 'static,
{
    let create = async move { Ok((StatusCode::OK, json_text(&create.await?))) };
    once_with_status(ctx, actor, operation, key, request, create).await
}

/// `once` for a create whose success may answer with one of several
/// statuses: `create` gives the status and the JSON text it answers with.
pub async fn once_with_status<T, Doc, F>(
    ctx: &Arc<Ctx>,
    actor: &Actor,
    operation: &'static str,
    key: Option<&str>,
    request: Value,
    create: F,
) -> ApiResult<Idempotent<T, Doc>>
where
    F: Future<Output = DomainResult<(StatusCode, String)>> + Send + 'static,
{
    let Some(raw) = key else {
        let (status, body) = create.await?;
        return Ok(Idempotent::fresh(status, body));
    };
    let key = IdempotencyKey::parse(raw)?;
    let fingerprint = tokens::hash_token(&request.to_string());
    let claimed =
        match idempotency::claim(ctx, &actor.user_id, operation, &key, &fingerprint).await? {
            Claim::Run(claimed) => claimed,
            Claim::Replay { status, answer } => {
                return Ok(Idempotent {
                    status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                    body: answer,
                    replayed: true,
                    answer: PhantomData,
                })
            }
        };
    // On a task of its own, so a client that hangs up mid-way does not
    // cancel a create half done: its outcome is kept for the retry.
    let ctx = Arc::clone(ctx);
    let run = tokio::spawn(async move {
        let outcome = create.await;
        let kept = match &outcome {
            Ok((status, body)) => idempotency::record(&ctx, &claimed, status.as_u16(), body).await,
            Err(_) => idempotency::release(&ctx, claimed).await,
        };
        if let Err(e) = kept {
            tracing::warn!(error = %e, operation, "could not keep the outcome of an idempotency key");
        }
        outcome
    });
    match run.await {
        Ok(outcome) => {
            let (status, body) = outcome?;
            Ok(Idempotent::fresh(status, body))
        }
        Err(e) => Err(DomainError::Internal(format!("{operation} stopped: {e}")).into()),
    }
}
