//! [`DynamoAdminStore`] as m2m-manage's [`AdminStore`] against the local AWS emulator
//! (moto from the project's `.venv`, one server shared by this binary; every test uses
//! its own table): paged client listings on the `ByOrg` and `ByKind` indexes and their
//! cursors, client creation with grants as one transaction, idempotency records
//! ([`idempotency`]), secretless clients' keys and trust rules ([`secretless`]), and
//! revocation, organization records and usage ([`control`]).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use m2m_aws::dynamo::item::{self, Item, BY_ORG_INDEX, ORG_ID};
use m2m_aws::{
    AdminStore, ClientFilter, Cursor, DynamoAdminStore, Page, StoreError, MAX_CREATE_GRANTS,
    MAX_PAGE,
};
use m2m_core::error::PortErrorKind;
use m2m_core::model::{Api, Client, ClientStatus, Grant, Profile, Reuse};
use m2m_core::types::{Audience, ClientId, OrgId, ScopeSet};
use m2m_testkit::LocalAws;

#[path = "admin_store/control.rs"]
mod control;
#[path = "admin_store/idempotency.rs"]
mod idempotency;
#[path = "admin_store/secretless.rs"]
mod secretless;

const NOW: u64 = 1_763_000_000;

struct Env {
    table: String,
    dynamo: aws_sdk_dynamodb::Client,
    store: DynamoAdminStore,
}

async fn env(prefix: &str) -> Env {
    let aws = LocalAws::shared().expect("local AWS emulator");
    let table = aws.create_table(prefix).await.expect("table");
    let dynamo = aws_sdk_dynamodb::Client::new(&aws.setup_sdk_config().await);
    let store = DynamoAdminStore::new(
        aws_sdk_dynamodb::Client::new(&aws.sdk_config().await),
        &table,
    );
    Env {
        table,
        dynamo,
        store,
    }
}

impl Env {
    /// Every item of the table, in key order.
    async fn scan(&self) -> Vec<Item> {
        let mut items = self
            .dynamo
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .items
            .unwrap_or_default();
        items.sort_by_key(|i| item::item_key(i).map(|(pk, sk)| (pk.to_owned(), sk.to_owned())));
        items
    }

    /// Every item of the `ByOrg` index.
    async fn by_org_index(&self) -> Vec<Item> {
        self.dynamo
            .scan()
            .table_name(&self.table)
            .index_name(BY_ORG_INDEX)
            .send()
            .await
            .unwrap()
            .items
            .unwrap_or_default()
    }

    async fn add_clients(&self, prefix: &str, org: Option<&str>, count: usize) -> Vec<ClientId> {
        let mut ids = Vec::new();
        for i in 0..count {
            let c = client(&format!("{prefix}-{i:02}"), org);
            self.store.create_client(&c, &[]).await.unwrap();
            ids.push(c.id);
        }
        ids
    }

    /// Every page of `filter`'s listing, `limit` at a time.
    async fn pages(&self, filter: &ClientFilter, limit: usize) -> Vec<Page<Client>> {
        let mut pages = Vec::new();
        let mut after: Option<Cursor> = None;
        loop {
            let page = self
                .store
                .list_clients(filter, after.as_ref(), limit)
                .await
                .unwrap();
            after = page.next.clone();
            pages.push(page);
            assert!(pages.len() <= 100, "the listing does not end");
            if after.is_none() {
                return pages;
            }
        }
    }
}

fn client(id: &str, org: Option<&str>) -> Client {
    Client {
        id: ClientId::new(id),
        name: format!("client {id}"),
        org_id: org.map(OrgId::new),
        status: ClientStatus::Active,
        metadata: BTreeMap::new(),
        secrets: Vec::new(),
        keys: Vec::new(),
        jwks_uri: None,
        quota: None,
        org_quota: None,
        not_before: None,
        revocation_epoch: 0,
        introspect: false,
        version: 1,
    }
}

fn api(identifier: &str) -> Api {
    Api {
        identifier: Audience::new(identifier),
        name: identifier.to_owned(),
        scopes: ScopeSet::parse("read write").unwrap(),
        token_lifetime: 600,
        profile: Profile::Rfc9068,
        reuse: Reuse::default(),
    }
}

fn grant(client: &Client, api: &Api) -> Grant {
    Grant {
        client_id: client.id.clone(),
        audience: api.identifier.clone(),
        scopes: ScopeSet::parse("read").unwrap(),
    }
}

fn org(o: &str) -> ClientFilter {
    ClientFilter {
        org: Some(OrgId::new(o)),
    }
}

fn ids(pages: &[Page<Client>]) -> Vec<ClientId> {
    pages
        .iter()
        .flat_map(|p| p.items.iter().map(|c| c.id.clone()))
        .collect()
}

// ------------------------------------------------------------------ listings

