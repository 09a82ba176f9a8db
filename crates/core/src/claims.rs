//! The access token's claim set: the RFC 9068 §2.2 profile or the Auth0-compatible
//! one, and the merge of a hook's custom claims that never touches a reserved claim.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;
use serde_json::{Map, Value};

use crate::hook::hook_may_set;
use crate::model::{Client, Profile};
use crate::types::{Audience, ScopeSet};

/// What the claim set is built from.
#[derive(Debug)]
pub struct ClaimInput<'a> {
    /// `iss`.
    pub issuer: &'a str,
    /// The authenticated client.
    pub client: &'a Client,
    /// `aud`.
    pub audience: &'a Audience,
    /// `scope`.
    pub scopes: &'a ScopeSet,
    /// `iat`, unix seconds.
    pub now: u64,
    /// Lifetime in seconds: `exp` = `iat` + lifetime.
    pub lifetime: u64,
    /// The API's profile.
    pub profile: Profile,
}

/// A fresh `jti`: 128 random bits, base64url (RFC 9068 §2.2, RFC 7519 §4.1.7 "MUST
/// be assigned in a manner that ensures that there is a negligible probability that
/// the same value will be accidentally assigned to a different data object").
pub fn new_jti() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The JWS `typ` header of a profile: `at+jwt` (RFC 9068 §2.1) or `JWT` (Auth0).
pub fn typ(profile: Profile) -> &'static str {
    match profile {
        Profile::Rfc9068 => "at+jwt",
        Profile::Auth0 => "JWT",
    }
}

/// Builds the claim set (RFC 9068 §2.2: `iss`, `exp`, `aud`, `sub`, `client_id`,
/// `iat`, `jti`, plus `scope` §2.2.3); the Auth0 profile uses `sub` =
/// `<client_id>@clients`, `azp` and `gty` instead of `client_id`.
pub fn build_claims(input: &ClaimInput<'_>) -> Map<String, Value> {
    let mut c = Map::new();
    let client_id = input.client.id.as_str();
    c.insert("iss".into(), Value::from(input.issuer));
    c.insert("aud".into(), Value::from(input.audience.as_str()));
    c.insert("iat".into(), Value::from(input.now));
    c.insert(
        "exp".into(),
        Value::from(input.now.saturating_add(input.lifetime)),
    );
    c.insert("jti".into(), Value::from(new_jti()));
    c.insert("scope".into(), Value::from(input.scopes.to_wire()));
    match input.profile {
        Profile::Rfc9068 => {
            c.insert("sub".into(), Value::from(client_id));
            c.insert("client_id".into(), Value::from(client_id));
        }
        Profile::Auth0 => {
            c.insert("sub".into(), Value::from(format!("{client_id}@clients")));
            c.insert("azp".into(), Value::from(client_id));
            c.insert("gty".into(), Value::from("client-credentials"));
        }
    }
    if let Some(org) = &input.client.org_id {
        c.insert("org_id".into(), Value::from(org.as_str()));
    }
    c
}

