//! Read-check-write with retries on conflict: every operator change reads the items it
//! needs, decides, and writes conditionally on the versions read. When another writer
//! got there first the write changes nothing and the change is decided again on a
//! fresh read, after a backoff with full jitter, so concurrent writers spread out
//! instead of colliding again in lockstep.

use std::time::Duration;

use rand::Rng as _;

use crate::error::{ManageError, Target};

/// How often and how patiently a change is retried on conflict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The backoff ceiling before the first retry; it doubles with every retry.
    pub base: Duration,
    /// The largest backoff ceiling.
    pub cap: Duration,
}

impl Backoff {
    /// The default: 16 attempts, ceilings 20 ms doubling up to 640 ms (at most about
    /// 6 s of waiting in all). Enough for fifty writers on one item to all succeed on
    /// DynamoDB, where a read-and-write cycle takes a few milliseconds.
    pub const DEFAULT: Self = Self {
        attempts: 16,
        base: Duration::from_millis(20),
        cap: Duration::from_millis(640),
    };

    /// No waiting between attempts (tests with an in-memory store).
    pub const IMMEDIATE: Self = Self {
        attempts: 16,
        base: Duration::ZERO,
        cap: Duration::ZERO,
    };

    /// The backoff ceiling before retry number `retry` (1-based).
    fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }
}

/// One change's retries: call [`Retry::again`] after each conflict; it waits a
/// jittered backoff, or gives up once the attempts are spent.
#[derive(Debug)]
pub struct Retry {
    backoff: Backoff,
    done: u32,
}

impl Retry {
    /// The retries of one change under `backoff`.
    pub fn new(backoff: Backoff) -> Self {
        Self { backoff, done: 0 }
    }

    /// Called after attempt number `n` met a conflict: waits before the next one, or
    /// fails with [`ManageError::KeptChanging`] naming `what` when none is left.
    ///
    /// # Errors
    /// [`ManageError::KeptChanging`].
    pub async fn again(&mut self, what: impl FnOnce() -> String) -> Result<(), ManageError> {
        self.done = self.done.saturating_add(1);
        if self.done >= self.backoff.attempts {
            return Err(ManageError::KeptChanging(what()));
        }
        let ceiling = self.backoff.ceiling(self.done);
        if !ceiling.is_zero() {
            let wait = rand::thread_rng().gen_range(Duration::ZERO..=ceiling);
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }
}

/// Refuses when the caller expected another version than the stored one.
pub(crate) fn check_version(
    target: Target,
    expected: Option<u64>,
    current: u64,
) -> Result<(), ManageError> {
    match expected {
        Some(e) if e != current => Err(ManageError::VersionMismatch {
            target,
            expected: e,
            current,
        }),
        _ => Ok(()),
    }
}

/// The error for a write at an expected version that lost a race: the stored version
/// moved on after the read.
pub(crate) fn mismatch(target: Target, expected: Option<u64>, read: u64) -> ManageError {
    ManageError::VersionMismatch {
        target,
        expected: expected.unwrap_or(read),
        current: read.saturating_add(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_to_cap() {
        let b = Backoff::DEFAULT;
        assert_eq!(b.ceiling(1), Duration::from_millis(20));
        assert_eq!(b.ceiling(2), Duration::from_millis(40));
        assert_eq!(b.ceiling(6), Duration::from_millis(640));
        assert_eq!(b.ceiling(15), Duration::from_millis(640));
        assert_eq!(b.ceiling(40), Duration::from_millis(640));
    }

    #[tokio::test]
    async fn conflicts_then_success_returns_value() {
        let mut retry = Retry::new(Backoff::IMMEDIATE);
        let mut conflicts = 0;
        for _ in 0..3 {
            assert!(retry.again(|| "x".into()).await.is_ok());
            conflicts += 1;
        }
        assert_eq!(conflicts, 3);
    }

    #[tokio::test]
    async fn endless_conflict_kept_changing() {
        let mut retry = Retry::new(Backoff::IMMEDIATE);
        let mut attempts = 1;
        let err = loop {
            match retry.again(|| "client c".into()).await {
                Ok(()) => attempts += 1,
                Err(e) => break e,
            }
        };
        assert!(matches!(err, ManageError::KeptChanging(w) if w == "client c"));
        assert_eq!(attempts, 16);
    }
}
