//! End to end: control after issuance on the local stack — introspection (RFC 7662),
//! a client's own revocation (RFC 7009), the operator's levers (every token of a
//! client before an instant, one token by `jti`), the revocation-aware authorizer
//! invoked as API Gateway would invoke it, and quotas — over HTTP against the
//! functions under `cargo lambda watch`.
//!
//! One test owns the stack so it is always stopped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use m2m_core::quota::Quota;
use m2m_core::revocation::{Revocation, Revocations as _};
use m2m_core::testing::fixtures;
use m2m_core::types::ClientId;
use m2m_testkit::stack::{Stack, API, AUTHORIZER_REVOCATION_CACHE};
use serde_json::Value;

const RS: &str = "e2e-resource-server";
const RS_SECRET: &str = "m2m_sk_e2e-resource-server-secret";
const OTHER: &str = "e2e-other";
const OTHER_SECRET: &str = "m2m_sk_e2e-other-secret";
const LIMITED: &str = "e2e-limited";
const LIMITED_SECRET: &str = "m2m_sk_e2e-limited-secret";
const QUOTA: u64 = 4;

async fn seed(stack: &Stack) {
    let mut rs = fixtures::client(RS, RS_SECRET);
    rs.introspect = true;
    let mut limited = fixtures::client(LIMITED, LIMITED_SECRET);
    limited.quota = Some(Quota {
        per_minute: Some(QUOTA),
        per_day: None,
    });
    let items = [
        m2m_aws::dynamo::item::client_to_item(&rs),
        m2m_aws::dynamo::item::client_to_item(&fixtures::client(OTHER, OTHER_SECRET)),
        m2m_aws::dynamo::item::client_to_item(&limited),
        m2m_aws::dynamo::item::grant_to_item(&fixtures::grant(OTHER, API, &["read:orders"])),
        m2m_aws::dynamo::item::grant_to_item(&fixtures::grant(LIMITED, API, &["read:orders"])),
    ];
    stack.aws.put_items(&stack.table, items).await.unwrap();
}

async fn token(stack: &Stack, id: &str, secret: &str, scope: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(stack.token_url())
        .basic_auth(id, Some(secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("audience", API),
            ("scope", scope),
        ])
        .send()
        .await
        .unwrap()
}

async fn access_token(stack: &Stack, id: &str, secret: &str, scope: &str) -> String {
    let r = token(stack, id, secret, scope).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_owned()
}

async fn post(stack: &Stack, path: &str, who: (&str, &str), token: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}{path}", stack.base_url))
        .basic_auth(who.0, Some(who.1))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn active(stack: &Stack, token: &str) -> bool {
    let (status, doc) = post(stack, "/oauth/introspect", (RS, RS_SECRET), token).await;
    assert_eq!(status, 200, "{doc}");
    doc["active"].as_bool().unwrap()
}

/// Whether the authorizer lets `token` through to `GET /orders` (read:orders).
async fn authorized(stack: &Stack, token: &str) -> bool {
    let answer = stack.authorize(&format!("Bearer {token}")).await.unwrap();
    answer["isAuthorized"].as_bool().unwrap()
}

