//! The bodies of the m2m-auth fuzz targets. Each takes arbitrary bytes,
//! feeds them to one parser or decoder of the service, and checks what must hold for
//! every input: no panic, and the target's invariant (a round trip, an RFC 6749 error
//! body, scopes within the grant, reserved claims untouched).
//!
//! A violated invariant is an `assert!`: in a fuzz harness a panic is the report (this
//! crate is test code; the service's crates forbid panics). The same functions run
//! under libFuzzer (`fuzz/fuzz_targets/*`, nightly) and under the stable smoke run
//! (`tests/smoke.rs`), which replays `fuzz/seeds/<target>/` and mutations of it.
#![deny(missing_docs)]

use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use m2m_aws::dynamo::item;
use m2m_core::basic::{decode_basic, encode_basic};
use m2m_core::claims::{build_claims, merge_custom_claims, ClaimInput};
use m2m_core::hook::{HookResponse, RESERVED_CLAIMS};
use m2m_core::http_response::{admit, token_http_response, ErrorAnswer, Refusal};
use m2m_core::request::AuthMethod;
use m2m_core::signature::{ecdsa_der_to_jws, jws_to_ecdsa_der};
use m2m_core::testing::{fixtures, FakeHook, InMemoryDirectory, NoopSigner};
use m2m_core::types::{Audience, ScopeSet};
use m2m_core::{issue_token, parse_token_request, IssuerConfig};
use serde_json::Value;

/// A fuzz target's body: one input, no result (a violated invariant panics).
pub type Target = fn(&[u8]);

/// Every target, by name (the libFuzzer binary and the `fuzz/seeds/` folder share it).
pub const TARGETS: &[(&str, Target)] = &[
    ("token_request", token_request),
    ("basic_header", basic_header),
    ("der_signature", der_signature),
    ("hook_response", hook_response),
    ("dynamo_item", dynamo_item),
    ("client_assertion", client_assertion),
];

/// Drives a future that never waits on I/O or timers (the in-memory fakes) to
/// completion, without a runtime: cheap enough to run once per fuzz input.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

fn issuer_config() -> IssuerConfig {
    IssuerConfig {
        issuer: fixtures::ISSUER.to_owned(),
        default_audience: None,
        assertions: Default::default(),
    }
}

fn granted() -> ScopeSet {
    fixtures::scopes(fixtures::GRANTED_SCOPES)
}

/// The claims of a compact JWS (its payload, base64url JSON).
fn token_claims(token: &str) -> serde_json::Map<String, Value> {
    let payload = token.split('.').nth(1).unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD.decode(payload).unwrap_or_default();
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(m)) => m,
        other => panic!("token payload is not a JSON object: {other:?}"),
    }
}

/// Checks the HTTP answer of an outcome: RFC 6749 §5.1 on success, §5.2 otherwise.
fn check_response<E: ErrorAnswer>(outcome: &Result<m2m_core::TokenResponse, E>) {
    let response = token_http_response(outcome);
    let body: Value = match serde_json::from_str(response.body()) {
        Ok(v) => v,
        Err(e) => panic!("response body is not JSON: {e}"),
    };
    assert_eq!(
        response
            .headers()
            .get("cache-control")
            .map(|v| v.as_bytes()),
        Some(&b"no-store"[..])
    );
    match outcome {
        Ok(_) => {
            assert_eq!(response.status(), 200);
            assert_eq!(body["token_type"], "Bearer");
            assert!(body["access_token"].is_string());
        }
        Err(e) => {
            assert!(
                [400, 401, 403, 405, 413, 500, 503].contains(&response.status().as_u16()),
                "{}",
                response.status()
            );
            assert_eq!(body["error"], e.code());
            assert!(body["error_description"].is_string());
            assert!(body.get("access_token").is_none());
            if response.status() == 401 {
                assert!(response.headers().contains_key("www-authenticate"));
            }
        }
    }
}

