//! The authorizer's handler with in-memory fakes and a fixed clock: a valid token of
//! either profile and key type is authorized with its context, and each refusal is the
//! exact reason (revocation is in `revocation.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use authorizer::cache::{KEY_SET_TTL_SECS, UNKNOWN_KID_REFRESH_SECS};
use authorizer::{authorize, handle, Authorized, Refusal};
use m2m_core::model::{KeyStatus, MAX_TOKEN_LIFETIME};
use m2m_core::testing::fixtures::{API, CLIENT_ID, NOW};
use m2m_core::testing::{InMemoryRevocations, SoftwareSigner};
use serde_json::{json, Value};
use support::{bearer, event, registry_key, standard_app, FakeKeys, Mint};

fn rs() -> SoftwareSigner {
    SoftwareSigner::rs256()
}

async fn token(now: u64) -> String {
    Mint::new(&rs(), now).sign(&rs()).await
}

// ---------------------------------------------------------------- authorized

#[tokio::test]
async fn valid_rs256_token_authorized_with_context() {
    let app = standard_app();
    let mint = Mint::new(&rs(), NOW).claim("org_id", json!("org_acme"));
    let t = mint.sign(&rs()).await;
    let r = handle(&app, &bearer(&t), NOW + 10).await;
    assert!(r.is_authorized);
    assert_eq!(r.context["client_id"], CLIENT_ID);
    assert_eq!(r.context["org_id"], "org_acme");
    assert_eq!(r.context["scope"], "read:orders write:orders");
    assert_eq!(r.context["jti"], mint.jti());
    assert_eq!(r.context.len(), 4);
    // The wire shape of an HTTP API simple response.
    let wire = serde_json::to_value(&r).unwrap();
    assert_eq!(wire["isAuthorized"], true);
    assert_eq!(wire["context"]["client_id"], CLIENT_ID);
}

#[tokio::test]
async fn valid_es256_token_from_a_pending_key_authorized() {
    // The JWKS publishes pending keys; a verifier accepts what it publishes.
    let es = SoftwareSigner::es256();
    let t = Mint::new(&es, NOW).sign(&es).await;
    let got = authorize(&standard_app(), &bearer(&t), NOW).await.unwrap();
    assert_eq!(
        got,
        Authorized {
            client_id: CLIENT_ID.into(),
            org_id: None,
            scope: "read:orders write:orders".into(),
            jti: got.jti.clone(),
        }
    );
    assert!(got.jti.starts_with("jti-"));
}

#[tokio::test]
async fn auth0_profile_token_authorized() {
    let t = Mint::new(&rs(), NOW)
        .header("typ", json!("JWT"))
        .claim("client_id", Value::Null)
        .claim("sub", json!(format!("{CLIENT_ID}@clients")))
        .claim("azp", json!(CLIENT_ID))
        .claim("gty", json!("client-credentials"))
        .sign(&rs())
        .await;
    let got = authorize(&standard_app(), &bearer(&t), NOW).await.unwrap();
    assert_eq!(got.client_id, CLIENT_ID);
}

#[tokio::test]
async fn audience_list_containing_ours_and_leeway_accepted() {
    let app = standard_app();
    let t = Mint::new(&rs(), NOW)
        .claim("aud", json!(["https://other.example.com", API]))
        .sign(&rs())
        .await;
    assert!(authorize(&app, &bearer(&t), NOW).await.is_ok());
    // exp 29 s ago and iat 29 s ahead: within the 30 s leeway.
    let t = Mint::new(&rs(), NOW)
        .claim("exp", json!(NOW - 29))
        .claim("iat", json!(NOW - 3600))
        .sign(&rs())
        .await;
    assert!(authorize(&app, &bearer(&t), NOW).await.is_ok());
    let t = token(NOW + 29).await;
    assert!(authorize(&app, &bearer(&t), NOW).await.is_ok());
}

