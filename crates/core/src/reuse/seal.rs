//! Reuse cache items at rest: a cached access token is a live bearer credential, so
//! the stored item must be useless to anyone who can read the table, an export, a
//! backup or a point-in-time restore.
//!
//! Every key comes from the secret the caller presents, never from anything stored:
//!
//! ```text
//! PRK      = HKDF-Extract(salt = SALT, IKM = presented secret)          (RFC 5869 §2.2)
//! slot     = HKDF-Expand(PRK, "m2m-auth reuse slot v2"  ‖ context, 32)  (RFC 5869 §2.3)
//! aead key = HKDF-Expand(PRK, "m2m-auth reuse aead v2"  ‖ context, 32)
//! context  = len ‖ client_id ‖ len ‖ canonical reuse key
//! ```
//!
//! The secret is HKDF's input keying material, i.e. the *message* of HMAC-SHA256 under
//! the fixed salt, never the HMAC *key*. Keyed by the secret, HMAC would first replace a
//! key longer than the 64-byte block by its SHA-256 (RFC 2104 §2), which is exactly the
//! hash the table stores: a reader of the table could then derive every item's key.
//! As the message, the secret enters `SHA-256(K ⊕ ipad ‖ secret)`, which `SHA-256(secret)`
//! does not give (length extension only appends).
//!
//! The slot names the item (its sort key), so the single `BatchGetItem` can fetch it
//! before authentication, and a rotated or revoked secret's entries are simply never
//! addressed again. The token and its scope are sealed with AES-256-GCM (NIST SP
//! 800-38D) under a fresh 96-bit random nonce; the associated data binds the item's
//! key (client and slot), the fingerprint, `iat` and `exp`, so no stored attribute can
//! be swapped between items or edited without the open failing.

use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use rand::rngs::OsRng;
use rand::RngCore as _;
use sha2::Sha256;

use super::{CachedToken, Fingerprint};
use crate::types::ClientId;

/// HKDF salt (RFC 5869 §3.1: a non-secret random value strengthens the extract step).
/// Fixed, so every function instance derives the same slot.
const SALT: [u8; 32] = *b"m2m-auth reuse cache salt v2 \x8f\x1d\x6b";
const SLOT_INFO: &[u8] = b"m2m-auth reuse slot v2";
const AEAD_INFO: &[u8] = b"m2m-auth reuse aead v2";
const AAD_LABEL: &[u8] = b"m2m-auth reuse item v2";
/// AES-GCM nonce length (NIST SP 800-38D §8.2: 96 bits, random construction §8.2.2).
pub const NONCE_LEN: usize = 12;

/// The keys one presented secret gives one reuse key of one client.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) struct SecretKeys {
    pub(super) slot: [u8; 32],
    aead: [u8; 32],
}

fn context(client_id: &ClientId, canonical: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + client_id.as_str().len() + canonical.len());
    for part in [client_id.as_str().as_bytes(), canonical.as_bytes()] {
        out.extend_from_slice(&(part.len() as u64).to_le_bytes());
        out.extend_from_slice(part);
    }
    out
}

impl SecretKeys {
    /// Derives the slot and AEAD key from the raw bytes of a presented secret.
    pub(super) fn derive(secret: &[u8], client_id: &ClientId, canonical: &str) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(&SALT), secret);
        let ctx = context(client_id, canonical);
        let mut slot = [0u8; 32];
        let mut aead = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's limit of 255 × 32: expand cannot fail.
        let ok = hk.expand_multi_info(&[SLOT_INFO, &ctx], &mut slot).is_ok()
            && hk.expand_multi_info(&[AEAD_INFO, &ctx], &mut aead).is_ok();
        debug_assert!(ok);
        Self { slot, aead }
    }

    pub(super) fn from_credential(credential: &str, client_id: &ClientId, canonical: &str) -> Self {
        Self::derive(credential.as_bytes(), client_id, canonical)
    }
}

/// A cached token as stored: the public metadata the reader checks before opening,
/// and the sealed token and scope.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedToken {
    /// `iat` of the token (unix seconds).
    pub issued_at: u64,
    /// `exp` of the token (unix seconds); also the item's expiry in the store.
    pub expires_at: u64,
    /// The fingerprint it was signed under.
    pub fingerprint: Fingerprint,
    /// The AES-GCM nonce.
    pub nonce: [u8; NONCE_LEN],
    /// AES-256-GCM ciphertext and tag of `scope "\n" access_token`.
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for SealedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedToken")
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("fingerprint", &self.fingerprint)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

fn aad(client_id: &ClientId, slot: &[u8; 32], fp: &Fingerprint, iat: u64, exp: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(AAD_LABEL.len() + 120);
    out.extend_from_slice(AAD_LABEL);
    out.extend_from_slice(&(client_id.as_str().len() as u64).to_le_bytes());
    out.extend_from_slice(client_id.as_str().as_bytes());
    out.extend_from_slice(slot);
    out.extend_from_slice(&fp.0);
    out.extend_from_slice(&iat.to_le_bytes());
    out.extend_from_slice(&exp.to_le_bytes());
    out
}

