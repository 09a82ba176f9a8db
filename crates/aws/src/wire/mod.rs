//! The AWS JSON protocol spoken directly, for the calls on the token endpoint's request
//! path: DynamoDB `BatchGetItem` (awsJson1_0) and KMS `Sign` (awsJson1_1).
//!
//! Every other call goes through the AWS SDK. On the request path the SDK's per-call
//! machinery (assembling the operation's runtime components from its plugins, the
//! interceptors, endpoint rules, the user-agent string) costs about 60 µs of CPU per
//! call, and a token takes one or two calls: measured with `bench/cpu-floor` and
//! `bench/cpu-per-token`, and acknowledged upstream (smithy-rs, "Support driving
//! operations from pre built runtime components": "on the order of 50us per request").
//! In Lambda that CPU is latency and billed duration (docs/PERFORMANCE.md, "CPU per
//! token under load").
//! What is kept from the SDK's behaviour, with its settings from [`crate::sdk`]:
//!
//! - the credentials, from the SDK's default chain (in Lambda, the execution role's
//!   variables), cached until five minutes before they expire;
//! - Signature Version 4 with the SDK's own signer (`aws-sigv4`);
//! - the endpoint: `AWS_ENDPOINT_URL_<SERVICE>`, then `AWS_ENDPOINT_URL`, then the
//!   Region's public endpoint (`https://<service>.<region>.amazonaws.com`); when the
//!   configuration asks for anything else (FIPS or dual-stack endpoints, a partition other
//!   than `aws`) [`Wire::for_service`] answers `None` and the SDK client is used instead;
//! - [`crate::sdk::MAX_ATTEMPTS`] attempts, each within [`crate::sdk::ATTEMPT_TIMEOUT`],
//!   all within [`crate::sdk::OPERATION_TIMEOUT`], retrying transport failures, timeouts,
//!   5xx answers and throttling with jittered backoff (25 ms, capped at 100 ms);
//! - the mapping of failures to [`PortError`] kinds ([`crate::sdk::error`]).
//!
//! The HTTP client is hyper's pooled HTTP/1.1 client with rustls (the ring provider, the
//! webpki roots; plain HTTP only to a local `http://` endpoint). Connections are kept
//! alive and reused (one pool per service); the token function opens DynamoDB's during
//! init, with the key registry's read.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use m2m_core::error::{PortError, PortErrorKind};

use crate::clock::system_clock;
use crate::sdk::error::is_throttling_code;
use crate::sdk::{ATTEMPT_TIMEOUT, CONNECT_TIMEOUT, MAX_ATTEMPTS, OPERATION_TIMEOUT};

/// Backoff before the retry; full jitter, as the SDK's standard retry mode.
const INITIAL_BACKOFF: Duration = Duration::from_millis(25);
/// Most an error answer's body is read for its code.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Most of an answer that is read: DynamoDB's limit for one `BatchGetItem` answer (16
/// MB; a token request reads a few small items, a `Sign` answer is under 1 KB).
const MAX_ANSWER: usize = 16 * 1024 * 1024;

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;
type Cause = Box<dyn std::error::Error + Send + Sync>;
/// Credentials are refreshed this long before they expire.
const CREDENTIALS_MARGIN: Duration = Duration::from_secs(300);

/// A service spoken to directly: its signing name, JSON protocol version and the
/// `X-Amz-Target` prefix of its operations.
#[derive(Debug, Clone, Copy)]
pub struct Service {
    /// The SigV4 signing name and the endpoint's first label.
    pub name: &'static str,
    /// The suffix of `AWS_ENDPOINT_URL_<SERVICE>`.
    pub env_suffix: &'static str,
    /// `application/x-amz-json-1.0` or `-1.1`.
    pub content_type: &'static str,
    /// The `X-Amz-Target` prefix (`DynamoDB_20120810`, `TrentService`).
    pub target_prefix: &'static str,
}

/// Amazon DynamoDB, awsJson1_0.
pub const DYNAMODB: Service = Service {
    name: "dynamodb",
    env_suffix: "DYNAMODB",
    content_type: "application/x-amz-json-1.0",
    target_prefix: "DynamoDB_20120810",
};

/// AWS KMS, awsJson1_1.
pub const KMS: Service = Service {
    name: "kms",
    env_suffix: "KMS",
    content_type: "application/x-amz-json-1.1",
    target_prefix: "TrentService",
};

/// A client of one service's JSON protocol. Cheap to clone (one shared pool).
#[derive(Clone)]
pub struct Wire {
    inner: Arc<Inner>,
}

