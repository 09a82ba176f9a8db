//! The management API's handler on API Gateway events, over the in-memory store and
//! vault: authentication, routing, each operation family, idempotency, optimistic
//! concurrency, and RFC 9457 problems for bad input and failures.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use admin_api::{handle, App};
use lambda_http::{Body, Response};
use m2m_core::model::ClientStatus;
use m2m_core::testing::fixtures::NOW;
use m2m_manage::testing::{FakeVault, InMemoryAdminStore};
use m2m_manage::{Backoff, Operator};
use m2m_testkit::event::{ApiGatewayEvent, ADMIN_PRINCIPAL};
use serde_json::{json, Value};

const ORDERS: &str = "https://api.example.com/orders";
const ORDERS_PATH: &str = "https%3A%2F%2Fapi.example.com%2Forders";

fn app() -> App<InMemoryAdminStore, FakeVault> {
    App {
        operator: Operator::new(InMemoryAdminStore::new()).with_backoff(Backoff::IMMEDIATE),
        vault: FakeVault::new(),
        local_principal: None,
    }
}

struct Answer {
    status: u16,
    headers: http::HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

fn answer(r: Response<Body>) -> Answer {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = match r.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap(),
        Body::Binary(b) => serde_json::from_slice(b).unwrap(),
        Body::Empty => Value::Null,
        _ => Value::Null,
    };
    Answer {
        status,
        headers,
        body,
    }
}

fn event(method: &str, path: &str) -> ApiGatewayEvent {
    ApiGatewayEvent::admin_iam().method(method).path(path)
}

async fn call(app: &App<InMemoryAdminStore, FakeVault>, ev: ApiGatewayEvent) -> Answer {
    answer(handle(app, &ev.request(), NOW).await)
}

