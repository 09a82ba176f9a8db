//! The whole service on one machine: the local AWS emulator (moto), a seeded directory
//! with an active KMS signing key, and the token, JWKS and claims-hook functions served
//! by `cargo lambda watch` on a loopback port, exactly as `infra/local/run` serves them.
//! Independent clients then talk HTTP to it.

use std::fs::File;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_kms::types::KeySpec;
use m2m_aws::dynamo::item;
use m2m_core::model::{KeyStatus, SigningKey};
use m2m_core::testing::fixtures;

use crate::moto::{workspace_root, LocalAws};

/// Execution environments `cargo lambda watch` may start per function.
pub const INSTANCES: u32 = 4;

/// The management API's stand-in principal on the local stack (no API Gateway to verify
/// SigV4 there; debug builds of the function only).
pub const LOCAL_PRINCIPAL: &str = "local-operator";

/// The API every e2e client asks a token for.
pub const API: &str = "https://api.example.com";

/// A demo client: id and secret, as an operator would hand them to a customer.
#[derive(Clone)]
pub struct Credentials {
    /// client_id.
    pub id: String,
    /// client_secret (test-only values).
    pub secret: String,
}

/// How long the stack's authorizer reuses the revocation list, in seconds.
pub const AUTHORIZER_REVOCATION_CACHE: u64 = 2;

impl Stack {
    /// Invokes the revocation-aware authorizer as API Gateway would for `GET /orders`
    /// with `authorization` as the header (through the local invoke API), and returns
    /// its answer: `isAuthorized` and `context`.
    pub async fn authorize(&self, authorization: &str) -> Result<serde_json::Value, BoxError> {
        let mut event: serde_json::Value =
            serde_json::from_str(include_str!("../fixtures/apigw_v2_authorizer_request.json"))?;
        event["headers"]["authorization"] = authorization.into();
        event["identitySource"] = serde_json::json!([authorization]);
        let answer = reqwest::Client::new()
            .post(format!(
                "{}/2015-03-31/functions/authorizer/invocations",
                self.base_url
            ))
            .json(&event)
            .timeout(Duration::from_secs(900))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(answer)
    }
}

