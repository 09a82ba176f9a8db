//! The management API against the local AWS emulator (DynamoDB and KMS): fifty
//! concurrent writers on one client lose no update, and the function's role in
//! `template.yaml` allows exactly the operations its code calls on every route
//! (secretless clients' keys, `jwks_uri` and trust rules included).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use admin_api::{handle, App};
use lambda_http::{Body, Response};
use m2m_aws::kms::policy::signing_key_policy;
use m2m_aws::{DynamoAdminStore, KmsVault};
use m2m_core::testing::fixtures::NOW;
use m2m_manage::Operator;
use m2m_testkit::event::ApiGatewayEvent;
use m2m_testkit::{iam_actions, role_actions, LocalAws, RequestCounter};
use serde_json::{json, Value};

const TEMPLATE: &str = include_str!("../../../template.yaml");
const ORDERS: &str = "https://api.example.com/orders";
const ORDERS_PATH: &str = "https%3A%2F%2Fapi.example.com%2Forders";
const WRITERS: usize = 50;

type AwsApp = App<DynamoAdminStore, KmsVault>;

async fn app(aws: &LocalAws, table: &str, counter: &RequestCounter) -> AwsApp {
    let sdk = aws.sdk_config().await;
    App {
        operator: Operator::new(DynamoAdminStore::new(counter.dynamo(&sdk), table)),
        vault: KmsVault::new(
            counter.kms(&sdk),
            "local",
            signing_key_policy("aws", "123456789012", "local").to_string(),
        ),
        local_principal: None,
    }
}

fn json_of(r: &Response<Body>) -> Value {
    match r.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

async fn send(app: &AwsApp, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    send_with(app, method, path, body, &[]).await
}

async fn send_with(
    app: &AwsApp,
    method: &str,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let pairs: Vec<(&str, &str)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.split_once('='))
        .collect();
    let mut ev = ApiGatewayEvent::admin_iam()
        .method(method)
        .path(path)
        .query(&pairs)
        .headers(headers);
    if let Some(b) = body {
        ev = ev
            .header("content-type", "application/json")
            .body(&b.to_string());
    }
    let r = handle(app, &ev.request(), NOW).await;
    (r.status().as_u16(), json_of(&r))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_writers_lose_no_update() {
    // DynamoDB serializes conditional writes on an item; moto does so only when
    // single-threaded.
    let aws: &'static LocalAws = Box::leak(Box::new(LocalAws::start_single_threaded().unwrap()));
    let table = aws.create_table("admin-api-race").await.unwrap();
    let counter = RequestCounter::new();
    let app: &'static AwsApp = Box::leak(Box::new(app(aws, &table, &counter).await));
    let (status, created) = send(
        app,
        "POST",
        "/admin/v1/clients",
        Some(json!({"name": "race"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["client_id"].as_str().unwrap().to_owned();
    let path = format!("/admin/v1/clients/{id}");

    let mut tasks = Vec::new();
    for i in 0..WRITERS {
        let path = path.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"metadata": {format!("writer-{i:02}"): "done"}});
            (i, send(app, "PATCH", &path, Some(body)).await)
        }));
    }
    let mut succeeded = Vec::new();
    for t in tasks {
        let (i, (status, body)) = t.await.unwrap();
        match status {
            200 => succeeded.push(i),
            409 => assert_eq!(body["type"], "urn:m2m-auth:problem:conflict", "{body}"),
            other => panic!("writer {i}: unexpected {other}: {body}"),
        }
    }
    eprintln!(
        "{} of {WRITERS} concurrent writers succeeded without retrying",
        succeeded.len()
    );
    assert!(
        succeeded.len() * 100 >= WRITERS * 95,
        "only {} of {WRITERS} writes succeeded",
        succeeded.len()
    );
    let (_, after) = send(app, "GET", &path, None).await;
    for i in &succeeded {
        assert_eq!(
            after["metadata"][format!("writer-{i:02}")],
            "done",
            "writer {i}'s update was lost"
        );
    }
    assert_eq!(
        after["version"].as_u64().unwrap(),
        1 + succeeded.len() as u64,
        "each success is exactly one version"
    );
}

