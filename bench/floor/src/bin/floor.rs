//! The Lambda runtime and lambda_http alone: a constant answer.
use lambda_http::{run, service_fn, Error, Request};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    run(service_fn(|_: Request| async { Ok::<_, Error>(floor::answer()) })).await
}
