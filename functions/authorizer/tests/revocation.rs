//! Revocation through the authorizer's handler, with in-memory fakes and a fixed
//! clock: a client's not-before and a token's `jti` are refused while other tokens
//! pass; a revocation takes effect at the cache bound and not before; an unreadable
//! list fails closed past twice the bound; a warm request reads nothing; a hanging
//! store is a refusal within the budget, and a malformed event a refusal too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use authorizer::cache::KEY_SET_TTL_SECS;
use authorizer::{authorize, handle, handle_event, Refusal};
use m2m_core::model::KeyStatus;
use m2m_core::revocation::{Revocation, Revocations};
use m2m_core::testing::fixtures::{CLIENT_ID, NOW};
use m2m_core::testing::{InMemoryRevocations, SoftwareSigner};
use m2m_core::types::ClientId;
use serde_json::json;
use support::{app, bearer, registry_key, standard_app, FakeKeys, Mint};

fn rs() -> SoftwareSigner {
    SoftwareSigner::rs256()
}

async fn token(now: u64) -> String {
    Mint::new(&rs(), now).sign(&rs()).await
}

fn revoke_client(not_before: u64) -> Revocation {
    Revocation::Client {
        client_id: ClientId::new(CLIENT_ID),
        not_before,
    }
}

// ---------------------------------------------------------------- revocation

#[tokio::test]
async fn revoked_by_client_not_before() {
    let revocations = InMemoryRevocations::new().with(&revoke_client(NOW));
    let app = app(
        FakeKeys::new(vec![registry_key(&rs(), KeyStatus::Active, 0)]),
        revocations,
        30,
    );
    let before = token(NOW - 1).await;
    let at = token(NOW).await;
    assert_eq!(
        authorize(&app, &bearer(&before), NOW).await.unwrap_err(),
        Refusal::Revoked
    );
    assert!(authorize(&app, &bearer(&at), NOW).await.is_ok());
    // Another client's tokens are untouched.
    let other = Mint::new(&rs(), NOW - 1)
        .claim("client_id", json!("client-2"))
        .sign(&rs())
        .await;
    assert!(authorize(&app, &bearer(&other), NOW).await.is_ok());
}

#[tokio::test]
async fn revoked_by_jti_while_another_token_of_the_client_passes() {
    let revoked = Mint::new(&rs(), NOW);
    let kept = Mint::new(&rs(), NOW);
    let revocations = InMemoryRevocations::new().with(&Revocation::Token {
        jti: revoked.jti(),
        client_id: ClientId::new(CLIENT_ID),
        expires_at: NOW + 3600,
    });
    let app = app(
        FakeKeys::new(vec![registry_key(&rs(), KeyStatus::Active, 0)]),
        revocations,
        30,
    );
    let r = handle(&app, &bearer(&revoked.sign(&rs()).await), NOW).await;
    assert!(!r.is_authorized);
    let r = handle(&app, &bearer(&kept.sign(&rs()).await), NOW).await;
    assert!(r.is_authorized);
    assert_eq!(r.context["jti"], kept.jti());
}

#[tokio::test]
async fn revocation_visible_only_after_the_cache_bound() {
    let app = standard_app();
    let t = token(NOW).await;
    let jti = Mint::new(&rs(), NOW);
    let by_jti = jti.sign(&rs()).await;
    assert!(authorize(&app, &bearer(&t), NOW).await.is_ok());
    assert_eq!(app.revocations.read_count(), 1);
    app.revocations
        .revoke(&revoke_client(NOW + 1), NOW + 1)
        .await
        .unwrap();
    app.revocations
        .revoke(
            &Revocation::Token {
                jti: jti.jti(),
                client_id: ClientId::new(CLIENT_ID),
                expires_at: NOW + 3600,
            },
            NOW + 1,
        )
        .await
        .unwrap();
    // Within the bound the cached list (read at NOW) is used.
    assert!(authorize(&app, &bearer(&t), NOW + 29).await.is_ok());
    assert!(authorize(&app, &bearer(&by_jti), NOW + 29).await.is_ok());
    assert_eq!(app.revocations.read_count(), 1);
    // At the bound it is read again, and the revocations apply.
    assert_eq!(
        authorize(&app, &bearer(&t), NOW + 30).await.unwrap_err(),
        Refusal::Revoked
    );
    assert_eq!(
        authorize(&app, &bearer(&by_jti), NOW + 30)
            .await
            .unwrap_err(),
        Refusal::Revoked
    );
    assert_eq!(app.revocations.read_count(), 2);
    // A token issued after the not-before passes.
    assert!(authorize(&app, &bearer(&token(NOW + 1).await), NOW + 31)
        .await
        .is_ok());
}

