//! Reading a management request: its JSON body (bounded, `application/json` only), its
//! `If-Match` (RFC 9110 §13.1.1) and `Idempotency-Key` headers, and its query.

use http::header::{CONTENT_TYPE, IF_MATCH};
use http::StatusCode;
use lambda_http::{Request, RequestExt as _};
use m2m_manage::idempotency::IdempotentRequest;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::reply::Problem;

/// The body of an operation that takes no input: absent, empty or `{}`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// Largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024;
/// The idempotency header (IETF draft "The Idempotency-Key HTTP Header Field").
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The request body as JSON of type `T`; an absent or empty body reads as `{}`.
///
/// # Errors
/// 413 over [`MAX_BODY`], 415 for another media type, 400 for JSON that is not a `T`.
pub fn body<T: DeserializeOwned>(req: &Request) -> Result<T, Problem> {
    let raw = canonical_body(req)?;
    serde_json::from_value(raw).map_err(|e| Problem::invalid(format!("request body: {e}")))
}

/// The request body as a JSON value (`{}` when empty), checked for size and media type.
///
/// # Errors
/// As [`body`].
pub fn canonical_body(req: &Request) -> Result<Value, Problem> {
    let bytes = req.body().as_ref();
    if bytes.len() > MAX_BODY {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            format!("the request body must be at most {MAX_BODY} bytes"),
        ));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    let media = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if media.as_deref() != Some("application/json") {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "the request body must be application/json",
        ));
    }
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| Problem::invalid(format!("the request body is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(Problem::invalid("the request body must be a JSON object"));
    }
    Ok(value)
}

/// The version an `If-Match` names: `None` without the header or with `*` (any
/// current representation).
///
/// # Errors
/// 400 when it is not one strong entity tag this API hands out (`"<version>"`).
pub fn if_match(req: &Request) -> Result<Option<u64>, Problem> {
    let Some(v) = req.headers().get(IF_MATCH) else {
        return Ok(None);
    };
    let v = v.to_str().unwrap_or_default().trim();
    if v == "*" {
        return Ok(None);
    }
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .and_then(|v| v.parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| {
            Problem::invalid("If-Match must be one entity tag as returned in ETag, e.g. \"3\"")
        })
}

/// The request's idempotency key bound to `principal` and to the request itself
/// (method, path and canonical body), or `None` without the header.
///
/// # Errors
/// 400 for a malformed key; as [`canonical_body`].
pub fn idempotency(req: &Request, principal: &str) -> Result<Option<IdempotentRequest>, Problem> {
    let Some(key) = req.headers().get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = key
        .to_str()
        .map_err(|_| Problem::invalid("the Idempotency-Key must be visible ASCII"))?;
    let body = canonical_body(req)?.to_string();
    IdempotentRequest::new(
        principal,
        key,
        &[
            req.method().as_str().as_bytes(),
            req.uri().path().as_bytes(),
            body.as_bytes(),
        ],
    )
    .map(Some)
    .map_err(|e| Problem::invalid(e.to_string()))
}

/// The query parameter `name`, if given.
pub fn query(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name).map(str::to_owned))
}
