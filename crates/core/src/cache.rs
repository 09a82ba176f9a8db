//! A value read from a slower source and kept between requests, with a time to live
//! and a stale-on-error grace: the signer's active key and the JWKS function's key set
//! both follow these rules, with the caller's `now` (so tests drive the clock).
//!
//! - A value consulted less than `ttl` seconds ago (and not from the future: a clock
//!   that went back refreshes) is served without reading the source.
//! - Otherwise the source is read, one reader at a time: concurrent misses wait for that
//!   read and then take its result.
//! - When the read fails, or the source has nothing to serve right now
//!   ([`Fetched::Unavailable`]), the cached value keeps being served until `grace`
//!   seconds after it was last read successfully; past that, the error is returned.
//! - When the source says the cached value must never be served again
//!   ([`Fetched::Withdrawn`], a revoked signing key), it is dropped at once.

use std::future::Future;

use tokio::sync::RwLock;

use crate::error::{Chain, PortError};

/// What a read of the source found.
#[derive(Debug)]
pub enum Fetched<T> {
    /// The current value: cached and served.
    Fresh(T),
    /// The source answered but has nothing to serve now: the cached value is served
    /// within its grace, else the error is returned.
    Unavailable(PortError),
    /// The cached value must not be served again: the cache is emptied and the error
    /// returned.
    Withdrawn(PortError),
}

#[derive(Debug)]
struct Entry<T> {
    value: T,
    /// When the value was last read successfully.
    confirmed_at: u64,
    /// When the source was last consulted, successfully or not.
    checked_at: u64,
}

/// The cache: at most one value, read through the closure given to [`get`](Self::get).
#[derive(Debug)]
pub struct StaleCache<T> {
    what: &'static str,
    ttl: u64,
    grace: u64,
    slot: RwLock<Option<Entry<T>>>,
}

impl<T: Clone> StaleCache<T> {
    /// An empty cache of `what` (named in the log when a stale value is served),
    /// refreshed every `ttl` seconds and served stale for up to `grace` seconds after
    /// its last successful read.
    pub fn new(what: &'static str, ttl: u64, grace: u64) -> Self {
        Self {
            what,
            ttl,
            grace,
            slot: RwLock::new(None),
        }
    }

    /// The value at `now`: cached, or read with `fetch`, which receives the cached value
    /// (if any) so the source can say whether it may still be served.
    ///
    /// # Errors
    /// The source's error, when no cached value may be served instead.
    pub async fn get<F, Fut>(&self, now: u64, fetch: F) -> Result<T, PortError>
    where
        F: FnOnce(Option<T>) -> Fut,
        Fut: Future<Output = Result<Fetched<T>, PortError>>,
    {
        let fresh = |e: &Entry<T>| now >= e.checked_at && now - e.checked_at < self.ttl;
        if let Some(e) = self.slot.read().await.as_ref() {
            if fresh(e) {
                return Ok(e.value.clone());
            }
        }
        let mut slot = self.slot.write().await;
        // Another task may have read the source while this one waited for the lock.
        if let Some(e) = slot.as_ref() {
            if fresh(e) {
                return Ok(e.value.clone());
            }
        }
        let cached = slot.as_ref().map(|e| e.value.clone());
        let error = match fetch(cached).await {
            Ok(Fetched::Fresh(value)) => {
                *slot = Some(Entry {
                    value: value.clone(),
                    confirmed_at: now,
                    checked_at: now,
                });
                return Ok(value);
            }
            Ok(Fetched::Withdrawn(e)) => {
                *slot = None;
                return Err(e);
            }
            Ok(Fetched::Unavailable(e)) | Err(e) => e,
        };
        match slot.as_mut() {
            Some(entry) if now.saturating_sub(entry.confirmed_at) < self.grace => {
                tracing::warn!(
                    error = %Chain(&error),
                    age = now.saturating_sub(entry.confirmed_at),
                    "{}: the source could not be used; serving the cached value",
                    self.what
                );
                entry.checked_at = now;
                Ok(entry.value.clone())
            }
            _ => Err(error),
        }
    }

