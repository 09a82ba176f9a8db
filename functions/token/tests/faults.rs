//! Failing dependencies through the token handler: a fault-injecting proxy
//! in front of the local emulator throttles, stalls or refuses one AWS operation while
//! everything else reaches moto's real table and key. Each case must answer with the
//! right status (`server_error`; 503 with `Retry-After` where retrying helps) well
//! within the function's own time budget, issue no token, and write nothing partial.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kms::types::KeySpec;
use lambda_http::{Body, Response};
use m2m_aws::dynamo::item;
use m2m_aws::sdk::OPERATION_TIMEOUT;
use m2m_aws::DynamoKeyRegistry;
use m2m_aws::{DynamoDirectory, KmsSigner, LambdaHook};
use m2m_core::ports::{ClaimsHook, NoHook};
use m2m_core::testing::fixtures::{ISSUER, NOW};
use m2m_testkit::event::fixture_token_request;
use m2m_testkit::{local_sdk_config, Canned, CannedServer, LocalAws};
use serde_json::Value;
use support::fault_proxy::{Fault, FaultProxy};
use token::{handle, App};

/// The token function's Lambda timeout (template.yaml): past it API Gateway answers
/// 503 with no OAuth body, so every fault must be answered well before.
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(10);

type Item = HashMap<String, AttributeValue>;

fn aws() -> &'static LocalAws {
    LocalAws::shared().expect("local AWS emulator")
}

/// A seeded table and an RSA key on the shared emulator.
struct World {
    table: String,
    key_id: String,
    setup: aws_sdk_dynamodb::Client,
}

impl World {
    async fn new() -> Self {
        let table = aws().seeded_table("faults").await.unwrap();
        let setup = aws_sdk_dynamodb::Client::new(&aws().setup_sdk_config().await);
        let key_id = aws().create_kms_key(KeySpec::Rsa2048).await.unwrap();
        Self {
            table,
            key_id,
            setup,
        }
    }

    /// Every item, sorted by key.
    async fn scan(&self) -> Vec<Item> {
        let out = self
            .setup
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        let mut items = out.items.unwrap_or_default();
        items.sort_by_key(|i| format!("{:?}/{:?}", i.get("PK"), i.get("SK")));
        items
    }

    /// The handler with production SDK settings, every AWS call through `endpoint`.
    async fn app<H: ClaimsHook>(
        &self,
        endpoint: &str,
        hook: Option<H>,
    ) -> App<DynamoDirectory, KmsSigner<DynamoKeyRegistry>, H, m2m_core::ports::NoKeySets> {
        let sdk = local_sdk_config(endpoint).await;
        let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
        App {
            key_sets: m2m_core::ports::NoKeySets,
            usage: Default::default(),
            config: m2m_testkit::issuer_config(ISSUER),
            directory: DynamoDirectory::new(dynamo.clone(), &self.table),
            signer: KmsSigner::new(
                aws_sdk_kms::Client::new(&sdk),
                DynamoKeyRegistry::new(dynamo, &self.table),
                &self.key_id,
            ),
            hook,
        }
    }

    /// Runs one request through a proxy injecting `fault`; returns the response, how
    /// long it took, the proxy (for its counts) and the table before and after.
    async fn fault(&self, fault: Fault) -> Outcome {
        let proxy = FaultProxy::start(aws().port(), vec![fault]);
        let app = self.app::<NoHook>(&proxy.endpoint(), None).await;
        let before = self.scan().await;
        let started = Instant::now();
        let response = handle(&app, &fixture_token_request(""), NOW).await;
        let took = started.elapsed();
        let after = self.scan().await;
        Outcome {
            response,
            took,
            injected: proxy.injected(),
            before,
            after,
        }
    }
}

struct Outcome {
    response: Response<Body>,
    took: Duration,
    injected: usize,
    before: Vec<Item>,
    after: Vec<Item>,
}

impl Outcome {
    fn body(&self) -> Value {
        serde_json::from_slice(self.response.body().as_ref()).unwrap()
    }

    /// `server_error` with `status`, no token, `Retry-After` exactly on 503, answered
    /// within `budget`.
    fn assert_server_error(&self, status: u16, budget: Duration) {
        let body = self.body();
        assert_eq!(self.response.status(), status, "{body}");
        assert_eq!(body["error"], "server_error");
        assert!(body.get("access_token").is_none(), "{body}");
        assert!(!body.to_string().contains("eyJ"), "no JWT anywhere: {body}");
        let retry_after = self.response.headers().get("retry-after");
        if status == 503 {
            assert_eq!(retry_after.map(|v| v.to_str().unwrap()), Some("1"));
        } else {
            assert!(retry_after.is_none());
        }
        assert!(
            self.took < budget,
            "took {:?} (budget {budget:?})",
            self.took
        );
        assert!(budget <= FUNCTION_TIMEOUT);
    }

    /// Nothing written: no token cached, no secret use recorded, no version bumped.
    fn assert_table_unchanged(&self) {
        assert_eq!(self.before, self.after, "the table changed");
    }

