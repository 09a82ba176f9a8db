//! End to end: secretless clients on the local stack, with independent software on
//! the client side. Python Authlib's `private_key_jwt` client authentication gets a
//! token with a key registered through the management API; a local OpenID issuer
//! built for the tests from independent libraries (`tests/python/oidc_issuer.py`:
//! the standard library's HTTP server, `cryptography`, PyJWT; its discovery document
//! and JWKS on loopback) issues tokens shaped like Kubernetes service-account and
//! GitHub Actions tokens, and a client trusting it gets a token with each. Refusals
//! that need the whole stack — a replayed assertion, a `jwks_uri` or issuer at a
//! link-local or private address, an untrusted issuer, a rule that does not match —
//! answer `invalid_client`. Issued tokens are verified with `jsonwebtoken` against
//! the published JWKS.
//!
//! One test owns the stack and the issuer so both are always stopped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jsonwebtoken::{decode_header, Algorithm, EncodingKey, Header};
use m2m_testkit::jwt::{self, Expect};
use m2m_testkit::stack::{Stack, API};
use m2m_testkit::workspace_root;
use serde_json::{json, Value};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const K8S_SUB: &str = "system:serviceaccount:payments:api";
/// An issuer on the allowlist whose address the fetcher must refuse.
const LINK_LOCAL_ISSUER: &str = "https://169.254.169.254/issuer";

/// The test's OpenID issuer, killed when dropped.
struct Issuer {
    child: Child,
    url: String,
}

