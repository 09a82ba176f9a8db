//! Control after issuance through [`AdminStore`]: a client written together with its
//! revocation entry in exactly the form verifiers read (`DynamoRevocations`), never
//! narrowing an entry in force; cleared optional attributes leaving the item; the
//! organization record and the client writes conditional on it; the hourly usage
//! query. A refused write changes nothing.

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use m2m_aws::dynamo::item::org::org_key;
use m2m_aws::dynamo::item::quota::{usage_key, COUNT};
use m2m_aws::dynamo::item::revocation::{revocation_key, revocation_to_item};
use m2m_aws::dynamo::item::{BY_KIND_INDEX, KIND};
use m2m_aws::DynamoRevocations;
use m2m_core::quota::{Quota, Subject};
use m2m_core::revocation::{Revocation, Revocations};
use m2m_manage::orgs::Org;
use m2m_manage::quotas::OrgQuotaChange;
use m2m_manage::{Backoff, Operator};

use super::*;

const QUOTA: Quota = Quota {
    per_minute: Some(10),
    per_day: Some(1000),
};

impl Env {
    /// The revocation list as a verifier reads it at `NOW`.
    async fn verifiers_view(&self) -> m2m_core::revocation::RevocationList {
        DynamoRevocations::new(self.dynamo.clone(), &self.table)
            .with_clock(Arc::new(|| NOW))
            .revocation_list()
            .await
            .unwrap()
    }

    async fn raw(&self, key: Item) -> Option<Item> {
        self.dynamo
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
    }

    async fn stored(&self, id: &ClientId) -> Client {
        self.store.get_client(id).await.unwrap().unwrap()
    }
}

fn bumped(c: &Client) -> Client {
    let mut next = c.clone();
    next.version += 1;
    next
}

fn revoke_client(c: &Client, not_before: u64) -> Revocation {
    Revocation::Client {
        client_id: c.id.clone(),
        not_before,
    }
}

#[tokio::test]
async fn revoke_writes_client_and_entry_verifiers_read() {
    let env = env("revoke").await;
    let c = client("acme", None);
    env.store.create_client(&c, &[]).await.unwrap();
    let mut next = bumped(&c);
    next.not_before = Some(NOW + 1);
    let r = revoke_client(&c, NOW + 1);
    env.store
        .replace_client_and_revoke(&next, 1, &r, NOW)
        .await
        .unwrap();
    assert_eq!(env.stored(&c.id).await, next);
    // Exactly the item the revocation store writes, so the authorizer reads it.
    let entry = env.raw(revocation_key(&r)).await.unwrap();
    assert_eq!(entry, revocation_to_item(&r, NOW));
    let view = env.verifiers_view().await;
    assert_eq!(view.not_before("acme"), Some(NOW + 1));
    assert!(view.is_revoked("acme", None, NOW));
    assert!(!view.is_revoked("acme", None, NOW + 1));
}

#[tokio::test]
async fn revoke_token_entry_holds_no_jti_and_bumps_epoch() {
    let env = env("revoke-jti").await;
    let c = client("acme", None);
    env.store.create_client(&c, &[]).await.unwrap();
    let mut next = bumped(&c);
    next.revocation_epoch = 1;
    let r = Revocation::Token {
        jti: "the-token-id-itself".into(),
        client_id: c.id.clone(),
        expires_at: NOW + 600,
    };
    env.store
        .replace_client_and_revoke(&next, 1, &r, NOW)
        .await
        .unwrap();
    assert_eq!(env.stored(&c.id).await.revocation_epoch, 1);
    let all = format!("{:?}", env.scan().await);
    assert!(!all.contains("the-token-id-itself"), "{all}");
    let view = env.verifiers_view().await;
    assert!(view.is_revoked("acme", Some("the-token-id-itself"), NOW));
    assert!(!view.is_revoked("acme", Some("another"), NOW));
}

#[tokio::test]
async fn revoke_with_stale_version_writes_nothing() {
    let env = env("revoke-stale").await;
    let c = client("acme", None);
    env.store.create_client(&c, &[]).await.unwrap();
    env.store.replace_client(&bumped(&c), 1).await.unwrap();
    let before = env.scan().await;
    let mut next = bumped(&c);
    next.not_before = Some(NOW + 1);
    match env
        .store
        .replace_client_and_revoke(&next, 1, &revoke_client(&c, NOW + 1), NOW)
        .await
    {
        Err(StoreError::Conflict(what)) => assert_eq!(what, "client acme"),
        other => panic!("{other:?}"),
    }
    assert_eq!(env.scan().await, before, "neither the client nor the entry");
    assert!(env.verifiers_view().await.is_empty());
}

