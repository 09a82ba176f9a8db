//! Canned dependency failures: a loopback HTTP server answering every request the same
//! way, to put throttling, a disabled key or a hanging or failing hook behind the real
//! SDK clients where the emulator cannot produce them.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::moto::HarnessError;

/// What a [`CannedServer`] does with every request.
#[derive(Clone, Debug)]
pub enum Canned {
    /// Answer with this status, headers and body.
    Respond {
        /// HTTP status.
        status: u16,
        /// Response headers.
        headers: Vec<(String, String)>,
        /// Response body.
        body: Vec<u8>,
    },
    /// Read the request and never answer (until the server is dropped).
    Hang,
}

impl Canned {
    /// An AWS JSON-protocol error (DynamoDB, KMS): HTTP `status` with
    /// `{"__type": error_type, "message": ..}`, how those services report e.g.
    /// `ThrottlingException` or `DisabledException`.
    pub fn aws_json_error(status: u16, error_type: &str) -> Self {
        let body = format!(r#"{{"__type":"{error_type}","message":"injected by CannedServer"}}"#);
        Self::Respond {
            status,
            headers: vec![
                ("Content-Type".into(), "application/x-amz-json-1.1".into()),
                ("x-amzn-ErrorType".into(), error_type.into()),
            ],
            body: body.into_bytes(),
        }
    }

    /// A Lambda `Invoke` answer: 200 with `payload`, and `X-Amz-Function-Error` when
    /// `function_error` is set (the function itself failed).
    pub fn lambda_invoke(payload: &str, function_error: Option<&str>) -> Self {
        let mut headers = vec![("Content-Type".into(), "application/json".into())];
        if let Some(kind) = function_error {
            headers.push(("X-Amz-Function-Error".into(), kind.into()));
        }
        Self::Respond {
            status: 200,
            headers,
            body: payload.as_bytes().to_vec(),
        }
    }
}

/// A loopback HTTP server answering every request the same way: injects a
/// dependency's failure (throttling, a disabled key, a hanging or failing hook) that
/// the emulator cannot produce, behind the real SDK clients. Stopped on drop.
#[derive(Debug)]
pub struct CannedServer {
    port: u16,
    stop: Arc<std::sync::atomic::AtomicBool>,
    hits: Arc<std::sync::atomic::AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CannedServer {
    /// Starts the server on a free loopback port.
    ///
    /// # Errors
    /// When no port can be bound.
    pub fn start(canned: Canned) -> Result<Self, HarnessError> {
        use std::sync::atomic::{AtomicBool, AtomicUsize};
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| HarnessError(format!("binding a canned server: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| HarnessError(format!("binding a canned server: {e}")))?
            .port();
        listener
            .set_nonblocking(true)
            .map_err(|e| HarnessError(format!("binding a canned server: {e}")))?;
        let stop = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(AtomicUsize::new(0));
        let (stop2, hits2) = (stop.clone(), hits.clone());
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        hits2.fetch_add(1, Ordering::Relaxed);
                        let (canned, stop3) = (canned.clone(), stop2.clone());
                        std::thread::spawn(move || serve_canned(stream, &canned, &stop3));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Ok(Self {
            port,
            stop,
            hits,
            thread: Some(thread),
        })
    }

    /// The endpoint URL, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Connections accepted so far (one per SDK attempt: we close after answering).
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::Relaxed)
    }
}

impl Drop for CannedServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve_canned(mut stream: TcpStream, canned: &Canned, stop: &std::sync::atomic::AtomicBool) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    // Read the head, then as many body bytes as Content-Length says.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
        }
    }
    match canned {
        Canned::Hang => {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Canned::Respond {
            status,
            headers,
            body,
        } => {
            let mut out = format!("HTTP/1.1 {status} Canned\r\n");
            for (k, v) in headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str(&format!(
                "Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            ));
            let _ = stream.write_all(out.as_bytes());
            let _ = stream.write_all(body);
            let _ = stream.flush();
        }
    }
}
