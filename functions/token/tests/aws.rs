//! The token handler on the AWS adapters against the local emulator (moto): tokens
//! signed by real KMS keys of each type and verified with `jsonwebtoken` against the
//! JWK built from `GetPublicKey`; dependency failures answered with `server_error` and
//! no token; and the AWS requests one warm issuance makes, counted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use aws_sdk_kms::types::KeySpec;
use lambda_http::{Body, Response};
use m2m_aws::dynamo::item;
use m2m_aws::public_jwk;
use m2m_aws::DynamoKeyRegistry;
use m2m_aws::{DynamoDirectory, KmsSigner};
use m2m_core::model::{KeyStatus, SigningKey};
use m2m_core::ports::NoHook;
use m2m_core::testing::fixtures::{
    self, API, API_SCOPES, CLIENT_ID, CLIENT_SECRET, GRANTED_SCOPES, ISSUER, NOW,
};
use m2m_testkit::event::fixture_token_request;
use m2m_testkit::jwt::{self, Expect};
use m2m_testkit::{local_sdk_config, Canned, CannedServer, LocalAws, RequestCounter};
use serde_json::Value;
use token::{handle, App};

fn aws() -> &'static LocalAws {
    LocalAws::shared().expect("local AWS emulator")
}

/// A table holding the fixtures' API, client (secret hashed) and grant.
async fn seeded_table() -> (String, aws_sdk_dynamodb::Client) {
    let table = aws().seeded_table("token").await.unwrap();
    let dynamo = aws_sdk_dynamodb::Client::new(&aws().setup_sdk_config().await);
    (table, dynamo)
}

fn app<S>(
    directory: DynamoDirectory,
    signer: S,
) -> App<DynamoDirectory, S, NoHook, m2m_core::ports::NoKeySets> {
    App {
        key_sets: m2m_core::ports::NoKeySets,
        usage: Default::default(),
        config: m2m_testkit::issuer_config(ISSUER),
        directory,
        signer,
        hook: None,
    }
}

fn body(r: &Response<Body>) -> Value {
    serde_json::from_slice(r.body().as_ref()).unwrap()
}

fn verify(
    token: &str,
    jwk: &m2m_core::jwk::Jwk,
    alg: jsonwebtoken::Algorithm,
) -> (jsonwebtoken::Header, Value) {
    // The fixtures' clock is in the past: expiry is not checked.
    let expect = Expect::new(alg).audience(API).issuer(ISSUER).any_expiry();
    let verified = jwt::verify(token, jwk, &expect).unwrap();
    (verified.header, verified.claims)
}

/// Issues a token with a new KMS key of `spec` through the SDK clients or, with
/// `direct`, through the token function's directly spoken calls (`m2m_aws::wire`),
/// and verifies it with `jsonwebtoken` against the key's public JWK.
async fn issue_with(spec: KeySpec, alg: jsonwebtoken::Algorithm, direct: bool) {
    let (table, _) = seeded_table().await;
    let key_id = aws().create_kms_key(spec).await.unwrap();
    let sdk = aws().sdk_config().await;
    let kms = aws_sdk_kms::Client::new(&sdk);
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let public = public_jwk(&kms, &key_id).await.unwrap();
    let wire = |service| {
        direct.then(|| m2m_aws::wire::Wire::for_service(&sdk, service, |_| None).unwrap())
    };
    let app = app(
        DynamoDirectory::new(dynamo.clone(), &table).with_wire(wire(m2m_aws::wire::DYNAMODB)),
        KmsSigner::new(
            kms,
            DynamoKeyRegistry::new(dynamo, &table).with_wire(wire(m2m_aws::wire::DYNAMODB)),
            &key_id,
        )
        .with_wire(wire(m2m_aws::wire::KMS)),
    );
    let r = handle(&app, &fixture_token_request(""), NOW).await;
    assert_eq!(r.status(), 200, "{:?}", body(&r));
    let b = body(&r);
    let (header, claims) = verify(b["access_token"].as_str().unwrap(), &public.jwk, alg);
    assert_eq!(
        header.kid.as_deref(),
        Some(public.jwk.thumbprint().as_str())
    );
    assert_eq!(claims["sub"], CLIENT_ID);
    assert_eq!(claims["aud"], API);
    assert_eq!(claims["scope"], GRANTED_SCOPES.join(" "));
}

#[tokio::test]
async fn rs256_kms_token_verifies() {
    issue_with(KeySpec::Rsa2048, jsonwebtoken::Algorithm::RS256, false).await;
}

