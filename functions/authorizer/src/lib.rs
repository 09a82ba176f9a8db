//! The revocation-aware authorizer for resource servers: an API Gateway HTTP API
//! Lambda REQUEST authorizer (payload format 2.0, simple responses) that verifies our
//! JWT access tokens offline (RFC 9068 §4) against the keys the JWKS publishes,
//! requires each route's scopes (RFC 6749 §3.3), and refuses revoked tokens (RFC 7009)
//! from a cached revocation list. A handler generic over the key registry and the
//! revocation store, so tests hand it fakes and `main` the DynamoDB ones.
//!
//! A request is authorized when, in this order:
//! 1. its route is listed in `M2M_ROUTE_SCOPES` (or the map has `*`);
//! 2. it carries exactly one `Authorization: Bearer <token>` (RFC 6750 §2.1);
//! 3. the token is a JWS with `alg` RS256 or ES256, `typ` `at+jwt` or `JWT`, and a
//!    `kid` naming a key the JWKS publishes now;
//! 4. the signature verifies (`jsonwebtoken`), `iss` is `M2M_ISSUER`, `aud` contains
//!    `M2M_AUDIENCE`, `exp` has not passed and `nbf`/`iat` are not in the future (30 s
//!    of leeway each way), `iat`, `jti` and the client id are present (RFC 9068 §2.2),
//!    and it lives no longer than any token we issue;
//! 5. its `scope` holds every scope the route requires;
//! 6. neither its client's not-before nor its `jti` revokes it.
//!
//! The answer is `{"isAuthorized": true, "context": {client_id, org_id, scope, jti}}`,
//! or `{"isAuthorized": false}`: never an error, which API Gateway would turn into a
//! 500. Every decision is logged with its reason, never with the token.
#![deny(missing_docs)]

pub mod bearer;
pub mod cache;
pub mod config;
pub mod routes;
pub mod verify;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub use aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use m2m_core::error::Chain;
use m2m_core::jwk::JwkSet;
use m2m_core::keys::KeySource;
use m2m_core::model::SigningKey;
use m2m_core::revocation::Revocations;
use m2m_core::types::ScopeSet;
use serde_json::Value;

use crate::bearer::bearer_token;
use crate::cache::{KeyCache, RevocationCache};
use crate::config::AuthorizerConfig;
use crate::routes::RouteScopes;

/// The context handed to the integration (`$context.authorizer.<name>`; in the
/// payload 2.0 event, `requestContext.authorizer.lambda`).
pub type Context = BTreeMap<String, String>;
/// The authorizer's answer (API Gateway HTTP API simple response).
pub type Response = ApiGatewayV2CustomAuthorizerSimpleResponse<Context>;

/// The most a decision may take. The registry and revocation reads are bounded
/// themselves (2.5 s per AWS call, 3 s for the whole list); past this the request is
/// refused, so the function always answers before its own timeout.
pub const REQUEST_BUDGET: Duration = Duration::from_millis(4500);

/// Why a request was refused, for the log (the caller only sees API Gateway's 401
/// or 403).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The route is not in `M2M_ROUTE_SCOPES` and there is no `*` entry.
    #[error("route not listed")]
    Route,
    /// No `Authorization` header.
    #[error("no bearer token")]
    NoToken,
    /// An `Authorization` header of another scheme.
    #[error("not a bearer token")]
    NotBearer,
    /// Not one well-formed JWT: header syntax, JWS structure, JSON, claims.
    #[error("malformed token")]
    Malformed,
    /// `alg` is not RS256 or ES256.
    #[error("algorithm not allowed")]
    Algorithm,
    /// `typ` is not `at+jwt` or `JWT`.
    #[error("not an access token type")]
    Type,
    /// No `kid`, or one that names no key the JWKS publishes now.
    #[error("unknown signing key")]
    UnknownKey,
    /// The signature does not verify.
    #[error("bad signature")]
    Signature,
    /// Another issuer's token.
    #[error("wrong issuer")]
    Issuer,
    /// A token for another API.
    #[error("wrong audience")]
    Audience,
    /// `exp` has passed.
    #[error("expired")]
    Expired,
    /// `nbf` or `iat` is in the future.
    #[error("not yet valid")]
    NotYetValid,
    /// `exp` is further after `iat` than any token we issue lives.
    #[error("lifetime too long")]
    Lifetime,
    /// A scope the route requires is missing.
    #[error("missing scope")]
    Scope,
    /// Revoked: its client's not-before, or its `jti`.
    #[error("revoked")]
    Revoked,
    /// The key registry could not be read and no usable copy is cached.
    #[error("signing keys unavailable")]
    KeysUnavailable,
    /// The revocation list could not be read and the cached one is too old.
    #[error("revocation list unavailable")]
    RevocationsUnavailable,
    /// The decision took longer than [`REQUEST_BUDGET`].
    #[error("timed out")]
    Timeout,
    /// The event is not an API Gateway authorizer request.
    #[error("malformed event")]
    Event,
}

