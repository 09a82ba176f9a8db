//! The local AWS emulator: [`LocalAws`] runs moto — the local API for DynamoDB, KMS
//! and Lambda — from the project's virtualenv on a free loopback port, served with
//! HTTP/1.1 keep-alive as AWS endpoints are (`infra/local/moto-serve`), and creates the
//! directory tables and KMS signing keys a test needs. Configurations are returned,
//! never exported into the environment.

use std::fmt;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::SdkConfig;
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use m2m_aws::sdk::{retry_config, timeout_config};

use crate::sdk::endpoint_config;

/// The harness could not start or use the emulator.
#[derive(Debug, thiserror::Error)]
#[error("local AWS emulator: {0}")]
pub struct HarnessError(pub String);

/// How long to wait for moto's server to answer after spawning it.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Threads serving the emulator in its default mode: more than the handful of requests
/// a test has in flight at once.
const SERVER_THREADS: u32 = 8;

/// The workspace root, found from this crate's manifest directory.
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .find(|p| p.join("Cargo.lock").exists() || p.join(".venv").exists())
        .unwrap_or(manifest)
        .to_path_buf()
}

/// A running moto server, stopped on drop.
pub struct LocalAws {
    child: Child,
    port: u16,
    log: LogTail,
}

/// The last lines moto wrote to stderr (its request log and any traceback), kept in
/// memory for error messages rather than left behind in files.
#[derive(Clone, Debug, Default)]
struct LogTail(Arc<Mutex<std::collections::VecDeque<String>>>);

impl LogTail {
    const LINES: usize = 40;

    fn follow(&self, stderr: std::process::ChildStderr) {
        let tail = self.0.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let mut t = match tail.lock() {
                    Ok(t) => t,
                    Err(p) => p.into_inner(),
                };
                if t.len() == Self::LINES {
                    t.pop_front();
                }
                t.push_back(line);
            }
        });
    }

    fn text(&self) -> String {
        let t = match self.0.lock() {
            Ok(t) => t,
            Err(p) => p.into_inner(),
        };
        t.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

impl fmt::Debug for LocalAws {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalAws")
            .field("port", &self.port)
            .finish()
    }
}

impl LocalAws {
    /// Starts `infra/local/moto-serve` (moto's app under a keep-alive HTTP server) with
    /// the virtualenv's Python on a free port and waits until it answers.
    ///
    /// # Errors
    /// When the virtualenv is missing (run `infra/local/bootstrap`) or the server does
    /// not come up.
    pub fn start() -> Result<Self, HarnessError> {
        Self::start_with_venv(&workspace_root().join(".venv"))
    }

    /// Starts moto's server from the virtualenv at `venv`.
    ///
    /// # Errors
    /// As [`LocalAws::start`].
    pub fn start_with_venv(venv: &Path) -> Result<Self, HarnessError> {
        Self::start_mode(venv, false)
    }

    /// Starts a server that handles one request at a time, for tests of concurrent
    /// conditional writes: moto served by several threads does not serialize them, so
    /// two writes conditional on the same version can both succeed there (never in
    /// DynamoDB). Slower under load; use only where atomicity is what is tested.
    ///
    /// # Errors
    /// As [`LocalAws::start`].
    pub fn start_single_threaded() -> Result<Self, HarnessError> {
        Self::start_mode(&workspace_root().join(".venv"), true)
    }

