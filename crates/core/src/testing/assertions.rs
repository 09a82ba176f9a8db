//! Client assertions for tests: fixed key pairs of every accepted type (generated
//! once with OpenSSL, used by tests only, never by a deployment), signing with
//! `jsonwebtoken` (independent of the verifier's key handling), and a [`KeySets`]
//! fake serving JWK Sets by source.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use super::{lock, Failure};
use crate::assertion::keys::registrable_jwk;
use crate::error::PortError;
use crate::model::{ClientKey, Match, TrustRule};
use crate::ports::{JwkSet, JwksSource, KeySets};
use crate::request::JWT_BEARER;

/// A test key pair: the private key in PKCS#8 PEM and the public JWK.
#[derive(Clone, Copy, Debug)]
pub struct TestKey {
    /// The algorithm it signs with by default.
    pub alg: Algorithm,
    private_pem: &'static str,
    public_jwk: &'static str,
}

/// RSA 2048 (RS256 by default; PS256 with the same key).
pub const RSA: TestKey = TestKey {
    alg: Algorithm::RS256,
    private_pem: include_str!("keys/rsa.pem"),
    public_jwk: include_str!("keys/rsa.jwk.json"),
};
/// EC P-256 (ES256).
pub const EC: TestKey = TestKey {
    alg: Algorithm::ES256,
    private_pem: include_str!("keys/ec.pem"),
    public_jwk: include_str!("keys/ec.jwk.json"),
};
/// Ed25519 (EdDSA).
pub const ED25519: TestKey = TestKey {
    alg: Algorithm::EdDSA,
    private_pem: include_str!("keys/ed25519.pem"),
    public_jwk: include_str!("keys/ed25519.jwk.json"),
};

impl TestKey {
    /// The public JWK, as JSON text, without `kid`.
    pub fn public_jwk(&self) -> &'static str {
        self.public_jwk
    }

    /// The public JWK as JSON with `kid` set.
    pub fn public_jwk_with_kid(&self, kid: &str) -> String {
        let mut v: Value = serde_json::from_str(self.public_jwk).unwrap_or(Value::Null);
        v["kid"] = json!(kid);
        v.to_string()
    }

    /// Its RFC 7638 thumbprint: the `kid` a registration without one gets.
    pub fn thumbprint(&self) -> String {
        registrable_jwk(self.public_jwk)
            .map(|(kid, _)| kid)
            .unwrap_or_default()
    }

    /// The registered form, under its thumbprint.
    pub fn client_key(&self, expires_at: Option<u64>) -> ClientKey {
        ClientKey {
            kid: self.thumbprint(),
            jwk: self.public_jwk.to_owned(),
            added_at: 0,
            expires_at,
        }
    }

    fn encoding_key(&self) -> Option<EncodingKey> {
        let pem = self.private_pem.as_bytes();
        match self.alg {
            Algorithm::ES256 => EncodingKey::from_ec_pem(pem).ok(),
            Algorithm::EdDSA => EncodingKey::from_ed_pem(pem).ok(),
            _ => EncodingKey::from_rsa_pem(pem).ok(),
        }
    }

    /// Signs `claims` with `alg` (this key's default when `None`) and `kid` in the
    /// header (the thumbprint when `None`; no `kid` with `Some("")`).
    pub fn sign(&self, claims: &Value, alg: Option<Algorithm>, kid: Option<&str>) -> String {
        let mut header = Header::new(alg.unwrap_or(self.alg));
        header.kid = match kid {
            None => Some(self.thumbprint()),
            Some("") => None,
            Some(k) => Some(k.to_owned()),
        };
        self.encoding_key()
            .and_then(|key| jsonwebtoken::encode(&header, claims, &key).ok())
            .unwrap_or_default()
    }
}

/// The claims of a client's own assertion (RFC 7523 §3) for `client_id`, to
/// `audience`, issued at `now`, valid two minutes, with `jti`.
pub fn self_claims(client_id: &str, audience: &str, now: u64, jti: &str) -> Value {
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + 120,
        "jti": jti,
    })
}

/// A form body presenting `assertion` (RFC 7523 §2.2), with `extra` appended.
pub fn assertion_form(assertion: &str, extra: &str) -> String {
    let mut body = form_urlencoded::Serializer::new(String::new());
    body.append_pair("grant_type", "client_credentials")
        .append_pair("client_assertion_type", JWT_BEARER)
        .append_pair("client_assertion", assertion);
    let mut body = body.finish();
    body.push_str(extra);
    body
}

/// The issuer of the federated tokens in tests (shaped like a Kubernetes cluster's).
pub const EXTERNAL_ISSUER: &str = "https://oidc.cluster.example";

/// A trust rule for [`EXTERNAL_ISSUER`] expecting `subject` and `audience`.
pub fn trust_rule(id: &str, subject: Match, audience: &str) -> TrustRule {
    TrustRule {
        id: id.to_owned(),
        issuer: EXTERNAL_ISSUER.to_owned(),
        subject,
        audience: audience.to_owned(),
        claims: Default::default(),
        description: String::new(),
        created_at: 0,
    }
}

/// A JWK Set of `keys`, each with its thumbprint as `kid`.
pub fn jwk_set(keys: &[TestKey]) -> JwkSet {
    let keys = keys
        .iter()
        .map(|k| {
            serde_json::from_str(&k.public_jwk_with_kid(&k.thumbprint()))
                .unwrap_or_else(|_| unreachable_jwk())
        })
        .collect();
    JwkSet { keys }
}

fn unreachable_jwk() -> jsonwebtoken::jwk::Jwk {
    jsonwebtoken::jwk::Jwk {
        common: Default::default(),
        algorithm: jsonwebtoken::jwk::AlgorithmParameters::OctetKey(Default::default()),
    }
}

#[derive(Debug, Default)]
struct SetsState {
    uris: HashMap<String, Arc<JwkSet>>,
    issuers: HashMap<String, Arc<JwkSet>>,
    failure: Option<Failure>,
}

/// A [`KeySets`] fake: JWK Sets by URI and by issuer, a fetch counter and a failure
/// switch.
#[derive(Clone, Debug, Default)]
pub struct FakeKeySets {
    state: Arc<Mutex<SetsState>>,
    fetches: Arc<AtomicUsize>,
}

impl FakeKeySets {
    /// No key sets.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `set` at `uri`.
    pub fn with_uri(self, uri: &str, set: JwkSet) -> Self {
        lock(&self.state).uris.insert(uri.to_owned(), Arc::new(set));
        self
    }

    /// Serves `set` for `issuer`.
    pub fn with_issuer(self, issuer: &str, set: JwkSet) -> Self {
        lock(&self.state)
            .issuers
            .insert(issuer.to_owned(), Arc::new(set));
        self
    }

    /// Makes every fetch fail (or succeed again with `None`).
    pub fn fail_with(&self, failure: Option<Failure>) {
        lock(&self.state).failure = failure;
    }

    /// How many key sets were asked for.
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl KeySets for FakeKeySets {
    async fn key_set(
        &self,
        source: JwksSource<'_>,
        _refresh: bool,
    ) -> Result<Arc<JwkSet>, PortError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let state = lock(&self.state);
        if let Some(f) = &state.failure {
            return Err(f.to_port_error());
        }
        let found = match source {
            JwksSource::Uri(u) => state.uris.get(u),
            JwksSource::Issuer(i) => state.issuers.get(i),
        };
        found
            .cloned()
            .ok_or_else(|| PortError::refused("no key set there"))
    }
}
