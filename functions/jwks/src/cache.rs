//! The in-memory key cache: a warm JWKS response reads no AWS service. The registry
//! is read at most every [`KEY_SET_TTL_SECS`], through the shared
//! [`StaleCache`](m2m_core::cache::StaleCache) rules; what is published is still computed
//! per request from the cached keys and the request's `now`, so a retired key leaves the
//! JWK Set on time even from a cached list.

use std::sync::Arc;

use m2m_core::cache::{Fetched, StaleCache};
use m2m_core::error::PortError;
use m2m_core::keys::KeySource;
use m2m_core::model::SigningKey;

/// How long a registry read is reused. A key becomes visible to verifiers at most
/// this long plus the HTTP `max-age` after it is written: operators must wait that
/// long between creating and activating a key.
pub const KEY_SET_TTL_SECS: u64 = 60;
/// When the registry cannot be read, the last good list is served for this long after
/// it was read. While the store is down no token can be issued either (the token
/// function needs it), so no key outside the list can be signing.
pub const STALE_GRACE_SECS: u64 = 600;

/// The cached key list.
#[derive(Debug)]
pub struct KeyCache(StaleCache<Arc<Vec<SigningKey>>>);

impl Default for KeyCache {
    fn default() -> Self {
        Self(StaleCache::new(
            "key set",
            KEY_SET_TTL_SECS,
            STALE_GRACE_SECS,
        ))
    }
}

impl KeyCache {
    /// An empty cache: the first [`get`](Self::get) reads the registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The keys at `now`: from the cache when it was consulted less than
    /// [`KEY_SET_TTL_SECS`] ago (and the clock did not go back), else from `source`.
    /// One registry read at a time: concurrent misses wait for it, then hit.
    ///
    /// # Errors
    /// The registry's error, when the read fails and no list read within
    /// [`STALE_GRACE_SECS`] is cached.
    pub async fn get<K: KeySource>(
        &self,
        source: &K,
        now: u64,
    ) -> Result<Arc<Vec<SigningKey>>, PortError> {
        self.0
            .get(now, |_| async {
                Ok(Fetched::Fresh(Arc::new(source.signing_keys().await?)))
            })
            .await
    }

    /// Reads the registry now, whatever the cache holds (cold start: opens the
    /// connection during init), and returns the number of keys.
    ///
    /// # Errors
    /// The registry's error; the cache is left as it was.
    pub async fn refresh<K: KeySource>(&self, source: &K, now: u64) -> Result<usize, PortError> {
        let keys = source.signing_keys().await?;
        let n = keys.len();
        self.0.put(Arc::new(keys), now).await;
        Ok(n)
    }
}