async fn send(
    app: &App<InMemoryAdminStore, FakeVault>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Answer {
    let mut ev = event(method, path);
    if let Some(b) = body {
        ev = ev
            .header("content-type", "application/json")
            .body(&b.to_string());
    }
    call(app, ev).await
}

async fn with_api(app: &App<InMemoryAdminStore, FakeVault>) {
    let a = send(
        app,
        "POST",
        "/admin/v1/apis",
        Some(json!({"identifier": ORDERS, "scopes": ["read", "write"]})),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
}

async fn new_client(app: &App<InMemoryAdminStore, FakeVault>, org: &str) -> Value {
    let a = send(
        app,
        "POST",
        "/admin/v1/clients",
        Some(json!({"name": "backend", "org_id": org, "grants": [{"api": ORDERS, "scopes": ["read"]}]})),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    a.body
}

fn assert_problem(a: &Answer, status: u16, slug: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    assert_eq!(a.header("content-type"), Some("application/problem+json"));
    assert_eq!(a.body["type"], format!("urn:m2m-auth:problem:{slug}"));
    assert_eq!(a.body["status"], status);
    assert!(a.body["title"].is_string() && a.body["detail"].is_string());
}

#[tokio::test]
async fn no_iam_principal_forbidden() {
    let app = app();
    let a = call(&app, event("GET", "/admin/v1/clients").without_iam()).await;
    assert_problem(&a, 403, "unauthenticated");
    let a = call(
        &app,
        event("POST", "/admin/v1/clients")
            .without_iam()
            .header("content-type", "application/json")
            .body(r#"{"name":"x"}"#),
    )
    .await;
    assert_problem(&a, 403, "unauthenticated");
    assert!(app.operator.store.clients().is_empty());
}

#[tokio::test]
async fn local_principal_stands_in_when_configured() {
    let mut app = app();
    app.local_principal = Some("local-operator".into());
    let a = call(&app, event("GET", "/admin/v1/clients").without_iam()).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn unknown_path_not_found_and_wrong_method_405() {
    let app = app();
    assert_problem(
        &send(&app, "GET", "/admin/v1/nope", None).await,
        404,
        "not-found",
    );
    let a = send(&app, "PUT", "/admin/v1/clients", None).await;
    assert_problem(&a, 405, "method-not-allowed");
    assert_eq!(a.header("allow"), Some("GET, POST"));
}

#[tokio::test]
async fn create_client_secret_once_then_never() {
    let app = app();
    with_api(&app).await;
    let created = send(
        &app,
        "POST",
        "/admin/v1/clients",
        Some(
            json!({"name": "Acme", "org_id": "acme", "metadata": {"plan": "gold"},
                    "grants": [{"api": ORDERS, "scopes": ["read", "write"]}]}),
        ),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["client_id"].as_str().unwrap().to_owned();
    let secret = created.body["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("m2m_sk_"));
    assert_eq!(
        created.header("location"),
        Some(format!("/admin/v1/clients/{id}").as_str())
    );
    assert_eq!(created.header("etag"), Some("\"1\""));
    assert_eq!(
        created.body["grants"],
        json!([{"api": ORDERS, "scopes": ["read", "write"]}])
    );
    let shown = send(&app, "GET", &format!("/admin/v1/clients/{id}"), None).await;
    assert_eq!(shown.status, 200);
    let text = shown.body.to_string();
    assert!(
        !text.contains(&secret) && !text.contains("hash") && !text.contains("client_secret"),
        "{text}"
    );
    assert_eq!(shown.body["metadata"], json!({"plan": "gold"}));
}

#[tokio::test]
async fn idempotent_create_replays_without_second_client_or_secret() {
    let app = app();
    let body = r#"{"name":"Acme","org_id":"acme"}"#;
    let post = |b: &str| {
        event("POST", "/admin/v1/clients")
            .header("content-type", "application/json")
            .header("idempotency-key", "signup-42")
            .body(b)
    };
    let first = call(&app, post(body)).await;
    assert_eq!(first.status, 201, "{}", first.body);
    // The same request again, with different spacing: the same JSON.
    let again = call(&app, post(r#"{ "org_id": "acme", "name": "Acme" }"#)).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body["client_id"], first.body["client_id"]);
    assert!(again.body.get("client_secret").is_none());
    assert_eq!(app.operator.store.clients().len(), 1);
    let other = call(&app, post(r#"{"name":"Other"}"#)).await;
    assert_problem(&other, 422, "idempotency-key-reused");
    assert_eq!(app.operator.store.clients().len(), 1);
}

#[tokio::test]
async fn stale_if_match_precondition_failed() {
    let app = app();
    let c = new_client_without_grants(&app).await;
    let id = c["client_id"].as_str().unwrap();
    let path = format!("/admin/v1/clients/{id}");
    let patch = |etag: &str, name: &str| {
        event("PATCH", &path)
            .header("content-type", "application/json")
            .header("if-match", etag)
            .body(&json!({"name": name}).to_string())
    };
    let ok = call(&app, patch("\"1\"", "v2")).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.header("etag"), Some("\"2\""));
    let stale = call(&app, patch("\"1\"", "v3")).await;
    assert_problem(&stale, 412, "precondition-failed");
    assert_eq!(stale.header("etag"), Some("\"2\""));
    assert_eq!(app.operator.store.clients()[0].name, "v2");
    assert_problem(
        &call(&app, patch("W/\"2\"", "v3")).await,
        400,
        "invalid-request",
    );
}

async fn new_client_without_grants(app: &App<InMemoryAdminStore, FakeVault>) -> Value {
    let a = send(app, "POST", "/admin/v1/clients", Some(json!({"name": "x"}))).await;
    assert_eq!(a.status, 201, "{}", a.body);
    a.body
}

#[tokio::test]
async fn metadata_merge_patch_removes_with_null() {
    let app = app();
    let c = send(
        &app,
        "POST",
        "/admin/v1/clients",
        Some(json!({"name": "x", "metadata": {"a": "1", "b": "2"}})),
    )
    .await
    .body;
    let path = format!("/admin/v1/clients/{}", c["client_id"].as_str().unwrap());
    let a = send(
        &app,
        "PATCH",
        &path,
        Some(json!({"metadata": {"a": null, "c": "3"}})),
    )
    .await;
    assert_eq!(a.body["metadata"], json!({"b": "2", "c": "3"}));
}

#[tokio::test]
async fn bad_bodies_precise_problems() {
    let app = app();
    let post = |ct: &str, body: &str| {
        event("POST", "/admin/v1/clients")
            .header("content-type", ct)
            .body(body)
    };
    assert_problem(
        &call(&app, post("application/json", "{nope")).await,
        400,
        "invalid-request",
    );
    let unknown = call(
        &app,
        post("application/json", r#"{"name":"x","colour":"red"}"#),
    )
    .await;
    assert_problem(&unknown, 400, "invalid-request");
    assert!(unknown.body["detail"].as_str().unwrap().contains("colour"));
    assert_problem(
        &call(&app, post("application/json", "[1]")).await,
        400,
        "invalid-request",
    );
    assert_problem(
        &call(&app, post("application/json", r#"{"name":" "}"#)).await,
        400,
        "invalid-request",
    );
    assert_problem(
        &call(&app, post("text/plain", r#"{"name":"x"}"#)).await,
        415,
        "unsupported-media-type",
    );
    let big = format!(r#"{{"name":"{}"}}"#, "x".repeat(70_000));
    assert_problem(
        &call(&app, post("application/json", &big)).await,
        413,
        "payload-too-large",
    );
    let bad_scope = send(
        &app,
        "POST",
        "/admin/v1/apis",
        Some(json!({"identifier": ORDERS, "scopes": ["has space"]})),
    )
    .await;
    assert_problem(&bad_scope, 400, "invalid-request");
    assert!(app.operator.store.clients().is_empty());
}

/// API Gateway base64-encodes a body that is not text (`isBase64Encoded`): the
/// handler sees bytes that are not JSON and refuses them.
#[tokio::test]
async fn binary_body_refused_not_500() {
    let app = app();
    let a = call(
        &app,
        event("POST", "/admin/v1/clients")
            .header("content-type", "application/json")
            .base64_body("\u{fffd}}\u{0}\u{7f}"),
    )
    .await;
    assert_problem(&a, 400, "invalid-request");
    assert!(app.operator.store.clients().is_empty());
}

#[tokio::test]
async fn list_by_org_pages_with_cursor() {
    let app = app();
    with_api(&app).await;
    for _ in 0..5 {
        new_client(&app, "acme").await;
    }
    new_client(&app, "bravo").await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q = vec![("limit", "2".to_owned())];
        if let Some(c) = &cursor {
            q.push(("cursor", c.clone()));
        }
        let pairs: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let a = call(
            &app,
            event("GET", "/admin/v1/orgs/acme/clients").query(&pairs),
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
        for c in a.body["clients"].as_array().unwrap() {
            assert_eq!(c["org_id"], "acme");
            seen.push(c["client_id"].as_str().unwrap().to_owned());
        }
        match a.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    let same = call(
        &app,
        event("GET", "/admin/v1/clients").query(&[("org_id", "acme")]),
    )
    .await;
    assert_eq!(same.body["clients"].as_array().unwrap().len(), 5);
    let bad = call(
        &app,
        event("GET", "/admin/v1/clients").query(&[("cursor", "forged")]),
    )
    .await;
    assert_problem(&bad, 400, "invalid-request");
    let bad = call(
        &app,
        event("GET", "/admin/v1/clients").query(&[("limit", "0")]),
    )
    .await;
    assert_problem(&bad, 400, "invalid-request");
}

#[tokio::test]
async fn org_disable_and_enable_every_client() {
    let app = app();
    with_api(&app).await;
    for _ in 0..3 {
        new_client(&app, "acme").await;
    }
    let other = new_client(&app, "bravo").await;
    let off = send(&app, "POST", "/admin/v1/orgs/acme/disable", None).await;
    assert_eq!(off.status, 200, "{}", off.body);
    assert_eq!(off.body["changed"].as_array().unwrap().len(), 3);
    for c in app.operator.store.clients() {
        let expected = if c.id.as_str() == other["client_id"] {
            ClientStatus::Active
        } else {
            ClientStatus::Disabled
        };
        assert_eq!(c.status, expected);
    }
    let on = send(&app, "POST", "/admin/v1/orgs/acme/enable", Some(json!({}))).await;
    assert_eq!(on.body["changed"].as_array().unwrap().len(), 3);
    assert!(app
        .operator
        .store
        .clients()
        .iter()
        .all(|c| c.status == ClientStatus::Active));
}

#[tokio::test]
async fn grants_and_secrets_lifecycle() {
    let app = app();
    with_api(&app).await;
    let c = new_client_without_grants(&app).await;
    let id = c["client_id"].as_str().unwrap();
    let grant_path = format!("/admin/v1/clients/{id}/grants/{ORDERS_PATH}");
    let put = send(
        &app,
        "PUT",
        &grant_path,
        Some(json!({"scopes": ["read", "write"]})),
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(
        put.body,
        json!({"client_id": id, "api": ORDERS, "scopes": ["read", "write"]})
    );
    let undefined = send(&app, "PUT", &grant_path, Some(json!({"scopes": ["admin"]}))).await;
    assert_problem(&undefined, 400, "invalid-request");
    let listed = send(&app, "GET", &format!("/admin/v1/clients/{id}/grants"), None).await;
    assert_eq!(listed.body["grants"].as_array().unwrap().len(), 1);
    assert_eq!(send(&app, "DELETE", &grant_path, None).await.status, 204);
    assert_problem(
        &send(&app, "DELETE", &grant_path, None).await,
        404,
        "not-found",
    );

    let rotated = send(
        &app,
        "POST",
        &format!("/admin/v1/clients/{id}/secrets"),
        Some(json!({"grace_seconds": 60})),
    )
    .await;
    assert_eq!(rotated.status, 201, "{}", rotated.body);
    assert!(rotated.body["client_secret"]
        .as_str()
        .unwrap()
        .starts_with("m2m_sk_"));
    assert_eq!(rotated.body["previous_secrets_expire_at"], NOW + 60);
    let old = c["secret_id"].as_str().unwrap();
    let revoked = send(
        &app,
        "DELETE",
        &format!("/admin/v1/clients/{id}/secrets/{old}"),
        None,
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(revoked.body["secrets"].as_array().unwrap().len(), 1);
    let long = send(
        &app,
        "POST",
        &format!("/admin/v1/clients/{id}/secrets"),
        Some(json!({"grace_seconds": 99_999_999})),
    )
    .await;
    assert_problem(&long, 400, "invalid-request");
}

#[tokio::test]
async fn api_delete_in_use_conflict_then_forced() {
    let app = app();
    with_api(&app).await;
    new_client(&app, "acme").await;
    let path = format!("/admin/v1/apis/{ORDERS_PATH}");
    let shown = send(&app, "GET", &path, None).await;
    assert_eq!(shown.body["grants"].as_array().unwrap().len(), 1);
    assert_problem(&send(&app, "DELETE", &path, None).await, 409, "conflict");
    let forced = call(&app, event("DELETE", &path).query(&[("force", "true")])).await;
    assert_eq!(forced.status, 204);
    assert!(app.operator.store.all_grants().is_empty());
    assert_problem(&send(&app, "GET", &path, None).await, 404, "not-found");
}

#[tokio::test]
async fn keys_lifecycle_and_publish_delay() {
    let app = app();
    let made = send(
        &app,
        "POST",
        "/admin/v1/keys",
        Some(json!({"alg": "ES256"})),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!(made.body["status"], "pending");
    let kid = made.body["kid"].as_str().unwrap();
    let early = send(
        &app,
        "POST",
        &format!("/admin/v1/keys/{kid}/activate"),
        None,
    )
    .await;
    assert_problem(&early, 409, "conflict");
    let forced = send(
        &app,
        "POST",
        &format!("/admin/v1/keys/{kid}/activate"),
        Some(json!({"force": true})),
    )
    .await;
    assert_eq!(forced.status, 200, "{}", forced.body);
    let listed = send(&app, "GET", "/admin/v1/keys", None).await;
    assert_eq!(listed.body["keys"][0]["status"], "active");
    let revoked = send(
        &app,
        "POST",
        &format!("/admin/v1/keys/{kid}/revoke"),
        Some(json!({"force": true})),
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let bad = send(
        &app,
        "POST",
        "/admin/v1/keys",
        Some(json!({"alg": "HS256"})),
    )
    .await;
    assert_problem(&bad, 400, "invalid-request");
}

#[tokio::test]
async fn store_unavailable_503_without_internals() {
    let app = app();
    app.operator.store.set_unavailable(true);
    let a = send(&app, "GET", "/admin/v1/clients", None).await;
    assert_problem(&a, 503, "unavailable");
    assert_eq!(a.header("retry-after"), Some("1"));
    assert!(!a.body.to_string().contains("in-memory"), "{}", a.body);
}

#[tokio::test]
async fn vault_down_503_and_nothing_registered() {
    let app = app();
    app.vault.fail(true);
    let a = send(&app, "POST", "/admin/v1/keys", None).await;
    assert_problem(&a, 503, "unavailable");
    assert!(!a.body.to_string().contains("fake"), "{}", a.body);
}

#[test]
fn principal_fixture_is_an_assumed_role() {
    assert!(ADMIN_PRINCIPAL.starts_with("arn:aws:sts::"));
}
