//! Ports: the few traits the use case needs from the outside world.
//! Adapters in `m2m-aws` implement them on DynamoDB, KMS and Lambda; `testing` has
//! in-memory fakes. The clock is not a port: `now` is a parameter.

use std::future::Future;
use std::sync::Arc;

pub use jsonwebtoken::jwk::JwkSet;

use crate::error::PortError;
use crate::hook::{HookRequest, HookResponse};
pub use crate::model::ActiveKey;
use crate::model::{Api, Client, Grant, TrustRule};
use crate::quota::{Counter, Subject};
use crate::reuse::{ReuseKey, SealedToken};
/// Revocations (RFC 7009): the port and what it keeps, defined beside their rules.
pub use crate::revocation::{Revocation, RevocationList, Revocations};
use crate::types::{Audience, ClientId, SecretId};

/// What one token request needs from the directory, read in one round trip.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lookup {
    /// The client, if it exists.
    pub client: Option<Client>,
    /// Its grant for the audience, if any.
    pub grant: Option<Grant>,
    /// The API, if the audience is known.
    pub api: Option<Api>,
    /// The sealed token cached under the request's [`ReuseKey`], if any and if the
    /// directory keeps them ([`Directory::lookup_with_reuse`]). A candidate only: the
    /// use case opens it with the presented secret's key and hands it out only when
    /// its fingerprint and freshness check out.
    pub reuse: Option<SealedToken>,
}

/// The directory of clients, grants and APIs.
pub trait Directory: Send + Sync {
    /// Loads client, grant and API for one token request in one round trip.
    fn lookup(
        &self,
        client_id: &ClientId,
        audience: &Audience,
    ) -> impl Future<Output = Result<Lookup, PortError>> + Send;

    /// Like [`Self::lookup`], also returning the token cached under `key` for
    /// `client_id`, in the same round trip (a reuse hit costs one read).
    /// Directories that keep no cache need not implement it: the default never hits.
    fn lookup_with_reuse(
        &self,
        client_id: &ClientId,
        audience: &Audience,
        key: &ReuseKey,
    ) -> impl Future<Output = Result<Lookup, PortError>> + Send {
        let _ = key;
        self.lookup(client_id, audience)
    }

    /// Keeps the sealed `token` for reuse under `key` for `client_id`, replacing any
    /// previous one, until its `expires_at`. Called after signing; a failure is logged
    /// and does not fail the request. Adapters bound the write to
    /// [`crate::reuse::REUSE_WRITE_BUDGET_MS`]. The default keeps nothing.
    fn store_reuse(
        &self,
        client_id: &ClientId,
        key: &ReuseKey,
        token: &SealedToken,
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        let _ = (client_id, key, token);
        std::future::ready(Ok(()))
    }

