//! The key-registry port: where the signing keys published in the JWKS (RFC 7517 §5)
//! come from. Adapters implement it on the directory table; tests on a vector.

use std::future::Future;

use crate::error::PortError;
use crate::model::SigningKey;
use crate::types::Kid;

/// Lists the signing keys of the registry, whatever their status. The caller picks
/// what to publish with [`crate::jwk::JwkSet::published`], so the filtering rules live
/// in one place and follow the caller's clock.
pub trait KeySource: Send + Sync {
    /// Every signing key in the registry. A malformed key is an error, not skipped:
    /// silently dropping a key from the JWKS would break every token it signed.
    fn signing_keys(&self) -> impl Future<Output = Result<Vec<SigningKey>, PortError>> + Send;
}

impl<T: KeySource> KeySource for std::sync::Arc<T> {
    fn signing_keys(&self) -> impl Future<Output = Result<Vec<SigningKey>, PortError>> + Send {
        (**self).signing_keys()
    }
}

/// The signer's view of the registry: [`KeySource::signing_keys`] says which keys exist
/// (it may come from an eventually consistent index), and
/// [`read_consistent`](Self::read_consistent) reads their current state, so a key's
/// status is never taken from a stale copy.
pub trait KeyRegistry: KeySource {
    /// The keys among `kids` that still exist, read with strong consistency.
    fn read_consistent(
        &self,
        kids: &[Kid],
    ) -> impl Future<Output = Result<Vec<SigningKey>, PortError>> + Send;
}
