//! `HttpKeySets`' cache against a canned loopback server and a test clock: freshness,
//! the refresh floor, one fetch per source at a time, failures remembered but never
//! cached as a set, and the previous set served while the source fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use m2m_core::error::PortErrorKind;
use support::{assert_kind, jwks, key_sets, kids, uri, Reply, Server, TestClock};

#[tokio::test]
async fn second_call_cached_no_request() {
    let server = Server::start().await;
    server.route("/jwks", Reply::json(jwks("k1")));
    let clock = TestClock::new();
    let ks = key_sets(&clock);
    let first = uri(&ks, &server.url("/jwks"), false).await.unwrap();
    clock.advance(Duration::from_secs(299));
    let second = uri(&ks, &server.url("/jwks"), false).await.unwrap();
    assert!(Arc::ptr_eq(&first, &second));
    assert_eq!(server.count("/jwks"), 1);
}

#[tokio::test]
async fn ttl_expired_refetched() {
    let server = Server::start().await;
    server.route("/jwks", Reply::json(jwks("k1")));
    let clock = TestClock::new();
    let ks = key_sets(&clock);
    uri(&ks, &server.url("/jwks"), false).await.unwrap();
    server.route("/jwks", Reply::json(jwks("k2")));
    clock.advance(Duration::from_secs(300));
    let set = uri(&ks, &server.url("/jwks"), false).await.unwrap();
    assert_eq!(kids(&set), ["k2"]);
    assert_eq!(server.count("/jwks"), 2);
}

#[tokio::test]
async fn refresh_within_floor_served_from_cache() {
    let server = Server::start().await;
    server.route("/jwks", Reply::json(jwks("k1")));
    let clock = TestClock::new();
    let ks = key_sets(&clock);
    uri(&ks, &server.url("/jwks"), false).await.unwrap();
    server.route("/jwks", Reply::json(jwks("k2")));
    clock.advance(Duration::from_secs(29));
    for _ in 0..5 {
        let set = uri(&ks, &server.url("/jwks"), true).await.unwrap();
        assert_eq!(kids(&set), ["k1"]);
    }
    assert_eq!(server.count("/jwks"), 1);
}

#[tokio::test]
async fn refresh_after_floor_refetched_once() {
    let server = Server::start().await;
    server.route("/jwks", Reply::json(jwks("k1")));
    let clock = TestClock::new();
    let ks = key_sets(&clock);
    uri(&ks, &server.url("/jwks"), false).await.unwrap();
    server.route("/jwks", Reply::json(jwks("k2")));
    clock.advance(Duration::from_secs(30));
    let set = uri(&ks, &server.url("/jwks"), true).await.unwrap();
    assert_eq!(kids(&set), ["k2"]);
    // The rotated set is now the cached one, and a new floor starts.
    let again = uri(&ks, &server.url("/jwks"), true).await.unwrap();
    assert!(Arc::ptr_eq(&set, &again));
    assert_eq!(server.count("/jwks"), 2);
}

#[tokio::test]
async fn clock_set_back_refetched_once() {
    let server = Server::start().await;
    server.route("/jwks", Reply::json(jwks("k1")));
    let clock = TestClock::new();
    let ks = key_sets(&clock);
    uri(&ks, &server.url("/jwks"), false).await.unwrap();
    server.route("/jwks", Reply::json(jwks("k2")));
    clock.set_back(Duration::from_secs(60));
    // A set fetched "in the future" is not trusted to be fresh: fetched again, once.
    let set = uri(&ks, &server.url("/jwks"), false).await.unwrap();
    assert_eq!(kids(&set), ["k2"]);
    uri(&ks, &server.url("/jwks"), false).await.unwrap();
    assert_eq!(server.count("/jwks"), 2);
}

#[tokio::test]
async fn concurrent_callers_one_fetch() {
    let server = Server::start().await;
    server.route(
        "/jwks",
        Reply::json(jwks("k1")).delay(Duration::from_millis(100)),
    );
    let ks = Arc::new(key_sets(&TestClock::new()));
    let url = server.url("/jwks");
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let (ks, url) = (Arc::clone(&ks), url.clone());
            tokio::spawn(async move { uri(&ks, &url, false).await.map(|s| kids(&s)) })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap(), ["k1"]);
    }
    assert_eq!(server.count("/jwks"), 1);
}

#[tokio::test]
async fn failure_not_cached_and_not_retried_within_floor() {
    let server = Server::start().await;
    server.route("/jwks", Reply::status(500, "text/plain", "down"));
    let clock = TestClock::new();
    let ks = key_sets(&clock);
    assert_kind(
        uri(&ks, &server.url("/jwks"), false).await,
        PortErrorKind::Unavailable,
    );
    server.route("/jwks", Reply::json(jwks("k1")));
    clock.advance(Duration::from_secs(10));
    // Remembered for the floor: same failure, no request.
    assert_kind(
        uri(&ks, &server.url("/jwks"), true).await,
        PortErrorKind::Unavailable,
    );
    assert_eq!(server.count("/jwks"), 1);
    clock.advance(Duration::from_secs(20));
    let set = uri(&ks, &server.url("/jwks"), false).await.unwrap();
    assert_eq!(kids(&set), ["k1"]);
    assert_eq!(server.count("/jwks"), 2);
}

#[tokio::test]
async fn refetch_failure_serves_stale_within_grace() {
    let server = Server::start().await;
    server.route("/jwks", Reply::json(jwks("k1")));
    let clock = TestClock::new();
    let ks = key_sets(&clock);
    let first = uri(&ks, &server.url("/jwks"), false).await.unwrap();
    server.route("/jwks", Reply::status(503, "text/plain", "down"));
    clock.advance(Duration::from_secs(301));
    let stale = uri(&ks, &server.url("/jwks"), false).await.unwrap();
    assert!(Arc::ptr_eq(&first, &stale));
    assert_eq!(server.count("/jwks"), 2);
    // A refresh cannot use the set it already searched: it gets the failure.
    assert_kind(
        uri(&ks, &server.url("/jwks"), true).await,
        PortErrorKind::Unavailable,
    );
    assert_eq!(server.count("/jwks"), 2);
    // Past ttl + stale_for the previous set is no longer served.
    clock.advance(Duration::from_secs(3600));
    assert_kind(
        uri(&ks, &server.url("/jwks"), false).await,
        PortErrorKind::Unavailable,
    );
    assert_eq!(server.count("/jwks"), 3);
}
