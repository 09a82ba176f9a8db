//! The token reuse cache item beside DESIGN.md's directory items:
//!
//! | item | PK | SK | attributes |
//! |---|---|---|---|
//! | reusable token | `CACHE#<client_id>` | `TOKEN#<base64url(slot)>` | iat, exp, fp, n, ct, ttl |
//!
//! The slot is derived from the presented secret (HKDF-SHA256, see
//! `m2m_core::reuse`), `ct` is the AES-256-GCM ciphertext of the scope and token under
//! a key derived the same way, and `n` its nonce: a reader of the table, an export or
//! a backup holds no usable token. `ttl` (= the token's `exp`) lets DynamoDB delete it
//! once expired; deletion happens some time later, so the reader checks `exp` itself.
//! The item has no `kind`, so it stays out of the `ByKind` index (no index write per
//! cached token). Attribute names are short and binary values raw so an RS256 token's
//! item stays near 1 KB (one write unit per KB).

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use m2m_core::reuse::{Fingerprint, ReuseKey, SealedToken, NONCE_LEN};
use m2m_core::types::ClientId;

use crate::dynamo::item::attr::n;
use crate::dynamo::item::{Item, ItemError, PK, SK};

/// PK prefix of reuse cache items.
pub const CACHE_PREFIX: &str = "CACHE#";
/// SK prefix of reuse cache items.
pub const TOKEN_PREFIX: &str = "TOKEN#";
/// The table's TTL attribute (template.yaml `TimeToLiveSpecification`).
pub const TTL: &str = "ttl";

const IAT: &str = "iat";
const EXP: &str = "exp";
const FP: &str = "fp";
const NONCE: &str = "n";
const CIPHERTEXT: &str = "ct";
const ITEM: &str = "reuse cache";

/// The primary key of the cached token of `client_id` under `key`.
pub fn reuse_key(client_id: &ClientId, key: &ReuseKey) -> Item {
    HashMap::from([
        (
            PK.to_owned(),
            AttributeValue::S(format!("{CACHE_PREFIX}{client_id}")),
        ),
        (
            SK.to_owned(),
            AttributeValue::S(format!(
                "{TOKEN_PREFIX}{}",
                URL_SAFE_NO_PAD.encode(key.digest())
            )),
        ),
    ])
}

/// True when `pk` is a reuse cache item's partition key.
pub fn is_reuse_pk(pk: &str) -> bool {
    pk.starts_with(CACHE_PREFIX)
}

/// Encodes a sealed token with `ttl` = its expiry.
pub fn reuse_to_item(client_id: &ClientId, key: &ReuseKey, token: &SealedToken) -> Item {
    let mut item = reuse_key(client_id, key);
    let b = |v: &[u8]| AttributeValue::B(Blob::new(v.to_vec()));
    item.insert(IAT.to_owned(), n(token.issued_at));
    item.insert(EXP.to_owned(), n(token.expires_at));
    item.insert(TTL.to_owned(), n(token.expires_at));
    item.insert(FP.to_owned(), b(&token.fingerprint.0));
    item.insert(NONCE.to_owned(), b(&token.nonce));
    item.insert(CIPHERTEXT.to_owned(), b(&token.ciphertext));
    item
}

fn err(attribute: &str, problem: &'static str) -> ItemError {
    ItemError {
        item: ITEM,
        attribute: attribute.to_owned(),
        problem,
    }
}

fn binary<'a>(item: &'a Item, name: &str) -> Result<&'a [u8], ItemError> {
    match item.get(name) {
        Some(AttributeValue::B(b)) => Ok(b.as_ref()),
        Some(_) => Err(err(name, "is not binary")),
        None => Err(err(name, "is missing")),
    }
}

fn number(item: &Item, name: &str) -> Result<u64, ItemError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
            v.parse().map_err(|_| err(name, "is out of range"))
        }
        Some(AttributeValue::N(_)) => Err(err(name, "is not a non-negative integer")),
        Some(_) => Err(err(name, "is not a number")),
        None => Err(err(name, "is missing")),
    }
}

