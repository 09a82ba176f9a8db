//! `DynamoRevocations` against the local emulator (moto): what is revoked is listed,
//! across pages; lapsed entries are skipped; a client's not-before never moves
//! earlier; the table holds no token id; a malformed entry fails the read.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use m2m_aws::dynamo::item::revocation::{
    revocation_to_item, RevocationEntry, NOT_BEFORE, REVOCATION_PK,
};
use m2m_aws::dynamo::item::{Item, PK, SK};
use m2m_aws::DynamoRevocations;
use m2m_core::access_token::LEEWAY;
use m2m_core::model::MAX_TOKEN_LIFETIME;
use m2m_core::revocation::{jti_digest, Revocation, Revocations};
use m2m_core::testing::fixtures::NOW;
use m2m_core::types::ClientId;
use m2m_testkit::{LocalAws, RequestCounter};

fn aws() -> &'static LocalAws {
    LocalAws::shared().expect("local AWS emulator")
}

async fn setup() -> (Client, String) {
    let table = aws().create_table("revocations").await.unwrap();
    (Client::new(&aws().setup_sdk_config().await), table)
}

/// The adapter on `table`, deciding what has lapsed by the fixed time `now`.
async fn revocations(table: &str, now: u64) -> DynamoRevocations {
    let client = Client::new(&aws().sdk_config().await);
    DynamoRevocations::new(client, table).with_clock(Arc::new(move || now))
}

fn client(id: &str, not_before: u64) -> Revocation {
    Revocation::Client {
        client_id: ClientId::new(id),
        not_before,
    }
}

fn token(jti: &str, id: &str, expires_at: u64) -> Revocation {
    Revocation::Token {
        jti: jti.to_owned(),
        client_id: ClientId::new(id),
        expires_at,
    }
}

async fn scan(dynamo: &Client, table: &str) -> Vec<Item> {
    dynamo
        .scan()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default()
}

#[tokio::test]
async fn revoked_client_and_token_listed() {
    let (_, table) = setup().await;
    let store = revocations(&table, NOW).await;
    assert!(store.revocation_list().await.unwrap().is_empty());

    store.revoke(&client("acme", NOW), NOW).await.unwrap();
    store
        .revoke(&token("jti-1", "globex", NOW + 3600), NOW)
        .await
        .unwrap();
    let list = store.revocation_list().await.unwrap();
    assert_eq!(list.len(), 2);
    assert!(list.is_revoked("acme", Some("any"), NOW - 1));
    assert!(!list.is_revoked("acme", Some("any"), NOW));
    assert!(list.is_revoked("globex", Some("jti-1"), NOW));
    // Another token of the same client still passes.
    assert!(!list.is_revoked("globex", Some("jti-2"), NOW));

    // Revoking again changes nothing.
    store
        .revoke(&token("jti-1", "globex", NOW + 3600), NOW + 5)
        .await
        .unwrap();
    assert_eq!(store.revocation_list().await.unwrap(), list);
}

#[tokio::test]
async fn every_page_read_with_a_small_page_limit() {
    let (_, table) = setup().await;
    let store = revocations(&table, NOW).await;
    for i in 0..150 {
        let r = if i % 3 == 0 {
            client(&format!("client-{i}"), NOW + i)
        } else {
            token(&format!("jti-{i}"), "c", NOW + 3600)
        };
        store.revoke(&r, NOW).await.unwrap();
    }
    let counter = RequestCounter::new();
    let sdk = aws().sdk_config().await;
    let paged = DynamoRevocations::new(counter.dynamo(&sdk), &table)
        .with_page_size(20)
        .with_clock(Arc::new(|| NOW));
    let list = paged.revocation_list().await.unwrap();
    assert_eq!(list.len(), 150);
    assert!(list.is_revoked("client-0", None, NOW - 1));
    assert!(list.is_revoked("client-147", None, NOW + 146));
    assert!(list.is_revoked("c", Some("jti-1"), NOW));
    assert!(list.is_revoked("c", Some("jti-149"), NOW));
    // 150 entries at 20 a page: 8 pages, and at most one empty last page.
    let queries = counter.snapshot()[&("DynamoDB".to_owned(), "Query".to_owned())];
    assert!((8..=9).contains(&queries), "{queries} pages");
    assert_eq!(counter.total(), queries);
}