#[tokio::test]
async fn route_needing_no_scope_and_catch_all() {
    let app = standard_app();
    let t = Mint::new(&rs(), NOW)
        .claim("scope", Value::Null)
        .sign(&rs())
        .await;
    let health = event("GET /health", Some(&format!("Bearer {t}")));
    assert!(authorize(&app, &health, NOW).await.is_ok());

    let mut config = support::config(30);
    config.routes = authorizer::routes::RouteScopes::parse(r#"{"*": "read:orders"}"#).unwrap();
    let any = authorizer::App::new(
        &config,
        FakeKeys::new(vec![registry_key(&rs(), KeyStatus::Active, 0)]),
        InMemoryRevocations::new(),
    );
    let t = token(NOW).await;
    for route in ["GET /anything", "$default"] {
        let e = event(route, Some(&format!("Bearer {t}")));
        assert!(authorize(&any, &e, NOW).await.is_ok(), "{route}");
    }
}

// ---------------------------------------------------------------- refusals

async fn refused(request: &authorizer::ApiGatewayV2CustomAuthorizerV2Request) -> Refusal {
    let app = standard_app();
    let r = handle(&app, request, NOW).await;
    assert!(!r.is_authorized);
    assert!(r.context.is_empty());
    authorize(&app, request, NOW).await.unwrap_err()
}

async fn refused_token(t: &str) -> Refusal {
    refused(&bearer(t)).await
}

#[tokio::test]
async fn no_header_refused() {
    assert_eq!(refused(&event("GET /orders", None)).await, Refusal::NoToken);
}

#[tokio::test]
async fn other_scheme_refused() {
    let t = token(NOW).await;
    for v in [
        format!("Basic {t}"),
        format!("DPoP {t}"),
        "Basic dXNlcjpwYXNz".into(),
    ] {
        let e = event("GET /orders", Some(&v));
        assert_eq!(refused(&e).await, Refusal::NotBearer, "{v}");
    }
}

#[tokio::test]
async fn malformed_refused() {
    let t = token(NOW).await;
    let cases = [
        format!("Bearer {t} {t}"),
        format!("Bearer {t}, Bearer {t}"),
        "Bearer not-a-jwt".into(),
        "Bearer a.b".into(),
        format!("Bearer {t}.x"),
        "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln".into(),
    ];
    for v in cases {
        let e = event("GET /orders", Some(&v));
        let got = refused(&e).await;
        assert!(
            matches!(got, Refusal::Malformed | Refusal::Type),
            "{v}: {got:?}"
        );
    }
    // A payload that is not a JSON object, correctly signed.
    let mint = Mint::new(&rs(), NOW);
    let input = format!(
        "{}.{}",
        mint.signing_input().split('.').next().unwrap(),
        "WzFd"
    );
    let key = m2m_core::ports::Signer::active_key(&rs()).await.unwrap();
    let sig = m2m_core::ports::Signer::sign(&rs(), &key, input.as_bytes())
        .await
        .unwrap();
    let t = format!(
        "{input}.{}",
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig)
    );
    assert_eq!(refused_token(&t).await, Refusal::Malformed);
    // No client id at all.
    let t = Mint::new(&rs(), NOW)
        .claim("client_id", Value::Null)
        .sign(&rs())
        .await;
    assert_eq!(refused_token(&t).await, Refusal::Malformed);
}

#[tokio::test]
async fn alg_none_and_hmac_refused() {
    let mint = Mint::new(&rs(), NOW);
    let none = mint
        .clone()
        .header("alg", json!("none"))
        .with_signature(b"x");
    assert_eq!(refused_token(&none).await, Refusal::Algorithm);
    let unsigned = format!(
        "{}.",
        mint.clone().header("alg", json!("none")).signing_input()
    );
    assert_eq!(refused_token(&unsigned).await, Refusal::Malformed);
    // The classic confusion: HS256 keyed with the published public key.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(rs().kid().as_str().to_owned());
    header.typ = Some("at+jwt".into());
    let hs = jsonwebtoken::encode(
        &header,
        &mint.claims,
        &jsonwebtoken::EncodingKey::from_secret(&rs().public_key_der()),
    )
    .unwrap();
    assert_eq!(refused_token(&hs).await, Refusal::Algorithm);
    // An RS256 token presented as ES256 (the key is RSA).
    let swapped = mint.header("alg", json!("ES256")).sign(&rs()).await;
    assert_eq!(refused_token(&swapped).await, Refusal::UnknownKey);
}

#[tokio::test]
async fn wrong_type_refused() {
    for typ in [json!("id+jwt"), json!("dpop+jwt"), Value::Null] {
        let t = Mint::new(&rs(), NOW)
            .header("typ", typ.clone())
            .sign(&rs())
            .await;
        assert_eq!(refused_token(&t).await, Refusal::Type, "{typ}");
    }
}

#[tokio::test]
async fn unknown_kid_refused_and_refresh_bounded() {
    let other = SoftwareSigner::es256_fresh();
    let app = standard_app();
    let t = Mint::new(&other, NOW).sign(&other).await;
    assert_eq!(
        authorize(&app, &bearer(&t), NOW).await.unwrap_err(),
        Refusal::UnknownKey
    );
    // The cache miss read once, and the unknown kid once more.
    assert_eq!(app.keys.reads(), 2);
    // More unknown kids within the floor read nothing.
    for i in 1..5 {
        assert_eq!(
            authorize(&app, &bearer(&t), NOW + i).await.unwrap_err(),
            Refusal::UnknownKey
        );
    }
    assert_eq!(app.keys.reads(), 2);
    // The key is activated: found at the next refresh the floor allows.
    app.keys.set(vec![
        registry_key(&rs(), KeyStatus::Retired, NOW),
        registry_key(&other, KeyStatus::Active, NOW),
    ]);
    assert!(authorize(&app, &bearer(&t), NOW + 5).await.is_err());
    assert!(authorize(&app, &bearer(&t), NOW + UNKNOWN_KID_REFRESH_SECS)
        .await
        .is_ok());
    assert_eq!(app.keys.reads(), 3);
    // No kid at all.
    let t = Mint::new(&rs(), NOW)
        .header("kid", Value::Null)
        .sign(&rs())
        .await;
    assert_eq!(refused_token(&t).await, Refusal::UnknownKey);
}

