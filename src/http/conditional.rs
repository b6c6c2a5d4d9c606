//! Record versions over HTTP: an answer carries its record's version as a
//! strong `ETag`, and a change may be made conditional on one with
//! `If-Match`. Whether the version matches is the domain's decision (the
//! edit takes the versions it expects); this module only reads and writes
//! the headers and documents them.

use poem::http::{header, HeaderValue};
use poem::{IntoResponse, Response};
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaHeader, MetaResponses, Registry};
use poem_openapi::types::{ToJSON, Type};
use poem_openapi::ApiResponse;

use super::error_doc::{error_answer, register_error_body};

/// A JSON answer with its record's version as `ETag`.
pub struct Tagged<T> {
    body: T,
    version: String,
}

impl<T> Tagged<T> {
    pub fn new(body: T, version: String) -> Self {
        Tagged { body, version }
    }
}

/// The `ETag` value of a version: a strong entity tag.
pub fn etag(version: &str) -> String {
    format!("\"{version}\"")
}

impl<T: ToJSON> IntoResponse for Tagged<T> {
    fn into_response(self) -> Response {
        let mut response = Json(self.body).into_response();
        if let Ok(value) = HeaderValue::from_str(&etag(&self.version)) {
            response.headers_mut().insert(header::ETAG, value);
        }
        response
    }
}

fn etag_header() -> MetaHeader {
    MetaHeader {
        name: "ETag".into(),
        description: Some(
            "The record's version, a strong entity tag; send it back in `If-Match` to make \
             a change only if nobody changed the record meanwhile."
                .into(),
        ),
        required: true,
        deprecated: false,
        schema: String::schema_ref(),
    }
}

impl<T: ToJSON> ApiResponse for Tagged<T> {
    fn meta() -> MetaResponses {
        let mut meta = Json::<T>::meta();
        for answer in &mut meta.responses {
            answer.headers.push(etag_header());
        }
        meta
    }

    fn register(registry: &mut Registry) {
        Json::<T>::register(registry);
    }
}

/// The answer of a change that `If-Match` may refuse: a `Tagged` answer
/// whose document also lists 412.
pub struct TaggedChange<T>(pub Tagged<T>);

impl<T: ToJSON> IntoResponse for TaggedChange<T> {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

impl<T: ToJSON> ApiResponse for TaggedChange<T> {
    fn meta() -> MetaResponses {
        let mut meta = Tagged::<T>::meta();
        meta.responses.push(error_answer(
            412,
            "`If-Match` named a version that is no longer current (`precondition_failed`); \
             nothing changed.",
            false,
        ));
        meta
    }

    fn register(registry: &mut Registry) {
        Tagged::<T>::register(registry);
        register_error_body(registry);
    }
}

/// The versions an `If-Match` header accepts: `None` when it sets no
/// condition (absent, empty, or `*`, which any existing record meets).
/// Weak tags (`W/"…"`) never match, since `If-Match` compares strongly;
/// a header of only weak tags gives an empty list, which nothing meets.
pub fn expected_versions(if_match: Option<&str>) -> Option<Vec<String>> {
    // `str::is_empty` by name: the `Type` trait in scope has an `is_empty`
    // of its own that `&str` answers `false`.
    let raw = if_match.map(str::trim).filter(|v| !str::is_empty(v))?;
    if raw == "*" {
        return None;
    }
    let mut versions = Vec::new();
    let mut rest = raw;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_ascii_whitespace());
        if rest.is_empty() {
            break;
        }
        let weak = rest.starts_with("W/");
        if weak {
            rest = &rest[2..];
        }
        let tag = if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            rest = quoted.get(end + 1..).unwrap_or("");
            &quoted[..end]
        } else {
            // Lenient: a tag sent without its quotes.
            let end = rest.find(',').unwrap_or(rest.len());
            let tag = rest[..end].trim();
            rest = &rest[end..];
            tag
        };
        if !weak {
            versions.push(tag.to_string());
        }
    }
    Some(versions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_names_strong_versions_or_nothing() {
        assert_eq!(expected_versions(None), None);
        assert_eq!(expected_versions(Some("  ")), None);
        assert_eq!(expected_versions(Some("*")), None);
        assert_eq!(expected_versions(Some("\"abc\"")), Some(vec!["abc".into()]));
        assert_eq!(
            expected_versions(Some("\"a\", W/\"b\" ,\"c\"")),
            Some(vec!["a".into(), "c".into()])
        );
        assert_eq!(expected_versions(Some("W/\"a\"")), Some(vec![]));
        assert_eq!(expected_versions(Some("abc")), Some(vec!["abc".into()]));
        assert_eq!(
            expected_versions(Some("\"unterminated")),
            Some(vec!["unterminated".into()])
        );
    }

    #[test]
    fn an_etag_is_the_version_quoted() {
        assert_eq!(etag("abc"), "\"abc\"");
        assert_eq!(
            expected_versions(Some(&etag("abc"))),
            Some(vec!["abc".into()])
        );
    }
}
