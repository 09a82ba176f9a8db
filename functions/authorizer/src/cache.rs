//! What the authorizer keeps between requests, so a warm request within the time to
//! live makes no AWS call: the key registry (which keys may sign, RFC 7517 §5) and the
//! revocation list (RFC 7009). Both follow the shared
//! [`StaleCache`](m2m_core::cache::StaleCache) rules with the caller's `now`.
//!
//! **Keys**: read every [`KEY_SET_TTL_SECS`], like the JWKS function and the signer, so
//! a revoked signing key stops verifying here within that time. A token naming a `kid`
//! the cached list lacks (a key activated since the last read) triggers a read, at
//! most once per [`UNKNOWN_KID_REFRESH_SECS`], so tokens with made-up `kid`s cannot
//! make every request read the table. When the registry cannot be read the last list
//! is used for [`KEY_STALE_GRACE_SECS`]: which keys exist changes rarely, and what is
//! published is still decided per request with `now`.
//!
//! **Revocations**: read every `bound` seconds (`M2M_REVOCATION_CACHE_SECONDS`), so a
//! revocation takes effect within `bound` of being written (the read is strongly
//! consistent). When a read fails, the last list is used while it is younger than
//! twice the bound, so a revocation takes effect within `2 × bound` even while the
//! table is unreachable; past that every request is refused: fail closed, never open.
//! With a bound of 0 every request reads the list and a failed read refuses.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use m2m_core::cache::{Fetched, StaleCache};
use m2m_core::error::PortError;
use m2m_core::keys::KeySource;
use m2m_core::model::SigningKey;
use m2m_core::revocation::{RevocationList, Revocations};

pub use m2m_core::cache::keys::{KEY_SET_TTL_SECS, STALE_GRACE_SECS as KEY_STALE_GRACE_SECS};
/// The least time between two registry reads caused by an unknown `kid`.
pub const UNKNOWN_KID_REFRESH_SECS: u64 = 10;

/// The cached registry: the domain's key cache, shared with the JWKS and
/// introspection functions, and the floor on reads an unknown `kid` may cause.
#[derive(Debug)]
pub struct KeyCache {
    keys: m2m_core::cache::keys::KeyCache,
    /// When an unknown `kid` last caused a read (`u64::MAX`: never).
    forced_at: AtomicU64,
}

impl Default for KeyCache {
    fn default() -> Self {
        Self {
            keys: m2m_core::cache::keys::KeyCache::new(),
            forced_at: AtomicU64::new(u64::MAX),
        }
    }
}

impl KeyCache {
    /// An empty cache: the first [`get`](Self::get) reads the registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The registry's keys at `now`: cached, or read from `source`.
    ///
    /// # Errors
    /// The registry's error when no list read within [`KEY_STALE_GRACE_SECS`] is
    /// cached.
    pub async fn get<K: KeySource>(
        &self,
        source: &K,
        now: u64,
    ) -> Result<Arc<Vec<SigningKey>>, PortError> {
        self.keys.get(source, now).await
    }

    /// Reads the registry again because a token names a `kid` the cached list lacks,
    /// unless an unknown `kid` already did less than [`UNKNOWN_KID_REFRESH_SECS`] ago
    /// (`None` then, and on a failed read).
    pub async fn refresh_for_unknown_kid<K: KeySource>(
        &self,
        source: &K,
        now: u64,
    ) -> Option<Arc<Vec<SigningKey>>> {
        let last = self.forced_at.load(Ordering::SeqCst);
        let due = last == u64::MAX || now < last || now - last >= UNKNOWN_KID_REFRESH_SECS;
        if !due {
            return None;
        }
        self.forced_at.store(now, Ordering::SeqCst);
        match self.keys.reload(source, now).await {
            Ok(keys) => Some(keys),
            Err(e) => {
                tracing::warn!(error = %m2m_core::error::Chain(&e), "reading the key registry for an unknown kid failed");
                None
            }
        }
    }