/// An authorized request: what the integration learns about the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorized {
    /// The client (`client_id`, or `azp` in the Auth0 profile).
    pub client_id: String,
    /// Its organization, when the token names one.
    pub org_id: Option<String>,
    /// The token's `scope`, as issued.
    pub scope: String,
    /// The token's `jti`.
    pub jti: String,
}

impl Authorized {
    /// The context passed to the integration: `client_id`, `scope`, `jti`, and
    /// `org_id` when the token has one.
    pub fn context(&self) -> Context {
        let mut c = Context::new();
        c.insert("client_id".into(), self.client_id.clone());
        c.insert("scope".into(), self.scope.clone());
        c.insert("jti".into(), self.jti.clone());
        if let Some(org) = &self.org_id {
            c.insert("org_id".into(), org.clone());
        }
        c
    }
}

/// Everything the handler needs, built once at cold start.
#[derive(Debug)]
pub struct App<K, R> {
    /// The key registry.
    pub keys: K,
    /// The revocation store.
    pub revocations: R,
    issuer: String,
    audience: String,
    routes: RouteScopes,
    key_cache: KeyCache,
    revocation_cache: RevocationCache,
    budget: Duration,
}

impl<K: KeySource, R: Revocations> App<K, R> {
    /// The app for `config` (its table is the adapters' business), reading `keys` and
    /// `revocations`.
    pub fn new(config: &AuthorizerConfig, keys: K, revocations: R) -> Self {
        Self {
            keys,
            revocations,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            routes: config.routes.clone(),
            key_cache: KeyCache::new(),
            revocation_cache: RevocationCache::new(config.revocation_cache_seconds),
            budget: REQUEST_BUDGET,
        }
    }

    /// The same app deciding within `budget` instead of [`REQUEST_BUDGET`] (tests of a
    /// dependency that hangs).
    #[must_use]
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// Reads the key registry and the revocation list into the caches at `now` (call
    /// during init: it opens the connection, and the first request then finds both
    /// cached). Failures are logged; requests will read again.
    pub async fn warm(&self, now: u64) {
        match self.key_cache.refresh(&self.keys, now).await {
            Ok(keys) => tracing::info!(keys, "key registry read during init"),
            Err(e) => {
                tracing::warn!(error = %Chain(&e), "reading the key registry during init failed; will retry per request")
            }
        }
        match self.revocation_cache.refresh(&self.revocations, now).await {
            Ok(entries) => tracing::info!(
                entries,
                bound_secs = self.revocation_cache.bound(),
                "revocation list read during init"
            ),
            Err(e) => {
                tracing::warn!(error = %Chain(&e), "reading the revocation list during init failed; will retry per request")
            }
        }
    }

    /// The registry's keys and the index of the one `kid` names, if the JWKS
    /// publishes it at `now`; the registry is read again once for a `kid` it lacked.
    async fn published_key(
        &self,
        kid: &str,
        now: u64,
    ) -> Result<(Arc<Vec<SigningKey>>, usize), Refusal> {
        let keys = self.key_cache.get(&self.keys, now).await.map_err(|e| {
            tracing::error!(error = %Chain(&e), "reading the key registry failed");
            Refusal::KeysUnavailable
        })?;
        let find = |keys: &[SigningKey]| keys.iter().position(|k| k.kid.as_str() == kid);
        let (keys, index) = match find(&keys) {
            Some(i) => (keys, i),
            None => {
                let keys = self
                    .key_cache
                    .refresh_for_unknown_kid(&self.keys, now)
                    .await
                    .ok_or(Refusal::UnknownKey)?;
                let i = find(&keys).ok_or(Refusal::UnknownKey)?;
                (keys, i)
            }
        };
        if keys.get(index).is_some_and(|k| JwkSet::publishes(k, now)) {
            Ok((keys, index))
        } else {
            Err(Refusal::UnknownKey)
        }
    }
}

/// What a decision learned about the caller, for its log line.
#[derive(Debug, Default)]
struct Seen {
    client_id: Option<String>,
    jti: Option<String>,
}

/// The route a request was matched to (`routeKey`; `$default` for the catch-all
/// route).
pub fn route_key(request: &ApiGatewayV2CustomAuthorizerV2Request) -> &str {
    request
        .route_key
        .as_deref()
        .or(request.request_context.route_key.as_deref())
        .unwrap_or_default()
}

