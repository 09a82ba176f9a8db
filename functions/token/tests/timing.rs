//! Timing parity (DESIGN.md "The token endpoint contract"; RFC 6749 §5.2 answers both
//! with the one `invalid_client`): an unknown client id and a wrong secret for a
//! known client must be indistinguishable from outside — same status and body, and the
//! same hashing work (the dummy comparison for an unknown client), counted exactly. The
//! wall-clock comparison of both paths is a benchmark, not a test:
//! `cargo bench -p token --bench timing` (see `bench/timing`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lambda_http::{Body, Request, Response};
use m2m_core::testing::fixtures::{self, CLIENT_ID, ISSUER, NOW};
use m2m_core::testing::{secret_hash_count, FakeHook, NoopSigner};
use m2m_core::IssuerConfig;
use serde_json::{json, Value};
use token::{handle, App};

fn event(client_id: &str, secret: &str) -> Request {
    let body = format!(
        "grant_type=client_credentials&client_id={client_id}&client_secret={secret}&audience=https%3A%2F%2Fapi.example.com"
    );
    let mut e: Value =
        serde_json::from_str(include_str!("fixtures/apigw_v2_token_form.json")).unwrap();
    e["headers"]["content-length"] = json!(body.len().to_string());
    e["body"] = json!(body);
    lambda_http::request::from_str(&e.to_string()).unwrap()
}

fn app() -> App<m2m_core::testing::InMemoryDirectory, NoopSigner, FakeHook> {
    App {
        config: IssuerConfig {
            issuer: ISSUER.into(),
            default_audience: None,
        },
        directory: fixtures::directory(),
        signer: NoopSigner::new(),
        hook: None,
    }
}

fn wire(r: &Response<Body>) -> (u16, String, Option<String>) {
    (
        r.status().as_u16(),
        String::from_utf8(r.body().to_vec()).unwrap(),
        r.headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned()),
    )
}

/// A 7 KB secret of `c` (the body limit is 8 KiB).
fn long_secret(c: char) -> String {
    std::iter::repeat_n(c, 7000).collect()
}

#[tokio::test(flavor = "current_thread")]
async fn unknown_client_and_wrong_secret_same_hash_work() {
    let app = app();
    for secret in ["short-wrong", &long_secret('w')] {
        let before = secret_hash_count();
        let unknown = handle(&app, &event("no-such-client", secret), NOW).await;
        let unknown_hashes = secret_hash_count() - before;
        let before = secret_hash_count();
        let wrong = handle(&app, &event(CLIENT_ID, secret), NOW).await;
        let wrong_hashes = secret_hash_count() - before;
        assert_eq!(wrong_hashes, 1, "a wrong secret is hashed once");
        assert_eq!(
            unknown_hashes, wrong_hashes,
            "an unknown client must cost the same hash (dummy_verify)"
        );
        assert_eq!(wire(&unknown), wire(&wrong), "indistinguishable answers");
        assert_eq!(unknown.status(), 401);
    }
}
