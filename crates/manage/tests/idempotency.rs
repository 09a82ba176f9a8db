//! Idempotent creation against the in-memory store: a retry replays, a different
//! request with the same key is refused, a failed creation frees the key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use m2m_core::testing::fixtures::NOW;
use m2m_manage::idempotency::{once, IdempotentRequest, Outcome, STALE_AFTER};
use m2m_manage::testing::InMemoryAdminStore;
use m2m_manage::{AdminStore as _, Claim, IdempotencyClaim, ManageError};

fn request(key: &str, body: &str) -> IdempotentRequest {
    IdempotentRequest::new(
        "arn:aws:iam::1:role/signup",
        key,
        &[b"POST", b"/clients", body.as_bytes()],
    )
    .unwrap()
}

#[tokio::test]
async fn retry_same_request_replays_without_creating() {
    let store = InMemoryAdminStore::new();
    let req = request("k-1", "{}");
    let mut created = 0;
    let first = once(
        &store,
        Some(&req),
        NOW,
        |id: &String| id.clone(),
        || {
            created += 1;
            async { Ok::<_, ManageError>("client-a".to_owned()) }
        },
    )
    .await
    .unwrap();
    assert_eq!(first, Outcome::Created("client-a".into()));
    let second = once(
        &store,
        Some(&req),
        NOW + 5,
        |id: &String| id.clone(),
        || async { Ok::<_, ManageError>("client-b".to_owned()) },
    )
    .await
    .unwrap();
    assert_eq!(second, Outcome::Replayed("client-a".into()));
    assert_eq!(created, 1);
}

#[tokio::test]
async fn same_key_different_request_refused() {
    let store = InMemoryAdminStore::new();
    once(
        &store,
        Some(&request("k", "{\"a\":1}")),
        NOW,
        |v: &String| v.clone(),
        || async { Ok::<_, ManageError>("x".to_owned()) },
    )
    .await
    .unwrap();
    let err = once(
        &store,
        Some(&request("k", "{\"a\":2}")),
        NOW,
        |v: &String| v.clone(),
        || async { Ok::<_, ManageError>("y".to_owned()) },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ManageError::IdempotencyKeyReused), "{err:?}");
}

#[tokio::test]
async fn failed_creation_releases_key() {
    let store = InMemoryAdminStore::new();
    let req = request("k", "{}");
    let err = once(
        &store,
        Some(&req),
        NOW,
        |v: &String| v.clone(),
        || async { Err::<String, _>(ManageError::Invalid("no".into())) },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ManageError::Invalid(_)));
    let ok = once(
        &store,
        Some(&req),
        NOW,
        |v: &String| v.clone(),
        || async { Ok::<_, ManageError>("x".to_owned()) },
    )
    .await
    .unwrap();
    assert_eq!(ok, Outcome::Created("x".into()));
}

#[tokio::test]
async fn uncompleted_claim_in_progress_until_stale() {
    // A claim whose request never completed (it died mid-creation).
    let store = InMemoryAdminStore::new();
    let claim = IdempotencyClaim {
        key: "k".into(),
        fingerprint: "f".into(),
        now: NOW,
        stale_before: NOW - STALE_AFTER,
        expires_at: NOW + 3600,
    };
    assert_eq!(
        store.claim_idempotency(&claim).await.unwrap(),
        Claim::Claimed
    );
    let retry = IdempotencyClaim {
        now: NOW + 1,
        stale_before: NOW + 1 - STALE_AFTER,
        ..claim.clone()
    };
    assert!(matches!(
        store.claim_idempotency(&retry).await.unwrap(),
        Claim::Held { result: None, .. }
    ));
    let later = IdempotencyClaim {
        now: NOW + STALE_AFTER + 1,
        stale_before: NOW + 1,
        ..claim
    };
    assert_eq!(
        store.claim_idempotency(&later).await.unwrap(),
        Claim::Claimed
    );
}

#[tokio::test]
async fn in_progress_request_refused() {
    let store = InMemoryAdminStore::new();
    let req = request("k", "{}");
    let err = once(
        &store,
        Some(&req),
        NOW,
        |v: &String| v.clone(),
        || async {
            // A concurrent retry arrives while this creation runs.
            let inner = once(
                &store,
                Some(&req),
                NOW,
                |v: &String| v.clone(),
                || async { Ok::<_, ManageError>("second".to_owned()) },
            )
            .await;
            assert!(
                matches!(inner, Err(ManageError::IdempotencyInProgress)),
                "{inner:?}"
            );
            Err::<String, _>(ManageError::Invalid("stop".into()))
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ManageError::Invalid(_)));
}

#[test]
fn malformed_key_invalid() {
    for key in ["", "tab\there", &"k".repeat(256), "ünïcode"] {
        assert!(matches!(
            IdempotentRequest::new("p", key, &[b"x"]),
            Err(ManageError::Invalid(_))
        ));
    }
}