/// Decodes a sealed token (it is opened by the use case, with the presented secret).
///
/// # Errors
/// An [`ItemError`] when an attribute is missing, of the wrong type or inconsistent.
pub fn reuse_from_item(item: &Item) -> Result<SealedToken, ItemError> {
    let fingerprint = Fingerprint(
        <[u8; 32]>::try_from(binary(item, FP)?).map_err(|_| err(FP, "is not 32 bytes"))?,
    );
    let nonce = <[u8; NONCE_LEN]>::try_from(binary(item, NONCE)?)
        .map_err(|_| err(NONCE, "is not 12 bytes"))?;
    let ciphertext = binary(item, CIPHERTEXT)?;
    if ciphertext.is_empty() {
        return Err(err(CIPHERTEXT, "is empty"));
    }
    let issued_at = number(item, IAT)?;
    let expires_at = number(item, EXP)?;
    if expires_at < issued_at {
        return Err(err(EXP, "is before iat"));
    }
    Ok(SealedToken {
        issued_at,
        expires_at,
        fingerprint,
        nonce,
        ciphertext: ciphertext.to_vec(),
    })
}

/// The item's size as DynamoDB bills it (attribute names plus values; numbers
/// approximated by their decimal length), to check the one-write-unit estimate.
pub fn billed_size(item: &Item) -> usize {
    item.iter()
        .map(|(k, v)| {
            k.len()
                + match v {
                    AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
                    AttributeValue::B(b) => b.as_ref().len(),
                    _ => 1,
                }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use m2m_core::reuse::CachedToken;
    use m2m_core::types::{Audience, ClientSecret};

    fn token() -> CachedToken {
        CachedToken {
            access_token: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjIn0.c2ln".into(),
            scope: "read:orders write:orders".into(),
            issued_at: 1_700_000_000,
            expires_at: 1_700_003_600,
            fingerprint: Fingerprint([9; 32]),
        }
    }

    fn key() -> ReuseKey {
        ReuseKey::new(
            &ClientId::new("c-1"),
            &ClientSecret::new("m2m_sk_x"),
            &Audience::new("https://api.example.com"),
            None,
        )
    }

    fn item() -> Item {
        let sealed = key().seal(&ClientId::new("c-1"), &token()).unwrap();
        reuse_to_item(&ClientId::new("c-1"), &key(), &sealed)
    }

    #[test]
    fn reuse_round_trip_equal() {
        let item = item();
        let sealed = reuse_from_item(&item).unwrap();
        assert_eq!(key().open(&ClientId::new("c-1"), &sealed).unwrap(), token());
        assert_eq!(item.get(TTL), Some(&AttributeValue::N("1700003600".into())));
        assert!(!item.contains_key(crate::dynamo::item::KIND));
    }

    #[test]
    fn item_holds_no_token_or_scope() {
        let dump = format!("{:?}", item());
        assert!(!dump.contains("eyJ"), "{dump}");
        assert!(!dump.contains("read:orders"), "{dump}");
        for (_, v) in item() {
            if let AttributeValue::B(b) = v {
                assert!(!String::from_utf8_lossy(b.as_ref()).contains("eyJ"));
            }
        }
    }

    #[test]
    fn reuse_key_fixed_length() {
        let long = ReuseKey::new(
            &ClientId::new("c-1"),
            &ClientSecret::new("s"),
            &Audience::new("x".repeat(1000)),
            None,
        );
        let item = reuse_key(&ClientId::new("c-1"), &long);
        let Some(AttributeValue::S(sk)) = item.get(SK) else {
            unreachable!()
        };
        assert_eq!(sk.len(), TOKEN_PREFIX.len() + 43);
        assert!(is_reuse_pk("CACHE#c-1") && !is_reuse_pk("CLIENT#c-1"));
    }

    #[test]
    fn reuse_missing_ciphertext_rejected() {
        let mut item = item();
        item.remove(CIPHERTEXT);
        assert_eq!(reuse_from_item(&item).unwrap_err().attribute, CIPHERTEXT);
    }

    #[test]
    fn plaintext_item_of_older_layout_rejected() {
        // An item written before sealing (a `token` attribute, no ciphertext) is a miss.
        let mut item = item();
        item.remove(CIPHERTEXT);
        item.remove(NONCE);
        item.insert("token".into(), AttributeValue::S(token().access_token));
        assert!(reuse_from_item(&item).is_err());
    }

    #[test]
    fn reuse_short_fingerprint_rejected() {
        let mut item = item();
        item.insert(FP.into(), AttributeValue::B(Blob::new(vec![1; 31])));
        assert_eq!(reuse_from_item(&item).unwrap_err().attribute, FP);
        let mut item = self::item();
        item.insert(NONCE.into(), AttributeValue::B(Blob::new(vec![1; 11])));
        assert_eq!(reuse_from_item(&item).unwrap_err().attribute, NONCE);
    }

    #[test]
    fn reuse_exp_before_iat_rejected() {
        let mut item = item();
        item.insert(EXP.into(), AttributeValue::N("5".into()));
        assert_eq!(reuse_from_item(&item).unwrap_err().attribute, EXP);
    }
}
