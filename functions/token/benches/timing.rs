//! Wall-clock parity of the two `invalid_client` paths (RFC 6749 §5.2): an unknown
//! client id and a wrong secret for a known client, through the handler, over many
//! interleaved requests with 7 KB secrets (so the hash is the bulk of the work and
//! skipping the dummy comparison would show). Prints both medians and their ratio, and
//! exits non-zero when the ratio leaves 0.6–1.67. A benchmark, not a test: wall-clock
//! medians on a shared machine are noisy, so the default suite checks the exact hash
//! count instead (`tests/timing.rs`). Run: `cargo bench -p token --bench timing`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::ExitCode;
use std::time::{Duration, Instant};

use lambda_http::Request;
use m2m_core::testing::fixtures::{self, CLIENT_ID, ISSUER, NOW};
use m2m_core::testing::{FakeHook, InMemoryDirectory, NoopSigner};
use m2m_testkit::event::{client_credentials_body, token_form};
use token::{handle, App};

const ROUNDS: usize = 2000;

fn event(client_id: &str, secret: &str) -> Request {
    token_form(&client_credentials_body(client_id, secret, ""))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let app: App<InMemoryDirectory, NoopSigner, FakeHook, m2m_core::ports::NoKeySets> = App {
        key_sets: m2m_core::ports::NoKeySets,
        usage: Default::default(),
        config: m2m_testkit::issuer_config(ISSUER),
        directory: fixtures::directory(),
        signer: NoopSigner::new(),
        hook: None,
    };
    let secret: String = std::iter::repeat_n('x', 7000).collect();
    let unknown_req = event("no-such-client", &secret);
    let wrong_req = event(CLIENT_ID, &secret);
    let (unknown, wrong) = runtime.block_on(async {
        // Warm up allocators and caches.
        for _ in 0..50 {
            handle(&app, &unknown_req, NOW).await;
            handle(&app, &wrong_req, NOW).await;
        }
        let (mut unknown, mut wrong) = (Vec::new(), Vec::new());
        for i in 0..ROUNDS {
            // Interleaved, alternating which goes first, so drift hits both alike.
            let order = if i % 2 == 0 {
                [true, false]
            } else {
                [false, true]
            };
            for is_unknown in order {
                let request = if is_unknown { &unknown_req } else { &wrong_req };
                let started = Instant::now();
                let r = handle(&app, request, NOW).await;
                let took = started.elapsed();
                assert_eq!(r.status(), 401);
                if is_unknown {
                    unknown.push(took);
                } else {
                    wrong.push(took);
                }
            }
        }
        (unknown, wrong)
    });
    let (mu, mw) = (median(unknown), median(wrong));
    let ratio = mu.as_secs_f64() / mw.as_secs_f64();
    println!(
        "invalid_client medians over {ROUNDS} interleaved pairs: unknown client {mu:?}, wrong secret {mw:?}, ratio {ratio:.2}"
    );
    if (0.6..=1.67).contains(&ratio) {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "the two invalid_client paths differ in time: ratio {ratio:.2} is outside 0.6–1.67"
        );
        ExitCode::FAILURE
    }
}
