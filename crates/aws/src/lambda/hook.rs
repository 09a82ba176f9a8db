//! The custom-claims hook on AWS Lambda: [`ClaimsHook`] as a synchronous
//! (`RequestResponse`) `Invoke` of the operator's function. Every failure — a function
//! error, a timeout, a malformed answer — is a [`PortError`]: the token endpoint fails
//! closed (DESIGN.md "Custom-claims hook").

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::SdkConfig;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use aws_sdk_lambda::Client as LambdaClient;
use m2m_core::error::{PortError, PortErrorKind};
use m2m_core::hook::{HookRequest, HookResponse, MAX_HOOK_ANSWER_BYTES};
use m2m_core::ports::ClaimsHook;

use crate::sdk::error::port_error;
use crate::sdk::CONNECT_TIMEOUT;

/// Default time the token function waits for the claims hook (DESIGN.md).
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_millis(1500);
/// Operator variable: an epoch (any string) bumped to re-sign every reused token when
/// the hook's behaviour changes without its function name or ARN changing.
pub const HOOK_EPOCH_VARIABLE: &str = "M2M_HOOK_EPOCH";
/// Operator variable: plain claim names (comma- or space-separated) the hook may set
/// besides collision-resistant ones (RFC 7519 §4.2). Reserved names stay refused.
pub const HOOK_ALLOWED_CLAIMS_VARIABLE: &str = "M2M_HOOK_ALLOWED_CLAIMS";

/// Invokes a Lambda function as the claims hook.
#[derive(Clone, Debug)]
pub struct LambdaHook {
    client: LambdaClient,
    function: String,
    timeout: Duration,
    identity: String,
    allowed: Vec<String>,
}

/// Parses [`HOOK_ALLOWED_CLAIMS_VARIABLE`]: names separated by commas or whitespace;
/// reserved names are left out (they could never be set anyway).
pub fn parse_allowed_claims(value: &str) -> Vec<String> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|n| !n.is_empty())
        .filter(|n| !m2m_core::hook::RESERVED_CLAIMS.contains(n))
        .map(str::to_owned)
        .collect()
}

impl LambdaHook {
    /// A hook invoking `function` (name, ARN or alias ARN), waiting at most `timeout`
    /// (`M2M_HOOK_TIMEOUT_MS`). Builds its own Lambda client from `sdk`: one attempt
    /// (a hook may have side effects, and a retry would not fit the timeout) with both
    /// the attempt and the operation timeout equal to the hook timeout, so the shorter
    /// per-attempt timeout `sdk` carries for DynamoDB and KMS never cuts a hook short.
    pub fn new(sdk: &SdkConfig, function: impl Into<String>, timeout: Duration) -> Self {
        let config = aws_sdk_lambda::config::Builder::from(sdk)
            .retry_config(RetryConfig::standard().with_max_attempts(1))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT.min(timeout))
                    .operation_attempt_timeout(timeout)
                    .operation_timeout(timeout)
                    .build(),
            )
            .build();
        Self::from_client(LambdaClient::from_conf(config), function, timeout)
    }

    /// Sets the operator's epoch ([`HOOK_EPOCH_VARIABLE`]) and plain-name allowlist
    /// ([`HOOK_ALLOWED_CLAIMS_VARIABLE`]), both read once at cold start with the rest of
    /// the configuration ([`crate::Config`]).
    pub fn with_policy(mut self, epoch: &str, allowed: Vec<String>) -> Self {
        self.identity = format!("{}\n{epoch}", self.function);
        self.allowed = allowed;
        self
    }

    /// A hook on an existing client (tests attach interceptors to it).
    pub fn from_client(
        client: LambdaClient,
        function: impl Into<String>,
        timeout: Duration,
    ) -> Self {
        let function = function.into();
        Self {
            client,
            identity: format!("{function}\n"),
            function,
            timeout,
            allowed: Vec::new(),
        }
    }

    /// The function invoked.
    pub fn function(&self) -> &str {
        &self.function
    }
}

impl ClaimsHook for LambdaHook {
    fn identity(&self) -> &str {
        &self.identity
    }