    /// Records that `secret_id` of `client_id` authenticated at `now` (`last_used_at`).
    /// Called at most once an hour per secret, concurrently with signing; a failure is
    /// logged and does not fail the request. Must not change the client's `version`.
    fn record_secret_use(
        &self,
        client_id: &ClientId,
        secret_id: &SecretId,
        now: u64,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// The trust rules of `client_id` for tokens from `issuer` (every one, however
    /// many: adapters page). Read only for a federated client assertion.
    fn trust_rules(
        &self,
        client_id: &ClientId,
        issuer: &str,
    ) -> impl Future<Output = Result<Vec<TrustRule>, PortError>> + Send;

    /// Records that `client_id` presented an assertion with `jti` (RFC 7523 §3 item 7:
    /// the server may refuse a replay), kept until `expires_at` and no longer.
    /// `Ok(true)` the first time, `Ok(false)` for a replay; atomic, so of two
    /// concurrent requests with one `jti` exactly one gets `true`.
    fn claim_jti(
        &self,
        client_id: &ClientId,
        jti: &str,
        expires_at: u64,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;

    /// Counts one request against every counter in `counters` ([`crate::quota`]),
    /// atomically and only if each still has room: `Ok(Ok(()))` when counted,
    /// `Ok(Err(retry_after))` (seconds) when one is full and nothing was counted.
    /// Called only for a client with a quota.
    fn consume_quota(
        &self,
        counters: &[Counter],
        now: u64,
    ) -> impl Future<Output = Result<Result<(), u64>, PortError>> + Send;

    /// Adds an instance's tallied usage: for each subject and hour (unix seconds of
    /// its start), a number of issued tokens.
    fn record_usage(
        &self,
        counts: &[(Subject, u64, u64)],
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// Where a client's or an issuer's public keys come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JwksSource<'a> {
    /// A client's registered `jwks_uri`.
    Uri(&'a str),
    /// An external issuer: its `jwks_uri` read from its OpenID discovery document
    /// (`<issuer>/.well-known/openid-configuration`, OpenID Connect Discovery §4).
    Issuer(&'a str),
}

/// Fetches and caches public key sets over HTTPS (RFC 7517 §5). Adapters enforce
/// https, bounded size and time, and, in a deployed stack, refuse addresses that
/// are private, loopback or link-local: a `jwks_uri` or issuer is a URL someone
/// else chose, and fetching it must never reach the deployment's own network or the
/// instance metadata service (server-side request forgery).
pub trait KeySets: Send + Sync {
    /// The key set at `source`, from the cache while it is fresh. With `refresh`
    /// (the caller found no key with the assertion's `kid`) the adapter fetches
    /// again unless it did so very recently, so a key rotation is picked up at once
    /// and an attacker cannot make every request fetch.
    fn key_set(
        &self,
        source: JwksSource<'_>,
        refresh: bool,
    ) -> impl Future<Output = Result<Arc<JwkSet>, PortError>> + Send;
}

/// No remote key sets: every fetch fails. For deployments and tests that register
/// keys only, never a `jwks_uri` or a trust rule.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoKeySets;

impl KeySets for NoKeySets {
    async fn key_set(
        &self,
        _source: JwksSource<'_>,
        _refresh: bool,
    ) -> Result<Arc<JwkSet>, PortError> {
        Err(PortError::refused("no remote key sets in this deployment"))
    }
}

/// Signs JWS signing inputs with the active key.
pub trait Signer: Send + Sync {
    /// The key that signs now (cached by adapters; refreshed at most every 60 s).
    fn active_key(&self) -> impl Future<Output = Result<ActiveKey, PortError>> + Send;

    /// Signs `signing_input` (`base64url(header).base64url(claims)`) with `key`, and
    /// returns the JWS signature bytes: PKCS#1 v1.5 for RS256, the fixed 64-byte
    /// `r‖s` for ES256 (RFC 7518 §3.4).
    fn sign(
        &self,
        key: &ActiveKey,
        signing_input: &[u8],
    ) -> impl Future<Output = Result<Vec<u8>, PortError>> + Send;
}

/// The custom-claims hook (DESIGN.md "Custom-claims hook").
pub trait ClaimsHook: Send + Sync {
    /// Calls the hook. Errors, timeouts and malformed answers are `PortError`s: the
    /// caller fails closed.
    fn call(
        &self,
        request: &HookRequest,
    ) -> impl Future<Output = Result<HookResponse, PortError>> + Send;

    /// What identifies this hook's behaviour for token reuse: its function (name or
    /// ARN) and an operator-bumpable epoch. A change re-signs every cached token.
    fn identity(&self) -> &str {
        ""
    }

    /// Plain claim names the operator allows this hook to set besides collision-resistant
    /// ones (RFC 7519 §4.2); reserved names stay refused whatever this says.
    fn allowed_claims(&self) -> &[String] {
        &[]
    }
}

/// The absence of a hook.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHook;

impl ClaimsHook for NoHook {
    async fn call(&self, _request: &HookRequest) -> Result<HookResponse, PortError> {
        Ok(HookResponse::default())
    }
}