struct Inner {
    service: Service,
    http: HttpClient,
    url: String,
    uri: http::Uri,
    host: String,
    region: String,
    credentials: SharedCredentialsProvider,
    cached: Mutex<Option<Credentials>>,
}

impl std::fmt::Debug for Wire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wire")
            .field("service", &self.inner.service.name)
            .field("endpoint", &self.inner.url)
            .finish_non_exhaustive()
    }
}

/// Why a call failed: the [`PortError`] kind, the service's error code if it sent one,
/// and the cause.
#[derive(Debug, thiserror::Error)]
#[error("{}", match .code { Some(c) => c.as_str(), None => .detail })]
pub struct CallError {
    kind: PortErrorKind,
    code: Option<String>,
    detail: &'static str,
    retry: bool,
    #[source]
    source: Option<Cause>,
}

impl CallError {
    /// The service's error code (`ThrottlingException`, `DisabledException`, ...).
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// The [`PortError`] for `what` (an operation description), as
    /// [`crate::sdk::error::port_error`] words SDK errors.
    pub fn into_port_error(self, what: &str) -> PortError {
        let message = match &self.code {
            Some(code) => format!("{what}: {code}"),
            None => format!("{what}: {}", self.detail),
        };
        PortError::new(self.kind, message).with_source(self)
    }

    /// A failure before the service answered: worth another attempt.
    fn transport(kind: PortErrorKind, detail: &'static str, source: Option<Cause>) -> Self {
        Self {
            kind,
            code: None,
            detail,
            retry: true,
            source,
        }
    }

    /// A failure that another attempt will not change (no credentials, no signature).
    fn local(detail: &'static str) -> Self {
        Self {
            retry: false,
            ..Self::transport(PortErrorKind::Unavailable, detail, None)
        }
    }
}

impl Wire {
    /// The client of `service` for `sdk`'s Region, credentials and endpoint, reading
    /// the endpoint variables with `env`; `None` when the configuration needs an endpoint
    /// this client does not derive (FIPS, dual-stack, another partition), or lacks a
    /// Region or credentials.
    pub fn for_service(
        sdk: &SdkConfig,
        service: Service,
        env: impl Fn(&str) -> Option<String>,
    ) -> Option<Self> {
        if sdk.use_fips() == Some(true) || sdk.use_dual_stack() == Some(true) {
            return None;
        }
        let region = sdk.region()?.as_ref().to_owned();
        let endpoint = env(&format!("AWS_ENDPOINT_URL_{}", service.env_suffix))
            .or_else(|| sdk.endpoint_url().map(str::to_owned));
        let endpoint = match endpoint {
            Some(url) => url,
            // Only the `aws` partition's endpoints are derived here.
            None if region.starts_with("cn-") || region.starts_with("us-iso") => return None,
            None => format!("https://{}.{region}.amazonaws.com", service.name),
        };
        let uri: http::Uri = endpoint.parse().ok()?;
        let host = uri.authority()?.as_str().to_owned();
        let http = http_client().ok()?;
        Some(Self {
            inner: Arc::new(Inner {
                service,
                http,
                url: uri.to_string(),
                uri,
                host,
                region,
                credentials: sdk.credentials_provider()?,
                cached: Mutex::new(None),
            }),
        })
    }

    /// Calls `operation` with the JSON `body`; the answer's body on HTTP 200.
    ///
    /// # Errors
    /// A [`CallError`] when every attempt failed, the service answered an error, or the
    /// operation ran out of time.
    pub async fn call(&self, operation: &str, body: Vec<u8>) -> Result<Bytes, CallError> {
        // Shared by the attempts: a retry sends the same bytes without copying them.
        let body = Bytes::from(body);
        let attempts = async {
            let mut attempt = 1;
            loop {
                let outcome = match tokio::time::timeout(
                    ATTEMPT_TIMEOUT,
                    self.attempt(operation, body.clone()),
                )
                .await
                {
                    Ok(outcome) => outcome,
                    Err(_) => Err(CallError::transport(
                        PortErrorKind::Timeout,
                        "timed out",
                        None,
                    )),
                };
                match outcome {
                    Err(e) if attempt < MAX_ATTEMPTS && e.retry => {
                        let jitter = rand::random::<f64>();
                        tokio::time::sleep(INITIAL_BACKOFF.mul_f64(jitter)).await;
                        attempt += 1;
                    }
                    other => return other,
                }
            }
        };
        tokio::time::timeout(OPERATION_TIMEOUT, attempts)
            .await
            .unwrap_or_else(|_| {
                Err(CallError::transport(
                    PortErrorKind::Timeout,
                    "timed out",
                    None,
                ))
            })
    }

