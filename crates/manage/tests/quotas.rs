//! Quotas and usage against the in-memory store: a client's own quota, an
//! organization's quota on its record and copied onto every present and future client
//! (conditional on the record, started over when it changes), their validation, and
//! the hourly usage read for billing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use m2m_core::model::Client;
use m2m_core::quota::{Quota, Subject};
use m2m_core::testing::fixtures::NOW;
use m2m_core::types::{ClientId, OrgId};
use m2m_manage::clients::NewClient;
use m2m_manage::orgs::Org;
use m2m_manage::quotas::{MAX_QUOTA_LIMIT, MAX_USAGE_HOURS};
use m2m_manage::testing::{InMemoryAdminStore, Touch};
use m2m_manage::{Backoff, ManageError, Operator};

const HOUR: u64 = 3600;

fn operator() -> Operator<InMemoryAdminStore> {
    Operator::new(InMemoryAdminStore::new()).with_backoff(Backoff::IMMEDIATE)
}

async fn client(op: &Operator<InMemoryAdminStore>, org: Option<&str>) -> Client {
    op.create_client(
        NewClient {
            name: "backend".into(),
            org_id: org.map(OrgId::new),
            ..NewClient::default()
        },
        NOW,
    )
    .await
    .unwrap()
    .client
}

fn quota(per_minute: Option<u64>, per_day: Option<u64>) -> Quota {
    Quota {
        per_minute,
        per_day,
    }
}

fn acme() -> OrgId {
    OrgId::new("acme")
}

async fn org_quota_of(op: &Operator<InMemoryAdminStore>, id: &ClientId) -> Option<Quota> {
    op.client(id).await.unwrap().org_quota
}

#[tokio::test]
async fn client_quota_set_replaced_and_cleared() {
    let op = operator();
    let c = client(&op, None).await;
    let q = quota(Some(10), Some(1000));
    let set = op.set_client_quota(&c.id, Some(q), None).await.unwrap();
    assert_eq!(set.quota, Some(q));
    assert_eq!(set.version, c.version + 1);
    let per_day = quota(None, Some(50));
    let replaced = op
        .set_client_quota(&c.id, Some(per_day), None)
        .await
        .unwrap();
    assert_eq!(
        replaced.quota,
        Some(per_day),
        "a quota replaces the previous"
    );
    let cleared = op.set_client_quota(&c.id, None, None).await.unwrap();
    assert_eq!(cleared.quota, None);
    assert_eq!(op.client(&c.id).await.unwrap(), cleared);
}

#[tokio::test]
async fn quota_out_of_bounds_invalid_and_writes_nothing() {
    let op = operator();
    let c = client(&op, Some("acme")).await;
    let writes = op.store.writes();
    for bad in [
        quota(None, None),
        quota(Some(0), None),
        quota(None, Some(0)),
        quota(Some(MAX_QUOTA_LIMIT + 1), None),
        quota(None, Some(MAX_QUOTA_LIMIT + 1)),
        quota(Some(101), Some(100)),
    ] {
        let err = op
            .set_client_quota(&c.id, Some(bad), None)
            .await
            .unwrap_err();
        assert!(matches!(err, ManageError::Invalid(_)), "{bad:?}: {err:?}");
        let err = op.set_org_quota(&acme(), Some(bad)).await.unwrap_err();
        assert!(matches!(err, ManageError::Invalid(_)), "{bad:?}: {err:?}");
    }
    assert_eq!(op.store.writes(), writes);
    // The bounds themselves are accepted.
    for good in [
        quota(Some(1), Some(1)),
        quota(Some(MAX_QUOTA_LIMIT), None),
        quota(None, Some(MAX_QUOTA_LIMIT)),
    ] {
        op.set_client_quota(&c.id, Some(good), None).await.unwrap();
    }
}

#[tokio::test]
async fn org_quota_copied_to_present_and_future_clients_only_of_that_org() {
    let op = operator();
    let a = client(&op, Some("acme")).await;
    let b = client(&op, Some("acme")).await;
    let other = client(&op, Some("bravo")).await;
    let solo = client(&op, None).await;
    let q = quota(Some(100), Some(10_000));
    let done = op.set_org_quota(&acme(), Some(q)).await.unwrap();
    assert_eq!(done.org.quota, Some(q));
    assert_eq!(done.version, 1);
    assert_eq!(done.updated.len(), 2);
    assert_eq!(done.unchanged, 0);
    assert_eq!(
        op.store.orgs()[0].value,
        Org {
            id: acme(),
            quota: Some(q)
        }
    );
    for id in [&a.id, &b.id] {
        assert_eq!(org_quota_of(&op, id).await, Some(q));
        assert_eq!(
            op.client(id).await.unwrap().quota,
            None,
            "its own untouched"
        );
    }
    for id in [&other.id, &solo.id] {
        assert_eq!(org_quota_of(&op, id).await, None);
    }
    // A client created later starts with it; one of another org does not.
    let later = client(&op, Some("acme")).await;
    assert_eq!(later.org_quota, Some(q));
    assert_eq!(org_quota_of(&op, &later.id).await, Some(q));
    assert_eq!(client(&op, Some("bravo")).await.org_quota, None);

    // Setting it again writes nothing more: every client holds it.
    let writes = op.store.writes();
    let again = op.set_org_quota(&acme(), Some(q)).await.unwrap();
    assert_eq!((again.updated.len(), again.unchanged), (0, 3));
    assert_eq!(op.store.writes(), writes);

    // Clearing it clears every copy and new clients start without.
    let cleared = op.set_org_quota(&acme(), None).await.unwrap();
    assert_eq!(cleared.updated.len(), 3);
    assert_eq!(cleared.version, 2);
    for id in [&a.id, &b.id, &later.id] {
        assert_eq!(org_quota_of(&op, id).await, None);
    }
    assert_eq!(client(&op, Some("acme")).await.org_quota, None);
}