/// Waits until the authorizer refuses `token`, and fails if that takes longer than
/// its revocation cache bound plus a margin for the local stack.
async fn refused_within_bound(stack: &Stack, token: &str, why: &str) {
    let started = std::time::Instant::now();
    let bound = std::time::Duration::from_secs(AUTHORIZER_REVOCATION_CACHE + 3);
    while authorized(stack, token).await {
        assert!(
            started.elapsed() < bound,
            "{why}: still authorized after {bound:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

async fn introspection_and_revocation(stack: &Stack) {
    let gold = &stack.client;
    let a = access_token(stack, OTHER, OTHER_SECRET, "read:orders").await;
    assert!(active(stack, &a).await);
    assert!(authorized(stack, &a).await);
    let answer = stack.authorize(&format!("Bearer {a}")).await.unwrap();
    assert_eq!(answer["context"]["client_id"], OTHER);
    // A token without the route's scope, and no token at all, are refused.
    let write_only = access_token(stack, &gold.id, &gold.secret, "write:orders").await;
    assert!(!authorized(stack, &write_only).await);
    assert!(!stack.authorize("Bearer").await.unwrap()["isAuthorized"]
        .as_bool()
        .unwrap());

    // Introspection needs the permission.
    let (status, doc) = post(stack, "/oauth/introspect", (OTHER, OTHER_SECRET), &a).await;
    assert_eq!(status, 403, "{doc}");
    assert_eq!(doc["error"], "access_denied");

    // A client cannot revoke another client's token.
    let (status, doc) = post(stack, "/oauth/revoke", (&gold.id, &gold.secret), &a).await;
    assert_eq!(status, 400, "{doc}");
    assert_eq!(doc["error"], "unauthorized_client");
    assert!(active(stack, &a).await);

    // Its own revocation works; and the token endpoint never hands it out again.
    let (status, _) = post(stack, "/oauth/revoke", (OTHER, OTHER_SECRET), &a).await;
    assert_eq!(status, 200);
    assert!(!active(stack, &a).await);
    refused_within_bound(stack, &a, "the client's own revocation").await;
    let again = access_token(stack, OTHER, OTHER_SECRET, "read:orders").await;
    assert_ne!(
        again, a,
        "the cached token is not reused after its revocation"
    );
    assert!(active(stack, &again).await);

    // The operator's levers, through the same store m2m-admin writes.
    let sdk = stack.aws.setup_sdk_config().await;
    let revocations =
        m2m_aws::DynamoRevocations::new(aws_sdk_dynamodb::Client::new(&sdk), &stack.table);
    let now = m2m_aws::clock::system_clock();
    let jti_token = access_token(stack, &gold.id, &gold.secret, "read:orders").await;
    let other_of_gold =
        access_token(stack, &gold.id, &gold.secret, "read:orders write:orders").await;
    assert!(authorized(stack, &jti_token).await && authorized(stack, &other_of_gold).await);
    let doc = post(stack, "/oauth/introspect", (RS, RS_SECRET), &jti_token)
        .await
        .1;
    revocations
        .revoke(
            &Revocation::Token {
                jti: doc["jti"].as_str().unwrap().to_owned(),
                client_id: ClientId::new(&gold.id),
                expires_at: doc["exp"].as_u64().unwrap(),
            },
            now,
        )
        .await
        .unwrap();
    assert!(!active(stack, &jti_token).await, "revoked by jti");
    assert!(
        active(stack, &other_of_gold).await,
        "another token of the client passes"
    );
    revocations
        .revoke(
            &Revocation::Client {
                client_id: ClientId::new(&gold.id),
                not_before: now + 1,
            },
            now,
        )
        .await
        .unwrap();
    assert!(
        !active(stack, &other_of_gold).await,
        "revoked by the client's not-before"
    );
}

async fn quotas(stack: &Stack) {
    let mut statuses = Vec::new();
    let mut retry_after = Vec::new();
    for _ in 0..QUOTA + 5 {
        let r = token(stack, LIMITED, LIMITED_SECRET, "read:orders").await;
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            retry_after.push(r.headers()["retry-after"].to_str().unwrap().to_owned());
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"], "too_many_requests");
        }
    }
    // A minute boundary in the middle of the run would reset the window: then the
    // second minute admits some again, and the count of successes tells.
    let ok = statuses.iter().filter(|s| **s == 200).count() as u64;
    assert!(
        ok == QUOTA || (ok > QUOTA && ok <= 2 * QUOTA),
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count() as u64,
        QUOTA + 5 - ok
    );
    assert!(retry_after
        .iter()
        .all(|s| s.parse::<u64>().is_ok_and(|n| (1..=60).contains(&n))));
    // Other clients are unaffected.
    assert_eq!(
        token(stack, OTHER, OTHER_SECRET, "read:orders")
            .await
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_after_issuance_end_to_end() {
    let stack = Stack::start()
        .await
        .unwrap_or_else(|e| panic!("stack did not start: {e}"));
    seed(&stack).await;
    introspection_and_revocation(&stack).await;
    quotas(&stack).await;
}
