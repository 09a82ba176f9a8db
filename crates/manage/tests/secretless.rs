//! The operator rules of secretless clients against the in-memory store: clients
//! created without a secret, registered public keys (RFC 7523 §2.2) with expiry, a
//! `jwks_uri` instead (never both), and trust rules — each rule with its refusal, the
//! client's version bumped by every change, and a client's rules deleted with it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use m2m_core::model::{Match, MAX_CLIENT_KEYS};
use m2m_core::testing::fixtures::{DAY, NOW};
use m2m_core::types::ClientId;
use m2m_manage::clients::NewClient;
use m2m_manage::testing::InMemoryAdminStore;
use m2m_manage::trust::{NewTrustRule, MAX_CLAIM_CONDITIONS};
use m2m_manage::{Backoff, Cursor, ManageError, Operator, Refusal, Target};

const JWKS: &str = include_str!("data/public-jwks.txt");
const GITHUB: &str = "https://token.actions.githubusercontent.com";

/// The `i`th distinct public EC P-256 JWK of the fixtures.
fn jwk(i: usize) -> &'static str {
    JWKS.lines().nth(i).unwrap()
}

/// The same key with its own `kid`.
fn jwk_with_kid(i: usize, kid: &str) -> String {
    let body = jwk(i).strip_suffix('}').unwrap();
    format!(r#"{body},"kid":"{kid}"}}"#)
}

fn operator() -> Operator<InMemoryAdminStore> {
    Operator::new(InMemoryAdminStore::new()).with_backoff(Backoff::IMMEDIATE)
}

async fn secretless(op: &Operator<InMemoryAdminStore>) -> ClientId {
    let created = op
        .create_client(
            NewClient {
                name: "workload".into(),
                secretless: true,
                ..NewClient::default()
            },
            NOW,
        )
        .await
        .unwrap();
    assert!(created.secret.is_none());
    created.client.id
}

fn github_rule() -> NewTrustRule {
    NewTrustRule {
        issuer: GITHUB.into(),
        subject: Match::Exact("repo:acme/api:ref:refs/heads/main".into()),
        audience: "https://auth.example.com".into(),
        claims: BTreeMap::from([("repository".to_owned(), Match::Exact("acme/api".into()))]),
        description: "deploys from main".into(),
    }
}

fn invalid(err: ManageError) -> String {
    match err {
        ManageError::Invalid(m) => m,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

// ------------------------------------------------------------------ creation

#[tokio::test]
async fn create_secretless_client_has_no_secret_until_rotated() {
    let op = operator();
    let id = secretless(&op).await;
    assert!(op.client(&id).await.unwrap().secrets.is_empty());
    let rotated = op.rotate_secret(&id, DAY, NOW).await.unwrap();
    assert_eq!(rotated.client.secrets.len(), 1);
}

// ---------------------------------------------------------------------- keys

#[tokio::test]
async fn add_key_without_kid_named_by_thumbprint_and_version_bumped() {
    let op = operator();
    let id = secretless(&op).await;
    let before = op.client(&id).await.unwrap().version;
    let added = op
        .add_client_key(&id, jwk(0), Some(NOW + DAY), NOW, None)
        .await
        .unwrap();
    // RFC 7638 thumbprint: 43 base64url characters.
    assert_eq!(added.key.kid.len(), 43);
    assert_eq!(added.key.expires_at, Some(NOW + DAY));
    assert_eq!(added.key.added_at, NOW);
    assert_eq!(added.client.version, before + 1);
    let stored = op.client(&id).await.unwrap();
    assert_eq!(stored.keys, vec![added.key.clone()]);
    assert_eq!(stored.version, before + 1);
    // Its own kid is kept.
    let own = op
        .add_client_key(&id, &jwk_with_kid(1, "acme-2026-01"), None, NOW, None)
        .await
        .unwrap();
    assert_eq!(own.key.kid, "acme-2026-01");
}

#[tokio::test]
async fn add_unusable_keys_invalid() {
    let op = operator();
    let id = secretless(&op).await;
    let private = r#"{"kty":"EC","crv":"P-256","x":"CltEfFclyb9kG_p-uv_EqLcGwDVZFPGRLYYdVaHbOIw","y":"emrJUqSncsEghg5LbJAVysqpSu4TjP7k1sHjs29YJZM","d":"APspUhzeqx5Ng95lSx4pzTtJ-0vtzo_pvsyHlcJ3Jqw"}"#;
    let small_rsa = r#"{"kty":"RSA","n":"z5JWKYN_0x5rzzDu1tnsDT94rHdTLsV8OXv6-LaY6U0meW4_H61Dg2IRWqkd1Q5E0RbOOc3j2qC_EE1MCH_BUFMNoAFscYGqF6uSI_Bpo2rFxUR8eDhPxyA5UjSo2PUkIBDTxCAibUyxat5FRVuSp39LysSYuFFrswEtx2_opUs","e":"AQAB"}"#;
    let symmetric = r#"{"kty":"oct","k":"c2VjcmV0"}"#;
    let encryption = jwk(2).replace(r#""kty""#, r#""use":"enc","kty""#);
    let long = format!(
        r#"{{"kty":"EC","crv":"P-256","x":"a","y":"b","pad":"{}"}}"#,
        "x".repeat(9000)
    );
    for bad in [
        private,
        small_rsa,
        symmetric,
        encryption.as_str(),
        "not json",
        "[]",
        long.as_str(),
    ] {
        let err = op
            .add_client_key(&id, bad, None, NOW, None)
            .await
            .unwrap_err();
        let m = invalid(err);
        assert!(!m.contains("APspUhzeqx5"), "a private member leaked: {m}");
    }
    let err = op
        .add_client_key(&id, jwk(0), Some(NOW), NOW, None)
        .await
        .unwrap_err();
    invalid(err);
    assert!(op.client(&id).await.unwrap().keys.is_empty());
}

#[tokio::test]
async fn add_duplicate_kid_exists_and_same_key_refused() {
    let op = operator();
    let id = secretless(&op).await;
    op.add_client_key(&id, &jwk_with_kid(0, "k1"), None, NOW, None)
        .await
        .unwrap();
    let err = op
        .add_client_key(&id, &jwk_with_kid(1, "k1"), None, NOW, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ManageError::Exists(Target::ClientKey(c, k)) if *c == id && k == "k1"),
        "{err:?}"
    );
    let err = op
        .add_client_key(&id, jwk(0), None, NOW, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ManageError::Refused(Refusal::SameKeyRegistered { kid, .. }) if kid == "k1"),
        "{err:?}"
    );
}

#[tokio::test]
async fn add_beyond_limit_refused_unless_expired_keys_pruned() {
    let op = operator();
    let id = secretless(&op).await;
    for i in 0..MAX_CLIENT_KEYS {
        let expiry = (i == 0).then_some(NOW + DAY);
        op.add_client_key(&id, jwk(i), expiry, NOW, None)
            .await
            .unwrap();
    }
    let version = op.client(&id).await.unwrap().version;
    let err = op
        .add_client_key(&id, jwk(MAX_CLIENT_KEYS), None, NOW, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ManageError::Refused(Refusal::TooManyKeys { max, .. }) if max == MAX_CLIENT_KEYS),
        "{err:?}"
    );
    assert_eq!(op.client(&id).await.unwrap().version, version);
    // A day later the first key has expired: it goes, the new one comes in.
    let added = op
        .add_client_key(&id, jwk(MAX_CLIENT_KEYS), None, NOW + DAY, None)
        .await
        .unwrap();
    assert_eq!(added.pruned.len(), 1);
    assert_eq!(added.client.keys.len(), MAX_CLIENT_KEYS);
}

#[tokio::test]
async fn expire_and_remove_key() {
    let op = operator();
    let id = secretless(&op).await;
    let k = op
        .add_client_key(&id, jwk(0), None, NOW, None)
        .await
        .unwrap()
        .key;
    let (client, key) = op
        .set_client_key_expiry(&id, &k.kid, Some(NOW + 3600), NOW, None)
        .await
        .unwrap();
    assert_eq!(key.expires_at, Some(NOW + 3600));
    assert_eq!(client.keys[0].expires_at, Some(NOW + 3600));
    // Now is allowed (stop at once); the past is not.
    op.set_client_key_expiry(&id, &k.kid, Some(NOW), NOW, None)
        .await
        .unwrap();
    invalid(
        op.set_client_key_expiry(&id, &k.kid, Some(NOW - 1), NOW, None)
            .await
            .unwrap_err(),
    );
    let (_, key) = op
        .set_client_key_expiry(&id, &k.kid, None, NOW, None)
        .await
        .unwrap();
    assert_eq!(key.expires_at, None);
    let err = op
        .set_client_key_expiry(&id, "nope", None, NOW, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ManageError::NotFound(Target::ClientKey(_, ref k)) if k == "nope"),
        "{err:?}"
    );

    let version = op.client(&id).await.unwrap().version;
    let (client, removed) = op.remove_client_key(&id, &k.kid, None).await.unwrap();
    assert_eq!(removed.kid, k.kid);
    assert!(client.keys.is_empty());
    assert_eq!(client.version, version + 1);
    let err = op.remove_client_key(&id, &k.kid, None).await.unwrap_err();
    assert!(
        matches!(err, ManageError::NotFound(Target::ClientKey(..))),
        "{err:?}"
    );
}

