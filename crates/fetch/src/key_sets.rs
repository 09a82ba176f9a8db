//! [`HttpKeySets`]: the [`KeySets`] port over HTTPS, with a per-source cache shared by
//! the concurrent requests of one Lambda instance.
//!
//! For each source (a `jwks_uri`, or an issuer) the cache keeps the last key set
//! fetched and the last failed attempt:
//!
//! - a set younger than `ttl` is served without fetching;
//! - `refresh` (the caller found no key with its `kid`) fetches again, unless the set
//!   is younger than `refresh_floor`: a rotation is picked up within seconds, and no
//!   caller can make every request fetch;
//! - one fetch per source at a time: concurrent callers wait for it and take its result;
//! - a failed attempt is remembered for `refresh_floor`, never cached as a set: within
//!   it, callers get the same failure without a new fetch (a host that hangs costs one
//!   timeout per floor, not one per request);
//! - when fetching again fails, the previous set is served (with a warning) until
//!   `stale_for` past its freshness, except to a `refresh`: that caller already holds
//!   the set and found no key in it, so it gets the failure, which says why.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use m2m_core::error::{Chain, PortError, PortErrorKind};
use m2m_core::ports::{JwkSet, JwksSource, KeySets};
use tokio::sync::RwLock;

use crate::document::{discovered_jwks_uri, discovery_url, parse_jwks};
use crate::http::Fetcher;
use crate::policy::{host_label, FetchPolicy};

/// The most sources cached at once. Sources come from registrations (clients' `jwks_uri`s,
/// trusted issuers), not from requests, so this is never reached in practice; past it,
/// the source consulted least recently and not in use is forgotten.
const MAX_SOURCES: usize = 1024;

/// The clock the cache ages entries by: Unix seconds, the shape of the functions'
/// clock (`m2m_aws::clock::Clock`). The wall clock rather than a monotonic one, so
/// the time a Lambda instance spends frozen between invocations counts towards a
/// set's age.
type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The wall clock in Unix seconds.
fn system_clock() -> u64 {
    // An adapter may read the clock (clippy.toml): the cache's ages are its own.
    #[allow(clippy::disallowed_methods)]
    let now = SystemTime::now();
    now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// How long ago `at` was at `now`; a time in the future (the clock went back) counts
/// as long ago, so the entry is fetched again rather than trusted.
fn age(now: u64, at: u64) -> Duration {
    now.checked_sub(at)
        .map_or(Duration::MAX, Duration::from_secs)
}

/// Remote key sets over HTTPS, behind the [`FetchPolicy`]'s SSRF guard, cached per
/// source. Build one per Lambda instance, during init, and share it.
pub struct HttpKeySets {
    fetcher: Fetcher,
    sources: Mutex<HashMap<SourceKey, Arc<Slot>>>,
    clock: Clock,
}

impl fmt::Debug for HttpKeySets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpKeySets")
            .field("policy", self.fetcher.policy())
            .finish_non_exhaustive()
    }
}

impl HttpKeySets {
    /// Key sets fetched under `policy` ([`FetchPolicy::default`] when deployed,
    /// [`FetchPolicy::from_env`] for a function's configuration). Builds the HTTP
    /// client and its TLS configuration (the webpki root store) now, at init.
    ///
    /// # Errors
    /// An `Unavailable` [`PortError`] when the HTTP client cannot be built.
    pub fn new(policy: FetchPolicy) -> Result<Self, PortError> {
        Ok(Self {
            fetcher: Fetcher::new(policy)?,
            sources: Mutex::new(HashMap::new()),
            clock: Arc::new(system_clock),
        })
    }

    /// The same key sets with another clock (Unix seconds) for the cache's ages: the
    /// function's own clock, or in tests one they drive instead of sleeping.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The policy fetches follow.
    pub fn policy(&self) -> &FetchPolicy {
        self.fetcher.policy()
    }

    fn slot(&self, key: SourceKey) -> Arc<Slot> {
        let mut sources = self.sources.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = sources.get(&key) {
            return Arc::clone(slot);
        }
        if sources.len() >= MAX_SOURCES {
            forget_one(&mut sources);
        }
        let slot = Arc::new(Slot::default());
        sources.insert(key, Arc::clone(&slot));
        slot
    }

    /// Fetches the key set of `source`, without the cache.
    async fn fetch(&self, source: JwksSource<'_>) -> Result<JwkSet, PortError> {
        let policy = self.fetcher.policy();
        let jwks_url = match source {
            JwksSource::Uri(uri) => policy.parse_url(uri)?,
            JwksSource::Issuer(issuer) => {
                let config_url = discovery_url(policy, issuer)?;
                let body = self.fetcher.get_json(&config_url).await?;
                let jwks_uri = discovered_jwks_uri(host_label(&config_url), &body, issuer)?;
                // Chosen by the issuer's host: as untrusted as the issuer itself.
                policy.parse_url(&jwks_uri)?
            }
        };
        let body = self.fetcher.get_json(&jwks_url).await?;
        parse_jwks(host_label(&jwks_url), &body)
    }
}