    async fn attempt(&self, operation: &str, body: Bytes) -> Result<Bytes, CallError> {
        let inner = &*self.inner;
        let credentials = self.credentials().await?;
        let target = format!("{}.{operation}", inner.service.target_prefix);
        let headers = [
            ("content-type", inner.service.content_type),
            ("x-amz-target", target.as_str()),
            ("host", inner.host.as_str()),
        ];
        let signed = sign_request(inner, &credentials, &headers, &body)?;
        let mut request = http::Request::post(inner.uri.clone());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let mut request = request
            .body(Full::new(body))
            .map_err(|_| CallError::local("building the request failed"))?;
        request.headers_mut().extend(signed);
        let response = inner.http.request(request).await.map_err(|e| {
            CallError::transport(
                PortErrorKind::Unavailable,
                "could not reach the service",
                Some(e.into()),
            )
        })?;
        let status = response.status();
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| {
                CallError::transport(
                    PortErrorKind::Unavailable,
                    "could not read the answer",
                    Some(e),
                )
            })?
            .to_bytes();
        if status.is_success() {
            return Ok(body);
        }
        // Throttling and the service's own failures are retried; any other error
        // (validation, access denied, a disabled key) would only be repeated.
        let code = error_code(error_type.as_deref(), &body);
        let throttled = code.as_deref().is_some_and(is_throttling_code);
        Err(CallError {
            kind: if throttled {
                PortErrorKind::Throttled
            } else {
                PortErrorKind::Unavailable
            },
            code,
            detail: if status.is_server_error() {
                "the service failed"
            } else {
                "refused"
            },
            retry: throttled || status.is_server_error(),
            source: None,
        })
    }

    /// The cached credentials, resolved again five minutes before they expire.
    async fn credentials(&self) -> Result<Credentials, CallError> {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(system_clock());
        let fresh = |c: &Credentials| {
            c.expiry()
                .is_none_or(|expiry| expiry > now + CREDENTIALS_MARGIN)
        };
        if let Some(c) = self.lock().as_ref().filter(|c| fresh(c)) {
            return Ok(c.clone());
        }
        let resolved = self
            .inner
            .credentials
            .provide_credentials()
            .await
            .map_err(|_| CallError::local("no credentials"))?;
        *self.lock() = Some(resolved.clone());
        Ok(resolved)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Credentials>> {
        self.inner
            .cached
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The SigV4 headers (`authorization`, `x-amz-date`, `x-amz-security-token`) for a
/// POST of `body` with `headers`.
fn sign_request(
    inner: &Inner,
    credentials: &Credentials,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<http::HeaderMap, CallError> {
    let failed = |_| CallError::local("signing failed");
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&inner.region)
        .name(inner.service.name)
        .time(UNIX_EPOCH + Duration::from_secs(system_clock()))
        .settings(SigningSettings::default())
        .build()
        .map_err(|_| CallError::local("signing failed"))?
        .into();
    let signable = SignableRequest::new(
        "POST",
        &inner.url,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .map_err(failed)?;
    let (instructions, _signature) = sign(signable, &params).map_err(failed)?.into_parts();
    let mut out = http::HeaderMap::new();
    for (name, value) in instructions.headers() {
        let name = http::HeaderName::from_bytes(name.as_bytes());
        let value = http::HeaderValue::from_str(value);
        match (name, value) {
            (Ok(name), Ok(value)) => {
                out.insert(name, value);
            }
            _ => return Err(CallError::local("signing failed")),
        }
    }
    Ok(out)
}

/// The pooled HTTP/1.1 client: TLS by rustls with the ring provider and the webpki
/// roots (plain HTTP only for a local endpoint), [`CONNECT_TIMEOUT`], `TCP_NODELAY`.
fn http_client() -> Result<HttpClient, rustls::Error> {
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(Some(CONNECT_TIMEOUT));
    let https = HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// The error code of an error answer: the `X-Amzn-ErrorType` header or the body's
/// `__type`, without the namespace (`com.amazonaws.dynamodb.v20120810#`) or the
/// suffix after `:` (AWS JSON 1.0/1.1 protocol, "Operation error serialization").
fn error_code(header: Option<&str>, body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        #[serde(rename = "__type", alias = "code")]
        kind: Option<String>,
    }
    let raw = header.map(str::to_owned).or_else(|| {
        let body = body.get(..MAX_ERROR_BODY).unwrap_or(body);
        serde_json::from_slice::<ErrorBody>(body).ok()?.kind
    })?;
    let code = raw.rsplit('#').next().unwrap_or(&raw);
    let code = code.split(':').next().unwrap_or(code).trim();
    (!code.is_empty()).then(|| code.to_owned())
}

#[cfg(test)]
mod tests;
