//! The authorizer on the DynamoDB adapters against the local emulator (moto), with
//! tokens issued by the token function and signed by real KMS keys (verified here by
//! `jsonwebtoken`, never by the emulator's KMS `Verify`): a warm request within the
//! caches' lifetimes makes no AWS call at all, and a revocation written with
//! `DynamoRevocations::revoke` takes effect at the cache bound and not before.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use authorizer::{authorize, handle, App, Refusal};
use aws_sdk_kms::types::KeySpec;
use m2m_aws::dynamo::item;
use m2m_aws::{public_jwk, DynamoDirectory, DynamoKeyRegistry, DynamoRevocations, KmsSigner};
use m2m_core::model::{Api, KeyStatus, Reuse, SigningKey};
use m2m_core::ports::NoHook;
use m2m_core::revocation::{Revocation, Revocations};
use m2m_core::testing::fixtures::{
    self, API, API_SCOPES, CLIENT_ID, CLIENT_SECRET, GRANTED_SCOPES, ISSUER, NOW,
};
use m2m_core::types::ClientId;
use m2m_testkit::event::fixture_token_request;
use m2m_testkit::{LocalAws, RequestCounter};
use serde_json::Value;
use support::{bearer, config};

fn aws() -> &'static LocalAws {
    LocalAws::shared().expect("local AWS emulator")
}

type TokenApp =
    token::App<DynamoDirectory, KmsSigner<DynamoKeyRegistry>, NoHook, m2m_core::ports::NoKeySets>;

/// A table holding the fixtures' API (token reuse off, so every request is signed
/// afresh with its own `jti`), client and grant, and an active signing key in KMS
/// registered in it; and the token function on that table.
async fn stack(spec: KeySpec) -> (String, TokenApp) {
    let table = aws().create_table("authorizer").await.unwrap();
    let key_id = aws().create_kms_key(spec).await.unwrap();
    let setup = aws().setup_sdk_config().await;
    let public = public_jwk(&aws_sdk_kms::Client::new(&setup), &key_id)
        .await
        .unwrap();
    let key = SigningKey {
        kid: public.jwk.thumbprint(),
        kms_key_id: public.key_arn,
        alg: public.alg,
        status: KeyStatus::Active,
        public_jwk: public.jwk,
        created_at: NOW - 1000,
        activated_at: Some(NOW - 600),
        retired_at: None,
    };
    aws()
        .put_items(
            &table,
            [
                item::api_to_item(&Api {
                    reuse: Reuse::Off,
                    ..fixtures::api(API, API_SCOPES)
                }),
                item::client_to_item(&fixtures::client(CLIENT_ID, CLIENT_SECRET)),
                item::grant_to_item(&fixtures::grant(CLIENT_ID, API, GRANTED_SCOPES)),
                item::signing_key_to_item(&key).unwrap(),
            ],
        )
        .await
        .unwrap();
    let sdk = aws().sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let token_app = token::App {
        key_sets: m2m_core::ports::NoKeySets,
        usage: Default::default(),
        config: m2m_testkit::issuer_config(ISSUER),
        directory: DynamoDirectory::new(dynamo.clone(), &table),
        signer: KmsSigner::new(
            aws_sdk_kms::Client::new(&sdk),
            DynamoKeyRegistry::new(dynamo, &table),
            &key_id,
        ),
        hook: None,
    };
    (table, token_app)
}

/// A token issued by the token function at `now`, and its `jti`.
async fn issue(token_app: &TokenApp, now: u64) -> (String, String) {
    let r = token::handle(token_app, &fixture_token_request(""), now).await;
    assert_eq!(r.status(), 200, "{:?}", r.body());
    let body: Value = serde_json::from_slice(r.body().as_ref()).unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    (token, claims["jti"].as_str().unwrap().to_owned())
}

/// The authorizer on `table`, every AWS request counted into `counter`; the
/// revocation adapter decides what has lapsed by the fixtures' clock.
async fn authorizer_app(
    table: &str,
    counter: &RequestCounter,
    bound: u64,
) -> App<DynamoKeyRegistry, DynamoRevocations> {
    let sdk = aws().sdk_config().await;
    App::new(
        &config(bound),
        DynamoKeyRegistry::new(counter.dynamo(&sdk), table),
        DynamoRevocations::new(counter.dynamo(&sdk), table).with_clock(Arc::new(|| NOW)),
    )
}

fn counts(pairs: &[(&str, &str, usize)]) -> BTreeMap<(String, String), usize> {
    pairs
        .iter()
        .map(|(s, o, n)| (((*s).to_owned(), (*o).to_owned()), *n))
        .collect()
}

