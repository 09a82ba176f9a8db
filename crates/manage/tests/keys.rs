//! The signing-key lifecycle rules against the in-memory store and vault.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use m2m_core::model::{Alg, KeyStatus, MAX_TOKEN_LIFETIME};
use m2m_core::testing::fixtures::NOW;
use m2m_core::types::Kid;
use m2m_manage::keys::PUBLISH_DELAY;
use m2m_manage::testing::{FakeVault, InMemoryAdminStore};
use m2m_manage::{Backoff, ManageError, Operator, Refusal, Target};

fn operator() -> Operator<InMemoryAdminStore> {
    Operator::new(InMemoryAdminStore::new()).with_backoff(Backoff::IMMEDIATE)
}

#[tokio::test]
async fn activate_before_publish_delay_refused_unless_forced() {
    let (op, vault) = (operator(), FakeVault::new());
    let first = op
        .create_key(&vault, Alg::RS256, KeyStatus::Active, NOW)
        .await
        .unwrap();
    let next = op
        .create_key(&vault, Alg::RS256, KeyStatus::Pending, NOW)
        .await
        .unwrap();
    let err = op
        .activate_key(&next.kid, false, NOW + 10)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ManageError::Refused(Refusal::KeyNotReady { published_for: 10, ready_at, .. }) if ready_at == NOW + PUBLISH_DELAY),
        "{err:?}"
    );
    let done = op
        .activate_key(&next.kid, false, NOW + PUBLISH_DELAY)
        .await
        .unwrap();
    assert_eq!(done.retired, vec![first.kid.clone()]);
    assert_eq!(op.key(&first.kid).await.unwrap().status, KeyStatus::Retired);
    assert_eq!(op.key(&next.kid).await.unwrap().status, KeyStatus::Active);
    let again = op
        .activate_key(&next.kid, false, NOW + PUBLISH_DELAY)
        .await
        .unwrap();
    assert!(!again.changed);
}

#[tokio::test]
async fn retired_key_not_reactivated_and_delete_waits_for_tokens() {
    let (op, vault) = (operator(), FakeVault::new());
    let k = op
        .create_key(&vault, Alg::ES256, KeyStatus::Pending, NOW)
        .await
        .unwrap();
    op.retire_key(&k.kid, false, NOW).await.unwrap();
    let err = op.activate_key(&k.kid, true, NOW).await.unwrap_err();
    assert!(
        matches!(err, ManageError::Refused(Refusal::KeyNotReactivated { .. })),
        "{err:?}"
    );
    let err = op.retire_key(&k.kid, false, NOW).await.unwrap_err();
    assert!(
        matches!(err, ManageError::Refused(Refusal::KeyAlreadyRetired { .. })),
        "{err:?}"
    );
    let err = op.delete_key(&vault, &k.kid, 7, NOW + 1).await.unwrap_err();
    assert!(
        matches!(err, ManageError::Refused(Refusal::KeyStillValid { safe_at, .. }) if safe_at == NOW + MAX_TOKEN_LIFETIME),
        "{err:?}"
    );
    op.delete_key(&vault, &k.kid, 7, NOW + MAX_TOKEN_LIFETIME)
        .await
        .unwrap();
    assert_eq!(vault.deleted(), vec![k.kms_key_id.clone()]);
    assert!(matches!(
        op.key(&k.kid).await,
        Err(ManageError::NotFound(Target::Key(_)))
    ));
}

#[tokio::test]
async fn retire_active_refused_unless_forced() {
    let (op, vault) = (operator(), FakeVault::new());
    let k = op
        .create_key(&vault, Alg::RS256, KeyStatus::Active, NOW)
        .await
        .unwrap();
    let err = op.retire_key(&k.kid, false, NOW).await.unwrap_err();
    assert!(
        matches!(err, ManageError::Refused(Refusal::KeyActive { .. })),
        "{err:?}"
    );
    assert_eq!(
        op.retire_key(&k.kid, true, NOW).await.unwrap().status,
        KeyStatus::Retired
    );
}

#[tokio::test]
async fn revoke_active_promotes_only_pending_or_needs_choice() {
    let (op, vault) = (operator(), FakeVault::new());
    let active = op
        .create_key(&vault, Alg::RS256, KeyStatus::Active, NOW)
        .await
        .unwrap();
    let err = op
        .revoke_key(&active.kid, None, false, NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ManageError::Refused(Refusal::NoSuccessor { .. })),
        "{err:?}"
    );
    let p1 = op
        .create_key(&vault, Alg::RS256, KeyStatus::Pending, NOW)
        .await
        .unwrap();
    let p2 = op
        .create_key(&vault, Alg::RS256, KeyStatus::Pending, NOW)
        .await
        .unwrap();
    let err = op
        .revoke_key(&active.kid, None, false, NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ManageError::Refused(Refusal::SeveralPending { ref kids }) if kids.len() == 2),
        "{err:?}"
    );
    let err = op
        .revoke_key(&active.kid, Some(&Kid::new("nope")), false, NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ManageError::Refused(Refusal::KeyNotPending { .. })),
        "{err:?}"
    );
    let done = op
        .revoke_key(&active.kid, Some(&p2.kid), false, NOW)
        .await
        .unwrap();
    assert_eq!(done.promoted, Some(p2.kid.clone()));
    assert_eq!(
        op.key(&active.kid).await.unwrap().status,
        KeyStatus::Revoked
    );
    assert_eq!(op.key(&p2.kid).await.unwrap().status, KeyStatus::Active);
    assert_eq!(op.key(&p1.kid).await.unwrap().status, KeyStatus::Pending);
    assert!(
        !op.revoke_key(&active.kid, None, false, NOW)
            .await
            .unwrap()
            .changed
    );
}

#[tokio::test]
async fn revoked_key_not_published() {
    let (op, vault) = (operator(), FakeVault::new());
    let active = op
        .create_key(&vault, Alg::RS256, KeyStatus::Active, NOW)
        .await
        .unwrap();
    op.revoke_key(&active.kid, None, true, NOW).await.unwrap();
    let keys = op.keys(NOW).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert!(!keys[0].1, "a revoked key is never published");
}

#[tokio::test]
async fn create_key_vault_down_registers_nothing() {
    let (op, vault) = (operator(), FakeVault::new());
    vault.fail(true);
    let err = op
        .create_key(&vault, Alg::RS256, KeyStatus::Pending, NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, ManageError::Vault(_)), "{err:?}");
    assert!(op.keys(NOW).await.unwrap().is_empty());
}

#[tokio::test]
async fn create_key_registration_fails_vault_key_scheduled_for_deletion() {
    let (op, vault) = (operator(), FakeVault::new());
    op.store.inject_conflicts(1);
    let err = op
        .create_key(&vault, Alg::RS256, KeyStatus::Pending, NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ManageError::Exists(Target::Key(_))),
        "{err:?}"
    );
    assert_eq!(vault.deleted().len(), 1);
}
