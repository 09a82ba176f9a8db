//! The idempotency record beside DESIGN.md's directory items: one per claimed
//! `Idempotency-Key` of a creating management call.
//!
//! | item | PK | SK | attributes |
//! |---|---|---|---|
//! | idempotency record | `IDEMPOTENCY#<key>` | `IDEMPOTENCY` | fingerprint, claimed_at, ttl, result |
//!
//! `<key>` is the hex SHA-256 of the caller's principal and key, `fingerprint` the hex
//! SHA-256 of the request, `result` (once completed) the identifier it created, never a
//! secret. `ttl` lets DynamoDB delete the record once it may be forgotten; deletion
//! happens some time later, so the claim's condition compares `ttl` itself. The item
//! has no `kind` and no `org_id`, so it stays out of both indexes, and its key prefix is
//! one the token function never reads.

use std::collections::HashMap;

use m2m_manage::{Claim, IdempotencyClaim};

use super::attr::{n, s, Reader};
use super::reuse::TTL;
use super::{Item, ItemError, PK, SK};

/// PK prefix of idempotency records.
pub const IDEMPOTENCY_PREFIX: &str = "IDEMPOTENCY#";
/// SK of idempotency records.
pub const IDEMPOTENCY_SK: &str = "IDEMPOTENCY";
/// The request's fingerprint.
pub const FINGERPRINT: &str = "fingerprint";
/// When the claim was made, Unix seconds.
pub const CLAIMED_AT: &str = "claimed_at";
/// What the completed request created.
pub const RESULT: &str = "result";

const ITEM: &str = "idempotency";

/// The primary key of the record of `key`.
pub fn idempotency_key(key: &str) -> Item {
    HashMap::from([
        (PK.to_owned(), s(format!("{IDEMPOTENCY_PREFIX}{key}"))),
        (SK.to_owned(), s(IDEMPOTENCY_SK)),
    ])
}

/// A fresh (uncompleted) record of `claim`, with `ttl` = its `expires_at`.
pub fn idempotency_to_item(claim: &IdempotencyClaim) -> Item {
    let mut item = idempotency_key(&claim.key);
    item.insert(FINGERPRINT.to_owned(), s(&claim.fingerprint));
    item.insert(CLAIMED_AT.to_owned(), n(claim.now));
    item.insert(TTL.to_owned(), n(claim.expires_at));
    item
}

/// The holder's side of a stored record: [`Claim::Held`] with its fingerprint and, once
/// completed, its result.
///
/// # Errors
/// An [`ItemError`] when the item is not an idempotency record or an attribute is
/// missing or of the wrong type.
pub fn held_from_item(item: &Item) -> Result<Claim, ItemError> {
    let r = Reader::new(ITEM, item);
    r.exact(SK, IDEMPOTENCY_SK)?;
    r.suffix(PK, IDEMPOTENCY_PREFIX)?;
    r.number(CLAIMED_AT)?;
    r.number(TTL)?;
    Ok(Claim::Held {
        fingerprint: r.string(FINGERPRINT)?.to_owned(),
        result: r.opt_string(RESULT)?.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn claim() -> IdempotencyClaim {
        IdempotencyClaim {
            key: "ab12".into(),
            fingerprint: "f00d".into(),
            now: 1_700_000_000,
            stale_before: 1_699_999_900,
            expires_at: 1_700_086_400,
        }
    }

    #[test]
    fn fresh_record_held_without_result() {
        let item = idempotency_to_item(&claim());
        assert_eq!(item.get(PK), Some(&s("IDEMPOTENCY#ab12")));
        assert_eq!(item.get(TTL), Some(&n(1_700_086_400)));
        assert!(!item.contains_key("kind") && !item.contains_key("org_id"));
        assert_eq!(
            held_from_item(&item).unwrap(),
            Claim::Held {
                fingerprint: "f00d".into(),
                result: None
            }
        );
    }

    #[test]
    fn completed_record_held_with_result() {
        let mut item = idempotency_to_item(&claim());
        item.insert(RESULT.to_owned(), s("client-1"));
        assert_eq!(
            held_from_item(&item).unwrap(),
            Claim::Held {
                fingerprint: "f00d".into(),
                result: Some("client-1".into())
            }
        );
    }

    #[test]
    fn numeric_fingerprint_malformed() {
        let mut item = idempotency_to_item(&claim());
        item.insert(FINGERPRINT.to_owned(), n(7));
        let err = held_from_item(&item).unwrap_err();
        assert_eq!(err.attribute, FINGERPRINT);
        assert_eq!(err.problem, "is not a string");
    }

    #[test]
    fn client_item_malformed() {
        let item = idempotency_key("x");
        let mut other = item.clone();
        other.insert(SK.to_owned(), s("CLIENT"));
        assert_eq!(held_from_item(&other).unwrap_err().attribute, SK);
    }
}