impl SecretKeys {
    /// Seals `token` for `client_id`; `None` only if the cipher refuses (it does not for
    /// inputs under 64 GiB).
    pub(super) fn seal(&self, client_id: &ClientId, token: &CachedToken) -> Option<SealedToken> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let cipher = Aes256Gcm::new((&self.aead).into());
        let mut plain = Vec::with_capacity(token.scope.len() + 1 + token.access_token.len());
        plain.extend_from_slice(token.scope.as_bytes());
        plain.push(b'\n');
        plain.extend_from_slice(token.access_token.as_bytes());
        let aad = aad(
            client_id,
            &self.slot,
            &token.fingerprint,
            token.issued_at,
            token.expires_at,
        );
        let ciphertext = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &plain,
                    aad: &aad,
                },
            )
            .ok()?;
        Some(SealedToken {
            issued_at: token.issued_at,
            expires_at: token.expires_at,
            fingerprint: token.fingerprint,
            nonce,
            ciphertext,
        })
    }

    /// Opens `sealed`; `None` when it was not sealed by these keys for `client_id` or
    /// any bound attribute was changed.
    pub(super) fn open(&self, client_id: &ClientId, sealed: &SealedToken) -> Option<CachedToken> {
        let cipher = Aes256Gcm::new((&self.aead).into());
        let aad = aad(
            client_id,
            &self.slot,
            &sealed.fingerprint,
            sealed.issued_at,
            sealed.expires_at,
        );
        let plain = cipher
            .decrypt(
                &Nonce::from(sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: &aad,
                },
            )
            .ok()?;
        let plain = String::from_utf8(plain).ok()?;
        let (scope, access_token) = plain.split_once('\n')?;
        if access_token.is_empty() {
            return None;
        }
        Some(CachedToken {
            access_token: access_token.to_owned(),
            scope: scope.to_owned(),
            issued_at: sealed.issued_at,
            expires_at: sealed.expires_at,
            fingerprint: sealed.fingerprint,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use sha2::Digest as _;

    fn token() -> CachedToken {
        CachedToken {
            access_token: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjIn0.c2ln".into(),
            scope: "read:orders".into(),
            issued_at: 100,
            expires_at: 3700,
            fingerprint: Fingerprint([3; 32]),
        }
    }

    fn keys(secret: &str) -> SecretKeys {
        SecretKeys::derive(secret.as_bytes(), &ClientId::new("c1"), "aud\n\"")
    }

    #[test]
    fn seal_open_round_trip_equal() {
        let k = keys("m2m_sk_secret");
        let sealed = k.seal(&ClientId::new("c1"), &token()).unwrap();
        assert_eq!(k.open(&ClientId::new("c1"), &sealed).unwrap(), token());
    }

    #[test]
    fn sealed_holds_no_token_bytes() {
        let sealed = keys("s").seal(&ClientId::new("c1"), &token()).unwrap();
        let raw = String::from_utf8_lossy(&sealed.ciphertext);
        assert!(!raw.contains("eyJ") && !raw.contains("read:orders"));
        assert!(!format!("{sealed:?}").contains("eyJ"));
    }

    #[test]
    fn other_secret_cannot_open() {
        let sealed = keys("right").seal(&ClientId::new("c1"), &token()).unwrap();
        assert!(keys("wrong").open(&ClientId::new("c1"), &sealed).is_none());
        assert_ne!(keys("right").slot, keys("wrong").slot);
    }

    #[test]
    fn other_client_or_reuse_key_other_slot() {
        let a = SecretKeys::derive(b"s", &ClientId::new("c1"), "k");
        assert_ne!(
            a.slot,
            SecretKeys::derive(b"s", &ClientId::new("c2"), "k").slot
        );
        assert_ne!(
            a.slot,
            SecretKeys::derive(b"s", &ClientId::new("c1"), "k2").slot
        );
        // Length-prefixed: moving a byte between client id and key changes the slot.
        assert_ne!(
            SecretKeys::derive(b"s", &ClientId::new("ab"), "c").slot,
            SecretKeys::derive(b"s", &ClientId::new("a"), "bc").slot
        );
    }

    #[test]
    fn bound_attributes_tamper_rejected() {
        let k = keys("s");
        let c = ClientId::new("c1");
        let sealed = k.seal(&c, &token()).unwrap();
        let mut t = sealed.clone();
        t.expires_at += 3600;
        assert!(k.open(&c, &t).is_none(), "exp is bound");
        let mut t = sealed.clone();
        t.issued_at += 1;
        assert!(k.open(&c, &t).is_none(), "iat is bound");
        let mut t = sealed.clone();
        t.fingerprint = Fingerprint([4; 32]);
        assert!(k.open(&c, &t).is_none(), "fingerprint is bound");
        assert!(
            k.open(&ClientId::new("c2"), &sealed).is_none(),
            "client is bound"
        );
        let other_slot = SecretKeys {
            slot: [0; 32],
            aead: k.aead,
        };
        assert!(other_slot.open(&c, &sealed).is_none(), "slot is bound");
        let mut t = sealed;
        t.ciphertext[0] ^= 1;
        assert!(k.open(&c, &t).is_none());
    }

    /// The stored SHA-256 of a secret must not give the keys: presenting the hash as
    /// if it were the secret derives other keys, for short secrets and for secrets
    /// longer than SHA-256's 64-byte block (where HMAC keyed by the secret would
    /// collapse to exactly that hash, RFC 2104 §2).
    #[test]
    fn stored_hash_does_not_derive_keys() {
        for len in [43, 64, 65, 200] {
            let secret = "x".repeat(len);
            let hash: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
            let c = ClientId::new("c1");
            let from_secret = SecretKeys::derive(secret.as_bytes(), &c, "k");
            let from_hash = SecretKeys::derive(&hash, &c, "k");
            assert_ne!(from_secret.slot, from_hash.slot, "len {len}");
            assert_ne!(from_secret.aead, from_hash.aead, "len {len}");
            // And the slot is not the hash itself, nor the hash keyed by the salt.
            assert_ne!(from_secret.slot, hash);
        }
    }

    #[test]
    fn fresh_nonce_per_seal() {
        let k = keys("s");
        let c = ClientId::new("c1");
        let a = k.seal(&c, &token()).unwrap();
        let b = k.seal(&c, &token()).unwrap();
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
    }
}
