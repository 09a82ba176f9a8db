//! Client authentication (RFC 6749 §2.3): one function per method, each in its own
//! file, so a further method is one new file and one [`ClientAuth`] variant.
//!
//! What holds for every method:
//! - every failure is the same `invalid_client` (RFC 6749 §5.2), whatever failed,
//!   with the reason kept for the log only;
//! - an unknown client costs the same work as a known one with a wrong credential
//!   (a hash comparison, a signature verification), so timing tells nothing;
//! - a disabled client fails exactly like an unknown one;
//! - a request presents one method, not two (checked when parsing,
//!   [`crate::request`]).

pub mod federated;
pub mod private_key_jwt;
pub mod secret;

use crate::error::OAuthError;
use crate::model::{Client, StoredSecret};
use crate::ports::{Directory, KeySets};
use crate::request::ClientAuth;
use crate::types::ClientId;

/// How long a `private_key_jwt` assertion may live: its `exp` at most this many
/// seconds after now. Short, because the assertion is a bearer credential until it
/// expires; its `jti` is remembered exactly that long.
pub const DEFAULT_MAX_ASSERTION_LIFETIME: u64 = 300;

/// Clock drift tolerated on `exp`, `iat` and `nbf`, in seconds.
pub const DEFAULT_CLOCK_SKEW: u64 = 60;

/// What the deployment accepts as client assertions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssertionPolicy {
    /// External issuers whose tokens trust rules may accept (exact `iss` values).
    /// Empty: no workload identity federation.
    pub trusted_issuers: Vec<String>,
    /// [`DEFAULT_MAX_ASSERTION_LIFETIME`].
    pub max_assertion_lifetime: u64,
    /// [`DEFAULT_CLOCK_SKEW`].
    pub clock_skew: u64,
}

impl Default for AssertionPolicy {
    fn default() -> Self {
        Self {
            trusted_issuers: Vec::new(),
            max_assertion_lifetime: DEFAULT_MAX_ASSERTION_LIFETIME,
            clock_skew: DEFAULT_CLOCK_SKEW,
        }
    }
}

/// Which credential authenticated the client: what the log names and what the token
/// reuse cache is keyed by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential<'a> {
    /// A client secret.
    Secret(&'a StoredSecret),
    /// A registered key or a key from the client's `jwks_uri`, by `kid`.
    Key(String),
    /// A trust rule, by id.
    TrustRule(String),
}

/// An authenticated client.
#[derive(Clone, Debug)]
pub struct Authenticated<'a> {
    /// The client.
    pub client: &'a Client,
    /// The credential it proved.
    pub credential: Credential<'a>,
}

/// What authentication needs besides the request and the client read for it.
pub struct Context<'a, D, K> {
    /// Now, in unix seconds.
    pub now: u64,
    /// The deployment's issuer identifier.
    pub issuer: &'a str,
    /// The token endpoint's URL.
    pub token_endpoint: &'a str,
    /// The assertion policy.
    pub policy: &'a AssertionPolicy,
    /// For trust rules and `jti` replay protection.
    pub directory: &'a D,
    /// For `jwks_uri` and issuer keys.
    pub key_sets: &'a K,
}

/// Why authentication failed, for the log; the caller only ever sees
/// `invalid_client`.
pub(crate) fn refused(client_id: &str, method: &str, reason: &dyn std::fmt::Display) -> OAuthError {
    tracing::info!(client_id, method, reason = %reason, "client authentication failed");
    OAuthError::InvalidClient
}

/// Authenticates `client_id` presenting `auth`, the client read for it being `client`
/// (`None`: no such client). The token, revocation and introspection endpoints all
/// authenticate their callers here (RFC 7009 §2.1, RFC 7662 §2.1).
///
/// # Errors
/// `invalid_client` for every authentication failure; `server_error` when a
/// dependency (the table, a key set fetch that is not the caller's fault) fails.
pub async fn authenticate<'a, D: Directory, K: KeySets>(
    client_id: &ClientId,
    auth: &ClientAuth,
    client: Option<&'a Client>,
    cx: &Context<'_, D, K>,
) -> Result<Authenticated<'a>, OAuthError> {
    match auth {
        ClientAuth::SecretBasic(secret) => secret::client_secret_basic(secret, client, cx.now),
        ClientAuth::SecretPost(secret) => secret::client_secret_post(secret, client, cx.now),
        ClientAuth::JwtAssertion(assertion) => {
            if private_key_jwt::is_self_signed(assertion, client_id) {
                private_key_jwt::private_key_jwt(assertion, client_id, client, cx).await
            } else {
                federated::federated(assertion, client_id, client, cx).await
            }
        }
    }
}
