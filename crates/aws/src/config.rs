//! Deployment configuration: the `M2M_*` environment variables read once at cold start
//! (DESIGN.md "Configuration"), and the AWS SDK configuration with retry and timeout
//! settings chosen for a Lambda that must answer within its own budget.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use m2m_core::types::Audience;

/// Default time the token function waits for the claims hook (DESIGN.md).
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_millis(1500);

/// A missing or malformed environment variable. Its `Display` names the variable, so
/// a failed cold start says what to fix.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong with it (never its value: a variable could hold something private).
    pub problem: String,
}

impl ConfigError {
    fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        Self {
            variable,
            problem: problem.into(),
        }
    }
}

/// The token function's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `M2M_TABLE`: the DynamoDB table holding the directory.
    pub table: String,
    /// `M2M_ISSUER`: the `iss` of every token, an absolute `http(s)` URL with no query
    /// or fragment (RFC 8414 §2).
    pub issuer: String,
    /// `M2M_SIGNING_KEY`: KMS key id, ARN or alias that signs only while the directory's
    /// key registry holds no key at all (a fresh stack before `m2m-admin init`).
    pub signing_key: String,
    /// `M2M_DEFAULT_AUDIENCE`: the audience when a request names none.
    pub default_audience: Option<Audience>,
    /// `M2M_CLAIMS_HOOK`: the Lambda function (name or ARN) of the custom-claims hook.
    pub claims_hook: Option<String>,
    /// `M2M_HOOK_TIMEOUT_MS`: how long to wait for the hook (default 1500 ms).
    pub hook_timeout: Duration,
    /// `M2M_HOOK_EPOCH`: an operator's epoch (any string, default empty), part of the
    /// hook's identity in the reuse fingerprint: bumping it re-signs every reused token
    /// when the hook's behaviour changes under the same function name.
    pub hook_epoch: String,
    /// `M2M_HOOK_ALLOWED_CLAIMS`: plain claim names (comma- or space-separated) the hook
    /// may set besides collision-resistant ones (RFC 7519 §4.2); reserved names are
    /// left out.
    pub hook_allowed_claims: Vec<String>,
}

impl Config {
    /// Reads the process environment.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first missing or malformed variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment in production, a map
    /// in tests, so tests never mutate the process environment).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first missing or malformed variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let optional = |name: &'static str| -> Option<String> {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let required = |name: &'static str| -> Result<String, ConfigError> {
            optional(name).ok_or_else(|| ConfigError::new(name, "is not set"))
        };

        let table = required("M2M_TABLE")?;
        let issuer = required("M2M_ISSUER")?;
        validate_issuer(&issuer).map_err(|p| ConfigError::new("M2M_ISSUER", p))?;
        let signing_key = required("M2M_SIGNING_KEY")?;
        let default_audience = optional("M2M_DEFAULT_AUDIENCE").map(Audience::new);
        let claims_hook = optional("M2M_CLAIMS_HOOK");
        let hook_timeout = match optional("M2M_HOOK_TIMEOUT_MS") {
            None => DEFAULT_HOOK_TIMEOUT,
            Some(v) => match v.parse::<u64>() {
                Ok(ms) if (1..=60_000).contains(&ms) => Duration::from_millis(ms),
                _ => {
                    return Err(ConfigError::new(
                        "M2M_HOOK_TIMEOUT_MS",
                        "must be a whole number of milliseconds between 1 and 60000",
                    ))
                }
            },
        };
        let hook_epoch = optional(crate::hook::HOOK_EPOCH_VARIABLE).unwrap_or_default();
        let hook_allowed_claims = optional(crate::hook::HOOK_ALLOWED_CLAIMS_VARIABLE)
            .map(|v| crate::hook::parse_allowed_claims(&v))
            .unwrap_or_default();
        Ok(Self {
            table,
            issuer,
            signing_key,
            default_audience,
            claims_hook,
            hook_timeout,
            hook_epoch,
            hook_allowed_claims,
        })
    }
}

