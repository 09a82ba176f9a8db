//! Secretless clients through [`AdminStore`]: registered keys and `jwks_uri` on the
//! client item (a cleared `jwks_uri` leaves no attribute), trust rules as items of
//! their own — listed page by page with strict cursors, found by id, written and
//! deleted in one transaction with the client's version bump — and a client deleted
//! with more rules than one transaction holds.

use aws_sdk_dynamodb::types::AttributeValue;
use m2m_aws::dynamo::item::{JWKS_URI, KEYS, PK};
use m2m_aws::MAX_RULES_PER_WRITE;
use m2m_core::model::{ClientKey, Match, TrustRule};
use m2m_manage::trust::NewTrustRule;
use m2m_manage::{Backoff, Operator};

use super::*;

const GITHUB: &str = "https://token.actions.githubusercontent.com";
const CLUSTER: &str = "https://kubernetes.default.svc";

fn rule(id: &str, issuer: &str) -> TrustRule {
    TrustRule {
        id: id.to_owned(),
        issuer: issuer.to_owned(),
        subject: Match::Exact("repo:acme/api:ref:refs/heads/main".into()),
        audience: "https://auth.example.com".into(),
        claims: BTreeMap::from([("ref".to_owned(), Match::Glob("refs/heads/*".into()))]),
        description: "deploy".into(),
        created_at: NOW,
    }
}

impl Env {
    async fn version(&self, id: &ClientId) -> u64 {
        self.store.get_client(id).await.unwrap().unwrap().version
    }

    async fn partition(&self, id: &ClientId) -> Vec<Item> {
        let pk = format!("CLIENT#{id}");
        self.scan()
            .await
            .into_iter()
            .filter(|i| i.get(PK) == Some(&AttributeValue::S(pk.clone())))
            .collect()
    }
}

#[tokio::test]
async fn keys_and_jwks_uri_written_and_cleared() {
    let env = env("keys").await;
    let mut c = client("acme", None);
    env.store.create_client(&c, &[]).await.unwrap();
    c.keys = vec![ClientKey {
        kid: "k1".into(),
        jwk: r#"{"kty":"OKP","crv":"Ed25519","x":"h_M64aDKMlWxosKVsEmo3_fTY1zfLCUMFp8dnvAlSCk"}"#
            .into(),
        added_at: NOW,
        expires_at: Some(NOW + 60),
    }];
    c.version = 2;
    env.store.replace_client(&c, 1).await.unwrap();
    assert_eq!(env.store.get_client(&c.id).await.unwrap().unwrap(), c);

    c.keys.clear();
    c.jwks_uri = Some("https://acme.example.com/jwks.json".into());
    c.version = 3;
    env.store.replace_client(&c, 2).await.unwrap();
    assert_eq!(env.store.get_client(&c.id).await.unwrap().unwrap(), c);

    c.jwks_uri = None;
    c.version = 4;
    env.store.replace_client(&c, 3).await.unwrap();
    let raw = env.partition(&c.id).await;
    assert!(!raw[0].contains_key(JWKS_URI), "{raw:?}");
    assert_eq!(raw[0].get(KEYS), Some(&AttributeValue::L(vec![])));
    assert_eq!(env.store.get_client(&c.id).await.unwrap().unwrap(), c);
}

#[tokio::test]
async fn rule_written_with_version_bump_or_not_at_all() {
    let env = env("rule-put").await;
    let c = client("acme", None);
    env.store.create_client(&c, &[]).await.unwrap();
    let r = rule("tr_1", GITHUB);
    env.store.put_trust_rule(&c.id, &r, 1).await.unwrap();
    assert_eq!(env.version(&c.id).await, 2);
    assert_eq!(
        env.store.get_trust_rule(&c.id, "tr_1").await.unwrap(),
        Some(r.clone())
    );
    let before = env.scan().await;
    // A stale version, a taken id, an unknown client: refused, nothing written.
    for (id, rule, version) in [
        (&c.id, rule("tr_2", GITHUB), 1),
        (&c.id, r.clone(), 2),
        (&ClientId::new("nobody"), rule("tr_3", GITHUB), 1),
    ] {
        let got = env.store.put_trust_rule(id, &rule, version).await;
        assert!(matches!(got, Err(StoreError::Conflict(_))), "{got:?}");
    }
    assert_eq!(env.scan().await, before);
    assert_eq!(
        env.store.get_trust_rule(&c.id, "tr_nope").await.unwrap(),
        None
    );
}