#[tokio::test]
async fn key_change_at_stale_version_mismatch() {
    let op = operator();
    let id = secretless(&op).await;
    let version = op.client(&id).await.unwrap().version;
    op.store.touch_client(&id);
    let err = op
        .add_client_key(&id, jwk(0), None, NOW, Some(version))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ManageError::VersionMismatch { .. }),
        "{err:?}"
    );
    assert!(op.client(&id).await.unwrap().keys.is_empty());
}

// ------------------------------------------------------------------ jwks_uri

#[tokio::test]
async fn jwks_uri_and_keys_exclude_each_other() {
    let op = operator();
    let id = secretless(&op).await;
    let uri = "https://customer.example.com/.well-known/jwks.json";
    let client = op.set_jwks_uri(&id, Some(uri), None).await.unwrap();
    assert_eq!(client.jwks_uri.as_deref(), Some(uri));
    let err = op
        .add_client_key(&id, jwk(0), None, NOW, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ManageError::Refused(Refusal::JwksUriSet { ref jwks_uri, .. }) if jwks_uri == uri),
        "{err:?}"
    );
    let client = op.set_jwks_uri(&id, None, None).await.unwrap();
    assert_eq!(client.jwks_uri, None);
    op.add_client_key(&id, jwk(0), None, NOW, None)
        .await
        .unwrap();
    let err = op.set_jwks_uri(&id, Some(uri), None).await.unwrap_err();
    assert!(
        matches!(
            err,
            ManageError::Refused(Refusal::KeysRegistered { keys: 1, .. })
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn jwks_uri_not_https_invalid() {
    let op = operator();
    let id = secretless(&op).await;
    for bad in [
        "http://customer.example.com/jwks",
        "https://user@customer.example.com/jwks",
        "https://customer.example.com/jwks#a",
        "customer.example.com/jwks",
    ] {
        invalid(op.set_jwks_uri(&id, Some(bad), None).await.unwrap_err());
    }
    // The local stack's loopback address is fine over http.
    op.set_jwks_uri(&id, Some("http://127.0.0.1:9000/jwks.json"), None)
        .await
        .unwrap();
}

// --------------------------------------------------------------- trust rules

#[tokio::test]
async fn add_rule_bumps_version_and_lists() {
    let op = operator();
    let id = secretless(&op).await;
    let version = op.client(&id).await.unwrap().version;
    let added = op
        .add_trust_rule(&id, github_rule(), NOW, None)
        .await
        .unwrap();
    assert!(added.rule.id.starts_with("tr_"));
    assert_eq!(added.rule.created_at, NOW);
    assert_eq!(added.client_version, version + 1);
    assert_eq!(op.client(&id).await.unwrap().version, version + 1);
    let page = op.trust_rules(&id, None, 10).await.unwrap();
    assert_eq!(page.items, vec![added.rule.clone()]);
    assert_eq!(page.next, None);
    assert_eq!(
        op.trust_rule(&id, &added.rule.id).await.unwrap(),
        added.rule
    );
}

#[tokio::test]
async fn bad_rules_invalid_and_nothing_written() {
    let op = operator();
    let id = secretless(&op).await;
    let too_many: BTreeMap<String, Match> = (0..=MAX_CLAIM_CONDITIONS)
        .map(|i| (format!("c{i}"), Match::Exact("x".into())))
        .collect();
    let cases: Vec<(&str, NewTrustRule)> = vec![
        (
            "issuer",
            NewTrustRule {
                issuer: "http://issuer.example.com".into(),
                ..github_rule()
            },
        ),
        (
            "issuer",
            NewTrustRule {
                issuer: "https://issuer.example.com?x".into(),
                ..github_rule()
            },
        ),
        (
            "subject",
            NewTrustRule {
                subject: Match::Exact(String::new()),
                ..github_rule()
            },
        ),
        (
            "audience",
            NewTrustRule {
                audience: String::new(),
                ..github_rule()
            },
        ),
        (
            "claim conditions",
            NewTrustRule {
                claims: too_many,
                ..github_rule()
            },
        ),
        (
            "aud",
            NewTrustRule {
                claims: BTreeMap::from([("aud".to_owned(), Match::Exact("x".into()))]),
                ..github_rule()
            },
        ),
        (
            "claim names",
            NewTrustRule {
                claims: BTreeMap::from([(String::new(), Match::Exact("x".into()))]),
                ..github_rule()
            },
        ),
        (
            "description",
            NewTrustRule {
                description: "d".repeat(501),
                ..github_rule()
            },
        ),
    ];
    for (about, rule) in cases {
        let m = invalid(op.add_trust_rule(&id, rule, NOW, None).await.unwrap_err());
        assert!(m.contains(about), "{about}: {m}");
    }
    assert!(op.store.all_trust_rules().is_empty());
    // Glob subjects are fine, even one that accepts any subject (front ends warn).
    for glob in ["repo:acme/api:*", "*"] {
        let subject = Match::Glob(glob.into());
        assert_eq!(
            m2m_manage::trust::matches_any_subject(&subject),
            glob == "*"
        );
        op.add_trust_rule(
            &id,
            NewTrustRule {
                subject,
                ..github_rule()
            },
            NOW,
            None,
        )
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn rules_listed_page_by_page() {
    let op = operator();
    let id = secretless(&op).await;
    let other = secretless(&op).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let issuer = if i % 2 == 0 {
            GITHUB
        } else {
            "https://k8s.example.com"
        };
        let rule = NewTrustRule {
            issuer: issuer.into(),
            ..github_rule()
        };
        ids.push(
            op.add_trust_rule(&id, rule, NOW, None)
                .await
                .unwrap()
                .rule
                .id,
        );
    }
    op.add_trust_rule(&other, github_rule(), NOW, None)
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut after: Option<Cursor> = None;
    let mut pages = 0;
    loop {
        let page = op.trust_rules(&id, after.as_ref(), 2).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 2);
        seen.extend(page.items.into_iter().map(|r| r.id));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids);
    // A cursor of another client's listing is refused.
    let foreign = op.trust_rules(&other, None, 1).await.unwrap();
    assert!(foreign.next.is_none());
    let mine = op.trust_rules(&id, None, 1).await.unwrap().next.unwrap();
    invalid(op.trust_rules(&other, Some(&mine), 1).await.unwrap_err());
    invalid(op.trust_rules(&id, None, 0).await.unwrap_err());
    invalid(op.trust_rules(&id, None, 101).await.unwrap_err());
    let err = op
        .trust_rules(&ClientId::new("nope"), None, 10)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ManageError::NotFound(Target::Client(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn remove_rule_bumps_version() {
    let op = operator();
    let id = secretless(&op).await;
    let rule = op
        .add_trust_rule(&id, github_rule(), NOW, None)
        .await
        .unwrap()
        .rule;
    let version = op.client(&id).await.unwrap().version;
    let removed = op.remove_trust_rule(&id, &rule.id, None).await.unwrap();
    assert_eq!(removed.rule, rule);
    assert_eq!(removed.client_version, version + 1);
    assert_eq!(op.client(&id).await.unwrap().version, version + 1);
    assert!(op.store.all_trust_rules().is_empty());
    for err in [
        op.remove_trust_rule(&id, &rule.id, None).await.unwrap_err(),
        op.trust_rule(&id, &rule.id).await.unwrap_err(),
        op.trust_rule(&id, &"x".repeat(2000)).await.unwrap_err(),
    ] {
        assert!(
            matches!(err, ManageError::NotFound(Target::TrustRule(..))),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn rule_change_conflict_retried_or_mismatched() {
    let op = operator();
    let id = secretless(&op).await;
    op.store.inject_conflicts(2);
    op.add_trust_rule(&id, github_rule(), NOW, None)
        .await
        .unwrap();
    let version = op.client(&id).await.unwrap().version;
    op.store.touch_client(&id);
    let err = op
        .add_trust_rule(&id, github_rule(), NOW, Some(version))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ManageError::VersionMismatch { .. }),
        "{err:?}"
    );
    assert_eq!(op.store.all_trust_rules().len(), 1);
}

#[tokio::test]
async fn delete_client_deletes_every_rule_in_batches() {
    let op = operator();
    let id = secretless(&op).await;
    let keep = secretless(&op).await;
    for _ in 0..150 {
        op.add_trust_rule(&id, github_rule(), NOW, None)
            .await
            .unwrap();
    }
    op.add_trust_rule(&keep, github_rule(), NOW, None)
        .await
        .unwrap();
    let writes = op.store.writes();
    let deleted = op.delete_client(&id, None).await.unwrap();
    assert_eq!(deleted.trust_rules, 150);
    // Two rule batches (99 + 51), then the client.
    assert_eq!(op.store.writes(), writes + 3);
    let left = op.store.all_trust_rules();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].0, keep);
    assert!(matches!(
        op.client(&id).await,
        Err(ManageError::NotFound(_))
    ));
}

#[tokio::test]
async fn delete_client_with_rules_at_stale_version_deletes_nothing() {
    let op = operator();
    let id = secretless(&op).await;
    op.add_trust_rule(&id, github_rule(), NOW, None)
        .await
        .unwrap();
    let version = op.client(&id).await.unwrap().version;
    let err = op.delete_client(&id, Some(version - 1)).await.unwrap_err();
    assert!(
        matches!(err, ManageError::VersionMismatch { .. }),
        "{err:?}"
    );
    assert_eq!(op.store.all_trust_rules().len(), 1);
    // At the current version the rules go, then the client.
    let deleted = op.delete_client(&id, Some(version)).await.unwrap();
    assert_eq!(deleted.trust_rules, 1);
    assert!(op.store.all_trust_rules().is_empty());
}

#[tokio::test]
async fn delete_client_conflict_retried() {
    let op = operator();
    let id = secretless(&op).await;
    op.add_trust_rule(&id, github_rule(), NOW, None)
        .await
        .unwrap();
    op.store.inject_conflicts(1);
    let deleted = op.delete_client(&id, None).await.unwrap();
    assert_eq!(deleted.trust_rules, 1);
    assert!(op.store.all_trust_rules().is_empty());
    assert!(op.store.clients().iter().all(|c| c.id != id));
}
