//! Handler tests from API Gateway HTTP API (v2) GET fixtures, parsed by
//! `lambda_http::request::from_str` as the runtime does, against an in-memory key
//! registry that counts reads and a fixed clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{body_json, key, FakeKeys};
use jwks::cache::{KEY_SET_TTL_SECS, STALE_GRACE_SECS};
use jwks::{handle, App};
use m2m_core::model::{KeyStatus, MAX_TOKEN_LIFETIME};
use m2m_core::testing::fixtures::{ISSUER, NOW};
use m2m_core::testing::SoftwareSigner;
use m2m_testkit::event::{get, well_known};
use serde_json::Value;

const JWKS: &str = "/.well-known/jwks.json";
const OPENID: &str = "/.well-known/openid-configuration";
const OAUTH: &str = "/.well-known/oauth-authorization-server";

struct Keys {
    active: SoftwareSigner,
    pending: SoftwareSigner,
    retired: SoftwareSigner,
    expired: SoftwareSigner,
}

/// Active RS256, pending ES256, retired ES256 (tokens may still be valid) and a
/// retired ES256 whose last token expired a second ago.
fn four_keys() -> (Keys, FakeKeys) {
    let k = Keys {
        active: SoftwareSigner::rs256(),
        pending: SoftwareSigner::es256(),
        retired: SoftwareSigner::es256_fresh(),
        expired: SoftwareSigner::es256_fresh(),
    };
    let registry = FakeKeys::new(vec![
        key(
            &k.expired.jwk(),
            KeyStatus::Retired,
            NOW - 3 * 86_400,
            Some(NOW - MAX_TOKEN_LIFETIME - 1),
        ),
        key(
            &k.retired.jwk(),
            KeyStatus::Retired,
            NOW - 2 * 86_400,
            Some(NOW - 100),
        ),
        key(&k.pending.jwk(), KeyStatus::Pending, NOW - 10, None),
        key(&k.active.jwk(), KeyStatus::Active, NOW - 86_400, None),
    ]);
    (k, registry)
}

fn kids(body: &Value) -> Vec<String> {
    body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn jwks_publishes_pending_active_and_unexpired_retired_keys() {
    let (k, registry) = four_keys();
    let app = App::new(ISSUER, registry);
    let r = handle(&app, &get(JWKS), NOW).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.headers()["cache-control"], "public, max-age=300");
    let etag = r.headers()["etag"].to_str().unwrap();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 20,
        "{etag}"
    );
    let body = body_json(&r);
    assert_eq!(
        body.as_object().unwrap().len(),
        1,
        "only `keys` (RFC 7517 §5)"
    );
    assert_eq!(
        kids(&body),
        vec![
            k.active.kid().to_string(),
            k.pending.kid().to_string(),
            k.retired.kid().to_string()
        ]
    );
    assert!(!kids(&body).contains(&k.expired.kid().to_string()));
    let keys = body["keys"].as_array().unwrap();
    // RFC 7517 §4 / RFC 7518 §6: RSA n/e, EC crv/x/y, with use and alg.
    let rsa = &keys[0];
    assert_eq!(
        (
            rsa["kty"].as_str(),
            rsa["use"].as_str(),
            rsa["alg"].as_str()
        ),
        (Some("RSA"), Some("sig"), Some("RS256"))
    );
    assert!(rsa["n"].is_string() && rsa["e"] == "AQAB" && rsa.get("x").is_none());
    for ec in &keys[1..] {
        assert_eq!(
            (ec["kty"].as_str(), ec["use"].as_str(), ec["alg"].as_str()),
            (Some("EC"), Some("sig"), Some("ES256"))
        );
        assert_eq!(ec["crv"], "P-256");
        assert!(ec["x"].is_string() && ec["y"].is_string() && ec.get("n").is_none());
    }
    // An independent library reads every published key.
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(body).unwrap();
    for jwk in &set.keys {
        jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    }
}

#[tokio::test]
async fn retired_key_leaves_on_time_even_from_cached_list() {
    let (k, registry) = four_keys();
    let app = App::new(ISSUER, registry);
    let retired_at = NOW - 100;
    let last = retired_at + MAX_TOKEN_LIFETIME - 1;
    let body = body_json(&handle(&app, &get(JWKS), last).await);
    assert!(kids(&body).contains(&k.retired.kid().to_string()));
    let body = body_json(&handle(&app, &get(JWKS), last + 1).await);
    assert!(!kids(&body).contains(&k.retired.kid().to_string()));
    assert_eq!(
        app.keys.reads(),
        1,
        "the second request was served from the cache"
    );
}

