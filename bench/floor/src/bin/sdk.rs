//! The floor plus one strongly consistent DynamoDB GetItem through the AWS SDK, with
//! the token function's SDK settings (m2m_aws::sdk_config).
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{run, service_fn, Error, Request};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let client = aws_sdk_dynamodb::Client::new(&m2m_aws::sdk_config().await);
    let table = floor::table();
    let (client, table) = (&client, &table);
    run(service_fn(move |_: Request| async move {
        client
            .get_item()
            .table_name(table)
            .key("PK", AttributeValue::S("CLIENT#floor".into()))
            .key("SK", AttributeValue::S("CLIENT".into()))
            .consistent_read(true)
            .send()
            .await?;
        Ok::<_, Error>(floor::answer())
    }))
    .await
}
