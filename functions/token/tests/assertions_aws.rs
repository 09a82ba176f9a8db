//! Client assertions through the token handler on the AWS adapters, against the local
//! emulator: what a `private_key_jwt` and a federated issuance cost in AWS requests
//! (counted), the `jti` record's conditional write and TTL, and replays refused by
//! the table. Signatures of issued tokens are verified with `jsonwebtoken`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kms::types::KeySpec;
use lambda_http::{Body, Response};
use m2m_aws::dynamo::item;
use m2m_aws::{public_jwk, DynamoDirectory, DynamoKeyRegistry, KmsSigner};
use m2m_core::auth::AssertionPolicy;
use m2m_core::model::Match;
use m2m_core::ports::NoHook;
use m2m_core::testing::assertions::{
    assertion_form, jwk_set, self_claims, trust_rule, FakeKeySets, EC, EXTERNAL_ISSUER, RSA,
};
use m2m_core::testing::fixtures::{self, API, CLIENT_ID, CLIENT_SECRET, ISSUER, NOW};
use m2m_core::types::ClientId;
use m2m_testkit::event::token_event;
use m2m_testkit::jwt::{self, Expect};
use m2m_testkit::{LocalAws, RequestCounter};
use serde_json::{json, Value};
use token::{handle, App};

type CountedApp = App<DynamoDirectory, KmsSigner<DynamoKeyRegistry>, NoHook, FakeKeySets>;

const AUD: &str = "&audience=https%3A%2F%2Fapi.example.com";
const K8S_SUB: &str = "system:serviceaccount:payments:api";

fn aws() -> &'static LocalAws {
    LocalAws::shared().expect("local AWS emulator")
}

fn body(r: &Response<Body>) -> Value {
    serde_json::from_slice(r.body().as_ref()).unwrap()
}

fn counts(pairs: &[(&str, &str, usize)]) -> BTreeMap<(String, String), usize> {
    pairs
        .iter()
        .map(|(s, o, n)| (((*s).to_owned(), (*o).to_owned()), *n))
        .collect()
}

/// A seeded table whose fixture client also holds the EC test key and a trust rule
/// for the Kubernetes-shaped issuer; an app with every AWS request counted, warmed by
/// one secret request (key resolution done).
async fn warm_app() -> (
    CountedApp,
    RequestCounter,
    String,
    aws_sdk_dynamodb::Client,
    m2m_core::jwk::Jwk,
) {
    let table = aws().seeded_table("assert").await.unwrap();
    let sdk = aws().sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let mut client = fixtures::client(CLIENT_ID, CLIENT_SECRET);
    client.keys = vec![EC.client_key(None)];
    for it in [
        item::client_to_item(&client),
        item::trust_rule_to_item(
            &ClientId::new(CLIENT_ID),
            &trust_rule("tr_k8s", Match::Exact(K8S_SUB.into()), "m2m-auth"),
        ),
    ] {
        dynamo
            .put_item()
            .table_name(&table)
            .set_item(Some(it))
            .send()
            .await
            .unwrap();
    }
    let key_id = aws().create_kms_key(KeySpec::Rsa2048).await.unwrap();
    let kms = aws_sdk_kms::Client::new(&sdk);
    let public = public_jwk(&kms, &key_id).await.unwrap();
    let counter = RequestCounter::new();
    let app = App {
        config: m2m_core::IssuerConfig {
            assertions: AssertionPolicy {
                trusted_issuers: vec![EXTERNAL_ISSUER.to_owned()],
                ..AssertionPolicy::default()
            },
            ..m2m_testkit::issuer_config(ISSUER)
        },
        directory: DynamoDirectory::new(counter.dynamo(&sdk), &table),
        signer: KmsSigner::new(
            counter.kms(&sdk),
            DynamoKeyRegistry::new(counter.dynamo(&sdk), &table),
            &key_id,
        ),
        hook: None,
        key_sets: FakeKeySets::new().with_issuer(EXTERNAL_ISSUER, jwk_set(&[RSA])),
        usage: Default::default(),
    };
    let warm_up = token_event(
        "POST",
        &[],
        &format!("grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}{AUD}"),
        false,
    );
    assert_eq!(handle(&app, &warm_up, NOW).await.status(), 200);
    counter.clear();
    (app, counter, table, dynamo, public.jwk)
}

fn own(jti: &str) -> String {
    assertion_form(
        &EC.sign(
            &self_claims(CLIENT_ID, "https://auth.example.com/oauth/token", NOW, jti),
            None,
            None,
        ),
        AUD,
    )
}

