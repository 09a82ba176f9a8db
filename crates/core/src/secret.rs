//! Client secrets: generation (256 random bits, prefixed so scanners find leaks),
//! SHA-256 hashing, and constant-time verification against stored hashes.
//!
//! A random 256-bit secret needs no slow password hash: there is nothing to guess,
//! so SHA-256 is enough (DESIGN.md "Directory"), and it costs microseconds per
//! request instead of tens of milliseconds.

use std::cell::Cell;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::rngs::OsRng;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use subtle::{Choice, ConditionallySelectable as _, ConstantTimeEq as _};

use crate::model::StoredSecret;
use crate::types::{ClientSecret, SecretId};

/// The prefix of every generated secret.
pub const SECRET_PREFIX: &str = "m2m_sk_";

/// The prefix of every secret id.
pub const SECRET_ID_PREFIX: &str = "sec_";

/// Random bytes in a secret: 256 bits (RFC 6749 §10.10: credentials must be
/// infeasible to guess; RFC 6819 §5.1.4.2.2 recommends high entropy).
const SECRET_BYTES: usize = 32;

/// What [`dummy_verify`] compares against: not the hash of any secret anyone knows.
const DUMMY_HASH: [u8; 32] = [0x5A; 32];

/// A new random secret: [`SECRET_PREFIX`] then 32 random bytes from the operating
/// system's CSPRNG, base64url (43 characters).
pub fn generate_secret() -> ClientSecret {
    let mut bytes = [0u8; SECRET_BYTES];
    OsRng.fill_bytes(&mut bytes);
    let mut s = String::with_capacity(SECRET_PREFIX.len() + 43);
    s.push_str(SECRET_PREFIX);
    URL_SAFE_NO_PAD.encode_string(bytes, &mut s);
    ClientSecret::new(s)
}

/// A new secret id: [`SECRET_ID_PREFIX`] then 8 random bytes, base64url. Short, not
/// secret: it names a secret in the CLI and the logs.
pub fn new_secret_id() -> SecretId {
    let mut bytes = [0u8; 8];
    OsRng.fill_bytes(&mut bytes);
    let mut s = String::with_capacity(SECRET_ID_PREFIX.len() + 11);
    s.push_str(SECRET_ID_PREFIX);
    URL_SAFE_NO_PAD.encode_string(bytes, &mut s);
    SecretId::new(s)
}

thread_local! {
    /// Secrets hashed on this thread: see [`hash_count`].
    static HASHES: Cell<u64> = const { Cell::new(0) };
}

/// How many secrets this thread has hashed so far. Authentication must do the same
/// hashing work whether the client is unknown or the secret wrong (RFC 6819
/// §5.1.4.1.3); this count lets a test prove it exactly, where wall-clock medians
/// show it only roughly. Per thread, so parallel work does not disturb a reading.
pub fn hash_count() -> u64 {
    HASHES.with(Cell::get)
}

/// SHA-256 of the secret's UTF-8 bytes.
pub fn hash_secret(secret: &ClientSecret) -> [u8; 32] {
    HASHES.with(|n| n.set(n.get().wrapping_add(1)));
    Sha256::digest(secret.expose().as_bytes()).into()
}

/// The record to store for `secret`: a fresh id and the hash, never the secret.
pub fn stored_secret(
    secret: &ClientSecret,
    created_at: u64,
    expires_at: Option<u64>,
) -> StoredSecret {
    StoredSecret {
        id: new_secret_id(),
        hash: hash_secret(secret),
        created_at,
        expires_at,
        last_used_at: None,
    }
}

/// The stored secret that `presented` matches and that has not expired at `now`
/// (`expires_at` absent, or `now < expires_at`).
///
/// The presented secret is hashed once and compared with every stored hash in
/// constant time, with no early exit on a match, so the time taken depends on the
/// number of stored secrets only, never on which (if any) matched (RFC 6819
/// §5.1.4.1.3 / §4.3.2: do not leak credential validity through timing).
pub fn verify_secret<'a>(
    presented: &ClientSecret,
    stored: &'a [StoredSecret],
    now: u64,
) -> Option<&'a StoredSecret> {
    let hash = hash_secret(presented);
    let mut found = Choice::from(0);
    let mut index = 0u64;
    for (i, candidate) in stored.iter().enumerate() {
        let unexpired = Choice::from(u8::from(candidate.expires_at.is_none_or(|e| now < e)));
        let hit = hash.ct_eq(&candidate.hash) & unexpired;
        index.conditional_assign(&(i as u64), hit);
        found |= hit;
    }
    if bool::from(found) {
        usize::try_from(index).ok().and_then(|i| stored.get(i))
    } else {
        None
    }
}