/// A running stack. Dropping it stops `cargo lambda watch` (its whole process group)
/// and the emulator.
pub struct Stack {
    /// The emulator.
    pub aws: LocalAws,
    /// The table name.
    pub table: String,
    /// `http://127.0.0.1:<port>`: the issuer and the functions' base URL.
    pub base_url: String,
    /// A client with `claim.plan=gold` metadata, granted read and write.
    pub client: Credentials,
    /// A client whose metadata says `suspended=true` (the reference hook refuses it).
    pub suspended: Credentials,
    /// Where `cargo lambda watch` logs.
    pub log: PathBuf,
    watch: Child,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn free_port() -> Result<u16, BoxError> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Stack {
    /// Starts everything and waits until the functions answer (the first start
    /// compiles them, which can take minutes on a cold target directory).
    pub async fn start() -> Result<Self, BoxError> {
        Self::start_with(&[]).await
    }

    /// Like [`Self::start`], with more environment for the functions (for example
    /// `M2M_TRUSTED_ISSUERS` naming an issuer a test serves on loopback).
    pub async fn start_with(env: &[(&str, &str)]) -> Result<Self, BoxError> {
        let aws = LocalAws::start()?;
        let sdk = aws.setup_sdk_config().await;
        let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
        let kms = aws_sdk_kms::Client::new(&sdk);
        let table = aws.create_table("e2e").await?;

        let key_id = aws.create_kms_key(KeySpec::Rsa2048).await?;
        let public = m2m_aws::public_jwk(&kms, &key_id).await?;
        let key = SigningKey {
            kid: public.jwk.thumbprint(),
            kms_key_id: public.key_arn.clone(),
            alg: public.alg,
            status: KeyStatus::Active,
            public_jwk: public.jwk.clone(),
            created_at: fixtures::NOW,
            activated_at: Some(fixtures::NOW),
            retired_at: None,
        };
        let client = Credentials {
            id: "e2e-gold".into(),
            secret: "m2m_sk_e2e-gold-secret".into(),
        };
        let suspended = Credentials {
            id: "e2e-suspended".into(),
            secret: "m2m_sk_e2e-suspended-secret".into(),
        };
        let mut gold = fixtures::client_in_org(&client.id, &client.secret, "org_gold");
        gold.metadata.insert("claim.plan".into(), "gold".into());
        let mut susp = fixtures::client(&suspended.id, &suspended.secret);
        susp.metadata.insert("suspended".into(), "true".into());
        let mut put = vec![
            item::signing_key_to_item(&key)?,
            item::api_to_item(&fixtures::api(
                API,
                &["read:orders", "write:orders", "admin"],
            )),
            item::client_to_item(&gold),
            item::client_to_item(&susp),
            item::grant_to_item(&fixtures::grant(
                &client.id,
                API,
                &["read:orders", "write:orders"],
            )),
            item::grant_to_item(&fixtures::grant(&suspended.id, API, &["read:orders"])),
        ];
        for item in put.drain(..) {
            dynamo
                .put_item()
                .table_name(&table)
                .set_item(Some(item))
                .send()
                .await?;
        }

        let port = free_port()?;
        let base_url = format!("http://127.0.0.1:{port}");
        let root = workspace_root();
        let log = root.join("target").join(format!("e2e-watch-{port}.log"));
        let out = File::create(&log)?;
        let cargo_lambda = root.join(".venv").join("bin").join("cargo-lambda");
        let mut cmd = Command::new(&cargo_lambda);
        cmd.current_dir(&root)
            .args([
                "lambda",
                "watch",
                "--ignore-changes",
                "--invoke-address",
                "127.0.0.1",
            ])
            .args(["--invoke-port", &port.to_string()])
            // Several execution environments per function, as Lambda scales out: a
            // burst does not queue behind one instance (and the hook's timeout).
            .args(["--concurrency", &INSTANCES.to_string()])
            // The functions log at the most verbose level, so the log scan proves that
            // nothing logged at any level (the Lambda runtime's raw event, the SDK's
            // bodies) carries a secret or a token; the watcher itself logs at info.
            .args(["--env-var", "RUST_LOG=trace"])
            .env("AWS_ENDPOINT_URL", aws.endpoint())
            .env("AWS_ENDPOINT_URL_LAMBDA", &base_url)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "local")
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .env("M2M_TABLE", &table)
            .env("M2M_ISSUER", &base_url)
            .env("M2M_SIGNING_KEY", &key_id)
            .env("M2M_CLAIMS_HOOK", "claims-hook")
            .env("M2M_STACK", "local")
            .env("M2M_PARTITION", "aws")
            .env("M2M_ACCOUNT_ID", "123456789012")
            .env("M2M_ADMIN_LOCAL_PRINCIPAL", LOCAL_PRINCIPAL)
            // Key sets of `jwks_uri`s and trusted issuers may be served on loopback
            // (over http) by the tests; private and link-local ranges stay refused.
            // Honoured by debug builds only.
            .env("M2M_FETCH_ALLOW_LOOPBACK", "1")
            // The authorizer protects the fixture API: GET /orders needs read:orders;
            // it rereads the revocation list every 2 s, so a test sees it take effect.
            .env("M2M_AUDIENCE", API)
            .env("M2M_ROUTE_SCOPES", r#"{"GET /orders": "read:orders"}"#)
            .env(
                "M2M_REVOCATION_CACHE_SECONDS",
                AUTHORIZER_REVOCATION_CACHE.to_string(),
            )
            .envs(env.iter().copied())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt as _;
            cmd.process_group(0);
        }
        let watch = cmd
            .spawn()
            .map_err(|e| format!("{}: {e}; run infra/local/bootstrap", cargo_lambda.display()))?;
        let stack = Stack {
            aws,
            table,
            base_url,
            client,
            suspended,
            log,
            watch,
        };
        stack.wait_ready().await?;
        Ok(stack)
    }

    async fn wait_ready(&self) -> Result<(), BoxError> {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20 * 60);
        // Both functions must answer: each is compiled and started on first use.
        for path in [
            "/.well-known/openid-configuration",
            "/oauth/token",
            "/admin/v1/apis",
        ] {
            loop {
                let url = format!("{}{path}", self.base_url);
                let answered = match http
                    .get(&url)
                    .timeout(Duration::from_secs(600))
                    .send()
                    .await
                {
                    Ok(r) => r.status().as_u16() == 200 || r.status().as_u16() == 405,
                    Err(_) => false,
                };
                if answered {
                    break;
                }
                if Instant::now() > deadline {
                    let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                    let tail: String = log.lines().rev().take(40).collect::<Vec<_>>().join("\n");
                    return Err(format!(
                        "cargo lambda watch did not serve {path}; log tail (reversed):\n{tail}"
                    )
                    .into());
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        // The hook is compiled and started on its first Invoke: warm it so the token
        // function's first call does not hit its 1.5 s timeout.
        let invoke = format!(
            "{}/2015-03-31/functions/claims-hook/invocations",
            self.base_url
        );
        let sample = serde_json::json!({
            "version": "1",
            "client": {"id": "warm-up", "name": "warm-up", "org_id": null, "metadata": {}},
            "audience": API, "scopes": [], "claims": {}
        });
        loop {
            let ok = http
                .post(&invoke)
                .json(&sample)
                .timeout(Duration::from_secs(600))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                break;
            }
            if Instant::now() > deadline {
                return Err("cargo lambda watch did not serve the claims hook".into());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Ok(())
    }

    /// `<base>/oauth/token`.
    pub fn token_url(&self) -> String {
        format!("{}/oauth/token", self.base_url)
    }

    /// `<base>/admin/v1`: the management API.
    pub fn admin_url(&self) -> String {
        format!("{}/admin/v1", self.base_url)
    }

    /// The function log so far (for leak scans).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // cargo lambda watch runs the functions as children: stop the whole group.
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.watch.id())])
            .status();
        let _ = self.watch.kill();
        let _ = self.watch.wait();
    }
}
