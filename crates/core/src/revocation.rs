//! Revocation of access tokens before they expire (RFC 7009): every token of a client
//! issued before an instant (its "not before"), or one token by its `jti` (RFC 7519
//! §4.1.7). Resource servers verify our JWTs offline (RFC 9068 §4), so a revocation
//! reaches them only through a list they read: [`RevocationList`], kept by the
//! [`Revocations`] port.
//!
//! The state stays bounded. An entry is kept only until no token it revokes can still
//! be valid ([`Revocation::keep_until`]): a client entry for [`MAX_TOKEN_LIFETIME`]
//! after its `not_before` (a token issued before it expires before then), a token
//! entry until the token's `exp`; each with the verifiers' clock [`LEEWAY`] on top,
//! since a verifier still accepts a token that long after its `exp`. Adapters store
//! that instant as the entry's expiry and leave out entries past it.
//!
//! Token ids are kept hashed ([`jti_digest`]): a reader of the store learns which
//! clients were revoked, never which token ids exist.

use std::collections::{HashMap, HashSet};
use std::future::Future;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use crate::access_token::LEEWAY;
use crate::error::PortError;
use crate::model::MAX_TOKEN_LIFETIME;
use crate::types::ClientId;

/// The form a `jti` is stored and listed in: the unpadded base64url SHA-256 of the
/// `jti` (43 characters whatever its length). The one place that rule is written:
/// writers, readers and the list all go through it.
pub fn jti_digest(jti: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(jti.as_bytes()))
}

/// What is revoked (RFC 7009 §2): a client's tokens issued before an instant, or one
/// token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revocation {
    /// Every token of `client_id` whose `iat` is before `not_before` (unix seconds):
    /// the answer to a leaked secret or a compromised client. Tokens issued in the
    /// second `not_before` itself stay valid, so to cut off everything issued up to
    /// now, pass `now + 1`.
    Client {
        /// The client whose tokens are revoked.
        client_id: ClientId,
        /// Tokens issued (`iat`) before this instant are revoked.
        not_before: u64,
    },
    /// The token whose `jti` (RFC 7519 §4.1.7) is `jti`.
    Token {
        /// The token's `jti`, as it appears in the token (adapters store its
        /// [`jti_digest`] only).
        jti: String,
        /// The client the token was issued to.
        client_id: ClientId,
        /// The token's `exp`: after it (and the verifiers' leeway) the entry is moot.
        expires_at: u64,
    },
}

impl Revocation {
    /// The client whose token(s) this revokes.
    pub fn client_id(&self) -> &ClientId {
        match self {
            Self::Client { client_id, .. } | Self::Token { client_id, .. } => client_id,
        }
    }

    /// Until when the entry must be kept (unix seconds), and no longer: the instant
    /// after which no token it revokes is accepted by a verifier anyway. A token issued
    /// before `not_before` expires at most [`MAX_TOKEN_LIFETIME`] after it; a token
    /// expires at its `exp`; verifiers accept either up to [`LEEWAY`] later.
    pub fn keep_until(&self) -> u64 {
        match self {
            Self::Client { not_before, .. } => not_before
                .saturating_add(MAX_TOKEN_LIFETIME)
                .saturating_add(LEEWAY),
            Self::Token { expires_at, .. } => expires_at.saturating_add(LEEWAY),
        }
    }
}

/// The revocations in force: for each revoked client the instant before which its
/// tokens are revoked, and the digests ([`jti_digest`]) of revoked token ids.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RevocationList {
    /// client_id → not_before (unix seconds).
    clients: HashMap<String, u64>,
    /// Revoked `jti`s, as [`jti_digest`]s.
    tokens: HashSet<String>,
}

impl RevocationList {
    /// An empty list: nothing revoked.
    pub fn new() -> Self {
        Self::default()
    }

