//! The custom-claims hook contract, version "1" (DESIGN.md): what the token function
//! sends a hook and what it accepts back. Any language can implement it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Contract version sent in every request.
pub const HOOK_VERSION: &str = "1";

/// Claims a hook can never set, even through the operator's allowlist: the token's own
/// (RFC 9068 §2.2, RFC 7519 §4.1, the Auth0 profile's `azp`/`gty`, `org_id`) and every
/// claim resource servers read as authority or binding: `scp` (API Gateway's JWT
/// authorizer), `permissions`, `roles`, `groups`, `entitlements` (RFC 9068 §2.2.3.1,
/// RFC 7643 §4.1.2), `cnf` (RFC 7800), `act`, `may_act` (RFC 8693 §4.1, §4.4), `typ`,
/// and the authentication claims `auth_time`, `acr`, `amr` (RFC 9068 §2.2.1).
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
    "scp",
    "permissions",
    "roles",
    "groups",
    "entitlements",
    "cnf",
    "act",
    "may_act",
    "typ",
    "auth_time",
    "acr",
    "amr",
];

/// The largest hook answer read, in bytes. Anything longer is refused before parsing
/// (fail closed): a hook's claims must fit in a token under the 4096-byte signing input
/// anyway.
pub const MAX_HOOK_ANSWER_BYTES: usize = 16 * 1024;

/// Whether a hook may set claim `name`: never a [`RESERVED_CLAIMS`] name; otherwise a
/// collision-resistant name (RFC 7519 §4.2: a URI such as
/// `https://acme.example/plan` or `urn:acme:plan`, or a domain-namespaced name such as
/// `acme.example/plan`), or a plain name on the operator's `allowlist`.
pub fn hook_may_set(name: &str, allowlist: &[String]) -> bool {
    if RESERVED_CLAIMS.contains(&name) {
        return false;
    }
    is_collision_resistant(name) || allowlist.iter().any(|a| a == name)
}

/// RFC 7519 §4.2 collision-resistant names: an absolute URI (RFC 3986 §3.1 scheme, then
/// `:` and something), or `<domain with a dot>/<name>`.
pub fn is_collision_resistant(name: &str) -> bool {
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    if let Some((scheme, rest)) = name.split_once(':') {
        let mut chars = scheme.chars();
        let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        return scheme_ok && !rest.is_empty();
    }
    match name.split_once('/') {
        Some((domain, rest)) => {
            !rest.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && domain
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        }
        None => false,
    }
}

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
    /// Answers over [`MAX_HOOK_ANSWER_BYTES`] are refused without being parsed.
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        if bytes.len() > MAX_HOOK_ANSWER_BYTES {
            return Err(serde::de::Error::custom(format!(
                "the hook answer exceeds {MAX_HOOK_ANSWER_BYTES} bytes"
            )));
        }
        // serde accepts a JSON array for a struct; the contract says object.
        match serde_json::from_slice::<Value>(bytes)? {
            v @ Value::Object(_) => serde_json::from_value(v),
            _ => Err(serde::de::Error::custom(
                "the hook answer must be a JSON object",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_answer_rejected_before_parsing() {
        let pad = "x".repeat(MAX_HOOK_ANSWER_BYTES);
        let big = format!(r#"{{"claims":{{"https://a.example/p":"{pad}"}}}}"#);
        let e = HookResponse::from_json(big.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("exceeds"), "{e}");
        // Not even valid JSON is looked at past the cap.
        let junk = vec![b'{'; MAX_HOOK_ANSWER_BYTES + 1];
        assert!(HookResponse::from_json(&junk)
            .unwrap_err()
            .to_string()
            .contains("exceeds"));
        let ok = br#"{"claims":{"https://a.example/p":"gold"}}"#;
        assert!(HookResponse::from_json(ok).is_ok());
    }
}
