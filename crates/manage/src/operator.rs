//! The [`Operator`]: the operator rules bound to a store and a retry policy. Its use
//! cases live one concern per file ([`crate::apis`], [`crate::clients`],
//! [`crate::grants`], [`crate::secrets`], [`crate::orgs`], [`crate::keys`],
//! [`crate::revocations`], [`crate::quotas`]).

use crate::retry::Backoff;
use crate::store::AdminStore;

/// The operator rules over a store.
#[derive(Clone, Debug)]
pub struct Operator<S> {
    /// The directory.
    pub store: S,
    /// How changes are retried on concurrent writes.
    pub backoff: Backoff,
}

impl<S: AdminStore> Operator<S> {
    /// The rules over `store`, retrying with [`Backoff::DEFAULT`].
    pub fn new(store: S) -> Self {
        Self {
            store,
            backoff: Backoff::DEFAULT,
        }
    }

    /// The same rules with another retry policy.
    #[must_use]
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }
}
