//! Shared test support for the token function's integration tests: the fault proxy,
//! and the capture of a test binary's log into `target/test-logs/`, which
//! `infra/local/scan-logs` scans for secrets, secret hashes and tokens after the suite.
#![allow(dead_code)]

pub mod fault_proxy;

use std::fs::File;
use std::sync::{Mutex, Once};

/// Sends this test binary's tracing output — the handler's, the domain's and the
/// adapters' at TRACE, everything else at INFO, as JSON like the deployed function —
/// to `target/test-logs/<name>.log`. Idempotent.
pub fn capture_logs(name: &str) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let dir = m2m_testkit::workspace_root()
            .join("target")
            .join("test-logs");
        std::fs::create_dir_all(&dir).unwrap();
        let file = File::create(dir.join(format!("{name}.log"))).unwrap();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "info,m2m_core=trace,m2m_aws=trace,token=trace",
            ))
            .with_writer(Mutex::new(file))
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
}