#[tokio::test]
async fn rules_listed_page_by_page_with_strict_cursors() {
    let env = env("rule-list").await;
    let acme = client("acme", None);
    let other = client("other", None);
    env.store.create_client(&acme, &[]).await.unwrap();
    env.store.create_client(&other, &[]).await.unwrap();
    let mut want = Vec::new();
    for (version, i) in (1..).zip(0..6) {
        let issuer = if i % 2 == 0 { GITHUB } else { CLUSTER };
        let r = rule(&format!("tr_{i}"), issuer);
        env.store
            .put_trust_rule(&acme.id, &r, version)
            .await
            .unwrap();
        want.push(r.id);
    }
    env.store
        .put_trust_rule(&other.id, &rule("tr_x", GITHUB), 1)
        .await
        .unwrap();

    let mut got = Vec::new();
    let mut sizes = Vec::new();
    let mut after: Option<Cursor> = None;
    loop {
        let page = env
            .store
            .trust_rules(&acme.id, after.as_ref(), 4)
            .await
            .unwrap();
        sizes.push(page.items.len());
        got.extend(page.items.into_iter().map(|r| r.id));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(sizes, [4, 2]);
    got.sort();
    want.sort();
    assert_eq!(got, want);
    // Exactly filled: no empty page after a full one.
    let exact = env.store.trust_rules(&acme.id, None, 6).await.unwrap();
    assert_eq!((exact.items.len(), exact.next), (6, None));

    let next = env
        .store
        .trust_rules(&acme.id, None, 1)
        .await
        .unwrap()
        .next
        .unwrap();
    for (id, cursor) in [
        (&other.id, next.clone()),
        (&acme.id, Cursor(format!("{}x", next.0))),
        (&acme.id, Cursor("not a cursor".into())),
        (&acme.id, Cursor(String::new())),
    ] {
        let got = env.store.trust_rules(id, Some(&cursor), 2).await;
        assert!(matches!(got, Err(StoreError::InvalidCursor)), "{got:?}");
    }
}

#[tokio::test]
async fn rules_deleted_with_version_bump_or_not_at_all() {
    let env = env("rule-delete").await;
    let c = client("acme", None);
    env.store.create_client(&c, &[]).await.unwrap();
    let (a, b) = (rule("tr_a", GITHUB), rule("tr_b", CLUSTER));
    env.store.put_trust_rule(&c.id, &a, 1).await.unwrap();
    env.store.put_trust_rule(&c.id, &b, 2).await.unwrap();
    let before = env.scan().await;
    let gone = rule("tr_gone", GITHUB);
    for (rules, version) in [(vec![a.clone()], 1), (vec![a.clone(), gone], 3)] {
        let got = env.store.delete_trust_rules(&c.id, &rules, version).await;
        assert!(matches!(got, Err(StoreError::Conflict(_))), "{got:?}");
    }
    assert_eq!(env.scan().await, before);
    let too_many: Vec<TrustRule> = (0..=MAX_RULES_PER_WRITE)
        .map(|i| rule(&format!("tr_{i}"), GITHUB))
        .collect();
    let got = env.store.delete_trust_rules(&c.id, &too_many, 3).await;
    assert!(matches!(got, Err(StoreError::Port(_))), "{got:?}");

    env.store
        .delete_trust_rules(&c.id, &[a.clone(), b.clone()], 3)
        .await
        .unwrap();
    assert_eq!(env.version(&c.id).await, 4);
    assert_eq!(env.partition(&c.id).await.len(), 1, "the client alone");
}

#[tokio::test]
async fn client_with_more_rules_than_a_transaction_deleted_whole() {
    let env = env("rule-client-delete").await;
    let op = Operator::new(env.store.clone()).with_backoff(Backoff::IMMEDIATE);
    let orders = api("https://orders.example.com/");
    env.store.create_api(&orders).await.unwrap();
    let c = client("acme", None);
    env.store
        .create_client(&c, &[(grant(&c, &orders), 1)])
        .await
        .unwrap();
    let count = MAX_RULES_PER_WRITE + 6;
    for i in 0..count {
        let issuer = if i % 3 == 0 { GITHUB } else { CLUSTER };
        op.add_trust_rule(
            &c.id,
            NewTrustRule {
                issuer: issuer.into(),
                subject: Match::Exact(format!("system:serviceaccount:jobs:w{i}")),
                audience: "https://auth.example.com".into(),
                claims: BTreeMap::new(),
                description: String::new(),
            },
            NOW,
            None,
        )
        .await
        .unwrap();
    }
    assert_eq!(op.all_trust_rules(&c.id).await.unwrap().len(), count);
    let deleted = op.delete_client(&c.id, None).await.unwrap();
    assert_eq!((deleted.grants.len(), deleted.trust_rules), (1, count));
    assert!(env.partition(&c.id).await.is_empty());
}
