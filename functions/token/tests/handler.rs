//! Handler tests from API Gateway HTTP API (v2) request fixtures, parsed by
//! `lambda_http::request::from_str` as the runtime does. Tokens from the software
//! signers are verified with an independent library (`jsonwebtoken`) using only the
//! published JWK.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::Algorithm;
use lambda_http::{Body, Request, Response};
use m2m_core::basic::encode_basic;
use m2m_core::jwk::Jwk;
use m2m_core::ports::{ClaimsHook, Directory, NoHook, Signer};
use m2m_core::testing::fixtures::{self, API, CLIENT_ID, CLIENT_SECRET, ISSUER, NOW};
use m2m_core::testing::{FakeHook, InMemoryDirectory, SoftwareSigner};
use m2m_testkit::event::{client_credentials_body, token_event, token_form};
use m2m_testkit::jwt::{self, Expect};
use serde_json::{json, Value};
use token::{handle, App};

fn app<S: Signer>(signer: S) -> App<InMemoryDirectory, S, NoHook, m2m_core::ports::NoKeySets> {
    App {
        key_sets: m2m_core::ports::NoKeySets,
        usage: Default::default(),
        config: m2m_testkit::issuer_config(ISSUER),
        directory: fixtures::directory(),
        signer,
        hook: None,
    }
}

fn body_json(r: &Response<Body>) -> Value {
    serde_json::from_slice(r.body().as_ref()).unwrap()
}

fn post_body(extra: &str) -> String {
    client_credentials_body(CLIENT_ID, CLIENT_SECRET, extra)
}

async fn call<D: Directory, S: Signer, H: ClaimsHook>(
    app: &App<D, S, H, m2m_core::ports::NoKeySets>,
    req: Request,
) -> Response<Body> {
    handle(app, &req, NOW).await
}

/// Verifies `token` with `jsonwebtoken` against only the published JWK, at the
/// fixed clock, and returns (header, claims).
fn verify(token: &str, jwk: &Jwk, alg: Algorithm) -> (jsonwebtoken::Header, Value) {
    let expect = Expect::new(alg)
        .audience(API)
        .issuer(ISSUER)
        .require(&["exp", "iat", "iss", "aud", "sub"])
        .valid_at(NOW);
    let verified = jwt::verify(token, jwk, &expect).unwrap();
    (verified.header, verified.claims)
}

#[tokio::test]
async fn rs256_rfc9068_basic_token_verifies_with_published_jwk() {
    let signer = SoftwareSigner::rs256();
    let jwk = signer.jwk();
    let app = app(signer);
    let basic = encode_basic(CLIENT_ID, CLIENT_SECRET);
    let req = token_event(
        "POST",
        &[("authorization", &basic)],
        "grant_type=client_credentials&audience=https%3A%2F%2Fapi.example.com&scope=read%3Aorders",
        false,
    );
    let r = call(&app, req).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["pragma"], "no-cache");
    let b = body_json(&r);
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(b["expires_in"], 3600);
    assert_eq!(b["scope"], "read:orders");
    let token = b["access_token"].as_str().unwrap();
    let (header, c) = verify(token, &jwk, Algorithm::RS256);
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.kid.as_deref(), jwk.kid.as_ref().map(|k| k.as_str()));
    assert_eq!(c["iss"], ISSUER);
    assert_eq!(c["sub"], CLIENT_ID);
    assert_eq!(c["client_id"], CLIENT_ID);
    assert_eq!(c["aud"], API);
    assert_eq!(c["iat"], NOW);
    assert_eq!(c["exp"], NOW + 3600);
    assert_eq!(c["scope"], "read:orders");
    assert!(c["jti"].is_string());
    assert!(c.get("azp").is_none() && c.get("gty").is_none());
}

