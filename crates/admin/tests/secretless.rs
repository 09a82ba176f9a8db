//! Secretless clients through the CLI as an operator drives it — the built binary,
//! `--json`, the local AWS emulator — and through the token handler: a client created
//! without a secret, its public keys (`client-key`), a `jwks_uri` instead, trust rules
//! (`trust`), each refusal with its exit status and the table unchanged, and
//! `private_key_jwt` assertions (RFC 7523) accepted or refused as the CLI's changes say.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Stdio;

use lambda_http::{Body, Response};
use m2m_aws::{DynamoDirectory, DynamoKeyRegistry, KmsSigner};
use m2m_core::auth::AssertionPolicy;
use m2m_core::ports::NoHook;
use m2m_core::testing::assertions::{
    assertion_form, jwk_set, self_claims, FakeKeySets, TestKey, EC, ED25519, EXTERNAL_ISSUER, RSA,
};
use m2m_core::IssuerConfig;
use m2m_testkit::event::token_form;
use serde_json::{json, Value};
use token::{handle, App};

use common::{Stack, API, ISSUER, T0};

const GITHUB: &str = "https://token.actions.githubusercontent.com";
const CUSTOMER_JWKS: &str = "https://customer.example.com/.well-known/jwks.json";

/// A JWK file for the CLI, removed on drop.
struct JwkFile(PathBuf);

impl JwkFile {
    fn new(json: &str) -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "m2m-admin-{}-{}.jwk.json",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, json).unwrap();
        Self(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for JwkFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn create_secretless(stack: &Stack, name: &str) -> (String, Value) {
    let c = stack
        .admin(T0, &["client", "create", "--name", name, "--no-secret"])
        .ok();
    (c["client_id"].as_str().unwrap().to_owned(), c)
}

fn ensure_api_and_grant(stack: &Stack, id: &str) {
    if stack.admin(T0, &["api", "show", API]).code != 0 {
        stack
            .admin(
                T0,
                &[
                    "api",
                    "create",
                    "--identifier",
                    API,
                    "--scopes",
                    "read:orders",
                ],
            )
            .ok();
    }
    stack
        .admin(
            T0,
            &[
                "grant",
                "add",
                "--client",
                id,
                "--api",
                API,
                "--scopes",
                "read:orders",
            ],
        )
        .ok();
}

type TokenApp = App<DynamoDirectory, KmsSigner<DynamoKeyRegistry>, NoHook, FakeKeySets>;

/// The token handler on the stack's table, trusting [`EXTERNAL_ISSUER`], whose keys
/// (RSA and Ed25519) the fake key sets serve.
async fn token_app(stack: &Stack) -> TokenApp {
    let sdk = stack.aws.setup_sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    App {
        config: IssuerConfig {
            assertions: AssertionPolicy {
                trusted_issuers: vec![EXTERNAL_ISSUER.to_owned()],
                ..AssertionPolicy::default()
            },
            ..m2m_testkit::issuer_config(ISSUER)
        },
        directory: DynamoDirectory::new(dynamo.clone(), &stack.table),
        signer: KmsSigner::new(
            aws_sdk_kms::Client::new(&sdk),
            DynamoKeyRegistry::new(dynamo, &stack.table),
            "alias/m2m-test-no-fallback",
        ),
        hook: None,
        key_sets: FakeKeySets::new().with_issuer(EXTERNAL_ISSUER, jwk_set(&[RSA, ED25519])),
        usage: Default::default(),
    }
}

/// Posts `body` (a form) to the token handler at `now`; returns (status, body).
async fn post(app: &TokenApp, body: &str, now: u64) -> (u16, Value) {
    let response: Response<Body> = handle(app, &token_form(body), now).await;
    let json = serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null);
    (response.status().as_u16(), json)
}

/// A client's own assertion signed with `key`, naming `kid` (its thumbprint when
/// `None`).
fn own_assertion(key: TestKey, kid: Option<&str>, client_id: &str, now: u64, jti: &str) -> String {
    assertion_form(
        &key.sign(&self_claims(client_id, ISSUER, now, jti), None, kid),
        &format!("&audience={}", urlencode(API)),
    )
}

