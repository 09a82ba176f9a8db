use aws_config::{BehaviorVersion, Region};

use super::*;

async fn sdk(endpoint: Option<&str>, region: &str) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .empty_test_environment()
        .region(Region::new(region.to_owned()))
        .credentials_provider(Credentials::new(
            "AKIDWIRETEST",
            "wire-test-secret-never-printed",
            Some("wire-session-token-never-printed".into()),
            None,
            "test",
        ));
    if let Some(url) = endpoint {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

#[test]
fn error_codes_lose_namespace_and_suffix() {
    let body = br#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"m"}"#;
    assert_eq!(
        error_code(None, body).as_deref(),
        Some("ProvisionedThroughputExceededException")
    );
    assert_eq!(
        error_code(Some("ThrottlingException:http://internal.amazon.com/"), b"").as_deref(),
        Some("ThrottlingException")
    );
    assert_eq!(
        error_code(None, br#"{"code":"DisabledException"}"#).as_deref(),
        Some("DisabledException")
    );
    assert_eq!(error_code(None, b"<html>not json</html>"), None);
    assert_eq!(error_code(None, br#"{"__type":""}"#), None);
}

#[tokio::test]
async fn endpoints_follow_the_environment_then_the_region() {
    let env_none = |_: &str| None;
    let local = Wire::for_service(
        &sdk(Some("http://127.0.0.1:4566"), "eu-west-1").await,
        DYNAMODB,
        env_none,
    )
    .unwrap();
    assert_eq!(local.inner.url.as_str(), "http://127.0.0.1:4566/");
    assert_eq!(local.inner.host, "127.0.0.1:4566");

    let public = Wire::for_service(&sdk(None, "eu-west-1").await, KMS, env_none).unwrap();
    assert_eq!(
        public.inner.url.as_str(),
        "https://kms.eu-west-1.amazonaws.com/"
    );
    assert_eq!(public.inner.host, "kms.eu-west-1.amazonaws.com");

    let per_service =
        |name: &str| (name == "AWS_ENDPOINT_URL_KMS").then(|| "http://127.0.0.1:9999".to_owned());
    let kms = Wire::for_service(&sdk(None, "eu-west-1").await, KMS, per_service).unwrap();
    assert_eq!(kms.inner.host, "127.0.0.1:9999");
    let dynamo = Wire::for_service(&sdk(None, "eu-west-1").await, DYNAMODB, per_service).unwrap();
    assert_eq!(dynamo.inner.host, "dynamodb.eu-west-1.amazonaws.com");

    // Endpoints this client does not derive: the SDK client is used instead.
    assert!(Wire::for_service(&sdk(None, "cn-north-1").await, KMS, env_none).is_none());
    let fips = aws_config::defaults(BehaviorVersion::latest())
        .empty_test_environment()
        .region(Region::new("us-east-1"))
        .use_fips(true)
        .credentials_provider(Credentials::new("AKID", "secret", None, None, "test"))
        .load()
        .await;
    assert!(Wire::for_service(&fips, KMS, env_none).is_none());
}

#[tokio::test]
async fn debug_shows_no_credentials() {
    let wire = Wire::for_service(
        &sdk(Some("http://127.0.0.1:1"), "us-east-1").await,
        KMS,
        |_| None,
    )
    .unwrap();
    let _ = wire.credentials().await.unwrap();
    let shown = format!("{wire:?}");
    assert!(shown.contains("kms"), "{shown}");
    for secret in ["wire-test-secret", "wire-session-token", "AKIDWIRETEST"] {
        assert!(!shown.contains(secret), "{shown}");
    }
}

#[tokio::test]
async fn unreachable_service_is_unavailable_after_the_retry() {
    // Port 1 on loopback refuses connections.
    let wire = Wire::for_service(
        &sdk(Some("http://127.0.0.1:1"), "us-east-1").await,
        KMS,
        |_| None,
    )
    .unwrap();
    let err = wire.call("Sign", b"{}".to_vec()).await.unwrap_err();
    let debug = format!("{err:?}");
    let shown = format!("{debug} {}", err.into_port_error("KMS Sign"));
    assert!(shown.contains("could not reach the service"), "{shown}");
    assert!(!shown.contains("wire-test-secret"), "{shown}");
}
