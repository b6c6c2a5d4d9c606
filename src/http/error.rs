//! The one place where errors become HTTP: status, `{error:{code,message}}`,
//! and nothing internal. Internal causes go to the log with the request id.

use poem::http::StatusCode;
use poem::PathPattern;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use serde_json::json;

use crate::domain::error::DomainError;

/// A domain error on its way to an HTTP client.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ApiError(pub DomainError);

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        ApiError(e)
    }
}

impl From<DomainError> for poem::Error {
    fn from(e: DomainError) -> Self {
        poem::Error::from(ApiError(e))
    }
}

/// What every operation returns; `?` on a `DomainError` gives the JSON error.
pub type ApiResult<T> = poem::Result<T>;

/// A JSON error response.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"error": {"code": code, "message": message}});
    Response::builder()
        .status(status)
        .content_type("application/json; charset=utf-8")
        .body(body.to_string())
}

impl poem::error::ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        match &self.0 {
            DomainError::NotFound(_) => StatusCode::NOT_FOUND,
            DomainError::Unauthenticated | DomainError::BadCredentials => StatusCode::UNAUTHORIZED,
            DomainError::Forbidden(_) => StatusCode::FORBIDDEN,
            DomainError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            DomainError::Conflict(_) => StatusCode::CONFLICT,
            DomainError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            DomainError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            DomainError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn as_response(&self) -> Response {
        let status = self.status();
        let (code, message) = code_and_message(&self.0);
        let mut response = error_response(status, code, &message);
        if let DomainError::RateLimited { retry_after_secs }
        | DomainError::Busy { retry_after_secs } = &self.0
        {
            response.headers_mut().insert(
                poem::http::header::RETRY_AFTER,
                poem::http::HeaderValue::from(*retry_after_secs),
            );
        }
        response
    }
}

/// The `{code, message}` a client sees for a domain error; also used where
/// one response carries several errors (per-item results of a bulk call).
pub fn code_and_message(e: &DomainError) -> (&'static str, String) {
    match e {
        DomainError::NotFound(_) => ("not_found", e.to_string()),
        DomainError::Unauthenticated => ("unauthenticated", e.to_string()),
        DomainError::BadCredentials => ("bad_credentials", e.to_string()),
        DomainError::Forbidden(_) => ("forbidden", e.to_string()),
        DomainError::Invalid { .. } => ("invalid", e.to_string()),
        DomainError::Conflict(_) => ("conflict", e.to_string()),
        DomainError::RateLimited { .. } => ("rate_limited", e.to_string()),
        DomainError::Busy { .. } => ("busy", e.to_string()),
        DomainError::Internal(cause) => {
            tracing::error!(%cause, "internal error");
            ("internal", "internal error".to_string())
        }
    }
}

/// A cookie-authenticated write without the right `X-CSRF-Token`.
#[derive(Debug, thiserror::Error)]
#[error("missing or wrong X-CSRF-Token header for a cookie-authenticated write")]
pub struct CsrfError;

impl poem::error::ResponseError for CsrfError {
    fn status(&self) -> StatusCode {
        StatusCode::FORBIDDEN
    }

    fn as_response(&self) -> Response {
        error_response(self.status(), "csrf", &self.to_string())
    }
}

/// Gives every error leaving the server the JSON shape, whatever raised it
/// (a bad JSON body, an unknown route, a body over the size limit).
pub struct JsonErrors;

impl<E: Endpoint> Middleware<E> for JsonErrors {
    type Output = JsonErrorsEndpoint<E>;
    fn transform(&self, ep: E) -> Self::Output {
        JsonErrorsEndpoint(ep)
    }
}

pub struct JsonErrorsEndpoint<E>(E);

impl<E: Endpoint> Endpoint for JsonErrorsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        match self.0.call(req).await {
            Ok(output) => Ok(output.into_response()),
            Err(err) => Ok(shape(err)),
        }
    }
}

fn shape(err: poem::Error) -> Response {
    if err.is::<ApiError>() || err.is::<CsrfError>() {
        return err.into_response();
    }
    // The route that answered, for the metrics' label.
    let pattern = err.data::<PathPattern>().cloned();
    let mut response = shaped(&err);
    if let Some(pattern) = pattern {
        response.set_data(pattern);
    }
    response
}

fn shaped(err: &poem::Error) -> Response {
    let mut status = err.status();
    // A body cut off at its limit while being read fails the payload
    // parser, which calls it a bad request.
    if status.is_client_error() && err.to_string().contains(super::middleware::BODY_OVER_LIMIT) {
        status = StatusCode::PAYLOAD_TOO_LARGE;
    }
    if status.is_client_error() && err.to_string().contains(super::middleware::BODY_TOO_SLOW) {
        status = StatusCode::REQUEST_TIMEOUT;
    }
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", "no such resource".to_string()),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "method not allowed".to_string()),
        StatusCode::UNAUTHORIZED => ("unauthenticated", "authentication required".to_string()),
        StatusCode::FORBIDDEN => ("forbidden", err.to_string()),
        StatusCode::PAYLOAD_TOO_LARGE => {
            ("payload_too_large", "request body is too large".to_string())
        }
        StatusCode::TOO_MANY_REQUESTS => ("rate_limited", "too many requests".to_string()),
        StatusCode::REQUEST_TIMEOUT => (
            "request_timeout",
            "the request body stopped arriving".to_string(),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "send application/json".to_string(),
        ),
        s if s.is_client_error() => ("bad_request", client_message(err)),
        _ => {
            tracing::error!(error = %err, "unhandled error");
            ("internal", "internal error".to_string())
        }
    };
    error_response(status, code, &message)
}

/// The parser's own words for a malformed request are safe and useful, but
/// capped so an echo of a huge input cannot come back.
fn client_message(err: &poem::Error) -> String {
    let text = err.to_string();
    let mut message: String = text.chars().take(300).collect();
    if message.is_empty() {
        message = "bad request".into();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem::error::ResponseError;

    #[test]
    fn a_busy_service_answers_503_with_retry_after() {
        let response = ApiError(DomainError::Busy {
            retry_after_secs: 1,
        })
        .as_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response
                .headers()
                .get(poem::http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            Some("1")
        );
    }
}
