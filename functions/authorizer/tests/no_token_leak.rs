//! Bearer tokens appear in no log line and no answer of the authorizer: every log line
//! it writes (at TRACE, the domain's included) is captured across the authorized path,
//! each kind of refusal, failing stores and malformed events, and searched for the
//! tokens and their signatures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use authorizer::{handle, handle_event};
use m2m_core::testing::fixtures::NOW;
use m2m_core::testing::SoftwareSigner;
use serde_json::json;
use support::{bearer, event, standard_app, Mint};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn tokens_absent_from_logs_and_answers() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .json()
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let rs = SoftwareSigner::rs256();
    let other = SoftwareSigner::es256_fresh();
    let tokens = vec![
        Mint::new(&rs, NOW).sign(&rs).await,
        Mint::new(&rs, NOW)
            .claim("scope", json!("nothing"))
            .sign(&rs)
            .await,
        Mint::new(&rs, NOW)
            .claim("iss", json!("https://evil.example.com/"))
            .sign(&rs)
            .await,
        Mint::new(&rs, NOW - 7200).sign(&rs).await,
        Mint::new(&other, NOW).sign(&other).await,
        Mint::new(&rs, NOW)
            .header("alg", json!("none"))
            .with_signature(b"sig"),
        Mint::new(&rs, NOW).with_signature(&[7; 256]),
    ];

    let app = standard_app();
    let mut answers = Vec::new();
    for t in &tokens {
        answers.push(handle(&app, &bearer(t), NOW).await);
        let post = event("POST /orders", Some(&format!("Bearer {t}")));
        answers.push(handle(&app, &post, NOW).await);
        let unlisted = event("GET /secret", Some(&format!("Bearer {t}")));
        answers.push(handle(&app, &unlisted, NOW).await);
        let basic = event("GET /orders", Some(&format!("Basic {t}")));
        answers.push(handle(&app, &basic, NOW).await);
        let twice = event("GET /orders", Some(&format!("Bearer {t} {t}")));
        answers.push(handle(&app, &twice, NOW).await);
        // Events the runtime could hand over malformed, the token where a structure
        // is expected.
        for e in [
            json!({"routeKey": "GET /orders", "requestContext": t}),
            json!({"headers": {"authorization": [t]}, "requestContext": {"http": t}}),
            json!(t),
        ] {
            answers.push(handle_event(&app, e, NOW).await);
        }
    }
    // Failing stores, logged with their cause.
    app.keys.fail(true);
    app.revocations.fail(false);
    let cold = support::app(
        support::FakeKeys::new(vec![]),
        m2m_core::testing::InMemoryRevocations::new(),
        30,
    );
    cold.keys.fail(true);
    cold.warm(NOW).await;
    for t in &tokens {
        answers.push(handle(&app, &bearer(t), NOW + 3600).await);
        answers.push(handle(&cold, &bearer(t), NOW).await);
    }

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("\"authorized\""),
        "the authorized path was logged"
    );
    assert!(logs.contains("\"refused\""), "refusals were logged");
    for answer in &answers {
        let text = serde_json::to_string(answer).unwrap();
        let debug = format!("{answer:?}");
        for t in &tokens {
            assert!(!text.contains(t.as_str()) && !debug.contains(t.as_str()));
        }
    }
    for t in &tokens {
        let signature = t.rsplit('.').next().unwrap();
        let signed_part = t.rsplit_once('.').unwrap().0;
        assert!(!logs.contains(t.as_str()), "a token was logged");
        assert!(
            signature.len() < 8 || !logs.contains(signature),
            "a signature was logged"
        );
        assert!(
            !logs.contains(signed_part),
            "a token's signing input was logged"
        );
    }
}
