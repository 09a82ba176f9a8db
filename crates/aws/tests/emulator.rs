//! Adapter integration tests against the local AWS emulator (moto from the project's
//! `.venv`, one server shared by this binary; every test uses its own table).
//! Signatures are verified with the `jsonwebtoken` crate against the JWK built from
//! `GetPublicKey` — never with the emulator's `Verify`, which accepts bad signatures.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kms::types::KeySpec;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use m2m_aws::dynamo::item::{self, Item};
use m2m_aws::DynamoKeyRegistry;
use m2m_aws::{create_table, DynamoDirectory, TableCreation};
use m2m_aws::{public_jwk, KmsSigner};
use m2m_core::jwk::Jwk;
use m2m_core::model::{
    Alg, Api, Client, ClientStatus, Grant, KeyStatus, Profile, SigningKey, StoredSecret,
};
use m2m_core::ports::{ActiveKey, Directory, Signer};
use m2m_core::types::{Audience, ClientId, Kid, OrgId, ScopeSet, SecretId};
use m2m_testkit::jwt::Expect;
use m2m_testkit::{LocalAws, RequestCounter};

const NOW: u64 = 1_763_000_000;

fn aws() -> &'static LocalAws {
    LocalAws::shared().expect("local AWS emulator")
}

struct Env {
    sdk: aws_config::SdkConfig,
    table: String,
    dynamo: aws_sdk_dynamodb::Client,
    kms: aws_sdk_kms::Client,
}

async fn env(prefix: &str) -> Env {
    let aws = aws();
    let table = aws.create_table(prefix).await.expect("table");
    let sdk = aws.sdk_config().await;
    let setup = aws.setup_sdk_config().await;
    Env {
        dynamo: aws_sdk_dynamodb::Client::new(&setup),
        kms: aws_sdk_kms::Client::new(&setup),
        sdk,
        table,
    }
}

impl Env {
    async fn put(&self, item: Item) {
        self.dynamo
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .expect("put_item");
    }

    async fn get(&self, key: Item) -> Item {
        self.dynamo
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .expect("get_item")
            .item
            .expect("item exists")
    }

    fn directory(&self) -> DynamoDirectory {
        DynamoDirectory::new(aws_sdk_dynamodb::Client::new(&self.sdk), &self.table)
    }

    fn signer(&self, fallback: &str) -> KmsSigner<DynamoKeyRegistry> {
        KmsSigner::new(
            aws_sdk_kms::Client::new(&self.sdk),
            DynamoKeyRegistry::new(aws_sdk_dynamodb::Client::new(&self.sdk), &self.table),
            fallback,
        )
    }
}

fn api() -> Api {
    Api {
        identifier: Audience::new("https://orders.example.com/"),
        name: "Orders".into(),
        scopes: ScopeSet::parse("orders:read orders:write").unwrap(),
        token_lifetime: 600,
        profile: Profile::Auth0,
        reuse: m2m_core::model::Reuse::default(),
    }
}

fn client() -> Client {
    Client {
        id: ClientId::new("acme-backend"),
        name: "Acme".into(),
        org_id: Some(OrgId::new("org_acme")),
        status: ClientStatus::Active,
        metadata: BTreeMap::from([("plan".to_owned(), "gold".to_owned())]),
        secrets: vec![
            StoredSecret {
                id: SecretId::new("s1"),
                hash: [0x5a; 32],
                created_at: NOW - 100,
                expires_at: Some(NOW + 1000),
                last_used_at: Some(NOW - 10),
            },
            StoredSecret {
                id: SecretId::new("s2"),
                hash: [0; 32],
                created_at: NOW - 50,
                expires_at: None,
                last_used_at: None,
            },
        ],
        keys: Vec::new(),
        jwks_uri: None,
        quota: None,
        org_quota: None,
        not_before: None,
        revocation_epoch: 0,
        introspect: false,
        version: 3,
    }
}

