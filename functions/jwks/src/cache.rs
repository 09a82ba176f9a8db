//! The in-memory key cache: a warm JWKS response reads no AWS service. The registry
//! is read at most every [`KEY_SET_TTL_SECS`]; what is published is still computed per
//! request from the cached keys and the request's `now`, so a retired key leaves the
//! JWK Set on time even from a cached list.

use std::sync::Arc;

use m2m_core::error::{Chain, PortError};
use m2m_core::keys::KeySource;
use m2m_core::model::SigningKey;
use tokio::sync::Mutex;

/// How long a registry read is reused. A key becomes visible to verifiers at most
/// this long plus the HTTP `max-age` after it is written: operators must wait that
/// long between creating and activating a key.
pub const KEY_SET_TTL_SECS: u64 = 60;
/// When the registry cannot be read, the last good list is served for this long after
/// it was read. While the store is down no token can be issued either (the token
/// function needs it), so no key outside the list can be signing.
pub const STALE_GRACE_SECS: u64 = 600;

#[derive(Debug)]
struct Cached {
    keys: Arc<Vec<SigningKey>>,
    /// When the list was last read successfully.
    fetched_at: u64,
    /// When the registry was last consulted, successfully or not.
    checked_at: u64,
}

/// The cached key list.
#[derive(Debug, Default)]
pub struct KeyCache {
    inner: Mutex<Option<Cached>>,
}

impl KeyCache {
    /// An empty cache: the first [`get`](Self::get) reads the registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The keys at `now`: from the cache when it was consulted less than
    /// [`KEY_SET_TTL_SECS`] ago (and the clock did not go back), else from `source`.
    ///
    /// # Errors
    /// The registry's error, when the read fails and no list read within
    /// [`STALE_GRACE_SECS`] is cached.
    pub async fn get<K: KeySource>(
        &self,
        source: &K,
        now: u64,
    ) -> Result<Arc<Vec<SigningKey>>, PortError> {
        // One registry read at a time: concurrent misses wait for it, then hit.
        let mut slot = self.inner.lock().await;
        if let Some(c) = slot.as_ref() {
            if now >= c.checked_at && now - c.checked_at < KEY_SET_TTL_SECS {
                return Ok(Arc::clone(&c.keys));
            }
        }
        match source.signing_keys().await {
            Ok(keys) => {
                let keys = Arc::new(keys);
                *slot = Some(Cached {
                    keys: Arc::clone(&keys),
                    fetched_at: now,
                    checked_at: now,
                });
                Ok(keys)
            }
            Err(e) => match slot.as_mut() {
                Some(c) if now.saturating_sub(c.fetched_at) < STALE_GRACE_SECS => {
                    tracing::warn!(
                        error = %Chain(&e),
                        age = now.saturating_sub(c.fetched_at),
                        "reading the key registry failed; serving the cached keys"
                    );
                    c.checked_at = now;
                    Ok(Arc::clone(&c.keys))
                }
                _ => Err(e),
            },
        }
    }

    /// Reads the registry now, whatever the cache holds (cold start: opens the
    /// connection during init), and returns the number of keys.
    ///
    /// # Errors
    /// The registry's error; the cache is left as it was.
    pub async fn refresh<K: KeySource>(&self, source: &K, now: u64) -> Result<usize, PortError> {
        let keys = source.signing_keys().await?;
        let n = keys.len();
        *self.inner.lock().await = Some(Cached {
            keys: Arc::new(keys),
            fetched_at: now,
            checked_at: now,
        });
        Ok(n)
    }
}
