//! The introspection (RFC 7662) and revocation (RFC 7009) handler with in-memory
//! fakes: tokens issued by the domain with a software RS256 key, introspected and
//! revoked through API Gateway events. Each lever of revocation makes a token
//! inactive; a client revokes its own tokens only; introspection needs the permission.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use introspect::{handle, App};
use lambda_http::{Body, Response};
use m2m_core::basic::encode_basic;
use m2m_core::cache::keys::KeyCache;
use m2m_core::ports::{NoHook, NoKeySets};
use m2m_core::revocation::{Revocation, Revocations as _};
use m2m_core::testing::fixtures::{self, API, CLIENT_ID, CLIENT_SECRET, ISSUER, NOW};
use m2m_core::testing::{InMemoryDirectory, InMemoryRevocations, SoftwareSigner, StaticKeys};
use m2m_core::types::ClientId;
use m2m_core::{issue_token, parse_token_request};
use m2m_testkit::event::token_event;
use serde_json::Value;

const RS: &str = "rs-client";
const RS_SECRET: &str = "m2m_sk_rs-client-secret";
const OTHER: &str = "other-client";
const OTHER_SECRET: &str = "m2m_sk_other-client-secret";

type TestApp = App<InMemoryDirectory, NoKeySets, InMemoryRevocations, StaticKeys>;

struct World {
    app: TestApp,
    signer: SoftwareSigner,
}

fn world() -> World {
    let directory = fixtures::directory_without_reuse();
    let mut rs = fixtures::client(RS, RS_SECRET);
    rs.introspect = true;
    directory.put_client(rs);
    directory.put_client(fixtures::client(OTHER, OTHER_SECRET));
    directory.put_grant(fixtures::grant(OTHER, API, &["read:orders"]));
    let signer = SoftwareSigner::rs256();
    World {
        app: App {
            config: m2m_testkit::issuer_config(ISSUER),
            directory,
            key_sets: NoKeySets,
            revocations: InMemoryRevocations::new(),
            keys: StaticKeys(vec![signer.signing_key()]),
            cache: KeyCache::new(),
        },
        signer,
    }
}

impl World {
    async fn token(&self, id: &str, secret: &str, now: u64) -> String {
        let body = format!("grant_type=client_credentials&client_id={id}&client_secret={secret}&audience=https%3A%2F%2Fapi.example.com");
        let req = parse_token_request(
            Some("application/x-www-form-urlencoded"),
            None,
            body.as_bytes(),
        )
        .unwrap();
        issue_token(
            &req,
            now,
            &self.app.config,
            &self.app.directory,
            &self.signer,
            None::<&NoHook>,
            &NoKeySets,
        )
        .await
        .unwrap()
        .access_token
    }

    async fn call(&self, path: &str, basic: (&str, &str), token: &str, now: u64) -> Response<Body> {
        let auth = encode_basic(basic.0, basic.1);
        let req = token_event_at(
            path,
            &auth,
            &format!("token={token}&token_type_hint=access_token"),
        );
        handle(&self.app, &req, now).await
    }

    async fn introspect(&self, token: &str, now: u64) -> Value {
        let r = self
            .call("/oauth/introspect", (RS, RS_SECRET), token, now)
            .await;
        assert_eq!(r.status(), 200, "{:?}", r.body());
        assert_eq!(r.headers()["cache-control"], "no-store");
        serde_json::from_slice(r.body().as_ref()).unwrap()
    }
}

fn token_event_at(path: &str, authorization: &str, body: &str) -> lambda_http::Request {
    let mut req = token_event("POST", &[("authorization", authorization)], body, false);
    *req.uri_mut() = format!("https://auth.example.com{path}").parse().unwrap();
    req
}

fn json(r: &Response<Body>) -> Value {
    serde_json::from_slice(r.body().as_ref()).unwrap_or(Value::Null)
}

#[tokio::test]
async fn active_token_answers_its_claims() {
    let w = world();
    let t = w.token(CLIENT_ID, CLIENT_SECRET, NOW).await;
    let doc = w.introspect(&t, NOW + 5).await;
    assert_eq!(doc["active"], true);
    assert_eq!(doc["token_type"], "Bearer");
    assert_eq!(doc["client_id"], CLIENT_ID);
    assert_eq!(doc["aud"], API);
    assert_eq!(doc["iss"], ISSUER);
    assert!(doc["scope"].is_string() && doc["exp"].is_u64() && doc["jti"].is_string());
}

#[tokio::test]
async fn inactive_for_anything_not_an_active_token_of_ours() {
    let w = world();
    let t = w.token(CLIENT_ID, CLIENT_SECRET, NOW).await;
    let (head, rest) = t.split_once('.').unwrap();
    let (payload, _) = rest.split_once('.').unwrap();
    let forged = format!("{head}.{payload}.AAAA");
    let other_key = SoftwareSigner::es256_fresh();
    let w2 = World {
        app: App {
            keys: StaticKeys(vec![other_key.signing_key()]),
            cache: KeyCache::new(),
            ..world().app
        },
        signer: other_key,
    };
    let unknown_key = w2.token(CLIENT_ID, CLIENT_SECRET, NOW).await;
    for (token, at, why) in [
        (t.as_str(), NOW + 3600 + 31, "expired"),
        (forged.as_str(), NOW, "bad signature"),
        (
            unknown_key.as_str(),
            NOW,
            "signed by a key that is not published",
        ),
        ("not-a-token", NOW, "malformed"),
    ] {
        assert_eq!(
            w.introspect(token, at).await,
            serde_json::json!({"active": false}),
            "{why}"
        );
    }
    // Another issuer's token, signed with our own key.
    let mut other = world();
    other.app.config.issuer = "https://elsewhere.example/".into();
    let foreign = other.token(CLIENT_ID, CLIENT_SECRET, NOW).await;
    let mut w3 = world();
    w3.app.keys = other.app.keys.clone();
    w3.signer = other.signer.clone();
    assert_eq!(w3.introspect(&foreign, NOW).await["active"], false);
}

