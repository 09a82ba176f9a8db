//! The client item: `CLIENT#<client_id>` / `CLIENT`, with its secrets' hashes, the
//! map of their last uses, its registered public keys (`keys`, RFC 7523 §2.2) and its
//! `jwks_uri` (OpenID Connect Core §9; absent when none). Items written before keys
//! existed decode with no keys and no `jwks_uri`.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use m2m_core::model::{Client, ClientKey, ClientStatus, StoredSecret};
use m2m_core::quota::Quota;
use m2m_core::types::{ClientId, OrgId, SecretId};

use super::attr::{n, parse_u64, s, Reader};
use super::{
    client_key, Item, ItemError, CLIENT_PREFIX, JWKS_URI, KEYS, KIND, KIND_CLIENT, LAST_USED,
    ORG_ID, PK, SK,
};

/// Encodes a client, its secrets (hashes as binary) and an empty or filled
/// [`LAST_USED`] map, which must exist for `SET last_used.#sid` to work. [`ORG_ID`]
/// is present only for a client of a (non-empty) organization, [`JWKS_URI`] only for a
/// client that has one; [`KEYS`] is always a list (empty for a client without keys).
pub fn client_to_item(client: &Client) -> Item {
    let mut item = client_key(&client.id);
    item.insert(KIND.to_owned(), s(KIND_CLIENT));
    item.insert("name".to_owned(), s(&client.name));
    // No organization, or an empty one, is no attribute at all: `org_id` keys the
    // `ByOrg` index, which refuses an empty string and must not list such clients.
    if let Some(org) = client.org_id.as_ref().filter(|o| !o.as_str().is_empty()) {
        item.insert(ORG_ID.to_owned(), s(org.as_str()));
    }
    item.insert("status".to_owned(), s(client.status.as_str()));
    item.insert(
        "metadata".to_owned(),
        AttributeValue::M(
            client
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), s(v)))
                .collect(),
        ),
    );
    let mut last_used = HashMap::new();
    let secrets = client
        .secrets
        .iter()
        .map(|sec| {
            let mut m = HashMap::from([
                ("id".to_owned(), s(sec.id.as_str())),
                (
                    "hash".to_owned(),
                    AttributeValue::B(Blob::new(sec.hash.to_vec())),
                ),
                ("created_at".to_owned(), n(sec.created_at)),
            ]);
            if let Some(e) = sec.expires_at {
                m.insert("expires_at".to_owned(), n(e));
            }
            if let Some(u) = sec.last_used_at {
                m.insert("last_used_at".to_owned(), n(u));
                last_used.insert(sec.id.as_str().to_owned(), n(u));
            }
            AttributeValue::M(m)
        })
        .collect();
    item.insert("secrets".to_owned(), AttributeValue::L(secrets));
    item.insert(LAST_USED.to_owned(), AttributeValue::M(last_used));
    let keys = client
        .keys
        .iter()
        .map(|k| {
            let mut m = HashMap::from([
                ("kid".to_owned(), s(&k.kid)),
                ("jwk".to_owned(), s(&k.jwk)),
                ("added_at".to_owned(), n(k.added_at)),
            ]);
            if let Some(e) = k.expires_at {
                m.insert("expires_at".to_owned(), n(e));
            }
            AttributeValue::M(m)
        })
        .collect();
    item.insert(KEYS.to_owned(), AttributeValue::L(keys));
    if let Some(uri) = &client.jwks_uri {
        item.insert(JWKS_URI.to_owned(), s(uri));
    }
    for (name, quota) in [(QUOTA, &client.quota), (ORG_QUOTA, &client.org_quota)] {
        if let Some(q) = quota.filter(Quota::is_set) {
            item.insert(name.to_owned(), quota_to_map(&q));
        }
    }
    if let Some(t) = client.not_before {
        item.insert(NOT_BEFORE.to_owned(), n(t));
    }
    if client.revocation_epoch > 0 {
        item.insert(REVOCATION_EPOCH.to_owned(), n(client.revocation_epoch));
    }
    if client.introspect {
        item.insert(INTROSPECT.to_owned(), AttributeValue::Bool(true));
    }
    item.insert("version".to_owned(), n(client.version));
    item
}

/// The client item's attributes present only when set: a write of a client without
/// one must remove it from the stored item.
pub const OPTIONAL_ATTRIBUTES: [&str; 7] = [
    ORG_ID,
    JWKS_URI,
    QUOTA,
    ORG_QUOTA,
    NOT_BEFORE,
    REVOCATION_EPOCH,
    INTROSPECT,
];

/// The client's own quota (`{per_minute, per_day}`, each optional).
pub const QUOTA: &str = "quota";
/// Its organization's quota, copied onto each of its clients.
pub const ORG_QUOTA: &str = "org_quota";
/// Every token issued before this instant is revoked.
pub const NOT_BEFORE: &str = "not_before";
/// Present and true when the client may introspect tokens.
pub const INTROSPECT: &str = "introspect";
/// Bumped by every revocation of one of its tokens by `jti`.
pub const REVOCATION_EPOCH: &str = "revocation_epoch";

