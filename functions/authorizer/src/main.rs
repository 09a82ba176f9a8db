//! The authorizer Lambda: read `M2M_*` once at cold start, build the DynamoDB client,
//! read the key registry and the revocation list during init, then answer API
//! Gateway's authorizer requests.

use authorizer::config::AuthorizerConfig;
use authorizer::{handle_event, App, Response};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use m2m_aws::clock::system_clock;
use m2m_aws::{sdk_config, DynamoKeyRegistry, DynamoRevocations};
use serde_json::Value;

// One invocation at a time per execution environment: a single-threaded runtime.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    m2m_aws::telemetry::init_logging();

    let config = AuthorizerConfig::from_env()?;
    tracing::info!(
        table = %config.table,
        audience = %config.audience,
        routes = config.routes.len(),
        revocation_cache_seconds = config.revocation_cache_seconds,
        "configuration read"
    );
    let sdk = sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let app = App::new(
        &config,
        DynamoKeyRegistry::new(dynamo.clone(), config.table.clone()),
        DynamoRevocations::new(dynamo, config.table.clone()),
    );
    // Every invocation borrows the one `App` built at cold start.
    let app = &app;
    // Opens the DynamoDB connection and fills both caches, so the first request
    // pays for neither.
    app.warm(system_clock()).await;
    // The payload is taken as JSON and parsed by the handler, so a malformed event is
    // refused (isAuthorized false) instead of failing the invocation.
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<Response, Error>(handle_event(app, event.payload, system_clock()).await)
    }))
    .await
}
