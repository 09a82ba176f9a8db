//! The JWKS function against the local emulator (moto): a full key rotation with
//! keys created in KMS and tokens issued through the token function's handler with
//! the KMS signer, every token verified by an independent library (`jsonwebtoken`)
//! against the JWKS endpoint's own response body; and the warm path's AWS call count.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::Client as DynamoClient;
use aws_sdk_kms::types::KeySpec;
use jsonwebtoken::decode_header;
use jwks::App as JwksApp;
use m2m_aws::clock::system_clock;
use m2m_aws::dynamo::registry::DynamoKeyRegistry;
use m2m_aws::{dynamo::item, public_jwk, AdminStore as _, DynamoDirectory, KmsSigner};
use m2m_core::model::{Alg, KeyStatus, SigningKey, MAX_TOKEN_LIFETIME};
use m2m_core::ports::NoHook;
use m2m_core::testing::fixtures::{self, API, API_SCOPES, CLIENT_ID, CLIENT_SECRET, ISSUER, NOW};
use m2m_testkit::event::{fixture_token_request, get, well_known};
use m2m_testkit::jwt::{verify_in_set, Expect};
use m2m_testkit::{LocalAws, RequestCounter};
use serde_json::Value;
use token::App as TokenApp;

const JWKS: &str = "/.well-known/jwks.json";

async fn put_key(dynamo: &DynamoClient, table: &str, key: &SigningKey) {
    let item = item::signing_key_to_item(key).unwrap();
    dynamo
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
}

/// A KMS key of `spec`, its public JWK read back with `GetPublicKey`, as a registry key.
async fn kms_key(
    aws: &LocalAws,
    kms: &aws_sdk_kms::Client,
    spec: KeySpec,
    created_at: u64,
) -> SigningKey {
    let id = aws.create_kms_key(spec).await.unwrap();
    let public = public_jwk(kms, &id).await.unwrap();
    let (key_arn, jwk) = (public.key_arn, public.jwk);
    SigningKey {
        kid: jwk.kid.clone().unwrap(),
        kms_key_id: key_arn,
        alg: jwk.algorithm().unwrap(),
        status: KeyStatus::Pending,
        public_jwk: jwk,
        created_at,
        activated_at: None,
        retired_at: None,
    }
}

