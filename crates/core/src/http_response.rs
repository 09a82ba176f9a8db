//! The one mapping point from an issuance outcome to an HTTP response:
//! RFC 6749 §5.1 success and §5.2 error bodies, with their headers.

use http::header::{
    HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE,
};
use http::{Response, StatusCode};
use serde_json::json;

use crate::error::OAuthError;
use crate::issue::TokenResponse;

/// The `WWW-Authenticate` challenge sent with every 401 (RFC 6749 §5.2).
pub const WWW_AUTHENTICATE_VALUE: &str = "Basic realm=\"m2m-auth\"";

/// Seconds a throttled caller is asked to wait (`Retry-After` on 503).
pub const RETRY_AFTER_SECONDS: u64 = 1;

/// Turns the outcome of a token request into the HTTP response: JSON body,
/// `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1) on every answer,
/// `WWW-Authenticate` on 401, `Allow` on 405, `Retry-After` on 503.
pub fn token_http_response(outcome: &Result<TokenResponse, OAuthError>) -> Response<String> {
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
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
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
        StatusCode::SERVICE_UNAVAILABLE => {
            headers.insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
        }
        _ => {}
    }
    response
}
