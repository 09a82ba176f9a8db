//! Revocation by the operator (RFC 7009 §2) and the introspection permission (RFC
//! 7662 §2.1) against the in-memory store: the client and the verifiers' entry written
//! together or not at all, a revocation never narrowed, disabling revoking, conflicts
//! retried, and a failed write leaving the store as it was.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use m2m_core::model::{Client, ClientStatus, MAX_TOKEN_LIFETIME};
use m2m_core::revocation::Revocation;
use m2m_core::testing::fixtures::NOW;
use m2m_core::types::{ClientId, OrgId};
use m2m_manage::clients::NewClient;
use m2m_manage::testing::InMemoryAdminStore;
use m2m_manage::{Backoff, ManageError, Operator, Target};

fn operator() -> Operator<InMemoryAdminStore> {
    Operator::new(InMemoryAdminStore::new()).with_backoff(Backoff::IMMEDIATE)
}

async fn client(op: &Operator<InMemoryAdminStore>, org: Option<&str>) -> Client {
    op.create_client(
        NewClient {
            name: "Acme backend".into(),
            org_id: org.map(OrgId::new),
            ..NewClient::default()
        },
        NOW,
    )
    .await
    .unwrap()
    .client
}

fn client_entry(id: &ClientId, not_before: u64) -> Revocation {
    Revocation::Client {
        client_id: id.clone(),
        not_before,
    }
}

/// The store's clients and revocation entries, to compare before and after.
fn snapshot(op: &Operator<InMemoryAdminStore>) -> (Vec<Client>, Vec<Revocation>) {
    (op.store.clients(), op.store.revocations())
}

#[tokio::test]
async fn revoke_tokens_sets_not_before_and_records_entry() {
    let op = operator();
    let c = client(&op, None).await;
    let revoked = op.revoke_tokens(&c.id, None, NOW).await.unwrap();
    assert_eq!(
        revoked.not_before,
        Some(NOW + 1),
        "tokens of second NOW too"
    );
    assert_eq!(revoked.version, c.version + 1);
    assert_eq!(
        revoked.status,
        ClientStatus::Active,
        "the client keeps working"
    );
    assert_eq!(op.client(&c.id).await.unwrap(), revoked);
    assert_eq!(op.store.revocations(), [client_entry(&c.id, NOW + 1)]);
}

#[tokio::test]
async fn revoke_tokens_with_earlier_clock_never_moves_back() {
    let op = operator();
    let c = client(&op, None).await;
    op.revoke_tokens(&c.id, None, NOW).await.unwrap();
    // Another operator's clock runs behind.
    let again = op.revoke_tokens(&c.id, None, NOW - 100).await.unwrap();
    assert_eq!(again.not_before, Some(NOW + 1));
    assert_eq!(op.store.revocations(), [client_entry(&c.id, NOW + 1)]);
    let later = op.revoke_tokens(&c.id, None, NOW + 50).await.unwrap();
    assert_eq!(later.not_before, Some(NOW + 51));
    assert_eq!(op.store.revocations(), [client_entry(&c.id, NOW + 51)]);
}

#[tokio::test]
async fn revoke_tokens_conflicts_retried_on_fresh_read() {
    let op = operator();
    let c = client(&op, None).await;
    op.store.inject_conflicts(5);
    let revoked = op.revoke_tokens(&c.id, None, NOW).await.unwrap();
    assert_eq!(revoked.not_before, Some(NOW + 1));
    assert_eq!(op.store.revocations(), [client_entry(&c.id, NOW + 1)]);
}

#[tokio::test]
async fn revoke_tokens_endless_conflicts_write_nothing() {
    let op = operator();
    let c = client(&op, None).await;
    let before = snapshot(&op);
    op.store.inject_conflicts(1000);
    let err = op.revoke_tokens(&c.id, None, NOW).await.unwrap_err();
    assert!(
        matches!(err, ManageError::KeptChanging(ref w) if w == &format!("client {}", c.id)),
        "{err:?}"
    );
    assert_eq!(snapshot(&op), before);
    assert!(op.store.revocations().is_empty());
}

