//! The directory's records: APIs, clients (with hashed secrets), grants and signing
//! keys, as DESIGN.md's table describes them. Adapters (de)serialize these.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::alg::Alg;
use crate::jwk::Jwk;
use crate::types::{Audience, ClientId, Kid, OrgId, ScopeSet, SecretId};
use crate::wire::wire_names;

/// Default access-token lifetime in seconds (DESIGN.md).
pub const DEFAULT_TOKEN_LIFETIME: u64 = 3600;
/// Longest access-token lifetime an API may choose, in seconds.
pub const MAX_TOKEN_LIFETIME: u64 = 86_400;

/// The claim layout of an API's tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Profile {
    /// RFC 9068 JWT access tokens: `typ` `at+jwt`, `sub` = client_id.
    #[default]
    Rfc9068,
    /// Auth0-compatible: `sub` = `<client_id>@clients`, `gty`, `azp`, `typ` `JWT`.
    Auth0,
}

wire_names!(Profile, "token profile", {
    Rfc9068 => "rfc9068",
    Auth0 => "auth0",
});

/// Default of [`Reuse::On::min_remaining_pct`]: a token is handed out again while more
/// than half of its lifetime is left.
pub const DEFAULT_REUSE_MIN_REMAINING_PCT: u8 = 50;

/// Token reuse for an API: whether a client asking again for the same
/// audience and scopes gets the token it was already issued, with the reduced
/// `expires_in` (RFC 6749 §5.1), instead of a fresh signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reuse {
    /// Every request is signed afresh.
    Off,
    /// A cached token is returned while more than `min_remaining_pct` percent of its
    /// lifetime remains.
    On {
        /// 1..=99; values outside are clamped at issuance.
        min_remaining_pct: u8,
        /// Reuse even when a claims hook is configured. A reused token carries the
        /// hook's claims from when it was signed, and the hook is not asked again
        /// (nor can it deny) until the token is re-signed: opt in only when the hook's
        /// answer is stable for a token's lifetime.
        with_hook: bool,
    },
}

impl Default for Reuse {
    fn default() -> Self {
        Self::On {
            min_remaining_pct: DEFAULT_REUSE_MIN_REMAINING_PCT,
            with_hook: false,
        }
    }
}

impl Reuse {
    /// The threshold in percent (clamped to 1..=99) when reuse applies to a request
    /// for this API, given whether a claims hook is configured; `None` when it does
    /// not.
    pub fn min_remaining_pct(self, hook_configured: bool) -> Option<u8> {
        match self {
            Self::Off => None,
            Self::On {
                with_hook: false, ..
            } if hook_configured => None,
            Self::On {
                min_remaining_pct, ..
            } => Some(min_remaining_pct.clamp(1, 99)),
        }
    }
}

/// An API (resource server): the audience tokens are issued for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Api {
    /// The identifier, used as `aud` (RFC 8707 resource indicator).
    pub identifier: Audience,
    /// A human-readable name.
    pub name: String,
    /// Every scope the API defines.
    pub scopes: ScopeSet,
    /// Token lifetime in seconds; capped at [`MAX_TOKEN_LIFETIME`] at issuance.
    pub token_lifetime: u64,
    /// Claim layout.
    pub profile: Profile,
    /// Token reuse (default: on at 50 %, off when a claims hook is configured).
    #[serde(default)]
    pub reuse: Reuse,
}

impl Api {
    /// The lifetime actually used: the configured one, at least 1 s and at most
    /// [`MAX_TOKEN_LIFETIME`].
    pub fn effective_lifetime(&self) -> u64 {
        self.token_lifetime.clamp(1, MAX_TOKEN_LIFETIME)
    }
}

/// Whether a client may authenticate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClientStatus {
    /// May obtain tokens.
    #[default]
    Active,
    /// Fails authentication exactly like an unknown client.
    Disabled,
}

wire_names!(ClientStatus, "client status", {
    Active => "active",
    Disabled => "disabled",
});

/// One stored secret: only its SHA-256 hash is kept.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSecret {
    /// Identifies the secret for rotation and revocation.
    pub id: SecretId,
    /// SHA-256 of the secret's UTF-8 bytes.
    pub hash: [u8; 32],
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds after which the secret no longer authenticates.
    pub expires_at: Option<u64>,
    /// Unix seconds of the last successful use, recorded at most hourly.
    pub last_used_at: Option<u64>,
}

impl std::fmt::Debug for StoredSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSecret")
            .field("id", &self.id)
            .field("hash", &"<redacted>")
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("last_used_at", &self.last_used_at)
            .finish()
    }
}

