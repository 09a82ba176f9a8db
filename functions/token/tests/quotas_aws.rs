//! Quotas through the token handler on the DynamoDB directory, against the local
//! emulator: N + 5 rapid requests under a limit of N per minute give exactly N tokens
//! and 5 answers of 429 with `Retry-After`; other clients are unaffected; concurrent
//! requests cannot overshoot; an organization's quota spans its clients; and what a
//! quota costs in AWS requests (counted), next to a client without one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use aws_sdk_kms::types::KeySpec;
use lambda_http::{Body, Response};
use m2m_aws::dynamo::item;
use m2m_aws::{DynamoDirectory, DynamoKeyRegistry, KmsSigner};
use m2m_core::model::Client;
use m2m_core::ports::{NoHook, NoKeySets};
use m2m_core::quota::Quota;
use m2m_core::testing::fixtures::{self, API, ISSUER, NOW};
use m2m_testkit::event::token_event;
use m2m_testkit::{LocalAws, RequestCounter};
use serde_json::Value;
use token::{handle, App};

type CountedApp = App<DynamoDirectory, KmsSigner<DynamoKeyRegistry>, NoHook, NoKeySets>;

/// The start of a UTC minute, so a run's requests all fall in one window.
const T: u64 = NOW - NOW % 60;

fn aws() -> &'static LocalAws {
    LocalAws::shared().expect("local AWS emulator")
}

fn counts(pairs: &[(&str, &str, usize)]) -> BTreeMap<(String, String), usize> {
    pairs
        .iter()
        .map(|(s, o, n)| (((*s).to_owned(), (*o).to_owned()), *n))
        .collect()
}

fn secret_of(id: &str) -> String {
    format!("m2m_sk_{id}-secret")
}

fn client(id: &str, org: Option<&str>, quota: Option<Quota>, org_quota: Option<Quota>) -> Client {
    let mut c = match org {
        Some(o) => fixtures::client_in_org(id, &secret_of(id), o),
        None => fixtures::client(id, &secret_of(id)),
    };
    c.quota = quota;
    c.org_quota = org_quota;
    c
}

/// A seeded table with `clients` (each granted on the fixture API) and a warmed,
/// counted app on it.
async fn app_with(clients: &[Client]) -> (CountedApp, RequestCounter) {
    let table = aws().seeded_table("quota").await.unwrap();
    let sdk = aws().sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    for c in clients {
        for it in [
            item::client_to_item(c),
            item::grant_to_item(&fixtures::grant(c.id.as_str(), API, &["read:orders"])),
        ] {
            dynamo
                .put_item()
                .table_name(&table)
                .set_item(Some(it))
                .send()
                .await
                .unwrap();
        }
    }
    let key_id = aws().create_kms_key(KeySpec::Rsa2048).await.unwrap();
    let counter = RequestCounter::new();
    let app = App {
        config: m2m_testkit::issuer_config(ISSUER),
        directory: DynamoDirectory::new(counter.dynamo(&sdk), &table),
        signer: KmsSigner::new(
            counter.kms(&sdk),
            DynamoKeyRegistry::new(counter.dynamo(&sdk), &table),
            &key_id,
        ),
        hook: None,
        key_sets: NoKeySets,
        usage: Default::default(),
    };
    // Warm: key resolution and the first usage flush, by the fixture client.
    let warm = handle(
        &app,
        &request(fixtures::CLIENT_ID, fixtures::CLIENT_SECRET),
        T - 120,
    )
    .await;
    assert_eq!(warm.status(), 200);
    counter.clear();
    (app, counter)
}

fn request(id: &str, secret: &str) -> lambda_http::Request {
    token_event(
        "POST",
        &[],
        &format!(
            "grant_type=client_credentials&client_id={id}&client_secret={secret}&audience=https%3A%2F%2Fapi.example.com"
        ),
        false,
    )
}

async fn ask(app: &CountedApp, id: &str, now: u64) -> Response<Body> {
    handle(app, &request(id, &secret_of(id)), now).await
}

fn body(r: &Response<Body>) -> Value {
    serde_json::from_slice(r.body().as_ref()).unwrap()
}

fn per_minute(n: u64) -> Option<Quota> {
    Some(Quota {
        per_minute: Some(n),
        per_day: None,
    })
}

#[tokio::test]
async fn n_plus_five_requests_give_n_tokens_and_five_429s() {
    const N: u64 = 5;
    let limited = client("limited", None, per_minute(N), None);
    let free = client("free", None, None, None);
    let (app, counter) = app_with(&[limited, free]).await;
    let mut ok = 0;
    let mut refused = Vec::new();
    for i in 0..N + 5 {
        let r = ask(&app, "limited", T + 10 + i).await;
        match r.status().as_u16() {
            200 => ok += 1,
            429 => refused.push(r),
            other => panic!("unexpected {other}: {:?}", body(&r)),
        }
    }
    assert_eq!(ok, N);
    assert_eq!(refused.len(), 5);
    for r in &refused {
        let retry: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        let b = body(r);
        assert_eq!(b["error"], "too_many_requests");
        assert!(b["error_description"].is_string());
        assert!(b.get("access_token").is_none());
        assert_eq!(r.headers()["cache-control"], "no-store");
    }
    // Another client is unaffected, and pays no quota call.
    counter.clear();
    for i in 0..3 {
        assert_eq!(ask(&app, "free", T + 30 + i).await.status(), 200);
    }
    let calls = counter.snapshot();
    assert_eq!(
        calls.get(&("DynamoDB".to_owned(), "UpdateItem".to_owned())),
        Some(&1),
        "only its secret's first-use record: {calls:?}"
    );
    // The next minute admits N again.
    assert_eq!(ask(&app, "limited", T + 60).await.status(), 200);
}

#[tokio::test]
async fn concurrent_requests_cannot_overshoot() {
    const N: usize = 4;
    let limited = client("racer", None, per_minute(N as u64), None);
    let (app, _) = app_with(&[limited]).await;
    let requests: Vec<_> = (0..12).map(|_| ask(&app, "racer", T + 5)).collect();
    let statuses: Vec<u16> = futures_util::future::join_all(requests)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        N,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        12 - N,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn an_organizations_quota_spans_its_clients() {
    let org = Some(Quota {
        per_minute: None,
        per_day: Some(3),
    });
    let a = client("org-a", Some("acme"), None, org);
    let b = client("org-b", Some("acme"), per_minute(10), org);
    let (app, _) = app_with(&[a, b]).await;
    let mut statuses = Vec::new();
    for (i, id) in ["org-a", "org-b", "org-a", "org-b", "org-a"]
        .iter()
        .enumerate()
    {
        statuses.push(ask(&app, id, T + 1 + i as u64).await.status().as_u16());
    }
    assert_eq!(statuses, vec![200, 200, 200, 429, 429]);
    let r = ask(&app, "org-b", T + 20).await;
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 60, "the day window is the full one: {retry}");
}

#[tokio::test]
async fn a_quota_costs_one_conditional_update_per_request() {
    let limited = client("counted", None, per_minute(100), None);
    let (app, counter) = app_with(&[limited]).await;
    assert_eq!(ask(&app, "counted", T + 1).await.status(), 200);
    counter.clear();
    // A reuse hit: the read and the quota's update, nothing else.
    assert_eq!(ask(&app, "counted", T + 2).await.status(), 200);
    let hit = counter.snapshot();
    eprintln!("warm reuse hit with a quota, AWS requests: {hit:?}");
    assert_eq!(
        hit,
        counts(&[
            ("DynamoDB", "BatchGetItem", 1),
            ("DynamoDB", "UpdateItem", 1)
        ])
    );
}
