//! Shared test support: authorizer events from a recorded API Gateway fixture, access
//! tokens minted with the software signers (any header, any claims), an in-memory key
//! registry that counts its reads, and the app under test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use authorizer::config::AuthorizerConfig;
use authorizer::routes::RouteScopes;
use authorizer::{ApiGatewayV2CustomAuthorizerV2Request, App};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use m2m_core::error::PortError;
use m2m_core::keys::KeySource;
use m2m_core::model::{KeyStatus, SigningKey};
use m2m_core::ports::Signer;
use m2m_core::testing::fixtures::{API, CLIENT_ID, ISSUER};
use m2m_core::testing::{InMemoryRevocations, SoftwareSigner};
use serde_json::{json, Value};

const EVENT: &str = include_str!("../fixtures/apigw_v2_authorizer_request.json");

/// The routes of the protected API in these tests.
pub const ROUTES: &str = r#"{
    "GET /orders": "read:orders",
    "POST /orders": "read:orders write:orders",
    "DELETE /orders/{id}": "admin",
    "GET /health": ""
}"#;

/// The recorded authorizer event for `route` with `authorization` as its only
/// `Authorization` header (none when `None`), parsed as the runtime parses it.
pub fn event(route: &str, authorization: Option<&str>) -> ApiGatewayV2CustomAuthorizerV2Request {
    let mut e: Value = serde_json::from_str(EVENT).unwrap();
    e["routeKey"] = json!(route);
    e["requestContext"]["routeKey"] = json!(route);
    let headers = e["headers"].as_object_mut().unwrap();
    match authorization {
        Some(v) => {
            headers.insert("authorization".into(), json!(v));
            e["identitySource"] = json!([v]);
        }
        None => {
            headers.remove("authorization");
            e.as_object_mut().unwrap().remove("identitySource");
        }
    }
    serde_json::from_value(e).unwrap()
}

/// `Bearer <token>` for `GET /orders`.
pub fn bearer(token: &str) -> ApiGatewayV2CustomAuthorizerV2Request {
    event("GET /orders", Some(&format!("Bearer {token}")))
}

/// A token under construction: header and claims as JSON, signed on demand.
#[derive(Clone, Debug)]
pub struct Mint {
    /// The JOSE header.
    pub header: Value,
    /// The claims.
    pub claims: Value,
}

impl Mint {
    /// What the token function issues to the fixtures' client for [`API`] at `iat`
    /// (RFC 9068 profile), signed by `signer`'s key.
    pub fn new(signer: &SoftwareSigner, iat: u64) -> Self {
        let jwk = signer.jwk();
        Self {
            header: json!({"alg": jwk.alg, "kid": jwk.kid, "typ": "at+jwt"}),
            claims: json!({
                "iss": ISSUER,
                "sub": CLIENT_ID,
                "aud": API,
                "client_id": CLIENT_ID,
                "iat": iat,
                "exp": iat + 3600,
                "jti": format!("jti-{iat}-{}", NEXT.fetch_add(1, Ordering::SeqCst)),
                "scope": "read:orders write:orders",
            }),
        }
    }

    /// Sets a claim (`Value::Null` removes it).
    pub fn claim(mut self, name: &str, value: Value) -> Self {
        let claims = self.claims.as_object_mut().unwrap();
        if value.is_null() {
            claims.remove(name);
        } else {
            claims.insert(name.to_owned(), value);
        }
        self
    }

    /// Sets a header member (`Value::Null` removes it).
    pub fn header(mut self, name: &str, value: Value) -> Self {
        let header = self.header.as_object_mut().unwrap();
        if value.is_null() {
            header.remove(name);
        } else {
            header.insert(name.to_owned(), value);
        }
        self
    }

    /// The token's `jti`.
    pub fn jti(&self) -> String {
        self.claims["jti"].as_str().unwrap().to_owned()
    }

    /// The signing input `base64url(header).base64url(claims)`.
    pub fn signing_input(&self) -> String {
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(self.header.to_string()),
            URL_SAFE_NO_PAD.encode(self.claims.to_string())
        )
    }

    /// The compact JWS signed by `signer`.
    pub async fn sign(&self, signer: &SoftwareSigner) -> String {
        let input = self.signing_input();
        let key = signer.active_key().await.unwrap();
        let signature = signer.sign(&key, input.as_bytes()).await.unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// The compact JWS with `signature` as its signature bytes.
    pub fn with_signature(&self, signature: &[u8]) -> String {
        format!(
            "{}.{}",
            self.signing_input(),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The registry record of `signer`'s key in state `status`.
pub fn registry_key(signer: &SoftwareSigner, status: KeyStatus, at: u64) -> SigningKey {
    let jwk = signer.jwk();
    SigningKey {
        kid: jwk.kid.clone().unwrap(),
        kms_key_id: format!("kms-{}", jwk.kid.as_ref().unwrap()),
        alg: jwk.algorithm().unwrap(),
        status,
        public_jwk: jwk,
        created_at: at,
        activated_at: (status != KeyStatus::Pending).then_some(at),
        retired_at: (status == KeyStatus::Retired).then_some(at),
    }
}

/// An in-memory [`KeySource`] that counts reads, can be made to fail, and can be
/// slowed down.
#[derive(Debug, Default)]
pub struct FakeKeys {
    keys: Mutex<Vec<SigningKey>>,
    reads: AtomicUsize,
    failing: Mutex<bool>,
    delay: Mutex<Option<Duration>>,
}

impl FakeKeys {
    pub fn new(keys: Vec<SigningKey>) -> Self {
        Self {
            keys: Mutex::new(keys),
            ..Self::default()
        }
    }

    pub fn set(&self, keys: Vec<SigningKey>) {
        *self.keys.lock().unwrap() = keys;
    }

    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }

    pub fn fail(&self, failing: bool) {
        *self.failing.lock().unwrap() = failing;
    }

    pub fn slow(&self, delay: Duration) {
        *self.delay.lock().unwrap() = Some(delay);
    }
}

impl KeySource for FakeKeys {
    async fn signing_keys(&self) -> Result<Vec<SigningKey>, PortError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let delay = *self.delay.lock().unwrap();
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        if *self.failing.lock().unwrap() {
            return Err(PortError::unavailable("fake registry down"));
        }
        Ok(self.keys.lock().unwrap().clone())
    }
}

/// The configuration of the tests: [`ISSUER`], [`API`], [`ROUTES`], a revocation
/// cache bound of `bound` seconds.
pub fn config(bound: u64) -> AuthorizerConfig {
    AuthorizerConfig {
        table: "unused".into(),
        issuer: ISSUER.into(),
        audience: API.into(),
        routes: RouteScopes::parse(ROUTES).unwrap(),
        revocation_cache_seconds: bound,
    }
}

/// The app over `keys` and `revocations` with the test configuration.
pub fn app(
    keys: FakeKeys,
    revocations: InMemoryRevocations,
    bound: u64,
) -> App<FakeKeys, InMemoryRevocations> {
    App::new(&config(bound), keys, revocations)
}

/// The app with the RS256 and ES256 software keys active in the registry, nothing
/// revoked, and a 30 s revocation bound.
pub fn standard_app() -> App<FakeKeys, InMemoryRevocations> {
    app(
        FakeKeys::new(vec![
            registry_key(&SoftwareSigner::rs256(), KeyStatus::Active, 0),
            registry_key(&SoftwareSigner::es256(), KeyStatus::Pending, 0),
        ]),
        InMemoryRevocations::new(),
        30,
    )
}
