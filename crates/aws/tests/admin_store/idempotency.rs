//! Idempotency records through [`AdminStore`]: claim, hold, completion, release,
//! stale takeover and expiry, each decided by one conditional write.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::AttributeValue;
use m2m_aws::dynamo::item::{PK, SK};
use m2m_aws::{Claim, IdempotencyClaim};

use super::*;

fn claim(fingerprint: &str, now: u64) -> IdempotencyClaim {
    IdempotencyClaim {
        key: "5e3c0ffee".into(),
        fingerprint: fingerprint.into(),
        now,
        stale_before: now - 60,
        expires_at: now + 86_400,
    }
}

fn held(fingerprint: &str, result: Option<&str>) -> Claim {
    Claim::Held {
        fingerprint: fingerprint.into(),
        result: result.map(str::to_owned),
    }
}

#[tokio::test]
async fn idempotency_claim_held_complete_release() {
    let env = env("idem").await;
    let s = &env.store;
    assert_eq!(
        s.claim_idempotency(&claim("fp-a", NOW)).await.unwrap(),
        Claim::Claimed
    );
    // A retry (same or other request) within the claim finds it held, not completed.
    assert_eq!(
        s.claim_idempotency(&claim("fp-a", NOW + 1)).await.unwrap(),
        held("fp-a", None)
    );
    assert_eq!(
        s.claim_idempotency(&claim("fp-b", NOW + 1)).await.unwrap(),
        held("fp-a", None)
    );
    // Only the claimant's fingerprint completes it.
    assert!(matches!(
        s.complete_idempotency("5e3c0ffee", "fp-b", "client-x")
            .await,
        Err(StoreError::Conflict(_))
    ));
    s.complete_idempotency("5e3c0ffee", "fp-a", "client-1")
        .await
        .unwrap();
    assert_eq!(
        s.claim_idempotency(&claim("fp-a", NOW + 2)).await.unwrap(),
        held("fp-a", Some("client-1"))
    );
    // A completed record is never released, not even after it went stale.
    assert!(matches!(
        s.release_idempotency("5e3c0ffee", "fp-a").await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        s.claim_idempotency(&claim("fp-b", NOW + 3600))
            .await
            .unwrap(),
        held("fp-a", Some("client-1"))
    );
}

#[tokio::test]
async fn idempotency_released_claim_claimable_again() {
    let env = env("idem-release").await;
    let s = &env.store;
    assert_eq!(
        s.claim_idempotency(&claim("fp-a", NOW)).await.unwrap(),
        Claim::Claimed
    );
    assert!(matches!(
        s.release_idempotency("5e3c0ffee", "fp-b").await,
        Err(StoreError::Conflict(_))
    ));
    s.release_idempotency("5e3c0ffee", "fp-a").await.unwrap();
    assert!(env.scan().await.is_empty());
    assert!(matches!(
        s.release_idempotency("5e3c0ffee", "fp-a").await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        s.claim_idempotency(&claim("fp-b", NOW + 1)).await.unwrap(),
        Claim::Claimed
    );
}

#[tokio::test]
async fn idempotency_stale_claim_taken_over() {
    let env = env("idem-stale").await;
    let s = &env.store;
    assert_eq!(
        s.claim_idempotency(&claim("fp-a", NOW)).await.unwrap(),
        Claim::Claimed
    );
    // At NOW + 60 the claim made at NOW is not yet before `stale_before` (NOW).
    assert_eq!(
        s.claim_idempotency(&claim("fp-b", NOW + 60)).await.unwrap(),
        held("fp-a", None)
    );
    assert_eq!(
        s.claim_idempotency(&claim("fp-b", NOW + 61)).await.unwrap(),
        Claim::Claimed
    );
    // The original request can no longer complete it.
    assert!(matches!(
        s.complete_idempotency("5e3c0ffee", "fp-a", "client-1")
            .await,
        Err(StoreError::Conflict(_))
    ));
    s.complete_idempotency("5e3c0ffee", "fp-b", "client-2")
        .await
        .unwrap();
}

#[tokio::test]
async fn idempotency_expired_record_claimed() {
    let env = env("idem-expired").await;
    let s = &env.store;
    assert_eq!(
        s.claim_idempotency(&claim("fp-a", NOW)).await.unwrap(),
        Claim::Claimed
    );
    s.complete_idempotency("5e3c0ffee", "fp-a", "client-1")
        .await
        .unwrap();
    let expires = NOW + 86_400;
    assert_eq!(
        s.claim_idempotency(&claim("fp-b", expires)).await.unwrap(),
        held("fp-a", Some("client-1"))
    );
    assert_eq!(
        s.claim_idempotency(&claim("fp-b", expires + 1))
            .await
            .unwrap(),
        Claim::Claimed
    );
    // The new claim replaced the record: no result, the new fingerprint and expiry.
    let items = env.scan().await;
    assert_eq!(items.len(), 1);
    let record = &items[0];
    assert_eq!(
        record.get(PK),
        Some(&AttributeValue::S("IDEMPOTENCY#5e3c0ffee".into()))
    );
    assert_eq!(
        record.get(SK),
        Some(&AttributeValue::S("IDEMPOTENCY".into()))
    );
    assert_eq!(
        record.get("fingerprint"),
        Some(&AttributeValue::S("fp-b".into()))
    );
    assert_eq!(
        record.get("ttl"),
        Some(&AttributeValue::N((expires + 1 + 86_400).to_string()))
    );
    assert!(!record.contains_key("result"));
}

#[tokio::test]
async fn idempotency_records_stay_out_of_listings_and_indexes() {
    let env = env("idem-apart").await;
    env.add_clients("acme", Some("org_acme"), 1).await;
    assert_eq!(
        env.store
            .claim_idempotency(&claim("fp-a", NOW))
            .await
            .unwrap(),
        Claim::Claimed
    );
    let listed = env.pages(&ClientFilter::default(), 10).await;
    assert_eq!(ids(&listed), [ClientId::new("acme-00")]);
    assert!(env.store.list_keys().await.unwrap().is_empty());
    assert!(env.store.list_apis().await.unwrap().is_empty());
    let indexed: BTreeSet<_> = env
        .by_org_index()
        .await
        .iter()
        .filter_map(|i| item::item_key(i).map(|(pk, _)| pk.to_owned()))
        .collect();
    assert_eq!(indexed, BTreeSet::from(["CLIENT#acme-00".to_owned()]));
}

#[tokio::test]
async fn held_claim_and_listing_page_one_request_each() {
    let env = env("requests").await;
    env.add_clients("acme", Some("org_acme"), 4).await;
    let counter = m2m_testkit::RequestCounter::new();
    let sdk = LocalAws::shared().unwrap().sdk_config().await;
    let store = DynamoAdminStore::new(counter.dynamo(&sdk), &env.table);
    let ops = |counter: &m2m_testkit::RequestCounter| -> Vec<String> {
        counter
            .snapshot()
            .into_iter()
            .flat_map(|((_, op), n)| std::iter::repeat_n(op, n))
            .collect()
    };

    store.claim_idempotency(&claim("fp-a", NOW)).await.unwrap();
    counter.clear();
    // The refusal carries the holder's record (ReturnValuesOnConditionCheckFailure):
    // no second read.
    assert_eq!(
        store.claim_idempotency(&claim("fp-b", NOW)).await.unwrap(),
        held("fp-a", None)
    );
    assert_eq!(ops(&counter), ["PutItem"]);

    counter.clear();
    let page = store.list_clients(&org("org_acme"), None, 3).await.unwrap();
    assert_eq!(page.items.len(), 3);
    let rest = store
        .list_clients(&org("org_acme"), page.next.as_ref(), 3)
        .await
        .unwrap();
    assert_eq!((rest.items.len(), rest.next), (1, None));
    assert_eq!(ops(&counter), ["Query", "Query"]);
}
