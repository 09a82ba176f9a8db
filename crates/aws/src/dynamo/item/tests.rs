//! Round trips and strict decoding of every item kind.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use m2m_core::jwk::Jwk;
use m2m_core::model::{
    Alg, Api, Client, ClientKey, ClientStatus, Grant, KeyStatus, Match, Profile, Reuse, SigningKey,
    StoredSecret, TrustRule,
};
use m2m_core::types::{Audience, ClientId, Kid, OrgId, ScopeSet, SecretId};

use super::attr::{n, s};
use super::*;

fn api() -> Api {
    Api {
        identifier: Audience::new("https://api.example.com/v1"),
        name: "Orders".into(),
        scopes: ScopeSet::parse("orders:read orders:write").unwrap(),
        token_lifetime: 900,
        profile: Profile::Auth0,
        reuse: Reuse::default(),
    }
}

fn client() -> Client {
    Client {
        id: ClientId::new("c-123"),
        name: "Acme backend".into(),
        org_id: Some(OrgId::new("org_acme")),
        status: ClientStatus::Active,
        metadata: BTreeMap::from([("tier".to_owned(), "gold".to_owned())]),
        secrets: vec![
            StoredSecret {
                id: SecretId::new("s1"),
                hash: [7; 32],
                created_at: 1_700_000_000,
                expires_at: Some(1_800_000_000),
                last_used_at: Some(1_700_000_500),
            },
            StoredSecret {
                id: SecretId::new("s2"),
                hash: [0; 32],
                created_at: 1_700_000_100,
                expires_at: None,
                last_used_at: None,
            },
        ],
        keys: Vec::new(),
        jwks_uri: None,
        quota: None,
        org_quota: None,
        not_before: None,
        revocation_epoch: 0,
        introspect: false,
        version: 4,
    }
}

fn grant() -> Grant {
    Grant {
        client_id: ClientId::new("c-123"),
        audience: Audience::new("https://api.example.com/v1"),
        scopes: ScopeSet::parse("orders:read").unwrap(),
    }
}

fn signing_key() -> SigningKey {
    SigningKey {
        kid: Kid::new("abc"),
        kms_key_id: "arn:aws:kms:us-east-1:123456789012:key/1".into(),
        alg: Alg::ES256,
        status: KeyStatus::Active,
        public_jwk: Jwk {
            kty: "EC".into(),
            kid: Some(Kid::new("abc")),
            use_: Some("sig".into()),
            alg: Some("ES256".into()),
            n: None,
            e: None,
            crv: Some("P-256".into()),
            x: Some("eA".into()),
            y: Some("eQ".into()),
        },
        created_at: 1,
        activated_at: Some(2),
        retired_at: None,
    }
}

#[test]
fn api_round_trip_equal() {
    assert_eq!(api_from_item(&api_to_item(&api())).unwrap(), api());
}

#[test]
fn api_reuse_settings_round_trip_equal() {
    for reuse in [
        Reuse::Off,
        Reuse::On {
            min_remaining_pct: 90,
            with_hook: true,
        },
    ] {
        let a = Api { reuse, ..api() };
        assert_eq!(api_from_item(&api_to_item(&a)).unwrap(), a);
    }
}

#[test]
fn api_without_reuse_attributes_default_on() {
    let mut item = api_to_item(&api());
    for k in [REUSE, REUSE_PCT, REUSE_WITH_HOOK] {
        item.remove(k);
    }
    assert_eq!(api_from_item(&item).unwrap().reuse, Reuse::default());
}

#[test]
fn api_bad_reuse_rejected() {
    let mut item = api_to_item(&api());
    item.insert(REUSE_PCT.into(), n(100));
    assert_eq!(api_from_item(&item).unwrap_err().attribute, REUSE_PCT);
    let mut item = api_to_item(&api());
    item.insert(REUSE.into(), s("sometimes"));
    assert_eq!(api_from_item(&item).unwrap_err().attribute, REUSE);
    let mut item = api_to_item(&api());
    item.insert(REUSE_WITH_HOOK.into(), s("yes"));
    assert_eq!(api_from_item(&item).unwrap_err().attribute, REUSE_WITH_HOOK);
}

#[test]
fn api_empty_scopes_round_trip_equal() {
    let mut a = api();
    a.scopes = ScopeSet::new();
    assert_eq!(api_from_item(&api_to_item(&a)).unwrap(), a);
}

