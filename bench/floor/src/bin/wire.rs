//! The floor plus the same GetItem spoken directly (m2m_aws::wire), as the token
//! function reads its items and signs.
use lambda_http::{run, service_fn, Error, Request};
use m2m_aws::wire::{Wire, DYNAMODB};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let sdk = m2m_aws::sdk_config().await;
    let wire = Wire::for_service(&sdk, DYNAMODB, |name| std::env::var(name).ok())
        .ok_or("no endpoint for DynamoDB")?;
    let body = format!(
        r#"{{"TableName":"{}","Key":{{"PK":{{"S":"CLIENT#floor"}},"SK":{{"S":"CLIENT"}}}},"ConsistentRead":true}}"#,
        floor::table()
    );
    let (wire, body) = (&wire, &body);
    run(service_fn(move |_: Request| async move {
        wire.call("GetItem", body.clone().into_bytes()).await?;
        Ok::<_, Error>(floor::answer())
    }))
    .await
}
