//! End to end: the management API under `cargo lambda watch` on the local stack, over
//! HTTP. A platform's provisioning flow — register an API, create a customer's client
//! with its grant in one call, get a token with the secret shown once, offboard the
//! customer (every client of its organization disabled: no token), bring it back — then
//! the contract test: schemathesis against the OpenAPI document, on its examples and
//! on generated input, with no server error and no response outside the schema.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use m2m_testkit::stack::Stack;
use m2m_testkit::workspace_root;
use serde_json::{json, Value};

const ORDERS: &str = "https://orders.example.com";
const ORDERS_PATH: &str = "https%3A%2F%2Forders.example.com";

async fn token_status(stack: &Stack, id: &str, secret: &str) -> u16 {
    reqwest::Client::new()
        .post(stack.token_url())
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("audience", ORDERS)])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn provisioning_flow(stack: &Stack) -> Vec<String> {
    let http = reqwest::Client::new();
    let admin = stack.admin_url();
    let r = http
        .post(format!("{admin}/apis"))
        .json(&json!({"identifier": ORDERS, "scopes": ["read", "write"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // The identifier, itself a URL, travels percent-encoded in one path segment.
    let r = http
        .get(format!("{admin}/apis/{ORDERS_PATH}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], "\"1\"");

    let mut clients = Vec::new();
    for name in ["eu backend", "us backend"] {
        let r = http
            .post(format!("{admin}/clients"))
            .header("idempotency-key", format!("signup-acme-{name}"))
            .json(
                &json!({"name": name, "org_id": "acme", "metadata": {"plan": "gold"},
                          "grants": [{"api": ORDERS, "scopes": ["read"]}]}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let body: Value = r.json().await.unwrap();
        clients.push((
            body["client_id"].as_str().unwrap().to_owned(),
            body["client_secret"].as_str().unwrap().to_owned(),
        ));
    }
    for (id, secret) in &clients {
        assert_eq!(token_status(stack, id, secret).await, 200);
    }
    let listed: Value = http
        .get(format!("{admin}/orgs/acme/clients"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["clients"].as_array().unwrap().len(), 2);

    let off: Value = http
        .post(format!("{admin}/orgs/acme/disable"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(off["changed"].as_array().unwrap().len(), 2);
    for (id, secret) in &clients {
        assert_eq!(
            token_status(stack, id, secret).await,
            401,
            "an offboarded customer gets no token"
        );
    }
    let r = http
        .post(format!("{admin}/orgs/acme/enable"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for (id, secret) in &clients {
        assert_eq!(token_status(stack, id, secret).await, 200);
    }
    let problem = http
        .get(format!("{admin}/clients/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(problem.status(), 404);
    assert_eq!(
        problem.headers()["content-type"],
        "application/problem+json"
    );
    clients.into_iter().map(|(_, secret)| secret).collect()
}

fn contract_test(stack: &Stack) {
    let root = workspace_root();
    let out = Command::new(root.join("infra/local/contract-test"))
        .arg(&stack.base_url)
        .current_dir(&root)
        .env(
            "PATH",
            format!(
                "{}:{}",
                root.join(".venv/bin").display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .output()
        .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "schemathesis found problems:\n{text}");
    eprintln!("{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn management_api_provisions_offboards_and_keeps_its_contract() {
    let stack = Stack::start().await.unwrap();
    let secrets = provisioning_flow(&stack).await;
    contract_test(&stack);
    let log = stack.log_text();
    for secret in secrets {
        assert!(
            !log.contains(&secret),
            "a client secret reached the function log"
        );
    }
}
