//! The introspection and revocation handler on the AWS adapters against the local
//! emulator: tokens signed by a real (emulated) KMS key through the token handler,
//! introspected and revoked with the DynamoDB directory, key registry and revocation
//! store; every AWS request recorded, and the function's role in `template.yaml`
//! compared with them (least privilege, tested).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_sdk_kms::types::KeySpec;
use introspect::{handle, App};
use lambda_http::{Body, Response};
use m2m_aws::dynamo::item;
use m2m_aws::{public_jwk, DynamoDirectory, DynamoKeyRegistry, DynamoRevocations, KmsSigner};
use m2m_core::basic::encode_basic;
use m2m_core::cache::keys::KeyCache;
use m2m_core::model::{KeyStatus, SigningKey};
use m2m_core::ports::{NoHook, NoKeySets};
use m2m_core::testing::fixtures::{self, API, API_SCOPES, CLIENT_ID, CLIENT_SECRET, ISSUER, NOW};
use m2m_core::{issue_token, parse_token_request};
use m2m_testkit::event::token_event;
use m2m_testkit::{iam_actions, role_actions, role_statements, LocalAws, RequestCounter};
use serde_json::Value;

const TEMPLATE: &str = include_str!("../../../template.yaml");
const RS: &str = "resource-server";
const RS_SECRET: &str = "m2m_sk_resource-server-secret";

fn aws() -> &'static LocalAws {
    LocalAws::shared().expect("local AWS emulator")
}

type AwsApp = App<DynamoDirectory, NoKeySets, DynamoRevocations, DynamoKeyRegistry>;

/// A table with the fixtures, a resource server allowed to introspect, and an active
/// KMS key in the registry; the app on it with every request counted; and a signer.
async fn setup() -> (AwsApp, RequestCounter, KmsSigner<DynamoKeyRegistry>) {
    let table = aws().create_table("introspect").await.unwrap();
    let kms_key = aws().create_kms_key(KeySpec::Rsa2048).await.unwrap();
    let kms = aws_sdk_kms::Client::new(&aws().setup_sdk_config().await);
    let public = public_jwk(&kms, &kms_key).await.unwrap();
    let key = SigningKey {
        kid: public.jwk.thumbprint(),
        kms_key_id: public.key_arn,
        alg: public.alg,
        status: KeyStatus::Active,
        public_jwk: public.jwk,
        created_at: NOW,
        activated_at: Some(NOW),
        retired_at: None,
    };
    let mut rs = fixtures::client(RS, RS_SECRET);
    rs.introspect = true;
    aws()
        .put_items(
            &table,
            [
                item::api_to_item(&fixtures::api(API, API_SCOPES)),
                item::client_to_item(&fixtures::client(CLIENT_ID, CLIENT_SECRET)),
                item::client_to_item(&rs),
                item::grant_to_item(&fixtures::grant(CLIENT_ID, API, &["read:orders"])),
                item::signing_key_to_item(&key).unwrap(),
            ],
        )
        .await
        .unwrap();
    let sdk = aws().sdk_config().await;
    let counter = RequestCounter::new();
    let dynamo = counter.dynamo(&sdk);
    let app = App {
        config: m2m_testkit::issuer_config(ISSUER),
        directory: DynamoDirectory::new(dynamo.clone(), &table),
        key_sets: NoKeySets,
        revocations: DynamoRevocations::new(dynamo.clone(), &table)
            .with_clock(std::sync::Arc::new(|| NOW + 10)),
        keys: DynamoKeyRegistry::new(dynamo, &table),
        cache: KeyCache::new(),
    };
    let plain = aws_sdk_dynamodb::Client::new(&sdk);
    let signer = KmsSigner::new(
        aws_sdk_kms::Client::new(&sdk),
        DynamoKeyRegistry::new(plain, &table),
        &kms_key,
    );
    (app, counter, signer)
}