/// Every route, with every AWS request counted.
async fn recorded_operations() -> RequestCounter {
    let aws = LocalAws::shared().unwrap();
    let table = aws.create_table("admin-api-policy").await.unwrap();
    let counter = RequestCounter::new();
    let app = app(aws, &table, &counter).await;
    let ok = |(s, b): (u16, Value), want: u16| {
        assert_eq!(s, want, "{b}");
        b
    };
    ok(
        send(
            &app,
            "POST",
            "/admin/v1/apis",
            Some(json!({"identifier": ORDERS, "scopes": ["read", "write"]})),
        )
        .await,
        201,
    );
    ok(send(&app, "GET", "/admin/v1/apis", None).await, 200);
    let api_path = format!("/admin/v1/apis/{ORDERS_PATH}");
    ok(
        send(&app, "PATCH", &api_path, Some(json!({"name": "Orders"}))).await,
        200,
    );
    let key = [("idempotency-key", "signup-1")];
    let c = ok(
        send_with(&app, "POST", "/admin/v1/clients", Some(json!({"name": "a", "org_id": "acme", "grants": [{"api": ORDERS, "scopes": ["read"]}]})), &key).await,
        201,
    );
    ok(send_with(&app, "POST", "/admin/v1/clients", Some(json!({"name": "a", "org_id": "acme", "grants": [{"api": ORDERS, "scopes": ["read"]}]})), &key).await, 200);
    // A failed creation releases its idempotency key.
    ok(
        send_with(
            &app,
            "POST",
            "/admin/v1/clients",
            Some(json!({"name": "b", "grants": [{"api": "https://nope", "scopes": ["read"]}]})),
            &[("idempotency-key", "signup-2")],
        )
        .await,
        404,
    );
    let id = c["client_id"].as_str().unwrap();
    let client_path = format!("/admin/v1/clients/{id}");
    ok(send(&app, "GET", &client_path, None).await, 200);
    ok(
        send(&app, "GET", "/admin/v1/clients?limit=1", None).await,
        200,
    );
    ok(
        send(&app, "GET", "/admin/v1/orgs/acme/clients", None).await,
        200,
    );
    ok(
        send(
            &app,
            "PATCH",
            &client_path,
            Some(json!({"metadata": {"k": "v"}})),
        )
        .await,
        200,
    );
    ok(
        send(&app, "POST", &format!("{client_path}/disable"), None).await,
        200,
    );
    ok(
        send(&app, "POST", "/admin/v1/orgs/acme/enable", None).await,
        200,
    );
    let grant_path = format!("{client_path}/grants/{ORDERS_PATH}");
    ok(
        send(
            &app,
            "PUT",
            &grant_path,
            Some(json!({"scopes": ["read", "write"]})),
        )
        .await,
        200,
    );
    ok(
        send(&app, "GET", &format!("{client_path}/grants"), None).await,
        200,
    );
    let rotated = ok(
        send(
            &app,
            "POST",
            &format!("{client_path}/secrets"),
            Some(json!({"grace_seconds": 0})),
        )
        .await,
        201,
    );
    let old = c["secret_id"].as_str().unwrap();
    ok(
        send(
            &app,
            "DELETE",
            &format!("{client_path}/secrets/{old}"),
            None,
        )
        .await,
        200,
    );
    assert!(rotated["client_secret"].is_string());
    ok(send(&app, "DELETE", &grant_path, None).await, 204);
    let k = ok(
        send(
            &app,
            "POST",
            "/admin/v1/keys",
            Some(json!({"alg": "ES256"})),
        )
        .await,
        201,
    );
    let kid = k["kid"].as_str().unwrap();
    ok(send(&app, "GET", "/admin/v1/keys", None).await, 200);
    ok(
        send(
            &app,
            "POST",
            &format!("/admin/v1/keys/{kid}/activate"),
            Some(json!({"force": true})),
        )
        .await,
        200,
    );
    let k2 = ok(send(&app, "POST", "/admin/v1/keys", None).await, 201);
    ok(
        send(
            &app,
            "POST",
            &format!("/admin/v1/keys/{}/retire", k2["kid"].as_str().unwrap()),
            None,
        )
        .await,
        200,
    );
    ok(
        send(
            &app,
            "POST",
            &format!("/admin/v1/keys/{kid}/revoke"),
            Some(json!({"force": true})),
        )
        .await,
        200,
    );
    ok(
        send(&app, "PUT", &grant_path, Some(json!({"scopes": ["read"]}))).await,
        200,
    );
    ok(
        send(&app, "DELETE", &format!("{api_path}?force=true"), None).await,
        204,
    );
    // A secretless client: a key, a jwks_uri instead, trust rules, and its deletion
    // with a rule left.
    let w = ok(
        send(
            &app,
            "POST",
            "/admin/v1/clients",
            Some(json!({"name": "w", "secret": false})),
        )
        .await,
        201,
    );
    let w_path = format!("/admin/v1/clients/{}", w["client_id"].as_str().unwrap());
    let jwk: Value = serde_json::from_str(m2m_core::testing::assertions::EC.public_jwk()).unwrap();
    let key = ok(
        send(
            &app,
            "POST",
            &format!("{w_path}/keys"),
            Some(json!({"jwk": jwk})),
        )
        .await,
        201,
    );
    ok(
        send(&app, "GET", &format!("{w_path}/keys"), None).await,
        200,
    );
    let key_path = format!("{w_path}/keys/{}", key["kid"].as_str().unwrap());
    ok(
        send(
            &app,
            "PATCH",
            &key_path,
            Some(json!({"expires_at": NOW + 60})),
        )
        .await,
        200,
    );
    ok(send(&app, "DELETE", &key_path, None).await, 204);
    ok(
        send(
            &app,
            "PUT",
            &format!("{w_path}/jwks-uri"),
            Some(json!({"jwks_uri": "https://keys.example.com/jwks.json"})),
        )
        .await,
        200,
    );
    ok(
        send(&app, "DELETE", &format!("{w_path}/jwks-uri"), None).await,
        200,
    );
    let rule = json!({
        "issuer": "https://token.actions.githubusercontent.com",
        "subject": {"exact": "repo:acme/api:ref:refs/heads/main"},
        "audience": "https://auth.example.com",
    });
    let rules_path = format!("{w_path}/trust-rules");
    let r = ok(
        send(&app, "POST", &rules_path, Some(rule.clone())).await,
        201,
    );
    ok(send(&app, "POST", &rules_path, Some(rule)).await, 201);
    ok(send(&app, "GET", &rules_path, None).await, 200);
    let rule_path = format!("{rules_path}/{}", r["id"].as_str().unwrap());
    ok(send(&app, "GET", &rule_path, None).await, 200);
    ok(send(&app, "DELETE", &rule_path, None).await, 204);
    ok(send(&app, "DELETE", &w_path, None).await, 204);

    ok(send(&app, "DELETE", &client_path, None).await, 204);
    counter
}

