//! Cross-ecosystem check: the JWKS handler served on a loopback HTTP server, read by
//! `tests/python/test_discovery.py` (Authlib validates the RFC 8414 / OIDC Discovery
//! metadata, PyJWT's `PyJWKClient` verifies RS256 and ES256 tokens issued by the token
//! handler through `jwks_uri`). Needs the project's `.venv` (`infra/local/bootstrap`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::{key, FakeKeys};
use jwks::{handle, App};
use lambda_http::{Body, Request, Response};
use m2m_aws::clock::system_clock;
use m2m_core::model::KeyStatus;
use m2m_core::ports::NoHook;
use m2m_core::testing::fixtures::{self, API};
use m2m_core::testing::SoftwareSigner;
use m2m_testkit::event::fixture_token_request;
use m2m_testkit::workspace_root;
use serde_json::Value;

/// Reads one HTTP/1.1 request head from `stream` into a `lambda_http` request.
fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut builder = http::Request::builder().method(method.as_str()).uri(target);
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        builder = builder.header(name.trim(), value.trim());
    }
    builder.body(Body::Empty).ok()
}

fn write_response(mut stream: &TcpStream, response: &Response<Body>) {
    let body = response.body().as_ref();
    let status = response.status();
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    for (name, value) in response.headers() {
        head.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap()));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
}

/// Serves `app` on `listener` (one request per connection) until `stop` is set.
fn serve(listener: TcpListener, app: Arc<App<FakeKeys>>, stop: Arc<AtomicBool>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        if let Some(request) = read_request(&stream) {
            let response = rt.block_on(handle(&app, &request, system_clock()));
            write_response(&stream, &response);
        }
    }
}

/// A token for the fixture client from the token handler, signed by `signer`, at the
/// wall clock (PyJWT checks `exp` against it).
async fn issue(issuer: &str, signer: SoftwareSigner) -> String {
    let app = token::App {
        key_sets: m2m_core::ports::NoKeySets,
        usage: Default::default(),
        config: m2m_testkit::issuer_config(issuer),
        directory: fixtures::directory(),
        signer,
        hook: None::<NoHook>,
    };
    let request = fixture_token_request("");
    let r = token::handle(&app, &request, system_clock()).await;
    let b: Value = serde_json::from_slice(r.body().as_ref()).unwrap();
    assert_eq!(r.status(), 200, "{b}");
    b["access_token"].as_str().unwrap().to_owned()
}

fn run_python(issuer: &str, tokens: &[&str]) -> std::process::Output {
    let root = workspace_root();
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} missing: run infra/local/bootstrap",
        python.display()
    );
    let mut cmd = Command::new(python);
    cmd.arg(root.join("tests/python/test_discovery.py")).args([
        "--issuer",
        issuer,
        "--audience",
        API,
    ]);
    for t in tokens {
        cmd.args(["--token", t]);
    }
    cmd.output().unwrap()
}

#[tokio::test]
async fn python_libraries_validate_metadata_and_verify_tokens_through_jwks_uri() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let issuer = format!("http://127.0.0.1:{port}");
    let rs = SoftwareSigner::rs256();
    let es = SoftwareSigner::es256_fresh();
    let now = system_clock();
    let registry = FakeKeys::new(vec![
        key(&rs.jwk(), KeyStatus::Active, now - 1000, None),
        key(&es.jwk(), KeyStatus::Pending, now - 10, None),
    ]);
    let app = Arc::new(App::new(&issuer, registry));
    let stop = Arc::new(AtomicBool::new(false));
    let server = {
        let (app, stop) = (Arc::clone(&app), Arc::clone(&stop));
        std::thread::spawn(move || serve(listener, app, stop))
    };

    let rs_token = issue(&issuer, rs).await;
    let es_token = issue(&issuer, es).await;
    let ok = run_python(&issuer, &[&rs_token, &es_token]);
    let out = String::from_utf8_lossy(&ok.stdout).into_owned();
    let err = String::from_utf8_lossy(&ok.stderr).into_owned();
    assert!(ok.status.success(), "python verifier failed:\n{out}\n{err}");
    eprintln!("{out}");
    assert!(
        out.contains("metadata ok") && out.contains("alg=RS256") && out.contains("alg=ES256"),
        "{out}"
    );

    // The script fails when a token does not verify: flip one signature byte.
    let (rest, sig) = es_token.rsplit_once('.').unwrap();
    let flipped = if sig.starts_with('A') { 'B' } else { 'A' };
    let tampered = format!("{rest}.{flipped}{}", &sig[1..]);
    let bad = run_python(&issuer, &[&rs_token, &tampered]);
    let err = String::from_utf8_lossy(&bad.stderr).into_owned();
    assert!(!bad.status.success(), "a tampered token passed");
    eprintln!("tampered: {err}");
    assert!(err.contains("FAILED"), "{err}");

    stop.store(true, Ordering::SeqCst);
    let _ = TcpStream::connect((Ipv4Addr::LOCALHOST, port));
    server.join().unwrap();
    assert_eq!(
        app.keys.reads(),
        1,
        "both Python runs were served from one registry read"
    );
}