#[tokio::test]
async fn revoke_tokens_store_down_writes_nothing() {
    let op = operator();
    let c = client(&op, None).await;
    let before = snapshot(&op);
    op.store.set_unavailable(true);
    let err = op.revoke_tokens(&c.id, None, NOW).await.unwrap_err();
    assert!(matches!(err, ManageError::Store(_)), "{err:?}");
    op.store.set_unavailable(false);
    assert_eq!(snapshot(&op), before);
    // Running it again does it.
    op.revoke_tokens(&c.id, None, NOW).await.unwrap();
    assert_eq!(op.store.revocations(), [client_entry(&c.id, NOW + 1)]);
}

#[tokio::test]
async fn revoke_tokens_stale_expected_version_mismatch() {
    let op = operator();
    let c = client(&op, None).await;
    op.store.touch_client(&c.id);
    let before = snapshot(&op);
    let err = op
        .revoke_tokens(&c.id, Some(c.version), NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ManageError::VersionMismatch { expected, current, .. }
                if expected == c.version && current == c.version + 1
        ),
        "{err:?}"
    );
    assert_eq!(snapshot(&op), before);
}

#[tokio::test]
async fn revoke_tokens_unknown_client_not_found() {
    let op = operator();
    let err = op
        .revoke_tokens(&ClientId::new("nobody"), None, NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ManageError::NotFound(Target::Client(ref id)) if id.as_str() == "nobody"),
        "{err:?}"
    );
    assert!(op.store.revocations().is_empty());
}

#[tokio::test]
async fn disable_revokes_and_enable_does_not_undo() {
    let op = operator();
    let c = client(&op, None).await;
    let off = op
        .set_client_status(&c.id, ClientStatus::Disabled, None, NOW)
        .await
        .unwrap();
    assert_eq!(off.status, ClientStatus::Disabled);
    assert_eq!(off.not_before, Some(NOW + 1));
    assert_eq!(off.version, c.version + 1, "one write");
    assert_eq!(op.store.revocations(), [client_entry(&c.id, NOW + 1)]);
    let on = op
        .set_client_status(&c.id, ClientStatus::Active, None, NOW + 60)
        .await
        .unwrap();
    assert_eq!(on.status, ClientStatus::Active);
    assert_eq!(
        on.not_before,
        Some(NOW + 1),
        "enabling revokes nothing back"
    );
    assert_eq!(op.store.revocations(), [client_entry(&c.id, NOW + 1)]);
}

#[tokio::test]
async fn disable_failing_writes_neither_status_nor_entry() {
    let op = operator();
    let c = client(&op, None).await;
    let before = snapshot(&op);
    op.store.inject_conflicts(1000);
    assert!(op
        .set_client_status(&c.id, ClientStatus::Disabled, None, NOW)
        .await
        .is_err());
    assert_eq!(snapshot(&op), before);
}

#[tokio::test]
async fn org_disable_revokes_every_changed_client() {
    let op = operator();
    let a = client(&op, Some("acme")).await;
    let b = client(&op, Some("acme")).await;
    let other = client(&op, Some("bravo")).await;
    let done = op
        .set_org_status(&OrgId::new("acme"), ClientStatus::Disabled, NOW)
        .await
        .unwrap();
    assert_eq!(done.changed.len(), 2);
    let mut want = vec![client_entry(&a.id, NOW + 1), client_entry(&b.id, NOW + 1)];
    want.sort_by(|x, y| x.client_id().as_str().cmp(y.client_id().as_str()));
    assert_eq!(op.store.revocations(), want);
    for id in [&a.id, &b.id] {
        assert_eq!(op.client(id).await.unwrap().not_before, Some(NOW + 1));
    }
    assert_eq!(op.client(&other.id).await.unwrap().not_before, None);
}