    /// Stores `value` as read at `now`, whatever the cache held (cold start reads the
    /// source during init).
    pub async fn put(&self, value: T, now: u64) {
        *self.slot.write().await = Some(Entry {
            value,
            confirmed_at: now,
            checked_at: now,
        });
    }
}

/// The signing keys of the registry, cached: what the JWKS endpoint publishes and
/// what introspection and the authorizer verify tokens with. The registry is read at
/// most every [`KEY_SET_TTL_SECS`]; what is published is computed per request from the
/// cached keys and the request's `now`, so a retired key leaves on time even from a
/// cached list.
pub mod keys {
    use super::{Fetched, StaleCache};
    use std::sync::Arc;

    use crate::error::PortError;
    use crate::keys::KeySource;
    use crate::model::SigningKey;

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
        pub async fn refresh<K: KeySource>(
            &self,
            source: &K,
            now: u64,
        ) -> Result<usize, PortError> {
            Ok(self.reload(source, now).await?.len())
        }

        /// Reads the registry now, whatever the cache holds, keeps the list and
        /// returns it (a verifier that met an unknown `kid`).
        ///
        /// # Errors
        /// The registry's error; the cache is left as it was.
        pub async fn reload<K: KeySource>(
            &self,
            source: &K,
            now: u64,
        ) -> Result<Arc<Vec<SigningKey>>, PortError> {
            let keys = Arc::new(source.signing_keys().await?);
            self.0.put(keys.clone(), now).await;
            Ok(keys)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn block<F: Future>(f: F) -> F::Output {
        futures_util::FutureExt::now_or_never(f).unwrap()
    }

    async fn fresh(v: u32) -> Result<Fetched<u32>, PortError> {
        Ok(Fetched::Fresh(v))
    }

    async fn failing() -> Result<Fetched<u32>, PortError> {
        Err(PortError::unavailable("down"))
    }

    #[test]
    fn serves_within_ttl_and_reads_after() {
        let cache = StaleCache::new("value", 60, 600);
        let reads = AtomicUsize::new(0);
        let read = |v| {
            reads.fetch_add(1, Ordering::SeqCst);
            fresh(v)
        };
        assert_eq!(block(cache.get(100, |_| read(1))).unwrap(), 1);
        assert_eq!(block(cache.get(159, |_| read(2))).unwrap(), 1);
        assert_eq!(block(cache.get(160, |_| read(3))).unwrap(), 3);
        // A clock that went back reads the source again.
        assert_eq!(block(cache.get(10, |_| read(4))).unwrap(), 4);
        assert_eq!(reads.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn stale_within_grace_then_error() {
        let cache = StaleCache::new("value", 60, 600);
        block(cache.get(0, |_| fresh(7))).unwrap();
        assert_eq!(block(cache.get(599, |_| failing())).unwrap(), 7);
        // Served stale at 599, so not consulted again before 659; by then the grace
        // since the last successful read (at 0) is over.
        assert_eq!(block(cache.get(658, |_| failing())).unwrap(), 7);
        assert!(block(cache.get(659, |_| failing())).is_err());
        let empty: StaleCache<u32> = StaleCache::new("value", 60, 600);
        assert!(block(empty.get(0, |_| failing())).is_err());
    }

    #[test]
    fn unavailable_serves_stale_and_withdrawn_drops() {
        let cache = StaleCache::new("value", 60, 600);
        block(cache.get(0, |_| fresh(7))).unwrap();
        let seen = block(cache.get(100, |cached| async move {
            assert_eq!(cached, Some(7));
            Ok(Fetched::Unavailable(PortError::unavailable("nothing")))
        }));
        assert_eq!(seen.unwrap(), 7);
        let withdrawn = block(cache.get(200, |_| async {
            Ok(Fetched::Withdrawn(PortError::unavailable("revoked")))
        }));
        assert!(withdrawn.is_err());
        // Nothing is cached any more: the next failure cannot fall back.
        assert!(block(cache.get(201, |cached| async move {
            assert_eq!(cached, None);
            failing().await
        }))
        .is_err());
    }

    #[test]
    fn put_replaces_the_value() {
        let cache = StaleCache::new("value", 60, 600);
        block(cache.put(9, 50));
        assert_eq!(block(cache.get(100, |_| fresh(1))).unwrap(), 9);
    }
}