/// A client: one customer backend.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    /// The client identifier.
    pub id: ClientId,
    /// A human-readable name.
    pub name: String,
    /// The organization (customer) it belongs to, if any: the `org_id` claim.
    pub org_id: Option<OrgId>,
    /// Active or disabled.
    pub status: ClientStatus,
    /// Free-form operator metadata, passed to the claims hook.
    pub metadata: BTreeMap<String, String>,
    /// Its secrets (hashes only); several during a rotation.
    pub secrets: Vec<StoredSecret>,
    /// Public keys it signs `private_key_jwt` assertions with (RFC 7523 §2.2);
    /// several during the customer's own rotation.
    #[serde(default)]
    pub keys: Vec<ClientKey>,
    /// Where its public keys are published instead (OpenID Connect Core §9, the
    /// `jwks_uri` client metadata of RFC 7591 §2): https only, fetched and cached.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// Its own quota on token requests ([`crate::quota`]), if any.
    #[serde(default)]
    pub quota: Option<crate::quota::Quota>,
    /// Its organization's quota, copied onto every client of the organization so a
    /// token request reads it with the client, in the same round trip.
    #[serde(default)]
    pub org_quota: Option<crate::quota::Quota>,
    /// Every token of this client issued before this instant (unix seconds) is
    /// revoked (RFC 7009 §2: revocation by the operator, or on disabling the client).
    #[serde(default)]
    pub not_before: Option<u64>,
    /// Bumped whenever one of its tokens is revoked by `jti`, so a token kept for
    /// reuse is never handed out after any revocation of the client's tokens.
    #[serde(default)]
    pub revocation_epoch: u64,
    /// May call the introspection endpoint (RFC 7662 §2.1: the endpoint requires
    /// authorization; a resource server's client is given it by the operator).
    #[serde(default)]
    pub introspect: bool,
    /// Optimistic-concurrency version, bumped on every write, including a change to
    /// its keys or trust rules.
    pub version: u64,
}

/// Most public keys one client may register. The assertion names its key by `kid`;
/// one without a `kid` is tried against each unexpired key, so the list stays short.
pub const MAX_CLIENT_KEYS: usize = 16;

/// A public key registered by a client for `private_key_jwt` (RFC 7523 §2.2): the JWK
/// as given (public members only), its `kid` and an optional expiry, so a customer
/// rotates its own keys with an overlap.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientKey {
    /// The JWK's `kid`, or its RFC 7638 thumbprint when it had none.
    pub kid: String,
    /// The public JWK, as JSON text (RFC 7517 §4).
    pub jwk: String,
    /// Unix seconds.
    pub added_at: u64,
    /// Unix seconds after which the key no longer authenticates.
    pub expires_at: Option<u64>,
}

impl ClientKey {
    /// Whether the key may authenticate at `now`.
    pub fn usable_at(&self, now: u64) -> bool {
        self.expires_at.is_none_or(|e| now < e)
    }
}

/// How a trust rule compares a claim of an external token with what it expects.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Match {
    /// The claim equals this string, byte for byte.
    Exact(String),
    /// The whole claim matches this pattern: `*` stands for any run of characters
    /// (none included) and `?` for exactly one; everything else is literal. Anchored
    /// at both ends, so `repo:acme/api:*` never matches `repo:acme/api-evil:…` unless
    /// the operator wrote it to.
    Glob(String),
}

impl Match {
    /// Whether `value` satisfies this condition.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Self::Exact(expected) => expected == value,
            Self::Glob(pattern) => wildmatch::WildMatch::new(pattern).matches(value),
        }
    }

    /// The expected value or pattern.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Exact(s) | Self::Glob(s) => s,
        }
    }
}

/// A federated credential (workload identity federation): a token from `issuer`
/// whose `sub`, `aud` and listed claims match authenticates as the client that holds
/// the rule, presented as an RFC 7523 §2.2 client assertion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustRule {
    /// The rule's id (`tr_` and random characters).
    pub id: String,
    /// The external issuer (`iss`), exactly as it appears in its tokens; https, and on
    /// the deployment's allowlist when used.
    pub issuer: String,
    /// The `sub` expected.
    pub subject: Match,
    /// The `aud` the external token must carry (one of its values).
    pub audience: String,
    /// Further claims, each a string that must match (for example GitHub's
    /// `repository` and `ref`).
    #[serde(default)]
    pub claims: BTreeMap<String, Match>,
    /// Free text for the operator.
    #[serde(default)]
    pub description: String,
    /// Unix seconds.
    pub created_at: u64,
}

/// The scopes one client may obtain for one API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The client.
    pub client_id: ClientId,
    /// The API.
    pub audience: Audience,
    /// The granted scopes (a subset of the API's).
    pub scopes: ScopeSet,
}

/// Where a signing key is in its lifecycle (DESIGN.md "Keys and JWKS").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyStatus {
    /// Published in the JWKS, not yet signing.
    Pending,
    /// Signs new tokens; exactly one key is active.
    Active,
    /// Published until every token it signed has expired.
    Retired,
    /// Compromised or withdrawn: never published and never signs, at once (RFC 7517
    /// §5: a verifier trusts exactly the keys in the set).
    Revoked,
}

wire_names!(KeyStatus, "key status", {
    Pending => "pending",
    Active => "active",
    Retired => "retired",
    Revoked => "revoked",
});

/// A signing key in the registry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKey {
    /// RFC 7638 thumbprint of the public key.
    pub kid: Kid,
    /// The KMS key id or ARN.
    pub kms_key_id: String,
    /// The algorithm.
    pub alg: Alg,
    /// Lifecycle state.
    pub status: KeyStatus,
    /// The public key as a JWK (with `kid`, `alg`, `use`), served by the JWKS.
    pub public_jwk: Jwk,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds.
    pub activated_at: Option<u64>,
    /// Unix seconds.
    pub retired_at: Option<u64>,
}

/// The key that will sign, as the [`crate::ports::Signer`] hands it out: the active
/// [`SigningKey`]'s JWS header values and the backend's handle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActiveKey {
    /// The JWS `alg`.
    pub alg: Alg,
    /// The JWS `kid` (RFC 7638 thumbprint).
    pub kid: Kid,
    /// The backend's key reference (a KMS key id or ARN; a label for fakes).
    pub handle: String,
}
