//! The introspection and revocation Lambda: read configuration and build the AWS
//! clients once at cold start, read the key registry during init, then serve
//! `POST /oauth/introspect` and `POST /oauth/revoke`.

use introspect::config::Config;
use introspect::{handle, App};
use lambda_http::{run, service_fn, Error, Request};
use m2m_aws::clock::system_clock;
use m2m_aws::{sdk_config, DynamoDirectory, DynamoKeyRegistry, DynamoRevocations};
use m2m_core::cache::keys::KeyCache;
use m2m_fetch::{FetchPolicy, HttpKeySets};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    m2m_aws::telemetry::init_logging();
    let config = Config::from_env()?;
    let sdk = sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let key_sets = HttpKeySets::new(FetchPolicy::from_env(|name| std::env::var(name).ok()))
        .map_err(|e| format!("building the key set fetcher failed: {e}"))?
        .with_clock(system_clock);
    let app = App {
        config: config.issuer,
        directory: DynamoDirectory::new(dynamo.clone(), config.table.clone()),
        key_sets,
        revocations: DynamoRevocations::new(dynamo.clone(), config.table.clone()),
        keys: DynamoKeyRegistry::new(dynamo, config.table),
        cache: KeyCache::new(),
    };
    // Reading the registry during init opens the DynamoDB connection and fills the
    // key cache, so the first request pays neither.
    if let Err(e) = app.cache.refresh(&app.keys, system_clock()).await {
        tracing::warn!(error = %m2m_core::error::Chain(&e), "reading the key registry during init failed; will retry per request");
    }
    let app = &app;
    run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(handle(app, &request, system_clock()).await)
    }))
    .await
}