    fn allowed_claims(&self) -> &[String] {
        &self.allowed
    }

    async fn call(&self, request: &HookRequest) -> Result<HookResponse, PortError> {
        let payload = serde_json::to_vec(request)
            .map_err(|e| PortError::malformed("serializing the hook request").with_source(e))?;
        let invoke = self
            .client
            .invoke()
            .function_name(&self.function)
            .invocation_type(InvocationType::RequestResponse)
            .payload(Blob::new(payload))
            .send();
        let out = tokio::time::timeout(self.timeout, invoke)
            .await
            .map_err(|_| {
                PortError::refused(format!(
                    "claims hook timed out after {} ms",
                    self.timeout.as_millis()
                ))
            })?
            .map_err(|e| {
                // The SDK's operation timeout (equal to ours) and the timer above race
                // for the same event: the hook did not answer in time. Report it the
                // same way whichever fires first (500, not the transient 503 that
                // `port_error` gives an AWS timeout), so the status is deterministic.
                let timed_out = matches!(e, aws_sdk_lambda::error::SdkError::TimeoutError(_));
                let err = port_error("Lambda Invoke (claims hook)", e);
                if timed_out {
                    err.with_kind(PortErrorKind::Refused)
                } else {
                    err
                }
            })?;
        // Lambda API reference, Invoke: `X-Amz-Function-Error` is set when the function
        // itself failed (an unhandled error); the status is still 200.
        if let Some(kind) = out.function_error {
            return Err(PortError::refused(format!(
                "claims hook failed: function error `{kind}`"
            )));
        }
        if !(200..300).contains(&out.status_code) {
            return Err(PortError::refused(format!(
                "claims hook invocation returned HTTP {}",
                out.status_code
            )));
        }
        let body = out.payload.map(Blob::into_inner).unwrap_or_default();
        if body.len() > MAX_HOOK_ANSWER_BYTES {
            return Err(PortError::malformed(format!(
                "claims hook answer of {} bytes exceeds {MAX_HOOK_ANSWER_BYTES}",
                body.len()
            )));
        }
        HookResponse::from_json(&body)
            .map_err(|e| PortError::malformed("claims hook answered malformed JSON").with_source(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdk::{retry_config, timeout_config, ATTEMPT_TIMEOUT};

    #[test]
    fn allowed_claims_parsed_without_reserved() {
        assert_eq!(
            parse_allowed_claims(" tier, plan  scp,roles\tregion,"),
            vec!["tier", "plan", "region"]
        );
        assert!(parse_allowed_claims("").is_empty());
    }

    /// The timeouts the hook's Lambda client applies, built from the SDK configuration
    /// every other client uses (whose attempt timeout is shorter than a hook's budget).
    fn effective(timeout: Duration) -> TimeoutConfig {
        let sdk = SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .retry_config(retry_config())
            .timeout_config(timeout_config())
            .build();
        let hook = LambdaHook::new(&sdk, "claims-hook", timeout);
        hook.client
            .config()
            .timeout_config()
            .cloned()
            .unwrap_or_else(TimeoutConfig::disabled)
    }

    #[test]
    fn configured_hook_timeout_is_the_attempt_and_operation_timeout() {
        for ms in [300, 1500, 5000] {
            let timeout = Duration::from_millis(ms);
            let t = effective(timeout);
            assert_eq!(t.operation_attempt_timeout(), Some(timeout), "{ms} ms");
            assert_eq!(t.operation_timeout(), Some(timeout), "{ms} ms");
        }
        // The budget the SDK would otherwise apply is shorter than the default hook
        // timeout: without the override, a hook answering in 1.3 s would fail.
        assert!(ATTEMPT_TIMEOUT < DEFAULT_HOOK_TIMEOUT);
    }

    #[test]
    fn hook_is_never_retried() {
        let sdk = SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .retry_config(retry_config())
            .build();
        let hook = LambdaHook::new(&sdk, "claims-hook", Duration::from_millis(1500));
        let retry = hook.client.config().retry_config().cloned();
        assert_eq!(retry.map(|r| r.max_attempts()), Some(1));
    }
}