#[tokio::test]
async fn revoke_token_bumps_epoch_and_records_entry() {
    let op = operator();
    let c = client(&op, None).await;
    let one = op
        .revoke_token(&c.id, "jti-1", NOW + 3600, None, NOW)
        .await
        .unwrap();
    assert_eq!(one.revocation_epoch, 1);
    assert_eq!(one.not_before, None, "the client's other tokens stay valid");
    let two = op
        .revoke_token(&c.id, "jti-2", NOW + 60, None, NOW)
        .await
        .unwrap();
    assert_eq!(two.revocation_epoch, 2);
    let entries = op.store.revocations();
    assert_eq!(entries.len(), 2);
    assert!(entries.contains(&Revocation::Token {
        jti: "jti-1".into(),
        client_id: c.id.clone(),
        expires_at: NOW + 3600,
    }));
}

#[tokio::test]
async fn revoke_token_again_never_shortens_the_entry() {
    let op = operator();
    let c = client(&op, None).await;
    op.revoke_token(&c.id, "jti-1", NOW + 3600, None, NOW)
        .await
        .unwrap();
    let again = op
        .revoke_token(&c.id, "jti-1", NOW + 60, None, NOW)
        .await
        .unwrap();
    assert_eq!(again.revocation_epoch, 2);
    assert_eq!(
        op.store.revocations(),
        [Revocation::Token {
            jti: "jti-1".into(),
            client_id: c.id.clone(),
            expires_at: NOW + 3600,
        }]
    );
}

#[tokio::test]
async fn revoke_token_bad_input_invalid_and_writes_nothing() {
    let op = operator();
    let c = client(&op, None).await;
    let before = snapshot(&op);
    let long = "j".repeat(1001);
    for (jti, exp) in [
        ("", NOW + 60),
        (long.as_str(), NOW + 60),
        // No token issued by now lives that long.
        ("jti", NOW + MAX_TOKEN_LIFETIME + 1),
        // Expired long enough ago that every verifier refuses it.
        ("jti", NOW - 3600),
    ] {
        let err = op
            .revoke_token(&c.id, jti, exp, None, NOW)
            .await
            .unwrap_err();
        assert!(
            matches!(err, ManageError::Invalid(_)),
            "{jti} {exp}: {err:?}"
        );
    }
    assert_eq!(snapshot(&op), before);
    // Just expired, within the verifiers' leeway: still worth an entry.
    op.revoke_token(&c.id, "jti", NOW - 1, None, NOW)
        .await
        .unwrap();
    op.revoke_token(&c.id, "jti-max", NOW + MAX_TOKEN_LIFETIME, None, NOW)
        .await
        .unwrap();
    assert_eq!(op.store.revocations().len(), 2);
}

#[tokio::test]
async fn revoke_token_endless_conflicts_write_nothing() {
    let op = operator();
    let c = client(&op, None).await;
    let before = snapshot(&op);
    op.store.inject_conflicts(1000);
    let err = op
        .revoke_token(&c.id, "jti-1", NOW + 60, None, NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, ManageError::KeptChanging(_)), "{err:?}");
    assert_eq!(snapshot(&op), before);
}

#[tokio::test]
async fn revoke_token_unknown_client_not_found() {
    let op = operator();
    let err = op
        .revoke_token(&ClientId::new("nobody"), "jti-1", NOW + 60, None, NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ManageError::NotFound(Target::Client(_))),
        "{err:?}"
    );
    assert!(op.store.revocations().is_empty());
}

#[tokio::test]
async fn introspection_allowed_then_denied() {
    let op = operator();
    let c = client(&op, None).await;
    assert!(!c.introspect, "denied by default");
    let allowed = op.set_introspection(&c.id, true, None).await.unwrap();
    assert!(allowed.introspect);
    assert_eq!(allowed.version, c.version + 1);
    assert!(op.client(&c.id).await.unwrap().introspect);
    let denied = op
        .set_introspection(&c.id, false, Some(allowed.version))
        .await
        .unwrap();
    assert!(!denied.introspect);
    let err = op
        .set_introspection(&ClientId::new("nobody"), true, None)
        .await
        .unwrap_err();
    assert!(matches!(err, ManageError::NotFound(_)), "{err:?}");
}
