//! `HttpKeySets`' fetches against a canned loopback server (`allow_loopback`, as in
//! the local stack): parsing, issuer discovery, and every bound — the address guard,
//! redirects, size, time, media type, status — each with the `PortError` kind it must
//! become.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use m2m_core::error::PortErrorKind;
use m2m_core::ports::{JwksSource, KeySets as _};
use m2m_fetch::{FetchPolicy, HttpKeySets};
use support::{assert_kind, jwks, key_sets, kids, uri, Reply, Server, TestClock, RSA_N};

#[tokio::test]
async fn jwks_uri_fetched_and_parsed() {
    let server = Server::start().await;
    server.route(
        "/jwks",
        Reply::status(200, "application/jwk-set+json; charset=utf-8", jwks("k1")),
    );
    let ks = key_sets(&TestClock::new());
    let set = uri(&ks, &server.url("/jwks"), false).await.unwrap();
    assert_eq!(kids(&set), ["k1"]);
    assert_eq!(server.requests(), ["/jwks"]);
}

#[tokio::test]
async fn localhost_name_with_allow_loopback_fetched() {
    let server = Server::start().await;
    server.route("/jwks", Reply::json(jwks("k1")));
    let ks = key_sets(&TestClock::new());
    let url = format!("http://localhost:{}/jwks", server.port());
    let set = uri(&ks, &url, false).await.unwrap();
    assert_eq!(kids(&set), ["k1"]);
}

