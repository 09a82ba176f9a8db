//! The management API's secretless-client routes on API Gateway events, over the
//! in-memory store: a client created with `"secret": false`, its keys
//! (`/clients/{id}/keys`), its `jwks_uri` and its trust rules, with idempotent
//! creation, `If-Match`, and RFC 9457 problems for every refusal.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use admin_api::{handle, App};
use lambda_http::{Body, Response};
use m2m_core::testing::assertions::{EC, ED25519};
use m2m_core::testing::fixtures::NOW;
use m2m_manage::testing::{FakeVault, InMemoryAdminStore};
use m2m_manage::{Backoff, Operator};
use m2m_testkit::event::ApiGatewayEvent;
use serde_json::{json, Value};

type TestApp = App<InMemoryAdminStore, FakeVault>;

fn app() -> TestApp {
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
    text: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn problem(&self, status: u16) -> &str {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        self.body["detail"].as_str().unwrap()
    }
}

fn answer(r: Response<Body>) -> Answer {
    let text = match r.body() {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    Answer {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

async fn send_with(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Answer {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let pairs: Vec<(&str, &str)> = query.split('&').filter_map(|p| p.split_once('=')).collect();
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
    answer(handle(app, &ev.request(), NOW).await)
}

async fn send(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> Answer {
    send_with(app, method, path, body, &[]).await
}

async fn secretless(app: &TestApp) -> String {
    let a = send(
        app,
        "POST",
        "/admin/v1/clients",
        Some(json!({"name": "workload", "secret": false})),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.text);
    assert!(a.body.get("client_secret").is_none(), "{}", a.text);
    assert!(a.body.get("secret_id").is_none(), "{}", a.text);
    assert_eq!(a.body["secrets"], json!([]));
    assert_eq!(a.body["keys"], json!([]));
    assert_eq!(a.body["jwks_uri"], Value::Null);
    a.body["client_id"].as_str().unwrap().to_owned()
}

fn ec_jwk() -> Value {
    serde_json::from_str(EC.public_jwk()).unwrap()
}

#[tokio::test]
async fn client_with_secret_by_default_or_without_on_request() {
    let app = app();
    let a = send(
        &app,
        "POST",
        "/admin/v1/clients",
        Some(json!({"name": "a", "secret": true})),
    )
    .await;
    assert_eq!(a.status, 201);
    assert!(a.body["client_secret"].is_string());
    secretless(&app).await;
    let bad = send(
        &app,
        "POST",
        "/admin/v1/clients",
        Some(json!({"name": "a", "secret": "no"})),
    )
    .await;
    bad.problem(400);
}

#[tokio::test]
async fn keys_registered_listed_expired_and_removed() {
    let app = app();
    let id = secretless(&app).await;
    let keys = format!("/admin/v1/clients/{id}/keys");
    let a = send(
        &app,
        "POST",
        &keys,
        Some(json!({"jwk": ec_jwk(), "expires_at": NOW + 3600})),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let kid = EC.thumbprint();
    assert_eq!(a.body["kid"], kid.as_str());
    assert_eq!(a.body["kty"], "EC");
    assert_eq!(a.body["client_id"], id.as_str());
    assert_eq!(a.body["expires_at"], NOW + 3600);
    assert_eq!(a.body["pruned_kids"], json!([]));
    assert_eq!(a.header("etag"), Some("\"2\""));
    assert_eq!(
        a.header("location").unwrap(),
        format!("/admin/v1/clients/{id}/keys/{kid}")
    );
    let x = ec_jwk()["x"].as_str().unwrap().to_owned();
    assert!(!a.text.contains(&x), "never the key material");

    let listed = send(&app, "GET", &keys, None).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["keys"][0]["kid"], kid.as_str());
    assert_eq!(listed.header("etag"), Some("\"2\""));
    assert!(!listed.text.contains(&x));
    let client = send(&app, "GET", &format!("/admin/v1/clients/{id}"), None).await;
    assert_eq!(client.body["keys"][0]["kid"], kid.as_str());
    assert!(!client.text.contains(&x));

    let key = format!("{keys}/{kid}");
    let a = send(&app, "PATCH", &key, Some(json!({"expires_at": null}))).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["expires_at"], Value::Null);
    assert_eq!(a.header("etag"), Some("\"3\""));
    // The expiry is required (null for never), and If-Match is honoured.
    send(&app, "PATCH", &key, Some(json!({})))
        .await
        .problem(400);
    send(&app, "PATCH", &key, Some(json!({"expires_at": NOW - 1})))
        .await
        .problem(400);
    send_with(
        &app,
        "PATCH",
        &key,
        Some(json!({"expires_at": NOW + 60})),
        &[("if-match", "\"2\"")],
    )
    .await
    .problem(412);
    send(
        &app,
        "PATCH",
        &format!("{keys}/nope"),
        Some(json!({"expires_at": null})),
    )
    .await
    .problem(404);

    let a = send(&app, "DELETE", &key, None).await;
    assert_eq!(a.status, 204, "{}", a.text);
    assert_eq!(a.header("etag"), Some("\"4\""));
    send(&app, "DELETE", &key, None).await.problem(404);
    let listed = send(&app, "GET", &keys, None).await;
    assert_eq!(listed.body["keys"], json!([]));
}

#[tokio::test]
async fn bad_keys_refused() {
    let app = app();
    let id = secretless(&app).await;
    let keys = format!("/admin/v1/clients/{id}/keys");
    let mut private = ec_jwk();
    private["d"] = json!("APspUhzeqx5Ng95lSx4pzTtJ-0vtzo_pvsyHlcJ3Jqw");
    let m = send(&app, "POST", &keys, Some(json!({"jwk": private}))).await;
    let detail = m.problem(400);
    assert!(
        detail.contains("private") && !detail.contains("APspUhzeqx5"),
        "{detail}"
    );
    for bad in [
        json!({"jwk": "not an object"}),
        json!({"jwk": {"kty": "oct", "k": "c2VjcmV0"}}),
        json!({"jwk": ec_jwk(), "expires_at": NOW}),
        json!({"jwk": ec_jwk(), "extra": 1}),
        json!({}),
    ] {
        send(&app, "POST", &keys, Some(bad)).await.problem(400);
    }
    send(
        &app,
        "POST",
        "/admin/v1/clients/nope/keys",
        Some(json!({"jwk": ec_jwk()})),
    )
    .await
    .problem(404);
    send(&app, "GET", "/admin/v1/clients/nope/keys", None)
        .await
        .problem(404);
    assert_eq!(
        send(&app, "POST", &keys, Some(json!({"jwk": ec_jwk()})))
            .await
            .status,
        201
    );
    let detail = send(&app, "POST", &keys, Some(json!({"jwk": ec_jwk()})))
        .await
        .problem(409)
        .to_owned();
    assert!(detail.contains("already exists"), "{detail}");
    let a = send(&app, "PUT", &keys, None).await;
    a.problem(405);
    assert_eq!(a.header("allow"), Some("GET, POST"));
}

#[tokio::test]
async fn key_creation_idempotent() {
    let app = app();
    let id = secretless(&app).await;
    let keys = format!("/admin/v1/clients/{id}/keys");
    let body = json!({"jwk": serde_json::from_str::<Value>(ED25519.public_jwk()).unwrap()});
    let key = [("idempotency-key", "add-key-1")];
    let first = send_with(&app, "POST", &keys, Some(body.clone()), &key).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let again = send_with(&app, "POST", &keys, Some(body), &key).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body["kid"], first.body["kid"]);
    let other = send_with(&app, "POST", &keys, Some(json!({"jwk": ec_jwk()})), &key).await;
    other.problem(422);
}

#[tokio::test]
async fn jwks_uri_set_refused_and_cleared() {
    let app = app();
    let id = secretless(&app).await;
    let path = format!("/admin/v1/clients/{id}/jwks-uri");
    let uri = "https://customer.example.com/jwks.json";
    let a = send(&app, "PUT", &path, Some(json!({"jwks_uri": uri}))).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["jwks_uri"], uri);
    assert_eq!(a.header("etag"), Some("\"2\""));
    let keys = format!("/admin/v1/clients/{id}/keys");
    let detail = send(&app, "POST", &keys, Some(json!({"jwk": ec_jwk()})))
        .await
        .problem(409)
        .to_owned();
    assert!(detail.contains("jwks_uri"), "{detail}");
    for bad in [
        json!({"jwks_uri": "http://customer.example.com/jwks.json"}),
        json!({"jwks_uri": "https://customer.example.com/jwks.json#x"}),
        json!({"jwks_uri": 7}),
        json!({}),
    ] {
        send(&app, "PUT", &path, Some(bad)).await.problem(400);
    }
    let a = send(&app, "DELETE", &path, None).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["jwks_uri"], Value::Null);
    assert_eq!(
        send(&app, "POST", &keys, Some(json!({"jwk": ec_jwk()})))
            .await
            .status,
        201
    );
    send(&app, "PUT", &path, Some(json!({"jwks_uri": uri})))
        .await
        .problem(409);
    send(
        &app,
        "PUT",
        "/admin/v1/clients/nope/jwks-uri",
        Some(json!({"jwks_uri": uri})),
    )
    .await
    .problem(404);
}

fn github_rule() -> Value {
    json!({
        "issuer": "https://token.actions.githubusercontent.com",
        "subject": {"glob": "repo:acme/api:ref:refs/heads/*"},
        "audience": "https://auth.example.com",
        "claims": {"repository": {"exact": "acme/api"}},
        "description": "deploys",
    })
}

#[tokio::test]
async fn trust_rules_added_listed_read_and_removed() {
    let app = app();
    let id = secretless(&app).await;
    let rules = format!("/admin/v1/clients/{id}/trust-rules");
    let a = send(&app, "POST", &rules, Some(github_rule())).await;
    assert_eq!(a.status, 201, "{}", a.text);
    let rule_id = a.body["id"].as_str().unwrap().to_owned();
    assert!(rule_id.starts_with("tr_"));
    assert_eq!(
        a.body["subject"],
        json!({"glob": "repo:acme/api:ref:refs/heads/*"})
    );
    assert_eq!(
        a.body["claims"],
        json!({"repository": {"exact": "acme/api"}})
    );
    assert_eq!(a.header("etag"), Some("\"2\""));
    assert_eq!(
        a.header("location").unwrap(),
        format!("/admin/v1/clients/{id}/trust-rules/{rule_id}")
    );
    let k8s = json!({
        "issuer": "https://kubernetes.default.svc",
        "subject": {"exact": "system:serviceaccount:jobs:runner"},
        "audience": "m2m-auth",
    });
    assert_eq!(send(&app, "POST", &rules, Some(k8s)).await.status, 201);

    let first = send(&app, "GET", &format!("{rules}?limit=1"), None).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["trust_rules"].as_array().unwrap().len(), 1);
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let second = send(
        &app,
        "GET",
        &format!("{rules}?limit=1&cursor={cursor}"),
        None,
    )
    .await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(second.body["next_cursor"], Value::Null);
    let all = send(&app, "GET", &rules, None).await;
    assert_eq!(all.body["trust_rules"].as_array().unwrap().len(), 2);

    let one = format!("{rules}/{rule_id}");
    let got = send(&app, "GET", &one, None).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, a.body);
    send_with(&app, "DELETE", &one, None, &[("if-match", "\"1\"")])
        .await
        .problem(412);
    let removed = send(&app, "DELETE", &one, None).await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    assert_eq!(removed.header("etag"), Some("\"4\""));
    send(&app, "GET", &one, None).await.problem(404);
    send(&app, "DELETE", &one, None).await.problem(404);

    // Deleting the client deletes its remaining rule.
    let d = send(&app, "DELETE", &format!("/admin/v1/clients/{id}"), None).await;
    assert_eq!(d.status, 204);
    assert!(app.operator.store.all_trust_rules().is_empty());
}

