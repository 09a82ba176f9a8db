//! The request path's calls spoken directly (`m2m_aws::wire`) on the wire: what they
//! send is signed as DynamoDB and KMS check it, and `https` endpoints get TLS. (Their
//! failures are tested beside the SDK path's, in `faults.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use m2m_aws::wire::{Wire, DYNAMODB, KMS};
use m2m_testkit::local_sdk_config;

/// One request as a loopback server received it: method, path, headers (names
/// lowercased) and body.
struct Captured {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Serves one connection on a free loopback port: captures the first request, answers
/// `200 {}`.
fn capture_one() -> (String, std::sync::mpsc::Receiver<Captured>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let endpoint = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
        );
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (name, value) = h.split_once(':').unwrap();
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let mut stream = stream;
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: 2\r\n\r\n{}")
            .unwrap();
        tx.send(Captured {
            method,
            path,
            headers,
            body,
        })
        .unwrap();
    });
    (endpoint, rx)
}

/// Asks botocore's SigV4 signer (tests/python/sigv4_check.py), an implementation
/// independent of the `aws-sigv4` crate that signed `request`, whether it computes the
/// same signature with `secret_key`; its verdict and reason.
fn botocore_verdict(
    endpoint: &str,
    request: &Captured,
    (access_key, secret_key, token): (&str, &str, &str),
    region: &str,
    service: &str,
) -> serde_json::Value {
    use base64::Engine as _;
    use std::io::Write as _;
    let input = serde_json::json!({
        "method": request.method,
        "url": format!("{endpoint}{}", request.path),
        "headers": request.headers.iter().cloned().collect::<std::collections::HashMap<_, _>>(),
        "body": base64::engine::general_purpose::STANDARD.encode(&request.body),
        "access_key": access_key,
        "secret_key": secret_key,
        "session_token": token,
        "region": region,
        "service": service,
    });
    let root = m2m_testkit::workspace_root();
    let mut child = std::process::Command::new(root.join(".venv/bin/python"))
        .arg(root.join("tests/python/sigv4_check.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the project's .venv (infra/local/bootstrap) with botocore");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The emulator does not check signatures; DynamoDB and KMS do. So every direct call's
/// SigV4 signature is recomputed by botocore, and a wrong secret must make it differ.
#[tokio::test]
async fn requests_carry_a_sigv4_signature_botocore_agrees_with() {
    use aws_config::{BehaviorVersion, Region};
    use aws_sdk_dynamodb::config::Credentials;

    let (access_key, secret_key, token) = (
        "AKIDSIGV4CHECK",
        "sigv4-check-secret",
        "sigv4-check-session-token",
    );
    for (service, operation, region) in [
        (DYNAMODB, "BatchGetItem", "eu-west-1"),
        (KMS, "Sign", "us-east-2"),
    ] {
        let (endpoint, captured) = capture_one();
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .empty_test_environment()
            .region(Region::new(region))
            .credentials_provider(Credentials::new(
                access_key,
                secret_key,
                Some(token.into()),
                None,
                "test",
            ))
            .endpoint_url(&endpoint)
            .load()
            .await;
        let wire = Wire::for_service(&sdk, service, |_| None).unwrap();
        let body = br#"{"KeyId":"alias/k","Message":"YS5i","MessageType":"RAW"}"#.to_vec();
        wire.call(operation, body.clone()).await.unwrap();
        let request = captured.recv().unwrap();
        assert_eq!(
            (request.method.as_str(), request.path.as_str()),
            ("POST", "/")
        );
        assert_eq!(request.body, body);
        let header = |name: &str| {
            request
                .headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            header("x-amz-target").unwrap(),
            format!("{}.{operation}", service.target_prefix)
        );
        assert_eq!(header("content-type").unwrap(), service.content_type);

        let verdict = botocore_verdict(
            &endpoint,
            &request,
            (access_key, secret_key, token),
            region,
            service.name,
        );
        assert_eq!(verdict["ok"], true, "{}: {}", service.name, verdict["why"]);
        // The check can fail: another secret gives another signature.
        let wrong = botocore_verdict(
            &endpoint,
            &request,
            (access_key, "another-secret", token),
            region,
            service.name,
        );
        assert_eq!(wrong["ok"], false, "{}: {}", service.name, wrong["why"]);
    }
}

/// An `https` endpoint is spoken to over TLS: the first bytes on the connection are a
/// TLS handshake record (a ClientHello), never a plain-text request; a server that is
/// not a TLS server is a failure to reach the service.
#[tokio::test]
async fn https_endpoints_are_spoken_to_over_tls() {
    use std::io::Read as _;
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for _ in 0..2 {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let mut first = [0u8; 3];
            if stream.read_exact(&mut first).is_ok() {
                let _ = tx.send(first);
            }
        }
    });
    let sdk = local_sdk_config(&format!("https://127.0.0.1:{port}")).await;
    let wire = Wire::for_service(&sdk, KMS, |_| None).unwrap();
    let err = wire.call("Sign", b"{}".to_vec()).await.unwrap_err();
    let first = rx.recv().unwrap();
    // Content type 22 (handshake), protocol version 3.x (RFC 8446 §5.1).
    assert_eq!((first[0], first[1]), (0x16, 0x03), "{first:?}");
    let err = err.into_port_error("KMS Sign");
    assert!(
        err.message().contains("could not reach the service"),
        "{err}"
    );
}
