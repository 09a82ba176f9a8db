//! Least privilege, tested: the authorizer's role in `template.yaml` allows exactly the
//! DynamoDB operations its code calls, as recorded by the SDK interceptor over every
//! path that reads (cold start, cache expiry, an unknown `kid`, a revocation list
//! spanning pages), on exactly the resources it reads: the `ByKind` index and the
//! `REVOCATION` partition of the base table.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use authorizer::cache::{KEY_SET_TTL_SECS, UNKNOWN_KID_REFRESH_SECS};
use authorizer::{authorize, App};
use m2m_aws::dynamo::item;
use m2m_aws::dynamo::item::revocation::REVOCATION_PK;
use m2m_aws::{DynamoKeyRegistry, DynamoRevocations};
use m2m_core::model::KeyStatus;
use m2m_core::revocation::{Revocation, Revocations};
use m2m_core::testing::fixtures::NOW;
use m2m_core::testing::SoftwareSigner;
use m2m_core::types::ClientId;
use m2m_testkit::{iam_actions, role_actions, role_statements, LocalAws, RequestCounter};
use support::{bearer, config, registry_key, Mint};

const TEMPLATE: &str = include_str!("../../../template.yaml");

fn aws() -> &'static LocalAws {
    LocalAws::shared().expect("local AWS emulator")
}

/// Drives every reading path of the authorizer with all AWS requests counted.
async fn recorded_operations() -> RequestCounter {
    let rs = SoftwareSigner::rs256();
    let table = aws().create_table("authorizer-policy").await.unwrap();
    aws()
        .put_items(
            &table,
            [item::signing_key_to_item(&registry_key(&rs, KeyStatus::Active, NOW)).unwrap()],
        )
        .await
        .unwrap();
    let setup = aws_sdk_dynamodb::Client::new(&aws().setup_sdk_config().await);
    let writer = DynamoRevocations::new(setup, &table);
    for i in 0..5 {
        writer
            .revoke(
                &Revocation::Client {
                    client_id: ClientId::new(format!("client-{i}")),
                    not_before: NOW,
                },
                NOW,
            )
            .await
            .unwrap();
    }

    let counter = RequestCounter::new();
    let sdk = aws().sdk_config().await;
    let app = App::new(
        &config(30),
        DynamoKeyRegistry::new(counter.dynamo(&sdk), &table).with_page_size(1),
        DynamoRevocations::new(counter.dynamo(&sdk), &table)
            .with_page_size(2)
            .with_clock(Arc::new(|| NOW)),
    );
    app.warm(NOW).await;
    let t = Mint::new(&rs, NOW).sign(&rs).await;
    assert!(authorize(&app, &bearer(&t), NOW).await.is_ok());
    // Both caches expire.
    assert!(authorize(&app, &bearer(&t), NOW + KEY_SET_TTL_SECS)
        .await
        .is_ok());
    // An unknown kid.
    let other = SoftwareSigner::es256_fresh();
    let unknown = Mint::new(&other, NOW).sign(&other).await;
    let later = NOW + KEY_SET_TTL_SECS + UNKNOWN_KID_REFRESH_SECS;
    assert!(authorize(&app, &bearer(&unknown), later).await.is_err());
    counter
}

#[tokio::test]
async fn authorizer_role_allows_exactly_what_the_code_calls() {
    let counter = recorded_operations().await;
    eprintln!("authorizer AWS operations: {:?}", counter.snapshot());
    let called = iam_actions(&counter.snapshot());
    let allowed = role_actions(TEMPLATE, "AuthorizerRole", &["dynamodb", "kms", "lambda"]);
    assert_eq!(
        allowed, called,
        "AuthorizerRole vs the operations the authorizer calls"
    );
    assert_eq!(allowed.into_iter().collect::<Vec<_>>(), ["dynamodb:Query"]);
}

#[test]
fn authorizer_role_reads_the_index_and_the_revocation_partition_only() {
    let statements = role_statements(TEMPLATE, "AuthorizerRole");
    let dynamo: Vec<_> = statements
        .iter()
        .filter(|s| s.actions.iter().any(|a| a.starts_with("dynamodb:")))
        .collect();
    assert_eq!(dynamo.len(), 2, "{dynamo:?}");
    for s in &dynamo {
        assert_eq!(s.actions, ["dynamodb:Query"], "{}", s.text);
    }
    let index: Vec<_> = dynamo
        .iter()
        .filter(|s| s.text.contains("/index/ByKind"))
        .collect();
    assert_eq!(index.len(), 1);
    assert!(
        !index[0].text.contains("!GetAtt Table.Arn"),
        "{}",
        index[0].text
    );
    let base: Vec<_> = dynamo
        .iter()
        .filter(|s| s.text.contains("Resource: !GetAtt Table.Arn"))
        .collect();
    assert_eq!(base.len(), 1);
    let base = &base[0].text;
    assert!(base.contains("ForAllValues:StringEquals:"), "{base}");
    assert!(
        base.contains(&format!("dynamodb:LeadingKeys: [{REVOCATION_PK}]")),
        "{base}"
    );
    assert!(!base.contains("/index/"), "{base}");
    // Only its own log group besides (and Lambda's trust of the role).
    let others: Vec<_> = statements
        .iter()
        .filter(|s| {
            !s.actions
                .iter()
                .any(|a| a.starts_with("dynamodb:") || a == "sts:AssumeRole")
        })
        .collect();
    assert_eq!(others.len(), 1);
    assert_eq!(
        others[0].actions,
        ["logs:CreateLogStream", "logs:PutLogEvents"]
    );
    assert!(others[0].text.contains("AuthorizerLogGroup.Arn"));
}

#[test]
fn authorizer_environment_is_what_its_configuration_reads() {
    let function = TEMPLATE
        .split("\n  AuthorizerFunction:\n")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .expect("AuthorizerFunction in template.yaml");
    assert!(function.contains("Binary: authorizer"), "{function}");
    assert!(function.contains("Role: !GetAtt AuthorizerRole.Arn"));
    for variable in [
        "M2M_TABLE",
        "M2M_ISSUER",
        "M2M_AUDIENCE",
        "M2M_ROUTE_SCOPES",
        "M2M_REVOCATION_CACHE_SECONDS",
    ] {
        assert!(function.contains(&format!("{variable}: ")), "{variable}");
    }
}
