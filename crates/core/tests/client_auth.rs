//! Client authentication by JWT assertion (RFC 7523 §2.2, §3): `private_key_jwt` with
//! registered keys and with a `jwks_uri`, and federated trust rules. Each refusal is
//! `invalid_client` (or `invalid_request` for two methods at once) with nothing
//! signed; assertions are signed with `jsonwebtoken`, independently of the verifier's
//! key handling. In-memory fakes and a fixed clock; no AWS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::Algorithm;
use m2m_core::assertion::MAX_ASSERTION_BYTES;
use m2m_core::auth::AssertionPolicy;
use m2m_core::basic::encode_basic;
use m2m_core::error::OAuthError;
use m2m_core::model::{ClientStatus, Match};
use m2m_core::ports::NoHook;
use m2m_core::testing::assertions::{
    assertion_form, jwk_set, self_claims, trust_rule, FakeKeySets, TestKey, EC, ED25519,
    EXTERNAL_ISSUER, RSA,
};
use m2m_core::testing::fixtures::{self, API, CLIENT_ID, CLIENT_SECRET, ISSUER, NOW};
use m2m_core::testing::{Failure, InMemoryDirectory, NoopSigner};
use m2m_core::types::ClientId;
use m2m_core::{issue_token, parse_token_request, IssuerConfig, TokenResponse};
use serde_json::{json, Value};

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
const TOKEN_ENDPOINT: &str = "https://auth.example.com/oauth/token";
const AUD_PARAM: &str = "&audience=https%3A%2F%2Fapi.example.com";
const JWKS_URI: &str = "https://keys.customer.example/jwks.json";
const FEDERATED: &str = "wl-client";
const K8S_SUB: &str = "system:serviceaccount:payments:api";

fn config() -> IssuerConfig {
    IssuerConfig {
        assertions: AssertionPolicy {
            trusted_issuers: vec![EXTERNAL_ISSUER.to_owned()],
            ..AssertionPolicy::default()
        },
        ..m2m_testkit::issuer_config(ISSUER)
    }
}

/// A client holding the three test keys, granted on the fixture API; a federated
/// client trusting the cluster's `payments/api` service account; and a client whose
/// keys are at a `jwks_uri`.
fn world() -> (InMemoryDirectory, FakeKeySets) {
    let dir = fixtures::directory();
    dir.update_client(&ClientId::new(CLIENT_ID), |c| {
        c.keys = vec![
            RSA.client_key(None),
            EC.client_key(None),
            ED25519.client_key(None),
        ];
    });
    let mut federated = fixtures::client(FEDERATED, "unused");
    federated.secrets.clear();
    dir.put_client(federated);
    dir.put_grant(fixtures::grant(FEDERATED, API, &["read:orders"]));
    dir.put_trust_rule(
        &ClientId::new(FEDERATED),
        trust_rule("tr_k8s", Match::Exact(K8S_SUB.into()), "m2m-auth"),
    );
    let mut remote = fixtures::client("remote-keys", "unused");
    remote.secrets.clear();
    remote.jwks_uri = Some(JWKS_URI.into());
    dir.put_client(remote);
    dir.put_grant(fixtures::grant("remote-keys", API, &["read:orders"]));
    let keys = FakeKeySets::new()
        .with_uri(JWKS_URI, jwk_set(&[EC]))
        .with_issuer(EXTERNAL_ISSUER, jwk_set(&[RSA, ED25519]));
    (dir, keys)
}

async fn issue(
    dir: &InMemoryDirectory,
    keys: &FakeKeySets,
    body: &str,
    authorization: Option<&str>,
    now: u64,
) -> (Result<TokenResponse, OAuthError>, usize) {
    let signer = NoopSigner::default();
    let outcome = match parse_token_request(FORM, authorization, body.as_bytes()) {
        Ok(req) => issue_token(&req, now, &config(), dir, &signer, None::<&NoHook>, keys).await,
        Err(e) => Err(e),
    };
    (outcome, signer.sign_count())
}

