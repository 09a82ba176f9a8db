//! The directory's records: APIs, clients (with hashed secrets), grants and signing
//! keys, as DESIGN.md's table describes them. Adapters (de)serialize these.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::jwk::Jwk;
use crate::types::{Audience, ClientId, Kid, OrgId, ScopeSet, SecretId};

/// Default access-token lifetime in seconds (DESIGN.md).
pub const DEFAULT_TOKEN_LIFETIME: u64 = 3600;
/// Longest access-token lifetime an API may choose, in seconds.
pub const MAX_TOKEN_LIFETIME: u64 = 86_400;

/// The claim layout of an API's tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// RFC 9068 JWT access tokens: `typ` `at+jwt`, `sub` = client_id.
    #[default]
    Rfc9068,
    /// Auth0-compatible: `sub` = `<client_id>@clients`, `gty`, `azp`, `typ` `JWT`.
    Auth0,
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
}

impl Api {
    /// The lifetime actually used: the configured one, at least 1 s and at most
    /// [`MAX_TOKEN_LIFETIME`].
    pub fn effective_lifetime(&self) -> u64 {
        self.token_lifetime.clamp(1, MAX_TOKEN_LIFETIME)
    }
}

/// Whether a client may authenticate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientStatus {
    /// May obtain tokens.
    #[default]
    Active,
    /// Fails authentication exactly like an unknown client.
    Disabled,
}

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
    /// Optimistic-concurrency version, bumped on every write.
    pub version: u64,
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

/// A JWS signing algorithm we issue with (RFC 7518 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (KMS `RSA_2048`, `RSASSA_PKCS1_V1_5_SHA_256`).
    RS256,
    /// ECDSA P-256 with SHA-256 (KMS `ECC_NIST_P256`, `ECDSA_SHA_256`).
    ES256,
}

impl Alg {
    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
        }
    }

    /// Parses the JOSE name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "RS256" => Some(Self::RS256),
            "ES256" => Some(Self::ES256),
            _ => None,
        }
    }
}

/// Where a signing key is in its lifecycle (DESIGN.md "Keys and JWKS").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    /// Published in the JWKS, not yet signing.
    Pending,
    /// Signs new tokens; exactly one key is active.
    Active,
    /// Published until every token it signed has expired.
    Retired,
}

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