/// Splits a token-request input: `METHOD\nCONTENT-TYPE\nAUTHORIZATION\nBODY`; an
/// empty header line means the header is absent.
pub fn split_request(data: &[u8]) -> (String, Option<String>, Option<String>, &[u8]) {
    let mut parts = data.splitn(4, |b| *b == b'\n');
    let mut line = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let method = line();
    let content_type = Some(line()).filter(|s| !s.is_empty());
    let authorization = Some(line()).filter(|s| !s.is_empty());
    let mut rest = data;
    for _ in 0..3 {
        rest = match rest.iter().position(|b| *b == b'\n') {
            Some(i) => &rest[i + 1..],
            None => &[],
        };
    }
    (method, content_type, authorization, rest)
}

/// Target `token_request`: the token request parser (method, content type,
/// `Authorization`, body; form and JSON) and, when it parses, issuance against the
/// fixture directory (client `client-1`, secret `m2m_sk_client-1-secret`).
///
/// Invariants: every outcome is a token or an RFC 6749 §5.2 error body; a parsed
/// request has a client id and well-formed scopes; an issued token's scope is within
/// the grant and its lifetime within the API's.
pub fn token_request(data: &[u8]) {
    let (method, content_type, authorization, body) = split_request(data);
    let parsed = admit(&method, body).and_then(|()| {
        parse_token_request(content_type.as_deref(), authorization.as_deref(), body)
            .map_err(Refusal::from)
    });
    let request = match parsed {
        Err(e) => return check_response(&Err(e)),
        Ok(r) => r,
    };
    assert!(!request.client_id.as_str().is_empty());
    if request.auth.method() == AuthMethod::Basic {
        assert!(authorization.is_some());
    }
    if let Some(scope) = &request.scope {
        assert!(!scope.is_empty());
        assert_eq!(ScopeSet::parse(&scope.to_wire()).as_ref(), Some(scope));
    }
    if let Some(a) = &request.audience {
        assert!(!a.as_str().contains('#') && !a.as_str().is_empty());
    }
    let directory: InMemoryDirectory = fixtures::directory();
    let outcome = block_on(issue_token(
        &request,
        fixtures::NOW,
        &issuer_config(),
        &directory,
        &NoopSigner::new(),
        None::<&FakeHook>,
        &m2m_core::ports::NoKeySets,
    ));
    if let Ok(token) = &outcome {
        let scopes = ScopeSet::parse(&token.scope).unwrap_or_default();
        assert!(scopes.is_subset(&granted()), "{}", token.scope);
        assert!(token.expires_in <= m2m_core::model::DEFAULT_TOKEN_LIFETIME);
        let claims = token_claims(&token.access_token);
        assert_eq!(claims["sub"], fixtures::CLIENT_ID);
        assert_eq!(claims["aud"], fixtures::API);
    }
    check_response(&outcome);
}

/// Target `client_assertion`: the JWT client assertion parser (RFC 7523 §2.2), then
/// client authentication and issuance for whatever parses, against the fixture
/// client holding the three test keys, a trusted external issuer and a federated
/// client trusting it.
///
/// The input is used twice: whole, as the compact JWS; and as the claims segment of
/// an assertion with a fixed header and a signature that cannot be valid.
///
/// Invariants: no panic; an accepted assertion is three segments within
/// [`m2m_core::assertion::MAX_ASSERTION_BYTES`] and parses the same again; no
/// fuzzer-made assertion ever authenticates (it holds no valid signature), and every
/// outcome is an RFC 6749 §5.2 error body.
pub fn client_assertion(data: &[u8]) {
    use m2m_core::assertion::{Assertion, MAX_ASSERTION_BYTES};
    use m2m_core::testing::assertions::{assertion_form, RSA};

    let text = String::from_utf8_lossy(data);
    if let Ok(parsed) = Assertion::parse(&text) {
        assert!(text.len() <= MAX_ASSERTION_BYTES);
        assert_eq!(text.matches('.').count(), 2);
        assert_eq!(Assertion::parse(&text).as_ref(), Ok(&parsed));
    }
    let header =
        URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"RS256","kid":"{}"}}"#, RSA.thumbprint()));
    let as_claims = format!("{header}.{}.c2lnbmF0dXJl", URL_SAFE_NO_PAD.encode(data));
    for jwt in [text.as_ref(), as_claims.as_str()] {
        for client in ["", "&client_id=client-1", "&client_id=wl-client"] {
            let body = assertion_form(
                jwt,
                &format!("{client}&audience=https%3A%2F%2Fapi.example.com"),
            );
            assertion_issuance(body.as_bytes());
        }
    }
}