/// RFC 8414 §2: the issuer identifier is a URL using the `https` scheme with no query
/// or fragment components. Plain `http` is accepted as well, for the local stack
/// (`http://127.0.0.1:9000`).
///
/// # Errors
/// The problem, in words fit for a `ConfigError`.
pub fn validate_issuer(issuer: &str) -> Result<(), &'static str> {
    let rest = issuer
        .strip_prefix("https://")
        .or_else(|| issuer.strip_prefix("http://"))
        .ok_or("must be an absolute http(s) URL")?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err("must be an absolute http(s) URL with a host and no user info");
    }
    if issuer.contains(['?', '#']) {
        return Err("must not have a query or fragment (RFC 8414 §2)");
    }
    if issuer.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain whitespace");
    }
    Ok(())
}

/// Connection timeout. In-region TLS to DynamoDB or KMS completes in tens of
/// milliseconds; a connection not up within a second is not going to help the caller,
/// and failing fast leaves time for the one retry.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Per-attempt timeout. DynamoDB `BatchGetItem` and KMS `Sign` answer in single-digit to
/// tens of milliseconds; an attempt past 1.2 s is a stalled connection, and cutting it
/// there leaves room for the retry within [`OPERATION_TIMEOUT`].
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1200);
/// Whole-operation timeout, retries included. The token function's Lambda timeout is a
/// few seconds and a token request makes at most three sequential AWS calls on a cold
/// path (registry, lookup, sign); 2.5 s per call keeps a failing dependency answered
/// with `server_error` by us rather than by a Lambda timeout with no response body.
pub const OPERATION_TIMEOUT: Duration = Duration::from_millis(2500);
/// Attempts per operation: the first plus one retry. More retries would not fit the
/// budget and, under throttling, would only deepen it; the standard mode's retry quota
/// (token bucket) also stops retries when a dependency is failing wholesale.
pub const MAX_ATTEMPTS: u32 = 2;

/// The retry policy every SDK client uses: standard mode (exponential backoff with
/// jitter, retry quota), [`MAX_ATTEMPTS`] attempts, and backoff capped at tens of
/// milliseconds (the SDK's default starts at one second, a third of our budget).
/// See the AWS SDKs and Tools reference guide, "Retry behavior".
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(25))
        .with_max_backoff(Duration::from_millis(100))
}

/// The timeouts every SDK client uses: [`CONNECT_TIMEOUT`], [`ATTEMPT_TIMEOUT`] and
/// [`OPERATION_TIMEOUT`].
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// Stalled-stream protection: off. It watches every response body's throughput and
/// fails a stream that stalls for its grace period (20 s by default), far past
/// [`OPERATION_TIMEOUT`], which already ends a stalled call; so it could never fire
/// first, and it costs a throughput monitor on every body polled on the request path.
pub fn stalled_stream_protection() -> StalledStreamProtectionConfig {
    StalledStreamProtectionConfig::disabled()
}