#[tokio::test]
async fn each_revocation_lever_makes_a_token_inactive() {
    let w = world();
    // 1. The client revokes one of its tokens (RFC 7009); its other token still passes.
    let a = w.token(OTHER, OTHER_SECRET, NOW).await;
    let b = w.token(OTHER, OTHER_SECRET, NOW).await;
    let r = w
        .call("/oauth/revoke", (OTHER, OTHER_SECRET), &a, NOW + 1)
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(w.introspect(&a, NOW + 2).await["active"], false);
    assert_eq!(w.introspect(&b, NOW + 2).await["active"], true);
    let epoch = w
        .app
        .directory
        .client(&ClientId::new(OTHER))
        .unwrap()
        .revocation_epoch;
    assert_eq!(epoch, 1, "the reuse fingerprint moves on");
    // 2. The operator revokes by jti.
    let doc = w.introspect(&b, NOW + 2).await;
    let jti = doc["jti"].as_str().unwrap().to_owned();
    w.app
        .revocations
        .revoke(
            &Revocation::Token {
                jti,
                client_id: ClientId::new(OTHER),
                expires_at: NOW + 3600,
            },
            NOW + 3,
        )
        .await
        .unwrap();
    assert_eq!(w.introspect(&b, NOW + 4).await["active"], false);
    // 3. Every token of a client issued before an instant; later ones pass.
    let c = w.token(CLIENT_ID, CLIENT_SECRET, NOW).await;
    w.app
        .revocations
        .revoke(
            &Revocation::Client {
                client_id: ClientId::new(CLIENT_ID),
                not_before: NOW + 10,
            },
            NOW + 10,
        )
        .await
        .unwrap();
    let d = w.token(CLIENT_ID, CLIENT_SECRET, NOW + 10).await;
    assert_eq!(w.introspect(&c, NOW + 11).await["active"], false);
    assert_eq!(w.introspect(&d, NOW + 11).await["active"], true);
    // 4. A disabled client's tokens.
    w.app
        .directory
        .update_client(&ClientId::new(CLIENT_ID), |c| {
            c.status = m2m_core::model::ClientStatus::Disabled
        });
    assert_eq!(w.introspect(&d, NOW + 12).await["active"], false);
}

#[tokio::test]
async fn a_client_cannot_revoke_another_clients_token() {
    let w = world();
    let t = w.token(CLIENT_ID, CLIENT_SECRET, NOW).await;
    let r = w
        .call("/oauth/revoke", (OTHER, OTHER_SECRET), &t, NOW + 1)
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(json(&r)["error"], "unauthorized_client");
    assert_eq!(w.introspect(&t, NOW + 2).await["active"], true);
    assert!(w.app.revocations.written().is_empty());
}

#[tokio::test]
async fn revoking_an_invalid_token_is_not_an_error() {
    let w = world();
    let r = w
        .call("/oauth/revoke", (OTHER, OTHER_SECRET), "garbage", NOW)
        .await;
    assert_eq!(r.status(), 200);
    assert!(w.app.revocations.written().is_empty());
}

#[tokio::test]
async fn introspection_needs_the_permission_and_authentication() {
    let w = world();
    let t = w.token(CLIENT_ID, CLIENT_SECRET, NOW).await;
    let r = w
        .call("/oauth/introspect", (OTHER, OTHER_SECRET), &t, NOW)
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(json(&r)["error"], "access_denied");
    assert!(json(&r).get("active").is_none());
    let r = w
        .call("/oauth/introspect", (RS, "m2m_sk_wrong"), &t, NOW)
        .await;
    assert_eq!(r.status(), 401);
    assert_eq!(json(&r)["error"], "invalid_client");
    let r = w
        .call("/oauth/revoke", ("nobody", "m2m_sk_x"), &t, NOW)
        .await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn requests_are_checked_like_token_requests() {
    let w = world();
    let auth = encode_basic(RS, RS_SECRET);
    let missing = handle(
        &w.app,
        &token_event_at("/oauth/introspect", &auth, "token_type_hint=x"),
        NOW,
    )
    .await;
    assert_eq!(missing.status(), 400);
    assert_eq!(json(&missing)["error"], "invalid_request");
    let mut get = token_event_at("/oauth/introspect", &auth, "");
    *get.method_mut() = http::Method::GET;
    assert_eq!(handle(&w.app, &get, NOW).await.status(), 405);
    let elsewhere = handle(
        &w.app,
        &token_event_at("/oauth/other", &auth, "token=x"),
        NOW,
    )
    .await;
    assert_eq!(elsewhere.status(), 404);
    // Behind an API Gateway stage prefix.
    let t = w.token(CLIENT_ID, CLIENT_SECRET, NOW).await;
    let staged = token_event_at("/prod/oauth/introspect", &auth, &format!("token={t}"));
    assert_eq!(json(&handle(&w.app, &staged, NOW).await)["active"], true);
}