fn assertion_issuance(body: &[u8]) {
    use m2m_core::model::Match;
    use m2m_core::testing::assertions::{
        jwk_set, trust_rule, FakeKeySets, EC, ED25519, EXTERNAL_ISSUER, RSA,
    };
    use m2m_core::types::ClientId;

    let request = match parse_token_request(Some("application/x-www-form-urlencoded"), None, body) {
        Ok(r) => r,
        Err(e) => return check_response(&Err(e)),
    };
    let directory: InMemoryDirectory = fixtures::directory();
    directory.update_client(&ClientId::new(fixtures::CLIENT_ID), |c| {
        c.keys = vec![
            RSA.client_key(None),
            EC.client_key(None),
            ED25519.client_key(None),
        ];
    });
    directory.put_client(fixtures::client("wl-client", "unused"));
    directory.put_trust_rule(
        &ClientId::new("wl-client"),
        trust_rule("tr_1", Match::Glob("*".into()), fixtures::API),
    );
    let key_sets = FakeKeySets::new().with_issuer(EXTERNAL_ISSUER, jwk_set(&[RSA, EC, ED25519]));
    let config = IssuerConfig {
        assertions: m2m_core::auth::AssertionPolicy {
            trusted_issuers: vec![EXTERNAL_ISSUER.to_owned()],
            ..Default::default()
        },
        ..issuer_config()
    };
    let outcome = block_on(issue_token(
        &request,
        fixtures::NOW,
        &config,
        &directory,
        &NoopSigner::new(),
        None::<&FakeHook>,
        &key_sets,
    ));
    assert!(outcome.is_err(), "a forged assertion authenticated");
    check_response(&outcome);
}

/// Target `basic_header`: the `Authorization: Basic` decoder (RFC 6749 §2.3.1).
///
/// Invariants: no panic; a decoded header has a non-empty client id, and encoding the
/// decoded pair then decoding it again gives the same pair.
pub fn basic_header(data: &[u8]) {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    let Ok((id, secret)) = decode_basic(header) else {
        return;
    };
    assert!(!id.as_str().is_empty());
    assert!(header
        .trim()
        .get(..5)
        .is_some_and(|s| s.eq_ignore_ascii_case("basic")));
    let again = decode_basic(&encode_basic(id.as_str(), secret.expose()));
    match again {
        Ok((id2, secret2)) => {
            assert_eq!(id2, id);
            assert_eq!(secret2.expose(), secret.expose());
        }
        Err(e) => panic!("re-encoded header refused: {e}"),
    }
}

/// Target `der_signature`: KMS's DER ECDSA signature to JWS `r‖s` (RFC 7518 §3.4).
///
/// Invariants: no panic; an accepted input is canonical DER, so converting the JWS
/// form back to DER reproduces the input byte for byte.
pub fn der_signature(data: &[u8]) {
    let Ok(jws) = ecdsa_der_to_jws(data) else {
        return;
    };
    match jws_to_ecdsa_der(&jws) {
        Ok(der) => assert_eq!(der, data, "accepted DER is not canonical"),
        Err(e) => panic!("JWS form of an accepted signature refused: {e}"),
    }
}