#[tokio::test]
async fn es256_kms_token_verifies() {
    issue_with(KeySpec::EccNistP256, jsonwebtoken::Algorithm::ES256, false).await;
}

#[tokio::test]
async fn rs256_kms_token_spoken_directly_verifies() {
    issue_with(KeySpec::Rsa2048, jsonwebtoken::Algorithm::RS256, true).await;
}

#[tokio::test]
async fn es256_kms_token_spoken_directly_verifies() {
    issue_with(KeySpec::EccNistP256, jsonwebtoken::Algorithm::ES256, true).await;
}

fn counts(pairs: &[(&str, &str, usize)]) -> BTreeMap<(String, String), usize> {
    pairs
        .iter()
        .map(|(s, o, n)| (((*s).to_owned(), (*o).to_owned()), *n))
        .collect()
}

/// A warm app on a seeded table and a new RSA key, with every AWS request counted;
/// the cold first request (key resolution, first-use record of the secret) is done.
async fn warm_counted_app() -> (
    App<DynamoDirectory, KmsSigner<DynamoKeyRegistry>, NoHook, m2m_core::ports::NoKeySets>,
    RequestCounter,
    String,
    aws_sdk_dynamodb::Client,
) {
    let (table, dynamo) = seeded_table().await;
    let key_id = aws().create_kms_key(KeySpec::Rsa2048).await.unwrap();
    let sdk = aws().sdk_config().await;
    let counter = RequestCounter::new();
    let app = app(
        DynamoDirectory::new(counter.dynamo(&sdk), &table),
        KmsSigner::new(
            counter.kms(&sdk),
            DynamoKeyRegistry::new(counter.dynamo(&sdk), &table),
            &key_id,
        ),
    );
    // Cold: key resolution (registry Query, GetPublicKey), the lookup, Sign, the reuse
    // cache PutItem and the first-use record of the secret (UpdateItem).
    assert_eq!(
        handle(&app, &fixture_token_request(""), NOW).await.status(),
        200
    );
    eprintln!("cold issuance AWS requests: {:?}", counter.snapshot());
    counter.clear();
    (app, counter, table, dynamo)
}

#[tokio::test]
async fn warm_miss_one_read_one_sign_one_put() {
    let (app, counter, _, _) = warm_counted_app().await;
    // Another scope set: another cache entry, so a miss.
    let r = handle(
        &app,
        &fixture_token_request("&scope=read%3Aorders"),
        NOW + 1,
    )
    .await;
    assert_eq!(r.status(), 200);
    let warm = counter.snapshot();
    eprintln!("warm issuance, reuse miss, AWS requests: {warm:?}");
    assert_eq!(
        warm,
        counts(&[
            ("DynamoDB", "BatchGetItem", 1),
            ("DynamoDB", "PutItem", 1),
            ("KMS", "Sign", 1),
        ])
    );
}

#[tokio::test]
async fn reuse_hit_one_dynamodb_zero_kms_requests() {
    let (app, counter, table, dynamo) = warm_counted_app().await;
    let first = body(&handle(&app, &fixture_token_request(""), NOW + 1).await);
    let hit = counter.snapshot();
    eprintln!("warm issuance, reuse hit, AWS requests: {hit:?}");
    assert_eq!(hit, counts(&[("DynamoDB", "BatchGetItem", 1)]));
    assert_eq!(counter.count("KMS"), 0);
    assert_eq!(first["expires_in"], 3599);

    // The cache item: TTL = exp, and the same token later with less time left.
    let key = m2m_core::reuse::ReuseKey::new(
        &m2m_core::types::ClientId::new(CLIENT_ID),
        &m2m_core::types::ClientSecret::new(CLIENT_SECRET),
        &m2m_core::types::Audience::new(API),
        None,
    );
    let item = dynamo
        .get_item()
        .table_name(&table)
        .set_key(Some(m2m_aws::dynamo::item::reuse::reuse_key(
            &m2m_core::types::ClientId::new(CLIENT_ID),
            &key,
        )))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let sealed = m2m_aws::dynamo::item::reuse::reuse_from_item(&item).unwrap();
    let cached = key
        .open(&m2m_core::types::ClientId::new(CLIENT_ID), &sealed)
        .unwrap();
    assert_eq!(cached.access_token, first["access_token"].as_str().unwrap());
    assert_eq!(
        item.get("ttl"),
        Some(&aws_sdk_dynamodb::types::AttributeValue::N(
            (NOW + 3600).to_string()
        ))
    );
    eprintln!(
        "reuse cache item: {} bytes billed (RS256)",
        m2m_aws::dynamo::item::reuse::billed_size(&item)
    );
    let later = body(&handle(&app, &fixture_token_request(""), NOW + 1000).await);
    assert_eq!(later["access_token"], first["access_token"]);
    assert_eq!(later["expires_in"], 2600);
}

