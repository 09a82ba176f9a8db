//! The JWKS Lambda: read `M2M_TABLE` and `M2M_ISSUER` once at cold start, build the
//! DynamoDB client, read the key registry during init, then serve the JWK Set and the
//! discovery documents.

use jwks::config::JwksConfig;
use jwks::{handle, App};
use lambda_http::{run, service_fn, Error, Request};
use m2m_aws::clock::system_clock;
use m2m_aws::{sdk_config, DynamoKeyRegistry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    m2m_aws::telemetry::init_logging();

    let config = JwksConfig::from_env()?;
    let sdk = sdk_config().await;
    let registry = DynamoKeyRegistry::new(aws_sdk_dynamodb::Client::new(&sdk), config.table);
    let app = App::new(&config.issuer, registry);
    // Every invocation borrows the one `App` built at cold start.
    let app = &app;
    // Reading the registry during init opens the DynamoDB connection and fills the
    // cache, so the first request pays neither.
    match app.refresh(system_clock()).await {
        Ok(keys) => tracing::info!(keys, "key registry read during init"),
        Err(e) => {
            tracing::warn!(error = %m2m_core::error::Chain(&e), "reading the key registry during init failed; will retry per request")
        }
    }
    run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(handle(app, &request, system_clock()).await)
    }))
    .await
}
