//! Log set-up shared by the functions: one JSON object per line (what CloudWatch Logs
//! Insights parses), no ANSI colours, no timestamp (Lambda adds its own), level from
//! `RUST_LOG` (default `info`).

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .with_ansi(false)
        .without_time()
        .init();
}
