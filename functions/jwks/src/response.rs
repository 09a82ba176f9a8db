//! HTTP responses of the JWKS function: cacheable JSON documents with a strong
//! `ETag` and conditional `If-None-Match` (RFC 9110 §8.8.3, §13.1.2), and JSON error
//! bodies. Every response is built here.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::header::{
    HeaderValue, ACCESS_CONTROL_ALLOW_ORIGIN, ALLOW, CACHE_CONTROL, CONTENT_TYPE, ETAG,
};
use http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::json;
use sha2::{Digest as _, Sha256};

/// `Cache-Control` of every document (DESIGN.md "Keys and JWKS").
pub const DOCUMENT_CACHE_CONTROL: &str = "public, max-age=300";
/// The methods served (RFC 9110 §9.3.1-2), for `Allow` on a 405.
pub const ALLOWED_METHODS: &str = "GET, HEAD";

/// A rendered JSON document and its entity tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    /// The JSON body.
    pub body: Vec<u8>,
    /// The strong `ETag` (RFC 9110 §8.8.3): a quoted base64url SHA-256 of the body, so
    /// every instance of the function gives the same tag for the same content.
    pub etag: String,
}

impl Document {
    /// Renders `value`.
    pub fn new(value: &serde_json::Value) -> Self {
        let body = value.to_string().into_bytes();
        let etag = format!("\"{}\"", URL_SAFE_NO_PAD.encode(Sha256::digest(&body)));
        Self { body, etag }
    }

    /// True when an `If-None-Match` value matches the tag: `*`, or one of the listed
    /// tags under the weak comparison RFC 9110 §13.1.2 prescribes for it (a `W/`
    /// prefix is ignored).
    pub fn matches(&self, if_none_match: &str) -> bool {
        if_none_match
            .split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == self.etag)
    }

    /// `200` with the body (none for `HEAD`), or `304 Not Modified` with no body when
    /// `if_none_match` matches (RFC 9110 §15.4.5: with the `ETag` and `Cache-Control`
    /// a 200 would carry).
    pub fn respond(&self, head: bool, if_none_match: Option<&str>) -> Response<Body> {
        let not_modified = if_none_match.is_some_and(|v| self.matches(v));
        let mut builder = Response::builder()
            .header(CACHE_CONTROL, DOCUMENT_CACHE_CONTROL)
            .header(ETAG, self.etag.as_str())
            // Public documents: browser-based verifiers may fetch them too.
            .header(ACCESS_CONTROL_ALLOW_ORIGIN, "*");
        let body = if not_modified {
            builder = builder.status(StatusCode::NOT_MODIFIED);
            Body::Empty
        } else {
            builder = builder
                .status(StatusCode::OK)
                .header(CONTENT_TYPE, "application/json");
            if head {
                Body::Empty
            } else {
                Body::from(self.body.clone())
            }
        };
        finish(builder, body)
    }
}

/// A JSON error `{"error","error_description"}` (the shape of RFC 6749 §5.2), never
/// cached. `405` carries `Allow` (RFC 9110 §15.5.6).
pub fn error(status: StatusCode, code: &str, description: &str) -> Response<Body> {
    let mut builder = Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .header(CACHE_CONTROL, "no-store");
    if status == StatusCode::METHOD_NOT_ALLOWED {
        builder = builder.header(ALLOW, ALLOWED_METHODS);
    }
    let body = json!({ "error": code, "error_description": description }).to_string();
    finish(builder, Body::from(body))
}

/// Builds the response; every header above is a valid constant, so this cannot fail,
/// but a failure would still give a bare 500 rather than a panic.
fn finish(builder: http::response::Builder, body: Body) -> Response<Body> {
    builder.body(body).unwrap_or_else(|_| {
        let mut r = Response::new(Body::Empty);
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_matching_follows_weak_comparison() {
        let d = Document::new(&json!({"keys": []}));
        assert!(d.etag.starts_with('"') && d.etag.ends_with('"'));
        assert!(d.matches(&d.etag));
        assert!(d.matches(&format!("W/{}", d.etag)));
        assert!(d.matches(&format!("\"other\", {}", d.etag)));
        assert!(d.matches("*"));
        assert!(!d.matches("\"other\""));
        assert!(!d.matches(d.etag.trim_matches('"')));
    }
}