    /// Only the client's `last_used` map may differ: the secret did authenticate (an
    /// operator deciding whether an old secret is still in use needs that), but no
    /// version, secret, grant, cache or other item changed.
    fn assert_only_secret_use_recorded(&self) {
        let strip = |items: &[Item]| -> Vec<Item> {
            items
                .iter()
                .map(|i| {
                    let mut i = i.clone();
                    i.remove(item::LAST_USED);
                    i
                })
                .collect()
        };
        assert_eq!(strip(&self.before), strip(&self.after), "beyond last_used");
    }
}

fn op(operation: &str, canned: Canned) -> Fault {
    Fault {
        operation: operation.into(),
        canned,
    }
}

#[tokio::test]
async fn dynamodb_throttling_service_unavailable_with_retry_after() {
    support::capture_logs("token-faults");
    let world = World::new().await;
    let out = world
        .fault(op(
            "BatchGetItem",
            Canned::aws_json_error(400, "ProvisionedThroughputExceededException"),
        ))
        .await;
    out.assert_server_error(503, Duration::from_secs(2));
    assert_eq!(out.injected, 2, "one retry, then 503");
    out.assert_table_unchanged();
}

#[tokio::test]
async fn dynamodb_timeout_service_unavailable_within_budget() {
    support::capture_logs("token-faults");
    let world = World::new().await;
    let out = world.fault(op("BatchGetItem", Canned::Hang)).await;
    // The SDK's operation timeout bounds the stall; we answer right after it.
    out.assert_server_error(503, OPERATION_TIMEOUT + Duration::from_millis(1500));
    assert!(out.injected >= 1);
    out.assert_table_unchanged();
}

#[tokio::test]
async fn kms_throttling_service_unavailable_with_retry_after() {
    support::capture_logs("token-faults");
    let world = World::new().await;
    let out = world
        .fault(op(
            "Sign",
            Canned::aws_json_error(400, "ThrottlingException"),
        ))
        .await;
    out.assert_server_error(503, Duration::from_secs(3));
    assert_eq!(out.injected, 2, "one retry, then 503");
    out.assert_only_secret_use_recorded();
}

#[tokio::test]
async fn kms_timeout_service_unavailable_within_budget() {
    support::capture_logs("token-faults");
    let world = World::new().await;
    let out = world.fault(op("Sign", Canned::Hang)).await;
    out.assert_server_error(503, OPERATION_TIMEOUT + Duration::from_secs(2));
    out.assert_only_secret_use_recorded();
}

#[tokio::test]
async fn disabled_kms_key_server_error_without_retry() {
    support::capture_logs("token-faults");
    let world = World::new().await;
    let out = world
        .fault(op("Sign", Canned::aws_json_error(400, "DisabledException")))
        .await;
    out.assert_server_error(500, Duration::from_secs(3));
    assert_eq!(out.injected, 1, "a disabled key is not retried");
    out.assert_only_secret_use_recorded();
}

#[tokio::test]
async fn secret_use_write_failure_still_issues_token() {
    support::capture_logs("token-faults");
    // The last_used record is best effort: its failure must neither fail nor delay the
    // request into an error, and the table stays as it was.
    let world = World::new().await;
    let out = world
        .fault(op(
            "UpdateItem",
            Canned::aws_json_error(400, "ProvisionedThroughputExceededException"),
        ))
        .await;
    assert_eq!(out.response.status(), 200, "{}", out.body());
    assert!(out.body()["access_token"].is_string());
    // The token reuse cache may add its own item; nothing else changes.
    let durable = |items: &[Item]| -> Vec<Item> {
        items
            .iter()
            .filter(
                |i| !matches!(i.get("PK"), Some(AttributeValue::S(pk)) if pk.starts_with("CACHE#")),
            )
            .cloned()
            .collect()
    };
    assert_eq!(durable(&out.before), durable(&out.after));
}

#[tokio::test]
async fn hook_hang_server_error_within_hook_timeout() {
    support::capture_logs("token-faults");
    let world = World::new().await;
    let hanging = CannedServer::start(Canned::Hang).unwrap();
    let hook_timeout = Duration::from_millis(400);
    let hook = LambdaHook::new(
        &local_sdk_config(&hanging.endpoint()).await,
        "claims-hook",
        hook_timeout,
    );
    let app = world.app(&aws().endpoint(), Some(hook)).await;
    // Resolve the signing key first, so the measured request waits on the hook only.
    app.signer.refresh().await.unwrap();
    let before = world.scan().await;
    let started = Instant::now();
    let response = handle(&app, &fixture_token_request(""), NOW).await;
    let out = Outcome {
        response,
        took: started.elapsed(),
        injected: hanging.hits(),
        before,
        after: world.scan().await,
    };
    out.assert_server_error(500, hook_timeout + Duration::from_millis(900));
    assert_eq!(out.injected, 1, "the hook is called once, never retried");
    out.assert_table_unchanged();
}

#[tokio::test]
async fn hanging_reuse_write_abandoned_within_budget() {
    // The token is signed; the reuse cache PutItem never answers. The write is given
    // up after its own short deadline, not the SDK's 2.5 s operation timeout, and the
    // caller gets the token.
    let world = World::new().await;
    let out = world.fault(op("PutItem", Canned::Hang)).await;
    let body = out.body();
    assert_eq!(out.response.status(), 200, "{body}");
    assert!(body["access_token"].as_str().is_some());
    assert_eq!(out.injected, 1);
    assert!(
        out.took < Duration::from_millis(1000),
        "took {:?} with a hanging reuse write",
        out.took
    );
}