#[tokio::test]
async fn org_quota_without_clients_kept_for_future_ones() {
    let op = operator();
    let q = quota(None, Some(500));
    let done = op.set_org_quota(&acme(), Some(q)).await.unwrap();
    assert!(done.updated.is_empty());
    assert_eq!(client(&op, Some("acme")).await.org_quota, Some(q));
    let record = op.org(&acme()).await.unwrap().unwrap();
    assert_eq!((record.value.quota, record.version), (Some(q), 1));
    assert_eq!(op.org(&OrgId::new("nobody")).await.unwrap(), None);
}

#[tokio::test]
async fn org_quota_record_changed_while_copying_starts_over() {
    let op = operator();
    let a = client(&op, Some("acme")).await;
    let b = client(&op, Some("acme")).await;
    let q = quota(Some(5), None);
    // Another writer changes the record between its write (1st) and the first
    // client's copy (2nd): that copy fails, and the change starts over.
    op.store.touch_before_write(2, Touch::Org(acme()));
    let done = op.set_org_quota(&acme(), Some(q)).await.unwrap();
    assert_eq!(done.version, 2, "the copies follow the record as it now is");
    assert_eq!(done.updated.len(), 2);
    for id in [&a.id, &b.id] {
        assert_eq!(org_quota_of(&op, id).await, Some(q));
    }
}

#[tokio::test]
async fn org_quota_client_changed_while_copying_retried() {
    let op = operator();
    let a = client(&op, Some("acme")).await;
    op.store.touch_before_write(2, Touch::Client(a.id.clone()));
    let done = op
        .set_org_quota(&acme(), Some(quota(Some(5), None)))
        .await
        .unwrap();
    assert_eq!((done.version, done.updated.len()), (1, 1));
    assert_eq!(org_quota_of(&op, &a.id).await, Some(quota(Some(5), None)));
}

#[tokio::test]
async fn client_created_while_org_record_changes_reads_it_again() {
    let op = operator();
    op.set_org_quota(&acme(), Some(quota(Some(5), None)))
        .await
        .unwrap();
    op.store.touch_before_write(1, Touch::Org(acme()));
    let c = client(&op, Some("acme")).await;
    assert_eq!(c.org_quota, Some(quota(Some(5), None)));
    assert_eq!(op.store.clients().len(), 1, "one client, created once");
}

#[tokio::test]
async fn org_quota_endless_conflicts_kept_changing() {
    let op = operator();
    let a = client(&op, Some("acme")).await;
    op.store.inject_conflicts(1000);
    let err = op
        .set_org_quota(&acme(), Some(quota(Some(5), None)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ManageError::KeptChanging(ref w) if w == "organization acme"),
        "{err:?}"
    );
    assert!(op.store.orgs().is_empty());
    assert_eq!(org_quota_of(&op, &a.id).await, None);
}

#[tokio::test]
async fn org_quota_bad_org_invalid() {
    let op = operator();
    for org in ["", "  ", &"o".repeat(201)] {
        let err = op
            .set_org_quota(&OrgId::new(org), Some(quota(Some(1), None)))
            .await
            .unwrap_err();
        assert!(matches!(err, ManageError::Invalid(_)), "{org}: {err:?}");
    }
    assert!(op.store.orgs().is_empty());
}

#[tokio::test]
async fn usage_reads_the_subjects_hours_in_order() {
    let op = operator();
    let c = Subject::Client("c-1".into());
    let o = Subject::Org("acme".into());
    let h0 = NOW - NOW % HOUR;
    for (subject, hour, count) in [
        (&c, h0 - 2 * HOUR, 3),
        (&c, h0, 7),
        (&c, h0 - HOUR, 5),
        (&c, h0 + HOUR, 11),
        (&o, h0, 100),
        (&Subject::Client("c-2".into()), h0, 1),
    ] {
        op.store.add_usage(subject, hour, count);
    }
    // From inside the earlier hour to inside the current one: both included.
    let got = op.usage(&c, h0 - HOUR + 59, NOW).await.unwrap();
    assert_eq!(got, [(h0 - HOUR, 5), (h0, 7)]);
    assert_eq!(op.usage(&o, h0, h0).await.unwrap(), [(h0, 100)]);
    assert!(op
        .usage(&Subject::Org("nobody".into()), h0 - 10 * HOUR, NOW)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn usage_bad_range_or_subject_invalid() {
    let op = operator();
    let c = Subject::Client("c-1".into());
    let longest = (MAX_USAGE_HOURS - 1) * HOUR;
    assert!(op.usage(&c, NOW - longest, NOW).await.is_ok());
    for (subject, from, to) in [
        (c.clone(), NOW, NOW - HOUR),
        (c.clone(), NOW - longest - HOUR, NOW),
        (Subject::Client(String::new()), NOW, NOW),
        (Subject::Org("o".repeat(1001)), NOW, NOW),
    ] {
        let err = op.usage(&subject, from, to).await.unwrap_err();
        assert!(
            matches!(err, ManageError::Invalid(_)),
            "{subject:?}: {err:?}"
        );
    }
}
