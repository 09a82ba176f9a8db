//! The in-memory key cache: a warm JWKS response reads no AWS service. It is the
//! domain's [`m2m_core::cache::keys::KeyCache`], shared with introspection and the
//! authorizer.

pub use m2m_core::cache::keys::{KeyCache, KEY_SET_TTL_SECS, STALE_GRACE_SECS};
