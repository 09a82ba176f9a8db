//! Load: 32 concurrent callers hammer the token handler on the AWS adapters
//! against the local emulator (real DynamoDB table, real KMS key) for a bounded time;
//! a mix of valid requests and refusals. Zero 5xx, and every answer well-formed: a
//! token that verifies against the key, or an RFC 6749 error body.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_kms::types::KeySpec;
use m2m_aws::dynamo::item;
use m2m_aws::public_jwk;
use m2m_aws::DynamoKeyRegistry;
use m2m_aws::{DynamoDirectory, KmsSigner};
use m2m_core::ports::NoHook;
use m2m_core::testing::fixtures::{
    self, API, API_SCOPES, CLIENT_ID, CLIENT_SECRET, GRANTED_SCOPES, ISSUER, NOW,
};
use m2m_testkit::event::token_form;
use m2m_testkit::LocalAws;
use serde_json::Value;
use token::{handle, App};

mod support;

const CALLERS: usize = 32;
const DURATION: Duration = Duration::from_secs(4);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_no_server_errors() {
    support::capture_logs("token-load");
    let aws = LocalAws::shared().unwrap();
    let table = aws.create_table("load").await.unwrap();
    // Several clients, so the reuse cache does not turn every call into
    // the same cached answer.
    let clients: Vec<String> = (0..8).map(|i| format!("{CLIENT_ID}-{i}")).collect();
    let mut seed = vec![item::api_to_item(&fixtures::api(API, API_SCOPES))];
    for c in &clients {
        seed.push(item::client_to_item(&fixtures::client(c, CLIENT_SECRET)));
        seed.push(item::grant_to_item(&fixtures::grant(
            c,
            API,
            GRANTED_SCOPES,
        )));
    }
    aws.put_items(&table, seed).await.unwrap();
    let key_id = aws.create_kms_key(KeySpec::Rsa2048).await.unwrap();
    let sdk = aws.sdk_config().await;
    let kms = aws_sdk_kms::Client::new(&sdk);
    let public = public_jwk(&kms, &key_id).await.unwrap();
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let app = Arc::new(App {
        key_sets: m2m_core::ports::NoKeySets,
        usage: Default::default(),
        config: m2m_testkit::issuer_config(ISSUER),
        directory: DynamoDirectory::new(dynamo.clone(), &table),
        signer: KmsSigner::new(kms, DynamoKeyRegistry::new(dynamo, &table), &key_id),
        hook: None::<NoHook>,
    });
    app.signer.refresh().await.unwrap();
    let jwk = m2m_testkit::jwt::jwk(&public.jwk).unwrap();
    let key = Arc::new(jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap());

    let deadline = Instant::now() + DURATION;
    let mut callers = Vec::new();
    for caller in 0..CALLERS {
        let (app, clients, key) = (app.clone(), clients.clone(), key.clone());
        callers.push(tokio::spawn(async move {
            let mut seen = (0usize, 0usize); // (tokens, refusals)
            let mut n = 0usize;
            while Instant::now() < deadline {
                n += 1;
                let client = &clients[(caller + n) % clients.len()];
                let (body, expect_ok) = match n % 4 {
                    // Every fourth request is refused: wrong secret, unknown scope.
                    0 if caller % 2 == 0 => (format!("grant_type=client_credentials&client_id={client}&client_secret=wrong&audience={API}"), false),
                    0 => (format!("grant_type=client_credentials&client_id={client}&client_secret={CLIENT_SECRET}&audience={API}&scope=admin"), false),
                    _ => (format!("grant_type=client_credentials&client_id={client}&client_secret={CLIENT_SECRET}&audience={API}"), true),
                };
                let r = handle(&app, &token_form(&body), NOW + n as u64).await;
                let status = r.status().as_u16();
                let b: Value = serde_json::from_slice(r.body().as_ref())
                    .unwrap_or_else(|e| panic!("caller {caller}: non-JSON body ({e})"));
                assert!(status < 500, "caller {caller} got {status}: {b}");
                assert_eq!(r.headers()["cache-control"], "no-store");
                if expect_ok {
                    assert_eq!(status, 200, "{b}");
                    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
                    v.set_audience(&[API]);
                    v.set_issuer(&[ISSUER]);
                    v.validate_exp = false; // the fixed clock is in the past
                    let token = b["access_token"].as_str().unwrap();
                    let claims = jsonwebtoken::decode::<Value>(token, &key, &v).unwrap().claims;
                    assert_eq!(claims["sub"], client.as_str());
                    seen.0 += 1;
                } else {
                    assert!([400, 401].contains(&status), "{status} {b}");
                    assert!(b["error"].is_string() && b.get("access_token").is_none());
                    seen.1 += 1;
                }
            }
            seen
        }));
    }
    let (mut tokens, mut refusals) = (0, 0);
    for c in callers {
        let (t, r) = c.await.unwrap();
        tokens += t;
        refusals += r;
    }
    eprintln!("{CALLERS} callers for {DURATION:?}: {tokens} tokens, {refusals} refusals, zero 5xx");
    assert!(tokens >= CALLERS, "every caller got at least one token");
    assert!(refusals > 0);
}