fn own(key: TestKey, claims: &Value, alg: Option<Algorithm>, kid: Option<&str>) -> String {
    assertion_form(&key.sign(claims, alg, kid), AUD_PARAM)
}

fn claims(jti: &str) -> Value {
    self_claims(CLIENT_ID, TOKEN_ENDPOINT, NOW, jti)
}

async fn refused(dir: &InMemoryDirectory, keys: &FakeKeySets, body: &str, why: &str) {
    let (outcome, signed) = issue(dir, keys, body, None, NOW).await;
    assert!(
        matches!(outcome, Err(OAuthError::InvalidClient)),
        "{why}: {outcome:?}"
    );
    assert_eq!(signed, 0, "{why}: nothing may be signed");
}

fn payload(token: &str) -> Value {
    let p = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
}

// ---- private_key_jwt with registered keys ----

#[tokio::test]
async fn each_key_type_authenticates() {
    let (dir, keys) = world();
    for (key, alg, n) in [
        (RSA, Algorithm::RS256, "1"),
        (RSA, Algorithm::PS256, "2"),
        (EC, Algorithm::ES256, "3"),
        (ED25519, Algorithm::EdDSA, "4"),
    ] {
        let body = own(key, &claims(n), Some(alg), None);
        let (outcome, signed) = issue(&dir, &keys, &body, None, NOW).await;
        let token = outcome.unwrap_or_else(|e| panic!("{alg:?}: {e:?}"));
        assert_eq!(signed, 1);
        assert_eq!(payload(&token.access_token)["client_id"], CLIENT_ID);
    }
}

#[tokio::test]
async fn issuer_identifier_is_an_accepted_audience() {
    let (dir, keys) = world();
    let c = self_claims(CLIENT_ID, ISSUER, NOW, "j1");
    let (outcome, _) = issue(&dir, &keys, &own(EC, &c, None, None), None, NOW).await;
    outcome.unwrap();
}

#[tokio::test]
async fn key_without_kid_is_found_by_trying_the_clients_keys() {
    let (dir, keys) = world();
    let body = own(ED25519, &claims("j1"), None, Some(""));
    let (outcome, _) = issue(&dir, &keys, &body, None, NOW).await;
    outcome.unwrap();
}

#[tokio::test]
async fn client_id_parameter_is_optional_and_must_match() {
    let (dir, keys) = world();
    let body = format!(
        "{}&client_id={CLIENT_ID}",
        own(EC, &claims("j1"), None, None)
    );
    issue(&dir, &keys, &body, None, NOW).await.0.unwrap();
    // Another client's id with this client's assertion: not self-signed for it.
    let body = format!(
        "{}&client_id={FEDERATED}",
        own(EC, &claims("j2"), None, None)
    );
    refused(&dir, &keys, &body, "client_id differs from iss").await;
}

#[tokio::test]
async fn wrong_or_missing_audience_refused() {
    let (dir, keys) = world();
    let mut c = claims("j1");
    c["aud"] = json!("https://elsewhere.example/oauth/token");
    refused(&dir, &keys, &own(EC, &c, None, None), "wrong aud").await;
    let mut c = claims("j2");
    c.as_object_mut().unwrap().remove("aud");
    refused(&dir, &keys, &own(EC, &c, None, None), "missing aud").await;
}

#[tokio::test]
async fn expired_refused() {
    let (dir, keys) = world();
    let mut c = claims("j1");
    c["iat"] = json!(NOW - 600);
    c["exp"] = json!(NOW - 120);
    refused(&dir, &keys, &own(EC, &c, None, None), "expired").await;
}

#[tokio::test]
async fn exp_too_far_ahead_refused() {
    let (dir, keys) = world();
    let mut c = claims("j1");
    c["exp"] = json!(NOW + 3600);
    refused(
        &dir,
        &keys,
        &own(EC, &c, None, None),
        "an hour-long assertion",
    )
    .await;
}