#[test]
fn client_round_trip_equal() {
    let item = client_to_item(&client());
    assert!(matches!(item.get(LAST_USED), Some(AttributeValue::M(m)) if m.len() == 1));
    assert_eq!(client_from_item(&item).unwrap(), client());
}

#[test]
fn client_without_org_round_trip_equal() {
    let mut c = client();
    c.org_id = None;
    c.metadata.clear();
    c.secrets.clear();
    c.status = ClientStatus::Disabled;
    assert_eq!(client_from_item(&client_to_item(&c)).unwrap(), c);
}

#[test]
fn client_org_keys_by_org_index_only_when_set() {
    // The `ByOrg` index's hash key: present for a client of an organization, absent
    // (never NULL or empty, which the index refuses) otherwise, and never on grants.
    let item = client_to_item(&client());
    assert_eq!(item.get(ORG_ID), Some(&s("org_acme")));
    for org in [None, Some(OrgId::new(""))] {
        let mut c = client();
        c.org_id = org;
        let item = client_to_item(&c);
        assert!(!item.contains_key(ORG_ID), "{item:?}");
        assert_eq!(client_from_item(&item).unwrap().org_id, None);
    }
    assert!(!grant_to_item(&grant()).contains_key(ORG_ID));
}

#[test]
fn client_last_used_map_merged() {
    let mut item = client_to_item(&client());
    item.insert(
        LAST_USED.to_owned(),
        AttributeValue::M(HashMap::from([
            ("s1".to_owned(), n(1_700_009_999)),
            ("s2".to_owned(), n(1_700_000_200)),
            ("gone".to_owned(), n(5)),
        ])),
    );
    let c = client_from_item(&item).unwrap();
    assert_eq!(c.secrets[0].last_used_at, Some(1_700_009_999));
    assert_eq!(c.secrets[1].last_used_at, Some(1_700_000_200));
}

#[test]
fn client_without_last_used_map_decoded() {
    let mut item = client_to_item(&client());
    item.remove(LAST_USED);
    assert_eq!(client_from_item(&item).unwrap(), client());
}

#[test]
fn grant_round_trip_equal() {
    assert_eq!(grant_from_item(&grant_to_item(&grant())).unwrap(), grant());
}

#[test]
fn signing_key_round_trip_equal() {
    let item = signing_key_to_item(&signing_key()).unwrap();
    assert_eq!(signing_key_from_item(&item).unwrap(), signing_key());
}

#[test]
fn signing_key_jwk_map_decoded() {
    let mut item = signing_key_to_item(&signing_key()).unwrap();
    item.insert(
        "public_jwk".to_owned(),
        AttributeValue::M(HashMap::from([
            ("kty".to_owned(), s("EC")),
            ("kid".to_owned(), s("abc")),
            ("use".to_owned(), s("sig")),
            ("alg".to_owned(), s("ES256")),
            ("crv".to_owned(), s("P-256")),
            ("x".to_owned(), s("eA")),
            ("y".to_owned(), s("eQ")),
        ])),
    );
    assert_eq!(signing_key_from_item(&item).unwrap(), signing_key());
}

fn client_err(mutate: impl FnOnce(&mut Item)) -> ItemError {
    let mut item = client_to_item(&client());
    mutate(&mut item);
    client_from_item(&item).unwrap_err()
}

#[test]
fn client_missing_name_rejected() {
    let e = client_err(|i| {
        i.remove("name");
    });
    assert_eq!(e.attribute, "name");
    assert_eq!(e.problem, "is missing");
}

#[test]
fn client_short_hash_rejected() {
    let e = client_err(|i| {
        let AttributeValue::L(l) = i.get_mut("secrets").unwrap() else {
            unreachable!()
        };
        let AttributeValue::M(m) = &mut l[1] else {
            unreachable!()
        };
        m.insert("hash".into(), AttributeValue::B(Blob::new(vec![1, 2, 3])));
    });
    assert_eq!(e.attribute, "secrets[1].hash");
}

#[test]
fn client_string_hash_rejected() {
    let e = client_err(|i| {
        let AttributeValue::L(l) = i.get_mut("secrets").unwrap() else {
            unreachable!()
        };
        let AttributeValue::M(m) = &mut l[0] else {
            unreachable!()
        };
        m.insert("hash".into(), s("deadbeef"));
    });
    assert_eq!(e.attribute, "secrets[0].hash");
    assert_eq!(e.problem, "is not binary");
}

