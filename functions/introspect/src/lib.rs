//! The token status endpoints: `POST /oauth/introspect` (RFC 7662) and
//! `POST /oauth/revoke` (RFC 7009), as a handler generic over the ports, so tests hand
//! it fakes and `main` the AWS adapters. A function of its own beside the token
//! function, with a role that can read clients and revocations and record one, and
//! never sign.
#![deny(missing_docs)]

pub mod config;

use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, PRAGMA};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use m2m_core::cache::keys::KeyCache;
use m2m_core::error::{Chain, OAuthError};
use m2m_core::http_response::{admit, token_http_response, ErrorAnswer as _, Refusal};
use m2m_core::introspection::Endpoints;
use m2m_core::keys::KeySource;
use m2m_core::ports::{Directory, KeySets};
use m2m_core::publication::published_keys;
use m2m_core::request::parse_token_operation;
use m2m_core::revocation::Revocations;
use m2m_core::IssuerConfig;

/// The introspection endpoint's path under the issuer.
pub const INTROSPECT_PATH: &str = "/oauth/introspect";
/// The revocation endpoint's path under the issuer.
pub const REVOKE_PATH: &str = "/oauth/revoke";

/// Everything the handler needs, built once at cold start.
pub struct App<D, K, R, S> {
    /// Issuer and assertion policy (callers authenticate like token requests).
    pub config: IssuerConfig,
    /// Clients.
    pub directory: D,
    /// Key sets of callers that authenticate with an assertion.
    pub key_sets: K,
    /// Revocation state.
    pub revocations: R,
    /// The signing-key registry: which keys this server's tokens verify with.
    pub keys: S,
    /// The registry, cached.
    pub cache: KeyCache,
}

/// Which endpoint a request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// RFC 7662.
    Introspect,
    /// RFC 7009.
    Revoke,
}

impl Endpoint {
    /// The endpoint a path names (its last segments, whatever the stage prefix).
    pub fn of(path: &str) -> Option<Self> {
        let path = path.trim_end_matches('/');
        if path.ends_with(INTROSPECT_PATH) {
            Some(Self::Introspect)
        } else if path.ends_with(REVOKE_PATH) {
            Some(Self::Revoke)
        } else {
            None
        }
    }
}

/// Handles one request at `now`. Never fails: every outcome is an HTTP response.
pub async fn handle<D, K, R, S>(
    app: &App<D, K, R, S>,
    request: &Request,
    now: u64,
) -> Response<Body>
where
    D: Directory,
    K: KeySets,
    R: Revocations,
    S: KeySource,
{
    let Some(endpoint) = Endpoint::of(request.uri().path()) else {
        return answer(
            StatusCode::NOT_FOUND,
            serde_json::json!({"message": "Not Found"}),
        );
    };
    let header =
        |name: http::header::HeaderName| request.headers().get(name).and_then(|v| v.to_str().ok());
    let body = request.body().as_ref();
    let parsed = admit(request.method().as_str(), body).and_then(|()| {
        parse_token_operation(
            header(http::header::CONTENT_TYPE),
            header(http::header::AUTHORIZATION),
            body,
        )
        .map_err(Refusal::from)
    });
    let op = match parsed {
        Ok(op) => op,
        Err(e) => return refusal(endpoint, None, e),
    };
    let keys = match app.cache.get(&app.keys, now).await {
        Ok(keys) => keys,
        Err(e) => {
            let e = Refusal::from(OAuthError::ServerError(e));
            return refusal(endpoint, Some(op.client_id.as_str()), e);
        }
    };
    let published: Vec<_> = published_keys(&keys, now).into_iter().cloned().collect();
    let endpoints = Endpoints {
        config: &app.config,
        directory: &app.directory,
        key_sets: &app.key_sets,
        revocations: &app.revocations,
    };
    let caller = op.client_id.as_str();
    match endpoint {
        Endpoint::Introspect => match endpoints.introspect(&op, &published, now).await {
            Ok(doc) => {
                tracing::info!(
                    client_id = caller,
                    active = doc["active"].as_bool(),
                    "token introspected"
                );
                answer(StatusCode::OK, doc)
            }
            Err(e) => refusal(endpoint, Some(caller), Refusal::from(e)),
        },
        Endpoint::Revoke => match endpoints.revoke(&op, &published, now).await {
            Ok(()) => {
                let mut r = answer(StatusCode::OK, serde_json::json!({}));
                *r.body_mut() = Body::Empty;
                r
            }
            Err(e) => refusal(endpoint, Some(caller), Refusal::from(e)),
        },
    }
}

/// A JSON answer with `Cache-Control: no-store` (RFC 7662 §2.2 carries token data).
fn answer(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

/// An error answer, shaped like the token endpoint's (RFC 6749 §5.2, as RFC 7009
/// §2.2.1 and RFC 7662 §2.3 ask), logged with the caller and never the token.
fn refusal(endpoint: Endpoint, caller: Option<&str>, e: Refusal) -> Response<Body> {
    let status = e.status();
    let caller = m2m_core::request::loggable_client_id(caller);
    match &e {
        Refusal::OAuth(OAuthError::ServerError(cause)) => tracing::error!(
            endpoint = ?endpoint, client_id = %caller, status = status.as_u16(), cause = %Chain(cause), "request failed"
        ),
        _ => {
            tracing::info!(endpoint = ?endpoint, client_id = %caller, status = status.as_u16(), error = e.code(), "request refused")
        }
    }
    token_http_response(&Err(e)).map(Body::from)
}