/// Decides `request` at `now` (unix seconds), within the app's budget
/// ([`REQUEST_BUDGET`]).
///
/// # Errors
/// The [`Refusal`].
pub async fn authorize<K: KeySource, R: Revocations>(
    app: &App<K, R>,
    request: &ApiGatewayV2CustomAuthorizerV2Request,
    now: u64,
) -> Result<Authorized, Refusal> {
    decide(app, request, now, &mut Seen::default()).await
}

async fn decide<K: KeySource, R: Revocations>(
    app: &App<K, R>,
    request: &ApiGatewayV2CustomAuthorizerV2Request,
    now: u64,
    seen: &mut Seen,
) -> Result<Authorized, Refusal> {
    tokio::time::timeout(app.budget, check(app, request, now, seen))
        .await
        .unwrap_or(Err(Refusal::Timeout))
}

async fn check<K: KeySource, R: Revocations>(
    app: &App<K, R>,
    request: &ApiGatewayV2CustomAuthorizerV2Request,
    now: u64,
    seen: &mut Seen,
) -> Result<Authorized, Refusal> {
    let required = app
        .routes
        .required(route_key(request))
        .ok_or(Refusal::Route)?;
    let token = bearer_token(&request.headers)?;
    let kid = verify::header_kid(token)?;
    let (keys, index) = app.published_key(&kid, now).await?;
    let key = keys.get(index).ok_or(Refusal::UnknownKey)?;
    let verified = verify::verify(token, key, &app.issuer, &app.audience, now)?;

    let client_id = verified.client_id().ok_or(Refusal::Malformed)?.to_owned();
    let jti = verified.jti().ok_or(Refusal::Malformed)?.to_owned();
    seen.client_id = Some(client_id.clone());
    seen.jti = Some(jti.clone());
    let scope = match verified.claims.get("scope") {
        None => "",
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(Refusal::Malformed),
    };
    let scopes = ScopeSet::parse(scope).ok_or(Refusal::Malformed)?;
    if !required.is_subset(&scopes) {
        return Err(Refusal::Scope);
    }

    let list = app
        .revocation_cache
        .get(&app.revocations, now)
        .await
        .map_err(|e| {
            tracing::error!(error = %Chain(&e), "reading the revocation list failed; refusing");
            Refusal::RevocationsUnavailable
        })?;
    if list.is_revoked(&client_id, Some(&jti), verified.iat()) {
        return Err(Refusal::Revoked);
    }
    let org_id = verified
        .claims
        .get("org_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(Authorized {
        client_id,
        org_id,
        scope: scope.to_owned(),
        jti,
    })
}

/// Handles one authorizer request at `now`: never fails, never panics, and answers
/// within [`REQUEST_BUDGET`] (refusing when the decision takes longer). One log line per decision, with the reason of a refusal
/// and the client once the token verified; never the token.
pub async fn handle<K: KeySource, R: Revocations>(
    app: &App<K, R>,
    request: &ApiGatewayV2CustomAuthorizerV2Request,
    now: u64,
) -> Response {
    let route = route_key(request);
    let mut seen = Seen::default();
    let outcome = decide(app, request, now, &mut seen).await;
    let mut response = Response::default();
    match outcome {
        Ok(authorized) => {
            tracing::info!(
                route,
                client_id = %authorized.client_id,
                jti = %authorized.jti,
                "authorized"
            );
            response.is_authorized = true;
            response.context = authorized.context();
        }
        Err(refusal) => {
            tracing::info!(
                route,
                reason = %refusal,
                client_id = seen.client_id.as_deref().unwrap_or("-"),
                jti = seen.jti.as_deref().unwrap_or("-"),
                "refused"
            );
        }
    }
    response
}

/// Handles a raw invocation payload: an event that is not an authorizer request is
/// refused like any other request, rather than failing the invocation (which API
/// Gateway answers with a 500).
pub async fn handle_event<K: KeySource, R: Revocations>(
    app: &App<K, R>,
    event: Value,
    now: u64,
) -> Response {
    match serde_json::from_value::<ApiGatewayV2CustomAuthorizerV2Request>(event) {
        Ok(request) => handle(app, &request, now).await,
        Err(e) => {
            // Only where and what kind: serde's message may quote a value, which could
            // be the token.
            tracing::warn!(
                category = ?e.classify(),
                line = e.line(),
                column = e.column(),
                reason = %Refusal::Event,
                "refused"
            );
            Response::default()
        }
    }
}