    fn start_mode(venv: &Path, single_threaded: bool) -> Result<Self, HarnessError> {
        let python = venv.join("bin").join("python");
        let server = workspace_root()
            .join("infra")
            .join("local")
            .join("moto-serve");
        if !python.exists() || !venv.join("bin").join("moto_server").exists() {
            return Err(HarnessError(format!(
                "{} not found: run `infra/local/bootstrap` (in the workspace root) to \
                 install the local tools into .venv",
                python.display()
            )));
        }
        let mut last = HarnessError("not started".into());
        // A free port can be taken between probing and binding; try a few.
        for _ in 0..3 {
            match Self::spawn(&python, &server, single_threaded) {
                Ok(aws) => return Ok(aws),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn spawn(python: &Path, server: &Path, single_threaded: bool) -> Result<Self, HarnessError> {
        let port = free_port()?;
        let threads = if single_threaded { 1 } else { SERVER_THREADS };
        // --watch-stdin: when the test process exits for any reason, its end of the
        // server's stdin closes and the server ends, so a harness held in a `static`
        // (whose `Drop` never runs) leaves no orphan server behind.
        let mut child = Command::new(python)
            .arg(server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .args(["--threads", &threads.to_string()])
            .args(["--watch-stdin", "--access-log"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| HarnessError(format!("spawning {}: {e}", server.display())))?;
        let log = LogTail::default();
        if let Some(stderr) = child.stderr.take() {
            log.follow(stderr);
        }
        let mut aws = Self { child, port, log };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = aws.child.try_wait() {
                // Give the log thread a moment to read the traceback.
                std::thread::sleep(Duration::from_millis(100));
                return Err(HarnessError(format!(
                    "moto-serve exited ({status}) on port {port}; its log:\n{}",
                    aws.log.text()
                )));
            }
            if http_post(port, "/moto-api/reset").is_ok_and(|s| s == 200) {
                return Ok(aws);
            }
            if Instant::now() >= deadline {
                let _ = aws.child.kill();
                return Err(HarnessError(format!(
                    "moto-serve did not answer on port {port} within {} s; its log:\n{}",
                    START_TIMEOUT.as_secs(),
                    aws.log.text()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// One server shared by every test of a test binary (started on first use). Tests
    /// sharing it must use unique table names and must not [`reset`](Self::reset) it.
    ///
    /// # Errors
    /// As [`LocalAws::start`]; the first failure is remembered.
    pub fn shared() -> Result<&'static LocalAws, HarnessError> {
        static SHARED: OnceLock<Result<LocalAws, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| LocalAws::start().map_err(|e| e.0))
            .as_ref()
            .map_err(|e| HarnessError(e.clone()))
    }

    /// The port moto listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The endpoint URL, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The last lines of moto's log (one line per request), for diagnosing a test.
    pub fn log_tail(&self) -> String {
        self.log.text()
    }

    /// An SDK configuration for the emulator with the production retry and timeout
    /// settings ([`m2m_aws::config`]), static test credentials and `us-east-1`. Nothing
    /// is read from the environment.
    pub async fn sdk_config(&self) -> SdkConfig {
        self.config(retry_config(), timeout_config()).await
    }

    /// Like [`sdk_config`](Self::sdk_config) but patient (3 attempts, 30 s): for
    /// fixture set-up (key generation in moto can be slow on a loaded machine).
    pub async fn setup_sdk_config(&self) -> SdkConfig {
        self.config(
            RetryConfig::standard().with_max_attempts(3),
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_timeout(Duration::from_secs(30))
                .build(),
        )
        .await
    }

    async fn config(&self, retry: RetryConfig, timeout: TimeoutConfig) -> SdkConfig {
        endpoint_config(&self.endpoint(), retry, timeout).await
    }

    /// Wipes every resource (`POST /moto-api/reset`). Only for a server a test owns.
    ///
    /// # Errors
    /// When moto does not answer 200.
    pub fn reset(&self) -> Result<(), HarnessError> {
        match http_post(self.port, "/moto-api/reset") {
            Ok(200) => Ok(()),
            Ok(status) => Err(HarnessError(format!("reset answered HTTP {status}"))),
            Err(e) => Err(HarnessError(format!("reset failed: {e}"))),
        }
    }

    /// Creates a directory table with a unique name starting with `prefix`, and
    /// returns the name.
    ///
    /// # Errors
    /// When DynamoDB refuses.
    pub async fn create_table(&self, prefix: &str) -> Result<String, HarnessError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "{prefix}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let client = aws_sdk_dynamodb::Client::new(&self.setup_sdk_config().await);
        m2m_aws::dynamo::table::create_table(&client, &name)
            .await
            .map_err(|e| HarnessError(format!("creating table {name}: {}", chain(&e))))?;
        Ok(name)
    }

    /// Writes `items` into `table` (setup, with the patient setup configuration).
    ///
    /// # Errors
    /// When DynamoDB refuses one.
    pub async fn put_items(
        &self,
        table: &str,
        items: impl IntoIterator<Item = m2m_aws::dynamo::item::Item>,
    ) -> Result<(), HarnessError> {
        let client = aws_sdk_dynamodb::Client::new(&self.setup_sdk_config().await);
        for item in items {
            client
                .put_item()
                .table_name(table)
                .set_item(Some(item))
                .send()
                .await
                .map_err(|e| HarnessError(format!("PutItem into {table}: {}", chain(&e))))?;
        }
        Ok(())
    }

    /// Creates a table (see [`create_table`](Self::create_table)) holding the
    /// fixtures' API, client (its secret hashed) and grant
    /// ([`fixture_directory_items`]), and returns its name.
    ///
    /// # Errors
    /// When DynamoDB refuses.
    pub async fn seeded_table(&self, prefix: &str) -> Result<String, HarnessError> {
        let table = self.create_table(prefix).await?;
        self.put_items(&table, fixture_directory_items()).await?;
        Ok(table)
    }

    /// Creates a `SIGN_VERIFY` KMS key of `spec` (`RSA_2048` or `ECC_NIST_P256`) and
    /// returns its key id.
    ///
    /// # Errors
    /// When KMS refuses.
    pub async fn create_kms_key(&self, spec: KeySpec) -> Result<String, HarnessError> {
        let kms = aws_sdk_kms::Client::new(&self.setup_sdk_config().await);
        let out = kms
            .create_key()
            .key_spec(spec)
            .key_usage(KeyUsageType::SignVerify)
            .description("m2m-aws test key")
            .send()
            .await
            .map_err(|e| HarnessError(format!("CreateKey: {}", chain(&e))))?;
        out.key_metadata
            .map(|m| m.key_id)
            .ok_or_else(|| HarnessError("CreateKey returned no key metadata".into()))
    }
}

impl Drop for LocalAws {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    m2m_core::error::Chain(e).to_string()
}

pub(crate) fn free_port() -> Result<u16, HarnessError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| HarnessError(format!("finding a free port: {e}")))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| HarnessError(format!("finding a free port: {e}")))
}

/// A minimal HTTP/1.1 POST with an empty body; returns the status code.
fn http_post(port: u16, path: &str) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("malformed HTTP response"))
}

/// The directory items of the fixtures (`m2m_core::testing::fixtures`): the API with
/// its scopes, the client with its secret's hash, and the grant between them.
pub fn fixture_directory_items() -> Vec<m2m_aws::dynamo::item::Item> {
    use m2m_aws::dynamo::item;
    use m2m_core::testing::fixtures::{
        self, API, API_SCOPES, CLIENT_ID, CLIENT_SECRET, GRANTED_SCOPES,
    };
    vec![
        item::api_to_item(&fixtures::api(API, API_SCOPES)),
        item::client_to_item(&fixtures::client(CLIENT_ID, CLIENT_SECRET)),
        item::grant_to_item(&fixtures::grant(CLIENT_ID, API, GRANTED_SCOPES)),
    ]
}
