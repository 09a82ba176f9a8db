//! The claims-hook Lambda: answers the token function's Invoke with `claims_hook::decide`.

use claims_hook::{decide, DEFAULT_NAMESPACE};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use m2m_core::hook::{HookRequest, HookResponse};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_ansi(false)
        .without_time()
        .init();
    let namespace =
        std::env::var("M2M_HOOK_CLAIM_NAMESPACE").unwrap_or_else(|_| DEFAULT_NAMESPACE.to_owned());
    // Every invocation borrows the namespace read at cold start.
    let namespace = namespace.as_str();
    run(service_fn(move |event: LambdaEvent<HookRequest>| async move {
        let answer = decide(&event.payload, namespace);
        tracing::info!(client_id = %event.payload.client.id, denied = answer.deny.is_some(), claims = answer.claims.len(), "hook decided");
        Ok::<HookResponse, Error>(answer)
    }))
    .await
}