fn verify(token: &str, jwk: &m2m_core::jwk::Jwk) -> Value {
    let expect = Expect::new(jsonwebtoken::Algorithm::RS256)
        .audience(API)
        .issuer(ISSUER)
        .any_expiry();
    jwt::verify(token, jwk, &expect).unwrap().claims
}

#[tokio::test]
async fn private_key_jwt_costs_one_read_one_conditional_put_one_sign() {
    let (app, counter, table, dynamo, jwk) = warm_app().await;
    let request = token_event("POST", &[], &own("aws-1"), false);
    let r = handle(&app, &request, NOW + 1).await;
    assert_eq!(r.status(), 200, "{:?}", body(&r));
    assert_eq!(
        verify(body(&r)["access_token"].as_str().unwrap(), &jwk)["client_id"],
        CLIENT_ID
    );
    let warm = counter.snapshot();
    eprintln!("warm private_key_jwt issuance, AWS requests: {warm:?}");
    assert_eq!(
        warm,
        counts(&[
            ("DynamoDB", "BatchGetItem", 1),
            ("DynamoDB", "PutItem", 1),
            ("KMS", "Sign", 1),
        ])
    );

    // The jti record: kept by the table's TTL until the assertion expires (+ skew).
    let record = dynamo
        .get_item()
        .table_name(&table)
        .set_key(Some(item::jti::jti_key(&ClientId::new(CLIENT_ID), "aws-1")))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("the jti is recorded");
    assert_eq!(
        record.get("ttl"),
        Some(&AttributeValue::N((NOW + 120 + 60).to_string()))
    );
    let stored: Vec<String> = record
        .values()
        .filter_map(|v| v.as_s().ok().cloned())
        .collect();
    assert!(
        !stored.iter().any(|s| s.contains("aws-1")),
        "the jti is stored hashed: {stored:?}"
    );

    // The replay: refused by the conditional write, nothing signed.
    counter.clear();
    let r = handle(&app, &request, NOW + 2).await;
    assert_eq!(r.status(), 401);
    assert_eq!(body(&r)["error"], "invalid_client");
    assert_eq!(counter.count("KMS"), 0);
}

#[tokio::test]
async fn concurrent_replays_issue_exactly_once() {
    let (app, _counter, _, _, _) = warm_app().await;
    let request = token_event("POST", &[], &own("aws-race"), false);
    let outcomes = futures_join(&app, &request, 6).await;
    let ok = outcomes.iter().filter(|s| **s == 200).count();
    assert_eq!(ok, 1, "{outcomes:?}");
    assert!(
        outcomes.iter().all(|s| *s == 200 || *s == 401),
        "{outcomes:?}"
    );
}

async fn futures_join(app: &CountedApp, request: &lambda_http::Request, n: usize) -> Vec<u16> {
    let mut set = Vec::new();
    for _ in 0..n {
        set.push(handle(app, request, NOW + 1));
    }
    let mut out = Vec::new();
    for r in futures_util::future::join_all(set).await {
        out.push(r.status().as_u16());
    }
    out
}

#[tokio::test]
async fn federated_costs_one_read_one_rule_query_then_reuses() {
    let (app, counter, _, _, jwk) = warm_app().await;
    let token = RSA.sign(
        &json!({"iss": EXTERNAL_ISSUER, "sub": K8S_SUB, "aud": ["m2m-auth"],
                "iat": NOW, "exp": NOW + 3600}),
        None,
        None,
    );
    let request = token_event(
        "POST",
        &[],
        &assertion_form(&token, &format!("&client_id={CLIENT_ID}{AUD}")),
        false,
    );
    let r = handle(&app, &request, NOW + 1).await;
    assert_eq!(r.status(), 200, "{:?}", body(&r));
    let first = body(&r);
    verify(first["access_token"].as_str().unwrap(), &jwk);
    let signed = counter.snapshot();
    eprintln!("warm federated issuance, AWS requests: {signed:?}");
    assert_eq!(
        signed,
        counts(&[
            ("DynamoDB", "BatchGetItem", 1),
            ("DynamoDB", "Query", 1),
            ("DynamoDB", "PutItem", 1),
            ("KMS", "Sign", 1),
        ])
    );
    counter.clear();
    let again = body(&handle(&app, &request, NOW + 2).await);
    assert_eq!(again["access_token"], first["access_token"], "a reuse hit");
    let hit = counter.snapshot();
    eprintln!("federated reuse hit, AWS requests: {hit:?}");
    assert_eq!(
        hit,
        counts(&[("DynamoDB", "BatchGetItem", 1), ("DynamoDB", "Query", 1)])
    );
}