async fn seed_directory(dynamo: &DynamoClient, table: &str) {
    for item in [
        item::api_to_item(&fixtures::api(API, API_SCOPES)),
        item::client_to_item(&fixtures::client(CLIENT_ID, CLIENT_SECRET)),
        item::grant_to_item(&fixtures::grant(CLIENT_ID, API, &["read:orders"])),
    ] {
        dynamo
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
}

/// A token we issued: its kid and expiry, for the "still valid" check.
struct Issued {
    token: String,
    kid: String,
    exp: u64,
}

/// Verifies `token` with `jsonwebtoken` using only the JWK Set document `jwks` (the
/// handler's response body): the key is picked by `kid` (RFC 7517 §4.5), the
/// algorithm comes from the published key, never from the token alone.
fn verify(token: &str, jwks: &[u8], now: u64) -> Result<Value, String> {
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_slice(jwks).map_err(|e| e.to_string())?;
    let expect = Expect::new(jsonwebtoken::Algorithm::RS256)
        .audience(API)
        .issuer(ISSUER)
        .require(&["exp", "iat", "iss", "aud", "sub"])
        .valid_at(now);
    verify_in_set(token, &set, &expect)
        .map(|verified| verified.claims)
        .map_err(|e| e.to_string())
}

/// Create → publish → activate → retire → drop, on a simulated clock shared by the
/// token function's signer cache and the JWKS function. At every step a token is
/// issued, the JWKS is fetched through the handler (possibly from its cache), and
/// every token still valid at that time must verify against that document.
#[tokio::test]
async fn rotation_never_leaves_a_valid_token_unverifiable() {
    let aws = LocalAws::shared().unwrap();
    let table = aws.create_table("jwks-rotation").await.unwrap();
    let setup = aws.setup_sdk_config().await;
    let sdk = aws.sdk_config().await;
    let admin_dynamo = DynamoClient::new(&setup);
    let admin_kms = aws_sdk_kms::Client::new(&setup);
    seed_directory(&admin_dynamo, &table).await;

    let clock = Arc::new(AtomicU64::new(NOW));
    let c = Arc::clone(&clock);
    let dynamo = DynamoClient::new(&sdk);
    let kms = aws_sdk_kms::Client::new(&sdk);
    let token_app = TokenApp {
        key_sets: m2m_core::ports::NoKeySets,
        usage: Default::default(),
        config: m2m_testkit::issuer_config(ISSUER),
        directory: DynamoDirectory::new(dynamo.clone(), &table),
        signer: KmsSigner::new(
            kms,
            DynamoKeyRegistry::new(dynamo.clone(), &table),
            "alias/unused-fallback",
        )
        .with_clock(Arc::new(move || c.load(Ordering::SeqCst))),
        hook: None::<NoHook>,
    };
    let jwks_app = JwksApp::new(ISSUER, DynamoKeyRegistry::new(dynamo, &table));

    let mut issued: Vec<Issued> = Vec::new();
    let mut step = async |t: u64, expect_kid: &str, label: &str| -> Vec<String> {
        clock.store(t, Ordering::SeqCst);
        let r = token::handle(&token_app, &fixture_token_request(""), t).await;
        let body: Value = serde_json::from_slice(r.body().as_ref()).unwrap();
        assert_eq!(r.status(), 200, "{label}: {body}");
        let token = body["access_token"].as_str().unwrap().to_owned();
        let header = decode_header(&token).unwrap();
        let kid = header.kid.unwrap();
        assert_eq!(kid, expect_kid, "{label}: signing key");
        let exp = t + 3600;
        issued.push(Issued { token, kid, exp });
        let r = jwks::handle(&jwks_app, &get(JWKS), t).await;
        assert_eq!(r.status(), 200, "{label}");
        let jwks = r.body().as_ref().to_vec();
        for (i, tok) in issued.iter().enumerate().filter(|(_, tok)| tok.exp > t) {
            if let Err(e) = verify(&tok.token, &jwks, t) {
                panic!("{label}: token #{i} (kid {}) does not verify: {e}", tok.kid);
            }
        }
        let set: Value = serde_json::from_slice(&jwks).unwrap();
        set["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };

    // 1. The first key, RSA_2048 / RS256, active.
    let mut a = kms_key(aws, &admin_kms, KeySpec::Rsa2048, NOW).await;
    assert_eq!(a.alg, Alg::RS256);
    a.status = KeyStatus::Active;
    a.activated_at = Some(NOW);
    put_key(&admin_dynamo, &table, &a).await;
    let ka = a.kid.to_string();
    assert_eq!(step(NOW, &ka, "A active").await, vec![ka.clone()]);

    // 2. Create the next key, ECC_NIST_P256 / ES256, pending: A still signs.
    let t_create = NOW + 10;
    let mut b = kms_key(aws, &admin_kms, KeySpec::EccNistP256, t_create).await;
    assert_eq!(b.alg, Alg::ES256);
    put_key(&admin_dynamo, &table, &b).await;
    let kb = b.kid.to_string();
    step(t_create, &ka, "B created").await; // the JWKS may still be the cached one
    let published = step(t_create + 100, &ka, "B published").await;
    assert_eq!(
        published,
        vec![ka.clone(), kb.clone()],
        "pending B is published"
    );

    // 3. Activate B once its publication outlived every cache (in-memory TTL plus
    //    HTTP max-age); A retires.
    let t_rotate = t_create + jwks::cache::KEY_SET_TTL_SECS + 300;
    b.status = KeyStatus::Active;
    b.activated_at = Some(t_rotate);
    a.status = KeyStatus::Retired;
    a.retired_at = Some(t_rotate);
    put_key(&admin_dynamo, &table, &b).await;
    put_key(&admin_dynamo, &table, &a).await;
    let published = step(t_rotate, &kb, "B active").await;
    assert_eq!(
        published,
        vec![kb.clone(), ka.clone()],
        "retired A still published"
    );
    step(t_rotate + 30, &kb, "B active, A tokens valid").await;

    // 4. Every A token has expired; A is still published until MAX_TOKEN_LIFETIME
    //    after retirement, then dropped.
    step(t_rotate + 3600 + 61, &kb, "A tokens expired").await;
    let published = step(t_rotate + MAX_TOKEN_LIFETIME - 1, &kb, "A last second").await;
    assert!(published.contains(&ka));
    let published = step(t_rotate + MAX_TOKEN_LIFETIME, &kb, "A dropped").await;
    assert_eq!(published, vec![kb.clone()]);

    // The verifier is not vacuous: an A token fails against the final document, and
    // a B token with a flipped signature byte fails against it too.
    let last = jwks::handle(&jwks_app, &get(JWKS), t_rotate + MAX_TOKEN_LIFETIME).await;
    let err = verify(&issued[0].token, last.body().as_ref(), NOW).unwrap_err();
    assert!(err.contains("not in the JWKS"), "{err}");
    let good = &issued.last().unwrap().token;
    let (rest, sig) = good.rsplit_once('.').unwrap();
    let flipped = if sig.starts_with('A') { 'B' } else { 'A' };
    let tampered = format!("{rest}.{flipped}{}", &sig[1..]);
    assert!(verify(
        &tampered,
        last.body().as_ref(),
        t_rotate + MAX_TOKEN_LIFETIME
    )
    .is_err());

    assert_eq!(issued.iter().filter(|t| t.kid == ka).count(), 3);
    assert_eq!(issued.iter().filter(|t| t.kid == kb).count(), 5);
}

/// The warm path: after the init read, JWKS and discovery responses (GET, HEAD, 304)
/// send no AWS request at all.
#[tokio::test]
async fn warm_jwks_response_makes_no_aws_call() {
    let aws = LocalAws::shared().unwrap();
    let table = aws.create_table("jwks-warm").await.unwrap();
    let setup = aws.setup_sdk_config().await;
    let admin_kms = aws_sdk_kms::Client::new(&setup);
    let mut key = kms_key(aws, &admin_kms, KeySpec::EccNistP256, NOW).await;
    key.status = KeyStatus::Active;
    key.activated_at = Some(NOW);
    put_key(&DynamoClient::new(&setup), &table, &key).await;

    let counter = RequestCounter::new();
    let sdk = aws.sdk_config().await;
    let app = JwksApp::new(ISSUER, DynamoKeyRegistry::new(counter.dynamo(&sdk), &table));
    let now = system_clock();
    assert_eq!(app.refresh(now).await.unwrap(), 1);
    assert_eq!(counter.count("DynamoDB"), 1, "cold start: one Query");
    counter.clear();

    let first = jwks::handle(&app, &get(JWKS), now).await;
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let mut statuses = vec![first.status().as_u16()];
    for (i, request) in [
        get(JWKS),
        well_known("HEAD", JWKS, &[]),
        well_known("GET", JWKS, &[("if-none-match", &etag)]),
        get("/.well-known/openid-configuration"),
        get("/.well-known/oauth-authorization-server"),
    ]
    .into_iter()
    .enumerate()
    {
        statuses.push(
            jwks::handle(&app, &request, now + i as u64)
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, vec![200, 200, 200, 304, 200, 200]);
    eprintln!(
        "warm JWKS/discovery responses: 6, AWS calls: {}",
        counter.total()
    );
    assert_eq!(counter.total(), 0, "{:?}", counter.snapshot());
}

/// The compromise drill: the active key A is revoked with a pending key B ready
/// (`m2m-admin keys revoke`, through the same store call). Within the function caches'
/// TTL (60 s: the token function's active-key cache, the JWKS function's key-set
/// cache), no token carries A's kid, not even a reused one, and the JWKS no longer
/// lists A, so verifiers reject A's tokens. The caches run on a simulated clock.
#[tokio::test]
async fn compromise_drill_revoked_key_gone_within_cache_ttl() {
    let aws = LocalAws::shared().unwrap();
    let table = aws.create_table("jwks-drill").await.unwrap();
    let setup = aws.setup_sdk_config().await;
    let sdk = aws.sdk_config().await;
    let admin_dynamo = DynamoClient::new(&setup);
    let admin_kms = aws_sdk_kms::Client::new(&setup);
    seed_directory(&admin_dynamo, &table).await;

    let clock = Arc::new(AtomicU64::new(NOW));
    let c = Arc::clone(&clock);
    let dynamo = DynamoClient::new(&sdk);
    let token_app = TokenApp {
        key_sets: m2m_core::ports::NoKeySets,
        usage: Default::default(),
        config: m2m_testkit::issuer_config(ISSUER),
        directory: DynamoDirectory::new(dynamo.clone(), &table),
        signer: KmsSigner::new(
            aws_sdk_kms::Client::new(&sdk),
            DynamoKeyRegistry::new(dynamo.clone(), &table),
            "alias/unused-fallback",
        )
        .with_clock(Arc::new(move || c.load(Ordering::SeqCst))),
        hook: None::<NoHook>,
    };
    let jwks_app = JwksApp::new(ISSUER, DynamoKeyRegistry::new(dynamo, &table));

    let mut a = kms_key(aws, &admin_kms, KeySpec::Rsa2048, NOW).await;
    a.status = KeyStatus::Active;
    a.activated_at = Some(NOW);
    put_key(&admin_dynamo, &table, &a).await;
    let b = kms_key(aws, &admin_kms, KeySpec::EccNistP256, NOW).await;
    put_key(&admin_dynamo, &table, &b).await;

    let issue = async |t: u64| -> (u16, Option<String>, Option<String>) {
        clock.store(t, Ordering::SeqCst);
        let r = token::handle(&token_app, &fixture_token_request(""), t).await;
        let body: Value = serde_json::from_slice(r.body().as_ref()).unwrap();
        let token = body["access_token"].as_str().map(str::to_owned);
        let kid = token
            .as_deref()
            .map(|t| decode_header(t).unwrap().kid.unwrap());
        (r.status().as_u16(), token, kid)
    };
    let published = async |t: u64| -> (Vec<u8>, Vec<String>) {
        let r = jwks::handle(&jwks_app, &get(JWKS), t).await;
        assert_eq!(r.status(), 200);
        let doc = r.body().as_ref().to_vec();
        let set: Value = serde_json::from_slice(&doc).unwrap();
        let kids = set["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect();
        (doc, kids)
    };

    // Before: A signs (and its token is kept for reuse), both keys are published.
    let t0 = NOW + 1000;
    let (status, old_token, kid) = issue(t0).await;
    assert_eq!(status, 200);
    assert_eq!(kid.as_deref(), Some(a.kid.as_str()));
    let (_, kids) = published(t0).await;
    assert!(kids.contains(&a.kid.to_string()) && kids.contains(&b.kid.to_string()));
    // The reuse cache serves A's token while nothing changes.
    let (_, again, _) = issue(t0 + 1).await;
    assert_eq!(again, old_token);

    // The drill: revoke A, activating B in the same transaction.
    let store = m2m_aws::DynamoAdminStore::new(DynamoClient::new(&setup), &table);
    store
        .revoke_key(&a.kid, KeyStatus::Active, Some(&b.kid), t0 + 2)
        .await
        .unwrap();

    // Within the caches' TTL: every token carries B's kid; the JWKS lists only B.
    let ttl = m2m_aws::kms::signer::KEY_REFRESH_SECS.max(jwks::cache::KEY_SET_TTL_SECS);
    let t1 = t0 + 1 + ttl;
    for t in [t1, t1 + 1, t1 + 30] {
        let (status, token, kid) = issue(t).await;
        assert_eq!(status, 200, "at +{}", t - t0);
        assert_eq!(kid.as_deref(), Some(b.kid.as_str()), "at +{}", t - t0);
        assert_ne!(token, old_token);
        let (doc, kids) = published(t).await;
        assert_eq!(kids, vec![b.kid.to_string()], "at +{}", t - t0);
        // A's still unexpired token no longer verifies against the published set;
        // B's does.
        let err = verify(old_token.as_deref().unwrap(), &doc, t).unwrap_err();
        assert!(err.contains("not in the JWKS"), "{err}");
        verify(token.as_deref().unwrap(), &doc, t).unwrap();
    }
}

/// Least privilege, tested: the JWKS role allows exactly the DynamoDB, KMS and Lambda
/// actions the JWKS function's code calls (its cold read and a refresh), as recorded
/// by the SDK interceptor.
#[tokio::test]
async fn jwks_role_allows_exactly_what_the_code_calls() {
    let aws = LocalAws::shared().unwrap();
    let table = aws.create_table("jwks-policy").await.unwrap();
    let setup = aws.setup_sdk_config().await;
    let admin_kms = aws_sdk_kms::Client::new(&setup);
    let key = kms_key(aws, &admin_kms, KeySpec::EccNistP256, NOW).await;
    put_key(&DynamoClient::new(&setup), &table, &key).await;
    let counter = RequestCounter::new();
    let sdk = aws.sdk_config().await;
    let app = JwksApp::new(ISSUER, DynamoKeyRegistry::new(counter.dynamo(&sdk), &table));
    app.refresh(NOW).await.unwrap();
    for t in [NOW, NOW + jwks::cache::KEY_SET_TTL_SECS] {
        assert_eq!(jwks::handle(&app, &get(JWKS), t).await.status(), 200);
    }
    let called = m2m_testkit::iam_actions(&counter.snapshot());
    let template = include_str!("../../../template.yaml");
    let allowed = m2m_testkit::role_actions(template, "JwksRole", &["dynamodb", "kms", "lambda"]);
    assert_eq!(allowed, called);
}
