//! [`InMemoryRevocations`]: the `Revocations` port over a [`RevocationList`], with a
//! read counter, a record of what was written, and a failure switch.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::{lock, Failure};
use crate::error::PortError;
use crate::revocation::{Revocation, RevocationList, Revocations};

#[derive(Debug, Default)]
struct State {
    list: RevocationList,
    written: Vec<(Revocation, u64)>,
    failure: Option<Failure>,
}

/// An in-memory [`Revocations`]. It has no clock, so it never drops lapsed entries;
/// like the DynamoDB adapter, it writes nothing for a revocation that has already
/// lapsed at the `now` it is given. Clones share state.
#[derive(Clone, Debug, Default)]
pub struct InMemoryRevocations {
    state: Arc<Mutex<State>>,
    reads: Arc<AtomicUsize>,
}

impl InMemoryRevocations {
    /// Nothing revoked.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `revocation` directly (set-up, not counted as a write); builder style.
    pub fn with(self, revocation: &Revocation) -> Self {
        lock(&self.state).list.apply(revocation);
        self
    }

    /// How many times the list was read (failed reads included).
    pub fn read_count(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }

    /// Every revocation written through [`Revocations::revoke`], with its `now`, in
    /// order (lapsed ones, which are not kept, left out).
    pub fn written(&self) -> Vec<(Revocation, u64)> {
        lock(&self.state).written.clone()
    }

    /// A copy of the list as it stands.
    pub fn list(&self) -> RevocationList {
        lock(&self.state).list.clone()
    }

    /// From now on every call fails with `failure`; `None` turns the switch off.
    pub fn fail_with(&self, failure: Option<Failure>) {
        lock(&self.state).failure = failure;
    }

    /// From now on every call fails (throttled, or unavailable).
    pub fn fail(&self, throttled: bool) {
        self.fail_with(Some(if throttled {
            Failure::throttled("revocations throttled (injected)")
        } else {
            Failure::error("revocations unavailable (injected)")
        }));
    }

    /// Every call succeeds again.
    pub fn heal(&self) {
        self.fail_with(None);
    }
}

impl Revocations for InMemoryRevocations {
    async fn revocation_list(&self) -> Result<RevocationList, PortError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let state = lock(&self.state);
        match &state.failure {
            Some(f) => Err(f.to_port_error()),
            None => Ok(state.list.clone()),
        }
    }

    async fn revoke(&self, revocation: &Revocation, now: u64) -> Result<(), PortError> {
        let mut state = lock(&self.state);
        if let Some(f) = &state.failure {
            return Err(f.to_port_error());
        }
        if revocation.keep_until() > now {
            state.list.apply(revocation);
            state.written.push((revocation.clone(), now));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::types::ClientId;

    fn client(not_before: u64) -> Revocation {
        Revocation::Client {
            client_id: ClientId::new("c"),
            not_before,
        }
    }

    #[tokio::test]
    async fn revoke_then_list_counts_reads() {
        let fake = InMemoryRevocations::new();
        let other = fake.clone();
        fake.revoke(&client(100), 100).await.unwrap();
        let list = other.revocation_list().await.unwrap();
        assert!(list.is_revoked("c", None, 99));
        assert_eq!(fake.read_count(), 1);
        assert_eq!(fake.written(), vec![(client(100), 100)]);
    }

    #[tokio::test]
    async fn lapsed_revocation_not_written() {
        let fake = InMemoryRevocations::new();
        let token = Revocation::Token {
            jti: "j".into(),
            client_id: ClientId::new("c"),
            expires_at: 10,
        };
        fake.revoke(&token, 10 + crate::access_token::LEEWAY)
            .await
            .unwrap();
        assert!(fake.written().is_empty());
        assert!(fake.list().is_empty());
    }

    #[tokio::test]
    async fn failure_switch_fails_reads_and_writes() {
        let fake = InMemoryRevocations::new().with(&client(100));
        fake.fail(true);
        let err = fake.revocation_list().await.unwrap_err();
        assert!(err.is_transient());
        assert!(fake.revoke(&client(200), 200).await.is_err());
        fake.heal();
        assert_eq!(
            fake.revocation_list().await.unwrap().not_before("c"),
            Some(100)
        );
        assert_eq!(fake.read_count(), 2);
    }
}