#[tokio::test]
async fn missing_exp_refused() {
    let (dir, keys) = world();
    let mut c = claims("j1");
    c.as_object_mut().unwrap().remove("exp");
    refused(&dir, &keys, &own(EC, &c, None, None), "no exp").await;
}

#[tokio::test]
async fn iat_in_the_future_refused() {
    let (dir, keys) = world();
    let mut c = claims("j1");
    c["iat"] = json!(NOW + 600);
    c["exp"] = json!(NOW + 200);
    refused(&dir, &keys, &own(EC, &c, None, None), "iat ahead").await;
    // Within the skew it passes.
    let mut c = claims("j2");
    c["iat"] = json!(NOW + 30);
    issue(&dir, &keys, &own(EC, &c, None, None), None, NOW)
        .await
        .0
        .unwrap();
}

#[tokio::test]
async fn replayed_jti_refused_and_missing_jti_refused() {
    let (dir, keys) = world();
    let body = own(EC, &claims("once"), None, None);
    issue(&dir, &keys, &body, None, NOW).await.0.unwrap();
    refused(&dir, &keys, &body, "the same assertion again").await;
    // Kept until the assertion expires (plus the skew), not forever.
    let kept = dir.claimed_jtis(&ClientId::new(CLIENT_ID));
    assert_eq!(kept, vec![("once".to_owned(), NOW + 120 + 60)]);
    let mut c = claims("x");
    c.as_object_mut().unwrap().remove("jti");
    refused(&dir, &keys, &own(EC, &c, None, None), "no jti").await;
}

#[tokio::test]
async fn alg_none_refused() {
    let (dir, keys) = world();
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims("j1").to_string());
    for jwt in [format!("{header}.{body}."), format!("{header}.{body}.AA")] {
        refused(&dir, &keys, &assertion_form(&jwt, AUD_PARAM), "alg none").await;
    }
}

#[tokio::test]
async fn hs256_with_the_public_key_as_secret_refused() {
    let (dir, keys) = world();
    // The classic confusion: an HMAC keyed with the bytes of the registered public key.
    for secret in [RSA.public_jwk().as_bytes().to_vec(), b"AQAB".to_vec()] {
        let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
        header.kid = Some(RSA.thumbprint());
        let jwt = jsonwebtoken::encode(
            &header,
            &claims("j1"),
            &jsonwebtoken::EncodingKey::from_secret(&secret),
        )
        .unwrap();
        refused(&dir, &keys, &assertion_form(&jwt, AUD_PARAM), "HS256").await;
    }
}

#[tokio::test]
async fn algorithm_not_fitting_the_key_refused() {
    let (dir, keys) = world();
    // An RSA key's kid with an ES256 header, signed by the EC key.
    let body = own(EC, &claims("j1"), None, Some(&RSA.thumbprint()));
    refused(&dir, &keys, &body, "alg/key mismatch").await;
}

#[tokio::test]
async fn unknown_kid_refused() {
    let (dir, keys) = world();
    let body = own(EC, &claims("j1"), None, Some("not-registered"));
    refused(&dir, &keys, &body, "unknown kid").await;
}

#[tokio::test]
async fn unregistered_key_refused() {
    let (dir, keys) = world();
    dir.update_client(&ClientId::new(CLIENT_ID), |c| {
        c.keys = vec![EC.client_key(None)]
    });
    let body = own(RSA, &claims("j1"), None, Some(""));
    refused(&dir, &keys, &body, "a key the client never registered").await;
}

