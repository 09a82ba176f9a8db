//! The client listing's cursor: an index position (the string key attributes of the
//! last item handed out, or DynamoDB's `LastEvaluatedKey`) together with the filter it
//! was made for, as URL-safe base64 (RFC 4648 §5, unpadded) of a small JSON document
//! (RFC 8259). Decoding is strict: a cursor that is not exactly what [`encode`] writes
//! for this filter is [`StoreError::InvalidCursor`], never a malformed request sent to
//! DynamoDB.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use m2m_core::error::PortError;
use m2m_manage::{ClientFilter, Cursor, StoreError};
use serde::{Deserialize, Serialize};

use crate::dynamo::item::{
    Item, BY_KIND_INDEX, BY_ORG_INDEX, CLIENT_PREFIX, KIND, KIND_CLIENT, ORG_ID, PK, SK,
};

/// Longest cursor accepted: a key of two index attributes and the table's `PK`/`SK`
/// (DynamoDB caps a partition key at 2048 bytes and a sort key at 1024) fits with room.
const MAX_CURSOR_LEN: usize = 8 * 1024;

/// The index a listing reads and its hash key: `ByOrg` on `org_id = <org>` for one
/// organization, `ByKind` on `kind = CLIENT` for every client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Listing<'a> {
    /// The index name.
    pub index: &'static str,
    /// Its hash key attribute.
    pub hash_attr: &'static str,
    /// The hash key's value.
    pub hash_value: &'a str,
}

impl<'a> Listing<'a> {
    /// The listing `filter` asks for.
    pub fn of(filter: &'a ClientFilter) -> Self {
        match &filter.org {
            Some(org) => Self {
                index: BY_ORG_INDEX,
                hash_attr: ORG_ID,
                hash_value: org.as_str(),
            },
            None => Self {
                index: BY_KIND_INDEX,
                hash_attr: KIND,
                hash_value: KIND_CLIENT,
            },
        }
    }

    /// The key attributes of a position in this listing's index: its hash key and the
    /// table's key.
    fn key_attrs(&self) -> [&'static str; 3] {
        [self.hash_attr, PK, SK]
    }
}

/// The JSON document inside a cursor.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    /// The filter's organization; `null` for every client.
    org: Option<String>,
    /// The position: the index's key attributes, all strings.
    key: BTreeMap<String, String>,
}

/// The cursor continuing `filter`'s listing after the item whose key attributes
/// `position` holds (an item of the listing, or a `LastEvaluatedKey`).
///
/// # Errors
/// [`StoreError::Port`] (malformed) when a key attribute is missing or not a string:
/// DynamoDB or the table broke the index's shape.
pub(super) fn encode(filter: &ClientFilter, position: &Item) -> Result<Cursor, StoreError> {
    let listing = Listing::of(filter);
    let mut key = BTreeMap::new();
    for attr in listing.key_attrs() {
        match position.get(attr) {
            Some(AttributeValue::S(v)) => {
                key.insert(attr.to_owned(), v.clone());
            }
            _ => {
                return Err(StoreError::Port(PortError::malformed(format!(
                    "DynamoDB Query ({}): a listing position lacks the string attribute {attr}",
                    listing.index
                ))))
            }
        }
    }
    let doc = Doc {
        org: filter.org.as_ref().map(|o| o.as_str().to_owned()),
        key,
    };
    let json = serde_json::to_vec(&doc).map_err(|e| {
        StoreError::Port(PortError::malformed("encoding a listing cursor").with_source(e))
    })?;
    Ok(Cursor(URL_SAFE_NO_PAD.encode(json)))
}