#[tokio::test]
async fn issuer_discovered_and_fetched() {
    let server = Server::start().await;
    let issuer = server.url("");
    server.route(
        "/.well-known/openid-configuration",
        Reply::json(format!(
            r#"{{"issuer":"{issuer}","jwks_uri":"{}","response_types_supported":["id_token"]}}"#,
            server.url("/openid/v1/jwks")
        )),
    );
    server.route("/openid/v1/jwks", Reply::json(jwks("sa-1")));
    let clock = TestClock::new();
    let ks = key_sets(&clock);
    let set = ks
        .key_set(JwksSource::Issuer(&issuer), false)
        .await
        .unwrap();
    assert_eq!(kids(&set), ["sa-1"]);
    assert_eq!(
        server.requests(),
        ["/.well-known/openid-configuration", "/openid/v1/jwks"]
    );
    ks.key_set(JwksSource::Issuer(&issuer), false)
        .await
        .unwrap();
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn issuer_with_path_and_trailing_slash_discovered() {
    let server = Server::start().await;
    let issuer = server.url("/tenant/");
    server.route(
        "/tenant/.well-known/openid-configuration",
        Reply::json(format!(
            r#"{{"issuer":"{issuer}","jwks_uri":"{}"}}"#,
            server.url("/tenant/keys")
        )),
    );
    server.route("/tenant/keys", Reply::json(jwks("t1")));
    let ks = key_sets(&TestClock::new());
    let set = ks
        .key_set(JwksSource::Issuer(&issuer), false)
        .await
        .unwrap();
    assert_eq!(kids(&set), ["t1"]);
}

#[tokio::test]
async fn issuer_mismatch_refused() {
    let server = Server::start().await;
    let issuer = server.url("");
    server.route(
        "/.well-known/openid-configuration",
        Reply::json(format!(
            r#"{{"issuer":"https://accounts.example.com","jwks_uri":"{}"}}"#,
            server.url("/jwks")
        )),
    );
    server.route("/jwks", Reply::json(jwks("k1")));
    let ks = key_sets(&TestClock::new());
    let e = assert_kind(
        ks.key_set(JwksSource::Issuer(&issuer), false).await,
        PortErrorKind::Refused,
    );
    assert!(e.message().contains("another issuer"), "{}", e.message());
    assert_eq!(server.count("/jwks"), 0);
}

#[tokio::test]
async fn discovered_jwks_uri_to_metadata_service_refused() {
    let server = Server::start().await;
    let issuer = server.url("");
    server.route(
        "/.well-known/openid-configuration",
        Reply::json(format!(
            r#"{{"issuer":"{issuer}","jwks_uri":"http://169.254.169.254/latest/meta-data/"}}"#
        )),
    );
    let ks = key_sets(&TestClock::new());
    let e = assert_kind(
        ks.key_set(JwksSource::Issuer(&issuer), false).await,
        PortErrorKind::Refused,
    );
    assert!(
        e.message()
            .starts_with("169.254.169.254: a refused address"),
        "{}",
        e.message()
    );
}

#[tokio::test]
async fn redirect_refused_not_followed() {
    let server = Server::start().await;
    server.route(
        "/jwks",
        Reply::status(302, "text/plain", "").header("Location", &server.url("/moved")),
    );
    server.route("/moved", Reply::json(jwks("k1")));
    let ks = key_sets(&TestClock::new());
    let e = assert_kind(
        uri(&ks, &server.url("/jwks"), false).await,
        PortErrorKind::Refused,
    );
    assert!(e.message().contains("redirect"), "{}", e.message());
    assert_eq!(server.requests(), ["/jwks"]);
}

fn oversized() -> String {
    // Valid JSON one byte over 64 KiB.
    let filler = "x".repeat(64 * 1024 + 1 - r#"{"keys":[],"pad":""}"#.len());
    format!(r#"{{"keys":[],"pad":"{filler}"}}"#)
}

#[tokio::test]
async fn body_over_limit_refused() {
    let server = Server::start().await;
    server.route("/jwks", Reply::json(oversized()));
    let ks = key_sets(&TestClock::new());
    let e = assert_kind(
        uri(&ks, &server.url("/jwks"), false).await,
        PortErrorKind::Refused,
    );
    assert!(
        e.message().contains("larger than 65536 bytes"),
        "{}",
        e.message()
    );
}

#[tokio::test]
async fn chunked_body_over_limit_refused() {
    let server = Server::start().await;
    server.route("/jwks", Reply::json(oversized()).chunked());
    let ks = key_sets(&TestClock::new());
    let e = assert_kind(
        uri(&ks, &server.url("/jwks"), false).await,
        PortErrorKind::Refused,
    );
    assert!(
        e.message().contains("larger than 65536 bytes"),
        "{}",
        e.message()
    );
}

#[tokio::test]
async fn chunked_body_within_limit_fetched() {
    let server = Server::start().await;
    server.route("/jwks", Reply::json(jwks("k1")).chunked());
    let ks = key_sets(&TestClock::new());
    assert_eq!(
        kids(&uri(&ks, &server.url("/jwks"), false).await.unwrap()),
        ["k1"]
    );
}

#[tokio::test]
async fn slow_server_timed_out() {
    let server = Server::start().await;
    server.route(
        "/jwks",
        Reply::json(jwks("k1")).delay(Duration::from_secs(3)),
    );
    let ks = key_sets(&TestClock::new());
    let started = Instant::now();
    let e = assert_kind(
        uri(&ks, &server.url("/jwks"), false).await,
        PortErrorKind::Timeout,
    );
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert!(e.is_transient());
}

#[tokio::test]
async fn stalled_body_timed_out() {
    let server = Server::start().await;
    server.route("/jwks", Reply::json(jwks("k1")).stall_body());
    let ks = key_sets(&TestClock::new());
    let started = Instant::now();
    assert_kind(
        uri(&ks, &server.url("/jwks"), false).await,
        PortErrorKind::Timeout,
    );
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn unparseable_key_skipped() {
    let server = Server::start().await;
    server.route(
        "/jwks",
        Reply::json(format!(
            r#"{{"keys":[{{"kty":"OKP","crv":"X448","kid":"x448","x":"AA"}},
            {{"kty":"unknown","kid":"u"}},
            {{"kty":"RSA","kid":"good","n":"{RSA_N}","e":"AQAB"}}]}}"#
        )),
    );
    let ks = key_sets(&TestClock::new());
    let set = uri(&ks, &server.url("/jwks"), false).await.unwrap();
    assert_eq!(kids(&set), ["good"]);
}

#[tokio::test]
async fn not_json_media_type_malformed() {
    let server = Server::start().await;
    server.route("/jwks", Reply::status(200, "text/html", jwks("k1")));
    let ks = key_sets(&TestClock::new());
    let e = assert_kind(
        uri(&ks, &server.url("/jwks"), false).await,
        PortErrorKind::Malformed,
    );
    assert!(e.message().contains("not JSON"), "{}", e.message());
}

#[tokio::test]
async fn json_media_type_with_other_body_malformed() {
    let server = Server::start().await;
    server.route("/html", Reply::json("<html>login</html>"));
    server.route("/object", Reply::json(r#"{"issuer":"x"}"#));
    let ks = key_sets(&TestClock::new());
    assert_kind(
        uri(&ks, &server.url("/html"), false).await,
        PortErrorKind::Malformed,
    );
    assert_kind(
        uri(&ks, &server.url("/object"), false).await,
        PortErrorKind::Malformed,
    );
}

#[tokio::test]
async fn status_other_than_200_refused() {
    let server = Server::start().await;
    server.route("/empty", Reply::status(204, "application/json", ""));
    server.route("/throttled", Reply::status(429, "application/json", "{}"));
    let ks = key_sets(&TestClock::new());
    let e = assert_kind(
        uri(&ks, &server.url("/missing"), false).await,
        PortErrorKind::Refused,
    );
    assert!(e.message().contains("HTTP 404"), "{}", e.message());
    assert_kind(
        uri(&ks, &server.url("/empty"), false).await,
        PortErrorKind::Refused,
    );
    assert_kind(
        uri(&ks, &server.url("/throttled"), false).await,
        PortErrorKind::Throttled,
    );
}

#[tokio::test]
async fn nothing_listening_unavailable() {
    // A port that was free a moment ago and has no listener now.
    let port = {
        let probe = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        probe.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/jwks");
    let ks = key_sets(&TestClock::new());
    assert_kind(uri(&ks, &url, false).await, PortErrorKind::Unavailable);
}

#[tokio::test]
async fn allow_loopback_private_and_link_local_still_refused() {
    let ks = key_sets(&TestClock::new());
    for url in [
        "http://10.0.0.1/jwks",
        "http://169.254.169.254/latest/meta-data/",
        "https://169.254.169.254/latest/meta-data/",
        "http://192.168.1.1/jwks",
        "http://172.16.0.1/jwks",
        "http://100.64.0.1/jwks",
        "http://[fe80::1]/jwks",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[::ffff:10.0.0.1]/jwks",
        "http://[::ffff:169.254.169.254]/jwks",
    ] {
        let started = Instant::now();
        assert_kind(uri(&ks, url, false).await, PortErrorKind::Refused);
        // Refused before any packet is sent.
        assert!(started.elapsed() < Duration::from_millis(100), "{url}");
    }
    assert_kind(
        ks.key_set(JwksSource::Issuer("http://169.254.169.254"), false)
            .await,
        PortErrorKind::Refused,
    );
}

#[tokio::test]
async fn deployed_policy_refuses_http_and_loopback() {
    let server = Server::start().await;
    server.route("/jwks", Reply::json(jwks("k1")));
    let ks = HttpKeySets::new(FetchPolicy::default()).unwrap();
    let e = assert_kind(
        uri(&ks, &server.url("/jwks"), false).await,
        PortErrorKind::Refused,
    );
    assert_eq!(e.message(), "127.0.0.1: not an https URL");
    let port = server.port();
    for url in [
        format!("https://127.0.0.1:{port}/jwks"),
        format!("https://[::1]:{port}/jwks"),
        format!("https://[::ffff:127.0.0.1]:{port}/jwks"),
        "https://user:secret@example.com/jwks".to_owned(),
    ] {
        let e = assert_kind(uri(&ks, &url, false).await, PortErrorKind::Refused);
        assert!(!e.message().contains("secret"), "{}", e.message());
    }
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn deployed_localhost_refused_by_resolver() {
    let server = Server::start().await;
    server.route("/jwks", Reply::json(jwks("k1")));
    let ks = HttpKeySets::new(FetchPolicy::default()).unwrap();
    let url = format!("https://localhost:{}/jwks", server.port());
    let e = assert_kind(uri(&ks, &url, false).await, PortErrorKind::Refused);
    assert_eq!(
        e.message(),
        "localhost resolves to a refused address (loopback)"
    );
    assert!(server.requests().is_empty());
}
