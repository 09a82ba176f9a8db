//! The wall clock. The domain takes `now` as a parameter; adapters and the functions'
//! entry points read it here, and tests substitute a [`Clock`] they drive.

use std::sync::Arc;

/// A source of Unix time in seconds.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The wall clock in Unix seconds: the single place that reads it.
pub fn system_clock() -> u64 {
    // Time is a parameter in the domain; this is the entry point that reads it.
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now();
    now.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