#[tokio::test]
async fn matching_if_none_match_gives_304_without_body() {
    let (_, registry) = four_keys();
    let app = App::new(ISSUER, registry);
    let first = handle(&app, &get(JWKS), NOW).await;
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    for value in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"stale\", {etag}"),
        "*".to_owned(),
    ] {
        let r = handle(
            &app,
            &well_known("GET", JWKS, &[("if-none-match", &value)]),
            NOW,
        )
        .await;
        assert_eq!(r.status(), 304, "{value}");
        assert!(r.body().is_empty());
        assert_eq!(r.headers()["etag"], etag.as_str());
        assert_eq!(r.headers()["cache-control"], "public, max-age=300");
    }
    let r = handle(
        &app,
        &well_known("GET", JWKS, &[("if-none-match", "\"stale\"")]),
        NOW,
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(!r.body().is_empty());
}

#[tokio::test]
async fn etag_changes_with_the_key_set_and_is_stable_across_instances() {
    let (k, registry) = four_keys();
    let app = App::new(ISSUER, registry);
    let etag = handle(&app, &get(JWKS), NOW).await.headers()["etag"].clone();
    // Another instance with the same keys gives the same tag; with other keys, not.
    let same = App::new(
        ISSUER,
        FakeKeys::new(vec![
            key(
                &k.retired.jwk(),
                KeyStatus::Retired,
                NOW - 2 * 86_400,
                Some(NOW - 100),
            ),
            key(&k.pending.jwk(), KeyStatus::Pending, NOW - 10, None),
            key(&k.active.jwk(), KeyStatus::Active, NOW - 86_400, None),
        ]),
    );
    assert_eq!(handle(&same, &get(JWKS), NOW).await.headers()["etag"], etag);
    let empty = App::new(ISSUER, FakeKeys::new(vec![]));
    assert_ne!(
        handle(&empty, &get(JWKS), NOW).await.headers()["etag"],
        etag
    );
    // After the pending key is activated elsewhere and the cache expires, the old tag
    // no longer matches.
    app.keys
        .set(vec![key(&k.active.jwk(), KeyStatus::Active, NOW, None)]);
    let later = NOW + KEY_SET_TTL_SECS;
    let r = handle(
        &app,
        &well_known("GET", JWKS, &[("if-none-match", etag.to_str().unwrap())]),
        later,
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_ne!(r.headers()["etag"], etag);
}

#[tokio::test]
async fn head_gives_headers_without_body() {
    let (_, registry) = four_keys();
    let app = App::new(ISSUER, registry);
    for path in [JWKS, OPENID, OAUTH] {
        let got = handle(&app, &get(path), NOW).await;
        let head = handle(&app, &well_known("HEAD", path, &[]), NOW).await;
        assert_eq!(head.status(), 200, "{path}");
        assert!(head.body().is_empty(), "{path}");
        for h in ["content-type", "cache-control", "etag"] {
            assert_eq!(head.headers()[h], got.headers()[h], "{path} {h}");
        }
    }
}

#[tokio::test]
async fn other_methods_get_405_with_allow() {
    let (_, registry) = four_keys();
    let app = App::new(ISSUER, registry);
    for method in ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
        for path in [JWKS, OPENID, OAUTH] {
            let r = handle(&app, &well_known(method, path, &[]), NOW).await;
            assert_eq!(r.status(), 405, "{method} {path}");
            assert_eq!(r.headers()["allow"], "GET, HEAD");
            assert_eq!(r.headers()["content-type"], "application/json");
            assert_eq!(body_json(&r)["error"], "method_not_allowed");
        }
    }
    assert_eq!(app.keys.reads(), 0);
}

#[tokio::test]
async fn unknown_paths_get_404_json() {
    let (_, registry) = four_keys();
    let app = App::new(ISSUER, registry);
    for path in [
        "/",
        "/oauth/token",
        "/.well-known/",
        "/.well-known/jwks",
        "/.well-known/jwks.json/x",
        "/.well-known/openid-configuration/extra",
    ] {
        let r = handle(&app, &get(path), NOW).await;
        assert_eq!(r.status(), 404, "{path}");
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(r.headers()["cache-control"], "no-store");
        assert_eq!(body_json(&r)["error"], "not_found");
    }
    assert_eq!(app.keys.reads(), 0);
}

