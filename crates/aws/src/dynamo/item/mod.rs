//! Strict (de)serialization between DynamoDB items and the m2m-core model, following
//! DESIGN.md's single-table layout. A malformed item is an [`ItemError`] naming the
//! item and attribute (never a value: a value could be a secret hash), never a panic.
//!
//! | item | PK | SK | kind (GSI `ByKind`) | org_id (GSI `ByOrg`) |
//! |---|---|---|---|---|
//! | API | `API#<identifier>` | `API` | `API` | — |
//! | client | `CLIENT#<client_id>` | `CLIENT` | `CLIENT` | its organization, if any |
//! | grant | `CLIENT#<client_id>` | `GRANT#<api identifier>` | — | — |
//! | trust rule | `CLIENT#<client_id>` | `TRUST#<issuer digest>#<rule id>` | `TRUST_RULE` ([`trust`]) | — |
//! | assertion `jti` | `JTI#<digest>` | `JTI` | — ([`jti`]) | — |
//! | signing key | `KEY#<kid>` | `KEY` | `KEY` | — |
//! | reusable token | `CACHE#<client_id>` | `TOKEN#<slot>` | — ([`reuse`]) | — |
//! | idempotency record | `IDEMPOTENCY#<key hash>` | `IDEMPOTENCY` | — ([`idempotency`]) | — |
//! | revocation (RFC 7009) | `REVOCATION` | `CLIENT#<client_id>` or `JTI#<jti digest>` | `REVOCATION` ([`revocation`]) | — |
//! | organization record | `ORG#<org_id>` | `ORG` | — ([`org`]) | — |
//! | quota counter, usage count | `QUOTA#…`, `USAGE#…` | window or hour | — ([`quota`]) | — |
//!
//! One file per item kind; [`attr`] holds the attribute helpers they share.
//!
//! Unknown attributes are ignored (later versions may add some, e.g. a TTL); known
//! attributes must have exactly the documented type.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use m2m_core::types::{Audience, ClientId, Kid};

mod api;
pub(crate) mod attr;
pub mod client;
mod grant;
pub mod idempotency;
pub mod jti;
mod key;
pub mod org;
pub mod quota;
pub mod reuse;
pub mod revocation;
#[cfg(test)]
mod tests;
pub mod trust;

pub use api::{api_from_item, api_to_item};
pub use client::{client_from_item, client_to_item, OPTIONAL_ATTRIBUTES};
pub use grant::{grant_from_item, grant_to_item};
pub use key::{signing_key_from_item, signing_key_to_item};
pub use trust::{trust_rule_from_item, trust_rule_to_item};

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// Partition key attribute.
pub const PK: &str = "PK";
/// Sort key attribute.
pub const SK: &str = "SK";
/// Item kind attribute: the hash key of the [`BY_KIND_INDEX`].
pub const KIND: &str = "kind";
/// The global secondary index (hash `kind`, range `PK`, all attributes projected) that
/// lists items of one kind with a `Query` rather than a `Scan`.
pub const BY_KIND_INDEX: &str = "ByKind";
/// The client item's organization attribute: the hash key of the [`BY_ORG_INDEX`].
/// Absent on clients without an organization (an index key attribute can be neither
/// NULL nor an empty string) and on every other item, so only clients of an
/// organization are in that index.
pub const ORG_ID: &str = "org_id";
/// The global secondary index (hash `org_id`, range `PK`, all attributes projected)
/// that lists one organization's clients with a `Query`.
pub const BY_ORG_INDEX: &str = "ByOrg";
/// `kind` of API items.
pub const KIND_API: &str = "API";
/// `kind` of client items.
pub const KIND_CLIENT: &str = "CLIENT";
/// `kind` of signing-key items.
pub const KIND_KEY: &str = "KEY";
/// `kind` of trust-rule items.
pub const KIND_TRUST_RULE: &str = "TRUST_RULE";
/// The client item's map `{secret_id: unix seconds}` of last successful uses, written
/// by [`crate::dynamo::DynamoDirectory::record_secret_use`] without touching
/// `version`.
pub const LAST_USED: &str = "last_used";
/// The client item's list of registered public keys (RFC 7523 §2.2): maps of `kid`,
/// `jwk` (the public JWK as JSON text, RFC 7517 §4), `added_at` and optional
/// `expires_at`. Absent on items written before keys existed: no keys.
pub const KEYS: &str = "keys";
/// The client item's `jwks_uri` (OpenID Connect Core §9), a string; absent when none.
pub const JWKS_URI: &str = "jwks_uri";

/// API item: `on` or `off`, token reuse. Absent: on.
pub const REUSE: &str = "reuse";
/// API item: reuse while more than this percentage of a token's lifetime is left
/// (1..=99). Absent: 50.
pub const REUSE_PCT: &str = "reuse_min_remaining_pct";
/// API item: reuse even with a claims hook configured (boolean). Absent: false.
pub const REUSE_WITH_HOOK: &str = "reuse_with_hook";

pub(crate) const API_PREFIX: &str = "API#";
pub(crate) const CLIENT_PREFIX: &str = "CLIENT#";
pub(crate) const GRANT_PREFIX: &str = "GRANT#";
pub(crate) const KEY_PREFIX: &str = "KEY#";
pub(crate) const TRUST_PREFIX: &str = "TRUST#";

/// A malformed item. Names the item kind and the attribute; never carries a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {item} item: attribute `{attribute}` {problem}")]
pub struct ItemError {
    /// `API`, `client`, `grant` or `signing key`.
    pub item: &'static str,
    /// The attribute at fault (a dotted path inside maps and lists).
    pub attribute: String,
    /// What is wrong.
    pub problem: &'static str,
}

/// The primary key of an API item.
pub fn api_key(identifier: &Audience) -> Item {
    key(format!("{API_PREFIX}{identifier}"), "API".to_owned())
}

/// The primary key of a client item.
pub fn client_key(client_id: &ClientId) -> Item {
    key(format!("{CLIENT_PREFIX}{client_id}"), "CLIENT".to_owned())
}

/// The primary key of a grant item.
pub fn grant_key(client_id: &ClientId, audience: &Audience) -> Item {
    key(
        format!("{CLIENT_PREFIX}{client_id}"),
        format!("{GRANT_PREFIX}{audience}"),
    )
}

/// The primary key of a signing-key item.
pub fn signing_key_key(kid: &Kid) -> Item {
    key(format!("{KEY_PREFIX}{kid}"), "KEY".to_owned())
}

fn key(pk: String, sk: String) -> Item {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(pk)),
        (SK.to_owned(), AttributeValue::S(sk)),
    ])
}

/// The `(PK, SK)` strings of an item, if present.
pub fn item_key(item: &Item) -> Option<(&str, &str)> {
    match (item.get(PK), item.get(SK)) {
        (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => Some((pk, sk)),
        _ => None,
    }
}
