//! The client secret, its hash and issued tokens appear in no log line, no error
//! message and no `Debug` output — checked by capturing every log line the handler
//! writes (at TRACE, including the domain's) across success and failure paths.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use lambda_http::Request;
use m2m_core::basic::encode_basic;
use m2m_core::parse_token_request;
use m2m_core::ports::NoHook;
use m2m_core::secret::hash_secret;
use m2m_core::testing::fixtures::{self, CLIENT_ID, ISSUER, NOW};
use m2m_core::testing::{FakeHook, SoftwareSigner};
use m2m_core::types::ClientSecret;
use m2m_testkit::event::token_event;
use serde_json::Value;
use token::{handle, App};

const SECRET: &str = "m2m_sk_Sup3rS3cretValue-that-must-never-leak";
const WRONG: &str = "m2m_sk_WrongButAlsoSecret-never-log-me";

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

fn event(headers: &[(&str, &str)], body: &str) -> Request {
    token_event("POST", headers, body, false)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn secret_absent_from_logs_errors_and_debug() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .json()
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let directory = fixtures::directory();
    directory.put_client(fixtures::client(CLIENT_ID, SECRET));
    let mut app = App {
        key_sets: m2m_core::ports::NoKeySets,
        usage: Default::default(),
        config: m2m_testkit::issuer_config(ISSUER),
        directory,
        signer: SoftwareSigner::rs256(),
        hook: None::<FakeHook>,
    };
    let post = |secret: &str, extra: &str| {
        format!("grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={secret}&audience=https%3A%2F%2Fapi.example.com{extra}")
    };
    let basic = encode_basic(CLIENT_ID, SECRET);
    let basic_wrong = encode_basic(CLIENT_ID, WRONG);
    let mut outputs = Vec::new();
    let cases: Vec<Request> = vec![
        event(&[], &post(SECRET, "")),
        event(&[], &post(WRONG, "")),
        event(
            &[("authorization", &basic)],
            "grant_type=client_credentials&audience=https%3A%2F%2Fapi.example.com",
        ),
        event(
            &[("authorization", &basic_wrong)],
            "grant_type=client_credentials&audience=https%3A%2F%2Fapi.example.com",
        ),
        event(&[("authorization", &basic)], &post(SECRET, "")),
        event(&[], &post(SECRET, "&scope=admin")),
        event(&[], &post(SECRET, "&scope=a&scope=b")),
        event(
            &[],
            &post(SECRET, "").replace("client_credentials", "password"),
        ),
        event(
            &[],
            &post(SECRET, "").replace("api.example.com", "x.example.com"),
        ),
    ];
    for req in &cases {
        let r = handle(&app, req, NOW).await;
        outputs.push(String::from_utf8_lossy(r.body().as_ref()).into_owned());
    }
    // Failing dependencies, logged at error level with their cause chain.
    app.directory.fail(false);
    outputs.push(
        String::from_utf8_lossy(handle(&app, &cases[0], NOW).await.body().as_ref()).into_owned(),
    );
    app.directory.heal();
    app.hook = Some(FakeHook::error("hook exploded"));
    outputs.push(
        String::from_utf8_lossy(handle(&app, &cases[0], NOW).await.body().as_ref()).into_owned(),
    );
    app.hook = None;

    // Debug and Display of every request and error type.
    for body in [post(SECRET, ""), post(WRONG, "&scope=a&scope=b")] {
        match parse_token_request(
            Some("application/x-www-form-urlencoded"),
            None,
            body.as_bytes(),
        ) {
            Ok(r) => outputs.push(format!("{r:?}")),
            Err(e) => outputs.push(format!("{e:?} {e}")),
        }
    }
    let r = parse_token_request(
        Some("application/x-www-form-urlencoded"),
        Some(&basic),
        post(SECRET, "").as_bytes(),
    );
    outputs.push(format!("{r:?}"));
    outputs.push(format!("{:?}", ClientSecret::new(SECRET)));
    outputs.push(format!("{:?}", fixtures::client(CLIENT_ID, SECRET)));
    outputs.push(format!(
        "{:?}",
        app.directory
            .client(&m2m_core::types::ClientId::new(CLIENT_ID))
    ));

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("token issued"),
        "the capture saw the handler's log lines"
    );
    assert!(
        logs.contains("hook exploded"),
        "dependency causes are logged"
    );
    let tokens: Vec<String> = outputs
        .iter()
        .filter_map(|o| serde_json::from_str::<Value>(o).ok())
        .filter_map(|v| v["access_token"].as_str().map(str::to_owned))
        .collect();
    assert!(!tokens.is_empty());
    let hash = hex(&hash_secret(&ClientSecret::new(SECRET)));
    let haystack = format!("{logs}\n{}", outputs.join("\n"));
    for needle in [SECRET, WRONG, &basic[6..], &basic_wrong[6..], &hash] {
        assert!(!haystack.contains(needle), "leaked {needle}");
    }
    for token in &tokens {
        assert!(!logs.contains(token.as_str()), "a token was logged");
    }
    let _ = NoHook;
}