#[tokio::test]
async fn expired_key_refused_unexpired_overlap_works() {
    let (dir, keys) = world();
    dir.update_client(&ClientId::new(CLIENT_ID), |c| {
        c.keys = vec![EC.client_key(Some(NOW)), RSA.client_key(Some(NOW + 86_400))];
    });
    refused(
        &dir,
        &keys,
        &own(EC, &claims("j1"), None, None),
        "expired key",
    )
    .await;
    issue(&dir, &keys, &own(RSA, &claims("j2"), None, None), None, NOW)
        .await
        .0
        .unwrap();
}

#[tokio::test]
async fn sub_not_matching_refused() {
    let (dir, keys) = world();
    let mut c = claims("j1");
    c["sub"] = json!("someone-else");
    let body = format!("{}&client_id={CLIENT_ID}", own(EC, &c, None, None));
    refused(&dir, &keys, &body, "sub differs from iss").await;
}

#[tokio::test]
async fn unknown_and_disabled_clients_refused_alike() {
    let (dir, keys) = world();
    let c = self_claims("nobody", TOKEN_ENDPOINT, NOW, "j1");
    refused(&dir, &keys, &own(EC, &c, None, None), "unknown client").await;
    dir.update_client(&ClientId::new(CLIENT_ID), |c| {
        c.status = ClientStatus::Disabled
    });
    refused(&dir, &keys, &own(EC, &claims("j2"), None, None), "disabled").await;
}

#[tokio::test]
async fn tampered_signature_refused() {
    let (dir, keys) = world();
    let jwt = EC.sign(&claims("j1"), None, None);
    let (head, _) = jwt.rsplit_once('.').unwrap();
    let other = EC.sign(&claims("j2"), None, None);
    let sig = other.rsplit('.').next().unwrap();
    let body = assertion_form(&format!("{head}.{sig}"), AUD_PARAM);
    refused(&dir, &keys, &body, "signature of another assertion").await;
}

#[tokio::test]
async fn assertion_and_secret_together_invalid_request() {
    let (dir, keys) = world();
    let body = format!(
        "{}&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}",
        own(EC, &claims("j1"), None, None)
    );
    let (outcome, signed) = issue(&dir, &keys, &body, None, NOW).await;
    assert!(
        matches!(outcome, Err(OAuthError::InvalidRequest(_))),
        "{outcome:?}"
    );
    let basic = encode_basic(CLIENT_ID, CLIENT_SECRET);
    let body = own(EC, &claims("j2"), None, None);
    let (outcome2, signed2) = issue(&dir, &keys, &body, Some(&basic), NOW).await;
    assert!(
        matches!(outcome2, Err(OAuthError::InvalidRequest(_))),
        "{outcome2:?}"
    );
    assert_eq!(signed + signed2, 0);
}

#[tokio::test]
async fn oversized_assertion_refused() {
    let (dir, keys) = world();
    let mut c = claims("j1");
    c["padding"] = json!("x".repeat(MAX_ASSERTION_BYTES));
    refused(&dir, &keys, &own(EC, &c, None, None), "oversized").await;
}

#[tokio::test]
async fn assertion_type_rules() {
    let (dir, keys) = world();
    let jwt = EC.sign(&claims("j1"), None, None);
    let body = format!("grant_type=client_credentials&client_assertion={jwt}{AUD_PARAM}");
    let (outcome, _) = issue(&dir, &keys, &body, None, NOW).await;
    assert!(
        matches!(outcome, Err(OAuthError::InvalidRequest(_))),
        "{outcome:?}"
    );
    let body = format!(
        "grant_type=client_credentials&client_assertion_type=urn%3Aexample%3Aother&client_assertion={jwt}{AUD_PARAM}"
    );
    refused(&dir, &keys, &body, "another assertion type").await;
    refused(
        &dir,
        &keys,
        &assertion_form("not.a.jwt", AUD_PARAM),
        "garbage",
    )
    .await;
}

