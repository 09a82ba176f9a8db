//! The operator rules against the in-memory store: APIs, clients, grants, secrets and
//! organizations, each rule with its refusal, and retries on concurrent changes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use m2m_core::model::{ClientStatus, Reuse};

use m2m_core::secret::hash_secret;
use m2m_core::testing::fixtures::{api, scopes, DAY, NOW};
use m2m_core::types::{Audience, ClientId, OrgId, SecretId};
use m2m_manage::apis::{ApiChange, ReusePatch};
use m2m_manage::clients::{ClientChange, NewClient};
use m2m_manage::testing::InMemoryAdminStore;
use m2m_manage::{Backoff, ClientFilter, Cursor, ManageError, Operator, Refusal, Target};

const ORDERS: &str = "https://api.example.com/orders";

async fn operator() -> Operator<InMemoryAdminStore> {
    let op = Operator::new(InMemoryAdminStore::new()).with_backoff(Backoff::IMMEDIATE);
    op.create_api(&api(ORDERS, &["read", "write", "admin"]))
        .await
        .unwrap();
    op
}

fn new_client(name: &str, org: Option<&str>) -> NewClient {
    NewClient {
        name: name.into(),
        org_id: org.map(OrgId::new),
        ..NewClient::default()
    }
}

fn orders() -> Audience {
    Audience::new(ORDERS)
}

#[tokio::test]
async fn create_client_with_grants_stores_hash_and_grants() {
    let op = operator().await;
    let created = op
        .create_client(
            NewClient {
                grants: vec![(orders(), scopes(&["read", "write"]))],
                metadata: BTreeMap::from([("tier".into(), "gold".into())]),
                ..new_client("Acme backend", Some("acme"))
            },
            NOW,
        )
        .await
        .unwrap();
    let (stored, grants) = op.client_with_grants(&created.client.id).await.unwrap();
    assert_eq!(stored.secrets.len(), 1);
    assert_eq!(
        stored.secrets[0].hash,
        hash_secret(created.secret.as_ref().unwrap())
    );
    assert_eq!(stored.org_id, Some(OrgId::new("acme")));
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].scopes, scopes(&["read", "write"]));
    // The grant bumped the API's version, so a concurrent API delete cannot orphan it.
    assert_eq!(op.api(&orders()).await.unwrap().version, 2);
}

#[tokio::test]
async fn create_client_undefined_scope_writes_nothing() {
    let op = operator().await;
    let err = op
        .create_client(
            NewClient {
                grants: vec![(orders(), scopes(&["read", "delete"]))],
                ..new_client("x", None)
            },
            NOW,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ManageError::UndefinedScopes { undefined, .. } if *undefined == scopes(&["delete"])),
        "{err:?}"
    );
    assert!(op.store.clients().is_empty());
}

