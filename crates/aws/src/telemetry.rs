//! Log set-up shared by the functions: one JSON object per line (what CloudWatch Logs
//! Insights parses), no ANSI colours, no timestamp (Lambda adds its own), level from
//! `RUST_LOG` (default `info`).
//!
//! Whatever `RUST_LOG` says, the libraries that see credentials on the wire are capped at
//! `info`: at `debug`/`trace` the Lambda runtime logs the raw invocation event (the
//! `Authorization` header, a form-encoded `client_secret`), the AWS SDK logs request and
//! response bodies (a signed token, a cache item), and the HTTP and TLS stacks log
//! buffers. The cap is a second filter that every event must also pass, so no directive
//! in `RUST_LOG`, however specific (`aws_smithy_runtime::client=trace`), can lift it.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::{EnvFilter, FilterExt, Targets};
use tracing_subscriber::layer::Filter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::Layer as _;

/// Target prefixes capped at [`CAPPED_LEVEL`]: the Lambda runtime (`lambda_runtime`,
/// `lambda_runtime_api_client`, `lambda_http`), the AWS SDK and its runtime
/// (`aws_smithy_*`, `aws_sdk_*`, `aws_config`, `aws_sigv4`, `aws_runtime`, ...), the HTTP
/// stack (`hyper`, `hyper_util`, `h2`, `http_body`, `tower`, and `reqwest`, which carries
/// the signed requests of [`crate::wire`]) and TLS (`rustls`).
/// A directive's target matches every target it is a prefix of.
pub const CAPPED_TARGETS: &[&str] = &[
    "lambda_runtime",
    "lambda_http",
    "aws_",
    "hyper",
    "h2",
    "http_body",
    "tower",
    "reqwest",
    "rustls",
];

/// The most verbose level a [`CAPPED_TARGETS`] library may log at.
pub const CAPPED_LEVEL: LevelFilter = LevelFilter::INFO;

/// The filter the functions log through: the `rust_log` directives (the value of
/// `RUST_LOG`; `info` when absent or unparsable) and, on top, the cap on
/// [`CAPPED_TARGETS`].
pub fn log_filter<S>(rust_log: Option<&str>) -> impl Filter<S> + Send + Sync + 'static
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let env = rust_log
        .and_then(|directives| EnvFilter::builder().parse(directives).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let caps = CAPPED_TARGETS.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |t, target| t.with_target(*target, CAPPED_LEVEL),
    );
    env.and(caps)
}

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init_logging() {
    let rust_log = std::env::var("RUST_LOG").ok();
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(false)
        .with_ansi(false)
        .without_time()
        .with_filter(log_filter(rust_log.as_deref()));
    tracing_subscriber::registry().with(layer).init();
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    /// Emits, under the functions' filter for `rust_log`, one event per (target, level)
    /// of interest and returns what was written.
    fn logged(rust_log: Option<&str>) -> String {
        let buffer = Buffer::default();
        let layer = tracing_subscriber::fmt::layer()
            .json()
            .with_writer(buffer.clone())
            .with_filter(log_filter(rust_log));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            // Targets as the libraries name them (module paths).
            tracing::trace!(target: "lambda_runtime::layers::api_response", "LEAK-lambda-trace");
            tracing::debug!(target: "lambda_runtime", "LEAK-lambda-debug");
            tracing::trace!(target: "lambda_runtime_api_client", "LEAK-api-client-trace");
            tracing::debug!(target: "lambda_http::request", "LEAK-lambda-http-debug");
            tracing::trace!(target: "aws_smithy_runtime::client::http::body::minimum_throughput", "LEAK-smithy-trace");
            tracing::debug!(target: "aws_smithy_runtime_api::client::orchestrator", "LEAK-smithy-debug");
            tracing::trace!(target: "aws_sdk_dynamodb::operation", "LEAK-sdk-trace");
            tracing::debug!(target: "aws_sigv4::http_request::sign", "LEAK-sigv4-debug");
            tracing::trace!(target: "hyper::proto::h1::io", "LEAK-hyper-trace");
            tracing::trace!(target: "hyper_util::client::legacy::pool", "LEAK-hyper-util-trace");
            tracing::trace!(target: "h2::codec", "LEAK-h2-trace");
            tracing::trace!(target: "rustls::conn", "LEAK-rustls-trace");
            tracing::info!(target: "lambda_runtime", "capped-target-info");
            tracing::warn!(target: "aws_smithy_runtime", "capped-target-warn");
            tracing::trace!(target: "m2m_core::issue", "own-trace");
            tracing::debug!(target: "token", "own-debug");
            tracing::info!(target: "token", "own-info");
        });
        let bytes = buffer.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    const RUST_LOG_VALUES: &[&str] = &[
        "trace",
        "debug",
        "TRACE",
        "lambda_runtime=trace",
        "lambda_runtime=trace,lambda_runtime_api_client=trace,lambda_http=trace",
        "aws_smithy_runtime=trace,aws_smithy_runtime::client::http::body::minimum_throughput=trace",
        "aws_smithy_runtime_api::client::orchestrator=trace,aws_sdk_dynamodb=trace,aws_sigv4=trace",
        "hyper=trace,hyper::proto::h1::io=trace,hyper_util=trace,h2=trace,rustls=trace",
        "info,lambda_runtime[invoke]=trace",
        "trace,lambda_runtime=trace,aws_smithy_runtime=trace,hyper=trace",
    ];

    #[test]
    fn capped_targets_never_log_below_info_whatever_rust_log_says() {
        for rust_log in RUST_LOG_VALUES {
            let out = logged(Some(rust_log));
            assert!(
                !out.contains("LEAK-"),
                "RUST_LOG={rust_log} let through:\n{out}"
            );
        }
    }

    #[test]
    fn capped_targets_still_log_info_and_above() {
        // The cap is a ceiling, not a mute.
        for rust_log in [
            "trace",
            "info",
            "lambda_runtime=trace,aws_smithy_runtime=trace",
        ] {
            let out = logged(Some(rust_log));
            assert!(
                out.contains("capped-target-info"),
                "RUST_LOG={rust_log}:\n{out}"
            );
            assert!(
                out.contains("capped-target-warn"),
                "RUST_LOG={rust_log}:\n{out}"
            );
        }
        // And `RUST_LOG` can still quieten them.
        let out = logged(Some("lambda_runtime=warn,aws_smithy_runtime=error"));
        assert!(!out.contains("capped-target-"), "{out}");
    }

    #[test]
    fn own_crates_follow_rust_log() {
        let out = logged(Some("trace"));
        assert!(
            out.contains("own-trace") && out.contains("own-debug"),
            "{out}"
        );
        let out = logged(Some("info"));
        assert!(
            !out.contains("own-trace") && !out.contains("own-debug"),
            "{out}"
        );
        assert!(out.contains("own-info"), "{out}");
    }

    #[test]
    fn missing_or_malformed_rust_log_means_info() {
        for rust_log in [None, Some("=[=not a directive")] {
            let out = logged(rust_log);
            assert!(out.contains("own-info"), "{rust_log:?}: {out}");
            assert!(!out.contains("own-debug"), "{rust_log:?}: {out}");
            assert!(!out.contains("LEAK-"), "{rust_log:?}: {out}");
        }
    }
}