#[tokio::test]
async fn reuse_off_warm_issuance_one_dynamodb_one_kms_request() {
    let (app, counter, table, dynamo) = warm_counted_app().await;
    let api = m2m_core::model::Api {
        reuse: m2m_core::model::Reuse::Off,
        ..fixtures::api(API, API_SCOPES)
    };
    dynamo
        .put_item()
        .table_name(&table)
        .set_item(Some(item::api_to_item(&api)))
        .send()
        .await
        .unwrap();
    let r = handle(&app, &fixture_token_request(""), NOW + 1).await;
    assert_eq!(r.status(), 200);
    let warm = counter.snapshot();
    eprintln!("warm issuance, reuse off, AWS requests: {warm:?}");
    assert_eq!(
        warm,
        counts(&[("DynamoDB", "BatchGetItem", 1), ("KMS", "Sign", 1)])
    );
}

#[tokio::test]
async fn client_version_bump_signed_afresh_in_table() {
    let (app, counter, table, dynamo) = warm_counted_app().await;
    let first = body(&handle(&app, &fixture_token_request(""), NOW + 1).await);
    // What `m2m-admin` does on any client, grant or secret change: bump `version`.
    let mut client = fixtures::client(CLIENT_ID, CLIENT_SECRET);
    client.version += 1;
    client.secrets[0].last_used_at = Some(NOW);
    dynamo
        .put_item()
        .table_name(&table)
        .set_item(Some(item::client_to_item(&client)))
        .send()
        .await
        .unwrap();
    counter.clear();
    let again = body(&handle(&app, &fixture_token_request(""), NOW + 2).await);
    assert_ne!(again["access_token"], first["access_token"]);
    assert_eq!(again["expires_in"], 3600);
    assert_eq!(counter.count("KMS"), 1);
}

fn assert_server_error(r: &Response<Body>, status: u16) {
    assert_eq!(r.status(), status);
    let b = body(r);
    assert_eq!(b["error"], "server_error");
    assert!(b.get("access_token").is_none());
}

#[tokio::test]
async fn missing_table_server_error() {
    let sdk = aws().sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let app = app(
        DynamoDirectory::new(dynamo.clone(), "no-such-table"),
        KmsSigner::new(
            aws_sdk_kms::Client::new(&sdk),
            DynamoKeyRegistry::new(dynamo, "no-such-table"),
            "alias/none",
        ),
    );
    assert_server_error(&handle(&app, &fixture_token_request(""), NOW).await, 500);
}