#[tokio::test]
async fn create_client_unknown_api_not_found() {
    let op = operator().await;
    let err = op
        .create_client(
            NewClient {
                grants: vec![(Audience::new("https://nope"), scopes(&["read"]))],
                ..new_client("x", None)
            },
            NOW,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, ManageError::NotFound(Target::Api(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn create_client_blank_name_invalid() {
    let op = operator().await;
    let err = op
        .create_client(new_client("  ", None), NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, ManageError::Invalid(_)), "{err:?}");
}

#[tokio::test]
async fn create_client_conflict_retried_with_fresh_read() {
    let op = operator().await;
    op.store.inject_conflicts(3);
    let created = op.create_client(new_client("x", None), NOW).await.unwrap();
    assert!(op.client(&created.client.id).await.is_ok());
}

#[tokio::test]
async fn update_client_merges_metadata() {
    let op = operator().await;
    let c = op
        .create_client(
            NewClient {
                metadata: BTreeMap::from([("a".into(), "1".into()), ("b".into(), "2".into())]),
                ..new_client("x", None)
            },
            NOW,
        )
        .await
        .unwrap()
        .client;
    let change = ClientChange {
        name: Some("renamed".into()),
        metadata: BTreeMap::from([("a".into(), None), ("c".into(), Some("3".into()))]),
    };
    let updated = op.update_client(&c.id, &change, None).await.unwrap();
    assert_eq!(updated.name, "renamed");
    assert_eq!(
        updated.metadata,
        BTreeMap::from([("b".into(), "2".into()), ("c".into(), "3".into())])
    );
    assert_eq!(updated.version, c.version + 1);
}

#[tokio::test]
async fn update_client_stale_version_mismatch() {
    let op = operator().await;
    let c = op
        .create_client(new_client("x", None), NOW)
        .await
        .unwrap()
        .client;
    op.store.touch_client(&c.id);
    let err = op
        .update_client(
            &c.id,
            &ClientChange {
                name: Some("y".into()),
                ..Default::default()
            },
            Some(c.version),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, ManageError::VersionMismatch { expected, current, .. } if expected == c.version && current == c.version + 1),
        "{err:?}"
    );
    assert_eq!(op.client(&c.id).await.unwrap().name, "x");
}

#[tokio::test]
async fn update_client_expected_version_lost_race_mismatch_not_retried() {
    let op = operator().await;
    let c = op
        .create_client(new_client("x", None), NOW)
        .await
        .unwrap()
        .client;
    op.store.inject_conflicts(1);
    let err = op
        .set_client_status(&c.id, ClientStatus::Disabled, Some(c.version), NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ManageError::VersionMismatch { .. }),
        "{err:?}"
    );
    assert_eq!(op.client(&c.id).await.unwrap().status, ClientStatus::Active);
}

#[tokio::test]
async fn mutate_without_version_retries_conflicts() {
    let op = operator().await;
    let c = op
        .create_client(new_client("x", None), NOW)
        .await
        .unwrap()
        .client;
    op.store.inject_conflicts(10);
    let disabled = op
        .set_client_status(&c.id, ClientStatus::Disabled, None, NOW)
        .await
        .unwrap();
    assert_eq!(disabled.status, ClientStatus::Disabled);
}

#[tokio::test]
async fn mutate_endless_conflicts_kept_changing() {
    let op = operator().await;
    let c = op
        .create_client(new_client("x", None), NOW)
        .await
        .unwrap()
        .client;
    op.store.inject_conflicts(1000);
    let err = op
        .set_client_status(&c.id, ClientStatus::Disabled, None, NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ManageError::KeptChanging(ref w) if w.contains(c.id.as_str())),
        "{err:?}"
    );
}

#[tokio::test]
async fn delete_client_removes_grants() {
    let op = operator().await;
    let c = op
        .create_client(
            NewClient {
                grants: vec![(orders(), scopes(&["read"]))],
                ..new_client("x", None)
            },
            NOW,
        )
        .await
        .unwrap()
        .client;
    let deleted = op.delete_client(&c.id, None).await.unwrap();
    assert_eq!((deleted.grants.len(), deleted.trust_rules), (1, 0));
    assert!(op.store.all_grants().is_empty());
    assert!(matches!(
        op.client(&c.id).await,
        Err(ManageError::NotFound(Target::Client(_)))
    ));
}

