//! Revocation entries (RFC 7009), all in one partition so a verifier reads every one
//! with a single `Query`:
//!
//! | item | PK | SK | kind | attributes |
//! |---|---|---|---|---|
//! | a client's not-before | `REVOCATION` | `CLIENT#<client_id>` | `REVOCATION` | client_id, not_before, revoked_at, ttl |
//! | a revoked token | `REVOCATION` | `JTI#<jti digest>` | `REVOCATION` | client_id, expires_at, revoked_at, ttl |
//!
//! `<jti digest>` is [`jti_digest`] (unpadded base64url SHA-256): a reader of the
//! table, an export or a backup learns which clients had tokens revoked, never a
//! token id. `ttl` is [`Revocation::keep_until`] (a client entry a day and the
//! verifiers' leeway after its `not_before`, a token entry the leeway after its `exp`):
//! DynamoDB deletes the entry some time after that, and readers skip it from then on,
//! so the partition holds at most about a day of revocations. `kind` lists the entries
//! in the `ByKind` index like the other operator-visible items; they are written
//! rarely, so the index write costs nothing that matters.

use std::collections::HashMap;

use m2m_core::revocation::{jti_digest, Revocation};
use m2m_core::types::ClientId;

use super::attr::{n, s, Reader};
use super::reuse::TTL;
use super::{Item, ItemError, KIND, PK, SK};

/// The partition key of every revocation entry.
pub const REVOCATION_PK: &str = "REVOCATION";
/// `kind` of revocation entries.
pub const KIND_REVOCATION: &str = "REVOCATION";
/// SK prefix of a client's not-before entry.
pub const CLIENT_SK_PREFIX: &str = "CLIENT#";
/// SK prefix of a revoked token's entry.
pub const JTI_SK_PREFIX: &str = "JTI#";
/// A client entry's instant: its tokens issued before it are revoked.
pub const NOT_BEFORE: &str = "not_before";
/// A token entry's `exp`.
pub const EXPIRES_AT: &str = "expires_at";
/// When the revocation was written (unix seconds), for the operator.
pub const REVOKED_AT: &str = "revoked_at";
/// The client the entry is about.
pub const CLIENT_ID: &str = "client_id";

const ITEM: &str = "revocation";

/// One stored entry, as read back: the token entry holds only the digest of its `jti`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RevocationEntry {
    /// Tokens of `client_id` issued before `not_before` are revoked.
    Client {
        /// The client.
        client_id: ClientId,
        /// The instant.
        not_before: u64,
        /// The entry's expiry (`ttl`).
        ttl: u64,
    },
    /// The token whose [`jti_digest`] is `digest` is revoked.
    Token {
        /// The `jti`'s digest.
        digest: String,
        /// The client it was issued to.
        client_id: ClientId,
        /// The token's `exp`.
        expires_at: u64,
        /// The entry's expiry (`ttl`).
        ttl: u64,
    },
}

impl RevocationEntry {
    /// The entry's expiry (`ttl`): past it, the entry revokes nothing that could still
    /// verify.
    pub fn ttl(&self) -> u64 {
        match self {
            Self::Client { ttl, .. } | Self::Token { ttl, .. } => *ttl,
        }
    }
}

/// The primary key of `revocation`'s entry: one per client, one per token.
pub fn revocation_key(revocation: &Revocation) -> Item {
    let sk = match revocation {
        Revocation::Client { client_id, .. } => format!("{CLIENT_SK_PREFIX}{client_id}"),
        Revocation::Token { jti, .. } => format!("{JTI_SK_PREFIX}{}", jti_digest(jti)),
    };
    HashMap::from([(PK.to_owned(), s(REVOCATION_PK)), (SK.to_owned(), s(sk))])
}

/// The entry of `revocation` written at `now`, with `ttl` = its
/// [`Revocation::keep_until`]. The raw `jti` is in no attribute.
pub fn revocation_to_item(revocation: &Revocation, now: u64) -> Item {
    let mut item = revocation_key(revocation);
    item.insert(KIND.to_owned(), s(KIND_REVOCATION));
    item.insert(CLIENT_ID.to_owned(), s(revocation.client_id().as_str()));
    item.insert(REVOKED_AT.to_owned(), n(now));
    item.insert(TTL.to_owned(), n(revocation.keep_until()));
    match revocation {
        Revocation::Client { not_before, .. } => {
            item.insert(NOT_BEFORE.to_owned(), n(*not_before));
        }
        Revocation::Token { expires_at, .. } => {
            item.insert(EXPIRES_AT.to_owned(), n(*expires_at));
        }
    }
    item
}

