//! The one place where errors become HTTP: status, `{error:{code,message}}`,
//! and nothing internal. Internal causes go to the log with the request id.

use std::sync::Arc;

use poem::http::{header, HeaderValue, StatusCode};
use poem::PathPattern;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use serde_json::json;

use super::api::leads::DuplicateCandidateView;
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

/// What every operation returns; `?` on a `DomainError` gives the JSON
/// error, and the OpenAPI document lists the error answers (see
/// `error_doc`).
pub type ApiResult<T> = Result<T, ApiError>;

/// Every `error.code` the service sends; the OpenAPI document enumerates
/// them from this type, so a new code cannot go undocumented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request is malformed: bad JSON, a missing or mistyped field.
    BadRequest,
    /// A field's value breaks a rule; the message names the field.
    Invalid,
    /// No credential, or one that has expired or been revoked.
    Unauthenticated,
    /// A sign-in with a wrong username or password, or a wrong or used
    /// two-factor code.
    BadCredentials,
    /// The password was right; the account also needs a two-factor code
    /// (`code` in the sign-in).
    SecondFactorRequired,
    /// The role requires a second factor this user has not set up yet: the
    /// session may only set one up (`/auth/2fa`).
    SecondFactorSetupRequired,
    /// The credential lacks the permission (or the record is out of scope).
    Forbidden,
    /// A cookie-authenticated write without the right `X-CSRF-Token`.
    Csrf,
    /// No such record, route or file.
    NotFound,
    /// The route exists, the method does not.
    MethodNotAllowed,
    /// The record changed meanwhile, or a unique value is taken.
    Conflict,
    /// The new lead looks like leads already stored, listed in
    /// `candidates`; nothing was created. Send `allow_duplicate: true` to
    /// create it anyway.
    Duplicate,
    /// The change was made conditional (`If-Match`) on a version of the
    /// record that is no longer current; nothing changed.
    PreconditionFailed,
    /// The body stopped arriving (`HTTP_READ_TIMEOUT_SECONDS`).
    RequestTimeout,
    /// The body is over its limit (`MAX_BODY_KB`, `MAX_UPLOAD_MB`).
    PayloadTooLarge,
    /// The body is not JSON where JSON is expected.
    UnsupportedMediaType,
    /// Too many requests or attempts; see `Retry-After`.
    RateLimited,
    /// The service is at capacity (sign-ins queue for hashing); see
    /// `Retry-After`.
    Busy,
    /// Closed for maintenance to everyone but admins; the message says why
    /// and `Retry-After` when to come back.
    Maintenance,
    /// The part of the service the request needs is switched off by an
    /// admin (`GET /features` lists the switches).
    FeatureDisabled,
    /// A fault on our side; the log has the cause under the request id.
    Internal,
    /// The database does not answer (`/healthz` only).
    Unavailable,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Invalid => "invalid",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::BadCredentials => "bad_credentials",
            ErrorCode::SecondFactorRequired => "second_factor_required",
            ErrorCode::SecondFactorSetupRequired => "second_factor_setup_required",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Csrf => "csrf",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Duplicate => "duplicate",
            ErrorCode::PreconditionFailed => "precondition_failed",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Busy => "busy",
            ErrorCode::Maintenance => "maintenance",
            ErrorCode::FeatureDisabled => "feature_disabled",
            ErrorCode::Internal => "internal",
            ErrorCode::Unavailable => "unavailable",
        }
    }
}

/// A JSON error response.
pub fn error_response(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    let body = json!({"error": {"code": code.as_str(), "message": message}});
    Response::builder()
        .status(status)
        .content_type("application/json; charset=utf-8")
        .body(body.to_string())
}

/// The `duplicate` error, which also names the leads it may duplicate.
fn duplicate_response(
    status: StatusCode,
    message: &str,
    candidates: &[crate::domain::crm::duplicates::DuplicateCandidate],
) -> Response {
    use poem_openapi::types::ToJSON;
    let candidates: Vec<DuplicateCandidateView> =
        candidates.iter().cloned().map(Into::into).collect();
    let body = json!({"error": {
        "code": ErrorCode::Duplicate.as_str(),
        "message": message,
        "candidates": candidates.to_json(),
    }});
    Response::builder()
        .status(status)
        .content_type("application/json; charset=utf-8")
        .body(body.to_string())
}