impl KeySets for HttpKeySets {
    async fn key_set(
        &self,
        source: JwksSource<'_>,
        refresh: bool,
    ) -> Result<Arc<JwkSet>, PortError> {
        let policy = self.fetcher.policy();
        let slot = self.slot(SourceKey::from(source));
        let decision = slot
            .state
            .read()
            .await
            .decide((self.clock)(), refresh, policy);
        match decision {
            Decision::Serve(set) => return Ok(set),
            Decision::Fail(e) => return Err(e),
            Decision::Fetch => {}
        }
        let mut state = slot.state.write().await;
        // Another caller may have fetched while this one waited for the lock.
        let now = (self.clock)();
        match state.decide(now, refresh, policy) {
            Decision::Serve(set) => return Ok(set),
            Decision::Fail(e) => return Err(e),
            Decision::Fetch => {}
        }
        match self.fetch(source).await {
            Ok(set) => {
                let set = Arc::new(set);
                state.good = Some(Good {
                    set: Arc::clone(&set),
                    at: now,
                });
                state.failed = None;
                Ok(set)
            }
            Err(e) => {
                state.failed = Some(Failed {
                    kind: e.kind(),
                    message: e.message().to_owned(),
                    at: now,
                });
                match state.stale(now, refresh, policy) {
                    Some(set) => {
                        tracing::warn!(
                            error = %Chain(&e),
                            "key set could not be fetched again; serving the previous one"
                        );
                        Ok(set)
                    }
                    None => Err(e),
                }
            }
        }
    }
}

/// A source, as the cache knows it: a `jwks_uri` and an issuer are different sources
/// even when spelt alike.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum SourceKey {
    Uri(String),
    Issuer(String),
}

impl From<JwksSource<'_>> for SourceKey {
    fn from(source: JwksSource<'_>) -> Self {
        match source {
            JwksSource::Uri(u) => Self::Uri(u.to_owned()),
            JwksSource::Issuer(i) => Self::Issuer(i.to_owned()),
        }
    }
}

/// One source's cache entry; its lock is held across a fetch, so one fetch per source
/// runs at a time.
#[derive(Default)]
struct Slot {
    state: RwLock<State>,
}

#[derive(Default)]
struct State {
    /// The last key set fetched.
    good: Option<Good>,
    /// The last attempt, when it failed (cleared by a success).
    failed: Option<Failed>,
}

struct Good {
    set: Arc<JwkSet>,
    /// Unix seconds.
    at: u64,
}

/// What is kept of a failure: enough to report it again, not its cause.
struct Failed {
    kind: PortErrorKind,
    message: String,
    /// Unix seconds.
    at: u64,
}

enum Decision {
    Serve(Arc<JwkSet>),
    Fail(PortError),
    Fetch,
}

impl State {
    fn decide(&self, now: u64, refresh: bool, policy: &FetchPolicy) -> Decision {
        if let Some(good) = &self.good {
            let age = age(now, good.at);
            if age < policy.refresh_floor || (!refresh && age < policy.ttl) {
                return Decision::Serve(Arc::clone(&good.set));
            }
        }
        if let Some(failed) = &self.failed {
            if age(now, failed.at) < policy.refresh_floor {
                if let Some(set) = self.stale(now, refresh, policy) {
                    return Decision::Serve(set);
                }
                return Decision::Fail(PortError::new(
                    failed.kind,
                    format!("{} (a recent attempt; not retried yet)", failed.message),
                ));
            }
        }
        Decision::Fetch
    }

    /// The previous set, when it may stand in for one that could not be fetched.
    fn stale(&self, now: u64, refresh: bool, policy: &FetchPolicy) -> Option<Arc<JwkSet>> {
        let good = self.good.as_ref().filter(|_| !refresh)?;
        let limit = policy.ttl.saturating_add(policy.stale_for);
        (age(now, good.at) < limit).then(|| Arc::clone(&good.set))
    }

    fn last_attempt(&self) -> Option<u64> {
        let good = self.good.as_ref().map(|g| g.at);
        let failed = self.failed.as_ref().map(|f| f.at);
        good.max(failed)
    }
}

/// Forgets the source attempted least recently among those no caller is using.
fn forget_one(sources: &mut HashMap<SourceKey, Arc<Slot>>) {
    let oldest = sources
        .iter()
        .filter(|(_, slot)| Arc::strong_count(slot) == 1)
        .filter_map(|(key, slot)| Some((slot.state.try_read().ok()?.last_attempt(), key)))
        .min_by_key(|(at, _)| *at)
        .map(|(_, key)| key.clone());
    if let Some(key) = oldest {
        sources.remove(&key);
    }
}