#[tokio::test]
async fn assertion_authenticated_requests_never_reuse() {
    let (dir, keys) = world();
    for n in 0..2 {
        let body = own(EC, &claims(&format!("j{n}")), None, None);
        let (outcome, signed) = issue(&dir, &keys, &body, None, NOW).await;
        outcome.unwrap();
        assert_eq!(signed, 1, "request {n} signs");
    }
    assert_eq!(
        dir.reuse_store_count(),
        0,
        "nothing cached under a public key"
    );
}

// ---- private_key_jwt with a jwks_uri ----

fn remote_claims(jti: &str) -> Value {
    self_claims("remote-keys", TOKEN_ENDPOINT, NOW, jti)
}

#[tokio::test]
async fn jwks_uri_keys_authenticate() {
    let (dir, keys) = world();
    let (outcome, _) = issue(
        &dir,
        &keys,
        &own(EC, &remote_claims("j1"), None, None),
        None,
        NOW,
    )
    .await;
    outcome.unwrap();
    refused(
        &dir,
        &keys,
        &own(RSA, &remote_claims("j2"), None, None),
        "a key not in the set",
    )
    .await;
}

#[tokio::test]
async fn jwks_uri_refused_by_the_fetcher_is_invalid_client() {
    let (dir, keys) = world();
    // What the fetcher answers for a private, loopback or link-local address.
    keys.fail_with(Some(Failure::refused("169.254.169.254 is link-local")));
    refused(
        &dir,
        &keys,
        &own(EC, &remote_claims("j1"), None, None),
        "SSRF guard",
    )
    .await;
}

#[tokio::test]
async fn jwks_uri_timeout_is_a_transient_server_error() {
    let (dir, keys) = world();
    keys.fail_with(Some(Failure::timeout("slow")));
    let (outcome, signed) = issue(
        &dir,
        &keys,
        &own(EC, &remote_claims("j1"), None, None),
        None,
        NOW,
    )
    .await;
    assert!(
        matches!(outcome, Err(OAuthError::ServerError(_))),
        "{outcome:?}"
    );
    assert_eq!(signed, 0);
}

// ---- federated trust rules ----

fn k8s_claims() -> Value {
    json!({
        "iss": EXTERNAL_ISSUER,
        "sub": K8S_SUB,
        "aud": ["m2m-auth"],
        "iat": NOW - 60,
        "nbf": NOW - 60,
        "exp": NOW + 3600,
        "jti": "k8s-1",
        "kubernetes.io": {"namespace": "payments"},
    })
}

fn federated_form(token: &str) -> String {
    assertion_form(token, &format!("&client_id={FEDERATED}{AUD_PARAM}"))
}

#[tokio::test]
async fn federated_token_authenticates_and_may_be_presented_again() {
    let (dir, keys) = world();
    let body = federated_form(&RSA.sign(&k8s_claims(), None, None));
    let (outcome, _) = issue(&dir, &keys, &body, None, NOW).await;
    let token = outcome.unwrap();
    assert_eq!(payload(&token.access_token)["client_id"], FEDERATED);
    // A workload's standing token: accepted again (and answered from reuse).
    let (again, signed) = issue(&dir, &keys, &body, None, NOW + 1).await;
    again.unwrap();
    assert_eq!(signed, 0, "the second request is a reuse hit");
}

