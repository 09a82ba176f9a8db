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
use m2m_testkit::event::{client_credentials_body, token_form};
use token::{handle, App};

fn event(client_id: &str, secret: &str) -> Request {
    token_form(&client_credentials_body(client_id, secret, ""))
}

fn app(
) -> App<m2m_core::testing::InMemoryDirectory, NoopSigner, FakeHook, m2m_core::ports::NoKeySets> {
    App {
        key_sets: m2m_core::ports::NoKeySets,
        usage: Default::default(),
        config: m2m_testkit::issuer_config(ISSUER),
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