#[tokio::test]
async fn unknown_client_not_found() {
    let op = operator().await;
    let id = ClientId::new("nope");
    for err in [
        op.client(&id).await.unwrap_err(),
        op.delete_client(&id, None).await.unwrap_err(),
        op.rotate_secret(&id, DAY, NOW).await.unwrap_err(),
        op.grants(&id).await.unwrap_err(),
    ] {
        assert!(
            matches!(err, ManageError::NotFound(Target::Client(ref c)) if *c == id),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn rotate_secret_old_expires_after_grace_and_expired_pruned() {
    let op = operator().await;
    let created = op.create_client(new_client("x", None), NOW).await.unwrap();
    let id = created.client.id.clone();
    let first = op.rotate_secret(&id, DAY, NOW).await.unwrap();
    assert_eq!(first.client.secrets.len(), 2);
    assert_eq!(first.client.secrets[0].expires_at, Some(NOW + DAY));
    assert_eq!(first.client.secrets[1].expires_at, None);
    assert_eq!(first.previous_expire_at, NOW + DAY);
    // After the grace the original secret is expired and the next rotation drops it.
    let second = op.rotate_secret(&id, 0, NOW + 2 * DAY).await.unwrap();
    assert_eq!(second.pruned, vec![created.client.secrets[0].id.clone()]);
    assert!(second
        .client
        .secrets
        .iter()
        .all(|s| s.hash != hash_secret(created.secret.as_ref().unwrap())));
}

#[tokio::test]
async fn rotate_secret_grace_too_long_invalid() {
    let op = operator().await;
    let c = op
        .create_client(new_client("x", None), NOW)
        .await
        .unwrap()
        .client;
    let err = op.rotate_secret(&c.id, 31 * DAY, NOW).await.unwrap_err();
    assert!(matches!(err, ManageError::Invalid(_)), "{err:?}");
}

#[tokio::test]
async fn revoke_secret_removes_it_and_unknown_not_found() {
    let op = operator().await;
    let c = op
        .create_client(new_client("x", None), NOW)
        .await
        .unwrap()
        .client;
    let sid = c.secrets[0].id.clone();
    let after = op.revoke_secret(&c.id, &sid, None).await.unwrap();
    assert!(after.secrets.is_empty());
    let err = op.revoke_secret(&c.id, &sid, None).await.unwrap_err();
    assert!(
        matches!(err, ManageError::NotFound(Target::Secret(_, ref s)) if *s == sid),
        "{err:?}"
    );
    let err = op
        .revoke_secret(&c.id, &SecretId::new("sec_nope"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ManageError::NotFound(Target::Secret(..))),
        "{err:?}"
    );
}

#[tokio::test]
async fn grants_add_set_remove() {
    let op = operator().await;
    let c = op
        .create_client(new_client("x", None), NOW)
        .await
        .unwrap()
        .client;
    let g = op
        .add_scopes(&c.id, &orders(), &scopes(&["read"]))
        .await
        .unwrap();
    assert_eq!(g.scopes, scopes(&["read"]));
    let g = op
        .add_scopes(&c.id, &orders(), &scopes(&["write"]))
        .await
        .unwrap();
    assert_eq!(g.scopes, scopes(&["read", "write"]));
    let g = op
        .set_grant(&c.id, &orders(), &scopes(&["admin"]))
        .await
        .unwrap();
    assert_eq!(g.scopes, scopes(&["admin"]));
    let g = op
        .remove_scopes(&c.id, &orders(), &scopes(&[]))
        .await
        .unwrap();
    assert!(g.scopes.is_empty());
    assert!(op.grants(&c.id).await.unwrap().is_empty());
    let err = op
        .remove_scopes(&c.id, &orders(), &scopes(&[]))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ManageError::NotFound(Target::Grant(..))),
        "{err:?}"
    );
}

#[tokio::test]
async fn grant_undefined_scope_and_empty_set_refused() {
    let op = operator().await;
    let c = op
        .create_client(new_client("x", None), NOW)
        .await
        .unwrap()
        .client;
    let err = op
        .add_scopes(&c.id, &orders(), &scopes(&["delete"]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ManageError::UndefinedScopes { defined, .. } if *defined == scopes(&["read", "write", "admin"])),
        "{err:?}"
    );
    let err = op
        .set_grant(&c.id, &orders(), &scopes(&[]))
        .await
        .unwrap_err();
    assert!(matches!(err, ManageError::Invalid(_)), "{err:?}");
    assert!(op.store.all_grants().is_empty());
}

#[tokio::test]
async fn api_create_duplicate_exists() {
    let op = operator().await;
    let err = op.create_api(&api(ORDERS, &["read"])).await.unwrap_err();
    assert!(
        matches!(err, ManageError::Exists(Target::Api(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn api_update_dropping_granted_scope_refused_without_cascade() {
    let op = operator().await;
    let c = op
        .create_client(new_client("x", None), NOW)
        .await
        .unwrap()
        .client;
    op.add_scopes(&c.id, &orders(), &scopes(&["read", "admin"]))
        .await
        .unwrap();
    let change = ApiChange {
        remove_scopes: scopes(&["admin"]),
        ..ApiChange::default()
    };
    let err = op.update_api(&orders(), &change, None).await.unwrap_err();
    assert!(
        matches!(&err, ManageError::Refused(Refusal::ScopesGranted { clients, .. }) if *clients == vec![c.id.clone()]),
        "{err:?}"
    );
    let cascaded = op
        .update_api(
            &orders(),
            &ApiChange {
                cascade: true,
                ..change
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(cascaded.grants_updated.len(), 1);
    assert_eq!(op.grants(&c.id).await.unwrap()[0].scopes, scopes(&["read"]));
    assert_eq!(cascaded.api.value.scopes, scopes(&["read", "write"]));
}

#[tokio::test]
async fn api_update_nothing_and_bad_lifetime_invalid() {
    let op = operator().await;
    let err = op
        .update_api(&orders(), &ApiChange::default(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, ManageError::Invalid(_)), "{err:?}");
    let err = op
        .update_api(
            &orders(),
            &ApiChange {
                token_lifetime: Some(100_000),
                ..ApiChange::default()
            },
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ManageError::Invalid(_)), "{err:?}");
    let err = op
        .update_api(
            &orders(),
            &ApiChange {
                reuse: ReusePatch {
                    enabled: Some(true),
                    min_remaining_pct: Some(0),
                    with_hook: None,
                },
                ..ApiChange::default()
            },
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ManageError::Invalid(_)), "{err:?}");
}

#[tokio::test]
async fn api_update_stale_if_match_mismatch() {
    let op = operator().await;
    let err = op
        .update_api(
            &orders(),
            &ApiChange {
                name: Some("n".into()),
                ..ApiChange::default()
            },
            Some(7),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ManageError::VersionMismatch {
                current: 1,
                expected: 7,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn api_delete_in_use_refused_unless_forced() {
    let op = operator().await;
    let c = op
        .create_client(new_client("x", None), NOW)
        .await
        .unwrap()
        .client;
    op.add_scopes(&c.id, &orders(), &scopes(&["read"]))
        .await
        .unwrap();
    let err = op.delete_api(&orders(), false, None).await.unwrap_err();
    assert!(
        matches!(err, ManageError::Refused(Refusal::ApiInUse { .. })),
        "{err:?}"
    );
    let deleted = op.delete_api(&orders(), true, None).await.unwrap();
    assert_eq!(deleted.len(), 1);
    assert!(op.store.all_grants().is_empty());
    // The client survives, one version further (its grant went).
    assert_eq!(op.client(&c.id).await.unwrap().version, c.version + 2);
}

#[tokio::test]
async fn clients_paged_by_org() {
    let op = operator().await;
    for i in 0..7 {
        op.create_client(new_client(&format!("a{i}"), Some("acme")), NOW)
            .await
            .unwrap();
    }
    for i in 0..4 {
        op.create_client(new_client(&format!("b{i}"), Some("bravo")), NOW)
            .await
            .unwrap();
    }
    let filter = ClientFilter {
        org: Some(OrgId::new("acme")),
    };
    let mut seen = Vec::new();
    let mut after: Option<Cursor> = None;
    let mut pages = 0;
    loop {
        let page = op.clients(&filter, after.as_ref(), 3).await.unwrap();
        pages += 1;
        seen.extend(page.items.iter().map(|c| c.id.clone()));
        assert!(page
            .items
            .iter()
            .all(|c| c.org_id == Some(OrgId::new("acme"))));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 7);
    seen.dedup();
    assert_eq!(seen.len(), 7);
    assert_eq!(
        op.all_clients(&ClientFilter::default())
            .await
            .unwrap()
            .len(),
        11
    );
}

#[tokio::test]
async fn clients_bad_limit_and_foreign_cursor_invalid() {
    let op = operator().await;
    let f = ClientFilter::default();
    for limit in [0, 101] {
        assert!(matches!(
            op.clients(&f, None, limit).await,
            Err(ManageError::Invalid(_))
        ));
    }
    let other = ClientFilter {
        org: Some(OrgId::new("acme")),
    };
    let foreign = Cursor("*|abc".into());
    assert!(matches!(
        op.clients(&other, Some(&foreign), 10).await,
        Err(ManageError::Invalid(_))
    ));
    assert!(matches!(
        op.clients(&f, Some(&Cursor("garbage".into())), 10).await,
        Err(ManageError::Invalid(_))
    ));
}

#[tokio::test]
async fn org_disable_then_enable_every_client_only_that_org() {
    let op = operator().await;
    let mut acme = Vec::new();
    for i in 0..5 {
        acme.push(
            op.create_client(new_client(&format!("a{i}"), Some("acme")), NOW)
                .await
                .unwrap()
                .client
                .id,
        );
    }
    let other = op
        .create_client(new_client("b", Some("bravo")), NOW)
        .await
        .unwrap()
        .client
        .id;
    op.set_client_status(&acme[0], ClientStatus::Disabled, None, NOW)
        .await
        .unwrap();
    let off = op
        .set_org_status(&OrgId::new("acme"), ClientStatus::Disabled, NOW)
        .await
        .unwrap();
    assert_eq!(off.changed.len(), 4);
    assert_eq!(off.unchanged, 1);
    for id in &acme {
        assert_eq!(op.client(id).await.unwrap().status, ClientStatus::Disabled);
    }
    assert_eq!(
        op.client(&other).await.unwrap().status,
        ClientStatus::Active
    );
    let on = op
        .set_org_status(&OrgId::new("acme"), ClientStatus::Active, NOW)
        .await
        .unwrap();
    assert_eq!(on.changed.len(), 5);
    for id in &acme {
        assert_eq!(op.client(id).await.unwrap().status, ClientStatus::Active);
    }
}

#[test]
fn reuse_patch_keeps_what_it_does_not_name() {
    let on = Reuse::On {
        min_remaining_pct: 30,
        with_hook: true,
    };
    let pct_only = ReusePatch {
        min_remaining_pct: Some(70),
        ..ReusePatch::default()
    };
    assert_eq!(
        pct_only.apply(on),
        Reuse::On {
            min_remaining_pct: 70,
            with_hook: true
        }
    );
    assert_eq!(pct_only.apply(Reuse::Off), Reuse::Off);
    let off = ReusePatch {
        enabled: Some(false),
        ..ReusePatch::default()
    };
    assert_eq!(off.apply(on), Reuse::Off);
    let back_on = ReusePatch {
        enabled: Some(true),
        ..ReusePatch::default()
    };
    assert_eq!(
        back_on.apply(Reuse::Off),
        Reuse::On {
            min_remaining_pct: 50,
            with_hook: false
        }
    );
}

#[tokio::test]
async fn overlong_identifiers_refused_before_the_store() {
    let op = operator().await;
    let long = "x".repeat(m2m_manage::MAX_ID_LEN + 1);
    let err = op.create_api(&api(&long, &["read"])).await.unwrap_err();
    assert!(matches!(err, ManageError::Invalid(_)), "{err:?}");
    op.store.set_unavailable(true);
    // Nothing with such an id can exist: not found, without asking the store.
    assert!(matches!(
        op.client(&ClientId::new(long.as_str())).await,
        Err(ManageError::NotFound(_))
    ));
    assert!(matches!(
        op.api(&Audience::new(long.as_str())).await,
        Err(ManageError::NotFound(_))
    ));
    let page = op
        .clients(
            &ClientFilter {
                org: Some(OrgId::new(long.as_str())),
            },
            None,
            10,
        )
        .await
        .unwrap();
    assert!(page.items.is_empty());
    op.store.set_unavailable(false);
    let err = op
        .create_client(new_client("x", Some(&"o".repeat(201))), NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, ManageError::Invalid(_)), "{err:?}");
}
