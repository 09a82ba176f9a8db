//! The management API Lambda: read configuration and build the AWS clients once at cold
//! start, then serve `/admin/v1/`.

use std::time::Duration;

use admin_api::config::Config;
use admin_api::{auth, handle, App};
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use lambda_http::{run, service_fn, Error, Request};
use m2m_aws::clock::system_clock;
use m2m_aws::kms::policy::signing_key_policy;
use m2m_aws::{sdk_config, DynamoAdminStore, KmsVault};
use m2m_manage::Operator;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    m2m_aws::telemetry::init_logging();
    let config = Config::from_env()?;
    // Operator calls are not on a token's latency budget: KMS key creation takes
    // seconds at times, and a throttled write is worth a retry.
    let sdk = sdk_config()
        .await
        .into_builder()
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(5))
                .operation_timeout(Duration::from_secs(15))
                .build(),
        )
        .build();
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let kms = aws_sdk_kms::Client::new(&sdk);
    let policy = signing_key_policy(&config.partition, &config.account_id, &config.stack);
    let local_principal = auth::local_principal();
    if local_principal.is_some() {
        tracing::warn!("serving unauthenticated requests as the local stand-in principal");
    }
    let app = App {
        operator: Operator::new(DynamoAdminStore::new(dynamo, config.table.clone())),
        vault: KmsVault::new(kms, config.stack.clone(), policy.to_string()),
        local_principal,
    };
    let app = &app;
    run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(handle(app, &request, system_clock()).await)
    }))
    .await
}