/// The work of [`verify_secret`] for a client that does not exist (or is disabled):
/// one hash and one constant-time comparison against a fixed hash, so that an
/// unknown client and a wrong secret take comparable time (DESIGN.md "The token
/// endpoint contract"). Always false.
pub fn dummy_verify(presented: &ClientSecret) -> bool {
    let hash = hash_secret(presented);
    let hit = std::hint::black_box(&hash).ct_eq(std::hint::black_box(&DUMMY_HASH));
    // Even a presented secret that hashed to the dummy value is refused.
    bool::from(hit & Choice::from(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(secret: &str, expires_at: Option<u64>) -> StoredSecret {
        stored_secret(&ClientSecret::new(secret), 0, expires_at)
    }

    #[test]
    fn generated_secret_has_prefix_and_256_bits() {
        let s = generate_secret();
        let body = s.expose().strip_prefix(SECRET_PREFIX).unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(body).unwrap().len(), 32);
        assert_ne!(generate_secret(), s);
    }

    #[test]
    fn generated_secret_debug_redacted() {
        let s = generate_secret();
        assert!(!format!("{s:?}").contains(s.expose()));
        let rec = stored_secret(&s, 1, None);
        assert!(!format!("{rec:?}").contains(&format!("{:?}", rec.hash)));
    }

    #[test]
    fn secret_id_short_and_unique() {
        let a = new_secret_id();
        assert!(a.as_str().starts_with(SECRET_ID_PREFIX));
        assert_eq!(a.as_str().len(), SECRET_ID_PREFIX.len() + 11);
        assert_ne!(a, new_secret_id());
    }

    #[test]
    fn hash_is_sha256_of_utf8() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        let h = hash_secret(&ClientSecret::new("abc"));
        assert_eq!(
            h[..4],
            [0xba, 0x78, 0x16, 0xbf],
            "SHA-256(abc) starts ba7816bf"
        );
    }

    #[test]
    fn matching_secret_verifies() {
        let secrets = [stored("old", None), stored("new", None)];
        let hit = verify_secret(&ClientSecret::new("new"), &secrets, 10).unwrap();
        assert_eq!(hit.id, secrets[1].id);
        let hit = verify_secret(&ClientSecret::new("old"), &secrets, 10).unwrap();
        assert_eq!(hit.id, secrets[0].id);
    }

    #[test]
    fn wrong_secret_rejected() {
        let secrets = [stored("right", None)];
        assert!(verify_secret(&ClientSecret::new("wrong"), &secrets, 10).is_none());
        assert!(verify_secret(&ClientSecret::new(""), &secrets, 10).is_none());
    }

    #[test]
    fn no_stored_secrets_rejected() {
        assert!(verify_secret(&ClientSecret::new("x"), &[], 10).is_none());
    }

    #[test]
    fn expired_secret_rejected() {
        let secrets = [stored("s", Some(100))];
        assert!(verify_secret(&ClientSecret::new("s"), &secrets, 99).is_some());
        assert!(verify_secret(&ClientSecret::new("s"), &secrets, 100).is_none());
        assert!(verify_secret(&ClientSecret::new("s"), &secrets, 101).is_none());
    }

    #[test]
    fn expired_duplicate_skipped_for_unexpired() {
        // The same secret stored twice, once expired: the live record is returned.
        let secrets = [stored("s", Some(5)), stored("s", None)];
        let hit = verify_secret(&ClientSecret::new("s"), &secrets, 10).unwrap();
        assert_eq!(hit.id, secrets[1].id);
    }

    #[test]
    fn dummy_verify_always_false() {
        assert!(!dummy_verify(&ClientSecret::new("anything")));
        assert!(!dummy_verify(&generate_secret()));
    }
}
