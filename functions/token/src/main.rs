//! The token Lambda: read configuration and build the AWS clients once at cold start,
//! open their connections during init, then serve `POST /oauth/token`.

use lambda_http::{run, service_fn, Error, Request};
use m2m_aws::clock::system_clock;
use m2m_aws::wire::{self, Wire};
use m2m_aws::{sdk_config, DynamoDirectory, DynamoKeyRegistry, KmsSigner, LambdaHook};
use m2m_core::auth::AssertionPolicy;
use m2m_core::IssuerConfig;
use m2m_fetch::{FetchPolicy, HttpKeySets};
use token::config::Config;
use token::{handle, App};

/// mimalloc: the request path allocates and frees many small buffers (the invocation
/// event, SDK requests and responses, JSON); glibc's allocator spent about a tenth of
/// the process's CPU on it under load (docs/PERFORMANCE.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

// A Lambda execution environment hands the process one invocation at a time, so a
// single-threaded runtime serves it with no worker threads to wake and hand work to
// (the multi-thread runtime costs futex wake-ups and context switches per request).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    m2m_aws::telemetry::init_logging();

    let config = Config::from_env()?;
    tracing::debug!(
        table = %config.table,
        claims_hook = config.claims_hook.as_deref().unwrap_or("-"),
        hook_timeout_ms = config.hook_timeout.as_millis(),
        "configuration read"
    );
    let sdk = sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let kms = aws_sdk_kms::Client::new(&sdk);
    // Each request's two calls (the directory's read and KMS `Sign`) are spoken directly,
    // without the SDK's per-call machinery (m2m_aws::wire); everything else uses the SDK.
    let env = |name: &str| std::env::var(name).ok();
    let dynamo_wire = Wire::for_service(&sdk, wire::DYNAMODB, env);
    let kms_wire = Wire::for_service(&sdk, wire::KMS, env);
    let directory =
        DynamoDirectory::new(dynamo.clone(), config.table.clone()).with_wire(dynamo_wire.clone());
    let registry = DynamoKeyRegistry::new(dynamo, config.table.clone()).with_wire(dynamo_wire);
    let signer = KmsSigner::new(kms, registry, config.signing_key.clone()).with_wire(kms_wire);
    // Resolving the active key during init opens the DynamoDB (and, on the fallback
    // path, KMS) connections, so the first request does not pay for TLS handshakes.
    if let Err(e) = signer.refresh().await {
        tracing::warn!(error = %m2m_core::error::Chain(&e), "no signing key resolved during init; will retry per request");
    }
    let hook = config.claims_hook.as_ref().map(|name| {
        LambdaHook::new(&sdk, name.clone(), config.hook_timeout)
            .with_policy(&config.hook_epoch, config.hook_allowed_claims.clone())
    });

    // Client `jwks_uri`s and trusted issuers' keys: fetched over https on first use,
    // behind the SSRF guard, and cached for every later invocation of this instance.
    let key_sets = HttpKeySets::new(FetchPolicy::from_env(|name| std::env::var(name).ok()))
        .map_err(|e| format!("building the key set fetcher failed: {e}"))?
        .with_clock(system_clock);

    let app = App {
        config: IssuerConfig {
            issuer: config.issuer.clone(),
            default_audience: config.default_audience.clone(),
            assertions: AssertionPolicy {
                trusted_issuers: config.trusted_issuers.clone(),
                max_assertion_lifetime: config.assertion_max_lifetime,
                ..AssertionPolicy::default()
            },
        },
        directory,
        signer,
        hook,
        key_sets,
        usage: Default::default(),
    };
    // Every invocation borrows the one `App` built at cold start.
    let app = &app;
    run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(handle(app, &request, system_clock()).await)
    }))
    .await
}