/// RFC 8414 §2 / §3.3 and OpenID Connect Discovery 1.0 §3 / §4.3.
fn assert_metadata(m: &Value, issuer: &str) {
    assert_eq!(
        m["issuer"], issuer,
        "issuer equals the configured value exactly"
    );
    let https = issuer.starts_with("https://");
    for field in ["token_endpoint", "jwks_uri"] {
        let url = m[field].as_str().unwrap();
        assert!(
            url.starts_with(if https { "https://" } else { "http://" }),
            "{field}: {url}"
        );
        assert!(
            !url.contains("//oauth") && !url.contains("//.well-known"),
            "{field}: {url}"
        );
        assert!(
            url.starts_with(issuer.trim_end_matches('/')),
            "{field}: {url}"
        );
    }
    assert!(m["token_endpoint"]
        .as_str()
        .unwrap()
        .ends_with("/oauth/token"));
    assert!(m["jwks_uri"]
        .as_str()
        .unwrap()
        .ends_with("/.well-known/jwks.json"));
    assert_eq!(
        m["grant_types_supported"],
        serde_json::json!(["client_credentials"])
    );
    assert_eq!(
        m["token_endpoint_auth_methods_supported"],
        serde_json::json!([
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt"
        ])
    );
    // RFC 8414 §2: introspection (RFC 7662) and revocation (RFC 7009) endpoints.
    for (name, path) in [
        ("introspection_endpoint", "/oauth/introspect"),
        ("revocation_endpoint", "/oauth/revoke"),
    ] {
        assert!(m[name].as_str().unwrap().ends_with(path), "{name}");
        assert_eq!(
            m[format!(
                "{}_auth_methods_supported",
                name.trim_end_matches("_endpoint").to_owned() + "_endpoint"
            )],
            m["token_endpoint_auth_methods_supported"]
        );
    }
    // RFC 8414 §2: the assertion algorithms; never `none`, never an HMAC.
    assert_eq!(
        m["token_endpoint_auth_signing_alg_values_supported"],
        serde_json::json!(["RS256", "PS256", "ES256", "EdDSA"])
    );
    assert_eq!(m["response_types_supported"], serde_json::json!(["token"]));
    assert_eq!(m["subject_types_supported"], serde_json::json!(["public"]));
    assert_eq!(
        m["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256", "ES256"])
    );
    assert!(m.get("scopes_supported").is_none());
    assert!(m.get("authorization_endpoint").is_none());
}

#[tokio::test]
async fn discovery_documents_carry_rfc8414_metadata_without_registry_read() {
    let (_, registry) = four_keys();
    let app = App::new(ISSUER, registry);
    let openid = handle(&app, &get(OPENID), NOW).await;
    let oauth = handle(&app, &get(OAUTH), NOW).await;
    for r in [&openid, &oauth] {
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(r.headers()["cache-control"], "public, max-age=300");
        assert!(r.headers().contains_key("etag"));
        assert_metadata(&body_json(r), ISSUER);
    }
    assert_eq!(openid.body().as_ref(), oauth.body().as_ref());
    let m = body_json(&openid);
    assert_eq!(m["token_endpoint"], "https://auth.example.com/oauth/token");
    assert_eq!(
        m["jwks_uri"],
        "https://auth.example.com/.well-known/jwks.json"
    );
    let etag = openid.headers()["etag"].to_str().unwrap();
    let r = handle(
        &app,
        &well_known("GET", OPENID, &[("if-none-match", etag)]),
        NOW,
    )
    .await;
    assert_eq!(r.status(), 304);
    assert_eq!(app.keys.reads(), 0, "discovery needs no registry read");
}

#[tokio::test]
async fn issuer_variants_give_absolute_endpoints_and_spec_paths() {
    for (issuer, paths) in [
        ("https://auth.example.com", vec![JWKS, OPENID, OAUTH]),
        ("http://127.0.0.1:9000", vec![JWKS, OPENID, OAUTH]),
        (
            "https://abc123.execute-api.eu-west-1.amazonaws.com/Prod",
            vec![
                "/Prod/.well-known/jwks.json",
                "/Prod/.well-known/openid-configuration",
                "/.well-known/oauth-authorization-server/Prod",
            ],
        ),
    ] {
        let app = App::new(issuer, FakeKeys::new(vec![]));
        for path in &paths[1..] {
            let r = handle(&app, &get(path), NOW).await;
            assert_eq!(r.status(), 200, "{issuer} {path}");
            let m = body_json(&r);
            assert_metadata(&m, issuer);
            assert_eq!(
                m["jwks_uri"],
                format!("{}{}", issuer.trim_end_matches('/'), JWKS)
            );
        }
        let r = handle(&app, &get(paths[0]), NOW).await;
        assert_eq!(r.status(), 200, "{issuer} {}", paths[0]);
        assert_eq!(body_json(&r), serde_json::json!({"keys": []}));
    }
}