#[tokio::test]
async fn lapsed_entries_skipped_until_deleted() {
    let (dynamo, table) = setup().await;
    let writer = revocations(&table, NOW).await;
    writer.revoke(&client("acme", NOW), NOW).await.unwrap();
    writer
        .revoke(&token("jti-1", "acme", NOW + 3600), NOW)
        .await
        .unwrap();

    // The token entry lapses LEEWAY after the token's exp: until then it is listed.
    let before = revocations(&table, NOW + 3600 + LEEWAY - 1).await;
    assert_eq!(before.revocation_list().await.unwrap().len(), 2);
    let after = revocations(&table, NOW + 3600 + LEEWAY).await;
    let list = after.revocation_list().await.unwrap();
    assert_eq!(list.len(), 1);
    assert!(!list.is_revoked("other", Some("jti-1"), NOW));
    assert!(list.is_revoked("acme", None, NOW - 1));

    // The client entry lapses a day and the leeway after its not-before.
    let end = NOW + MAX_TOKEN_LIFETIME + LEEWAY;
    assert_eq!(
        revocations(&table, end - 1)
            .await
            .revocation_list()
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(revocations(&table, end)
        .await
        .revocation_list()
        .await
        .unwrap()
        .is_empty());
    // Still in the table (DynamoDB deletes expired items lazily), each with its ttl.
    let stored = revocations(&table, end).await.entries().await.unwrap();
    let mut ttls: Vec<u64> = stored.iter().map(RevocationEntry::ttl).collect();
    ttls.sort_unstable();
    assert_eq!(ttls, [NOW + 3600 + LEEWAY, end]);
    assert_eq!(scan(&dynamo, &table).await.len(), 2);

    // Nothing is written for a revocation that has already lapsed.
    after
        .revoke(&token("jti-old", "acme", NOW), NOW + LEEWAY)
        .await
        .unwrap();
    assert_eq!(scan(&dynamo, &table).await.len(), 2);
}

#[tokio::test]
async fn not_before_never_lowered() {
    let (dynamo, table) = setup().await;
    let store = revocations(&table, NOW).await;
    let stored_not_before = || async {
        let items = scan(&dynamo, &table).await;
        assert_eq!(items.len(), 1);
        match &items[0][NOT_BEFORE] {
            AttributeValue::N(v) => v.parse::<u64>().unwrap(),
            other => panic!("{other:?}"),
        }
    };
    store.revoke(&client("acme", NOW + 200), NOW).await.unwrap();
    assert_eq!(stored_not_before().await, NOW + 200);
    // An earlier instant, written later (a slow or repeated request): refused by the
    // condition, and that refusal is success.
    store.revoke(&client("acme", NOW + 100), NOW).await.unwrap();
    assert_eq!(stored_not_before().await, NOW + 200);
    store.revoke(&client("acme", NOW + 200), NOW).await.unwrap();
    assert_eq!(stored_not_before().await, NOW + 200);
    store.revoke(&client("acme", NOW + 300), NOW).await.unwrap();
    assert_eq!(stored_not_before().await, NOW + 300);
    let list = store.revocation_list().await.unwrap();
    assert_eq!(list.not_before("acme"), Some(NOW + 300));
    // Its ttl moved with it.
    assert_eq!(
        store.entries().await.unwrap()[0].ttl(),
        NOW + 300 + MAX_TOKEN_LIFETIME + LEEWAY
    );
}

#[tokio::test]
async fn table_holds_no_token_id() {
    let (dynamo, table) = setup().await;
    let store = revocations(&table, NOW).await;
    let jtis = [
        "3f0c5e4a-9b1d-4e7a-8c2f-6d5b4a3c2b1a",
        "jti-short-but-unique",
    ];
    for jti in jtis {
        store
            .revoke(&token(jti, "acme", NOW + 600), NOW)
            .await
            .unwrap();
    }
    let items = scan(&dynamo, &table).await;
    assert_eq!(items.len(), 2);
    for item in &items {
        let text = format!("{item:?}");
        for jti in jtis {
            assert!(!text.contains(jti), "{text}");
        }
        assert_eq!(item[PK], AttributeValue::S(REVOCATION_PK.into()));
    }
    let mut sks: Vec<String> = items
        .iter()
        .map(|i| i[SK].as_s().unwrap().clone())
        .collect();
    sks.sort();
    let mut want: Vec<String> = jtis
        .iter()
        .map(|j| format!("JTI#{}", jti_digest(j)))
        .collect();
    want.sort();
    assert_eq!(sks, want);
    // The list still recognises the presented ids.
    let list = store.revocation_list().await.unwrap();
    assert!(jtis.iter().all(|j| list.is_revoked("acme", Some(j), NOW)));
}

#[tokio::test]
async fn malformed_entry_fails_the_read() {
    let (dynamo, table) = setup().await;
    let store = revocations(&table, NOW).await;
    store.revoke(&client("acme", NOW), NOW).await.unwrap();
    let mut bad = revocation_to_item(&token("j", "acme", NOW + 60), NOW);
    bad.insert(SK.to_owned(), AttributeValue::S("JTI#not-a-digest".into()));
    dynamo
        .put_item()
        .table_name(&table)
        .set_item(Some(bad))
        .send()
        .await
        .unwrap();
    // A list without that entry could un-revoke a token: no list at all.
    let err = store.revocation_list().await.unwrap_err();
    assert!(err.to_string().contains("malformed"), "{err}");
}

#[tokio::test]
async fn other_items_are_not_revocations() {
    let table = aws().seeded_table("revocations-seeded").await.unwrap();
    let store = revocations(&table, NOW).await;
    assert!(store.revocation_list().await.unwrap().is_empty());
}

#[tokio::test]
async fn unreachable_store_is_an_error() {
    let sdk = m2m_testkit::local_sdk_config("http://127.0.0.1:9").await;
    let store = DynamoRevocations::new(Client::new(&sdk), "t");
    assert!(store.revocation_list().await.is_err());
    assert!(store.revoke(&client("acme", NOW), NOW).await.is_err());
}
