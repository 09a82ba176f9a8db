//! SDK configurations for local endpoints: the emulator, a canned failing dependency,
//! a connection-counting proxy. Production retry and timeout settings, static
//! credentials, `us-east-1`; nothing is read from the environment.

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use m2m_aws::sdk::{retry_config, stalled_stream_protection, timeout_config};

/// An SDK configuration for any local endpoint (the emulator, a [`CannedServer`](crate::canned::CannedServer)) with
/// the production retry and timeout settings, static test credentials and
/// `us-east-1`, reading nothing from the environment.
pub async fn local_sdk_config(endpoint: &str) -> SdkConfig {
    endpoint_config(endpoint, retry_config(), timeout_config()).await
}

pub(crate) async fn endpoint_config(
    endpoint: &str,
    retry: RetryConfig,
    timeout: TimeoutConfig,
) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .empty_test_environment()
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDLOCALTEST",
            "local-test-secret",
            None,
            None,
            "m2m-testkit",
        ))
        .endpoint_url(endpoint)
        .retry_config(retry)
        .timeout_config(timeout)
        .stalled_stream_protection(stalled_stream_protection())
        .load()
        .await
}