#[tokio::test]
async fn org_listing_pages_three_three_one_without_duplicates() {
    let env = env("list-org").await;
    let mut acme = env.add_clients("acme", Some("org_acme"), 7).await;
    env.add_clients("globex", Some("org_globex"), 3).await;
    env.add_clients("solo", None, 2).await;

    let pages = env.pages(&org("org_acme"), 3).await;
    let sizes: Vec<usize> = pages.iter().map(|p| p.items.len()).collect();
    assert_eq!(sizes, [3, 3, 1]);
    assert!(pages
        .iter()
        .flat_map(|p| &p.items)
        .all(|c| c.org_id == Some(OrgId::new("org_acme"))));
    acme.sort();
    assert_eq!(ids(&pages), acme, "every client once, in id order");
}

#[tokio::test]
async fn org_listing_filling_its_last_page_ends_there() {
    let env = env("list-exact").await;
    env.add_clients("globex", Some("org_globex"), 6).await;
    let pages = env.pages(&org("org_globex"), 3).await;
    let sizes: Vec<usize> = pages.iter().map(|p| p.items.len()).collect();
    assert_eq!(sizes, [3, 3], "no empty page after a full one");
    let none = env.pages(&org("org_nobody"), 3).await;
    assert_eq!(none.len(), 1);
    assert!(none[0].items.is_empty());
}

#[tokio::test]
async fn all_clients_listing_pages_through_every_client() {
    let env = env("list-all").await;
    let mut all = env.add_clients("acme", Some("org_acme"), 5).await;
    all.extend(env.add_clients("solo", None, 4).await);
    all.extend(env.add_clients("globex", Some("org_globex"), 3).await);
    // Other item kinds are not clients.
    let orders = api("https://orders.example.com/");
    env.store.create_api(&orders).await.unwrap();
    let with_grant = client("granted", Some("org_acme"));
    env.store
        .create_client(&with_grant, &[(grant(&with_grant, &orders), 1)])
        .await
        .unwrap();
    all.push(with_grant.id);
    all.sort();

    let pages = env.pages(&ClientFilter::default(), 4).await;
    assert_eq!(pages.len(), 4);
    assert!(pages.iter().all(|p| p.items.len() <= 4));
    assert_eq!(ids(&pages), all);
}

#[tokio::test]
async fn listing_limit_clamped_to_one_and_max_page() {
    let env = env("list-clamp").await;
    env.add_clients("acme", Some("org_acme"), 3).await;
    let one = env
        .store
        .list_clients(&org("org_acme"), None, 0)
        .await
        .unwrap();
    assert_eq!(one.items.len(), 1);
    assert!(one.next.is_some());
    let whole = env
        .store
        .list_clients(&ClientFilter::default(), None, MAX_PAGE * 10)
        .await
        .unwrap();
    assert_eq!(whole.items.len(), 3);
    assert_eq!(whole.next, None);
}

#[tokio::test]
async fn tampered_cursor_invalid() {
    let env = env("list-tamper").await;
    env.add_clients("acme", Some("org_acme"), 4).await;
    let first = env
        .store
        .list_clients(&org("org_acme"), None, 2)
        .await
        .unwrap();
    let next = first.next.unwrap();
    let mut flipped = next.0.clone().into_bytes();
    flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
    for bad in [
        Cursor(String::from_utf8(flipped).unwrap()),
        Cursor(format!("{}x", next.0)),
        Cursor("not a cursor".into()),
        Cursor(String::new()),
    ] {
        let got = env
            .store
            .list_clients(&org("org_acme"), Some(&bad), 2)
            .await;
        assert!(
            matches!(got, Err(StoreError::InvalidCursor)),
            "{bad:?}: {got:?}"
        );
    }
}

#[tokio::test]
async fn other_listings_cursor_invalid() {
    let env = env("list-other").await;
    env.add_clients("acme", Some("org_acme"), 3).await;
    env.add_clients("globex", Some("org_globex"), 3).await;
    let acme = env
        .store
        .list_clients(&org("org_acme"), None, 1)
        .await
        .unwrap();
    let all = env
        .store
        .list_clients(&ClientFilter::default(), None, 1)
        .await
        .unwrap();
    let (acme_next, all_next) = (acme.next.unwrap(), all.next.unwrap());
    for (filter, cursor) in [
        (org("org_globex"), &acme_next),
        (ClientFilter::default(), &acme_next),
        (org("org_acme"), &all_next),
    ] {
        let got = env.store.list_clients(&filter, Some(cursor), 1).await;
        assert!(
            matches!(got, Err(StoreError::InvalidCursor)),
            "{filter:?}: {got:?}"
        );
    }
}