    /// Revokes `client_id`'s tokens issued before `not_before`. A later instant than
    /// the one listed wins; an earlier one changes nothing (a revocation is never
    /// narrowed).
    pub fn revoke_client_before(&mut self, client_id: &str, not_before: u64) {
        let entry = self.clients.entry(client_id.to_owned()).or_insert(0);
        *entry = (*entry).max(not_before);
    }

    /// Revokes the token whose `jti` is `jti` (listed as its [`jti_digest`]).
    pub fn revoke_token(&mut self, jti: &str) {
        self.tokens.insert(jti_digest(jti));
    }

    /// Revokes the token whose [`jti_digest`] is `digest`: what a store that keeps
    /// only digests reads back.
    pub fn revoke_token_digest(&mut self, digest: impl Into<String>) {
        self.tokens.insert(digest.into());
    }

    /// Adds `revocation` to the list.
    pub fn apply(&mut self, revocation: &Revocation) {
        match revocation {
            Revocation::Client {
                client_id,
                not_before,
            } => self.revoke_client_before(client_id.as_str(), *not_before),
            Revocation::Token { jti, .. } => self.revoke_token(jti),
        }
    }

    /// Whether a token of `client_id` with `jti` (if it has one) issued at `iat` is
    /// revoked: its `iat` is before its client's `not_before`, or its `jti` is listed.
    /// A token without `iat` should be checked with `iat` 0, so that any `not_before`
    /// of its client revokes it.
    pub fn is_revoked(&self, client_id: &str, jti: Option<&str>, iat: u64) -> bool {
        self.clients
            .get(client_id)
            .is_some_and(|not_before| iat < *not_before)
            || jti.is_some_and(|j| self.tokens.contains(&jti_digest(j)))
    }

    /// The instant before which `client_id`'s tokens are revoked, if any.
    pub fn not_before(&self, client_id: &str) -> Option<u64> {
        self.clients.get(client_id).copied()
    }

    /// How many entries the list holds (revoked clients plus revoked tokens).
    pub fn len(&self) -> usize {
        self.clients.len() + self.tokens.len()
    }

    /// True when nothing is revoked.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty() && self.tokens.is_empty()
    }
}

/// Where revocations are kept (RFC 7009 §2.2: once revoked, a token must not be
/// accepted again). Written by the revocation endpoint and the operator, read by
/// verifiers (the API Gateway authorizer, introspection).
pub trait Revocations: Send + Sync {
    /// Every revocation in force, read consistently: a verifier that caches the
    /// answer bounds how late a revocation takes effect by how long it keeps it.
    /// Entries past their [`Revocation::keep_until`] may be left out.
    fn revocation_list(&self) -> impl Future<Output = Result<RevocationList, PortError>> + Send;

