//! `DynamoKeyRegistry` against the local emulator (moto): what is stored is what is
//! listed, across pages, other item kinds are not, and a malformed key is an error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use m2m_aws::dynamo::item::{self, Item};
use m2m_aws::dynamo::registry::DynamoKeyRegistry;
use m2m_core::keys::KeySource;
use m2m_core::model::{KeyStatus, SigningKey};
use m2m_core::testing::fixtures::{self, API, API_SCOPES, CLIENT_ID, CLIENT_SECRET, NOW};
use m2m_core::testing::SoftwareSigner;
use m2m_testkit::LocalAws;

async fn setup() -> (Client, String) {
    let aws = LocalAws::shared().unwrap();
    let table = aws.create_table("registry").await.unwrap();
    (Client::new(&aws.setup_sdk_config().await), table)
}

async fn put(client: &Client, table: &str, item: Item) {
    client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
}

fn signing_key(signer: &SoftwareSigner, status: KeyStatus, created_at: u64) -> SigningKey {
    let jwk = signer.jwk();
    SigningKey {
        kid: jwk.kid.clone().unwrap(),
        kms_key_id: format!("arn:aws:kms:us-east-1:123456789012:key/{created_at}"),
        alg: jwk.algorithm().unwrap(),
        status,
        public_jwk: jwk,
        created_at,
        activated_at: (status != KeyStatus::Pending).then_some(created_at + 400),
        retired_at: (status == KeyStatus::Retired).then_some(created_at + 900),
    }
}

fn three_keys() -> Vec<SigningKey> {
    vec![
        signing_key(&SoftwareSigner::rs256(), KeyStatus::Active, NOW),
        signing_key(&SoftwareSigner::es256(), KeyStatus::Pending, NOW + 10),
        signing_key(
            &SoftwareSigner::es256_fresh(),
            KeyStatus::Retired,
            NOW - 5000,
        ),
    ]
}

fn sorted(mut keys: Vec<SigningKey>) -> Vec<SigningKey> {
    keys.sort_by(|a, b| a.kid.cmp(&b.kid));
    keys
}

#[tokio::test]
async fn stored_keys_round_trip_and_other_kinds_are_not_listed() {
    let (client, table) = setup().await;
    let registry = DynamoKeyRegistry::new(client.clone(), &table);
    assert_eq!(registry.signing_keys().await.unwrap(), vec![]);
    let keys = three_keys();
    for k in &keys {
        put(&client, &table, item::signing_key_to_item(k).unwrap()).await;
    }
    put(
        &client,
        &table,
        item::api_to_item(&fixtures::api(API, API_SCOPES)),
    )
    .await;
    put(
        &client,
        &table,
        item::client_to_item(&fixtures::client(CLIENT_ID, CLIENT_SECRET)),
    )
    .await;
    put(
        &client,
        &table,
        item::grant_to_item(&fixtures::grant(CLIENT_ID, API, &["admin"])),
    )
    .await;
    let listed = registry.signing_keys().await.unwrap();
    assert_eq!(sorted(listed), sorted(keys));
}

#[tokio::test]
async fn every_page_is_read() {
    let (client, table) = setup().await;
    let keys = three_keys();
    for k in &keys {
        put(&client, &table, item::signing_key_to_item(k).unwrap()).await;
    }
    let registry = DynamoKeyRegistry::new(client, &table).with_page_size(1);
    assert_eq!(sorted(registry.list().await.unwrap()), sorted(keys));
}

#[tokio::test]
async fn malformed_key_item_is_an_error_not_skipped() {
    let (client, table) = setup().await;
    for k in three_keys() {
        put(&client, &table, item::signing_key_to_item(&k).unwrap()).await;
    }
    let mut bad = item::signing_key_to_item(&signing_key(
        &SoftwareSigner::es256_fresh(),
        KeyStatus::Active,
        NOW,
    ))
    .unwrap();
    bad.insert("status".into(), AttributeValue::S("compromised".into()));
    put(&client, &table, bad).await;
    let err = DynamoKeyRegistry::new(client, &table)
        .list()
        .await
        .unwrap_err();
    assert!(!err.is_transient());
    assert_eq!(err.message(), "malformed signing key in the registry");
}

#[tokio::test]
async fn missing_table_is_a_port_error() {
    let aws = LocalAws::shared().unwrap();
    let client = Client::new(&aws.sdk_config().await);
    let err = DynamoKeyRegistry::new(client, "no-such-table")
        .list()
        .await
        .unwrap_err();
    assert!(
        err.message().starts_with("DynamoDB Query (key registry)"),
        "{}",
        err.message()
    );
}
