//! The token reuse cache item (issue 8) beside DESIGN.md's directory items:
//!
//! | item | PK | SK | attributes |
//! |---|---|---|---|
//! | reusable token | `CACHE#<client_id>` | `TOKEN#<base64url(SHA-256(reuse key))>` | token, scope, iat, exp, fp, ttl |
//!
//! `ttl` (= the token's `exp`) lets DynamoDB delete it once expired; deletion happens
//! some time later, so the reader checks `exp` itself. The item has no `kind`, so it
//! stays out of the `ByKind` index (no index write per cached token). Attribute names
//! are short and the fingerprint binary so an RS256 token's item stays near 1 KB
//! (one write unit per KB).
//!
//! The item holds a live bearer token: it is never logged, and decoding errors name
//! the attribute only.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use m2m_core::reuse::{CachedToken, Fingerprint, ReuseKey};
use m2m_core::types::ClientId;

use crate::items::{Item, ItemError, PK, SK};

/// PK prefix of reuse cache items.
pub const CACHE_PREFIX: &str = "CACHE#";
/// SK prefix of reuse cache items.
pub const TOKEN_PREFIX: &str = "TOKEN#";
/// The table's TTL attribute (template.yaml `TimeToLiveSpecification`).
pub const TTL: &str = "ttl";

const TOKEN: &str = "token";
const SCOPE: &str = "scope";
const IAT: &str = "iat";
const EXP: &str = "exp";
const FP: &str = "fp";
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

/// Encodes a cached token with `ttl` = its expiry.
pub fn reuse_to_item(client_id: &ClientId, key: &ReuseKey, token: &CachedToken) -> Item {
    let mut item = reuse_key(client_id, key);
    let n = |v: u64| AttributeValue::N(v.to_string());
    item.insert(
        TOKEN.to_owned(),
        AttributeValue::S(token.access_token.clone()),
    );
    item.insert(SCOPE.to_owned(), AttributeValue::S(token.scope.clone()));
    item.insert(IAT.to_owned(), n(token.issued_at));
    item.insert(EXP.to_owned(), n(token.expires_at));
    item.insert(TTL.to_owned(), n(token.expires_at));
    item.insert(
        FP.to_owned(),
        AttributeValue::B(Blob::new(token.fingerprint.0.to_vec())),
    );
    item
}

fn err(attribute: &str, problem: &'static str) -> ItemError {
    ItemError {
        item: ITEM,
        attribute: attribute.to_owned(),
        problem,
    }
}

fn string<'a>(item: &'a Item, name: &str) -> Result<&'a str, ItemError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        Some(_) => Err(err(name, "is not a string")),
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

/// Decodes a cached token.
///
/// # Errors
/// An [`ItemError`] when an attribute is missing, of the wrong type or inconsistent.
pub fn reuse_from_item(item: &Item) -> Result<CachedToken, ItemError> {
    let access_token = string(item, TOKEN)?;
    if access_token.is_empty() {
        return Err(err(TOKEN, "is empty"));
    }
    let fingerprint = match item.get(FP) {
        Some(AttributeValue::B(b)) => {
            Fingerprint(<[u8; 32]>::try_from(b.as_ref()).map_err(|_| err(FP, "is not 32 bytes"))?)
        }
        Some(_) => return Err(err(FP, "is not binary")),
        None => return Err(err(FP, "is missing")),
    };
    let issued_at = number(item, IAT)?;
    let expires_at = number(item, EXP)?;
    if expires_at < issued_at {
        return Err(err(EXP, "is before iat"));
    }
    Ok(CachedToken {
        access_token: access_token.to_owned(),
        scope: string(item, SCOPE)?.to_owned(),
        issued_at,
        expires_at,
        fingerprint,
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
    use m2m_core::types::Audience;

    fn token() -> CachedToken {
        CachedToken {
            access_token: "eyJhbGciOiJSUzI1NiJ9.e30.c2ln".into(),
            scope: "read:orders write:orders".into(),
            issued_at: 1_700_000_000,
            expires_at: 1_700_003_600,
            fingerprint: Fingerprint([9; 32]),
        }
    }

    fn key() -> ReuseKey {
        ReuseKey::new(&Audience::new("https://api.example.com"), None)
    }

    #[test]
    fn reuse_round_trip_equal() {
        let item = reuse_to_item(&ClientId::new("c-1"), &key(), &token());
        assert_eq!(reuse_from_item(&item).unwrap(), token());
        assert_eq!(item.get(TTL), Some(&AttributeValue::N("1700003600".into())));
        assert!(!item.contains_key(crate::items::KIND));
    }

    #[test]
    fn reuse_key_fixed_length() {
        let long = ReuseKey::new(&Audience::new("x".repeat(1000)), None);
        let item = reuse_key(&ClientId::new("c-1"), &long);
        let Some(AttributeValue::S(sk)) = item.get(SK) else {
            unreachable!()
        };
        assert_eq!(sk.len(), TOKEN_PREFIX.len() + 43);
        assert!(is_reuse_pk("CACHE#c-1") && !is_reuse_pk("CLIENT#c-1"));
    }

    #[test]
    fn reuse_missing_token_rejected() {
        let mut item = reuse_to_item(&ClientId::new("c"), &key(), &token());
        item.remove(TOKEN);
        assert_eq!(reuse_from_item(&item).unwrap_err().attribute, TOKEN);
    }

    #[test]
    fn reuse_short_fingerprint_rejected() {
        let mut item = reuse_to_item(&ClientId::new("c"), &key(), &token());
        item.insert(FP.into(), AttributeValue::B(Blob::new(vec![1; 31])));
        assert_eq!(reuse_from_item(&item).unwrap_err().attribute, FP);
    }

    #[test]
    fn reuse_exp_before_iat_rejected() {
        let mut item = reuse_to_item(&ClientId::new("c"), &key(), &token());
        item.insert(EXP.into(), AttributeValue::N("5".into()));
        assert_eq!(reuse_from_item(&item).unwrap_err().attribute, EXP);
    }

    #[test]
    fn reuse_error_never_contains_token() {
        let mut item = reuse_to_item(&ClientId::new("c"), &key(), &token());
        item.insert(IAT.into(), AttributeValue::S("x".into()));
        let e = reuse_from_item(&item).unwrap_err();
        assert!(!e.to_string().contains("eyJ"));
    }
}