#[tokio::test]
async fn revoke_keeps_a_broader_entry_and_still_writes_the_client() {
    let env = env("revoke-broader").await;
    let c = client("acme", None);
    env.store.create_client(&c, &[]).await.unwrap();
    let later = revoke_client(&c, NOW + 100);
    DynamoRevocations::new(env.dynamo.clone(), &env.table)
        .revoke(&later, NOW)
        .await
        .unwrap();
    let mut next = bumped(&c);
    next.not_before = Some(NOW + 1);
    env.store
        .replace_client_and_revoke(&next, 1, &revoke_client(&c, NOW + 1), NOW)
        .await
        .unwrap();
    assert_eq!(env.stored(&c.id).await, next);
    assert_eq!(
        env.verifiers_view().await.not_before("acme"),
        Some(NOW + 100),
        "a revocation is never narrowed"
    );
}

#[tokio::test]
async fn lapsed_revocation_writes_the_client_only() {
    let env = env("revoke-lapsed").await;
    let c = client("acme", None);
    env.store.create_client(&c, &[]).await.unwrap();
    let mut next = bumped(&c);
    next.revocation_epoch = 1;
    let gone = Revocation::Token {
        jti: "j".into(),
        client_id: c.id.clone(),
        expires_at: NOW - 3600,
    };
    env.store
        .replace_client_and_revoke(&next, 1, &gone, NOW)
        .await
        .unwrap();
    assert_eq!(env.stored(&c.id).await, next);
    assert_eq!(env.raw(revocation_key(&gone)).await, None);
}

#[tokio::test]
async fn cleared_optional_attributes_leave_the_item() {
    let env = env("clear-attrs").await;
    let mut c = client("acme", Some("org_acme"));
    c.quota = Some(QUOTA);
    c.org_quota = Some(QUOTA);
    c.introspect = true;
    c.revocation_epoch = 2;
    c.not_before = Some(NOW);
    env.store.create_client(&c, &[]).await.unwrap();
    assert_eq!(env.stored(&c.id).await, c);
    let mut cleared = bumped(&c);
    cleared.quota = None;
    cleared.org_quota = None;
    cleared.introspect = false;
    env.store.replace_client(&cleared, 1).await.unwrap();
    assert_eq!(env.stored(&c.id).await, cleared);
    let raw = env.raw(item::client_key(&c.id)).await.unwrap();
    for gone in ["quota", "org_quota", "introspect"] {
        assert!(!raw.contains_key(gone), "{gone} left on the item: {raw:?}");
    }
    for kept in ["not_before", "revocation_epoch", ORG_ID] {
        assert!(raw.contains_key(kept), "{kept}");
    }
}

#[tokio::test]
async fn org_record_created_then_conditional_and_out_of_the_indexes() {
    let env = env("org-record").await;
    let acme = OrgId::new("org_acme");
    assert_eq!(env.store.get_org(&acme).await.unwrap(), None);
    let mut org = Org {
        id: acme.clone(),
        quota: Some(QUOTA),
    };
    env.store.put_org(&org, None).await.unwrap();
    let stored = env.store.get_org(&acme).await.unwrap().unwrap();
    assert_eq!((stored.value.clone(), stored.version), (org.clone(), 1));
    for stale in [None, Some(0), Some(2)] {
        let before = env.scan().await;
        match env.store.put_org(&org, stale).await {
            Err(StoreError::Conflict(what)) => assert_eq!(what, "organization org_acme"),
            other => panic!("{stale:?}: {other:?}"),
        }
        assert_eq!(env.scan().await, before);
    }
    org.quota = None;
    env.store.put_org(&org, Some(1)).await.unwrap();
    let cleared = env.store.get_org(&acme).await.unwrap().unwrap();
    assert_eq!((cleared.value, cleared.version), (org, 2));
    let raw = env.raw(org_key(&acme)).await.unwrap();
    assert!(!raw.contains_key("quota"));
    assert!(
        !raw.contains_key(KIND) && !raw.contains_key(ORG_ID),
        "{raw:?}"
    );
    assert!(env.by_org_index().await.is_empty());
    let by_kind = env
        .dynamo
        .scan()
        .table_name(&env.table)
        .index_name(BY_KIND_INDEX)
        .send()
        .await
        .unwrap();
    assert_eq!(by_kind.count, 0);
}

