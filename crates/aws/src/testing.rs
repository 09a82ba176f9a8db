//! Test support (feature `testing`): [`LocalAws`] runs moto — the local AWS API for
//! DynamoDB, KMS and Lambda — from the project's virtualenv on a free loopback port,
//! served with HTTP/1.1 keep-alive as AWS endpoints are (`infra/local/moto-serve`),
//! [`RequestCounter`] counts the AWS requests a client sends and [`ConnectionCounter`]
//! the TCP connections it opens. Nothing here
//! touches process-global state: configurations are returned, not exported.

use std::collections::BTreeMap;
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
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use crate::sdk::{retry_config, timeout_config};

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
    /// settings ([`crate::sdk`]), static test credentials and `us-east-1`. Nothing
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
        crate::dynamo::table::create_table(&client, &name)
            .await
            .map_err(|e| HarnessError(format!("creating table {name}: {}", chain(&e))))?;
        Ok(name)
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

/// An SDK configuration for any local endpoint (the emulator, a [`CannedServer`]) with
/// the production retry and timeout settings, static test credentials and
/// `us-east-1`, reading nothing from the environment.
pub async fn local_sdk_config(endpoint: &str) -> SdkConfig {
    endpoint_config(endpoint, retry_config(), timeout_config()).await
}

async fn endpoint_config(endpoint: &str, retry: RetryConfig, timeout: TimeoutConfig) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .empty_test_environment()
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDLOCALTEST",
            "local-test-secret",
            None,
            None,
            "m2m-aws-testing",
        ))
        .endpoint_url(endpoint)
        .retry_config(retry)
        .timeout_config(timeout)
        .stalled_stream_protection(crate::sdk::stalled_stream_protection())
        .load()
        .await
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    m2m_core::error::Chain(e).to_string()
}

fn free_port() -> Result<u16, HarnessError> {
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

/// Counts the requests SDK clients put on the wire, per service and operation
/// (`read_before_transmit` runs once per attempt, so retries count). Cloning shares
/// the counts.
#[derive(Clone, Debug, Default)]
pub struct RequestCounter {
    counts: Arc<Mutex<BTreeMap<(String, String), usize>>>,
}

impl RequestCounter {
    /// A counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests sent to `service` (`DynamoDB`, `KMS`, `Lambda`).
    pub fn count(&self, service: &str) -> usize {
        self.snapshot()
            .iter()
            .filter(|((s, _), _)| s == service)
            .map(|(_, n)| n)
            .sum()
    }

    /// Requests sent to every service.
    pub fn total(&self) -> usize {
        self.snapshot().values().sum()
    }

    /// Every `(service, operation) -> count` seen.
    pub fn snapshot(&self) -> BTreeMap<(String, String), usize> {
        match self.counts.lock() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Sets every count back to zero.
    pub fn clear(&self) {
        match self.counts.lock() {
            Ok(mut c) => c.clear(),
            Err(poisoned) => poisoned.into_inner().clear(),
        }
    }

    /// A DynamoDB client on `sdk` that counts into `self`.
    pub fn dynamo(&self, sdk: &SdkConfig) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(sdk)
                .interceptor(self.clone())
                .build(),
        )
    }

    /// A KMS client on `sdk` that counts into `self`.
    pub fn kms(&self, sdk: &SdkConfig) -> aws_sdk_kms::Client {
        aws_sdk_kms::Client::from_conf(
            aws_sdk_kms::config::Builder::from(sdk)
                .interceptor(self.clone())
                .build(),
        )
    }

    /// A Lambda client on `sdk` that counts into `self`.
    pub fn lambda(&self, sdk: &SdkConfig) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::from_conf(
            aws_sdk_lambda::config::Builder::from(sdk)
                .interceptor(self.clone())
                .build(),
        )
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "m2m-aws RequestCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_owned(), m.name().to_owned()))
            .unwrap_or_else(|| ("unknown".to_owned(), "unknown".to_owned()));
        let mut counts = match self.counts.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        *counts.entry((service, operation)).or_insert(0) += 1;
        Ok(())
    }
}