/// Client assertions and federated workload tokens are credentials too: neither the
/// JWT nor its signature appears in a log line, a response or a `Debug` output, on
/// success or on any refusal.
#[tokio::test]
async fn assertions_absent_from_logs_errors_and_debug() {
    use m2m_core::auth::AssertionPolicy;
    use m2m_core::model::Match;
    use m2m_core::testing::assertions::{
        assertion_form, jwk_set, self_claims, trust_rule, FakeKeySets, EC, EXTERNAL_ISSUER, RSA,
    };
    use m2m_core::types::ClientId;

    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .json()
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let directory = fixtures::directory();
    directory.update_client(&ClientId::new(CLIENT_ID), |c| {
        c.keys = vec![EC.client_key(None)];
    });
    directory.put_trust_rule(
        &ClientId::new(CLIENT_ID),
        trust_rule(
            "tr_1",
            Match::Exact("system:serviceaccount:a:b".into()),
            "m2m",
        ),
    );
    let app = App {
        key_sets: FakeKeySets::new().with_issuer(EXTERNAL_ISSUER, jwk_set(&[RSA])),
        usage: Default::default(),
        config: m2m_core::IssuerConfig {
            assertions: AssertionPolicy {
                trusted_issuers: vec![EXTERNAL_ISSUER.to_owned()],
                ..AssertionPolicy::default()
            },
            ..m2m_testkit::issuer_config(ISSUER)
        },
        directory,
        signer: SoftwareSigner::rs256(),
        hook: None::<FakeHook>,
    };
    let aud = "&audience=https%3A%2F%2Fapi.example.com";
    let own = EC.sign(
        &self_claims(CLIENT_ID, "https://auth.example.com/oauth/token", NOW, "j1"),
        None,
        None,
    );
    let wrong_aud = EC.sign(
        &self_claims(CLIENT_ID, "https://elsewhere.example", NOW, "j2"),
        None,
        None,
    );
    let workload = |iss: &str| {
        RSA.sign(
            &serde_json::json!({"iss": iss, "sub": "system:serviceaccount:a:b", "aud": "m2m",
                "iat": NOW, "exp": NOW + 600}),
            None,
            None,
        )
    };
    let federated = workload(EXTERNAL_ISSUER);
    let untrusted = workload("https://untrusted.example");
    let with_id = format!("&client_id={CLIENT_ID}{aud}");
    let bodies = [
        assertion_form(&own, aud),
        assertion_form(&own, aud), // the replay
        assertion_form(&wrong_aud, aud),
        assertion_form(&federated, &with_id),
        assertion_form(&untrusted, &with_id),
        format!("{}&client_secret=x", assertion_form(&federated, &with_id)),
    ];
    let mut outputs = Vec::new();
    for body in &bodies {
        let r = handle(&app, &event(&[], body), NOW).await;
        outputs.push(String::from_utf8_lossy(r.body().as_ref()).into_owned());
        if let Ok(parsed) = parse_token_request(
            Some("application/x-www-form-urlencoded"),
            None,
            body.as_bytes(),
        ) {
            outputs.push(format!("{parsed:?}"));
        }
    }
    let issued = outputs
        .iter()
        .filter(|o| o.contains("access_token"))
        .count();
    assert_eq!(issued, 2, "own and federated assertions issue: {outputs:?}");
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("client authentication failed"),
        "refusals are logged"
    );
    let haystack = format!("{logs}\n{}", outputs.join("\n"));
    for jwt in [&own, &wrong_aud, &federated, &untrusted] {
        let signature = jwt.rsplit('.').next().unwrap();
        assert!(!haystack.contains(jwt.as_str()), "an assertion leaked");
        assert!(
            !haystack.contains(signature),
            "an assertion's signature leaked"
        );
    }
}
