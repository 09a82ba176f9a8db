//! The request path's calls spoken directly (`m2m_aws::wire`) against a canned loopback
//! server: the same failures the SDK path is tested with in `faults.rs` — throttling,
//! a disabled or invalid-state KMS key, validation errors, unprocessed keys, a hanging
//! service — must become the same `PortError`s, with the same retry policy.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use m2m_aws::wire::{Wire, DYNAMODB, KMS};
use m2m_aws::{DynamoDirectory, DynamoKeyRegistry, KmsSigner};
use m2m_core::model::Alg;
use m2m_core::ports::{ActiveKey, Directory, Signer};
use m2m_core::types::{Audience, ClientId, Kid};
use m2m_testkit::{local_sdk_config, Canned, CannedServer};

fn key(alg: Alg) -> ActiveKey {
    ActiveKey {
        alg,
        kid: Kid::new("k"),
        handle: "arn:aws:kms:us-east-1:111122223333:key/k".into(),
    }
}

async fn signer_against(canned: Canned) -> (CannedServer, KmsSigner<DynamoKeyRegistry>) {
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

async fn directory_against(canned: Canned) -> (CannedServer, DynamoDirectory) {
    let server = CannedServer::start(canned).unwrap();
    let sdk = local_sdk_config(&server.endpoint()).await;
    let wire = Wire::for_service(&sdk, DYNAMODB, |_| None);
    assert!(wire.is_some());
    let dir = DynamoDirectory::new(aws_sdk_dynamodb::Client::new(&sdk), "t").with_wire(wire);
    (server, dir)
}

fn ok(body: &str, content_type: &str) -> Canned {
    Canned::Respond {
        status: 200,
        headers: vec![("Content-Type".into(), content_type.into())],
        body: body.as_bytes().to_vec(),
    }
}

#[tokio::test]
async fn rs256_signature_decoded() {
    let body =
        r#"{"KeyId":"k","Signature":"AAECAw==","SigningAlgorithm":"RSASSA_PKCS1_V1_5_SHA_256"}"#;
    let (_server, signer) = signer_against(ok(body, "application/x-amz-json-1.1")).await;
    assert_eq!(
        signer.sign(&key(Alg::RS256), b"a.b").await.unwrap(),
        vec![0, 1, 2, 3]
    );
}

#[tokio::test]
async fn disabled_or_invalid_state_kms_key_server_error_without_retry() {
    for code in ["DisabledException", "KMSInvalidStateException"] {
        let (server, signer) = signer_against(Canned::aws_json_error(400, code)).await;
        let err = signer.sign(&key(Alg::RS256), b"a.b").await.unwrap_err();
        assert!(!err.is_transient(), "{code}: {err}");
        assert!(err.message().contains(code), "{err}");
        assert_eq!(server.hits(), 1, "{code}: not retried");
    }
}

#[tokio::test]
async fn kms_throttling_throttled_after_one_retry() {
    let (server, signer) = signer_against(Canned::aws_json_error(400, "ThrottlingException")).await;
    let err = signer.sign(&key(Alg::RS256), b"a.b").await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(err.message().contains("ThrottlingException"), "{err}");
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn kms_malformed_answers_server_error() {
    for body in [
        r#"{"KeyId":"k","Signature":"AAEC","SigningAlgorithm":"ECDSA_SHA_256"}"#,
        r#"{"KeyId":"k"}"#,
        r#"{"KeyId":"k","Signature":"not base64!"}"#,
        "not json",
    ] {
        let (_server, signer) = signer_against(ok(body, "application/x-amz-json-1.1")).await;
        let err = signer.sign(&key(Alg::ES256), b"a.b").await.unwrap_err();
        assert!(!err.is_transient(), "{body}: {err}");
    }
}

#[tokio::test]
async fn dynamodb_throttling_throttled_after_one_retry() {
    for code in [
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
    ] {
        let (server, dir) = directory_against(Canned::aws_json_error(400, code)).await;
        let err = dir
            .lookup(&ClientId::new("c"), &Audience::new("a"))
            .await
            .unwrap_err();
        assert!(err.is_transient(), "{code}: {err}");
        assert_eq!(server.hits(), 2, "{code}: one retry");
    }
}

#[tokio::test]
async fn dynamodb_service_failure_retried_then_server_error() {
    let (server, dir) = directory_against(Canned::aws_json_error(500, "InternalServerError")).await;
    let err = dir
        .lookup(&ClientId::new("c"), &Audience::new("a"))
        .await
        .unwrap_err();
    assert!(!err.is_transient(), "{err}");
    assert!(err.message().contains("InternalServerError"), "{err}");
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn dynamodb_validation_error_server_error_without_retry() {
    let (server, dir) = directory_against(Canned::aws_json_error(400, "ValidationException")).await;
    let err = dir
        .lookup(&ClientId::new("c"), &Audience::new("a"))
        .await
        .unwrap_err();
    assert!(!err.is_transient(), "{err}");
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn dynamodb_unprocessed_keys_throttled() {
    let body = r#"{"Responses":{"t":[]},"UnprocessedKeys":{"t":{"Keys":[{"PK":{"S":"CLIENT#c"},"SK":{"S":"CLIENT"}}],"ConsistentRead":true}}}"#;
    let (server, dir) = directory_against(ok(body, "application/x-amz-json-1.0")).await;
    let err = dir
        .lookup(&ClientId::new("c"), &Audience::new("a"))
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert_eq!(server.hits(), 3, "three BatchGetItem attempts");
}

#[tokio::test]
async fn dynamodb_unreadable_answer_server_error() {
    let (_server, dir) = directory_against(ok(
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
async fn dynamodb_hang_times_out_within_budget() {
    let (_server, dir) = directory_against(Canned::Hang).await;
    let started = Instant::now();
    let err = dir
        .lookup(&ClientId::new("c"), &Audience::new("a"))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(err.is_transient(), "a timeout is transient: {err}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
}