#[tokio::test]
async fn malformed_client_item_server_error() {
    let (table, dynamo) = seeded_table().await;
    let mut item = item::client_to_item(&fixtures::client(CLIENT_ID, CLIENT_SECRET));
    item.insert(
        "version".into(),
        aws_sdk_dynamodb::types::AttributeValue::S("one".into()),
    );
    dynamo
        .put_item()
        .table_name(&table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
    let key_id = aws().create_kms_key(KeySpec::Rsa2048).await.unwrap();
    let sdk = aws().sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let app = app(
        DynamoDirectory::new(dynamo.clone(), &table),
        KmsSigner::new(
            aws_sdk_kms::Client::new(&sdk),
            DynamoKeyRegistry::new(dynamo, &table),
            &key_id,
        ),
    );
    assert_server_error(&handle(&app, &fixture_token_request(""), NOW).await, 500);
}

#[tokio::test]
async fn disabled_kms_key_server_error() {
    // moto signs with disabled keys; KMS answers DisabledException, injected here.
    let (table, dynamo) = seeded_table().await;
    let key_id = aws().create_kms_key(KeySpec::Rsa2048).await.unwrap();
    let kms_ok = aws_sdk_kms::Client::new(&aws().setup_sdk_config().await);
    let public = public_jwk(&kms_ok, &key_id).await.unwrap();
    let registered = SigningKey {
        kid: public.jwk.thumbprint(),
        kms_key_id: public.key_arn.clone(),
        alg: public.alg,
        status: KeyStatus::Active,
        public_jwk: public.jwk.clone(),
        created_at: NOW,
        activated_at: Some(NOW),
        retired_at: None,
    };
    dynamo
        .put_item()
        .table_name(&table)
        .set_item(Some(item::signing_key_to_item(&registered).unwrap()))
        .send()
        .await
        .unwrap();
    let kms_down = CannedServer::start(Canned::aws_json_error(400, "DisabledException")).unwrap();
    let sdk = aws().sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let app = app(
        DynamoDirectory::new(dynamo.clone(), &table),
        KmsSigner::new(
            aws_sdk_kms::Client::new(&local_sdk_config(&kms_down.endpoint()).await),
            DynamoKeyRegistry::new(dynamo, &table),
            &key_id,
        ),
    );
    assert_server_error(&handle(&app, &fixture_token_request(""), NOW).await, 500);
    assert_eq!(kms_down.hits(), 1, "Sign was attempted once");
}

#[tokio::test]
async fn dynamodb_throttling_service_unavailable() {
    let throttling = CannedServer::start(Canned::aws_json_error(
        400,
        "ProvisionedThroughputExceededException",
    ))
    .unwrap();
    let sdk = local_sdk_config(&throttling.endpoint()).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let app = app(
        DynamoDirectory::new(dynamo.clone(), "t"),
        KmsSigner::new(
            aws_sdk_kms::Client::new(&sdk),
            DynamoKeyRegistry::new(dynamo, "t"),
            "alias/k",
        ),
    );
    assert_server_error(&handle(&app, &fixture_token_request(""), NOW).await, 503);
}

/// Every string in every item of the table, recursively.
fn strings_of(v: &aws_sdk_dynamodb::types::AttributeValue, out: &mut Vec<String>) {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    match v {
        A::S(s) | A::N(s) => out.push(s.clone()),
        A::B(b) => out.push(String::from_utf8_lossy(b.as_ref()).into_owned()),
        A::Ss(l) | A::Ns(l) => out.extend(l.iter().cloned()),
        A::Bs(l) => out.extend(
            l.iter()
                .map(|b| String::from_utf8_lossy(b.as_ref()).into_owned()),
        ),
        A::L(l) => l.iter().for_each(|v| strings_of(v, out)),
        A::M(m) => m.iter().for_each(|(k, v)| {
            out.push(k.clone());
            strings_of(v, out)
        }),
        _ => {}
    }
}

/// A JWS compact serialization: two base64url segments starting `eyJ` (`{"`), dots.
fn looks_like_jws(s: &str) -> bool {
    s.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .any(|word| {
            let parts: Vec<&str> = word.split('.').collect();
            parts.len() >= 3 && parts[0].starts_with("eyJ") && parts[1].starts_with("eyJ")
        })
}

#[tokio::test]
async fn table_scan_finds_no_token_or_secret() {
    // Tokens issued with reuse on (misses and hits, two scope sets): a full scan of the
    // table, as a reader of an export or backup would see it, holds no JWS and no secret.
    let (app, _counter, table, dynamo) = warm_counted_app().await;
    let mut issued = Vec::new();
    for (now, extra) in [
        (NOW + 1, ""),
        (NOW + 2, "&scope=read%3Aorders"),
        (NOW + 3, ""),
    ] {
        let r = handle(&app, &fixture_token_request(extra), now).await;
        assert_eq!(r.status(), 200);
        issued.push(body(&r)["access_token"].as_str().unwrap().to_owned());
    }
    assert!(
        looks_like_jws(&issued[0]),
        "the detector recognises a token"
    );
    let scan = dynamo.scan().table_name(&table).send().await.unwrap();
    let items = scan.items.unwrap_or_default();
    assert!(
        items.iter().any(|i| matches!(i.get("PK"), Some(aws_sdk_dynamodb::types::AttributeValue::S(pk)) if pk.starts_with("CACHE#"))),
        "reuse items were written"
    );
    let mut strings = Vec::new();
    for item in &items {
        for v in item.values() {
            strings_of(v, &mut strings);
        }
    }
    for s in &strings {
        assert!(
            !looks_like_jws(s),
            "a JWS-looking string is stored: {}…",
            s.get(..16).unwrap_or(s)
        );
        assert!(!s.contains(CLIENT_SECRET), "the client secret is stored");
        for t in &issued {
            let signature = t.rsplit('.').next().unwrap();
            assert!(!s.contains(signature), "a token signature is stored");
        }
    }
}