    /// Records `revocation` at `now`, kept until [`Revocation::keep_until`]. Never
    /// narrows a revocation: a client's `not_before` only moves later. Revoking again
    /// is harmless, and an entry that would already have lapsed at `now` need not be
    /// written.
    fn revoke(
        &self,
        revocation: &Revocation,
        now: u64,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

impl<T: Revocations> Revocations for std::sync::Arc<T> {
    fn revocation_list(&self) -> impl Future<Output = Result<RevocationList, PortError>> + Send {
        (**self).revocation_list()
    }

    fn revoke(
        &self,
        revocation: &Revocation,
        now: u64,
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        (**self).revoke(revocation, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    #[test]
    fn empty_list_revokes_nothing() {
        let list = RevocationList::new();
        assert!(list.is_empty());
        assert_eq!(list.len(), 0);
        assert!(!list.is_revoked("c", Some("j"), 0));
    }

    #[test]
    fn client_not_before_revokes_earlier_tokens_only() {
        let mut list = RevocationList::new();
        list.revoke_client_before("c", NOW);
        assert!(list.is_revoked("c", None, NOW - 1));
        assert!(list.is_revoked("c", Some("j"), 0));
        assert!(!list.is_revoked("c", None, NOW));
        assert!(!list.is_revoked("c", Some("j"), NOW + 1));
        assert!(!list.is_revoked("other", None, NOW - 1));
        assert_eq!(list.not_before("c"), Some(NOW));
    }

    #[test]
    fn client_not_before_keeps_the_latest() {
        let mut list = RevocationList::new();
        list.revoke_client_before("c", NOW);
        list.revoke_client_before("c", NOW - 100);
        assert_eq!(list.not_before("c"), Some(NOW));
        list.revoke_client_before("c", NOW + 5);
        assert_eq!(list.not_before("c"), Some(NOW + 5));
        assert_eq!(list.len(), 1);
    }

    #[test]
    fn token_revoked_by_jti_other_tokens_pass() {
        let mut list = RevocationList::new();
        list.revoke_token("jti-1");
        assert!(list.is_revoked("c", Some("jti-1"), NOW));
        assert!(!list.is_revoked("c", Some("jti-2"), NOW));
        assert!(!list.is_revoked("c", None, NOW));
        assert_eq!(list.len(), 1);
        assert!(!list.is_empty());
    }

    #[test]
    fn digest_form_equals_raw_form() {
        let mut by_digest = RevocationList::new();
        by_digest.revoke_token_digest(jti_digest("jti-1"));
        let mut by_jti = RevocationList::new();
        by_jti.revoke_token("jti-1");
        assert_eq!(by_digest, by_jti);
        assert!(by_digest.is_revoked("c", Some("jti-1"), NOW));
    }

    #[test]
    fn digest_is_fixed_length_base64url_without_the_jti() {
        for jti in [
            "a",
            "0f8e6c1a-5a57-4c1e-9d59-1a2b3c4d5e6f",
            &"x".repeat(500),
        ] {
            let d = jti_digest(jti);
            assert_eq!(d.len(), 43, "{jti}");
            assert!(d
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        }
        let jti = "0f8e6c1a-5a57-4c1e-9d59-1a2b3c4d5e6f";
        assert!(!jti_digest(jti).contains(&jti[..8]));
        assert_ne!(jti_digest("a"), jti_digest("b"));
        // SHA-256("abc"), RFC 6234 test vector, in base64url.
        assert_eq!(
            jti_digest("abc"),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
    }

    #[test]
    fn apply_records_both_kinds() {
        let mut list = RevocationList::new();
        list.apply(&Revocation::Client {
            client_id: ClientId::new("c"),
            not_before: NOW,
        });
        list.apply(&Revocation::Token {
            jti: "j".into(),
            client_id: ClientId::new("d"),
            expires_at: NOW + 3600,
        });
        assert!(list.is_revoked("c", None, NOW - 1));
        assert!(list.is_revoked("d", Some("j"), NOW));
        assert!(!list.is_revoked("d", Some("k"), NOW));
        assert_eq!(list.len(), 2);
    }

    #[test]
    fn entries_kept_until_no_revoked_token_can_verify() {
        let client = Revocation::Client {
            client_id: ClientId::new("c"),
            not_before: NOW,
        };
        // The latest token it revokes was issued at NOW - 1 and lives at most a day;
        // verifiers accept it up to LEEWAY after its exp.
        assert!(client.keep_until() >= NOW - 1 + MAX_TOKEN_LIFETIME + LEEWAY);
        assert_eq!(client.keep_until(), NOW + MAX_TOKEN_LIFETIME + LEEWAY);
        let token = Revocation::Token {
            jti: "j".into(),
            client_id: ClientId::new("c"),
            expires_at: NOW + 3600,
        };
        assert_eq!(token.keep_until(), NOW + 3600 + LEEWAY);
        assert_eq!(token.client_id().as_str(), "c");
        assert_eq!(client.client_id().as_str(), "c");
        let far = Revocation::Token {
            jti: "j".into(),
            client_id: ClientId::new("c"),
            expires_at: u64::MAX,
        };
        assert_eq!(far.keep_until(), u64::MAX);
    }
}