#[tokio::test]
async fn admin_role_allows_exactly_what_the_code_calls() {
    let counter = recorded_operations().await;
    eprintln!(
        "management function AWS operations: {:?}",
        counter.snapshot()
    );
    let mut called = iam_actions(&counter.snapshot());
    // A transaction is authorized action by action (the DynamoDB service authorization
    // reference lists no action of its own for it): ours put, update and delete items,
    // and check a condition on an organization's record (creating the client of org
    // `acme` above; disabling a client puts its revocation entry).
    if called.remove("dynamodb:TransactWriteItems") {
        for a in [
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:ConditionCheckItem",
        ] {
            called.insert(a.to_owned());
        }
    }
    // CreateKey with a key policy passes KMS's lockout safety check only when the caller
    // may itself change that policy afterwards.
    called.insert("kms:PutKeyPolicy".to_owned());
    // CreateKey with tags needs kms:TagResource.
    called.insert("kms:TagResource".to_owned());
    // A key whose registration fails is scheduled for deletion (the operator rules'
    // cleanup); no route deletes keys otherwise.
    called.insert("kms:ScheduleKeyDeletion".to_owned());
    let allowed = role_actions(TEMPLATE, "AdminApiRole", &["dynamodb", "kms"]);
    assert_eq!(
        allowed, called,
        "AdminApiRole must allow exactly what the code calls"
    );
}

#[test]
fn template_admin_routes_need_iam_and_never_set_the_local_principal() {
    let route = TEMPLATE
        .split("\n  AdminApiRoute:\n")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .expect("AdminApiRoute in template.yaml");
    assert!(
        route.contains("RouteKey: ANY /admin/v1/{proxy+}"),
        "{route}"
    );
    assert!(route.contains("AuthorizationType: AWS_IAM"), "{route}");
    // Every route under /admin/ is the IAM one.
    for line in TEMPLATE
        .lines()
        .filter(|l| l.trim_start().starts_with("RouteKey:"))
    {
        if line.contains("/admin/") {
            assert!(line.contains("ANY /admin/v1/{proxy+}"), "{line}");
        }
    }
    let name = ["M2M", "ADMIN", "LOCAL", "PRINCIPAL"].join("_");
    assert!(
        !TEMPLATE.contains(&name),
        "the template must never set {name}"
    );
}