#[tokio::test]
async fn two_requests_within_ttl_read_the_registry_once() {
    let (_, registry) = four_keys();
    let app = App::new(ISSUER, registry);
    let a = handle(&app, &get(JWKS), NOW).await;
    let b = handle(&app, &get(JWKS), NOW + KEY_SET_TTL_SECS - 1).await;
    assert_eq!(app.keys.reads(), 1);
    assert_eq!(a.body().as_ref(), b.body().as_ref());
    handle(&app, &get(JWKS), NOW + KEY_SET_TTL_SECS).await;
    assert_eq!(app.keys.reads(), 2, "expired cache is refreshed");
    handle(&app, &get(JWKS), NOW).await;
    assert_eq!(app.keys.reads(), 3, "a clock that went back refreshes");
}

#[tokio::test]
async fn refresh_during_init_warms_the_cache() {
    let (_, registry) = four_keys();
    let app = App::new(ISSUER, registry);
    assert_eq!(app.refresh(NOW).await.unwrap(), 4);
    assert_eq!(handle(&app, &get(JWKS), NOW + 1).await.status(), 200);
    assert_eq!(app.keys.reads(), 1);
}

#[tokio::test]
async fn cold_registry_failure_gives_json_500_or_503() {
    for (throttled, status, code) in [
        (false, 500, "server_error"),
        (true, 503, "temporarily_unavailable"),
    ] {
        let (_, registry) = four_keys();
        registry.fail(Some(throttled));
        let app = App::new(ISSUER, registry);
        let r = handle(&app, &get(JWKS), NOW).await;
        assert_eq!(r.status(), status);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let b = body_json(&r);
        assert_eq!(b["error"], code);
        assert!(
            !b.to_string().contains("fake registry"),
            "the cause stays in the log"
        );
        // Discovery still answers.
        assert_eq!(handle(&app, &get(OPENID), NOW).await.status(), 200);
    }
}

#[tokio::test]
async fn warm_registry_failure_serves_cached_keys_within_grace() {
    let (k, registry) = four_keys();
    let app = App::new(ISSUER, registry);
    let first = handle(&app, &get(JWKS), NOW).await;
    app.keys.fail(Some(true));
    let t = NOW + KEY_SET_TTL_SECS;
    let r = handle(&app, &get(JWKS), t).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.body().as_ref(), first.body().as_ref());
    assert!(kids(&body_json(&r)).contains(&k.active.kid().to_string()));
    let r = handle(&app, &get(JWKS), NOW + STALE_GRACE_SECS).await;
    assert_eq!(r.status(), 503);
    app.keys.fail(None);
    let r = handle(&app, &get(JWKS), NOW + STALE_GRACE_SECS + KEY_SET_TTL_SECS).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn forged_or_revoked_keys_never_served() {
    // Whoever can write a `KEY#` item cannot get their own public key published: its
    // kid must be the RFC 7638 thumbprint of the JWK. A revoked key is never served.
    let honest = SoftwareSigner::rs256();
    let attacker = SoftwareSigner::es256_fresh();
    let revoked = SoftwareSigner::es256();
    let mut forged = key(&attacker.jwk(), KeyStatus::Active, NOW - 10, None);
    forged.kid = honest.jwk().kid.unwrap();
    forged.public_jwk.kid = Some(forged.kid.clone());
    let mut renamed = key(&attacker.jwk(), KeyStatus::Pending, NOW - 10, None);
    renamed.kid = m2m_core::types::Kid::new("chosen-by-attacker");
    renamed.public_jwk.kid = Some(renamed.kid.clone());
    let registry = FakeKeys::new(vec![
        key(&honest.jwk(), KeyStatus::Pending, NOW - 10, None),
        forged,
        renamed,
        key(&revoked.jwk(), KeyStatus::Revoked, NOW - 10, None),
    ]);
    let app = App::new(ISSUER, registry);
    let r = handle(&app, &get(JWKS), NOW).await;
    assert_eq!(r.status(), 200);
    let body = body_json(&r);
    assert_eq!(kids(&body), vec![honest.jwk().kid.unwrap().to_string()]);
    let keys = body["keys"].as_array().unwrap();
    assert_eq!(keys[0]["kty"], "RSA");
}
