//! In-memory fakes of every port (feature `testing`): a directory, software signers
//! with real keys, a no-op signer for benchmarks, a scriptable claims hook, a
//! revocation store, and fixtures with a fixed clock. Tests of every layer use these
//! instead of AWS.
//!
//! ```
//! use m2m_core::testing::{fixtures, InMemoryDirectory, SoftwareSigner};
//!
//! let directory = InMemoryDirectory::new()
//!     .with_api(fixtures::api(fixtures::API, &["read:orders", "write:orders"]))
//!     .with_client(fixtures::client(fixtures::CLIENT_ID, fixtures::CLIENT_SECRET))
//!     .with_grant(fixtures::grant(fixtures::CLIENT_ID, fixtures::API, &["read:orders"]));
//! let signer = SoftwareSigner::es256();
//! # let _ = (directory, signer);
//! ```
//!
//! Every fake is `Clone`, and clones share state: keep one to inspect call counts
//! and flip failure switches after handing the other to the code under test.

pub mod assertions;
mod directory;
pub mod fixtures;
mod hook;
mod revocations;
mod signer;

pub use directory::InMemoryDirectory;
pub use hook::FakeHook;
pub use revocations::InMemoryRevocations;
pub use signer::{NoopSigner, SoftwareSigner, StaticKeys, NOOP_KID};

use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::error::{PortError, PortErrorKind};

/// Locks a fake's state, ignoring poisoning: a test that panicked while holding the
/// lock has already failed, and the fakes' state stays consistent per operation.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An injected failure: what a fake's failure switch makes it return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The `PortError` message.
    pub message: String,
    /// The kind of failure (throttling → 503, unavailable → 500).
    pub kind: PortErrorKind,
}

impl Failure {
    /// A plain failure (→ 500).
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            kind: PortErrorKind::Unavailable,
        }
    }

    /// A throttling failure (→ 503).
    pub fn throttled(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            kind: PortErrorKind::Throttled,
        }
    }

    /// A refusal (a key set at a forbidden address, a malformed answer).
    pub fn refused(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            kind: PortErrorKind::Refused,
        }
    }

    /// A timeout (→ 503).
    pub fn timeout(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            kind: PortErrorKind::Timeout,
        }
    }

    /// The `PortError` this failure stands for.
    pub fn to_port_error(&self) -> PortError {
        PortError::new(self.kind, self.message.clone())
    }
}

/// How many secrets this thread has hashed so far: lets a timing test prove that an
/// unknown client and a wrong secret do the same hashing work (the dummy comparison),
/// which wall-clock medians alone show only roughly. Per thread, so parallel tests
/// do not disturb each other; a `#[tokio::test]` runs its futures on its own thread.
pub fn secret_hash_count() -> u64 {
    crate::secret::hash_count()
}
