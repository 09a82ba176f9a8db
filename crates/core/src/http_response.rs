//! The one mapping point from an issuance outcome to an HTTP response:
//! RFC 6749 §5.1 success and §5.2 error bodies, with their headers; and the token
//! endpoint's HTTP-level refusals (wrong method, oversized body), which are not OAuth
//! errors but answer with the same body shape.

use http::header::{
    HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE,
};
use http::{Response, StatusCode};
use serde_json::json;

use crate::error::OAuthError;
use crate::issue::TokenResponse;
use crate::request::MAX_BODY_BYTES;

/// The `WWW-Authenticate` challenge sent with every 401 (RFC 6749 §5.2).
pub const WWW_AUTHENTICATE_VALUE: &str = "Basic realm=\"m2m-auth\"";

/// Seconds a throttled caller is asked to wait (`Retry-After` on 503).
pub const RETRY_AFTER_SECONDS: u64 = 1;

/// Why the token endpoint answers without a token: an HTTP-level refusal of the
/// request itself, or an OAuth error (RFC 6749 §5.2).
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The token endpoint only accepts POST (RFC 6749 §3.2). HTTP 405, with `Allow`.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The body is larger than [`MAX_BODY_BYTES`]. HTTP 413.
    #[error("request body too large")]
    PayloadTooLarge,
    /// An OAuth error response.
    #[error(transparent)]
    OAuth(#[from] OAuthError),
}

/// What an error response is made of: its status and the RFC 6749 §5.2 `error` and
/// `error_description` members.
pub trait ErrorAnswer {
    /// The HTTP status.
    fn status(&self) -> StatusCode;
    /// The `error` code.
    fn code(&self) -> &'static str;
    /// The `error_description`: safe to show a caller.
    fn description(&self) -> String;
    /// `Retry-After` in seconds, when retrying later helps.
    fn retry_after(&self) -> Option<u64> {
        None
    }
}

impl ErrorAnswer for OAuthError {
    fn status(&self) -> StatusCode {
        OAuthError::status(self)
    }

    fn code(&self) -> &'static str {
        OAuthError::code(self)
    }

    fn description(&self) -> String {
        OAuthError::description(self)
    }

    fn retry_after(&self) -> Option<u64> {
        OAuthError::retry_after(self)
    }
}

impl ErrorAnswer for Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::OAuth(e) => e.status(),
        }
    }

    /// The HTTP-level refusals answer `invalid_request`: the request is malformed
    /// (RFC 6749 §5.2), whatever the status says more precisely.
    fn code(&self) -> &'static str {
        match self {
            Self::MethodNotAllowed | Self::PayloadTooLarge => "invalid_request",
            Self::OAuth(e) => e.code(),
        }
    }

    fn description(&self) -> String {
        match self {
            Self::MethodNotAllowed => "the token endpoint accepts POST only".to_owned(),
            Self::PayloadTooLarge => "the request body is too large".to_owned(),
            Self::OAuth(e) => e.description(),
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            Self::OAuth(e) => e.retry_after(),
            Self::MethodNotAllowed | Self::PayloadTooLarge => None,
        }
    }
}

/// The HTTP-level checks of a token request, before its body is parsed: POST only
/// (RFC 6749 §3.2), and a body of at most [`MAX_BODY_BYTES`].
pub fn admit(method: &str, body: &[u8]) -> Result<(), Refusal> {
    if !method.eq_ignore_ascii_case("POST") {
        return Err(Refusal::MethodNotAllowed);
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(Refusal::PayloadTooLarge);
    }
    Ok(())
}

/// Turns the outcome of a token request into the HTTP response: JSON body,
/// `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1) on every answer,
/// `WWW-Authenticate` on 401, `Allow` on 405, `Retry-After` on 429 and 503.
pub fn token_http_response<E: ErrorAnswer>(outcome: &Result<TokenResponse, E>) -> Response<String> {
    let retry_after = outcome.as_ref().err().and_then(ErrorAnswer::retry_after);
    let (status, body) = match outcome {
        Ok(token) => (
            StatusCode::OK,
            json!({
                "access_token": token.access_token,
                "token_type": "Bearer",
                "expires_in": token.expires_in,
                "scope": token.scope,
            }),
        ),
        Err(e) => (
            e.status(),
            json!({ "error": e.code(), "error_description": e.description() }),
        ),
    };
    let mut response = Response::new(body.to_string());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    match status {
        StatusCode::UNAUTHORIZED => {
            headers.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static(WWW_AUTHENTICATE_VALUE),
            );
        }
        StatusCode::METHOD_NOT_ALLOWED => {
            headers.insert(ALLOW, HeaderValue::from_static("POST"));
        }
        _ => {}
    }
    if let Some(seconds) = retry_after {
        headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_method_not_allowed() {
        let e = admit("GET", b"").unwrap_err();
        assert!(matches!(e, Refusal::MethodNotAllowed));
        let r = token_http_response::<Refusal>(&Err(e));
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            r.headers().get(ALLOW).map(HeaderValue::as_bytes),
            Some(&b"POST"[..])
        );
        assert_eq!(
            r.body(),
            r#"{"error":"invalid_request","error_description":"the token endpoint accepts POST only"}"#
        );
    }

    #[test]
    fn oversized_body_payload_too_large() {
        let body = vec![b'a'; MAX_BODY_BYTES + 1];
        let e = admit("POST", &body).unwrap_err();
        assert!(matches!(e, Refusal::PayloadTooLarge));
        assert_eq!(e.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(admit("post", &body[1..]).is_ok());
    }
}