#[test]
fn client_bad_status_rejected() {
    let e = client_err(|i| {
        i.insert("status".into(), s("Active"));
    });
    assert_eq!(e.attribute, "status");
}

#[test]
fn client_negative_version_rejected() {
    for bad in ["-1", "1.5", "1e3", "", "99999999999999999999999"] {
        let e = client_err(|i| {
            i.insert("version".into(), AttributeValue::N(bad.into()));
        });
        assert_eq!(e.attribute, "version", "{bad}");
    }
}

#[test]
fn client_secrets_not_list_rejected() {
    let e = client_err(|i| {
        i.insert("secrets".into(), AttributeValue::Ss(vec!["x".into()]));
    });
    assert_eq!(e.attribute, "secrets");
}

#[test]
fn client_metadata_number_rejected() {
    let e = client_err(|i| {
        i.insert(
            "metadata".into(),
            AttributeValue::M(HashMap::from([("k".to_owned(), n(1))])),
        );
    });
    assert_eq!(e.attribute, "metadata");
}

#[test]
fn client_wrong_kind_rejected() {
    let e = client_err(|i| {
        i.insert(KIND.into(), s(KIND_KEY));
    });
    assert_eq!(e.attribute, KIND);
}

#[test]
fn client_bad_pk_rejected() {
    let e = client_err(|i| {
        i.insert(PK.into(), s("CLIENT#"));
    });
    assert_eq!(e.attribute, PK);
}

#[test]
fn item_error_never_contains_hash() {
    let e = client_err(|i| {
        let AttributeValue::L(l) = i.get_mut("secrets").unwrap() else {
            unreachable!()
        };
        let AttributeValue::M(m) = &mut l[0] else {
            unreachable!()
        };
        m.insert("hash".into(), AttributeValue::B(Blob::new(vec![0xAB; 31])));
    });
    assert_eq!(
        e.to_string(),
        "malformed client item: attribute `secrets[0].hash` is not 32 bytes"
    );
}

#[test]
fn api_bad_profile_rejected() {
    let mut item = api_to_item(&api());
    item.insert("profile".into(), s("oidc"));
    assert_eq!(api_from_item(&item).unwrap_err().attribute, "profile");
}

#[test]
fn api_invalid_scope_rejected() {
    let mut item = api_to_item(&api());
    item.insert("scopes".into(), AttributeValue::L(vec![s("a b")]));
    assert_eq!(api_from_item(&item).unwrap_err().attribute, "scopes");
    item.insert("scopes".into(), AttributeValue::L(vec![n(1)]));
    assert_eq!(api_from_item(&item).unwrap_err().attribute, "scopes");
}

#[test]
fn api_string_lifetime_rejected() {
    let mut item = api_to_item(&api());
    item.insert("token_lifetime".into(), s("900"));
    assert_eq!(
        api_from_item(&item).unwrap_err().attribute,
        "token_lifetime"
    );
}

#[test]
fn grant_missing_scopes_rejected() {
    let mut item = grant_to_item(&grant());
    item.remove("scopes");
    assert_eq!(grant_from_item(&item).unwrap_err().attribute, "scopes");
}

#[test]
fn grant_bad_sk_rejected() {
    let mut item = grant_to_item(&grant());
    item.insert(SK.into(), s("CLIENT"));
    assert_eq!(grant_from_item(&item).unwrap_err().attribute, SK);
}

#[test]
fn signing_key_bad_alg_rejected() {
    let mut item = signing_key_to_item(&signing_key()).unwrap();
    item.insert("alg".into(), s("PS256"));
    assert_eq!(signing_key_from_item(&item).unwrap_err().attribute, "alg");
}

#[test]
fn signing_key_bad_jwk_rejected() {
    let mut item = signing_key_to_item(&signing_key()).unwrap();
    item.insert("public_jwk".into(), s("{not json"));
    assert_eq!(
        signing_key_from_item(&item).unwrap_err().attribute,
        "public_jwk"
    );
    item.insert("public_jwk".into(), n(3));
    assert_eq!(
        signing_key_from_item(&item).unwrap_err().attribute,
        "public_jwk"
    );
}