#[tokio::test]
async fn zero_bound_reads_every_request() {
    let app = app(
        FakeKeys::new(vec![registry_key(&rs(), KeyStatus::Active, 0)]),
        InMemoryRevocations::new(),
        0,
    );
    let t = token(NOW).await;
    assert!(authorize(&app, &bearer(&t), NOW).await.is_ok());
    app.revocations
        .revoke(&revoke_client(NOW + 1), NOW)
        .await
        .unwrap();
    assert_eq!(
        authorize(&app, &bearer(&t), NOW).await.unwrap_err(),
        Refusal::Revoked
    );
    assert_eq!(app.revocations.read_count(), 2);
    app.revocations.fail(false);
    assert_eq!(
        authorize(&app, &bearer(&token(NOW + 2).await), NOW + 2)
            .await
            .unwrap_err(),
        Refusal::RevocationsUnavailable
    );
}

#[tokio::test]
async fn unreadable_revocations_fail_closed_after_twice_the_bound() {
    let app = standard_app();
    let t = token(NOW).await;
    assert!(authorize(&app, &bearer(&t), NOW).await.is_ok());
    app.revocations.fail(true);
    // The last list (read at NOW) keeps serving until 2 x 30 s after it was read.
    assert!(authorize(&app, &bearer(&t), NOW + 30).await.is_ok());
    assert!(authorize(&app, &bearer(&t), NOW + 59).await.is_ok());
    let r = handle(&app, &bearer(&t), NOW + 60).await;
    assert!(!r.is_authorized);
    assert_eq!(
        authorize(&app, &bearer(&t), NOW + 61).await.unwrap_err(),
        Refusal::RevocationsUnavailable
    );
    app.revocations.heal();
    assert!(authorize(&app, &bearer(&t), NOW + 62).await.is_ok());
}

#[tokio::test]
async fn cold_start_without_a_readable_store_refuses() {
    let keys = FakeKeys::new(vec![registry_key(&rs(), KeyStatus::Active, 0)]);
    keys.fail(true);
    let revocations = InMemoryRevocations::new();
    revocations.fail(false);
    let app = app(keys, revocations, 30);
    app.warm(NOW).await;
    let t = token(NOW).await;
    assert_eq!(
        authorize(&app, &bearer(&t), NOW).await.unwrap_err(),
        Refusal::KeysUnavailable
    );
    app.keys.fail(false);
    assert_eq!(
        authorize(&app, &bearer(&t), NOW + KEY_SET_TTL_SECS)
            .await
            .unwrap_err(),
        Refusal::RevocationsUnavailable
    );
    app.revocations.heal();
    assert!(authorize(&app, &bearer(&t), NOW + KEY_SET_TTL_SECS)
        .await
        .is_ok());
}

// ---------------------------------------------------------------- the warm path

#[tokio::test]
async fn warm_requests_read_nothing_within_the_ttls() {
    let app = standard_app();
    app.warm(NOW).await;
    assert_eq!((app.keys.reads(), app.revocations.read_count()), (1, 1));
    for i in 0..29 {
        let t = token(NOW + i).await;
        assert!(authorize(&app, &bearer(&t), NOW + i).await.is_ok());
    }
    assert_eq!((app.keys.reads(), app.revocations.read_count()), (1, 1));
}

#[tokio::test]
async fn a_hanging_store_is_a_refusal_not_a_timeout_of_the_function() {
    let keys = FakeKeys::new(vec![registry_key(&rs(), KeyStatus::Active, 0)]);
    keys.slow(Duration::from_secs(30));
    let app = app(keys, InMemoryRevocations::new(), 30).with_budget(Duration::from_millis(50));
    let started = std::time::Instant::now();
    let r = handle(&app, &bearer(&token(NOW).await), NOW).await;
    assert!(!r.is_authorized);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        authorize(&app, &bearer(&token(NOW).await), NOW)
            .await
            .unwrap_err(),
        Refusal::Timeout
    );
}

#[tokio::test]
async fn malformed_events_refused() {
    let app = standard_app();
    for e in [
        json!(null),
        json!("Bearer x"),
        json!({"routeKey": "GET /orders"}),
        json!([]),
    ] {
        let r = handle_event(&app, e.clone(), NOW).await;
        assert!(!r.is_authorized, "{e}");
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"isAuthorized": false, "context": {}})
        );
    }
    let t = token(NOW).await;
    let good = serde_json::to_value(bearer(&t)).unwrap();
    assert!(handle_event(&app, good, NOW).await.is_authorized);
}
