//! The operator rules of control after issuance on the in-memory store: revocations
//! written on the client and for verifiers, disabling revokes, the introspection
//! permission, quotas validated and an organization's copied to its clients (present
//! and future), usage ranges, and a failed write changing nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use m2m_core::model::ClientStatus;
use m2m_core::quota::{Quota, Subject};
use m2m_core::revocation::Revocation;
use m2m_core::testing::fixtures::NOW;
use m2m_core::types::{ClientId, OrgId};
use m2m_manage::clients::NewClient;
use m2m_manage::testing::InMemoryAdminStore;
use m2m_manage::{Backoff, ManageError, Operator};

fn operator() -> Operator<InMemoryAdminStore> {
    Operator::new(InMemoryAdminStore::new()).with_backoff(Backoff::IMMEDIATE)
}

async fn client(op: &Operator<InMemoryAdminStore>, org: Option<&str>) -> ClientId {
    op.create_client(
        NewClient {
            name: "c".into(),
            org_id: org.map(OrgId::new),
            ..NewClient::default()
        },
        NOW,
    )
    .await
    .unwrap()
    .client
    .id
}

#[tokio::test]
async fn revoke_tokens_sets_not_before_and_publishes_it() {
    let op = operator();
    let id = client(&op, None).await;
    let c = op.revoke_tokens(&id, NOW + 10, None).await.unwrap();
    assert_eq!(c.not_before, Some(NOW + 11));
    // Never moves earlier.
    let c = op.revoke_tokens(&id, NOW, None).await.unwrap();
    assert_eq!(c.not_before, Some(NOW + 11));
    let written = op.store.revocations();
    assert_eq!(
        written[0].0,
        Revocation::Client {
            client_id: id.clone(),
            not_before: NOW + 11
        }
    );
}

#[tokio::test]
async fn disabling_revokes_and_enabling_does_not_undo_it() {
    let op = operator();
    let id = client(&op, Some("acme")).await;
    op.set_client_status(&id, ClientStatus::Disabled, None, NOW + 5)
        .await
        .unwrap();
    let c = op
        .set_client_status(&id, ClientStatus::Active, None, NOW + 9)
        .await
        .unwrap();
    assert_eq!(c.not_before, Some(NOW + 6));
    assert_eq!(op.store.revocations().len(), 1);
    // An organization's offboarding revokes each client.
    let other = client(&op, Some("acme")).await;
    op.set_org_status(&OrgId::new("acme"), ClientStatus::Disabled, NOW + 20)
        .await
        .unwrap();
    assert_eq!(op.client(&other).await.unwrap().not_before, Some(NOW + 21));
}

#[tokio::test]
async fn revoke_token_bumps_the_epoch_and_records_the_jti() {
    let op = operator();
    let id = client(&op, None).await;
    let c = op
        .revoke_token(&id, "j-1", Some(NOW + 60), NOW)
        .await
        .unwrap();
    assert_eq!(c.revocation_epoch, 1);
    assert!(matches!(
        &op.store.revocations()[0].0,
        Revocation::Token { jti, expires_at, .. } if jti == "j-1" && *expires_at == NOW + 60
    ));
    let e = op.revoke_token(&id, "", None, NOW).await.unwrap_err();
    assert!(matches!(e, ManageError::Invalid(_)), "{e:?}");
    let e = op
        .revoke_token(&ClientId::new("nobody"), "j", None, NOW)
        .await
        .unwrap_err();
    assert!(matches!(e, ManageError::NotFound(_)), "{e:?}");
}

#[tokio::test]
async fn a_failed_write_changes_nothing() {
    let op = operator();
    let id = client(&op, None).await;
    op.store.set_unavailable(true);
    assert!(op.revoke_tokens(&id, NOW, None).await.is_err());
    op.store.set_unavailable(false);
    assert_eq!(op.client(&id).await.unwrap().not_before, None);
    assert!(op.store.revocations().is_empty());
}

#[tokio::test]
async fn introspection_permission() {
    let op = operator();
    let id = client(&op, None).await;
    assert!(
        op.set_introspection(&id, true, None)
            .await
            .unwrap()
            .introspect
    );
    assert!(
        !op.set_introspection(&id, false, None)
            .await
            .unwrap()
            .introspect
    );
}

#[tokio::test]
async fn quotas_are_validated() {
    let op = operator();
    let id = client(&op, None).await;
    for bad in [
        Quota {
            per_minute: Some(0),
            per_day: None,
        },
        Quota {
            per_minute: Some(10),
            per_day: Some(5),
        },
        Quota {
            per_minute: None,
            per_day: Some(2_000_000_000),
        },
        Quota::default(),
    ] {
        let e = op.set_client_quota(&id, Some(bad), None).await.unwrap_err();
        assert!(matches!(e, ManageError::Invalid(_)), "{bad:?}");
    }
    let ok = Quota {
        per_minute: Some(10),
        per_day: Some(1000),
    };
    assert_eq!(
        op.set_client_quota(&id, Some(ok), None)
            .await
            .unwrap()
            .quota,
        Some(ok)
    );
    assert_eq!(
        op.set_client_quota(&id, None, None).await.unwrap().quota,
        None
    );
}

#[tokio::test]
async fn an_organizations_quota_reaches_present_and_future_clients() {
    let op = operator();
    let a = client(&op, Some("acme")).await;
    let outsider = client(&op, Some("globex")).await;
    let q = Quota {
        per_minute: None,
        per_day: Some(500),
    };
    let done = op
        .set_org_quota(&OrgId::new("acme"), Some(q))
        .await
        .unwrap();
    assert_eq!(done.changed, vec![a.clone()]);
    assert_eq!(op.client(&a).await.unwrap().org_quota, Some(q));
    assert_eq!(op.client(&outsider).await.unwrap().org_quota, None);
    let b = client(&op, Some("acme")).await;
    assert_eq!(op.client(&b).await.unwrap().org_quota, Some(q));
    let again = op
        .set_org_quota(&OrgId::new("acme"), Some(q))
        .await
        .unwrap();
    assert_eq!((again.changed.len(), again.unchanged), (0, 2));
    op.set_org_quota(&OrgId::new("acme"), None).await.unwrap();
    assert_eq!(op.client(&b).await.unwrap().org_quota, None);
    assert_eq!(op.org_quota(&OrgId::new("acme")).await.unwrap(), None);
}

#[tokio::test]
async fn usage_over_a_range_of_hours() {
    let op = operator();
    let s = Subject::Client("c".into());
    for (h, n) in [(0u64, 3u64), (1, 4), (5, 1)] {
        op.store
            .add_usage(s.clone(), NOW - NOW % 3600 + h * 3600, n);
    }
    let start = NOW - NOW % 3600;
    let got = op.usage(&s, NOW, NOW + 2 * 3600).await.unwrap();
    assert_eq!(got, vec![(start, 3), (start + 3600, 4)]);
    assert!(matches!(
        op.usage(&s, NOW + 10, NOW).await.unwrap_err(),
        ManageError::Invalid(_)
    ));
}