async fn authorized_with_no_aws_call_when_warm(spec: KeySpec) {
    let (table, token_app) = stack(spec).await;
    let counter = RequestCounter::new();
    let app = authorizer_app(&table, &counter, 30).await;
    app.warm(NOW).await;
    // Init: the registry listing (ByKind index) and the revocation partition.
    assert_eq!(counter.snapshot(), counts(&[("DynamoDB", "Query", 2)]));
    counter.clear();

    let (token, jti) = issue(&token_app, NOW).await;
    for i in 0..30 {
        let r = handle(&app, &bearer(&token), NOW + i).await;
        assert!(r.is_authorized, "at +{i}");
        assert_eq!(r.context["client_id"], CLIENT_ID);
        assert_eq!(r.context["jti"], jti);
    }
    assert_eq!(counter.total(), 0, "{:?}", counter.snapshot());
    // At the revocation bound the list is read again (one Query); the keys are still
    // cached.
    assert!(handle(&app, &bearer(&token), NOW + 30).await.is_authorized);
    assert_eq!(counter.snapshot(), counts(&[("DynamoDB", "Query", 1)]));
}

#[tokio::test]
async fn rs256_kms_token_authorized_and_warm_path_makes_no_aws_call() {
    authorized_with_no_aws_call_when_warm(KeySpec::Rsa2048).await;
}

#[tokio::test]
async fn es256_kms_token_authorized_and_warm_path_makes_no_aws_call() {
    authorized_with_no_aws_call_when_warm(KeySpec::EccNistP256).await;
}

#[tokio::test]
async fn revocation_written_to_the_table_takes_effect_at_the_bound() {
    let (table, token_app) = stack(KeySpec::Rsa2048).await;
    let counter = RequestCounter::new();
    let app = authorizer_app(&table, &counter, 30).await;
    let (revoked, revoked_jti) = issue(&token_app, NOW).await;
    let (kept, _) = issue(&token_app, NOW).await;
    assert!(authorize(&app, &bearer(&revoked), NOW).await.is_ok());
    assert!(authorize(&app, &bearer(&kept), NOW).await.is_ok());

    // The revocation endpoint's write, through the port.
    let writer = DynamoRevocations::new(
        aws_sdk_dynamodb::Client::new(&aws().sdk_config().await),
        &table,
    );
    writer
        .revoke(
            &Revocation::Token {
                jti: revoked_jti,
                client_id: ClientId::new(CLIENT_ID),
                expires_at: NOW + 3600,
            },
            NOW + 1,
        )
        .await
        .unwrap();
    counter.clear();
    assert!(authorize(&app, &bearer(&revoked), NOW + 29).await.is_ok());
    assert_eq!(counter.total(), 0);
    assert_eq!(
        authorize(&app, &bearer(&revoked), NOW + 30)
            .await
            .unwrap_err(),
        Refusal::Revoked
    );
    assert!(authorize(&app, &bearer(&kept), NOW + 30).await.is_ok());
    assert_eq!(counter.snapshot(), counts(&[("DynamoDB", "Query", 1)]));

    // Every token of the client issued before NOW + 2; a token issued later passes.
    writer
        .revoke(
            &Revocation::Client {
                client_id: ClientId::new(CLIENT_ID),
                not_before: NOW + 2,
            },
            NOW + 31,
        )
        .await
        .unwrap();
    let (fresh, _) = issue(&token_app, NOW + 2).await;
    assert!(authorize(&app, &bearer(&kept), NOW + 59).await.is_ok());
    assert_eq!(
        authorize(&app, &bearer(&kept), NOW + 60).await.unwrap_err(),
        Refusal::Revoked
    );
    assert!(authorize(&app, &bearer(&fresh), NOW + 60).await.is_ok());
}

#[tokio::test]
async fn unreachable_table_refuses() {
    let sdk = m2m_testkit::local_sdk_config("http://127.0.0.1:9").await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let app = App::new(
        &config(30),
        DynamoKeyRegistry::new(dynamo.clone(), "t"),
        DynamoRevocations::new(dynamo, "t"),
    );
    app.warm(NOW).await;
    let (_, token_app) = stack(KeySpec::Rsa2048).await;
    let (token, _) = issue(&token_app, NOW).await;
    let r = handle(&app, &bearer(&token), NOW).await;
    assert!(!r.is_authorized);
    assert_eq!(
        authorize(&app, &bearer(&token), NOW).await.unwrap_err(),
        Refusal::KeysUnavailable
    );
}