fn grant() -> Grant {
    Grant {
        client_id: client().id,
        audience: api().identifier,
        scopes: ScopeSet::parse("orders:read").unwrap(),
    }
}

async fn seed(env: &Env) {
    env.put(item::api_to_item(&api())).await;
    env.put(item::client_to_item(&client())).await;
    env.put(item::grant_to_item(&grant())).await;
}

/// A compact JWS over `claims` signed by `signer` with `key`.
async fn jws(
    signer: &KmsSigner<DynamoKeyRegistry>,
    key: &ActiveKey,
    claims: &serde_json::Value,
) -> String {
    let header =
        serde_json::json!({"alg": key.alg.as_str(), "kid": key.kid.as_str(), "typ": "at+jwt"});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = signer.sign(key, input.as_bytes()).await.expect("sign");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// Verifies with `jsonwebtoken` against `jwk` (our JWK, re-read as jsonwebtoken's):
/// the signature alone.
fn verify(
    token: &str,
    jwk: &Jwk,
    alg: jsonwebtoken::Algorithm,
) -> Result<serde_json::Value, m2m_testkit::jwt::JwtError> {
    m2m_testkit::jwt::verify(token, jwk, &Expect::signature_only(alg)).map(|v| v.claims)
}

#[tokio::test]
async fn lookup_round_trip_equal() {
    let env = env("lookup").await;
    seed(&env).await;
    let found = env
        .directory()
        .lookup(&client().id, &api().identifier)
        .await
        .unwrap();
    assert_eq!(found.client, Some(client()));
    assert_eq!(found.grant, Some(grant()));
    assert_eq!(found.api, Some(api()));
}

#[tokio::test]
async fn lookup_unknown_everything_empty() {
    let env = env("unknown").await;
    seed(&env).await;
    let dir = env.directory();
    let none = dir
        .lookup(&ClientId::new("nobody"), &Audience::new("https://nowhere/"))
        .await
        .unwrap();
    assert_eq!(none, Default::default());
    let no_grant = dir
        .lookup(&client().id, &Audience::new("https://nowhere/"))
        .await
        .unwrap();
    assert!(no_grant.client.is_some() && no_grant.grant.is_none() && no_grant.api.is_none());
    let huge = dir
        .lookup(&ClientId::new("x".repeat(5000)), &api().identifier)
        .await
        .unwrap();
    assert_eq!(huge, Default::default());
}

#[tokio::test]
async fn signing_key_round_trip_equal() {
    let env = env("keyitem").await;
    let key = SigningKey {
        kid: Kid::new("kid-1"),
        kms_key_id: "arn:aws:kms:us-east-1:123456789012:key/abc".into(),
        alg: Alg::RS256,
        status: KeyStatus::Pending,
        public_jwk: Jwk {
            kty: "RSA".into(),
            kid: Some(Kid::new("kid-1")),
            use_: Some("sig".into()),
            alg: Some("RS256".into()),
            n: Some("AQAB".into()),
            e: Some("AQAB".into()),
            crv: None,
            x: None,
            y: None,
        },
        created_at: NOW,
        activated_at: None,
        retired_at: None,
    };
    env.put(item::signing_key_to_item(&key).unwrap()).await;
    let item = env.get(item::signing_key_key(&key.kid)).await;
    assert_eq!(item::signing_key_from_item(&item).unwrap(), key);
}

#[tokio::test]
async fn malformed_client_item_server_error() {
    let env = env("malformed").await;
    seed(&env).await;
    let mut item = item::client_to_item(&client());
    item.insert("secrets".into(), AttributeValue::S("not a list".into()));
    env.put(item).await;
    let err = env
        .directory()
        .lookup(&client().id, &api().identifier)
        .await
        .unwrap_err();
    assert!(!err.is_transient());
    assert_eq!(err.message(), "malformed item in the directory");
}

#[tokio::test]
async fn malformed_api_item_server_error() {
    let env = env("malformedapi").await;
    seed(&env).await;
    let mut item = item::api_to_item(&api());
    item.insert("token_lifetime".into(), AttributeValue::S("soon".into()));
    env.put(item).await;
    let err = env
        .directory()
        .lookup(&client().id, &api().identifier)
        .await
        .unwrap_err();
    assert!(!err.is_transient());
}

#[tokio::test]
async fn missing_table_server_error() {
    let aws = aws();
    let sdk = aws.sdk_config().await;
    let dir = DynamoDirectory::new(aws_sdk_dynamodb::Client::new(&sdk), "no-such-table");
    let err = dir
        .lookup(&client().id, &api().identifier)
        .await
        .unwrap_err();
    assert!(!err.is_transient(), "{err}");
    assert!(err.message().contains("ResourceNotFoundException"), "{err}");

    let signer = KmsSigner::new(
        aws_sdk_kms::Client::new(&sdk),
        DynamoKeyRegistry::new(aws_sdk_dynamodb::Client::new(&sdk), "no-such-table"),
        "alias/none",
    );
    let err = signer.active_key().await.unwrap_err();
    assert!(!err.is_transient(), "{err}");
}

#[tokio::test]
async fn record_secret_use_keeps_version() {
    let env = env("lastused").await;
    seed(&env).await;
    let dir = env.directory();
    dir.record_secret_use(&client().id, &SecretId::new("s2"), NOW + 5)
        .await
        .unwrap();
    let item = env.get(item::client_key(&client().id)).await;
    let stored = item::client_from_item(&item).unwrap();
    assert_eq!(stored.version, client().version);
    assert_eq!(stored.secrets[1].last_used_at, Some(NOW + 5));
    assert_eq!(stored.secrets[0].last_used_at, Some(NOW - 10));
}

#[tokio::test]
async fn record_secret_use_without_map_created() {
    let env = env("lastusedold").await;
    let mut item = item::client_to_item(&client());
    item.remove(item::LAST_USED);
    env.put(item).await;
    env.directory()
        .record_secret_use(&client().id, &SecretId::new("s2"), NOW + 7)
        .await
        .unwrap();
    let stored = item::client_from_item(&env.get(item::client_key(&client().id)).await).unwrap();
    assert_eq!(stored.secrets[1].last_used_at, Some(NOW + 7));
    assert_eq!(stored.version, client().version);
}

#[tokio::test]
async fn record_secret_use_unknown_client_error() {
    let env = env("lastusednone").await;
    let err = env
        .directory()
        .record_secret_use(&ClientId::new("ghost"), &SecretId::new("s1"), NOW)
        .await
        .unwrap_err();
    assert!(!err.is_transient());
    // Nothing was created.
    let out = env
        .dynamo
        .get_item()
        .table_name(&env.table)
        .set_key(Some(item::client_key(&ClientId::new("ghost"))))
        .send()
        .await
        .unwrap();
    assert!(out.item.is_none());
}

#[tokio::test]
async fn create_table_twice_already_existed() {
    let env = env("twice").await;
    let again = create_table(&env.dynamo, &env.table).await.unwrap();
    assert_eq!(again, TableCreation::AlreadyExisted);
}

#[tokio::test]
async fn rs256_fallback_key_verifies() {
    let env = env("rs256").await;
    let key_id = aws().create_kms_key(KeySpec::Rsa2048).await.unwrap();
    let public = public_jwk(&env.kms, &key_id).await.unwrap();
    assert_eq!(public.alg, Alg::RS256);
    let signer = env.signer(&key_id);
    let key = signer.active_key().await.unwrap();
    assert_eq!(key.alg, Alg::RS256);
    assert_eq!(key.kid, public.jwk.thumbprint());
    assert_eq!(public.jwk.kid.as_ref(), Some(&key.kid));
    let claims = serde_json::json!({"iss": "https://auth.example.com", "sub": "acme", "jti": "1"});
    let token = jws(&signer, &key, &claims).await;
    assert_eq!(
        verify(&token, &public.jwk, jsonwebtoken::Algorithm::RS256).unwrap(),
        claims
    );
    // A tampered token does not verify: the check is real.
    let tampered = token.replacen("eyJ", "eyK", 1);
    assert!(verify(&tampered, &public.jwk, jsonwebtoken::Algorithm::RS256).is_err());
}

#[tokio::test]
async fn es256_thousand_signatures_verify() {
    let env = env("es256").await;
    let key_id = aws().create_kms_key(KeySpec::EccNistP256).await.unwrap();
    let public = public_jwk(&env.kms, &key_id).await.unwrap();
    assert_eq!(public.alg, Alg::ES256);
    let signer = env.signer(&key_id);
    let key = signer.active_key().await.unwrap();
    assert_eq!(key.alg, Alg::ES256);
    let (mut verified, mut leading_zero) = (0u32, 0u32);
    // 1,000 in a row, and on until an r or s with a leading zero byte has been seen
    // (about 1 in 128 signatures), so the short-integer DER case is surely exercised.
    let mut i = 0u32;
    while verified < 1000 || (leading_zero == 0 && i < 4000) {
        let claims = serde_json::json!({"sub": "acme", "jti": i.to_string()});
        let token = jws(&signer, &key, &claims).await;
        let sig = URL_SAFE_NO_PAD
            .decode(token.rsplit('.').next().unwrap())
            .unwrap();
        assert_eq!(sig.len(), 64);
        if sig[0] == 0 || sig[32] == 0 {
            leading_zero += 1;
        }
        verify(&token, &public.jwk, jsonwebtoken::Algorithm::ES256)
            .unwrap_or_else(|e| panic!("signature {i} does not verify: {e}"));
        verified += 1;
        i += 1;
    }
    assert!(verified >= 1000);
    assert!(leading_zero > 0, "no leading-zero signature in {verified}");
    eprintln!("es256: {verified} signatures verified, {leading_zero} with a leading zero byte");
}

/// A registered key of `spec` with `status`, written to the table.
async fn registered_key(env: &Env, spec: KeySpec, status: KeyStatus) -> SigningKey {
    let kms_key = aws().create_kms_key(spec).await.unwrap();
    let public = public_jwk(&env.kms, &kms_key).await.unwrap();
    let key = SigningKey {
        kid: public.jwk.thumbprint(),
        kms_key_id: public.key_arn.clone(),
        alg: public.alg,
        status,
        public_jwk: public.jwk.clone(),
        created_at: NOW,
        activated_at: (status == KeyStatus::Active).then_some(NOW),
        retired_at: None,
    };
    env.put(item::signing_key_to_item(&key).unwrap()).await;
    key
}

fn clocked(env: &Env, fallback: &str) -> (KmsSigner<DynamoKeyRegistry>, Arc<AtomicU64>) {
    let clock = Arc::new(AtomicU64::new(NOW));
    let c = clock.clone();
    let signer = env
        .signer(fallback)
        .with_clock(Arc::new(move || c.load(Ordering::SeqCst)));
    (signer, clock)
}

#[tokio::test]
async fn registry_active_key_preferred() {
    let env = env("registry").await;
    let fallback = aws().create_kms_key(KeySpec::Rsa2048).await.unwrap();
    let mut key = registered_key(&env, KeySpec::EccNistP256, KeyStatus::Pending).await;
    let (signer, clock) = clocked(&env, &fallback);
    // The registry holds a key, none active: the fallback does not sign (fail closed).
    let e = signer.active_key().await.unwrap_err();
    assert!(e.message().contains("none is active"), "{e}");

    key.status = KeyStatus::Active;
    key.activated_at = Some(NOW + 1);
    env.put(item::signing_key_to_item(&key).unwrap()).await;
    clock.store(NOW + 1, Ordering::SeqCst);
    let active = signer.active_key().await.unwrap();
    assert_eq!(active.alg, Alg::ES256);
    assert_eq!(active.kid, key.kid);
    assert_eq!(active.handle, key.kms_key_id);
    let token = jws(&signer, &active, &serde_json::json!({"sub": "x"})).await;
    verify(&token, &key.public_jwk, jsonwebtoken::Algorithm::ES256).unwrap();
}

#[tokio::test]
async fn fallback_key_only_for_empty_registry() {
    let env = env("fallback").await;
    let fallback = aws().create_kms_key(KeySpec::Rsa2048).await.unwrap();
    let fallback_kid = public_jwk(&env.kms, &fallback)
        .await
        .unwrap()
        .jwk
        .thumbprint();
    let (signer, clock) = clocked(&env, &fallback);
    assert_eq!(signer.active_key().await.unwrap().kid, fallback_kid);
    // A retired key in the registry: the fallback stops signing at the next refresh.
    registered_key(&env, KeySpec::EccNistP256, KeyStatus::Retired).await;
    clock.store(NOW + 60, Ordering::SeqCst);
    assert!(signer.active_key().await.is_err());
}

#[tokio::test]
async fn active_key_retired_kept_within_grace_then_fail_closed() {
    let env = env("forcedretire").await;
    let fallback = aws().create_kms_key(KeySpec::Rsa2048).await.unwrap();
    let mut key = registered_key(&env, KeySpec::EccNistP256, KeyStatus::Active).await;
    let (signer, clock) = clocked(&env, &fallback);
    assert_eq!(signer.active_key().await.unwrap().kid, key.kid);
    // `keys retire --force`: no key is active. The last active key (still published)
    // keeps signing for the grace, never the fallback; then nothing signs.
    key.status = KeyStatus::Retired;
    key.retired_at = Some(NOW + 1);
    env.put(item::signing_key_to_item(&key).unwrap()).await;
    clock.store(NOW + 60, Ordering::SeqCst);
    assert_eq!(signer.active_key().await.unwrap().kid, key.kid);
    clock.store(
        NOW + m2m_aws::kms::signer::KEY_STALE_GRACE_SECS,
        Ordering::SeqCst,
    );
    assert!(signer.active_key().await.is_err());
}

#[tokio::test]
async fn revoked_active_key_never_signs_even_in_grace() {
    let env = env("revoked").await;
    let fallback = aws().create_kms_key(KeySpec::Rsa2048).await.unwrap();
    let mut key = registered_key(&env, KeySpec::EccNistP256, KeyStatus::Active).await;
    let (signer, clock) = clocked(&env, &fallback);
    assert_eq!(signer.active_key().await.unwrap().kid, key.kid);
    key.status = KeyStatus::Revoked;
    env.put(item::signing_key_to_item(&key).unwrap()).await;
    clock.store(NOW + 60, Ordering::SeqCst);
    assert!(signer.active_key().await.is_err());
    // Even if the registry then becomes unreadable, the revoked key is not used as the
    // stale-on-error fallback: it was dropped from the cache.
    let mut broken = item::signing_key_key(&Kid::new("broken"));
    broken.insert(item::KIND.into(), AttributeValue::S(item::KIND_KEY.into()));
    env.put(broken).await;
    clock.store(NOW + 120, Ordering::SeqCst);
    assert!(signer.active_key().await.is_err());
}

#[tokio::test]
async fn active_key_status_read_consistently() {
    // The index lists the keys; the status comes from a strongly consistent read of the
    // base table (a GSI cannot be read consistently).
    let env = env("consistent").await;
    let fallback = aws().create_kms_key(KeySpec::Rsa2048).await.unwrap();
    registered_key(&env, KeySpec::EccNistP256, KeyStatus::Active).await;
    let counter = RequestCounter::new();
    let sdk = aws().sdk_config().await;
    let signer = KmsSigner::new(
        counter.kms(&sdk),
        DynamoKeyRegistry::new(counter.dynamo(&sdk), &env.table),
        &fallback,
    );
    signer.refresh().await.unwrap();
    let ops: Vec<String> = counter
        .snapshot()
        .keys()
        .map(|(_, op)| op.clone())
        .collect();
    assert_eq!(ops, ["BatchGetItem", "Query"]);
}

#[tokio::test]
async fn malformed_active_key_item_server_error() {
    let env = env("badkey").await;
    let mut item: Item = item::signing_key_key(&Kid::new("broken"));
    item.insert(item::KIND.into(), AttributeValue::S(item::KIND_KEY.into()));
    item.insert("status".into(), AttributeValue::S("active".into()));
    item.insert("alg".into(), AttributeValue::S("HS256".into()));
    env.put(item).await;
    let err = env.signer("alias/unused").active_key().await.unwrap_err();
    assert!(!err.is_transient());
    assert_eq!(err.message(), "malformed signing key in the registry");
}

#[tokio::test]
async fn unknown_kms_key_server_error() {
    let env = env("nokey").await;
    let signer = env.signer("alias/does-not-exist");
    let err = signer.active_key().await.unwrap_err();
    assert!(!err.is_transient(), "{err}");
    let key = ActiveKey {
        alg: Alg::RS256,
        kid: Kid::new("k"),
        handle: "11111111-2222-3333-4444-555555555555".into(),
    };
    let err = signer.sign(&key, b"a.b").await.unwrap_err();
    assert!(!err.is_transient(), "{err}");
}

#[tokio::test]
async fn oversized_signing_input_server_error() {
    let env = env("oversized").await;
    let counter = RequestCounter::new();
    let signer = KmsSigner::new(
        counter.kms(&env.sdk),
        DynamoKeyRegistry::new(counter.dynamo(&env.sdk), &env.table),
        "x",
    );
    let key = ActiveKey {
        alg: Alg::RS256,
        kid: Kid::new("k"),
        handle: "x".into(),
    };
    let err = signer.sign(&key, &[b'a'; 4097]).await.unwrap_err();
    assert!(!err.is_transient());
    assert_eq!(counter.total(), 0, "refused before calling KMS");
}

#[tokio::test]
async fn warm_lookup_and_sign_one_request_each() {
    let env = env("count").await;
    seed(&env).await;
    let key_id = aws().create_kms_key(KeySpec::Rsa2048).await.unwrap();
    let counter = RequestCounter::new();
    let dir = DynamoDirectory::new(counter.dynamo(&env.sdk), &env.table);
    let signer = KmsSigner::new(
        counter.kms(&env.sdk),
        DynamoKeyRegistry::new(counter.dynamo(&env.sdk), &env.table),
        &key_id,
    );

    // Cold: the registry query and the fallback key's GetPublicKey.
    signer.active_key().await.unwrap();
    let cold = counter.snapshot();
    assert_eq!(counter.count("DynamoDB"), 1, "{cold:?}");
    assert_eq!(counter.count("KMS"), 1, "{cold:?}");
    counter.clear();

    // Warm: what one token issuance does.
    let found = dir.lookup(&client().id, &api().identifier).await.unwrap();
    assert!(found.client.is_some() && found.grant.is_some() && found.api.is_some());
    let key = signer.active_key().await.unwrap();
    signer.sign(&key, b"header.claims").await.unwrap();
    let warm = counter.snapshot();
    eprintln!("warm issuance AWS requests: {warm:?}");
    assert_eq!(
        warm,
        BTreeMap::from([
            (("DynamoDB".to_owned(), "BatchGetItem".to_owned()), 1),
            (("KMS".to_owned(), "Sign".to_owned()), 1),
        ])
    );
}

#[tokio::test]
async fn shared_table_names_unique() {
    let a = aws().create_table("uniq").await.unwrap();
    let b = aws().create_table("uniq").await.unwrap();
    assert_ne!(a, b);
}
