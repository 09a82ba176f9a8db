//! The AWS SDK configuration every function shares: retry and timeout settings chosen
//! for a Lambda that must answer within its own budget, and the one place SDK errors
//! become port errors ([`error`]).

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

pub mod error;

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