#[tokio::test]
async fn es256_rfc9068_post_token_verifies_with_published_jwk() {
    let signer = SoftwareSigner::es256();
    let jwk = signer.jwk();
    let app = app(signer);
    let r = call(&app, token_form(&post_body(""))).await;
    assert_eq!(r.status(), 200);
    let token = body_json(&r)["access_token"].as_str().unwrap().to_owned();
    let (header, c) = verify(&token, &jwk, Algorithm::ES256);
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(c["scope"], "read:orders write:orders");
    // ES256 signatures are the fixed 64-byte r‖s (RFC 7518 §3.4).
    let sig = URL_SAFE_NO_PAD
        .decode(token.rsplit('.').next().unwrap())
        .unwrap();
    assert_eq!(sig.len(), 64);
}

async fn auth0_profile(signer: SoftwareSigner, alg: Algorithm) {
    let jwk = signer.jwk();
    let app = app(signer);
    app.directory
        .put_api(fixtures::auth0_api(API, fixtures::API_SCOPES));
    app.directory.put_client(fixtures::client_in_org(
        CLIENT_ID,
        CLIENT_SECRET,
        "org_acme",
    ));
    let r = call(&app, token_form(&post_body(""))).await;
    assert_eq!(r.status(), 200);
    let token = body_json(&r)["access_token"].as_str().unwrap().to_owned();
    let (header, c) = verify(&token, &jwk, alg);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(c["sub"], format!("{CLIENT_ID}@clients"));
    assert_eq!(c["azp"], CLIENT_ID);
    assert_eq!(c["gty"], "client-credentials");
    assert_eq!(c["org_id"], "org_acme");
    assert_eq!(c["iss"], ISSUER);
    assert_eq!(c["aud"], API);
}

#[tokio::test]
async fn rs256_auth0_profile_verifies() {
    auth0_profile(SoftwareSigner::rs256(), Algorithm::RS256).await;
}

#[tokio::test]
async fn es256_auth0_profile_verifies() {
    auth0_profile(SoftwareSigner::es256(), Algorithm::ES256).await;
}

#[tokio::test]
async fn json_body_accepted() {
    let app = app(SoftwareSigner::rs256());
    let body = json!({"grant_type":"client_credentials","client_id":CLIENT_ID,"client_secret":CLIENT_SECRET,"audience":API}).to_string();
    let r = call(
        &app,
        token_event(
            "POST",
            &[("content-type", "application/json")],
            &body,
            false,
        ),
    )
    .await;
    assert_eq!(r.status(), 200, "{:?}", body_json(&r));
}

#[tokio::test]
async fn base64_encoded_body_accepted() {
    let app = app(SoftwareSigner::rs256());
    let r = call(&app, token_event("POST", &[], &post_body(""), true)).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn get_method_not_allowed_405() {
    let app = app(SoftwareSigner::rs256());
    let r = call(&app, token_event("GET", &[], "", false)).await;
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "POST");
    assert_eq!(body_json(&r)["error"], "invalid_request");
}

#[tokio::test]
async fn oversized_body_refused_413() {
    let app = app(SoftwareSigner::rs256());
    let body = post_body(&format!("&pad={}", "a".repeat(9000)));
    let r = call(&app, token_form(&body)).await;
    assert_eq!(r.status(), 413);
    assert_eq!(body_json(&r)["error"], "invalid_request");
}

#[tokio::test]
async fn wrong_secret_401_with_challenge() {
    let app = app(SoftwareSigner::rs256());
    let r = call(
        &app,
        token_form(&post_body("").replace(CLIENT_SECRET, "m2m_sk_nope")),
    )
    .await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Basic realm=\"m2m-auth\"");
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(body_json(&r)["error"], "invalid_client");
}