#[tokio::test]
async fn clients_without_org_absent_from_by_org() {
    let env = env("by-org").await;
    let orders = api("https://orders.example.com/");
    env.store.create_api(&orders).await.unwrap();
    let acme = client("acme", Some("org_acme"));
    env.store
        .create_client(&acme, &[(grant(&acme, &orders), 1)])
        .await
        .unwrap();
    env.add_clients("solo", None, 2).await;
    // An empty organization is no organization.
    env.store
        .create_client(&client("blank", Some("")), &[])
        .await
        .unwrap();
    let stored = env.store.get_client(&ClientId::new("blank")).await.unwrap();
    assert_eq!(stored.unwrap().org_id, None);

    let indexed = env.by_org_index().await;
    let keys: Vec<_> = indexed.iter().filter_map(item::item_key).collect();
    assert_eq!(
        keys,
        [("CLIENT#acme", "CLIENT")],
        "only the org's client, no grant"
    );

    // Leaving the organization takes the client out of the index.
    let mut moved = env.store.get_client(&acme.id).await.unwrap().unwrap();
    moved.org_id = None;
    moved.version += 1;
    env.store
        .replace_client(&moved, moved.version - 1)
        .await
        .unwrap();
    assert!(env.by_org_index().await.is_empty());
    let raw = env.scan().await;
    assert!(raw.iter().all(|i| !i.contains_key(ORG_ID)), "{raw:?}");
    let page = env
        .store
        .list_clients(&org("org_acme"), None, 10)
        .await
        .unwrap();
    assert!(page.items.is_empty() && page.next.is_none());
}

// ------------------------------------------------------------- create_client

#[tokio::test]
async fn create_client_with_grants_writes_all_and_bumps_apis() {
    let env = env("create-grants").await;
    let (orders, billing) = (api("https://orders.example.com/"), api("https://billing/"));
    env.store.create_api(&orders).await.unwrap();
    env.store.create_api(&billing).await.unwrap();
    let c = client("acme", Some("org_acme"));
    let grants = [(grant(&c, &orders), 1), (grant(&c, &billing), 1)];
    env.store.create_client(&c, &grants).await.unwrap();

    assert_eq!(env.store.get_client(&c.id).await.unwrap(), Some(c.clone()));
    let mut expected: Vec<Grant> = grants.iter().map(|(g, _)| g.clone()).collect();
    expected.sort_by(|a, b| a.audience.cmp(&b.audience));
    assert_eq!(env.store.client_grants(&c.id).await.unwrap(), expected);
    for a in [&orders, &billing] {
        let stored = env.store.get_api(&a.identifier).await.unwrap().unwrap();
        assert_eq!(stored.version, 2, "{}", a.identifier);
    }
}

#[tokio::test]
async fn create_client_with_changed_api_conflict_writes_nothing() {
    let env = env("create-stale").await;
    let (orders, billing) = (api("https://orders.example.com/"), api("https://billing/"));
    env.store.create_api(&orders).await.unwrap();
    env.store.create_api(&billing).await.unwrap();
    // Someone updates billing after it was read at version 1.
    env.store.replace_api(&billing, 1).await.unwrap();
    let before = env.scan().await;

    let c = client("acme", Some("org_acme"));
    let got = env
        .store
        .create_client(&c, &[(grant(&c, &orders), 1), (grant(&c, &billing), 1)])
        .await;
    match got {
        Err(StoreError::Conflict(what)) => assert_eq!(what, "API https://billing/"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        env.scan().await,
        before,
        "a refused creation wrote something"
    );
    assert_eq!(env.store.get_client(&c.id).await.unwrap(), None);
}

#[tokio::test]
async fn create_client_taken_id_conflict_writes_nothing() {
    let env = env("create-taken").await;
    let orders = api("https://orders.example.com/");
    env.store.create_api(&orders).await.unwrap();
    let c = client("acme", None);
    env.store.create_client(&c, &[]).await.unwrap();
    let before = env.scan().await;
    let got = env
        .store
        .create_client(&c, &[(grant(&c, &orders), 1)])
        .await;
    match got {
        Err(StoreError::Conflict(what)) => assert_eq!(what, "client acme"),
        other => panic!("{other:?}"),
    }
    assert_eq!(env.scan().await, before);
}

#[tokio::test]
async fn create_client_with_too_many_or_duplicate_grants_refused() {
    let env = env("create-many").await;
    let c = client("acme", None);
    let apis: Vec<Api> = (0..=MAX_CREATE_GRANTS)
        .map(|i| api(&format!("https://api-{i}/")))
        .collect();
    let too_many: Vec<(Grant, u64)> = apis.iter().map(|a| (grant(&c, a), 1)).collect();
    let orders = &apis[0];
    let twice = [(grant(&c, orders), 1), (grant(&c, orders), 1)];
    let other = client("other", None);
    let foreign = [(grant(&other, orders), 1)];
    for grants in [&too_many[..], &twice[..], &foreign[..]] {
        match env.store.create_client(&c, grants).await {
            Err(StoreError::Port(e)) => assert_eq!(e.kind(), PortErrorKind::Refused, "{e}"),
            other => panic!("{} grants: {other:?}", grants.len()),
        }
    }
    let refused = env.store.create_client(&c, &too_many).await.unwrap_err();
    assert!(
        refused
            .to_string()
            .contains(&format!("at most {MAX_CREATE_GRANTS}")),
        "{refused}"
    );
    assert!(env.scan().await.is_empty());
}