/// Adds the hook's claims to `claims`, skipping reserved ones, plain names not on the
/// operator's `allowlist` ([`hook_may_set`]) and any the token already carries.
/// Returns the names it dropped, for a warning in the log.
pub fn merge_custom_claims(
    claims: &mut Map<String, Value>,
    custom: Map<String, Value>,
    allowlist: &[String],
) -> Vec<String> {
    let mut dropped = Vec::new();
    for (name, value) in custom {
        if !hook_may_set(&name, allowlist) || claims.contains_key(&name) {
            dropped.push(name);
        } else {
            claims.insert(name, value);
        }
    }
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ClientStatus;
    use crate::types::{ClientId, OrgId};

    fn client() -> Client {
        Client {
            id: ClientId::new("c1"),
            name: "n".into(),
            org_id: Some(OrgId::new("org_1")),
            status: ClientStatus::Active,
            metadata: Default::default(),
            secrets: vec![],
            keys: Vec::new(),
            jwks_uri: None,
            quota: None,
            org_quota: None,
            not_before: None,
            revocation_epoch: 0,
            introspect: false,
            version: 1,
        }
    }

    #[test]
    fn reserved_claims_dropped() {
        let c = client();
        let aud = Audience::new("a");
        let scopes = ScopeSet::parse("x").unwrap();
        let mut claims = build_claims(&ClaimInput {
            issuer: "https://iss",
            client: &c,
            audience: &aud,
            scopes: &scopes,
            now: 10,
            lifetime: 5,
            profile: Profile::Rfc9068,
        });
        let mut custom = Map::new();
        custom.insert("sub".into(), Value::from("evil"));
        custom.insert("scope".into(), Value::from("admin"));
        custom.insert("https://acme.example/plan".into(), Value::from("gold"));
        let dropped = merge_custom_claims(&mut claims, custom, &[]);
        assert_eq!(dropped, vec!["scope".to_string(), "sub".to_string()]);
        assert_eq!(claims["sub"], "c1");
        assert_eq!(claims["scope"], "x");
        assert_eq!(claims["https://acme.example/plan"], "gold");
        assert_eq!(claims["exp"], 15);
        assert_eq!(claims["org_id"], "org_1");
    }

    fn base_claims() -> Map<String, Value> {
        let c = client();
        build_claims(&ClaimInput {
            issuer: "https://iss",
            client: &c,
            audience: &Audience::new("a"),
            scopes: &ScopeSet::parse("x").unwrap(),
            now: 10,
            lifetime: 5,
            profile: Profile::Rfc9068,
        })
    }

    #[test]
    fn authority_claims_reserved_dropped() {
        let names = [
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
        let mut claims = base_claims();
        let custom: Map<String, Value> = names
            .iter()
            .map(|n| ((*n).to_owned(), Value::from("admin")))
            .collect();
        // Even an operator allowlist cannot open a reserved name.
        let allow: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut dropped = merge_custom_claims(&mut claims, custom, &allow);
        dropped.sort();
        let mut expected: Vec<String> = allow.clone();
        expected.sort();
        assert_eq!(dropped, expected);
        for n in names {
            assert!(!claims.contains_key(n), "{n}");
        }
    }

    #[test]
    fn plain_claim_names_need_allowlist() {
        let mut claims = base_claims();
        let custom: Map<String, Value> = [
            ("tier", "gold"),
            ("plan", "gold"),
            ("https://acme.example/tier", "gold"),
            ("urn:acme:tier", "gold"),
            ("acme.example/region", "eu"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Value::from(v)))
        .collect();
        let dropped = merge_custom_claims(&mut claims, custom, &["plan".to_owned()]);
        assert_eq!(dropped, vec!["tier".to_string()]);
        assert_eq!(claims["plan"], "gold");
        assert_eq!(claims["https://acme.example/tier"], "gold");
        assert_eq!(claims["urn:acme:tier"], "gold");
        assert_eq!(claims["acme.example/region"], "eu");
    }

    #[test]
    fn collision_resistant_names_recognised() {
        use crate::hook::is_collision_resistant as cr;
        for ok in [
            "https://a.example/x",
            "urn:x:y",
            "a.example/x",
            "x-y.example.com/a/b",
        ] {
            assert!(cr(ok), "{ok}");
        }
        for bad in [
            "x",
            "scp",
            ":x",
            "1a:b",
            "a:",
            "a/b",
            ".a/b",
            "a./b",
            "a.b/",
            "https://a b",
            "",
        ] {
            assert!(!cr(bad), "{bad}");
        }
    }

    #[test]
    fn jti_unique() {
        let set: std::collections::HashSet<_> = (0..1000).map(|_| new_jti()).collect();
        assert_eq!(set.len(), 1000);
    }
}
