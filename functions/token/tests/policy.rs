//! Least privilege, tested: the token function's role in `template.yaml` allows exactly
//! the DynamoDB, KMS and Lambda actions its code calls, as recorded by the SDK
//! interceptor over every path of the function (fallback key, registry key, reuse
//! miss and hit, secret-use record on both item layouts, claims hook), and its write
//! permissions are scoped to the items and attributes the code writes; its base-table
//! reads (trust rules) to client partitions.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use aws_sdk_kms::types::KeySpec;
use m2m_aws::dynamo::item::{self, reuse as reuse_item};
use m2m_aws::DynamoKeyRegistry;
use m2m_aws::{public_jwk, DynamoDirectory, KmsSigner, LambdaHook};
use m2m_core::model::{KeyStatus, SigningKey};
use m2m_core::ports::{ClaimsHook, NoHook, Signer};
use m2m_core::testing::fixtures::{
    self, API, API_SCOPES, CLIENT_ID, CLIENT_SECRET, GRANTED_SCOPES, ISSUER, NOW,
};
use m2m_testkit::event::fixture_token_request;
use m2m_testkit::{
    iam_actions, local_sdk_config, role_actions, role_statements, Canned, CannedServer, LocalAws,
    RequestCounter,
};
use token::{handle, App};

const TEMPLATE: &str = include_str!("../../../template.yaml");

fn aws() -> &'static LocalAws {
    LocalAws::shared().expect("local AWS emulator")
}

async fn seeded_table(legacy_client: bool) -> String {
    let table = aws().create_table("policy").await.unwrap();
    let mut client = item::client_to_item(&fixtures::client(CLIENT_ID, CLIENT_SECRET));
    if legacy_client {
        // Written before the last-used map existed: the second UpdateItem path.
        client.remove(item::LAST_USED);
    }
    aws()
        .put_items(
            &table,
            [
                item::api_to_item(&fixtures::api(API, API_SCOPES)),
                client,
                item::grant_to_item(&fixtures::grant(CLIENT_ID, API, GRANTED_SCOPES)),
            ],
        )
        .await
        .unwrap();
    table
}

async fn run<S: Signer, H: ClaimsHook>(
    app: &App<DynamoDirectory, S, H, m2m_core::ports::NoKeySets>,
    extra: &str,
    now: u64,
) {
    let r = handle(app, &fixture_token_request(extra), now).await;
    assert_eq!(r.status(), 200, "{:?}", r.body());
}