/// Loads the AWS SDK configuration from the standard environment (`AWS_REGION`,
/// `AWS_ENDPOINT_URL` for the local emulator, the default credentials chain: in Lambda
/// the execution role's variables) with [`retry_config`], [`timeout_config`] and
/// [`stalled_stream_protection`]. Call once at cold start and build every client from
/// the result.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry_config())
        .timeout_config(timeout_config())
        .stalled_stream_protection(stalled_stream_protection())
        .load()
        .await
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const BASE: &[(&str, &str)] = &[
        ("M2M_TABLE", "m2m"),
        ("M2M_ISSUER", "https://auth.example.com/"),
        ("M2M_SIGNING_KEY", "alias/m2m"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut v: Vec<_> = BASE.to_vec();
        v.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
        v.extend_from_slice(extra);
        v
    }

    #[test]
    fn minimal_env_defaults() {
        let c = Config::from_lookup(env(BASE)).unwrap();
        assert_eq!(c.table, "m2m");
        assert_eq!(c.issuer, "https://auth.example.com/");
        assert_eq!(c.signing_key, "alias/m2m");
        assert_eq!(c.default_audience, None);
        assert_eq!(c.claims_hook, None);
        assert_eq!(c.hook_timeout, DEFAULT_HOOK_TIMEOUT);
    }

    #[test]
    fn optional_variables_read() {
        let c = Config::from_lookup(env(&with(&[
            ("M2M_DEFAULT_AUDIENCE", "https://api.example.com"),
            ("M2M_CLAIMS_HOOK", "claims-hook"),
            ("M2M_HOOK_TIMEOUT_MS", "250"),
        ])))
        .unwrap();
        assert_eq!(
            c.default_audience,
            Some(Audience::new("https://api.example.com"))
        );
        assert_eq!(c.claims_hook.as_deref(), Some("claims-hook"));
        assert_eq!(c.hook_timeout, Duration::from_millis(250));
    }

    #[test]
    fn hook_epoch_and_allowed_claims_read() {
        let c = Config::from_lookup(env(&with(&[
            ("M2M_HOOK_EPOCH", "2026-11"),
            ("M2M_HOOK_ALLOWED_CLAIMS", "tier, plan scp"),
        ])))
        .unwrap();
        assert_eq!(c.hook_epoch, "2026-11");
        // A reserved name in the allowlist is left out: it could never be set anyway.
        assert_eq!(c.hook_allowed_claims, vec!["tier", "plan"]);
        let d = Config::from_lookup(env(BASE)).unwrap();
        assert_eq!(d.hook_epoch, "");
        assert!(d.hook_allowed_claims.is_empty());
    }

    #[test]
    fn missing_variable_named() {
        for name in ["M2M_TABLE", "M2M_ISSUER", "M2M_SIGNING_KEY"] {
            let pairs: Vec<_> = BASE.iter().copied().filter(|(k, _)| *k != name).collect();
            let err = Config::from_lookup(env(&pairs)).unwrap_err();
            assert_eq!(err.variable, name);
            assert!(err.to_string().starts_with(name));
        }
    }

    #[test]
    fn empty_variable_is_missing() {
        let err = Config::from_lookup(env(&with(&[("M2M_TABLE", "  ")]))).unwrap_err();
        assert_eq!(err.variable, "M2M_TABLE");
    }

    #[test]
    fn relative_issuer_rejected() {
        for bad in [
            "auth.example.com",
            "/issuer",
            "ftp://auth.example.com",
            "https://",
            "https:///path",
            "https://auth.example.com/?x=1",
            "https://auth.example.com/#f",
            "https://user@auth.example.com",
            "https://auth example.com",
        ] {
            let err = Config::from_lookup(env(&with(&[("M2M_ISSUER", bad)]))).unwrap_err();
            assert_eq!(err.variable, "M2M_ISSUER", "{bad}");
        }
    }

    #[test]
    fn local_http_issuer_accepted() {
        let c =
            Config::from_lookup(env(&with(&[("M2M_ISSUER", "http://127.0.0.1:9000")]))).unwrap();
        assert_eq!(c.issuer, "http://127.0.0.1:9000");
    }

    #[test]
    fn malformed_hook_timeout_rejected() {
        for bad in ["abc", "0", "-5", "1.5", "600000"] {
            let err = Config::from_lookup(env(&with(&[("M2M_HOOK_TIMEOUT_MS", bad)]))).unwrap_err();
            assert_eq!(err.variable, "M2M_HOOK_TIMEOUT_MS", "{bad}");
        }
    }

    #[test]
    fn error_never_echoes_value() {
        let err =
            Config::from_lookup(env(&with(&[("M2M_HOOK_TIMEOUT_MS", "s3cr3t")]))).unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"));
    }
}