fn urlencode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn keys_registered_listed_expired_removed_and_used() {
    let stack = Stack::without_table("m2m-admin-keys");
    stack.admin(T0, &["init"]).ok();
    let (id, created) = create_secretless(&stack, "Acme workload");
    assert!(created.get("client_secret").is_none(), "{created}");
    assert_eq!(created["secrets"], json!([]));
    assert_eq!(created["keys"], json!([]));
    assert_eq!(created["jwks_uri"], Value::Null);
    ensure_api_and_grant(&stack, &id);

    // Register the EC test key for 30 days: its kid is its RFC 7638 thumbprint.
    let file = JwkFile::new(EC.public_jwk());
    let added = stack
        .admin(
            T0,
            &[
                "client-key",
                "add",
                "--client",
                &id,
                "--jwk-file",
                file.path(),
                "--expires-in",
                "30d",
            ],
        )
        .ok();
    let kid = added["kid"].as_str().unwrap().to_owned();
    assert_eq!(kid, EC.thumbprint());
    assert_eq!(added["kty"], "EC");
    assert_eq!(added["expires_at"], T0 + 30 * 86_400);
    assert_eq!(added["expired"], false);

    // Listed and shown by kid, type and dates only: never the key material.
    let x = serde_json::from_str::<Value>(EC.public_jwk()).unwrap()["x"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = stack.admin(T0, &["client-key", "list", "--client", &id]);
    assert!(!listed.stdout.contains(&x));
    let listed = listed.ok();
    assert_eq!(listed["keys"][0]["kid"], kid.as_str());
    let shown = stack.admin(T0, &["client", "show", &id]);
    assert!(!shown.stdout.contains(&x));
    let shown = shown.ok();
    assert_eq!(shown["keys"][0]["kid"], kid.as_str());
    assert_eq!(shown["trust_rules"], json!([]));
    let text = stack
        .command(T0)
        .args(["client", "show", &id])
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains(&kid) && text.contains("Keys:"), "{text}");

    // The token endpoint accepts an assertion signed with it, once per jti.
    let app = token_app(&stack).await;
    let body = own_assertion(EC, None, &id, T0 + 10, "jti-1");
    let (status, token) = post(&app, &body, T0 + 10).await;
    assert_eq!(status, 200, "{token}");
    let (status, replay) = post(&app, &body, T0 + 11).await;
    assert_eq!(
        (status, replay["error"].as_str()),
        (401, Some("invalid_client"))
    );

    // Refusals: a private key (2), the same kid (4), a jwks_uri beside keys (4), an
    // unknown client (3); the table is unchanged by each.
    let before = stack.scan().await;
    let private = JwkFile::new(
        r#"{"kty":"EC","crv":"P-256","x":"CltEfFclyb9kG_p-uv_EqLcGwDVZFPGRLYYdVaHbOIw","y":"emrJUqSncsEghg5LbJAVysqpSu4TjP7k1sHjs29YJZM","d":"APspUhzeqx5Ng95lSx4pzTtJ-0vtzo_pvsyHlcJ3Jqw"}"#,
    );
    let m = stack
        .admin(
            T0,
            &[
                "client-key",
                "add",
                "--client",
                &id,
                "--jwk-file",
                private.path(),
            ],
        )
        .fails(2);
    assert!(m.contains("private"), "{m}");
    assert!(!m.contains("APspUhzeqx5"), "{m}");
    let m = stack
        .admin(
            T0,
            &[
                "client-key",
                "add",
                "--client",
                &id,
                "--jwk-file",
                file.path(),
            ],
        )
        .fails(4);
    assert!(m.contains("already has"), "{m}");
    let m = stack
        .admin(
            T0,
            &[
                "client",
                "jwks-uri",
                "--client",
                &id,
                "--set",
                CUSTOMER_JWKS,
            ],
        )
        .fails(4);
    assert!(m.contains("registered key"), "{m}");
    let m = stack
        .admin(
            T0,
            &[
                "client-key",
                "add",
                "--client",
                &id,
                "--jwk-file",
                "/nonexistent/k.json",
            ],
        )
        .fails(2);
    assert!(m.contains("--jwk-file"), "{m}");
    for args in [
        &["client-key", "list", "--client", "no-such-client"][..],
        &[
            "client-key",
            "add",
            "--client",
            "no-such-client",
            "--jwk-file",
            file.path(),
        ],
        &[
            "client-key",
            "remove",
            "--client",
            "no-such-client",
            "--kid",
            "k",
        ],
    ] {
        let m = stack.admin(T0, args).fails(3);
        assert!(
            m.contains("client no-such-client not found"),
            "{args:?}: {m}"
        );
    }
    let m = stack
        .admin(
            T0,
            &["client-key", "remove", "--client", &id, "--kid", "-nope"],
        )
        .fails(3);
    assert!(m.contains("has no key -nope"), "{m}");
    assert_eq!(stack.scan().await, before, "refusals change nothing");

    // A second key (its own kid) from standard input, then the rotation: expire the
    // first in 24 h, and remove it; every change bumps the client's version.
    let mut child = stack
        .command(T0)
        .args([
            "--json",
            "client-key",
            "add",
            "--client",
            &id,
            "--jwk-file",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(ED25519.public_jwk_with_kid("acme-2026").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let second: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (second["kid"].as_str(), second["kty"].as_str()),
        (Some("acme-2026"), Some("OKP"))
    );
    let expired = stack
        .admin(
            T0 + 100,
            &[
                "client-key",
                "expire",
                "--client",
                &id,
                "--kid",
                &kid,
                "--in",
                "24h",
            ],
        )
        .ok();
    assert_eq!(expired["expires_at"], T0 + 100 + 86_400);
    assert_eq!(expired["version"], second["version"].as_u64().unwrap() + 1);
    let after = T0 + 100 + 86_400;
    let (status, _) = post(&app, &own_assertion(EC, None, &id, after, "jti-2"), after).await;
    assert_eq!(status, 401, "the expired key no longer authenticates");
    let ed = own_assertion(ED25519, Some("acme-2026"), &id, after, "jti-3");
    let (status, body) = post(&app, &ed, after).await;
    assert_eq!(status, 200, "{body}: the new key works");
    let never = stack
        .admin(
            after,
            &[
                "client-key",
                "expire",
                "--client",
                &id,
                "--kid",
                &kid,
                "--never",
            ],
        )
        .ok();
    assert_eq!(never["expires_at"], Value::Null);
    let removed = stack
        .admin(
            after,
            &["client-key", "remove", "--client", &id, "--kid", &kid],
        )
        .ok();
    assert_eq!(removed["removed"], kid.as_str());
    let (status, _) = post(&app, &own_assertion(EC, None, &id, after, "jti-4"), after).await;
    assert_eq!(status, 401, "a removed key fails at once");
    let listed = stack
        .admin(after, &["client-key", "list", "--client", &id])
        .ok();
    assert_eq!(listed["keys"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn jwks_uri_set_refused_and_cleared() {
    let stack = Stack::with_table("m2m-admin-jwks-uri").await;
    let (id, _) = create_secretless(&stack, "Remote keys");
    let set = stack
        .admin(
            T0,
            &[
                "client",
                "jwks-uri",
                "--client",
                &id,
                "--set",
                CUSTOMER_JWKS,
            ],
        )
        .ok();
    assert_eq!(set["jwks_uri"], CUSTOMER_JWKS);
    let shown = stack.admin(T0, &["client", "show", &id]).ok();
    assert_eq!(shown["jwks_uri"], CUSTOMER_JWKS);
    let before = stack.scan().await;
    let file = JwkFile::new(EC.public_jwk());
    let m = stack
        .admin(
            T0,
            &[
                "client-key",
                "add",
                "--client",
                &id,
                "--jwk-file",
                file.path(),
            ],
        )
        .fails(4);
    assert!(
        m.contains("jwks-uri --client") && m.contains("--clear"),
        "{m}"
    );
    for bad in [
        "http://customer.example.com/jwks.json",
        "https://user:pw@customer.example.com/jwks.json",
        "https://customer.example.com/jwks.json#k",
        "customer.example.com/jwks.json",
    ] {
        stack
            .admin(T0, &["client", "jwks-uri", "--client", &id, "--set", bad])
            .fails(2);
    }
    // Neither or both of --set and --clear: a usage error.
    let usage = stack.admin(T0, &["client", "jwks-uri", "--client", &id]);
    assert_eq!(usage.code, 2, "{}", usage.stderr);
    let usage = stack.admin(
        T0,
        &[
            "client",
            "jwks-uri",
            "--client",
            &id,
            "--set",
            CUSTOMER_JWKS,
            "--clear",
        ],
    );
    assert_eq!(usage.code, 2, "{}", usage.stderr);
    assert_eq!(stack.scan().await, before, "refusals change nothing");
    // The local stack's loopback address is fine over http.
    stack
        .admin(
            T0,
            &[
                "client",
                "jwks-uri",
                "--client",
                &id,
                "--set",
                "http://127.0.0.1:9000/jwks.json",
            ],
        )
        .ok();
    let cleared = stack
        .admin(T0, &["client", "jwks-uri", "--client", &id, "--clear"])
        .ok();
    assert_eq!(cleared["jwks_uri"], Value::Null);
    stack
        .admin(
            T0,
            &[
                "client-key",
                "add",
                "--client",
                &id,
                "--jwk-file",
                file.path(),
            ],
        )
        .ok();
}

#[tokio::test]
async fn trust_rules_added_listed_used_removed_and_deleted_with_client() {
    let stack = Stack::without_table("m2m-admin-trust");
    stack.admin(T0, &["init"]).ok();
    let (id, _) = create_secretless(&stack, "Payments workload");
    ensure_api_and_grant(&stack, &id);

    // A Kubernetes service account, and a GitHub repository's main branch.
    let k8s = stack
        .admin(
            T0,
            &[
                "trust",
                "add",
                "--client",
                &id,
                "--issuer",
                EXTERNAL_ISSUER,
                "--subject",
                "system:serviceaccount:payments:api",
                "--audience",
                "m2m-auth",
                "--description",
                "payments API pods",
            ],
        )
        .ok();
    let k8s_id = k8s["id"].as_str().unwrap().to_owned();
    assert!(k8s_id.starts_with("tr_"), "{k8s}");
    assert_eq!(
        k8s["subject"],
        json!({"exact": "system:serviceaccount:payments:api"})
    );
    let gh = stack
        .admin(
            T0,
            &[
                "trust",
                "add",
                "--client",
                &id,
                "--issuer",
                GITHUB,
                "--subject-glob",
                "repo:acme/payments:ref:refs/heads/*",
                "--audience",
                "https://auth.example.com",
                "--claim",
                "repository=acme/payments",
                "--claim-glob",
                "ref=refs/heads/*",
            ],
        )
        .ok();
    assert_eq!(
        gh["claims"],
        json!({"repository": {"exact": "acme/payments"}, "ref": {"glob": "refs/heads/*"}})
    );
    assert_eq!(gh["version"], k8s["version"].as_u64().unwrap() + 1);

    // Listed a page at a time.
    let first = stack
        .admin(T0, &["trust", "list", "--client", &id, "--limit", "1"])
        .ok();
    assert_eq!(first["trust_rules"].as_array().unwrap().len(), 1);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let second = stack
        .admin(
            T0,
            &[
                "trust", "list", "--client", &id, "--limit", "1", "--after", &cursor,
            ],
        )
        .ok();
    assert_eq!(second["trust_rules"].as_array().unwrap().len(), 1);
    assert_eq!(second["next_cursor"], Value::Null);
    let mut ids = vec![
        first["trust_rules"][0]["id"].as_str().unwrap().to_owned(),
        second["trust_rules"][0]["id"].as_str().unwrap().to_owned(),
    ];
    ids.sort();
    let mut want = vec![k8s_id.clone(), gh["id"].as_str().unwrap().to_owned()];
    want.sort();
    assert_eq!(ids, want);
    let shown = stack.admin(T0, &["client", "show", &id]).ok();
    assert_eq!(shown["trust_rules"].as_array().unwrap().len(), 2);

    // Refusals, the table unchanged.
    let before = stack.scan().await;
    for (args, code, says) in [
        (
            vec![
                "--subject",
                "s",
                "--audience",
                "a",
                "--issuer",
                "http://issuer.example.com",
            ],
            2,
            "https",
        ),
        (
            vec![
                "--subject",
                "s",
                "--audience",
                "a",
                "--issuer",
                GITHUB,
                "--claim",
                "aud=x",
            ],
            2,
            "aud",
        ),
        (
            vec!["--subject", "s", "--audience", "", "--issuer", GITHUB],
            2,
            "audience",
        ),
        (
            vec![
                "--subject",
                "s",
                "--audience",
                "a",
                "--issuer",
                GITHUB,
                "--claim",
                "ref=a",
                "--claim-glob",
                "ref=b",
            ],
            2,
            "twice",
        ),
    ] {
        let mut full = vec!["trust", "add", "--client", id.as_str()];
        full.extend(args);
        let m = stack.admin(T0, &full).fails(code);
        assert!(m.contains(says), "{full:?}: {m}");
    }
    let both = stack.admin(
        T0,
        &[
            "trust",
            "add",
            "--client",
            &id,
            "--issuer",
            GITHUB,
            "--subject",
            "a",
            "--subject-glob",
            "b*",
            "--audience",
            "x",
        ],
    );
    assert_eq!(both.code, 2, "{}", both.stderr);
    let m = stack
        .admin(
            T0,
            &["trust", "list", "--client", &id, "--after", "garbage"],
        )
        .fails(2);
    assert!(m.contains("cursor"), "{m}");
    let m = stack
        .admin(T0, &["trust", "list", "--client", "no-such-client"])
        .fails(3);
    assert!(m.contains("client no-such-client not found"), "{m}");
    let m = stack
        .admin(
            T0,
            &["trust", "remove", "--client", &id, "--rule", "tr_nope"],
        )
        .fails(3);
    assert!(m.contains("has no trust rule tr_nope"), "{m}");
    assert_eq!(stack.scan().await, before, "refusals change nothing");

    // The cluster's token authenticates the client (again and again: a standing
    // credential, answered from the reuse cache) until its rule is removed.
    let app = token_app(&stack).await;
    let external = RSA.sign(
        &json!({
            "iss": EXTERNAL_ISSUER, "sub": "system:serviceaccount:payments:api",
            "aud": ["m2m-auth"], "iat": T0, "exp": T0 + 3600, "jti": "k8s-1",
        }),
        None,
        None,
    );
    let body = assertion_form(
        &external,
        &format!("&client_id={id}&audience={}", urlencode(API)),
    );
    let (status, first) = post(&app, &body, T0 + 1).await;
    assert_eq!(status, 200, "{first}");
    let (status, again) = post(&app, &body, T0 + 2).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(first["access_token"], again["access_token"], "a reuse hit");
    let removed = stack
        .admin(
            T0 + 3,
            &["trust", "remove", "--client", &id, "--rule", &k8s_id],
        )
        .ok();
    assert_eq!(removed["removed"], k8s_id.as_str());
    let (status, after) = post(&app, &body, T0 + 4).await;
    assert_eq!(
        (status, after["error"].as_str()),
        (401, Some("invalid_client")),
        "no reused token outlives its rule"
    );

    // A pattern accepting every subject of the issuer is allowed, with a warning.
    let any = stack
        .admin(
            T0 + 5,
            &[
                "trust",
                "add",
                "--client",
                &id,
                "--issuer",
                GITHUB,
                "--subject-glob",
                "*",
                "--audience",
                "https://auth.example.com",
            ],
        )
        .ok();
    assert!(
        any["warnings"][0]
            .as_str()
            .unwrap()
            .contains("every subject"),
        "{any}"
    );
    let out = stack
        .command(T0 + 5)
        .args([
            "trust",
            "add",
            "--client",
            &id,
            "--issuer",
            GITHUB,
            "--subject-glob",
            "**",
            "--audience",
            "https://auth.example.com",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("warning: the subject pattern accepts every subject"),
        "{text}"
    );

    // Deleting the client deletes its remaining rules too.
    let deleted = stack.admin(T0 + 6, &["client", "delete", &id]).ok();
    assert_eq!(deleted["trust_rules_deleted"], 3);
    assert_eq!(deleted["grants_deleted"], 1);
    let prefix = format!("CLIENT#{id}");
    let left: Vec<_> = stack
        .scan()
        .await
        .into_iter()
        .filter(|i| i["PK"].as_s().unwrap() == &prefix)
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
