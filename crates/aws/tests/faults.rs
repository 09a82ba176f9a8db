//! Failures the emulator cannot produce — throttling, a disabled or invalid-state KMS
//! key, a failing, hanging or malformed claims hook — injected by a canned loopback
//! server behind the real SDK clients and behind the request path's calls spoken
//! directly (`m2m_aws::wire`), and the `PortError` each must become.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use m2m_aws::wire::{Wire, DYNAMODB, KMS};
use m2m_aws::DynamoKeyRegistry;
use m2m_aws::{DynamoDirectory, KmsSigner, LambdaHook};
use m2m_core::hook::{HookClient, HookRequest, HOOK_VERSION};
use m2m_core::model::Alg;
use m2m_core::ports::{ActiveKey, ClaimsHook, Directory, Signer};
use m2m_core::types::{Audience, ClientId, Kid};
use m2m_testkit::{local_sdk_config, Canned, CannedServer, RequestCounter};

fn key(alg: Alg) -> ActiveKey {
    ActiveKey {
        alg,
        kid: Kid::new("k"),
        handle: "arn:aws:kms:us-east-1:111122223333:key/k".into(),
    }
}

/// A canned 200 answer with `body` of `content_type`.
fn ok(body: &str, content_type: &str) -> Canned {
    Canned::Respond {
        status: 200,
        headers: vec![("Content-Type".into(), content_type.into())],
        body: body.as_bytes().to_vec(),
    }
}

async fn signer_against(canned: Canned) -> (CannedServer, KmsSigner<DynamoKeyRegistry>) {
    let server = CannedServer::start(canned).unwrap();
    let sdk = local_sdk_config(&server.endpoint()).await;
    let signer = KmsSigner::new(
        aws_sdk_kms::Client::new(&sdk),
        DynamoKeyRegistry::new(aws_sdk_dynamodb::Client::new(&sdk), "t"),
        "alias/k",
    );
    (server, signer)
}

#[tokio::test]
async fn disabled_kms_key_server_error() {
    let (_server, signer) = signer_against(Canned::aws_json_error(400, "DisabledException")).await;
    let err = signer.sign(&key(Alg::RS256), b"a.b").await.unwrap_err();
    assert!(!err.is_transient());
    assert!(err.message().contains("DisabledException"), "{err}");
}

#[tokio::test]
async fn invalid_state_kms_key_server_error() {
    let (_server, signer) =
        signer_against(Canned::aws_json_error(400, "KMSInvalidStateException")).await;
    let err = signer.sign(&key(Alg::ES256), b"a.b").await.unwrap_err();
    assert!(!err.is_transient());
    assert!(err.message().contains("KMSInvalidStateException"), "{err}");
}