#[tokio::test]
async fn revoked_signing_key_stops_verifying_within_the_key_ttl() {
    let app = standard_app();
    let t = token(NOW).await;
    assert!(authorize(&app, &bearer(&t), NOW).await.is_ok());
    app.keys
        .set(vec![registry_key(&rs(), KeyStatus::Revoked, NOW)]);
    assert!(authorize(&app, &bearer(&t), NOW + KEY_SET_TTL_SECS - 1)
        .await
        .is_ok());
    assert_eq!(
        authorize(&app, &bearer(&t), NOW + KEY_SET_TTL_SECS)
            .await
            .unwrap_err(),
        Refusal::UnknownKey
    );
}

#[tokio::test]
async fn bad_signature_refused() {
    let mint = Mint::new(&rs(), NOW);
    let good = mint.sign(&rs()).await;
    // One flipped bit of the signature.
    let mut sig = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        good.rsplit('.').next().unwrap(),
    )
    .unwrap();
    sig[10] ^= 1;
    assert_eq!(
        refused_token(&mint.with_signature(&sig)).await,
        Refusal::Signature
    );
    // Claims changed after signing.
    let tampered = format!(
        "{}.{}",
        mint.clone().claim("scope", json!("admin")).signing_input(),
        good.rsplit('.').next().unwrap()
    );
    assert_eq!(refused_token(&tampered).await, Refusal::Signature);
    // Signed by another key under our key's kid.
    let es = SoftwareSigner::es256();
    let forged = Mint::new(&es, NOW)
        .header("kid", json!(SoftwareSigner::es256_fresh().kid()))
        .sign(&es)
        .await;
    assert_eq!(refused_token(&forged).await, Refusal::UnknownKey);
    let other = SoftwareSigner::es256_fresh();
    let forged = Mint::new(&es, NOW).sign(&other).await;
    assert_eq!(refused_token(&forged).await, Refusal::Signature);
}

#[tokio::test]
async fn wrong_issuer_audience_and_times_refused() {
    let cases = [
        ("iss", json!("https://evil.example.com/"), Refusal::Issuer),
        ("iss", json!("https://auth.example.com"), Refusal::Issuer),
        ("iss", Value::Null, Refusal::Issuer),
        ("aud", json!("https://other.example.com"), Refusal::Audience),
        (
            "aud",
            json!(["https://other.example.com"]),
            Refusal::Audience,
        ),
        ("aud", Value::Null, Refusal::Audience),
        ("exp", json!(NOW - 30), Refusal::Expired),
        ("exp", Value::Null, Refusal::Malformed),
        ("nbf", json!(NOW + 31), Refusal::NotYetValid),
        (
            "exp",
            json!(NOW + MAX_TOKEN_LIFETIME + 1),
            Refusal::Lifetime,
        ),
        ("iat", Value::Null, Refusal::Malformed),
        ("iat", json!("yesterday"), Refusal::Malformed),
        ("jti", Value::Null, Refusal::Malformed),
    ];
    for (claim, value, want) in cases {
        let t = Mint::new(&rs(), NOW)
            .claim(claim, value.clone())
            .sign(&rs())
            .await;
        assert_eq!(refused_token(&t).await, want, "{claim}={value}");
    }
    // Issued in the future.
    let t = token(NOW + 31).await;
    assert_eq!(refused_token(&t).await, Refusal::NotYetValid);
}

#[tokio::test]
async fn missing_scope_for_the_route_refused() {
    let read_only = Mint::new(&rs(), NOW)
        .claim("scope", json!("read:orders"))
        .sign(&rs())
        .await;
    let post = event("POST /orders", Some(&format!("Bearer {read_only}")));
    assert_eq!(refused(&post).await, Refusal::Scope);
    let delete = event(
        "DELETE /orders/{id}",
        Some(&format!("Bearer {}", token(NOW).await)),
    );
    assert_eq!(refused(&delete).await, Refusal::Scope);
    // The scope claim must be a string of scope tokens.
    let t = Mint::new(&rs(), NOW)
        .claim("scope", json!(["read:orders"]))
        .sign(&rs())
        .await;
    assert_eq!(refused_token(&t).await, Refusal::Malformed);
    // A scope that only starts like the one required is another scope.
    let t = Mint::new(&rs(), NOW)
        .claim("scope", json!("read:orders:extra"))
        .sign(&rs())
        .await;
    assert_eq!(refused_token(&t).await, Refusal::Scope);
}

#[tokio::test]
async fn unlisted_route_refused_before_anything_is_read() {
    let app = standard_app();
    let t = token(NOW).await;
    for route in ["GET /invoices", "$default", ""] {
        let e = event(route, Some(&format!("Bearer {t}")));
        assert_eq!(
            authorize(&app, &e, NOW).await.unwrap_err(),
            Refusal::Route,
            "{route}"
        );
    }
    assert_eq!(app.keys.reads(), 0);
    assert_eq!(app.revocations.read_count(), 0);
}
