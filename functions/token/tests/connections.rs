//! Connections per warm token: the token handler on the AWS adapters, its SDK clients
//! pointed at a connection-counting proxy in front of the keep-alive emulator. After
//! the cold request has opened the DynamoDB and KMS connections, a warm execution
//! environment serves token requests — reuse hits and signed tokens — without opening
//! another: no TCP or TLS handshake on the request path, as with DynamoDB and KMS in AWS.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_sdk_kms::types::KeySpec;
use m2m_aws::wire::{self, Wire};
use m2m_aws::DynamoKeyRegistry;
use m2m_aws::{DynamoDirectory, KmsSigner};
use m2m_core::ports::NoHook;
use m2m_core::testing::fixtures::{ISSUER, NOW};
use m2m_testkit::event::fixture_token_request;
use m2m_testkit::{local_sdk_config, ConnectionCounter, LocalAws};
use token::{handle, App};

#[tokio::test(flavor = "current_thread")]
async fn warm_tokens_open_no_connection() {
    let aws = LocalAws::shared().expect("local AWS emulator");
    let table = aws.seeded_table("conns").await.unwrap();
    let key_id = aws.create_kms_key(KeySpec::Rsa2048).await.unwrap();

    // The function's clients, built once as in `main`, reach moto only through the proxy.
    let proxy = ConnectionCounter::start(aws.port()).unwrap();
    let sdk = local_sdk_config(&proxy.endpoint()).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let kms = aws_sdk_kms::Client::new(&sdk);
    // As the token function's `main` builds it: the directory's read and `Sign` spoken
    // directly (`m2m_aws::wire`), everything else through the SDK.
    let dynamo_wire = Wire::for_service(&sdk, wire::DYNAMODB, |_| None);
    let kms_wire = Wire::for_service(&sdk, wire::KMS, |_| None);
    assert!(dynamo_wire.is_some() && kms_wire.is_some());
    let app = App {
        key_sets: m2m_core::ports::NoKeySets,
        usage: Default::default(),
        config: m2m_testkit::issuer_config(ISSUER),
        directory: DynamoDirectory::new(dynamo.clone(), &table).with_wire(dynamo_wire.clone()),
        signer: KmsSigner::new(
            kms,
            DynamoKeyRegistry::new(dynamo, &table).with_wire(dynamo_wire),
            &key_id,
        )
        .with_wire(kms_wire),
        hook: None::<NoHook>,
    };
    // Cold: key resolution, lookup, Sign, the reuse write; connections open here.
    assert_eq!(
        handle(&app, &fixture_token_request(""), NOW).await.status(),
        200
    );
    let cold = proxy.opened();
    assert!(cold >= 1, "the cold request reached AWS through the proxy");

    // Warm: reuse hits (DynamoDB only) and, with a scope set not cached yet, signed
    // tokens (DynamoDB, KMS Sign, the reuse write).
    let scopes = [
        "",
        "&scope=read%3Aorders",
        "&scope=write%3Aorders",
        "&scope=read%3Aorders+write%3Aorders",
    ];
    let mut served = 0;
    for round in 0..5 {
        for scope in scopes {
            let r = handle(&app, &fixture_token_request(scope), NOW + 1 + round).await;
            assert_eq!(r.status(), 200);
            served += 1;
        }
    }
    let warm = proxy.opened() - cold;
    eprintln!("connections: {cold} opened cold, {warm} opened over {served} warm tokens");
    assert_eq!(
        warm, 0,
        "connections opened while serving {served} warm tokens"
    );
}