impl Issuer {
    fn start() -> Self {
        let python = workspace_root().join(".venv/bin/python");
        let mut child = Command::new(python)
            .arg("tests/python/oidc_issuer.py")
            .current_dir(workspace_root())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the test issuer starts (run infra/local/bootstrap)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("issuer said {line:?}"))
            .trim()
            .to_owned();
        Self { child, url }
    }

    /// A token of `shape` (`kubernetes` or `github`) with `extra` fields for the mint
    /// request (`audience`, `subject`, `claims`, `iss`).
    async fn mint(&self, shape: &str, extra: Value) -> String {
        let mut body = json!({"shape": shape});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let r = reqwest::Client::new()
            .post(format!("{}/mint", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now() -> u64 {
    m2m_aws::clock::system_clock()
}

/// Verifies an issued token with `jsonwebtoken` against the stack's JWKS.
async fn verify(stack: &Stack, token: &str) -> Value {
    let jwks: jsonwebtoken::jwk::JwkSet =
        reqwest::get(format!("{}/.well-known/jwks.json", stack.base_url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let header = decode_header(token).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let expect = Expect::new(header.alg)
        .audience(API)
        .issuer(stack.base_url.as_str());
    jwt::verify(token, jwk, &expect).unwrap().claims
}

/// Creates a client without a secret, granted `read:orders` on the stack's API.
async fn secretless_client(stack: &Stack, name: &str) -> String {
    let r = reqwest::Client::new()
        .post(format!("{}/clients", stack.admin_url()))
        .json(&json!({"name": name, "secret": false,
                      "grants": [{"api": API, "scopes": ["read:orders"]}]}))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    assert!(body.get("client_secret").is_none(), "{body}");
    body["client_id"].as_str().unwrap().to_owned()
}

async fn admin(stack: &Stack, method: reqwest::Method, path: &str, body: Value) -> Value {
    let r = reqwest::Client::new()
        .request(method, format!("{}{path}", stack.admin_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Posts a client assertion; returns the status and the JSON answer.
async fn token_with(stack: &Stack, assertion: &str, client_id: Option<&str>) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion),
        ("audience", API),
    ];
    if let Some(id) = client_id {
        form.push(("client_id", id));
    }
    let r = reqwest::Client::new()
        .post(stack.token_url())
        .form(&form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn assert_invalid_client(answer: (u16, Value), why: &str) {
    assert_eq!(answer.0, 401, "{why}: {}", answer.1);
    assert_eq!(answer.1["error"], "invalid_client", "{why}");
    assert!(answer.1.get("access_token").is_none(), "{why}");
}

fn python(args: &[&str]) -> String {
    let out = Command::new(workspace_root().join(".venv/bin/python"))
        .args(args)
        .current_dir(workspace_root())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "python {args:?}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// A client's own ES256 assertion, signed here with the key Authlib's script made.
fn own_assertion(dir: &Path, client_id: &str, audience: &str, jti: &str) -> String {
    let pem = std::fs::read(dir.join("private.pem")).unwrap();
    let claims = json!({"iss": client_id, "sub": client_id, "aud": audience,
                        "iat": now(), "exp": now() + 60, "jti": jti});
    jsonwebtoken::encode(
        &Header::new(Algorithm::ES256),
        &claims,
        &EncodingKey::from_ec_pem(&pem).unwrap(),
    )
    .unwrap()
}

async fn private_key_jwt_with_authlib(stack: &Stack, dir: &Path) -> Vec<String> {
    let client_id = secretless_client(stack, "acme keys").await;
    python(&[
        "tests/python/private_key_jwt.py",
        "keygen",
        dir.to_str().unwrap(),
    ]);
    let jwk: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("public.jwk.json")).unwrap())
            .unwrap();
    let added = admin(
        stack,
        reqwest::Method::POST,
        &format!("/clients/{client_id}/keys"),
        json!({"jwk": jwk}),
    )
    .await;
    assert!(added["kid"].is_string(), "{added}");

    // Authlib signs the assertion and sends it (RFC 7523 §2.2).
    let answer: Value = serde_json::from_str(&python(&[
        "tests/python/private_key_jwt.py",
        "token",
        &stack.token_url(),
        &client_id,
        dir.to_str().unwrap(),
        API,
        "read:orders",
    ]))
    .unwrap();
    let token = answer["access_token"].as_str().unwrap();
    let claims = verify(stack, token).await;
    assert_eq!(claims["client_id"], client_id.as_str());
    assert_eq!(claims["scope"], "read:orders");

    // The same assertion twice: the jti is single-use.
    let assertion = own_assertion(dir, &client_id, &stack.token_url(), "e2e-replay");
    let (status, first) = token_with(stack, &assertion, None).await;
    assert_eq!(status, 200, "{first}");
    assert_invalid_client(token_with(stack, &assertion, None).await, "replayed jti");
    // Another audience than this server.
    let elsewhere = own_assertion(dir, &client_id, "https://other.example/token", "e2e-aud");
    assert_invalid_client(token_with(stack, &elsewhere, None).await, "wrong aud");
    vec![assertion, elsewhere]
}

async fn jwks_uri_at_forbidden_addresses(stack: &Stack, dir: &Path) {
    for (n, uri) in [
        "https://169.254.169.254/latest/meta-data/jwks.json",
        "https://10.0.0.7/jwks.json",
        "https://192.168.1.20/jwks.json",
    ]
    .into_iter()
    .enumerate()
    {
        let client_id = secretless_client(stack, &format!("acme uri {n}")).await;
        admin(
            stack,
            reqwest::Method::PUT,
            &format!("/clients/{client_id}/jwks-uri"),
            json!({"jwks_uri": uri}),
        )
        .await;
        let assertion = own_assertion(dir, &client_id, &stack.token_url(), "e2e-uri");
        let started = Instant::now();
        assert_invalid_client(token_with(stack, &assertion, None).await, uri);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{uri} refused before any connection attempt"
        );
    }
}

async fn federation(stack: &Stack, issuer: &Issuer) -> Vec<String> {
    let client_id = secretless_client(stack, "acme workloads").await;
    let rules = format!("/clients/{client_id}/trust-rules");
    admin(
        stack,
        reqwest::Method::POST,
        &rules,
        json!({"issuer": issuer.url, "subject": {"exact": K8S_SUB}, "audience": "m2m-auth",
               "description": "payments/api in the local cluster"}),
    )
    .await;
    admin(
        stack,
        reqwest::Method::POST,
        &rules,
        json!({"issuer": issuer.url, "subject": {"glob": "repo:acme/payments:*"},
               "audience": stack.base_url,
               "claims": {"repository": {"exact": "acme/payments"},
                          "ref": {"glob": "refs/heads/*"}}}),
    )
    .await;
    admin(
        stack,
        reqwest::Method::POST,
        &rules,
        json!({"issuer": LINK_LOCAL_ISSUER, "subject": {"glob": "*"}, "audience": "m2m-auth"}),
    )
    .await;

    // A Kubernetes service-account token, presented as it is.
    let k8s = issuer
        .mint(
            "kubernetes",
            json!({"audience": "m2m-auth", "subject": K8S_SUB}),
        )
        .await;
    let (status, answer) = token_with(stack, &k8s, Some(&client_id)).await;
    assert_eq!(status, 200, "{answer}");
    let claims = verify(stack, answer["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["client_id"], client_id.as_str());
    // It is the workload's standing credential: presented again, it works again.
    let (status, _) = token_with(stack, &k8s, Some(&client_id)).await;
    assert_eq!(status, 200);

    // A GitHub Actions token from a branch of the trusted repository.
    let gh = issuer
        .mint("github", json!({"audience": stack.base_url}))
        .await;
    let (status, answer) = token_with(stack, &gh, Some(&client_id)).await;
    assert_eq!(status, 200, "{answer}");
    verify(stack, answer["access_token"].as_str().unwrap()).await;

    let other_sa = issuer
        .mint(
            "kubernetes",
            json!({"audience": "m2m-auth", "subject": "system:serviceaccount:payments:batch"}),
        )
        .await;
    assert_invalid_client(
        token_with(stack, &other_sa, Some(&client_id)).await,
        "sub not matching",
    );
    let other_repo = issuer
        .mint(
            "github",
            json!({"audience": stack.base_url,
                   "subject": "repo:acme/tools:ref:refs/heads/main",
                   "claims": {"repository": "acme/tools"}}),
        )
        .await;
    assert_invalid_client(
        token_with(stack, &other_repo, Some(&client_id)).await,
        "another repository",
    );
    let tag = issuer
        .mint(
            "github",
            json!({"audience": stack.base_url,
                   "subject": "repo:acme/payments:ref:refs/tags/v1",
                   "claims": {"ref": "refs/tags/v1"}}),
        )
        .await;
    assert_invalid_client(
        token_with(stack, &tag, Some(&client_id)).await,
        "ref outside the pattern",
    );
    let wrong_aud = issuer
        .mint(
            "kubernetes",
            json!({"audience": "kubernetes", "subject": K8S_SUB}),
        )
        .await;
    assert_invalid_client(token_with(stack, &wrong_aud, Some(&client_id)).await, "aud");
    // The same key, another issuer name: not on the allowlist.
    let untrusted_iss = issuer.url.replace("127.0.0.1", "localhost");
    let untrusted = issuer
        .mint(
            "kubernetes",
            json!({"audience": "m2m-auth", "subject": K8S_SUB, "iss": untrusted_iss}),
        )
        .await;
    assert_invalid_client(
        token_with(stack, &untrusted, Some(&client_id)).await,
        "issuer not on the allowlist",
    );
    // On the allowlist, but at the instance metadata address: never fetched.
    let link_local = issuer
        .mint(
            "kubernetes",
            json!({"audience": "m2m-auth", "subject": K8S_SUB, "iss": LINK_LOCAL_ISSUER}),
        )
        .await;
    assert_invalid_client(
        token_with(stack, &link_local, Some(&client_id)).await,
        "issuer at a link-local address",
    );
    vec![
        k8s, gh, other_sa, other_repo, tag, wrong_aud, untrusted, link_local,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secretless_clients_get_tokens_with_keys_and_workload_identities() {
    let issuer = Issuer::start();
    let trusted = format!("{},{LINK_LOCAL_ISSUER}", issuer.url);
    let stack = Stack::start_with(&[("M2M_TRUSTED_ISSUERS", &trusted)])
        .await
        .unwrap_or_else(|e| panic!("stack did not start: {e}"));
    let dir = workspace_root().join("target").join("e2e-private-key-jwt");
    std::fs::create_dir_all(&dir).unwrap();

    let mut credentials = private_key_jwt_with_authlib(&stack, &dir).await;
    jwks_uri_at_forbidden_addresses(&stack, &dir).await;
    credentials.extend(federation(&stack, &issuer).await);

    // Discovery says what the endpoint now accepts.
    let meta: Value = reqwest::get(format!(
        "{}/.well-known/openid-configuration",
        stack.base_url
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(meta["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("private_key_jwt")));

    // No assertion or workload token, nor its signature, reached the function log.
    let log = stack.log_text();
    for jwt in &credentials {
        let signature = jwt.rsplit('.').next().unwrap();
        assert!(!log.contains(signature), "a credential reached the log");
    }
}