#[tokio::test]
async fn client_in_org_created_only_while_the_record_is_as_read() {
    let env = env("org-create").await;
    let acme = OrgId::new("org_acme");
    let orders = api("https://orders.example.com/");
    env.store.create_api(&orders).await.unwrap();
    let first = client("first", Some("org_acme"));
    env.store
        .create_client_in_org(&first, &[(grant(&first, &orders), 1)], None)
        .await
        .unwrap();
    assert_eq!(env.store.client_grants(&first.id).await.unwrap().len(), 1);
    env.store
        .put_org(
            &Org {
                id: acme.clone(),
                quota: Some(QUOTA),
            },
            None,
        )
        .await
        .unwrap();
    let before = env.scan().await;
    let late = client("late", Some("org_acme"));
    for stale in [None, Some(2)] {
        match env.store.create_client_in_org(&late, &[], stale).await {
            Err(StoreError::Conflict(what)) => assert_eq!(what, "organization org_acme"),
            other => panic!("{stale:?}: {other:?}"),
        }
        assert_eq!(env.scan().await, before);
    }
    let mut late = late;
    late.org_quota = Some(QUOTA);
    env.store
        .create_client_in_org(&late, &[], Some(1))
        .await
        .unwrap();
    assert_eq!(env.stored(&late.id).await.org_quota, Some(QUOTA));
}

#[tokio::test]
async fn client_copy_conditional_on_the_record_version() {
    let env = env("org-copy").await;
    let acme = OrgId::new("org_acme");
    let c = client("acme", Some("org_acme"));
    env.store.create_client(&c, &[]).await.unwrap();
    let org = Org {
        id: acme.clone(),
        quota: Some(QUOTA),
    };
    env.store.put_org(&org, None).await.unwrap();
    env.store.put_org(&org, Some(1)).await.unwrap();
    let mut next = bumped(&c);
    next.org_quota = Some(QUOTA);
    let before = env.scan().await;
    match env.store.replace_client_in_org(&next, 1, 1).await {
        Err(StoreError::Conflict(what)) => assert_eq!(what, "organization org_acme"),
        other => panic!("{other:?}"),
    }
    match env.store.replace_client_in_org(&next, 7, 2).await {
        Err(StoreError::Conflict(what)) => assert_eq!(what, "client acme"),
        other => panic!("{other:?}"),
    }
    assert_eq!(env.scan().await, before);
    env.store.replace_client_in_org(&next, 1, 2).await.unwrap();
    assert_eq!(env.stored(&c.id).await, next);
}

#[tokio::test]
async fn operator_org_quota_reaches_every_client_of_the_org() {
    let env = env("org-quota").await;
    let mut acme = env.add_clients("acme", Some("org_acme"), 3).await;
    let other = env.add_clients("globex", Some("org_globex"), 1).await;
    let op = Operator::new(env.store.clone()).with_backoff(Backoff::IMMEDIATE);
    let done: OrgQuotaChange = op
        .set_org_quota(&OrgId::new("org_acme"), Some(QUOTA))
        .await
        .unwrap();
    let mut updated = done.updated.clone();
    updated.sort();
    acme.sort();
    assert_eq!(updated, acme);
    for id in &acme {
        assert_eq!(env.stored(id).await.org_quota, Some(QUOTA));
    }
    assert_eq!(env.stored(&other[0]).await.org_quota, None);
    let new = op
        .create_client(
            m2m_manage::clients::NewClient {
                name: "later".into(),
                org_id: Some(OrgId::new("org_acme")),
                ..Default::default()
            },
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(env.stored(&new.client.id).await.org_quota, Some(QUOTA));
}

#[tokio::test]
async fn usage_counts_read_between_two_hours() {
    let env = env("usage").await;
    let c = Subject::Client("acme".into());
    let h0 = NOW - NOW % 3600;
    for (subject, hour, count) in [
        (&c, h0 - 7200, 1),
        (&c, h0 - 3600, 2),
        (&c, h0, 3),
        (&c, h0 + 3600, 4),
        (&Subject::Org("acme".into()), h0, 50),
        (&Subject::Client("acme2".into()), h0, 9),
    ] {
        let mut item = usage_key(subject, hour);
        item.insert(COUNT.to_owned(), AttributeValue::N(count.to_string()));
        env.dynamo
            .put_item()
            .table_name(&env.table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
    assert_eq!(
        env.store.usage(&c, h0 - 3600, h0).await.unwrap(),
        [(h0 - 3600, 2), (h0, 3)]
    );
    assert_eq!(
        env.store
            .usage(&Subject::Org("acme".into()), h0 - 7200, h0 + 7200)
            .await
            .unwrap(),
        [(h0, 50)]
    );
    // A count that is not a number is an error, not a zero.
    let mut bad = usage_key(&c, h0 + 7200);
    bad.insert(COUNT.to_owned(), AttributeValue::S("many".into()));
    env.dynamo
        .put_item()
        .table_name(&env.table)
        .set_item(Some(bad))
        .send()
        .await
        .unwrap();
    match env.store.usage(&c, h0, h0 + 7200).await {
        Err(StoreError::Malformed(m)) => assert!(m.contains(COUNT), "{m}"),
        other => panic!("{other:?}"),
    }
}