#[test]
fn signing_key_mismatched_kid_rejected() {
    let mut k = signing_key();
    k.public_jwk.kid = Some(Kid::new("other"));
    let item = signing_key_to_item(&k).unwrap();
    assert_eq!(
        signing_key_from_item(&item).unwrap_err().attribute,
        "public_jwk"
    );
}

#[test]
fn signing_key_revoked_round_trip_equal() {
    let mut k = signing_key();
    k.status = KeyStatus::Revoked;
    let item = signing_key_to_item(&k).unwrap();
    assert_eq!(item.get("status"), Some(&s("revoked")));
    assert_eq!(signing_key_from_item(&item).unwrap(), k);
}

#[test]
fn signing_key_bad_status_rejected() {
    let mut item = signing_key_to_item(&signing_key()).unwrap();
    item.insert("status".into(), s("enabled"));
    assert_eq!(
        signing_key_from_item(&item).unwrap_err().attribute,
        "status"
    );
}

#[test]
fn null_attribute_is_absent() {
    let mut item = client_to_item(&client());
    item.insert("org_id".into(), AttributeValue::Null(true));
    assert_eq!(client_from_item(&item).unwrap().org_id, None);
}

fn client_key_entry(kid: &str, expires_at: Option<u64>) -> ClientKey {
    ClientKey {
        kid: kid.into(),
        jwk: format!(
            r#"{{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"{kid}"}}"#
        ),
        added_at: 1_700_000_000,
        expires_at,
    }
}

#[test]
fn client_keys_and_jwks_uri_round_trip_equal() {
    let mut c = client();
    c.keys = vec![
        client_key_entry("k1", None),
        client_key_entry("k2", Some(1_800_000_000)),
    ];
    let item = client_to_item(&c);
    assert!(matches!(item.get(KEYS), Some(AttributeValue::L(l)) if l.len() == 2));
    assert!(!item.contains_key(JWKS_URI));
    assert_eq!(client_from_item(&item).unwrap(), c);

    let mut c = client();
    c.jwks_uri = Some("https://customer.example.com/jwks.json".into());
    let item = client_to_item(&c);
    assert_eq!(
        item.get(JWKS_URI),
        Some(&s("https://customer.example.com/jwks.json"))
    );
    assert_eq!(client_from_item(&item).unwrap(), c);
}

#[test]
fn client_without_keys_attributes_decoded_empty() {
    let mut item = client_to_item(&client());
    item.remove(KEYS);
    item.remove(JWKS_URI);
    let c = client_from_item(&item).unwrap();
    assert!(c.keys.is_empty());
    assert_eq!(c.jwks_uri, None);
}

#[test]
fn client_malformed_keys_rejected() {
    let e = client_err(|i| {
        i.insert(KEYS.into(), s("k1"));
    });
    assert_eq!(e.attribute, KEYS);
    let e = client_err(|i| {
        i.insert(KEYS.into(), AttributeValue::L(vec![s("k1")]));
    });
    assert_eq!(
        (e.attribute.as_str(), e.problem),
        (KEYS, "holds a non-map entry")
    );
    let e = client_err(|i| {
        i.insert(
            KEYS.into(),
            AttributeValue::L(vec![AttributeValue::M(HashMap::from([
                ("kid".to_owned(), s("k1")),
                ("added_at".to_owned(), n(1)),
            ]))]),
        );
    });
    assert_eq!(e.attribute, "keys[0].jwk");
    let e = client_err(|i| {
        i.insert(JWKS_URI.into(), n(1));
    });
    assert_eq!(e.attribute, JWKS_URI);
}

fn rule() -> TrustRule {
    TrustRule {
        id: "tr_abc".into(),
        issuer: "https://token.actions.githubusercontent.com".into(),
        subject: Match::Glob("repo:acme/api:ref:refs/heads/*".into()),
        audience: "https://auth.example.com".into(),
        claims: BTreeMap::from([
            ("repository".to_owned(), Match::Exact("acme/api".into())),
            ("ref".to_owned(), Match::Glob("refs/heads/*".into())),
        ]),
        description: "deploys from main".into(),
        created_at: 1_700_000_000,
    }
}