impl poem::error::ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        match &self.0 {
            DomainError::NotFound(_) => StatusCode::NOT_FOUND,
            DomainError::Unauthenticated
            | DomainError::BadCredentials
            | DomainError::SecondFactorRequired
            | DomainError::WrongSecondFactor => StatusCode::UNAUTHORIZED,
            DomainError::Forbidden(_) | DomainError::SecondFactorSetupRequired => {
                StatusCode::FORBIDDEN
            }
            DomainError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            DomainError::Malformed { .. } => StatusCode::BAD_REQUEST,
            DomainError::Conflict(_) | DomainError::Duplicate(_) => StatusCode::CONFLICT,
            DomainError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            // 409, not 503: the service is up and the request is fine; it
            // conflicts with the current state of the configuration, and
            // retrying will not help until an admin switches the part back
            // on (503 would invite retries after `Retry-After`). The AI
            // switches answered 409 before, so their clients keep working.
            DomainError::FeatureDisabled { .. } => StatusCode::CONFLICT,
            DomainError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            DomainError::Busy { .. } | DomainError::Maintenance { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            DomainError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn as_response(&self) -> Response {
        let status = self.status();
        let (code, message) = code_and_message(&self.0);
        let mut response = match &self.0 {
            DomainError::Duplicate(candidates) => duplicate_response(status, &message, candidates),
            _ => error_response(status, code, &message),
        };
        if let DomainError::RateLimited { retry_after_secs }
        | DomainError::Busy { retry_after_secs }
        | DomainError::Maintenance {
            retry_after_secs, ..
        } = &self.0
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
pub fn code_and_message(e: &DomainError) -> (ErrorCode, String) {
    match e {
        DomainError::NotFound(_) => (ErrorCode::NotFound, e.to_string()),
        DomainError::Unauthenticated => (ErrorCode::Unauthenticated, e.to_string()),
        DomainError::BadCredentials | DomainError::WrongSecondFactor => {
            (ErrorCode::BadCredentials, e.to_string())
        }
        DomainError::SecondFactorRequired => (ErrorCode::SecondFactorRequired, e.to_string()),
        DomainError::SecondFactorSetupRequired => {
            (ErrorCode::SecondFactorSetupRequired, e.to_string())
        }
        DomainError::Forbidden(_) => (ErrorCode::Forbidden, e.to_string()),
        DomainError::Invalid { .. } => (ErrorCode::Invalid, e.to_string()),
        DomainError::Malformed { .. } => (ErrorCode::BadRequest, e.to_string()),
        DomainError::Conflict(_) => (ErrorCode::Conflict, e.to_string()),
        DomainError::Duplicate(_) => (ErrorCode::Duplicate, e.to_string()),
        DomainError::PreconditionFailed(_) => (ErrorCode::PreconditionFailed, e.to_string()),
        DomainError::RateLimited { .. } => (ErrorCode::RateLimited, e.to_string()),
        DomainError::Busy { .. } => (ErrorCode::Busy, e.to_string()),
        DomainError::Maintenance { .. } => (ErrorCode::Maintenance, e.to_string()),
        DomainError::FeatureDisabled { .. } => (ErrorCode::FeatureDisabled, e.to_string()),
        DomainError::Internal(cause) => {
            tracing::error!(%cause, "internal error");
            (ErrorCode::Internal, "internal error".to_string())
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
        error_response(self.status(), ErrorCode::Csrf, &self.to_string())
    }
}

/// Gives every error leaving the server the JSON shape, whatever raised it
/// (a bad JSON body, an unknown route, a body over the size limit), and a
/// `405` the `Allow` header RFC 9110 asks for.
pub struct JsonErrors {
    allowed: Arc<AllowedMethods>,
}

impl JsonErrors {
    pub fn new(allowed: Arc<AllowedMethods>) -> Self {
        JsonErrors { allowed }
    }
}

impl<E: Endpoint> Middleware<E> for JsonErrors {
    type Output = JsonErrorsEndpoint<E>;
    fn transform(&self, ep: E) -> Self::Output {
        JsonErrorsEndpoint {
            inner: ep,
            allowed: self.allowed.clone(),
        }
    }
}

pub struct JsonErrorsEndpoint<E> {
    inner: E,
    allowed: Arc<AllowedMethods>,
}

impl<E: Endpoint> Endpoint for JsonErrorsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let path = req.uri().path().to_string();
        match self.inner.call(req).await {
            Ok(output) => Ok(output.into_response()),
            Err(err) => {
                let mut response = shape(err);
                if response.status() == StatusCode::METHOD_NOT_ALLOWED {
                    if let Some(allow) = self.allowed.of(&path) {
                        if let Ok(value) = HeaderValue::from_str(&allow) {
                            response.headers_mut().insert(header::ALLOW, value);
                        }
                    }
                }
                Ok(response)
            }
        }
    }
}

/// The methods each documented path answers, read off the OpenAPI document.
pub struct AllowedMethods {
    /// Path templates split into segments (`None`: a `{parameter}`), with
    /// their methods as an `Allow` value.
    paths: Vec<(Vec<Option<String>>, String)>,
}

impl AllowedMethods {
    /// From the served document; its paths are relative to `prefix`.
    pub fn from_document(spec: &str, prefix: &str) -> Self {
        const METHODS: [&str; 8] = [
            "get", "put", "post", "delete", "options", "head", "patch", "trace",
        ];
        let doc: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        let mut paths = Vec::new();
        if let Some(items) = doc["paths"].as_object() {
            for (template, item) in items {
                let methods: Vec<String> = METHODS
                    .iter()
                    .filter(|m| item.get(**m).is_some())
                    .map(|m| m.to_uppercase())
                    .collect();
                if methods.is_empty() {
                    continue;
                }
                let segments = format!("{prefix}{template}")
                    .split('/')
                    .map(|s| (!(s.starts_with('{') && s.ends_with('}'))).then(|| s.to_string()))
                    .collect();
                paths.push((segments, methods.join(", ")));
            }
        }
        AllowedMethods { paths }
    }

    /// The `Allow` value for a request path, if a documented path matches;
    /// a literal segment wins over a parameter (`/leads/trash` before
    /// `/leads/{id}`).
    pub fn of(&self, path: &str) -> Option<String> {
        let segments: Vec<&str> = path.split('/').collect();
        self.paths
            .iter()
            .filter(|(template, _)| {
                template.len() == segments.len()
                    && template
                        .iter()
                        .zip(&segments)
                        .all(|(t, s)| t.as_deref().map_or(!s.is_empty(), |t| t == *s))
            })
            .max_by_key(|(template, _)| template.iter().filter(|t| t.is_some()).count())
            .map(|(_, allow)| allow.clone())
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
        StatusCode::NOT_FOUND => (ErrorCode::NotFound, "no such resource".to_string()),
        StatusCode::METHOD_NOT_ALLOWED => (
            ErrorCode::MethodNotAllowed,
            "method not allowed".to_string(),
        ),
        StatusCode::UNAUTHORIZED => (
            ErrorCode::Unauthenticated,
            "authentication required".to_string(),
        ),
        StatusCode::FORBIDDEN => (ErrorCode::Forbidden, err.to_string()),
        StatusCode::PAYLOAD_TOO_LARGE => (
            ErrorCode::PayloadTooLarge,
            "request body is too large".to_string(),
        ),
        StatusCode::TOO_MANY_REQUESTS => (ErrorCode::RateLimited, "too many requests".to_string()),
        StatusCode::REQUEST_TIMEOUT => (
            ErrorCode::RequestTimeout,
            "the request body stopped arriving".to_string(),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            ErrorCode::UnsupportedMediaType,
            "send application/json".to_string(),
        ),
        s if s.is_client_error() => (ErrorCode::BadRequest, client_message(err)),
        _ => {
            tracing::error!(error = %err, "unhandled error");
            (ErrorCode::Internal, "internal error".to_string())
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

    #[test]
    fn a_path_is_allowed_the_methods_its_template_documents() {
        let spec = r#"{"paths": {
            "/leads": {"get": {}, "post": {}},
            "/leads/{id}": {"get": {}, "patch": {}, "delete": {}},
            "/leads/trash": {"delete": {}}
        }}"#;
        let allowed = AllowedMethods::from_document(spec, "/api/v1");
        assert_eq!(allowed.of("/api/v1/leads").as_deref(), Some("GET, POST"));
        assert_eq!(
            allowed.of("/api/v1/leads/01abc").as_deref(),
            Some("GET, DELETE, PATCH")
        );
        assert_eq!(allowed.of("/api/v1/leads/trash").as_deref(), Some("DELETE"));
        assert_eq!(allowed.of("/api/v1/leads//"), None);
        assert_eq!(allowed.of("/api/v1/nothing"), None);
    }

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
