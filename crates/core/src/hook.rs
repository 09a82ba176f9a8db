//! The custom-claims hook contract, version "1" (DESIGN.md): what the token function
//! sends a hook and what it accepts back. Any language can implement it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Contract version sent in every request.
pub const HOOK_VERSION: &str = "1";

/// Claims a hook can never set (DESIGN.md "The access token").
pub const RESERVED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "client_id",
    "scope",
    "azp",
    "gty",
    "org_id",
];

/// The client as the hook sees it: no secrets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HookClient {
    /// client_id.
    pub id: String,
    /// Client name.
    pub name: String,
    /// Organization, if any.
    pub org_id: Option<String>,
    /// Operator metadata.
    pub metadata: BTreeMap<String, String>,
}

/// Sent to the hook after authentication and scope resolution, before signing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HookRequest {
    /// Always [`HOOK_VERSION`].
    pub version: String,
    /// The authenticated client.
    pub client: HookClient,
    /// The API identifier.
    pub audience: String,
    /// The resolved scopes, sorted.
    pub scopes: Vec<String>,
    /// The claims the token will carry so far.
    pub claims: Map<String, Value>,
}

/// The hook's refusal.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookDeny {
    /// Shown to the caller as the `error_description` of a 403 `access_denied`.
    #[serde(default)]
    pub error_description: String,
}

/// The hook's answer: claims to add, optionally narrowed scopes, or a refusal.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookResponse {
    /// Claims to add; reserved ones are dropped with a warning.
    #[serde(default)]
    pub claims: Map<String, Value>,
    /// A subset of the request's scopes to narrow to; widening is an error.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Refuse the token.
    #[serde(default)]
    pub deny: Option<HookDeny>,
}

impl HookResponse {
    /// Parses a hook's JSON answer strictly: anything but the documented shape is an
    /// error, and the token endpoint fails closed on it.
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        // serde accepts a JSON array for a struct; the contract says object.
        match serde_json::from_slice::<Value>(bytes)? {
            v @ Value::Object(_) => serde_json::from_value(v),
            _ => Err(serde::de::Error::custom(
                "the hook answer must be a JSON object",
            )),
        }
    }
}