/// A quota as a map of its set bounds.
pub fn quota_to_map(q: &Quota) -> AttributeValue {
    let mut m = HashMap::new();
    if let Some(v) = q.per_minute {
        m.insert("per_minute".to_owned(), n(v));
    }
    if let Some(v) = q.per_day {
        m.insert("per_day".to_owned(), n(v));
    }
    AttributeValue::M(m)
}

/// The quota in map attribute `name`, if any (an empty map is none).
pub(super) fn quota_from(r: &Reader<'_>, name: &str) -> Result<Option<Quota>, ItemError> {
    let Some(m) = r.opt_map(name)? else {
        return Ok(None);
    };
    let qr = Reader {
        item: r.item,
        path: format!("{name}."),
        map: m,
    };
    let q = Quota {
        per_minute: qr.opt_number("per_minute")?,
        per_day: qr.opt_number("per_day")?,
    };
    Ok(Some(q).filter(Quota::is_set))
}

/// Decodes a client item, merging [`LAST_USED`] into each secret's `last_used_at`
/// (the later of the two wins).
///
/// # Errors
/// An [`ItemError`] when an attribute is missing, of the wrong type or out of range.
pub fn client_from_item(item: &Item) -> Result<Client, ItemError> {
    let r = Reader::new("client", item);
    r.exact(SK, "CLIENT")?;
    r.kind(KIND_CLIENT)?;
    let id = ClientId::new(r.suffix(PK, CLIENT_PREFIX)?);
    let status = r
        .string("status")?
        .parse::<ClientStatus>()
        .map_err(|_| r.err("status", "is not active or disabled"))?;
    let mut metadata = BTreeMap::new();
    if let Some(m) = r.opt_map("metadata")? {
        for (k, v) in m {
            let AttributeValue::S(v) = v else {
                return Err(r.err("metadata", "holds a non-string value"));
            };
            metadata.insert(k.clone(), v.clone());
        }
    }
    let mut last_used: HashMap<&str, u64> = HashMap::new();
    if let Some(m) = r.opt_map(LAST_USED)? {
        for (k, v) in m {
            match v {
                AttributeValue::N(t) => match parse_u64(t) {
                    Some(t) => {
                        last_used.insert(k.as_str(), t);
                    }
                    None => return Err(r.err(LAST_USED, "holds a malformed time")),
                },
                _ => return Err(r.err(LAST_USED, "holds a non-number")),
            }
        }
    }
    let mut secrets = Vec::new();
    for (i, v) in r.list("secrets")?.iter().enumerate() {
        let AttributeValue::M(m) = v else {
            return Err(r.err("secrets", "holds a non-map entry"));
        };
        let sr = Reader {
            item: "client",
            path: format!("secrets[{i}]."),
            map: m,
        };
        let id = SecretId::new(sr.string("id")?);
        let hash = match sr.req("hash")? {
            AttributeValue::B(b) => {
                <[u8; 32]>::try_from(b.as_ref()).map_err(|_| sr.err("hash", "is not 32 bytes"))?
            }
            _ => return Err(sr.err("hash", "is not binary")),
        };
        let recorded = last_used.get(id.as_str()).copied();
        let stored = sr.opt_number("last_used_at")?;
        secrets.push(StoredSecret {
            hash,
            created_at: sr.number("created_at")?,
            expires_at: sr.opt_number("expires_at")?,
            last_used_at: stored.max(recorded),
            id,
        });
    }
    let mut keys = Vec::new();
    if let Some(list) = r.opt_list(KEYS)? {
        for (i, v) in list.iter().enumerate() {
            let AttributeValue::M(m) = v else {
                return Err(r.err(KEYS, "holds a non-map entry"));
            };
            let kr = Reader {
                item: "client",
                path: format!("{KEYS}[{i}]."),
                map: m,
            };
            keys.push(ClientKey {
                kid: kr.string("kid")?.to_owned(),
                jwk: kr.string("jwk")?.to_owned(),
                added_at: kr.number("added_at")?,
                expires_at: kr.opt_number("expires_at")?,
            });
        }
    }
    Ok(Client {
        id,
        name: r.string("name")?.to_owned(),
        org_id: r
            .opt_string(ORG_ID)?
            .filter(|o| !o.is_empty())
            .map(OrgId::new),
        status,
        metadata,
        secrets,
        keys,
        jwks_uri: r.opt_string(JWKS_URI)?.map(str::to_owned),
        quota: quota_from(&r, QUOTA)?,
        org_quota: quota_from(&r, ORG_QUOTA)?,
        not_before: r.opt_number(NOT_BEFORE)?,
        revocation_epoch: r.opt_number(REVOCATION_EPOCH)?.unwrap_or(0),
        introspect: match r.opt(INTROSPECT) {
            None => false,
            Some(AttributeValue::Bool(b)) => *b,
            Some(_) => return Err(r.err(INTROSPECT, "is not a boolean")),
        },
        version: r.number("version")?,
    })
}
