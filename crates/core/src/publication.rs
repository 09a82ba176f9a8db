//! Which signing keys the JWKS publishes (RFC 7517 §5; DESIGN.md "Keys and JWKS"): the
//! rule that joins the key registry's records to their public JWKs. It lives apart
//! from [`crate::jwk`], which knows JWKs only, so the dependency runs one way:
//! registry records, then JWKs.

use crate::jwk::JwkSet;
use crate::model::{KeyStatus, SigningKey, MAX_TOKEN_LIFETIME};

impl JwkSet {
    /// The JWKS to publish at `now` (DESIGN.md "Keys and JWKS"): pending and active
    /// keys, and retired keys until every token they may have signed has expired
    /// ([`MAX_TOKEN_LIFETIME`] after retirement); never a revoked key, and never a key
    /// whose `kid` is not the RFC 7638 thumbprint of its public JWK ([`Self::is_publishable`]):
    /// whoever could write such an item to the registry could otherwise publish a key
    /// of their own under any `kid`. Ordered active, pending, retired, then by kid, so
    /// the document is stable between calls.
    pub fn published(keys: &[SigningKey], now: u64) -> Self {
        Self {
            keys: published_keys(keys, now)
                .into_iter()
                .map(|k| k.public_jwk.clone())
                .collect(),
        }
    }
}

/// The signing keys [`JwkSet::published`] publishes at `now`, in its order: the keys
/// a verifier of this server's tokens trusts (introspection, revocation).
pub fn published_keys(keys: &[SigningKey], now: u64) -> Vec<&SigningKey> {
    let mut selected: Vec<&SigningKey> = keys
            .iter()
            .filter(|k| in_publication_window(k, now))
            .filter(|k| {
                let ok = JwkSet::is_publishable(k);
                if !ok {
                    tracing::error!(kid = %k.kid, "refusing to publish a signing key whose kid is not its RFC 7638 thumbprint");
                }
                ok
            })
            .collect();
    let rank = |s: KeyStatus| match s {
        KeyStatus::Active => 0,
        KeyStatus::Pending => 1,
        KeyStatus::Retired | KeyStatus::Revoked => 2,
    };
    selected.sort_by(|a, b| rank(a.status).cmp(&rank(b.status)).then(a.kid.cmp(&b.kid)));
    selected
}

impl JwkSet {
    /// Whether the JWK Set published at `now` holds `key` (the rule of
    /// [`Self::published`], for one key): what a verifier of our tokens accepts a
    /// signature from. Unlike [`Self::published`] it logs nothing, so it may run per
    /// request.
    pub fn publishes(key: &SigningKey, now: u64) -> bool {
        in_publication_window(key, now) && Self::is_publishable(key)
    }

    /// Whether `key` may be published: its `kid` equals the RFC 7638 §3 thumbprint of
    /// its public JWK, the JWK's own `kid` (if any) agrees, and the JWK is one we sign
    /// with (RSA or EC P-256 with its members present).
    pub fn is_publishable(key: &SigningKey) -> bool {
        let jwk = &key.public_jwk;
        let members = match jwk.kty.as_str() {
            "RSA" => jwk.n.is_some() && jwk.e.is_some(),
            "EC" => jwk.crv.as_deref() == Some("P-256") && jwk.x.is_some() && jwk.y.is_some(),
            _ => false,
        };
        members && jwk.thumbprint() == key.kid && jwk.kid.as_ref().is_none_or(|k| *k == key.kid)
    }
}

/// Pending and active keys, and retired keys until every token they may have signed
/// has expired ([`MAX_TOKEN_LIFETIME`] after retirement); never a revoked key.
fn in_publication_window(key: &SigningKey, now: u64) -> bool {
    match key.status {
        KeyStatus::Pending | KeyStatus::Active => true,
        // A retired key with no retirement time is kept: dropping a key too early
        // breaks verifiers, keeping it too long costs nothing.
        KeyStatus::Retired => key
            .retired_at
            .is_none_or(|t| now < t.saturating_add(MAX_TOKEN_LIFETIME)),
        KeyStatus::Revoked => false,
    }
}