/// Target `hook_response`: the claims hook's answer (DESIGN.md "Custom-claims hook"),
/// parsed strictly, merged into a token's claims, and run through issuance.
///
/// Invariants: a parsed answer round-trips through JSON; merging never changes,
/// adds or removes a reserved claim; an issued token keeps its reserved claims and a
/// scope within the grant; everything else is an RFC 6749 error body.
pub fn hook_response(data: &[u8]) {
    let Ok(answer) = HookResponse::from_json(data) else {
        return hook_issuance(data);
    };
    let json = match serde_json::to_vec(&answer) {
        Ok(j) => j,
        Err(e) => panic!("a parsed hook answer does not serialize: {e}"),
    };
    assert_eq!(HookResponse::from_json(&json).ok().as_ref(), Some(&answer));

    let client = fixtures::client_in_org(fixtures::CLIENT_ID, "s", "org_1");
    let audience = Audience::new(fixtures::API);
    let scopes = granted();
    let mut claims = build_claims(&ClaimInput {
        issuer: fixtures::ISSUER,
        client: &client,
        audience: &audience,
        scopes: &scopes,
        now: fixtures::NOW,
        lifetime: 3600,
        profile: m2m_core::model::Profile::Rfc9068,
    });
    let before = claims.clone();
    merge_custom_claims(&mut claims, answer.claims.clone(), &[]);
    for name in RESERVED_CLAIMS {
        assert_eq!(
            claims.get(*name),
            before.get(*name),
            "reserved claim {name}"
        );
    }
    for (name, value) in &before {
        assert_eq!(
            claims.get(name),
            Some(value),
            "existing claim {name} changed"
        );
    }
    hook_issuance(data);
}

fn hook_issuance(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let request = match parse_token_request(
        Some("application/x-www-form-urlencoded"),
        None,
        b"grant_type=client_credentials&client_id=client-1&client_secret=m2m_sk_client-1-secret&audience=https%3A%2F%2Fapi.example.com",
    ) {
        Ok(r) => r,
        Err(e) => panic!("fixture request refused: {e}"),
    };
    let hook = FakeHook::raw_json(text);
    let outcome = block_on(issue_token(
        &request,
        fixtures::NOW,
        &issuer_config(),
        &fixtures::directory(),
        &NoopSigner::new(),
        Some(&hook),
        &m2m_core::ports::NoKeySets,
    ));
    if let Ok(token) = &outcome {
        let claims = token_claims(&token.access_token);
        assert_eq!(claims["iss"], fixtures::ISSUER);
        assert_eq!(claims["sub"], fixtures::CLIENT_ID);
        assert_eq!(claims["client_id"], fixtures::CLIENT_ID);
        assert_eq!(claims["aud"], fixtures::API);
        assert_eq!(claims["iat"], fixtures::NOW);
        assert_eq!(claims["exp"], fixtures::NOW + token.expires_in);
        assert!(claims.get("org_id").is_none() && claims.get("nbf").is_none());
        assert_eq!(claims["scope"], token.scope.as_str());
        let scopes = ScopeSet::parse(&token.scope).unwrap_or_default();
        assert!(scopes.is_subset(&granted()), "{}", token.scope);
    }
    check_response(&outcome);
}

/// One attribute value in DynamoDB's JSON wire form (`{"S": ".."}`, `{"M": {..}}`, ..);
/// `None` for anything else.
pub fn attribute_value(v: &Value) -> Option<AttributeValue> {
    let obj = v.as_object()?;
    if obj.len() != 1 {
        return None;
    }
    let (tag, inner) = obj.iter().next()?;
    let strings = |v: &Value| -> Option<Vec<String>> {
        v.as_array()?
            .iter()
            .map(|s| s.as_str().map(str::to_owned))
            .collect()
    };
    Some(match tag.as_str() {
        "S" => AttributeValue::S(inner.as_str()?.to_owned()),
        "N" => AttributeValue::N(inner.as_str()?.to_owned()),
        "B" => AttributeValue::B(Blob::new(STANDARD.decode(inner.as_str()?).ok()?)),
        "BOOL" => AttributeValue::Bool(inner.as_bool()?),
        "NULL" => AttributeValue::Null(inner.as_bool()?),
        "SS" => AttributeValue::Ss(strings(inner)?),
        "NS" => AttributeValue::Ns(strings(inner)?),
        "L" => AttributeValue::L(
            inner
                .as_array()?
                .iter()
                .map(attribute_value)
                .collect::<Option<_>>()?,
        ),
        "M" => AttributeValue::M(item(inner)?),
        _ => return None,
    })
}

