//! Test support: runs the built `m2m-admin` binary as an operator would (a child
//! process, `--json`, the environment pointing at the local emulator), reads the whole
//! table to prove refused commands change nothing, and calls the token handler with a
//! printed secret.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::collections::HashMap;
use std::process::Command;

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{Body, Request, Response};
use m2m_aws::DynamoKeyRegistry;
use m2m_aws::{DynamoDirectory, KmsSigner};
use m2m_core::ports::NoHook;
use m2m_testkit::event::token_form;
use m2m_testkit::LocalAws;
use serde_json::Value;
use token::{handle, App};

/// A fixed "now" far from the wall clock, so nothing depends on when tests run.
pub const T0: u64 = 2_000_000_000;
/// The issuer the token handler is configured with.
pub const ISSUER: &str = "https://auth.example.com";
/// The API the tests register.
pub const API: &str = "https://api.example.com/orders";

/// One run of the binary.
#[derive(Debug)]
pub struct Run {
    /// Exit status code.
    pub code: i32,
    /// stdout parsed as JSON (Null when empty or not JSON).
    pub json: Value,
    /// Raw stdout.
    pub stdout: String,
    /// Raw stderr.
    pub stderr: String,
}

impl Run {
    /// Asserts success and returns the JSON document.
    pub fn ok(self) -> Value {
        assert_eq!(self.code, 0, "m2m-admin failed: {}", self.stderr);
        self.json
    }

    /// Asserts failure with `code` and returns the JSON error message.
    pub fn fails(self, code: i32) -> String {
        assert_eq!(
            self.code, code,
            "stdout: {} stderr: {}",
            self.stdout, self.stderr
        );
        assert!(
            self.stdout.is_empty(),
            "nothing on stdout on failure: {}",
            self.stdout
        );
        let err: Value = serde_json::from_str(self.stderr.trim()).unwrap();
        err["message"].as_str().unwrap().to_owned()
    }
}

/// A directory table on the shared emulator.
pub struct Stack {
    /// The emulator.
    pub aws: &'static LocalAws,
    /// The table name.
    pub table: String,
}

impl Stack {
    /// A fresh table on the shared emulator (created by the harness).
    pub async fn with_table(prefix: &str) -> Self {
        let aws = LocalAws::shared().unwrap();
        let table = aws.create_table(prefix).await.unwrap();
        Self { aws, table }
    }

    /// A table name on the shared emulator that does not exist yet (for `init`).
    pub fn without_table(prefix: &str) -> Self {
        let aws = LocalAws::shared().unwrap();
        let table = format!("{prefix}-{}-{}", std::process::id(), rand_suffix());
        Self { aws, table }
    }

    /// The base command: a clean environment with only what an operator would set.
    pub fn command(&self, now: u64) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_m2m-admin"));
        cmd.env_clear()
            .env("AWS_ENDPOINT_URL", self.aws.endpoint())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "AKIDLOCALTEST")
            .env("AWS_SECRET_ACCESS_KEY", "local-test-secret")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("M2M_TABLE", &self.table)
            .env("M2M_ADMIN_NOW", now.to_string());
        cmd
    }

    /// Runs `m2m-admin --json <args>` at `now`.
    pub fn admin(&self, now: u64, args: &[&str]) -> Run {
        let out = self.command(now).arg("--json").args(args).output().unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            json: serde_json::from_str(&stdout).unwrap_or(Value::Null),
            stdout,
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }

    /// A DynamoDB client on the emulator.
    pub async fn dynamo(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.aws.setup_sdk_config().await)
    }

    /// Every item of the table, sorted by key: compared before and after a refused
    /// command to show it changed nothing.
    pub async fn scan(&self) -> Vec<HashMap<String, AttributeValue>> {
        let dynamo = self.dynamo().await;
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = dynamo
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        let key = |i: &HashMap<String, AttributeValue>| {
            (
                i["PK"].as_s().unwrap().clone(),
                i["SK"].as_s().unwrap().clone(),
            )
        };
        items.sort_by_key(key);
        items
    }

    /// Registers the test API (scopes read:orders, write:orders) and a client of org
    /// `org_acme` granted read:orders; returns (client_id, client_secret).
    pub fn customer(&self, now: u64) -> (String, String) {
        if self.admin(now, &["api", "show", API]).code != 0 {
            self.admin(
                now,
                &[
                    "api",
                    "create",
                    "--identifier",
                    API,
                    "--scopes",
                    "read:orders,write:orders",
                    "--name",
                    "Orders",
                ],
            )
            .ok();
        }
        let c = self
            .admin(
                now,
                &[
                    "client",
                    "create",
                    "--name",
                    "Acme backend",
                    "--org",
                    "org_acme",
                    "--metadata",
                    "tier=gold",
                ],
            )
            .ok();
        let id = c["client_id"].as_str().unwrap().to_owned();
        self.admin(
            now,
            &[
                "grant",
                "add",
                "--client",
                &id,
                "--api",
                API,
                "--scopes",
                "read:orders",
            ],
        )
        .ok();
        (id, c["client_secret"].as_str().unwrap().to_owned())
    }

    /// The token handler wired to the table and KMS of the emulator, as the token
    /// function's `main` wires it in AWS.
    pub async fn token_app(
        &self,
    ) -> App<DynamoDirectory, KmsSigner<DynamoKeyRegistry>, NoHook, m2m_core::ports::NoKeySets>
    {
        let sdk = self.aws.setup_sdk_config().await;
        let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
        let kms = aws_sdk_kms::Client::new(&sdk);
        App {
            key_sets: m2m_core::ports::NoKeySets,
            usage: Default::default(),
            config: m2m_testkit::issuer_config(ISSUER),
            directory: DynamoDirectory::new(dynamo.clone(), &self.table),
            signer: KmsSigner::new(
                kms,
                DynamoKeyRegistry::new(dynamo, &self.table),
                "alias/m2m-test-no-fallback",
            ),
            hook: None,
        }
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// An API Gateway v2 token request (form body).
pub fn token_request(client_id: &str, secret: &str, audience: &str) -> Request {
    let body = form_urlencoded_pairs(&[
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", secret),
        ("audience", audience),
    ]);
    token_form(&body)
}

fn form_urlencoded_pairs(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", percent(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn percent(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Asks the token handler for a token at `now`; returns (status, body).
pub async fn get_token(
    app: &App<DynamoDirectory, KmsSigner<DynamoKeyRegistry>, NoHook, m2m_core::ports::NoKeySets>,
    client_id: &str,
    secret: &str,
    now: u64,
) -> (u16, Value) {
    let response: Response<Body> = handle(app, &token_request(client_id, secret, API), now).await;
    let body = serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null);
    (response.status().as_u16(), body)
}

/// The entry for `kid` in a `keys list --json` answer.
pub fn key<'a>(list: &'a serde_json::Value, kid: &str) -> &'a serde_json::Value {
    list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap()
}
