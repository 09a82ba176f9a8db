//! The kit's own guarantees: events carry what the builder was told, the independent
//! verifier refuses what a resource server must refuse (RFC 9068 §4), and the template
//! reader finds a role's actions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::Algorithm;
use m2m_core::ports::Signer;
use m2m_core::testing::SoftwareSigner;
use m2m_testkit::event::{token_event, well_known, ApiGatewayEvent};
use m2m_testkit::jwt::{self, Expect, JwtError};
use m2m_testkit::{iam_actions, role_actions};
use serde_json::{json, Value};

const ISSUER: &str = "https://auth.example.com";
const API: &str = "https://api.example.com";
const NOW: u64 = 1_700_000_000;

/// A token signed by `signer` with `claims`, header `{"alg":"ES256","kid",..}`.
async fn es256_token(signer: &SoftwareSigner, claims: &Value) -> String {
    let key = signer.active_key().await.unwrap();
    let header = json!({"alg": "ES256", "kid": key.kid.as_str(), "typ": "at+jwt"});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = signer.sign(&key, input.as_bytes()).await.unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn claims(exp: u64) -> Value {
    json!({"iss": ISSUER, "aud": API, "sub": "c1", "iat": NOW, "exp": exp})
}

fn expect() -> Expect {
    Expect::new(Algorithm::ES256)
        .audience(API)
        .issuer(ISSUER)
        .require(&["exp", "iat", "iss", "aud", "sub"])
        .valid_at(NOW)
}

#[tokio::test]
async fn token_valid_at_fixed_clock_verifies_with_header() {
    let signer = SoftwareSigner::es256();
    let token = es256_token(&signer, &claims(NOW + 60)).await;
    let verified = jwt::verify(&token, &signer.jwk(), &expect()).unwrap();
    assert_eq!(verified.header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(verified.header.kid.as_deref(), Some(signer.kid().as_str()));
    assert_eq!(verified.claims["sub"], "c1");
}

#[tokio::test]
async fn token_expired_at_fixed_clock_refused() {
    let signer = SoftwareSigner::es256();
    let token = es256_token(&signer, &claims(NOW)).await;
    let err = jwt::verify(&token, &signer.jwk(), &expect()).unwrap_err();
    assert!(
        matches!(
            err,
            JwtError::Expired {
                exp: Some(NOW),
                now: NOW
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn tampered_signature_or_other_audience_refused() {
    let signer = SoftwareSigner::es256();
    let token = es256_token(&signer, &claims(NOW + 60)).await;
    // One bit of the signature's first byte flipped (a fully significant character).
    let (input, signature) = token.rsplit_once('.').unwrap();
    let mut sig = URL_SAFE_NO_PAD.decode(signature).unwrap();
    sig[0] ^= 1;
    let tampered = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig));
    assert!(matches!(
        jwt::verify(&tampered, &signer.jwk(), &expect()),
        Err(JwtError::Token(_))
    ));
    let other = Expect::new(Algorithm::ES256).audience("https://other.example.com");
    assert!(matches!(
        jwt::verify(&token, &signer.jwk(), &other.any_expiry()),
        Err(JwtError::Token(_))
    ));
    // The signature alone: audience and expiry are not examined.
    let bare = jwt::verify(
        &token,
        &signer.jwk(),
        &Expect::signature_only(Algorithm::ES256),
    );
    assert_eq!(bare.unwrap().claims["aud"], API);
}

#[tokio::test]
async fn jwks_key_picked_by_kid_unknown_kid_refused() {
    let signer = SoftwareSigner::es256();
    let token = es256_token(&signer, &claims(NOW + 60)).await;
    let set = JwkSet {
        keys: vec![jwt::jwk(&signer.jwk()).unwrap()],
    };
    // Asked for RS256, verified with the published key's ES256.
    let rs256 = Expect::new(Algorithm::RS256).audience(API).valid_at(NOW);
    assert_eq!(
        jwt::verify_in_set(&token, &set, &rs256).unwrap().claims["iss"],
        ISSUER
    );
    let stranger = SoftwareSigner::es256_fresh();
    let foreign = es256_token(&stranger, &claims(NOW + 60)).await;
    assert!(matches!(
        jwt::verify_in_set(&foreign, &set, &rs256),
        Err(JwtError::Kid(_))
    ));
}

#[test]
fn token_event_carries_method_headers_and_base64_body() {
    let body = "grant_type=client_credentials&scope=a%20b";
    let r = token_event("PUT", &[("authorization", "Basic eDp5")], body, true);
    assert_eq!(r.method(), "PUT");
    assert_eq!(r.uri().path(), "/oauth/token");
    assert_eq!(r.headers()["authorization"], "Basic eDp5");
    assert_eq!(r.headers()["content-length"], body.len().to_string());
    assert_eq!(r.body().as_ref(), body.as_bytes());
    let event = ApiGatewayEvent::token_post()
        .method("PUT")
        .base64_body(body);
    assert_eq!(event.json()["routeKey"], "PUT /oauth/token");
    assert_eq!(event.json()["isBase64Encoded"], true);
}

#[test]
fn well_known_event_carries_method_path_and_headers() {
    let r = well_known(
        "HEAD",
        "/.well-known/openid-configuration",
        &[("if-none-match", "\"v1\"")],
    );
    assert_eq!(r.method(), "HEAD");
    assert_eq!(r.uri().path(), "/.well-known/openid-configuration");
    assert_eq!(r.headers()["if-none-match"], "\"v1\"");
}

#[test]
fn role_actions_and_recorded_operations_name_the_same_iam_actions() {
    let template = "Resources:\n  TokenRole:\n    Type: AWS::IAM::Role\n    Properties:\n      Policies:\n        - PolicyName: token\n          PolicyDocument:\n            Statement:\n              - Effect: Allow\n                Action: [dynamodb:BatchGetItem, 'dynamodb:PutItem']\n                Resource: '*'\n              - Effect: Allow\n                Action: lambda:InvokeFunction\n                Resource: '*'\n  JwksRole:\n    Type: AWS::IAM::Role\n";
    let allowed = role_actions(template, "TokenRole", &["dynamodb", "lambda"]);
    let recorded = BTreeMap::from([
        (("DynamoDB".to_owned(), "BatchGetItem".to_owned()), 1),
        (("DynamoDB".to_owned(), "PutItem".to_owned()), 2),
        (("Lambda".to_owned(), "Invoke".to_owned()), 1),
    ]);
    assert_eq!(iam_actions(&recorded), allowed);
    assert!(role_actions(template, "JwksRole", &["dynamodb"]).is_empty());
}