/// The `ExclusiveStartKey` `cursor` holds, if it is one [`encode`] wrote for `filter`:
/// the same organization (or none), exactly the listing index's key attributes, all
/// non-empty strings, on this listing's hash key and a client item's table key.
///
/// # Errors
/// [`StoreError::InvalidCursor`] otherwise.
pub(super) fn decode(filter: &ClientFilter, cursor: &Cursor) -> Result<Item, StoreError> {
    let listing = Listing::of(filter);
    if cursor.0.len() > MAX_CURSOR_LEN {
        return Err(StoreError::InvalidCursor);
    }
    let json = URL_SAFE_NO_PAD
        .decode(&cursor.0)
        .map_err(|_| StoreError::InvalidCursor)?;
    let doc: Doc = serde_json::from_slice(&json).map_err(|_| StoreError::InvalidCursor)?;
    if doc.org.as_deref() != filter.org.as_ref().map(|o| o.as_str()) {
        return Err(StoreError::InvalidCursor);
    }
    let expected = listing.key_attrs();
    if doc.key.len() != expected.len()
        || !expected.iter().all(|a| doc.key.contains_key(*a))
        || doc.key.values().any(String::is_empty)
    {
        return Err(StoreError::InvalidCursor);
    }
    let attr = |name: &str| doc.key.get(name).map(String::as_str);
    let on_listing = attr(listing.hash_attr) == Some(listing.hash_value);
    let a_client = attr(SK) == Some(KIND_CLIENT)
        && attr(PK)
            .is_some_and(|pk| pk.len() > CLIENT_PREFIX.len() && pk.starts_with(CLIENT_PREFIX));
    if !on_listing || !a_client {
        return Err(StoreError::InvalidCursor);
    }
    Ok(doc
        .key
        .into_iter()
        .map(|(k, v)| (k, AttributeValue::S(v)))
        .collect::<HashMap<_, _>>())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use m2m_core::types::OrgId;

    use super::*;

    fn org(o: &str) -> ClientFilter {
        ClientFilter {
            org: Some(OrgId::new(o)),
        }
    }

    fn position(hash_attr: &str, hash: &str, id: &str) -> Item {
        HashMap::from([
            (hash_attr.to_owned(), AttributeValue::S(hash.to_owned())),
            (PK.to_owned(), AttributeValue::S(format!("CLIENT#{id}"))),
            (SK.to_owned(), AttributeValue::S("CLIENT".to_owned())),
            // Other attributes of a listed item stay out of the cursor.
            ("name".to_owned(), AttributeValue::S("Acme".to_owned())),
        ])
    }

    fn raw(json: &str) -> Cursor {
        Cursor(URL_SAFE_NO_PAD.encode(json))
    }

    #[test]
    fn org_cursor_round_trips() {
        let f = org("org_a");
        let c = encode(&f, &position(ORG_ID, "org_a", "c1")).unwrap();
        let key = decode(&f, &c).unwrap();
        assert_eq!(key.len(), 3);
        assert_eq!(key.get(PK), Some(&AttributeValue::S("CLIENT#c1".into())));
        assert_eq!(key.get(ORG_ID), Some(&AttributeValue::S("org_a".into())));
    }

    #[test]
    fn all_clients_cursor_round_trips() {
        let f = ClientFilter::default();
        let c = encode(&f, &position(KIND, "CLIENT", "c1")).unwrap();
        assert_eq!(
            decode(&f, &c).unwrap().get(KIND),
            Some(&AttributeValue::S("CLIENT".into()))
        );
    }

    #[test]
    fn other_filter_invalid() {
        let a = encode(&org("org_a"), &position(ORG_ID, "org_a", "c1")).unwrap();
        let all = encode(&ClientFilter::default(), &position(KIND, "CLIENT", "c1")).unwrap();
        for (filter, cursor) in [
            (org("org_b"), &a),
            (ClientFilter::default(), &a),
            (org("org_a"), &all),
            // An organization named like the kind does not make the cursors mix.
            (org("CLIENT"), &all),
        ] {
            assert!(matches!(
                decode(&filter, cursor),
                Err(StoreError::InvalidCursor)
            ));
        }
    }

    #[test]
    fn tampered_cursor_invalid() {
        let f = org("org_a");
        let good = encode(&f, &position(ORG_ID, "org_a", "c1")).unwrap();
        let cases = [
            Cursor(format!("{}!", good.0)),
            Cursor(String::new()),
            Cursor("%%%".into()),
            Cursor("A".repeat(MAX_CURSOR_LEN + 1)),
            raw("not json"),
            raw(r#"{"org":"org_a"}"#),
            // Another organization's position under this organization's filter.
            raw(r#"{"org":"org_a","key":{"org_id":"org_b","PK":"CLIENT#c1","SK":"CLIENT"}}"#),
            // Missing, extra, non-string and empty attributes.
            raw(r#"{"org":"org_a","key":{"org_id":"org_a","PK":"CLIENT#c1"}}"#),
            raw(
                r#"{"org":"org_a","key":{"org_id":"org_a","PK":"CLIENT#c1","SK":"CLIENT","x":"y"}}"#,
            ),
            raw(r#"{"org":"org_a","key":{"org_id":"org_a","PK":{"S":"CLIENT#c1"},"SK":"CLIENT"}}"#),
            raw(r#"{"org":"org_a","key":{"org_id":"org_a","PK":7,"SK":"CLIENT"}}"#),
            raw(r#"{"org":"org_a","key":{"org_id":"org_a","PK":"","SK":"CLIENT"}}"#),
            // Not a client item's key.
            raw(r#"{"org":"org_a","key":{"org_id":"org_a","PK":"API#x","SK":"API"}}"#),
            raw(r#"{"org":"org_a","key":{"org_id":"org_a","PK":"CLIENT#","SK":"CLIENT"}}"#),
            raw(r#"{"org":"org_a","key":{"org_id":"org_a","PK":"CLIENT#c","SK":"GRANT#a"}}"#),
            // Unknown fields.
            raw(r#"{"org":"org_a","key":{"org_id":"org_a","PK":"CLIENT#c1","SK":"CLIENT"},"v":1}"#),
        ];
        for c in &cases {
            match decode(&f, c) {
                Err(StoreError::InvalidCursor) => {}
                other => panic!("{c:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn position_without_string_key_malformed() {
        let mut p = position(ORG_ID, "org_a", "c1");
        p.insert(SK.to_owned(), AttributeValue::N("1".into()));
        assert!(matches!(
            encode(&org("org_a"), &p),
            Err(StoreError::Port(_))
        ));
    }
}