    /// Reads the registry now, whatever the cache holds (cold start), and returns the
    /// number of keys.
    ///
    /// # Errors
    /// The registry's error; the cache is left as it was.
    pub async fn refresh<K: KeySource>(&self, source: &K, now: u64) -> Result<usize, PortError> {
        self.keys.refresh(source, now).await
    }
}

/// The cached revocation list.
#[derive(Debug)]
pub struct RevocationCache {
    cache: StaleCache<Arc<RevocationList>>,
    bound: u64,
}

impl RevocationCache {
    /// A cache reused for `bound` seconds and served stale, on a failed read, until
    /// `2 × bound` after its last successful read.
    pub fn new(bound: u64) -> Self {
        Self {
            cache: StaleCache::new("revocation list", bound, bound.saturating_mul(2)),
            bound,
        }
    }

    /// The bound, in seconds.
    pub fn bound(&self) -> u64 {
        self.bound
    }

    /// The revocations in force at `now`: cached, or read from `source`.
    ///
    /// # Errors
    /// The store's error when no list younger than `2 × bound` is cached: the caller
    /// refuses the request.
    pub async fn get<R: Revocations>(
        &self,
        source: &R,
        now: u64,
    ) -> Result<Arc<RevocationList>, PortError> {
        self.cache
            .get(now, |_| async {
                Ok(Fetched::Fresh(Arc::new(source.revocation_list().await?)))
            })
            .await
    }

    /// Reads the list now, whatever the cache holds (cold start), and returns the
    /// number of entries.
    ///
    /// # Errors
    /// The store's error; the cache is left as it was.
    pub async fn refresh<R: Revocations>(&self, source: &R, now: u64) -> Result<usize, PortError> {
        let list = source.revocation_list().await?;
        let n = list.len();
        self.cache.put(Arc::new(list), now).await;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use m2m_core::revocation::Revocation;
    use m2m_core::testing::InMemoryRevocations;
    use m2m_core::types::ClientId;

    use super::*;

    const NOW: u64 = 1_700_000_000;

    async fn revoke(store: &InMemoryRevocations, client: &str, at: u64) {
        let r = Revocation::Client {
            client_id: ClientId::new(client),
            not_before: at,
        };
        store.revoke(&r, at).await.unwrap();
    }

    #[tokio::test]
    async fn revocation_seen_within_the_bound() {
        let store = InMemoryRevocations::new();
        let cache = RevocationCache::new(30);
        assert!(cache.get(&store, NOW).await.unwrap().is_empty());
        revoke(&store, "c", NOW + 1).await;
        assert!(cache.get(&store, NOW + 29).await.unwrap().is_empty());
        assert_eq!(store.read_count(), 1);
        assert_eq!(cache.get(&store, NOW + 30).await.unwrap().len(), 1);
        assert_eq!(store.read_count(), 2);
    }

    #[tokio::test]
    async fn failed_reads_served_stale_until_twice_the_bound() {
        let store = InMemoryRevocations::new();
        revoke(&store, "c", NOW).await;
        let cache = RevocationCache::new(30);
        assert_eq!(cache.get(&store, NOW).await.unwrap().len(), 1);
        store.fail(false);
        assert_eq!(cache.get(&store, NOW + 30).await.unwrap().len(), 1);
        assert_eq!(cache.get(&store, NOW + 59).await.unwrap().len(), 1);
        assert!(cache.get(&store, NOW + 60).await.is_err());
        assert!(cache.get(&store, NOW + 61).await.is_err());
        store.heal();
        assert_eq!(cache.get(&store, NOW + 62).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn zero_bound_reads_every_time_and_never_serves_stale() {
        let store = InMemoryRevocations::new();
        let cache = RevocationCache::new(0);
        assert_eq!(cache.bound(), 0);
        for _ in 0..3 {
            cache.get(&store, NOW).await.unwrap();
        }
        assert_eq!(store.read_count(), 3);
        store.fail(true);
        assert!(cache.get(&store, NOW).await.is_err());
    }
}
