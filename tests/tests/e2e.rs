//! End to end: the token, JWKS and claims-hook functions under `cargo lambda watch`,
//! against the local AWS emulator with a real (emulated) KMS key, exercised over HTTP
//! by independent clients — the Rust `oauth2` crate (client_secret_basic and
//! client_secret_post), Python (Authlib + PyJWT) and Node (jose) — each verifying the
//! token through the discovery document and the JWKS.
//!
//! One test owns the whole stack so it is always stopped, even when a check fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;
use std::time::Instant;

use jsonwebtoken::{decode_header, Algorithm};
use m2m_testkit::jwt::{self, Expect};
use m2m_testkit::stack::{Credentials, Stack, API};
use m2m_testkit::workspace_root;
use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};
use serde_json::Value;

async fn discovery(stack: &Stack) -> Value {
    reqwest::get(format!(
        "{}/.well-known/openid-configuration",
        stack.base_url
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap()
}

/// Verifies `token` with `jsonwebtoken` against the JWKS found through discovery.
async fn verify(stack: &Stack, token: &str) -> Value {
    let meta = discovery(stack).await;
    assert_eq!(meta["issuer"], stack.base_url);
    let jwks: jsonwebtoken::jwk::JwkSet = reqwest::get(meta["jwks_uri"].as_str().unwrap())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = decode_header(token).unwrap();
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("token kid in JWKS");
    let expect = Expect::new(header.alg)
        .audience(API)
        .issuer(stack.base_url.as_str());
    assert!(matches!(header.alg, Algorithm::RS256 | Algorithm::ES256));
    jwt::verify(token, jwk, &expect).unwrap().claims
}

async fn oauth2_token(
    stack: &Stack,
    creds: &Credentials,
    auth: AuthType,
) -> Result<String, String> {
    let client = BasicClient::new(ClientId::new(creds.id.clone()))
        .set_client_secret(ClientSecret::new(creds.secret.clone()))
        .set_token_uri(TokenUrl::new(stack.token_url()).unwrap())
        .set_auth_type(auth);
    let http = reqwest::ClientBuilder::new()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    client
        .exchange_client_credentials()
        .add_scope(Scope::new("read:orders".into()))
        .add_extra_param("audience", API)
        .request_async(&http)
        .await
        .map(|t| t.access_token().secret().clone())
        .map_err(|e| format!("{e:?}"))
}

fn run_client(stack: &Stack, program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(workspace_root())
        .env("M2M_BASE_URL", &stack.base_url)
        .env("M2M_CLIENT_ID", &stack.client.id)
        .env("M2M_CLIENT_SECRET", &stack.client.secret)
        .env("M2M_AUDIENCE", API)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{program} {args:?} failed:\n{text}");
    println!("{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stack_serves_verifiable_tokens_to_independent_clients() {
    let stack = Stack::start()
        .await
        .unwrap_or_else(|e| panic!("stack did not start: {e}"));

    // Rust oauth2 crate, both client authentication methods.
    for auth in [AuthType::BasicAuth, AuthType::RequestBody] {
        let token = oauth2_token(&stack, &stack.client, auth.clone())
            .await
            .unwrap();
        let claims = verify(&stack, &token).await;
        assert_eq!(claims["client_id"], stack.client.id);
        assert_eq!(claims["scope"], "read:orders");
        assert_eq!(claims["org_id"], "org_gold");
        // The reference hook maps `claim.plan` metadata to a namespaced claim.
        assert_eq!(claims["https://m2m-auth.dev/plan"], "gold", "{claims}");
    }

    // The hook refuses a suspended customer: 403 access_denied, no token.
    let refused = oauth2_token(&stack, &stack.suspended, AuthType::BasicAuth)
        .await
        .unwrap_err();
    assert!(refused.contains("access_denied"), "{refused}");
    let raw = reqwest::Client::new()
        .post(stack.token_url())
        .basic_auth(&stack.suspended.id, Some(&stack.suspended.secret))
        .form(&[("grant_type", "client_credentials"), ("audience", API)])
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 403);
    let body: Value = raw.json().await.unwrap();
    assert_eq!(body["error"], "access_denied");

    // Python (Authlib + PyJWT) and Node (jose).
    let python = workspace_root().join(".venv/bin/python");
    run_client(
        &stack,
        python.to_str().unwrap(),
        &["tests/python/client_credentials.py"],
    );
    run_client(&stack, "node", &["tests/node/client.mjs"]);

    // Latency of warm issuance through the hook (one Invoke round trip), for the note.
    let http = reqwest::Client::new();
    let mut times = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        let r = http
            .post(stack.token_url())
            .basic_auth(&stack.client.id, Some(&stack.client.secret))
            .form(&[("grant_type", "client_credentials"), ("audience", API)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "e2e warm issuance with hook: median {:.1} ms over 30 requests",
        times[15]
    );

    // The hook path adds one Invoke round trip: time that round trip alone.
    let invoke = format!(
        "{}/2015-03-31/functions/claims-hook/invocations",
        stack.base_url
    );
    let sample = serde_json::json!({
        "version": "1",
        "client": {"id": "c", "name": "n", "org_id": null, "metadata": {"claim.plan": "gold"}},
        "audience": API, "scopes": ["read:orders"], "claims": {}
    });
    let mut invokes = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        let r = http.post(&invoke).json(&sample).send().await.unwrap();
        assert!(r.status().is_success());
        let answer: Value = r.json().await.unwrap();
        assert_eq!(answer["claims"]["https://m2m-auth.dev/plan"], "gold");
        invokes.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    invokes.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "e2e claims-hook Invoke round trip: median {:.1} ms over 30 invokes",
        invokes[15]
    );

    // A burst of concurrent requests through the hook: the watcher runs several
    // instances of each function, as Lambda scales out, and the hook's own timeout (not
    // the SDK's shorter per-attempt one) bounds each Invoke.
    let burst: Vec<_> = (0..16)
        .map(|_| {
            tokio::spawn(
                http.post(stack.token_url())
                    .basic_auth(&stack.client.id, Some(&stack.client.secret))
                    .form(&[("grant_type", "client_credentials"), ("audience", API)])
                    .send(),
            )
        })
        .collect();
    for r in burst {
        let status = r.await.unwrap().unwrap().status();
        assert_eq!(status, 200, "a token request of the burst failed");
    }

    // Nothing secret in the functions' logs, written at RUST_LOG=trace (the log scan,
    // infra/local/scan-logs, reads the same file for secrets, hashes and tokens).
    let log = stack.log_text();
    assert!(log.contains("token issued"), "function logs captured");
    assert!(
        log.contains(r#""level":"DEBUG""#) && log.contains("configuration read"),
        "the functions logged below info: RUST_LOG=trace reached them"
    );
    for secret in [&stack.client.secret, &stack.suspended.secret] {
        assert!(
            !log.contains(secret.as_str()),
            "a client secret reached the log"
        );
    }
}