/// Decodes an entry strictly: the partition, the sort key's form, and the attributes
/// of its kind.
///
/// # Errors
/// An [`ItemError`] naming the attribute at fault (never its value).
pub fn revocation_from_item(item: &Item) -> Result<RevocationEntry, ItemError> {
    let r = Reader::new(ITEM, item);
    r.exact(PK, REVOCATION_PK)?;
    r.kind(KIND_REVOCATION)?;
    let sk = r.string(SK)?;
    let ttl = r.number(TTL)?;
    let client_id = ClientId::new(r.string(CLIENT_ID)?);
    if let Some(id) = sk.strip_prefix(CLIENT_SK_PREFIX) {
        if id != client_id.as_str() {
            return Err(r.err(CLIENT_ID, "does not match the sort key"));
        }
        Ok(RevocationEntry::Client {
            client_id,
            not_before: r.number(NOT_BEFORE)?,
            ttl,
        })
    } else if let Some(digest) = sk.strip_prefix(JTI_SK_PREFIX) {
        if !is_digest(digest) {
            return Err(r.err(SK, "does not hold a jti digest"));
        }
        Ok(RevocationEntry::Token {
            digest: digest.to_owned(),
            client_id,
            expires_at: r.number(EXPIRES_AT)?,
            ttl,
        })
    } else {
        Err(r.err(SK, "does not have the expected prefix"))
    }
}

/// The shape of a [`jti_digest`]: 43 base64url characters.
fn is_digest(v: &str) -> bool {
    v.len() == 43
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use aws_sdk_dynamodb::types::AttributeValue;
    use m2m_core::access_token::LEEWAY;
    use m2m_core::model::MAX_TOKEN_LIFETIME;

    use super::*;

    const NOW: u64 = 1_700_000_000;
    const JTI: &str = "5f1c9a2e-token-id-never-stored";

    fn client() -> Revocation {
        Revocation::Client {
            client_id: ClientId::new("client-1"),
            not_before: NOW,
        }
    }

    fn token() -> Revocation {
        Revocation::Token {
            jti: JTI.into(),
            client_id: ClientId::new("client-1"),
            expires_at: NOW + 3600,
        }
    }

    #[test]
    fn client_entry_round_trips() {
        let item = revocation_to_item(&client(), NOW);
        assert_eq!(item[PK], AttributeValue::S("REVOCATION".into()));
        assert_eq!(item[SK], AttributeValue::S("CLIENT#client-1".into()));
        assert_eq!(item[KIND], AttributeValue::S("REVOCATION".into()));
        assert_eq!(
            item[TTL],
            AttributeValue::N((NOW + MAX_TOKEN_LIFETIME + LEEWAY).to_string())
        );
        assert_eq!(
            revocation_from_item(&item).unwrap(),
            RevocationEntry::Client {
                client_id: ClientId::new("client-1"),
                not_before: NOW,
                ttl: NOW + MAX_TOKEN_LIFETIME + LEEWAY,
            }
        );
    }

    #[test]
    fn token_entry_round_trips_without_the_jti() {
        let item = revocation_to_item(&token(), NOW);
        let sk = format!("JTI#{}", jti_digest(JTI));
        assert_eq!(item[SK], AttributeValue::S(sk));
        assert_eq!(
            item[TTL],
            AttributeValue::N((NOW + 3600 + LEEWAY).to_string())
        );
        for v in item.values() {
            assert!(!format!("{v:?}").contains(JTI), "{v:?}");
        }
        assert_eq!(
            revocation_from_item(&item).unwrap(),
            RevocationEntry::Token {
                digest: jti_digest(JTI),
                client_id: ClientId::new("client-1"),
                expires_at: NOW + 3600,
                ttl: NOW + 3600 + LEEWAY,
            }
        );
        assert_eq!(revocation_key(&token())[SK], item[SK]);
    }

    #[test]
    fn malformed_entries_named() {
        type Change = Box<dyn Fn(&mut Item)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|i| drop(i.insert(PK.into(), s("CLIENT#x")))), PK),
            (Box::new(|i| drop(i.insert(SK.into(), s("OTHER#x")))), SK),
            (Box::new(|i| drop(i.insert(SK.into(), s("JTI#short")))), SK),
            (Box::new(|i| drop(i.remove(TTL))), TTL),
            (Box::new(|i| drop(i.insert(KIND.into(), s("KEY")))), KIND),
            (Box::new(|i| drop(i.remove(EXPIRES_AT))), EXPIRES_AT),
        ];
        for (change, attribute) in cases {
            let mut item = revocation_to_item(&token(), NOW);
            change(&mut item);
            assert_eq!(
                revocation_from_item(&item).unwrap_err().attribute,
                attribute
            );
        }
        let mut item = revocation_to_item(&client(), NOW);
        item.insert(CLIENT_ID.into(), s("client-2"));
        assert_eq!(
            revocation_from_item(&item).unwrap_err().attribute,
            CLIENT_ID
        );
        let mut item = revocation_to_item(&client(), NOW);
        item.insert(NOT_BEFORE.into(), s("soon"));
        assert_eq!(
            revocation_from_item(&item).unwrap_err().attribute,
            NOT_BEFORE
        );
    }
}