#[tokio::test]
async fn unknown_audience_400_invalid_target() {
    let app = app(SoftwareSigner::rs256());
    let r = call(
        &app,
        token_form(&post_body("").replace("api.example.com", "nope.example.com")),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(body_json(&r)["error"], "invalid_target");
}

#[tokio::test]
async fn throttled_store_503_with_retry_after() {
    let app = app(SoftwareSigner::rs256());
    app.directory.fail(true);
    let r = call(&app, token_form(&post_body(""))).await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(body_json(&r)["error"], "server_error");
}

#[tokio::test]
async fn hook_claims_in_verified_token() {
    let signer = SoftwareSigner::rs256();
    let jwk = signer.jwk();
    let app = App {
        key_sets: m2m_core::ports::NoKeySets,
        usage: Default::default(),
        config: m2m_testkit::issuer_config(ISSUER),
        directory: fixtures::directory(),
        signer,
        hook: Some(FakeHook::claims(
            json!({"https://example.com/plan": "gold"}),
        )),
    };
    let r = call(&app, token_form(&post_body(""))).await;
    let token = body_json(&r)["access_token"].as_str().unwrap().to_owned();
    let (_, c) = verify(&token, &jwk, Algorithm::RS256);
    assert_eq!(c["https://example.com/plan"], "gold");
}

#[tokio::test]
async fn tokens_have_unique_jti() {
    let mut app = app(SoftwareSigner::es256());
    // Token reuse would answer the same token again: this is about fresh signatures.
    app.directory = fixtures::directory_without_reuse();
    let mut seen = HashSet::new();
    for _ in 0..50 {
        let r = call(&app, token_form(&post_body(""))).await;
        let token = body_json(&r)["access_token"].as_str().unwrap().to_owned();
        let payload: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap();
        assert!(seen.insert(payload["jti"].as_str().unwrap().to_owned()));
    }
}

#[tokio::test]
async fn non_ascii_authorization_invalid_request() {
    // Credentials in the body as well: a header that cannot be read must be refused,
    // not silently ignored in favour of the body.
    let app = app(SoftwareSigner::es256());
    let r = call(
        &app,
        token_event(
            "POST",
            &[("authorization", "Basic Y2xpZW50LTE6c2VjcmV0é")],
            &post_body(""),
            false,
        ),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(body_json(&r)["error"], "invalid_request");
}

#[test]
fn caller_client_id_logged_only_when_id_shaped() {
    use token::loggable_client_id as log;
    assert_eq!(
        log(Some("aB3dE5gH7jK9mN1pQ3sT5vX7")),
        "aB3dE5gH7jK9mN1pQ3sT5vX7"
    );
    assert_eq!(log(None), "-");
    assert_eq!(log(Some("a b")), "<malformed>");
    assert_eq!(log(Some("x\ny=forged")), "<malformed>");
    assert_eq!(log(Some("é")), "<malformed>");
    // A secret pasted as the id is never logged, prefixed or not.
    let secret = m2m_core::secret::generate_secret();
    assert_eq!(log(Some(secret.expose())), "<malformed>");
    let bare = &secret.expose()[m2m_core::secret::SECRET_PREFIX.len()..];
    let logged = log(Some(bare));
    assert!(
        logged.chars().count() <= token::TRUNCATED_CLIENT_ID + 1,
        "{logged}"
    );
    assert!(!logged.contains(&bare[..12]));
    // 8 KiB of id-shaped text: a few characters.
    assert_eq!(log(Some(&"a".repeat(8192))), "aaaaaaaa…");
}

#[tokio::test]
async fn request_over_budget_server_error_503() {
    // A hook slower than the whole request's budget (its own timeout aside): the
    // caller gets 503 server_error within the budget, never a Lambda timeout.
    let app = App {
        key_sets: m2m_core::ports::NoKeySets,
        usage: Default::default(),
        config: m2m_testkit::issuer_config(ISSUER),
        directory: fixtures::directory(),
        signer: SoftwareSigner::es256(),
        hook: Some(FakeHook::default().delayed(std::time::Duration::from_secs(30))),
    };
    let started = std::time::Instant::now();
    let r = token::handle_within(
        &app,
        &token_form(&post_body("")),
        NOW,
        std::time::Duration::from_millis(200),
    )
    .await;
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(r.status(), 503);
    assert_eq!(body_json(&r)["error"], "server_error");
    assert!(token::REQUEST_BUDGET < std::time::Duration::from_secs(10));
}
