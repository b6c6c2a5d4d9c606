//! Cross-cutting HTTP concerns: request ids and tracing spans, metrics,
//! security headers, and the per-IP request limit.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use poem::http::{header, HeaderValue, StatusCode};
use poem::PathPattern;
use poem::{Endpoint, IntoResponse, Request, Response};
use tracing::Instrument;

use super::error::{error_response, ErrorCode};
use super::metrics::route_label;
use super::{client_ip, AppState};
use crate::rate_limit::{ip_key, Quota, WindowLimiter};

pub const REQUEST_ID: &str = "x-request-id";

/// Panel and API pages: scripts and styles only from our origin.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";
/// Swagger UI, which poem-openapi serves with inline script and style.
const DOCS_CSP: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'";

/// The outermost layer: a request id (taken from the client when sane),
/// a tracing span, the per-IP limit, metrics and security headers.
pub async fn around<E: Endpoint>(
    ep: Arc<E>,
    mut req: Request,
    state: Arc<AppState>,
) -> poem::Result<Response> {
    let state = Some(state);
    let request_id = req
        .header(REQUEST_ID)
        .filter(|id| id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let span = tracing::info_span!("request", request_id = %request_id, %method, %path);
    let started = Instant::now();

    let quotas = QuotaSlot::default();
    let limited = state.as_ref().and_then(|s| {
        let ip = ip_key(&client_ip(&req, &s.config).unwrap_or_default());
        quotas.count(&s.ip_limiter, &ip, s.ctx.now()).err()
    });
    req.extensions_mut().insert(quotas.clone());
    let too_large = state.as_ref().is_some_and(|s| {
        let limit = s.body_limit_for(req.uri().path());
        limit_body(&mut req, limit, s.body_pause_limit())
    });
    let too_large = match too_large {
        true => Some(error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            "request body is too large",
        )),
        false => None,
    };
    let mut response = match (limited, too_large) {
        (_, Some(r)) => r,
        (Some(secs), None) => {
            let mut r = error_response(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::RateLimited,
                "too many requests from this address",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            r
        }
        (None, None) => match ep.call(req).instrument(span.clone()).await {
            Ok(output) => output.into_response(),
            Err(err) => err.into_response(),
        },
    };

    let status = response.status().as_u16();
    if let Some(state) = &state {
        let pattern = response.data::<PathPattern>().map(|p| &*p.0);
        state.metrics.record(
            &method,
            &route_label(pattern, status),
            status,
            started.elapsed(),
        );
    }
    span.in_scope(|| {
        tracing::debug!(
            status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "response"
        )
    });

    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert(REQUEST_ID, v);
    }
    if let Some(quota) = quotas.tightest() {
        headers.insert("ratelimit-limit", HeaderValue::from(quota.limit));
        headers.insert("ratelimit-remaining", HeaderValue::from(quota.remaining));
        headers.insert("ratelimit-reset", HeaderValue::from(quota.reset_secs));
    }
    let csp = if path.starts_with("/docs") {
        DOCS_CSP
    } else {
        CSP
    };
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    headers.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    if path.starts_with("/api/") {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(response)
}

/// The request limits a request was counted against (its address's, then
/// its credential's once authenticated); the tightest is sent back as the
/// `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` headers
/// on every answer.
#[derive(Clone, Default)]
pub struct QuotaSlot(Arc<Mutex<Option<Quota>>>);

impl QuotaSlot {
    /// Counts a hit of `key` on `limiter`, keeping what is left of it;
    /// `Err(seconds)` when over the limit.
    pub fn count(
        &self,
        limiter: &WindowLimiter,
        key: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), u64> {
        let quota = limiter.take(key, now);
        let left = quota.unwrap_or_else(|secs| Quota {
            limit: limiter.limit(),
            remaining: 0,
            reset_secs: secs,
        });
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if kept.is_none_or(|k| left.remaining < k.remaining) {
            *kept = Some(left);
        }
        quota.map(|_| ())
    }

    fn tightest(&self) -> Option<Quota> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What a body cut off at its limit fails with while being read; the error
/// shaping turns it into `413 payload_too_large`.
pub const BODY_OVER_LIMIT: &str = "request body is too large";

/// What a body that stops arriving fails with; the error shaping turns it
/// into `408 request_timeout`.
pub const BODY_TOO_SLOW: &str = "request body stopped arriving";

/// Refuses a body whose declared length is over `limit`; any other body is
/// cut off at `limit` while being read, which fails the payload parser
/// instead of filling memory. That covers a chunked body and also an
/// HTTP/2 body, which may declare no length and need no chunking. A body
/// that pauses longer than `pause` fails too, so a client trickling a
/// byte now and then cannot hold a handler (the headers have hyper's own
/// timeout; see `http::server`).
fn limit_body(req: &mut Request, limit: usize, pause: Duration) -> bool {
    use http_body_util::combinators::BoxBody;
    use http_body_util::BodyExt;
    let declared = req
        .header(header::CONTENT_LENGTH)
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return true;
    }
    let inner: BoxBody<bytes::Bytes, std::io::Error> = req.take_body().into();
    let limited = http_body_util::Limited::new(inner, limit)
        .map_err(|e| match e.downcast::<std::io::Error>() {
            Ok(e) => *e,
            Err(_) => std::io::Error::other(BODY_OVER_LIMIT),
        })
        .boxed();
    req.set_body(poem::Body::from(PauseLimited::new(limited, pause).boxed()));
    false
}

/// A body that fails when no frame arrives for `pause`.
struct PauseLimited {
    inner: http_body_util::combinators::BoxBody<bytes::Bytes, std::io::Error>,
    pause: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl PauseLimited {
    fn new(
        inner: http_body_util::combinators::BoxBody<bytes::Bytes, std::io::Error>,
        pause: Duration,
    ) -> Self {
        PauseLimited {
            inner,
            pause,
            deadline: Box::pin(tokio::time::sleep(pause)),
        }
    }
}

impl http_body::Body for PauseLimited {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<bytes::Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                let next = tokio::time::Instant::now() + this.pause;
                this.deadline.as_mut().reset(next);
                Poll::Ready(frame)
            }
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    BODY_TOO_SLOW,
                )))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
