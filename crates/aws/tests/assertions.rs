//! [`DynamoDirectory`]'s reads and writes for client assertions (RFC 7523 §2.2)
//! against the local AWS emulator: one issuer's trust rules, page after page, and
//! nothing of another issuer or client; the single use of a `jti` (RFC 7523 §3 item 7),
//! atomic under concurrent claims, kept with a `ttl`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use m2m_aws::dynamo::item::{self, jti, Item};
use m2m_aws::DynamoDirectory;
use m2m_core::model::{Match, TrustRule};
use m2m_core::ports::Directory;
use m2m_core::types::{Audience, ClientId, ScopeSet};
use m2m_testkit::{LocalAws, RequestCounter};

const NOW: u64 = 1_763_000_000;
const GITHUB: &str = "https://token.actions.githubusercontent.com";
const CLUSTER: &str =
    "https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";

fn rule(id: &str, issuer: &str) -> TrustRule {
    TrustRule {
        id: id.to_owned(),
        issuer: issuer.to_owned(),
        subject: Match::Glob("repo:acme/api:*".into()),
        audience: "https://auth.example.com".into(),
        claims: BTreeMap::from([("repository".to_owned(), Match::Exact("acme/api".into()))]),
        description: String::new(),
        created_at: NOW,
    }
}

async fn table(aws: &LocalAws, prefix: &str, items: Vec<Item>) -> String {
    let table = aws.create_table(prefix).await.unwrap();
    aws.put_items(&table, items).await.unwrap();
    table
}

async fn get(aws: &LocalAws, table: &str, key: Item) -> Option<Item> {
    aws_sdk_dynamodb::Client::new(&aws.setup_sdk_config().await)
        .get_item()
        .table_name(table)
        .set_key(Some(key))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

#[tokio::test]
async fn trust_rules_of_one_issuer_every_page_nothing_else() {
    let aws = LocalAws::shared().unwrap();
    let acme = ClientId::new("acme");
    let other = ClientId::new("acme2");
    let mut items = Vec::new();
    for i in 0..5 {
        items.push(item::trust_rule_to_item(
            &acme,
            &rule(&format!("tr_gh{i}"), GITHUB),
        ));
    }
    for i in 0..2 {
        items.push(item::trust_rule_to_item(
            &acme,
            &rule(&format!("tr_k8s{i}"), CLUSTER),
        ));
    }
    items.push(item::trust_rule_to_item(&other, &rule("tr_other", GITHUB)));
    // The client's grant shares the partition and is never read as a rule.
    items.push(item::grant_to_item(&m2m_core::model::Grant {
        client_id: acme.clone(),
        audience: Audience::new("https://api.example.com"),
        scopes: ScopeSet::parse("read").unwrap(),
    }));
    let table = table(aws, "rules", items).await;
    let counter = RequestCounter::new();
    let sdk = aws.sdk_config().await;
    let dir = DynamoDirectory::new(counter.dynamo(&sdk), &table).with_trust_rule_page_size(2);

    let rules = dir.trust_rules(&acme, GITHUB).await.unwrap();
    let ids: BTreeSet<String> = rules.iter().map(|r| r.id.clone()).collect();
    assert_eq!(
        ids,
        (0..5).map(|i| format!("tr_gh{i}")).collect::<BTreeSet<_>>()
    );
    assert_eq!(rules[0], rule(&rules[0].id, GITHUB));
    // Five rules two at a time: at least three pages, each strongly consistent.
    let queries = counter.count("DynamoDB");
    assert!(queries >= 3, "{:?}", counter.snapshot());

    let k8s = dir.trust_rules(&acme, CLUSTER).await.unwrap();
    assert_eq!(k8s.len(), 2);
    assert!(k8s.iter().all(|r| r.issuer == CLUSTER));
    assert_eq!(dir.trust_rules(&other, CLUSTER).await.unwrap(), vec![]);
    assert_eq!(
        dir.trust_rules(&acme, "https://unknown.example.com")
            .await
            .unwrap(),
        vec![]
    );
    // No client can have an id that long: nothing read, nothing found.
    counter.clear();
    let long = ClientId::new("c".repeat(5000));
    assert_eq!(dir.trust_rules(&long, GITHUB).await.unwrap(), vec![]);
    assert_eq!(counter.total(), 0);
    // An issuer of any length fits the key (its digest does).
    let far = format!("https://{}.example.com", "i".repeat(3000));
    assert_eq!(dir.trust_rules(&acme, &far).await.unwrap(), vec![]);
}

#[tokio::test]
async fn malformed_rule_fails_closed() {
    let aws = LocalAws::shared().unwrap();
    let acme = ClientId::new("acme");
    let mut bad = item::trust_rule_to_item(&acme, &rule("tr_1", GITHUB));
    bad.remove("audience");
    let table = table(aws, "rules-bad", vec![bad]).await;
    let dir = DynamoDirectory::new(
        aws_sdk_dynamodb::Client::new(&aws.sdk_config().await),
        &table,
    );
    let err = dir.trust_rules(&acme, GITHUB).await.unwrap_err();
    assert_eq!(err.kind(), m2m_core::error::PortErrorKind::Malformed);
}

#[tokio::test]
async fn jti_claimed_once_with_ttl() {
    let aws = LocalAws::shared().unwrap();
    let table = table(aws, "jti", Vec::new()).await;
    let dir = DynamoDirectory::new(
        aws_sdk_dynamodb::Client::new(&aws.sdk_config().await),
        &table,
    );
    let acme = ClientId::new("acme");
    assert!(dir.claim_jti(&acme, "j-1", NOW + 300).await.unwrap());
    // A replay, even with another expiry, is refused.
    assert!(!dir.claim_jti(&acme, "j-1", NOW + 600).await.unwrap());
    // The same jti of another client is its own.
    assert!(dir
        .claim_jti(&ClientId::new("other"), "j-1", NOW + 300)
        .await
        .unwrap());
    let stored = get(aws, &table, jti::jti_key(&acme, "j-1")).await.unwrap();
    assert_eq!(
        stored.get("ttl"),
        Some(&aws_sdk_dynamodb::types::AttributeValue::N(
            (NOW + 300).to_string()
        ))
    );
    // Any length fits the key.
    let long = "j".repeat(10_000);
    assert!(dir.claim_jti(&acme, &long, NOW + 300).await.unwrap());
    assert!(!dir.claim_jti(&acme, &long, NOW + 300).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_of_one_jti_exactly_one_wins() {
    // DynamoDB serializes conditional writes on an item; moto does so only when
    // single-threaded.
    let aws: &'static LocalAws = Box::leak(Box::new(LocalAws::start_single_threaded().unwrap()));
    let table = table(aws, "jti-race", Vec::new()).await;
    let dir = DynamoDirectory::new(
        aws_sdk_dynamodb::Client::new(&aws.sdk_config().await),
        &table,
    );
    for round in 0..3 {
        let jti = format!("race-{round}");
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let dir = dir.clone();
                let jti = jti.clone();
                tokio::spawn(async move {
                    dir.claim_jti(&ClientId::new("acme"), &jti, NOW + 300)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut won = 0;
        for t in tasks {
            if t.await.unwrap() {
                won += 1;
            }
        }
        assert_eq!(won, 1, "round {round}: {won} of 8 claims won");
    }
}