#[tokio::test]
async fn federated_glob_and_claim_conditions() {
    let (dir, keys) = world();
    let id = ClientId::new(FEDERATED);
    let mut rule = trust_rule(
        "tr_gh",
        Match::Glob("repo:acme/payments:*".into()),
        "https://auth.example.com",
    );
    rule.claims
        .insert("repository".into(), Match::Exact("acme/payments".into()));
    rule.claims
        .insert("ref".into(), Match::Glob("refs/heads/*".into()));
    dir.put_trust_rule(&id, rule);
    let gh = |sub: &str, repo: &str, r#ref: &str| {
        json!({
            "iss": EXTERNAL_ISSUER, "sub": sub, "aud": "https://auth.example.com",
            "iat": NOW, "exp": NOW + 300, "repository": repo, "ref": r#ref,
        })
    };
    let ok = gh(
        "repo:acme/payments:ref:refs/heads/main",
        "acme/payments",
        "refs/heads/main",
    );
    let body = federated_form(&ED25519.sign(&ok, None, None));
    issue(&dir, &keys, &body, None, NOW).await.0.unwrap();
    for (bad, why) in [
        (
            gh(
                "repo:acme/payments-evil:ref:refs/heads/main",
                "acme/payments",
                "refs/heads/main",
            ),
            "sub outside the pattern",
        ),
        (
            gh(
                "repo:acme/payments:ref:refs/heads/main",
                "acme/other",
                "refs/heads/main",
            ),
            "repository differs",
        ),
        (
            gh(
                "repo:acme/payments:ref:refs/tags/v1",
                "acme/payments",
                "refs/tags/v1",
            ),
            "ref outside the pattern",
        ),
    ] {
        refused(
            &dir,
            &keys,
            &federated_form(&ED25519.sign(&bad, None, None)),
            why,
        )
        .await;
    }
}

#[tokio::test]
async fn federated_sub_not_matching_refused() {
    let (dir, keys) = world();
    let mut c = k8s_claims();
    c["sub"] = json!("system:serviceaccount:payments:other");
    refused(
        &dir,
        &keys,
        &federated_form(&RSA.sign(&c, None, None)),
        "sub",
    )
    .await;
}

#[tokio::test]
async fn federated_wrong_audience_refused() {
    let (dir, keys) = world();
    let mut c = k8s_claims();
    c["aud"] = json!(["kubernetes"]);
    refused(
        &dir,
        &keys,
        &federated_form(&RSA.sign(&c, None, None)),
        "aud",
    )
    .await;
}

#[tokio::test]
async fn issuer_not_on_the_allowlist_refused_without_a_fetch() {
    let (dir, keys) = world();
    let mut c = k8s_claims();
    c["iss"] = json!("https://attacker.example");
    let before = keys.fetches();
    refused(
        &dir,
        &keys,
        &federated_form(&RSA.sign(&c, None, None)),
        "issuer",
    )
    .await;
    assert_eq!(
        keys.fetches(),
        before,
        "nothing fetched for an untrusted issuer"
    );
}

#[tokio::test]
async fn issuer_refused_by_the_fetcher_is_invalid_client() {
    let (dir, keys) = world();
    keys.fail_with(Some(Failure::refused("10.0.0.7 is private")));
    let body = federated_form(&RSA.sign(&k8s_claims(), None, None));
    refused(&dir, &keys, &body, "issuer on a private address").await;
}

#[tokio::test]
async fn federated_token_signed_by_another_key_refused() {
    let (dir, keys) = world();
    let body = federated_form(&EC.sign(&k8s_claims(), None, None));
    refused(&dir, &keys, &body, "a key the issuer does not publish").await;
}

#[tokio::test]
async fn federated_expired_refused() {
    let (dir, keys) = world();
    let mut c = k8s_claims();
    c["exp"] = json!(NOW - 61);
    refused(
        &dir,
        &keys,
        &federated_form(&RSA.sign(&c, None, None)),
        "expired",
    )
    .await;
}

#[tokio::test]
async fn federated_unknown_client_reads_rules_like_a_known_one() {
    let (dir, keys) = world();
    let token = RSA.sign(&k8s_claims(), None, None);
    let before = dir.trust_rule_reads();
    let body = assertion_form(&token, &format!("&client_id=nobody{AUD_PARAM}"));
    refused(&dir, &keys, &body, "unknown client").await;
    assert_eq!(
        dir.trust_rule_reads(),
        before + 1,
        "same reads as a known client"
    );
    // Another client's rules never apply.
    let body = assertion_form(&token, &format!("&client_id={CLIENT_ID}{AUD_PARAM}"));
    refused(&dir, &keys, &body, "a client without the rule").await;
}
