//! The error answers as the OpenAPI document shows them: every operation
//! lists the statuses the service can answer it with, each with the one
//! error body (`ErrorBody`, its `code` enumerated) and, for 429 and 503,
//! the `Retry-After` header.

use poem_openapi::registry::{
    MetaHeader, MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry,
};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Object};

use super::api::leads::DuplicateCandidateView;
use super::error::{ApiError, ErrorCode};

/// `{"error": {"code": …, "message": …}}`, every error's body.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
#[oai(rename = "ErrorBody")]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
#[oai(rename = "ErrorDetail")]
struct ErrorDetail {
    /// What went wrong, for programs.
    code: ErrorCode,
    /// What went wrong, for people; for `invalid`, it starts with the
    /// field's name.
    message: String,
    /// For `duplicate`: the stored leads the new one may duplicate, most
    /// likely first.
    candidates: Option<Vec<DuplicateCandidateView>>,
}

/// The error statuses any operation may answer, with what each means.
/// 400, 413 and 415 come from reading the request, before the handler;
/// 401 and 429 from the credential and rate checks around every call.
const ERROR_STATUSES: &[(u16, &str, bool)] = &[
    (400, "Malformed request (`bad_request`).", false),
    (
        401,
        "No valid credential (`unauthenticated`), or a wrong sign-in (`bad_credentials`).",
        false,
    ),
    (
        403,
        "Not allowed (`forbidden`), or a cookie-authenticated write without its CSRF token (`csrf`).",
        false,
    ),
    (404, "No such record (`not_found`).", false),
    (
        408,
        "The request body stopped arriving (`request_timeout`).",
        false,
    ),
    (
        409,
        "The record changed meanwhile, or a unique value is taken (`conflict`); a new lead looks like stored ones (`duplicate`, with `candidates`); or the part of the service it needs is switched off (`feature_disabled`).",
        false,
    ),
    (413, "The body is over its limit (`payload_too_large`).", false),
    (415, "The body is not JSON (`unsupported_media_type`).", false),
    (
        422,
        "A value breaks a rule (`invalid`); the message names the field.",
        false,
    ),
    (
        429,
        "Too many requests or attempts (`rate_limited`); retry after `Retry-After` seconds.",
        true,
    ),
    (500, "A fault on our side (`internal`).", false),
    (
        503,
        "At capacity (`busy`); retry after `Retry-After` seconds.",
        true,
    ),
];

/// One error answer as the document shows it: the status, what it means,
/// the one error body and, where a client should wait, `Retry-After`.
/// Operations that can answer a status no other can (412 for a
/// conditional edit) add it to their own answer's document with this.
pub fn error_answer(status: u16, description: &'static str, retry_after: bool) -> MetaResponse {
    MetaResponse {
        description,
        status: Some(status),
        status_range: None,
        content: vec![MetaMediaType {
            content_type: "application/json; charset=utf-8",
            schema: MetaSchemaRef::Reference("ErrorBody".into()),
        }],
        headers: retry_after
            .then(|| MetaHeader {
                name: "Retry-After".into(),
                description: Some("Seconds to wait before trying again.".into()),
                required: true,
                deprecated: false,
                schema: u64::schema_ref(),
            })
            .into_iter()
            .collect(),
    }
}

/// Registers the error body's schema, for an answer that lists an error
/// status with `error_answer`.
pub fn register_error_body(registry: &mut Registry) {
    ErrorBody::register(registry);
}

impl ApiResponse for ApiError {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: ERROR_STATUSES
                .iter()
                .map(|&(status, description, retry_after)| {
                    error_answer(status, description, retry_after)
                })
                .collect(),
        }
    }

    fn register(registry: &mut Registry) {
        register_error_body(registry);
    }
}
