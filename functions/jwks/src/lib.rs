//! The JWKS function: `GET /.well-known/jwks.json` (the JWK Set, RFC 7517 §5) and the
//! discovery documents `/.well-known/openid-configuration` (OpenID Connect Discovery
//! 1.0) and `/.well-known/oauth-authorization-server` (RFC 8414), as a handler generic
//! over the key registry port, so tests hand it a fake and `main` the DynamoDB one.
#![deny(missing_docs)]

pub mod cache;
pub mod config;
pub mod discovery;
pub mod response;

use http::header::IF_NONE_MATCH;
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use m2m_core::error::{Chain, PortError};
use m2m_core::jwk::JwkSet;
use m2m_core::keys::KeySource;

use crate::cache::KeyCache;
use crate::discovery::{Route, Routes};
use crate::response::{error, Document};

/// Everything the handler needs, built once at cold start.
#[derive(Debug)]
pub struct App<K> {
    /// The key registry.
    pub keys: K,
    metadata: Document,
    routes: Routes,
    cache: KeyCache,
}

impl<K: KeySource> App<K> {
    /// The app for `issuer` (`M2M_ISSUER`, published verbatim) reading `keys`. The
    /// discovery document is rendered here, once.
    pub fn new(issuer: &str, keys: K) -> Self {
        Self {
            keys,
            metadata: Document::new(&discovery::metadata(issuer)),
            routes: Routes::new(issuer),
            cache: KeyCache::new(),
        }
    }

    /// Reads the registry into the cache at `now` (call during init, so the first
    /// request finds the connection open and the keys cached); returns the key count.
    ///
    /// # Errors
    /// The registry's error; requests will then read it themselves.
    pub async fn refresh(&self, now: u64) -> Result<usize, PortError> {
        self.cache.refresh(&self.keys, now).await
    }

    /// The JWK Set published at `now` (RFC 7517 §5; [`JwkSet::published`]: pending,
    /// active, and retired keys whose tokens may still be valid), from the cache.
    ///
    /// # Errors
    /// The registry's error when no usable cached list exists.
    pub async fn jwks(&self, now: u64) -> Result<JwkSet, PortError> {
        let keys = self.cache.get(&self.keys, now).await?;
        Ok(JwkSet::published(&keys, now))
    }
}

/// Handles one request at time `now` (unix seconds). Never fails and never panics:
/// every outcome, a registry failure included, is an HTTP response.
pub async fn handle<K: KeySource>(app: &App<K>, request: &Request, now: u64) -> Response<Body> {
    let path = request.uri().path();
    let Some(route) = app.routes.route(path) else {
        tracing::info!(path, status = 404, "unknown path");
        return error(StatusCode::NOT_FOUND, "not_found", "no such document");
    };
    let head = match *request.method() {
        Method::GET => false,
        Method::HEAD => true,
        _ => {
            tracing::info!(path, method = %request.method(), status = 405, "method not allowed");
            return error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "only GET and HEAD are served",
            );
        }
    };
    let if_none_match = request
        .headers()
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    match route {
        Route::Metadata => app.metadata.respond(head, if_none_match),
        Route::Jwks => match app.jwks(now).await {
            Ok(set) => match serde_json::to_value(&set) {
                Ok(v) => Document::new(&v).respond(head, if_none_match),
                Err(e) => {
                    tracing::error!(error = %e, "serializing the JWK Set failed");
                    server_error(false)
                }
            },
            Err(e) => {
                tracing::error!(error = %Chain(&e), "reading the key registry failed");
                server_error(e.is_transient())
            }
        },
    }
}

/// A registry failure: 503 when retrying later helps (throttling, timeouts), else 500.
/// The cause is logged, never sent.
fn server_error(throttled: bool) -> Response<Body> {
    if throttled {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the key set is temporarily unavailable; retry later",
        )
    } else {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the key set could not be read",
        )
    }
}