/// What a [`CannedServer`] does with every request.
#[derive(Clone, Debug)]
pub enum Canned {
    /// Answer with this status, headers and body.
    Respond {
        /// HTTP status.
        status: u16,
        /// Response headers.
        headers: Vec<(String, String)>,
        /// Response body.
        body: Vec<u8>,
    },
    /// Read the request and never answer (until the server is dropped).
    Hang,
}

impl Canned {
    /// An AWS JSON-protocol error (DynamoDB, KMS): HTTP `status` with
    /// `{"__type": error_type, "message": ..}`, how those services report e.g.
    /// `ThrottlingException` or `DisabledException`.
    pub fn aws_json_error(status: u16, error_type: &str) -> Self {
        let body = format!(r#"{{"__type":"{error_type}","message":"injected by CannedServer"}}"#);
        Self::Respond {
            status,
            headers: vec![
                ("Content-Type".into(), "application/x-amz-json-1.1".into()),
                ("x-amzn-ErrorType".into(), error_type.into()),
            ],
            body: body.into_bytes(),
        }
    }

    /// A Lambda `Invoke` answer: 200 with `payload`, and `X-Amz-Function-Error` when
    /// `function_error` is set (the function itself failed).
    pub fn lambda_invoke(payload: &str, function_error: Option<&str>) -> Self {
        let mut headers = vec![("Content-Type".into(), "application/json".into())];
        if let Some(kind) = function_error {
            headers.push(("X-Amz-Function-Error".into(), kind.into()));
        }
        Self::Respond {
            status: 200,
            headers,
            body: payload.as_bytes().to_vec(),
        }
    }
}

/// A loopback HTTP server answering every request the same way: injects a
/// dependency's failure (throttling, a disabled key, a hanging or failing hook) that
/// the emulator cannot produce, behind the real SDK clients. Stopped on drop.
#[derive(Debug)]
pub struct CannedServer {
    port: u16,
    stop: Arc<std::sync::atomic::AtomicBool>,
    hits: Arc<std::sync::atomic::AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CannedServer {
    /// Starts the server on a free loopback port.
    ///
    /// # Errors
    /// When no port can be bound.
    pub fn start(canned: Canned) -> Result<Self, HarnessError> {
        use std::sync::atomic::{AtomicBool, AtomicUsize};
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| HarnessError(format!("binding a canned server: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| HarnessError(format!("binding a canned server: {e}")))?
            .port();
        listener
            .set_nonblocking(true)
            .map_err(|e| HarnessError(format!("binding a canned server: {e}")))?;
        let stop = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(AtomicUsize::new(0));
        let (stop2, hits2) = (stop.clone(), hits.clone());
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        hits2.fetch_add(1, Ordering::Relaxed);
                        let (canned, stop3) = (canned.clone(), stop2.clone());
                        std::thread::spawn(move || serve_canned(stream, &canned, &stop3));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Ok(Self {
            port,
            stop,
            hits,
            thread: Some(thread),
        })
    }

    /// The endpoint URL, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Connections accepted so far (one per SDK attempt: we close after answering).
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::Relaxed)
    }
}

impl Drop for CannedServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve_canned(mut stream: TcpStream, canned: &Canned, stop: &std::sync::atomic::AtomicBool) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    // Read the head, then as many body bytes as Content-Length says.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
        }
    }
    match canned {
        Canned::Hang => {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Canned::Respond {
            status,
            headers,
            body,
        } => {
            let mut out = format!("HTTP/1.1 {status} Canned\r\n");
            for (k, v) in headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str(&format!(
                "Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            ));
            let _ = stream.write_all(out.as_bytes());
            let _ = stream.write_all(body);
            let _ = stream.flush();
        }
    }
}

/// One `Allow` statement of a role's inline policies in the SAM template: its actions
/// and its text (resources and conditions), read line by line from the template's
/// layout (`- Effect:` opens a statement, `Action:` is a name or a flow list).
#[derive(Clone, Debug, Default)]
pub struct PolicyStatement {
    /// The statement's actions, e.g. `dynamodb:PutItem`.
    pub actions: Vec<String>,
    /// The statement's lines, for checks on its resources and conditions.
    pub text: String,
}

/// The statements of the IAM role resource `role` in `template`.
pub fn role_statements(template: &str, role: &str) -> Vec<PolicyStatement> {
    let header = format!("  {role}:");
    let mut lines = template.lines().skip_while(|l| l.trim_end() != header);
    lines.next();
    let body = lines
        .take_while(|l| l.is_empty() || l.starts_with("   ") || l.trim_start().starts_with('#'));
    let mut statements: Vec<PolicyStatement> = Vec::new();
    for line in body {
        let t = line.trim();
        if t.starts_with("- Effect:") {
            statements.push(PolicyStatement::default());
        } else if t.starts_with("- PolicyName:") || t.starts_with("- !If") {
            // A new policy: the current statement has ended.
            statements.push(PolicyStatement::default());
            continue;
        }
        let Some(current) = statements.last_mut() else {
            continue;
        };
        if t.starts_with('#') {
            continue;
        }
        current.text.push_str(t);
        current.text.push('\n');
        if let Some(value) = t.strip_prefix("Action:") {
            let value = value.trim().trim_start_matches('[').trim_end_matches(']');
            current.actions.extend(
                value
                    .split(',')
                    .map(|a| a.trim().trim_matches('\'').to_owned())
                    .filter(|a| !a.is_empty()),
            );
        }
    }
    statements.retain(|s| !s.actions.is_empty());
    statements
}

/// The actions `role` allows on the given services (`dynamodb`, `kms`, `lambda`).
pub fn role_actions(
    template: &str,
    role: &str,
    services: &[&str],
) -> std::collections::BTreeSet<String> {
    role_statements(template, role)
        .into_iter()
        .flat_map(|s| s.actions)
        .filter(|a| services.iter().any(|svc| a.starts_with(&format!("{svc}:"))))
        .collect()
}

/// The IAM actions that authorize the operations a [`RequestCounter`] recorded
/// (`DynamoDB`/`BatchGetItem` → `dynamodb:BatchGetItem`; Lambda `Invoke` →
/// `lambda:InvokeFunction`).
pub fn iam_actions(
    recorded: &BTreeMap<(String, String), usize>,
) -> std::collections::BTreeSet<String> {
    recorded
        .keys()
        .map(
            |(service, operation)| match (service.as_str(), operation.as_str()) {
                ("Lambda", "Invoke") => "lambda:InvokeFunction".to_owned(),
                (s, op) => format!("{}:{op}", s.to_ascii_lowercase()),
            },
        )
        .collect()
}

/// A transparent TCP proxy in front of a local endpoint that counts the connections
/// opened through it: an SDK configuration pointed at [`endpoint`](Self::endpoint)
/// reaches the same server, and [`opened`](Self::opened) tells how many TCP connections
/// its clients opened (a warm client on a keep-alive server opens none).
pub struct ConnectionCounter {
    port: u16,
    opened: Arc<AtomicU64>,
}

impl fmt::Debug for ConnectionCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionCounter")
            .field("port", &self.port)
            .field("opened", &self.opened())
            .finish()
    }
}

impl ConnectionCounter {
    /// Listens on a free loopback port and forwards every connection, byte for byte,
    /// to `127.0.0.1:<upstream>`. The proxy's threads live as long as the test process.
    ///
    /// # Errors
    /// When no port can be bound.
    pub fn start(upstream: u16) -> Result<Self, HarnessError> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| HarnessError(format!("binding the connection counter: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| HarnessError(format!("binding the connection counter: {e}")))?
            .port();
        let opened = Arc::new(AtomicU64::new(0));
        let counted = opened.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                counted.fetch_add(1, Ordering::SeqCst);
                let Ok(server) = TcpStream::connect((Ipv4Addr::LOCALHOST, upstream)) else {
                    continue;
                };
                pipe(&client, &server);
                pipe(&server, &client);
            }
        });
        Ok(Self { port, opened })
    }

    /// The endpoint URL, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// TCP connections accepted so far.
    pub fn opened(&self) -> u64 {
        self.opened.load(Ordering::SeqCst)
    }
}

/// Copies `from` to `to` on a thread until `from` closes, then closes `to` for writing.
fn pipe(from: &TcpStream, to: &TcpStream) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
}