/// A token for the fixture client; another `extra` (a scope) is another token, not
/// the one kept for reuse.
async fn token(app: &AwsApp, signer: &KmsSigner<DynamoKeyRegistry>, extra: &str) -> String {
    let body = format!("grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}&audience=https%3A%2F%2Fapi.example.com{extra}");
    let req = parse_token_request(
        Some("application/x-www-form-urlencoded"),
        None,
        body.as_bytes(),
    )
    .unwrap();
    let directory = DynamoDirectory::new(
        aws_sdk_dynamodb::Client::new(&aws().sdk_config().await),
        app.directory.table(),
    );
    issue_token(
        &req,
        NOW,
        &app.config,
        &directory,
        signer,
        None::<&NoHook>,
        &NoKeySets,
    )
    .await
    .unwrap()
    .access_token
}

async fn call(app: &AwsApp, path: &str, who: (&str, &str), token: &str) -> Response<Body> {
    let mut req = token_event(
        "POST",
        &[("authorization", &encode_basic(who.0, who.1))],
        &format!("token={token}"),
        false,
    );
    *req.uri_mut() = format!("https://auth.example.com{path}").parse().unwrap();
    handle(app, &req, NOW + 10).await
}

fn json(r: &Response<Body>) -> Value {
    serde_json::from_slice(r.body().as_ref()).unwrap_or(Value::Null)
}

#[tokio::test]
async fn revoked_token_turns_inactive_and_the_role_allows_exactly_the_calls() {
    let (app, counter, signer) = setup().await;
    let a = token(&app, &signer, "").await;
    let b = token(&app, &signer, "&scope=read%3Aorders").await;
    assert_ne!(a, b);
    let r = call(&app, "/oauth/introspect", (RS, RS_SECRET), &a).await;
    assert_eq!(json(&r)["active"], true, "{:?}", json(&r));
    assert_eq!(json(&r)["client_id"], CLIENT_ID);

    // The client revokes its token (RFC 7009); the other stays active.
    let r = call(&app, "/oauth/revoke", (CLIENT_ID, CLIENT_SECRET), &a).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        json(&call(&app, "/oauth/introspect", (RS, RS_SECRET), &a).await)["active"],
        false
    );
    assert_eq!(
        json(&call(&app, "/oauth/introspect", (RS, RS_SECRET), &b).await)["active"],
        true
    );
    // The revocation entry holds no raw jti, and the client's epoch moved.
    let scan = aws_sdk_dynamodb::Client::new(&aws().setup_sdk_config().await)
        .get_item()
        .table_name(app.directory.table())
        .set_key(Some(item::client_key(&m2m_core::types::ClientId::new(
            CLIENT_ID,
        ))))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(
        scan.get(item::client::REVOCATION_EPOCH),
        Some(&aws_sdk_dynamodb::types::AttributeValue::N("1".into()))
    );

    let snapshot = counter.snapshot();
    eprintln!("introspection and revocation AWS operations: {snapshot:?}");
    let called = iam_actions(&snapshot);
    let allowed = role_actions(TEMPLATE, "IntrospectRole", &["dynamodb", "kms", "lambda"]);
    assert_eq!(
        allowed, called,
        "IntrospectRole vs the operations the function calls"
    );
    for never in [
        "kms:Sign",
        "dynamodb:GetItem",
        "dynamodb:Scan",
        "dynamodb:DeleteItem",
    ] {
        assert!(!allowed.contains(never), "{never}");
    }
}

#[test]
fn introspect_role_writes_scoped_to_the_items_written() {
    let statements = role_statements(TEMPLATE, "IntrospectRole");
    let put: Vec<_> = statements
        .iter()
        .filter(|s| s.actions.iter().any(|a| a == "dynamodb:PutItem"))
        .collect();
    assert_eq!(put.len(), 1);
    assert!(
        put[0].text.contains(&format!(
            "dynamodb:LeadingKeys: ['{}', '{}*']",
            m2m_aws::dynamo::item::revocation::REVOCATION_PK,
            item::jti::JTI_PREFIX
        )),
        "{}",
        put[0].text
    );
    let update: Vec<_> = statements
        .iter()
        .filter(|s| s.actions.iter().any(|a| a == "dynamodb:UpdateItem"))
        .collect();
    assert_eq!(update.len(), 1);
    assert!(
        update[0].text.contains(&format!(
            "dynamodb:Attributes: [PK, SK, {}, version]",
            item::client::REVOCATION_EPOCH
        )),
        "{}",
        update[0].text
    );
}
