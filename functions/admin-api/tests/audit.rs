//! The audit trail: every change logs one line naming the principal, the action, the
//! target and the outcome; reads log none; no line carries a secret.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use admin_api::{handle, App};
use lambda_http::Body;
use m2m_core::testing::fixtures::NOW;
use m2m_manage::testing::{FakeVault, InMemoryAdminStore};
use m2m_manage::{Backoff, Operator};
use m2m_testkit::event::{ApiGatewayEvent, ADMIN_PRINCIPAL};
use serde_json::Value;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn body(r: &lambda_http::Response<Body>) -> Value {
    match r.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap(),
        _ => Value::Null,
    }
}

#[tokio::test(flavor = "current_thread")]
async fn changes_audited_without_secrets() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = App {
        operator: Operator::new(InMemoryAdminStore::new()).with_backoff(Backoff::IMMEDIATE),
        vault: FakeVault::new(),
        local_principal: None,
    };
    let post = |path: &str, json: &str| {
        ApiGatewayEvent::admin_iam()
            .method("POST")
            .path(path)
            .header("content-type", "application/json")
            .body(json)
            .request()
    };
    let created = handle(&app, &post("/admin/v1/clients", r#"{"name":"Acme"}"#), NOW).await;
    let created = body(&created);
    let id = created["client_id"].as_str().unwrap().to_owned();
    let rotated = handle(
        &app,
        &post(&format!("/admin/v1/clients/{id}/secrets"), "{}"),
        NOW,
    )
    .await;
    let rotated = body(&rotated);
    let read = ApiGatewayEvent::admin_iam()
        .path(&format!("/admin/v1/clients/{id}"))
        .request();
    handle(&app, &read, NOW).await;
    let missing = handle(&app, &post("/admin/v1/clients/nope/disable", "{}"), NOW).await;
    assert_eq!(missing.status(), 404);

    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let audits: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["fields"]["audit"] == true)
        .collect();
    let line = |action: &str| {
        audits
            .iter()
            .find(|l| l["fields"]["action"] == action)
            .unwrap_or_else(|| panic!("no audit line for {action}: {text}"))
            .clone()
    };
    let create = line("client.create");
    assert_eq!(create["fields"]["principal"], ADMIN_PRINCIPAL);
    assert_eq!(create["fields"]["target"], id.as_str());
    assert_eq!(create["fields"]["outcome"], "ok");
    let rotate = line("secret.rotate");
    assert!(rotate["fields"]["target"]
        .as_str()
        .unwrap()
        .starts_with(&id));
    let refused = line("client.disable");
    assert_eq!(refused["fields"]["outcome"], "not-found");
    assert_eq!(refused["fields"]["target"], "nope");
    assert_eq!(audits.len(), 3, "reads are not audited: {text}");
    for secret in [&created["client_secret"], &rotated["client_secret"]] {
        let secret = secret.as_str().unwrap();
        assert!(!text.contains(secret), "a secret reached the log");
    }
}