/// An item (a map of attribute values) from DynamoDB's JSON wire form.
pub fn item(v: &Value) -> Option<HashMap<String, AttributeValue>> {
    v.as_object()?
        .iter()
        .map(|(k, v)| Some((k.clone(), attribute_value(v)?)))
        .collect()
}

/// The JSON wire form of an item (the inverse of [`item`]), for writing seeds.
pub fn item_json(item: &HashMap<String, AttributeValue>) -> Value {
    fn av(v: &AttributeValue) -> Value {
        match v {
            AttributeValue::S(s) => serde_json::json!({ "S": s }),
            AttributeValue::N(n) => serde_json::json!({ "N": n }),
            AttributeValue::B(b) => serde_json::json!({ "B": STANDARD.encode(b.as_ref()) }),
            AttributeValue::Bool(b) => serde_json::json!({ "BOOL": b }),
            AttributeValue::Null(b) => serde_json::json!({ "NULL": b }),
            AttributeValue::Ss(s) => serde_json::json!({ "SS": s }),
            AttributeValue::Ns(s) => serde_json::json!({ "NS": s }),
            AttributeValue::L(l) => {
                serde_json::json!({ "L": l.iter().map(av).collect::<Vec<_>>() })
            }
            AttributeValue::M(m) => serde_json::json!({ "M": item_json(m) }),
            _ => Value::Null,
        }
    }
    Value::Object(item.iter().map(|(k, v)| (k.clone(), av(v))).collect())
}

/// Target `dynamo_item`: the strict item decoders of `m2m_aws::dynamo::item` (API, client,
/// grant, signing key) on an arbitrary item given in DynamoDB's JSON wire form.
///
/// Invariants: no panic; whatever decodes re-encodes to an item that decodes to the
/// same value; an error names an attribute, never a value longer than a name.
pub fn dynamo_item(data: &[u8]) {
    let Ok(json) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Some(item) = item(&json) else {
        return;
    };
    let check_error = |e: &item::ItemError| {
        assert!(e.attribute.len() <= 64, "attribute path too long: {e}");
    };
    match item::api_from_item(&item) {
        Ok(api) => assert_eq!(
            item::api_from_item(&item::api_to_item(&api)).ok().as_ref(),
            Some(&api)
        ),
        Err(e) => check_error(&e),
    }
    match item::client_from_item(&item) {
        Ok(client) => assert_eq!(
            item::client_from_item(&item::client_to_item(&client))
                .ok()
                .as_ref(),
            Some(&client)
        ),
        Err(e) => check_error(&e),
    }
    match item::grant_from_item(&item) {
        Ok(grant) => assert_eq!(
            item::grant_from_item(&item::grant_to_item(&grant))
                .ok()
                .as_ref(),
            Some(&grant)
        ),
        Err(e) => check_error(&e),
    }
    match item::signing_key_from_item(&item) {
        Ok(key) => {
            let encoded = match item::signing_key_to_item(&key) {
                Ok(i) => i,
                Err(e) => panic!("a decoded signing key does not encode: {e}"),
            };
            assert_eq!(
                item::signing_key_from_item(&encoded).ok().as_ref(),
                Some(&key)
            );
        }
        Err(e) => check_error(&e),
    }
}