/// Drives every path of the token function with all AWS requests counted.
async fn recorded_operations() -> RequestCounter {
    let counter = RequestCounter::new();
    let setup = aws_sdk_dynamodb::Client::new(&aws().setup_sdk_config().await);
    let sdk = aws().sdk_config().await;
    let config = m2m_testkit::issuer_config(ISSUER);

    // 1. An empty registry: the fallback key (GetPublicKey), a reuse miss (Sign,
    //    PutItem), the first use of the secret on an item without the map (UpdateItem,
    //    twice), then a reuse hit.
    let table = seeded_table(true).await;
    let fallback = aws().create_kms_key(KeySpec::Rsa2048).await.unwrap();
    let app = App {
        key_sets: m2m_core::ports::NoKeySets,
        usage: Default::default(),
        config: config.clone(),
        directory: DynamoDirectory::new(counter.dynamo(&sdk), &table),
        signer: KmsSigner::new(
            counter.kms(&sdk),
            DynamoKeyRegistry::new(counter.dynamo(&sdk), &table),
            &fallback,
        ),
        hook: None::<NoHook>,
    };
    run(&app, "", NOW).await;
    run(&app, "", NOW + 1).await;

    // 2. A registry with an active key: its status read consistently.
    let kms_key = aws().create_kms_key(KeySpec::EccNistP256).await.unwrap();
    let admin_kms = aws_sdk_kms::Client::new(&aws().setup_sdk_config().await);
    let public = public_jwk(&admin_kms, &kms_key).await.unwrap();
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
    setup
        .put_item()
        .table_name(&table)
        .set_item(Some(item::signing_key_to_item(&key).unwrap()))
        .send()
        .await
        .unwrap();
    let signer = KmsSigner::new(
        counter.kms(&sdk),
        DynamoKeyRegistry::new(counter.dynamo(&sdk), &table),
        &fallback,
    );
    signer.refresh().await.unwrap();

    // 3. A claims hook (Lambda Invoke), on a fresh table with the current item layout.
    let table = seeded_table(false).await;
    let server = CannedServer::start(Canned::lambda_invoke(r#"{"claims":{}}"#, None)).unwrap();
    let lambda = counter.lambda(&local_sdk_config(&server.endpoint()).await);
    let app = App {
        key_sets: m2m_core::ports::NoKeySets,
        usage: Default::default(),
        config,
        directory: DynamoDirectory::new(counter.dynamo(&sdk), &table),
        signer: KmsSigner::new(
            counter.kms(&sdk),
            DynamoKeyRegistry::new(counter.dynamo(&sdk), &table),
            &fallback,
        ),
        hook: Some(LambdaHook::from_client(
            lambda,
            "claims-hook",
            Duration::from_millis(1500),
        )),
    };
    run(&app, "&scope=read%3Aorders", NOW).await;
    assert_eq!(server.hits(), 1);

    // 4. Quotas: a client's own (one conditional UpdateItem) and, with its
    //    organization's, several counters in one transaction.
    let table = aws().create_table("policy").await.unwrap();
    let mut client = fixtures::client_in_org(CLIENT_ID, CLIENT_SECRET, "org_1");
    client.quota = Some(m2m_core::quota::Quota {
        per_minute: Some(100),
        per_day: None,
    });
    aws()
        .put_items(
            &table,
            [
                item::api_to_item(&fixtures::api(API, API_SCOPES)),
                item::client_to_item(&client),
                item::grant_to_item(&fixtures::grant(CLIENT_ID, API, GRANTED_SCOPES)),
            ],
        )
        .await
        .unwrap();
    let app = App {
        key_sets: m2m_core::ports::NoKeySets,
        usage: Default::default(),
        config: m2m_testkit::issuer_config(ISSUER),
        directory: DynamoDirectory::new(counter.dynamo(&sdk), &table),
        signer: KmsSigner::new(
            counter.kms(&sdk),
            DynamoKeyRegistry::new(counter.dynamo(&sdk), &table),
            &fallback,
        ),
        hook: None::<NoHook>,
    };
    run(&app, "", NOW).await;
    client.org_quota = client.quota;
    aws()
        .put_items(&table, [item::client_to_item(&client)])
        .await
        .unwrap();
    run(&app, "", NOW + 1).await;
    counter
}

#[tokio::test]
async fn token_role_allows_exactly_what_the_code_calls() {
    let counter = recorded_operations().await;
    let mut called = iam_actions(&counter.snapshot());
    eprintln!("token function AWS operations: {:?}", counter.snapshot());
    // A transaction is authorized action by action (the DynamoDB service authorization
    // reference lists no action of its own for it): the quota transaction updates.
    assert!(called.remove("dynamodb:TransactWriteItems"));
    called.insert("dynamodb:UpdateItem".to_owned());
    let allowed = role_actions(TEMPLATE, "TokenRole", &["dynamodb", "kms", "lambda"]);
    assert_eq!(
        allowed, called,
        "TokenRole vs the operations the token function calls"
    );
    // What the issue of least privilege is about, named explicitly.
    for never in ["dynamodb:GetItem", "dynamodb:Scan", "dynamodb:DeleteItem"] {
        assert!(!allowed.contains(never), "{never}");
    }
}

fn statement_for(role: &str, action: &str) -> String {
    let mut found: Vec<String> = role_statements(TEMPLATE, role)
        .into_iter()
        .filter(|s| s.actions.iter().any(|a| a == action))
        .map(|s| s.text)
        .collect();
    assert_eq!(found.len(), 1, "{role}: one statement allows {action}");
    found.remove(0)
}

#[test]
fn token_role_writes_scoped_to_the_items_written() {
    // PutItem: reuse cache items and assertion jti records only.
    let put = statement_for("TokenRole", "dynamodb:PutItem");
    assert!(
        put.contains(&format!(
            "dynamodb:LeadingKeys: ['{}*', '{}*']",
            reuse_item::CACHE_PREFIX,
            item::jti::JTI_PREFIX
        )),
        "{put}"
    );
    // UpdateItem: client items, and only the key and the last-used map; quota and
    // usage counters, and only their count and expiry.
    let updates: Vec<String> = role_statements(TEMPLATE, "TokenRole")
        .into_iter()
        .filter(|s| s.actions.iter().any(|a| a == "dynamodb:UpdateItem"))
        .map(|s| s.text)
        .collect();
    assert_eq!(updates.len(), 2, "{updates:?}");
    let (clients, counters): (Vec<&String>, Vec<&String>) = updates
        .iter()
        .partition(|u| u.contains("dynamodb:LeadingKeys: ['CLIENT#*']"));
    assert_eq!((clients.len(), counters.len()), (1, 1), "{updates:?}");
    let counters = counters[0];
    assert!(
        counters.contains(&format!(
            "dynamodb:LeadingKeys: ['{}*', '{}*']",
            item::quota::QUOTA_PREFIX,
            item::quota::USAGE_PREFIX
        )),
        "{counters}"
    );
    assert!(
        counters.contains(&format!(
            "dynamodb:Attributes: [{}, {}, {}, {}]",
            item::PK,
            item::SK,
            item::quota::COUNT,
            reuse_item::TTL
        )),
        "{counters}"
    );
    let update = clients[0];
    assert!(
        update.contains(&format!(
            "dynamodb:Attributes: [{}, {}, {}]",
            item::PK,
            item::SK,
            item::LAST_USED
        )),
        "{update}"
    );
    assert!(update.contains("ForAllValues:StringEquals:"), "{update}");
    // Reads: the registry listing on the index; trust rules on the base table, in
    // client partitions only.
    let queries: Vec<String> = role_statements(TEMPLATE, "TokenRole")
        .into_iter()
        .filter(|s| s.actions.iter().any(|a| a == "dynamodb:Query"))
        .map(|s| s.text)
        .collect();
    assert_eq!(queries.len(), 2, "{queries:?}");
    let (index, table): (Vec<&String>, Vec<&String>) =
        queries.iter().partition(|q| q.contains("/index/ByKind"));
    assert_eq!((index.len(), table.len()), (1, 1), "{queries:?}");
    assert!(!index[0].contains("!GetAtt Table.Arn"), "{}", index[0]);
    assert!(table[0].contains("!GetAtt Table.Arn"), "{}", table[0]);
    assert!(
        table[0].contains("dynamodb:LeadingKeys: ['CLIENT#*']"),
        "{}",
        table[0]
    );
}

#[test]
fn jwks_role_queries_the_index_only() {
    let allowed = role_actions(TEMPLATE, "JwksRole", &["dynamodb", "kms", "lambda"]);
    assert_eq!(allowed.into_iter().collect::<Vec<_>>(), ["dynamodb:Query"]);
    let query = statement_for("JwksRole", "dynamodb:Query");
    assert!(query.contains("/index/ByKind"), "{query}");
    assert!(!query.contains("!GetAtt Table.Arn"), "{query}");
}