#[tokio::test]
async fn bad_trust_rules_refused() {
    let app = app();
    let id = secretless(&app).await;
    let rules = format!("/admin/v1/clients/{id}/trust-rules");
    let with = |field: &str, value: Value| {
        let mut r = github_rule();
        r[field] = value;
        r
    };
    for bad in [
        with("issuer", json!("http://issuer.example.com")),
        with("subject", json!("repo:acme/api")),
        with("subject", json!({"exact": "a", "glob": "b"})),
        with("subject", json!({"regex": "a"})),
        with("audience", json!("")),
        with("claims", json!({"aud": {"exact": "x"}})),
        with("claims", json!({"ref": "main"})),
        with("description", json!("d".repeat(501))),
        with("extra", json!(1)),
    ] {
        send(&app, "POST", &rules, Some(bad)).await.problem(400);
    }
    assert!(app.operator.store.all_trust_rules().is_empty());
    for q in ["limit=0", "limit=101", "limit=x", "cursor=garbage"] {
        send(&app, "GET", &format!("{rules}?{q}"), None)
            .await
            .problem(400);
    }
    send(&app, "GET", "/admin/v1/clients/nope/trust-rules", None)
        .await
        .problem(404);
    send(
        &app,
        "POST",
        "/admin/v1/clients/nope/trust-rules",
        Some(github_rule()),
    )
    .await
    .problem(404);
    let a = send(&app, "PUT", &format!("{rules}/tr_x"), None).await;
    a.problem(405);
    assert_eq!(a.header("allow"), Some("GET, DELETE"));
}

#[tokio::test]
async fn trust_rule_creation_idempotent() {
    let app = app();
    let id = secretless(&app).await;
    let rules = format!("/admin/v1/clients/{id}/trust-rules");
    let key = [("idempotency-key", "rule-1")];
    let first = send_with(&app, "POST", &rules, Some(github_rule()), &key).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let again = send_with(&app, "POST", &rules, Some(github_rule()), &key).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    assert_eq!(app.operator.store.all_trust_rules().len(), 1);
}