#[test]
fn trust_rule_round_trip_equal() {
    let id = ClientId::new("c-123");
    let item = trust_rule_to_item(&id, &rule());
    assert_eq!(item.get(PK), Some(&s("CLIENT#c-123")));
    assert_eq!(item.get(KIND), Some(&s(KIND_TRUST_RULE)));
    assert_eq!(
        item.get("subject"),
        Some(&AttributeValue::M(HashMap::from([(
            "glob".to_owned(),
            s("repo:acme/api:ref:refs/heads/*")
        )])))
    );
    assert_eq!(trust_rule_from_item(&item).unwrap(), (id, rule()));
    let mut bare = rule();
    bare.claims.clear();
    bare.description.clear();
    bare.subject = Match::Exact("system:serviceaccount:jobs:runner".into());
    let item = trust_rule_to_item(&ClientId::new("c"), &bare);
    assert_eq!(trust_rule_from_item(&item).unwrap().1, bare);
}

#[test]
fn trust_rule_sort_key_fixed_length_per_issuer() {
    let id = ClientId::new("c");
    let sk = |issuer: &str, rule_id: &str| {
        let mut r = rule();
        r.issuer = issuer.into();
        r.id = rule_id.into();
        trust_rule_to_item(&id, &r)[SK].as_s().unwrap().clone()
    };
    let long = format!("https://{}.example.com", "a".repeat(5000));
    let a = sk("https://a.example.com", "tr_1");
    let b = sk(&long, "tr_1");
    assert_eq!(a.len(), b.len());
    assert!(b.len() < 100, "{b}");
    assert!(a.starts_with(&trust::issuer_prefix("https://a.example.com")));
    assert!(sk("https://a.example.com", "tr_2")
        .starts_with(&trust::issuer_prefix("https://a.example.com")));
    assert!(!b.starts_with(&trust::issuer_prefix("https://a.example.com")));
    // One issuer's prefix is never a prefix of another's.
    assert!(!trust::issuer_prefix("https://a.example.com")
        .starts_with(&trust::issuer_prefix("https://a.example.co")));
}

#[test]
fn trust_rule_malformed_rejected() {
    let id = ClientId::new("c");
    let err = |mutate: &dyn Fn(&mut Item)| {
        let mut item = trust_rule_to_item(&id, &rule());
        mutate(&mut item);
        trust_rule_from_item(&item).unwrap_err()
    };
    // Another issuer than the sort key's digest.
    let e = err(&|i| {
        i.insert("issuer".into(), s("https://evil.example.com"));
    });
    assert_eq!(e.attribute, SK);
    let e = err(&|i| {
        i.insert(
            "subject".into(),
            AttributeValue::M(HashMap::from([
                ("exact".to_owned(), s("a")),
                ("glob".to_owned(), s("b")),
            ])),
        );
    });
    assert_eq!(e.attribute, "subject");
    let e = err(&|i| {
        i.insert("subject".into(), s("a"));
    });
    assert_eq!(e.attribute, "subject");
    let e = err(&|i| {
        i.insert(
            "claims".into(),
            AttributeValue::M(HashMap::from([("ref".to_owned(), s("x"))])),
        );
    });
    assert_eq!(e.attribute, "claims");
    let e = err(&|i| {
        i.remove("audience");
    });
    assert_eq!(e.attribute, "audience");
    let e = err(&|i| {
        i.insert(KIND.into(), s(KIND_CLIENT));
    });
    assert_eq!(e.attribute, KIND);
}

#[test]
fn jti_record_keyed_by_digest_with_ttl() {
    let a = jti::jti_to_item(&ClientId::new("c1"), "j-1", 1_700_000_300);
    assert_eq!(a.get(SK), Some(&s(jti::JTI_SK)));
    assert_eq!(a.get("ttl"), Some(&n(1_700_000_300)));
    assert!(!a.contains_key(KIND) && !a.contains_key(ORG_ID));
    let pk = a[PK].as_s().unwrap();
    assert!(pk.starts_with(jti::JTI_PREFIX));
    assert_eq!(pk.len(), jti::JTI_PREFIX.len() + 43);
    // Fixed length whatever the jti; another client's same jti is another record.
    let long = jti::jti_key(&ClientId::new("c1"), &"x".repeat(10_000));
    assert_eq!(long[PK].as_s().unwrap().len(), pk.len());
    assert_ne!(jti::jti_key(&ClientId::new("c2"), "j-1")[PK], a[PK]);
    assert_eq!(jti::jti_key(&ClientId::new("c1"), "j-1")[PK], a[PK]);
}
