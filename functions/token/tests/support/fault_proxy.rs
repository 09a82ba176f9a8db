//! A fault-injecting HTTP proxy in front of the local AWS emulator: requests for the
//! chosen operations (by `X-Amz-Target`, e.g. `TrentService.Sign`) get a canned
//! failure or no answer at all; everything else is forwarded to moto untouched, so a
//! test keeps a real table and key while one dependency misbehaves.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use m2m_testkit::Canned;

/// One injected fault: requests whose `X-Amz-Target` ends with `operation` get `canned`.
#[derive(Clone, Debug)]
pub struct Fault {
    /// e.g. `BatchGetItem`, `Sign`, `UpdateItem`.
    pub operation: String,
    /// What those requests get instead of moto's answer.
    pub canned: Canned,
}

/// The running proxy; stops accepting on drop.
pub struct FaultProxy {
    port: u16,
    stop: Arc<AtomicBool>,
    injected: Arc<AtomicUsize>,
}

impl FaultProxy {
    /// Proxies to `127.0.0.1:<upstream>` with `faults` applied.
    pub fn start(upstream: u16, faults: Vec<Fault>) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let injected = Arc::new(AtomicUsize::new(0));
        let (stop2, injected2) = (stop.clone(), injected.clone());
        std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (faults, stop3, injected3) =
                            (faults.clone(), stop2.clone(), injected2.clone());
                        std::thread::spawn(move || {
                            serve(stream, upstream, &faults, &stop3, &injected3)
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Self {
            port,
            stop,
            injected,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Requests answered with a fault so far.
    pub fn injected(&self) -> usize {
        self.injected.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Reads one HTTP/1.1 message (head and `Content-Length` body).
fn read_message(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length = header(&head, "content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
        }
    }
    Some((head, buf[head_end..].to_vec()))
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The head with `Connection: close`, so each side closes after one exchange.
fn closing(head: &str) -> String {
    let mut out: Vec<&str> = head
        .trim_end()
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    out.push("Connection: close");
    format!("{}\r\n\r\n", out.join("\r\n"))
}

fn serve(
    mut client: TcpStream,
    upstream: u16,
    faults: &[Fault],
    stop: &AtomicBool,
    injected: &AtomicUsize,
) {
    let _ = client.set_nonblocking(false);
    let _ = client.set_read_timeout(Some(Duration::from_secs(10)));
    let Some((head, body)) = read_message(&mut client) else {
        return;
    };
    let target = header(&head, "x-amz-target").unwrap_or_default();
    let fault = faults
        .iter()
        .find(|f| target.rsplit('.').next() == Some(f.operation.as_str()));
    match fault.map(|f| &f.canned) {
        Some(Canned::Hang) => {
            injected.fetch_add(1, Ordering::SeqCst);
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Some(Canned::Respond {
            status,
            headers,
            body,
        }) => {
            injected.fetch_add(1, Ordering::SeqCst);
            let mut out = format!("HTTP/1.1 {status} Injected\r\n");
            for (k, v) in headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str(&format!(
                "Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            ));
            let _ = client.write_all(out.as_bytes());
            let _ = client.write_all(body);
        }
        None => {
            let Ok(mut moto) = TcpStream::connect((Ipv4Addr::LOCALHOST, upstream)) else {
                return;
            };
            let _ = moto.set_read_timeout(Some(Duration::from_secs(30)));
            let _ = moto.write_all(closing(&head).as_bytes());
            let _ = moto.write_all(&body);
            if let Some((rhead, rbody)) = read_message(&mut moto) {
                let _ = client.write_all(closing(&rhead).as_bytes());
                let _ = client.write_all(&rbody);
            }
        }
    }
    let _ = client.flush();
}
