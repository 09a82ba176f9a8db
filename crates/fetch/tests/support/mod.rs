//! A canned loopback HTTP/1.1 server that counts the requests it gets per path, a
//! test clock for the cache, and the key sets under test built on both.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use m2m_core::error::{PortError, PortErrorKind};
use m2m_core::ports::{JwkSet, JwksSource, KeySets as _};
use m2m_fetch::{FetchPolicy, HttpKeySets};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// The local stack's policy (loopback and plain http allowed) with a short timeout.
pub fn local_policy() -> FetchPolicy {
    FetchPolicy {
        allow_loopback: true,
        timeout: Duration::from_millis(300),
        ..FetchPolicy::default()
    }
}

/// Key sets under [`local_policy`], aged by `clock`.
pub fn key_sets(clock: &TestClock) -> HttpKeySets {
    let clock = clock.clone();
    HttpKeySets::new(local_policy())
        .unwrap()
        .with_clock(move || clock.now())
}

/// The key set at `url`.
pub async fn uri(ks: &HttpKeySets, url: &str, refresh: bool) -> Result<Arc<JwkSet>, PortError> {
    ks.key_set(JwksSource::Uri(url), refresh).await
}

/// The error of `result`, which must be of `kind`.
pub fn assert_kind(result: Result<Arc<JwkSet>, PortError>, kind: PortErrorKind) -> PortError {
    let e = result.expect_err("a refusal");
    assert_eq!(e.kind(), kind, "{}", e.message());
    e
}

/// How the server answers one path.
#[derive(Clone, Debug)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Wait this long before sending anything.
    delay: Duration,
    /// Send the body in chunked encoding, with no Content-Length.
    chunked: bool,
    /// Send the head and half the body, then nothing more.
    stall_body: bool,
}

impl Reply {
    pub fn status(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
            delay: Duration::ZERO,
            chunked: false,
            stall_body: false,
        }
    }

    pub fn json(body: impl Into<Vec<u8>>) -> Self {
        Self::status(200, "application/json", body)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    pub fn chunked(mut self) -> Self {
        self.chunked = true;
        self
    }

    pub fn stall_body(mut self) -> Self {
        self.stall_body = true;
        self
    }
}

/// The server: answers each path with its [`Reply`] (404 otherwise) and closes the
/// connection after every answer, so each request is one connection.
pub struct Server {
    addr: SocketAddr,
    routes: Arc<Mutex<HashMap<String, Reply>>>,
    requests: Arc<Mutex<Vec<String>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Server {
    pub async fn start() -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let routes: Arc<Mutex<HashMap<String, Reply>>> = Arc::default();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let (r, q) = (Arc::clone(&routes), Arc::clone(&requests));
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (r, q) = (Arc::clone(&r), Arc::clone(&q));
                tokio::spawn(async move { serve(stream, &r, &q).await });
            }
        });
        Self {
            addr,
            routes,
            requests,
            accept,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.addr.port())
    }

    pub fn route(&self, path: &str, reply: Reply) {
        self.routes.lock().unwrap().insert(path.into(), reply);
    }

    /// Requests for `path` so far.
    pub fn count(&self, path: &str) -> usize {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|p| *p == path)
            .count()
    }

    /// Requests so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn serve(
    mut stream: TcpStream,
    routes: &Mutex<HashMap<String, Reply>>,
    requests: &Mutex<Vec<String>>,
) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 16 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split(' ').nth(1).unwrap_or_default().to_owned();
    requests.lock().unwrap().push(path.clone());
    let reply = routes
        .lock()
        .unwrap()
        .get(&path)
        .cloned()
        .unwrap_or_else(|| Reply::status(404, "text/plain", "not found"));
    tokio::time::sleep(reply.delay).await;
    let mut out = format!("HTTP/1.1 {} Canned\r\nConnection: close\r\n", reply.status);
    for (name, value) in &reply.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if reply.chunked {
        out.push_str("Transfer-Encoding: chunked\r\n\r\n");
        let _ = stream.write_all(out.as_bytes()).await;
        for chunk in reply.body.chunks(4096) {
            let frame = format!("{:x}\r\n", chunk.len());
            if stream.write_all(frame.as_bytes()).await.is_err()
                || stream.write_all(chunk).await.is_err()
                || stream.write_all(b"\r\n").await.is_err()
            {
                return;
            }
        }
        let _ = stream.write_all(b"0\r\n\r\n").await;
    } else {
        out.push_str(&format!("Content-Length: {}\r\n\r\n", reply.body.len()));
        let _ = stream.write_all(out.as_bytes()).await;
        if reply.stall_body {
            let _ = stream.write_all(&reply.body[..reply.body.len() / 2]).await;
            tokio::time::sleep(Duration::from_secs(30)).await;
            return;
        }
        let _ = stream.write_all(&reply.body).await;
    }
    let _ = stream.shutdown().await;
}

/// A clock (Unix seconds) the test moves by hand.
#[derive(Clone, Debug)]
pub struct TestClock {
    now: Arc<AtomicU64>,
}

impl TestClock {
    pub fn new() -> Self {
        Self {
            now: Arc::new(AtomicU64::new(1_700_000_000)),
        }
    }

    pub fn now(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }

    pub fn advance(&self, by: Duration) {
        self.now.fetch_add(by.as_secs(), Ordering::SeqCst);
    }

    pub fn set_back(&self, by: Duration) {
        self.now.fetch_sub(by.as_secs(), Ordering::SeqCst);
    }
}

/// A 2048-bit RSA modulus (RFC 7517 appendix A.1's example key).
pub const RSA_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

/// A JWK Set of one RSA key with `kid`.
pub fn jwks(kid: &str) -> String {
    format!(
        r#"{{"keys":[{{"kty":"RSA","kid":"{kid}","use":"sig","alg":"RS256","n":"{RSA_N}","e":"AQAB"}}]}}"#
    )
}

/// The `kid`s of a set, in order.
pub fn kids(set: &m2m_core::ports::JwkSet) -> Vec<String> {
    set.keys
        .iter()
        .map(|k| k.common.key_id.clone().unwrap_or_default())
        .collect()
}