#[tokio::test]
async fn kms_throttling_throttled() {
    let (server, signer) = signer_against(Canned::aws_json_error(400, "ThrottlingException")).await;
    let err = signer.sign(&key(Alg::RS256), b"a.b").await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    // The chosen retry policy: exactly one retry.
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn kms_malformed_ecdsa_signature_server_error() {
    let body = r#"{"KeyId":"k","Signature":"AAEC","SigningAlgorithm":"ECDSA_SHA_256"}"#;
    let (_server, signer) = signer_against(ok(body, "application/x-amz-json-1.1")).await;
    let err = signer.sign(&key(Alg::ES256), b"a.b").await.unwrap_err();
    assert!(!err.is_transient());
}

async fn directory_against(canned: Canned) -> (CannedServer, DynamoDirectory, RequestCounter) {
    let server = CannedServer::start(canned).unwrap();
    let sdk = local_sdk_config(&server.endpoint()).await;
    let counter = RequestCounter::new();
    (
        server,
        DynamoDirectory::new(counter.dynamo(&sdk), "t"),
        counter,
    )
}

#[tokio::test]
async fn dynamodb_throttling_throttled() {
    for code in [
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
    ] {
        let (_server, dir, counter) = directory_against(Canned::aws_json_error(400, code)).await;
        let err = dir
            .lookup(&ClientId::new("c"), &Audience::new("a"))
            .await
            .unwrap_err();
        assert!(err.is_transient(), "{code}: {err}");
        assert_eq!(counter.count("DynamoDB"), 2, "{code}: one retry");
    }
}

#[tokio::test]
async fn dynamodb_unprocessed_keys_throttled() {
    // Every answer leaves all three keys unprocessed: bounded retries, then 503.
    let body = r#"{"Responses":{"t":[]},"UnprocessedKeys":{"t":{"Keys":[{"PK":{"S":"CLIENT#c"},"SK":{"S":"CLIENT"}}],"ConsistentRead":true}}}"#;
    let (_server, dir, counter) = directory_against(ok(body, "application/x-amz-json-1.0")).await;
    let err = dir
        .lookup(&ClientId::new("c"), &Audience::new("a"))
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert_eq!(
        counter.snapshot(),
        BTreeMap::from([(("DynamoDB".to_owned(), "BatchGetItem".to_owned()), 3)])
    );
}

#[tokio::test]
async fn dynamodb_internal_error_server_error() {
    let (_server, dir, _) =
        directory_against(Canned::aws_json_error(400, "ValidationException")).await;
    let err = dir
        .lookup(&ClientId::new("c"), &Audience::new("a"))
        .await
        .unwrap_err();
    assert!(!err.is_transient(), "{err}");
}

#[tokio::test]
async fn dynamodb_hang_times_out_within_budget() {
    let (_server, dir, _) = directory_against(Canned::Hang).await;
    let started = Instant::now();
    let err = dir
        .lookup(&ClientId::new("c"), &Audience::new("a"))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(err.is_transient(), "a timeout is transient: {err}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

fn hook_request() -> HookRequest {
    HookRequest {
        version: HOOK_VERSION.into(),
        client: HookClient {
            id: "c".into(),
            name: "C".into(),
            org_id: None,
            metadata: BTreeMap::new(),
        },
        audience: "https://api.example.com/".into(),
        scopes: vec!["read".into()],
        claims: serde_json::Map::new(),
    }
}

async fn hook_against(canned: Canned, timeout: Duration) -> (CannedServer, LambdaHook) {
    let server = CannedServer::start(canned).unwrap();
    let sdk = local_sdk_config(&server.endpoint()).await;
    (server, LambdaHook::new(&sdk, "claims-hook", timeout))
}

#[tokio::test]
async fn hook_answer_parsed() {
    let (_server, hook) = hook_against(
        Canned::lambda_invoke(r#"{"claims":{"tier":"gold"},"scopes":["read"]}"#, None),
        Duration::from_millis(1500),
    )
    .await;
    let answer = hook.call(&hook_request()).await.unwrap();
    assert_eq!(answer.claims["tier"], "gold");
    assert_eq!(answer.scopes, Some(vec!["read".to_owned()]));
}

#[tokio::test]
async fn hook_oversized_answer_refused() {
    let pad = "x".repeat(m2m_core::hook::MAX_HOOK_ANSWER_BYTES);
    let (_server, hook) = hook_against(
        Canned::lambda_invoke(
            &format!(r#"{{"claims":{{"https://a.example/p":"{pad}"}}}}"#),
            None,
        ),
        Duration::from_millis(1500),
    )
    .await;
    let err = hook.call(&hook_request()).await.unwrap_err();
    assert!(err.message().contains("exceeds"), "{err}");
}

#[tokio::test]
async fn hook_identity_names_function_and_epoch() {
    let (_server, hook) = hook_against(
        Canned::lambda_invoke("{}", None),
        Duration::from_millis(1500),
    )
    .await;
    let a = hook.clone().with_policy("1", vec!["tier".into()]);
    let b = hook.with_policy("2", vec![]);
    assert_eq!(a.identity(), "claims-hook\n1");
    assert_ne!(a.identity(), b.identity());
    assert_eq!(a.allowed_claims(), ["tier".to_owned()]);
}

#[tokio::test]
async fn hook_function_error_server_error() {
    let (_server, hook) = hook_against(
        Canned::lambda_invoke(
            r#"{"errorMessage":"boom","errorType":"Error"}"#,
            Some("Unhandled"),
        ),
        Duration::from_millis(1500),
    )
    .await;
    let err = hook.call(&hook_request()).await.unwrap_err();
    assert!(!err.is_transient());
    assert!(err.message().contains("Unhandled"), "{err}");
}

#[tokio::test]
async fn hook_malformed_answer_server_error() {
    for payload in [r#"{"claims":"#, r#"{"claimz":{}}"#, r#"[1,2]"#, ""] {
        let (_server, hook) = hook_against(
            Canned::lambda_invoke(payload, None),
            Duration::from_millis(1500),
        )
        .await;
        let err = hook.call(&hook_request()).await.unwrap_err();
        assert!(!err.is_transient(), "{payload}");
    }
}

#[tokio::test]
async fn hook_hang_times_out() {
    let (server, hook) = hook_against(Canned::Hang, Duration::from_millis(300)).await;
    let started = Instant::now();
    let err = hook.call(&hook_request()).await.unwrap_err();
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1000), "took {took:?}");
    assert!(!err.message().is_empty());
    assert_eq!(server.hits(), 1, "a hook is never retried");
}

#[test]
fn missing_venv_names_bootstrap() {
    let err = m2m_testkit::LocalAws::start_with_venv(std::path::Path::new("/nonexistent/.venv"))
        .unwrap_err();
    assert!(err.to_string().contains("infra/local/bootstrap"), "{err}");
}

// The same failures on the request path's calls spoken directly (`m2m_aws::wire`):
// the same `PortError`s, with the same retry policy (attempts counted by the canned
// server, which closes every connection after answering).

async fn direct_signer_against(canned: Canned) -> (CannedServer, KmsSigner<DynamoKeyRegistry>) {
    let server = CannedServer::start(canned).unwrap();
    let sdk = local_sdk_config(&server.endpoint()).await;
    let wire = Wire::for_service(&sdk, KMS, |_| None);
    assert!(wire.is_some());
    let signer = KmsSigner::new(
        aws_sdk_kms::Client::new(&sdk),
        DynamoKeyRegistry::new(aws_sdk_dynamodb::Client::new(&sdk), "t"),
        "alias/k",
    )
    .with_wire(wire);
    (server, signer)
}

async fn direct_directory_against(canned: Canned) -> (CannedServer, DynamoDirectory) {
    let server = CannedServer::start(canned).unwrap();
    let sdk = local_sdk_config(&server.endpoint()).await;
    let wire = Wire::for_service(&sdk, DYNAMODB, |_| None);
    assert!(wire.is_some());
    let dir = DynamoDirectory::new(aws_sdk_dynamodb::Client::new(&sdk), "t").with_wire(wire);
    (server, dir)
}

#[tokio::test]
async fn direct_rs256_signature_decoded() {
    let body =
        r#"{"KeyId":"k","Signature":"AAECAw==","SigningAlgorithm":"RSASSA_PKCS1_V1_5_SHA_256"}"#;
    let (_server, signer) = direct_signer_against(ok(body, "application/x-amz-json-1.1")).await;
    assert_eq!(
        signer.sign(&key(Alg::RS256), b"a.b").await.unwrap(),
        vec![0, 1, 2, 3]
    );
}

#[tokio::test]
async fn direct_disabled_or_invalid_state_kms_key_server_error_without_retry() {
    for code in ["DisabledException", "KMSInvalidStateException"] {
        let (server, signer) = direct_signer_against(Canned::aws_json_error(400, code)).await;
        let err = signer.sign(&key(Alg::RS256), b"a.b").await.unwrap_err();
        assert!(!err.is_transient(), "{code}: {err}");
        assert!(err.message().contains(code), "{err}");
        assert_eq!(server.hits(), 1, "{code}: not retried");
    }
}

#[tokio::test]
async fn direct_kms_throttling_throttled_after_one_retry() {
    let (server, signer) =
        direct_signer_against(Canned::aws_json_error(400, "ThrottlingException")).await;
    let err = signer.sign(&key(Alg::RS256), b"a.b").await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(err.message().contains("ThrottlingException"), "{err}");
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn direct_kms_malformed_answers_server_error() {
    for body in [
        r#"{"KeyId":"k","Signature":"AAEC","SigningAlgorithm":"ECDSA_SHA_256"}"#,
        r#"{"KeyId":"k"}"#,
        r#"{"KeyId":"k","Signature":"not base64!"}"#,
        "not json",
    ] {
        let (_server, signer) = direct_signer_against(ok(body, "application/x-amz-json-1.1")).await;
        let err = signer.sign(&key(Alg::ES256), b"a.b").await.unwrap_err();
        assert!(!err.is_transient(), "{body}: {err}");
    }
}

#[tokio::test]
async fn direct_dynamodb_throttling_throttled_after_one_retry() {
    for code in [
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
    ] {
        let (server, dir) = direct_directory_against(Canned::aws_json_error(400, code)).await;
        let err = dir
            .lookup(&ClientId::new("c"), &Audience::new("a"))
            .await
            .unwrap_err();
        assert!(err.is_transient(), "{code}: {err}");
        assert_eq!(server.hits(), 2, "{code}: one retry");
    }
}

#[tokio::test]
async fn direct_dynamodb_service_failure_retried_then_server_error() {
    let (server, dir) =
        direct_directory_against(Canned::aws_json_error(500, "InternalServerError")).await;
    let err = dir
        .lookup(&ClientId::new("c"), &Audience::new("a"))
        .await
        .unwrap_err();
    assert!(!err.is_transient(), "{err}");
    assert!(err.message().contains("InternalServerError"), "{err}");
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn direct_dynamodb_validation_error_server_error_without_retry() {
    let (server, dir) =
        direct_directory_against(Canned::aws_json_error(400, "ValidationException")).await;
    let err = dir
        .lookup(&ClientId::new("c"), &Audience::new("a"))
        .await
        .unwrap_err();
    assert!(!err.is_transient(), "{err}");
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn direct_dynamodb_unprocessed_keys_throttled() {
    let body = r#"{"Responses":{"t":[]},"UnprocessedKeys":{"t":{"Keys":[{"PK":{"S":"CLIENT#c"},"SK":{"S":"CLIENT"}}],"ConsistentRead":true}}}"#;
    let (server, dir) = direct_directory_against(ok(body, "application/x-amz-json-1.0")).await;
    let err = dir
        .lookup(&ClientId::new("c"), &Audience::new("a"))
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert_eq!(server.hits(), 3, "three BatchGetItem attempts");
}

#[tokio::test]
async fn direct_dynamodb_unreadable_answer_server_error() {
    let (_server, dir) = direct_directory_against(ok(
        r#"{"Responses":{"t":[{"PK":{"Q":"x"}}]}}"#,
        "application/x-amz-json-1.0",
    ))
    .await;
    let err = dir
        .lookup(&ClientId::new("c"), &Audience::new("a"))
        .await
        .unwrap_err();
    assert!(!err.is_transient(), "{err}");
}

#[tokio::test]
async fn direct_dynamodb_hang_times_out_within_budget() {
    let (_server, dir) = direct_directory_against(Canned::Hang).await;
    let started = Instant::now();
    let err = dir
        .lookup(&ClientId::new("c"), &Audience::new("a"))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(err.is_transient(), "a timeout is transient: {err}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
}
