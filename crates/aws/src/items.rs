//! Strict (de)serialization between DynamoDB items and the m2m-core model, following
//! DESIGN.md's single-table layout. A malformed item is an [`ItemError`] naming the
//! item and attribute (never a value: a value could be a secret hash), never a panic.
//!
//! | item | PK | SK | kind (GSI `ByKind`) |
//! |---|---|---|---|
//! | API | `API#<identifier>` | `API` | `API` |
//! | client | `CLIENT#<client_id>` | `CLIENT` | `CLIENT` |
//! | grant | `CLIENT#<client_id>` | `GRANT#<api identifier>` | — |
//! | signing key | `KEY#<kid>` | `KEY` | `KEY` |
//!
//! Unknown attributes are ignored (later versions may add some, e.g. a TTL); known
//! attributes must have exactly the documented type.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use m2m_core::jwk::Jwk;
use m2m_core::model::{
    Alg, Api, Client, ClientStatus, Grant, KeyStatus, Profile, Reuse, SigningKey, StoredSecret,
    DEFAULT_REUSE_MIN_REMAINING_PCT,
};
use m2m_core::types::{Audience, ClientId, Kid, OrgId, Scope, ScopeSet, SecretId};

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
/// `kind` of API items.
pub const KIND_API: &str = "API";
/// `kind` of client items.
pub const KIND_CLIENT: &str = "CLIENT";
/// `kind` of signing-key items.
pub const KIND_KEY: &str = "KEY";
/// The client item's map `{secret_id: unix seconds}` of last successful uses, written
/// by [`crate::directory::DynamoDirectory::record_secret_use`] without touching
/// `version`.
pub const LAST_USED: &str = "last_used";

/// API item: `on` or `off`, token reuse. Absent: on.
pub const REUSE: &str = "reuse";
/// API item: reuse while more than this percentage of a token's lifetime is left
/// (1..=99). Absent: 50.
pub const REUSE_PCT: &str = "reuse_min_remaining_pct";
/// API item: reuse even with a claims hook configured (boolean). Absent: false.
pub const REUSE_WITH_HOOK: &str = "reuse_with_hook";

const API_PREFIX: &str = "API#";
const CLIENT_PREFIX: &str = "CLIENT#";
const GRANT_PREFIX: &str = "GRANT#";
const KEY_PREFIX: &str = "KEY#";

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

// ---------------------------------------------------------------------------------
// Encoding.

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// Scopes as a list of strings: a DynamoDB string set cannot be empty.
fn scopes_av(scopes: &ScopeSet) -> AttributeValue {
    AttributeValue::L(scopes.iter().map(|sc| s(sc.as_str())).collect())
}

/// Encodes an API.
pub fn api_to_item(api: &Api) -> Item {
    let mut item = api_key(&api.identifier);
    item.insert(KIND.to_owned(), s(KIND_API));
    item.insert("name".to_owned(), s(&api.name));
    item.insert("scopes".to_owned(), scopes_av(&api.scopes));
    item.insert("token_lifetime".to_owned(), n(api.token_lifetime));
    let profile = match api.profile {
        Profile::Rfc9068 => "rfc9068",
        Profile::Auth0 => "auth0",
    };
    item.insert("profile".to_owned(), s(profile));
    match api.reuse {
        Reuse::Off => {
            item.insert(REUSE.to_owned(), s("off"));
        }
        Reuse::On {
            min_remaining_pct,
            with_hook,
        } => {
            item.insert(REUSE.to_owned(), s("on"));
            item.insert(REUSE_PCT.to_owned(), n(u64::from(min_remaining_pct)));
            item.insert(REUSE_WITH_HOOK.to_owned(), AttributeValue::Bool(with_hook));
        }
    }
    item
}

/// Encodes a client, its secrets (hashes as binary) and an empty or filled
/// [`LAST_USED`] map, which must exist for `SET last_used.#sid` to work.
pub fn client_to_item(client: &Client) -> Item {
    let mut item = client_key(&client.id);
    item.insert(KIND.to_owned(), s(KIND_CLIENT));
    item.insert("name".to_owned(), s(&client.name));
    if let Some(org) = &client.org_id {
        item.insert("org_id".to_owned(), s(org.as_str()));
    }
    let status = match client.status {
        ClientStatus::Active => "active",
        ClientStatus::Disabled => "disabled",
    };
    item.insert("status".to_owned(), s(status));
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
    item.insert("version".to_owned(), n(client.version));
    item
}

/// Encodes a grant.
pub fn grant_to_item(grant: &Grant) -> Item {
    let mut item = grant_key(&grant.client_id, &grant.audience);
    item.insert("scopes".to_owned(), scopes_av(&grant.scopes));
    item
}

/// Encodes a signing key; its public JWK is stored as a JSON string.
///
/// # Errors
/// Only if the JWK cannot be serialized (it always can).
pub fn signing_key_to_item(key: &SigningKey) -> Result<Item, serde_json::Error> {
    let mut item = signing_key_key(&key.kid);
    item.insert(KIND.to_owned(), s(KIND_KEY));
    item.insert("kms_key_id".to_owned(), s(&key.kms_key_id));
    item.insert("alg".to_owned(), s(key.alg.as_str()));
    item.insert("status".to_owned(), s(key_status_str(key.status)));
    item.insert(
        "public_jwk".to_owned(),
        s(serde_json::to_string(&key.public_jwk)?),
    );
    item.insert("created_at".to_owned(), n(key.created_at));
    if let Some(t) = key.activated_at {
        item.insert("activated_at".to_owned(), n(t));
    }
    if let Some(t) = key.retired_at {
        item.insert("retired_at".to_owned(), n(t));
    }
    Ok(item)
}

/// The stored form of a key status (`pending`, `active`, `retired`, `revoked`).
pub fn key_status_str(status: KeyStatus) -> &'static str {
    match status {
        KeyStatus::Pending => "pending",
        KeyStatus::Active => "active",
        KeyStatus::Retired => "retired",
        KeyStatus::Revoked => "revoked",
    }
}

// ---------------------------------------------------------------------------------
// Decoding.

/// Reads typed attributes of one item (or one nested map), reporting the path.
struct Reader<'a> {
    item: &'static str,
    path: String,
    map: &'a HashMap<String, AttributeValue>,
}

impl<'a> Reader<'a> {
    fn new(item: &'static str, map: &'a HashMap<String, AttributeValue>) -> Self {
        Self {
            item,
            path: String::new(),
            map,
        }
    }

    fn err(&self, attribute: &str, problem: &'static str) -> ItemError {
        ItemError {
            item: self.item,
            attribute: format!("{}{attribute}", self.path),
            problem,
        }
    }

    fn opt(&self, name: &str) -> Option<&'a AttributeValue> {
        match self.map.get(name) {
            // An explicit NULL reads as absent.
            Some(AttributeValue::Null(_)) | None => None,
            Some(v) => Some(v),
        }
    }

    fn req(&self, name: &str) -> Result<&'a AttributeValue, ItemError> {
        self.opt(name).ok_or_else(|| self.err(name, "is missing"))
    }

    fn string(&self, name: &str) -> Result<&'a str, ItemError> {
        match self.req(name)? {
            AttributeValue::S(v) => Ok(v),
            _ => Err(self.err(name, "is not a string")),
        }
    }

    fn opt_string(&self, name: &str) -> Result<Option<&'a str>, ItemError> {
        match self.opt(name) {
            None => Ok(None),
            Some(AttributeValue::S(v)) => Ok(Some(v)),
            Some(_) => Err(self.err(name, "is not a string")),
        }
    }

    fn number(&self, name: &str) -> Result<u64, ItemError> {
        self.opt_number(name)?
            .ok_or_else(|| self.err(name, "is missing"))
    }

    fn opt_number(&self, name: &str) -> Result<Option<u64>, ItemError> {
        match self.opt(name) {
            None => Ok(None),
            Some(AttributeValue::N(v)) => parse_u64(v)
                .map(Some)
                .ok_or_else(|| self.err(name, "is not a non-negative integer")),
            Some(_) => Err(self.err(name, "is not a number")),
        }
    }

    fn list(&self, name: &str) -> Result<&'a [AttributeValue], ItemError> {
        match self.req(name)? {
            AttributeValue::L(v) => Ok(v),
            _ => Err(self.err(name, "is not a list")),
        }
    }

    fn opt_map(
        &self,
        name: &str,
    ) -> Result<Option<&'a HashMap<String, AttributeValue>>, ItemError> {
        match self.opt(name) {
            None => Ok(None),
            Some(AttributeValue::M(v)) => Ok(Some(v)),
            Some(_) => Err(self.err(name, "is not a map")),
        }
    }

    fn scopes(&self, name: &str) -> Result<ScopeSet, ItemError> {
        let mut set = ScopeSet::new();
        for v in self.list(name)? {
            let AttributeValue::S(token) = v else {
                return Err(self.err(name, "holds a non-string scope"));
            };
            // A stored scope must itself be a valid single scope token (RFC 6749 §3.3).
            match ScopeSet::parse(token) {
                Some(one) if one.len() == 1 => set.insert(Scope::new(token.as_str())),
                _ => return Err(self.err(name, "holds an invalid scope token")),
            }
        }
        Ok(set)
    }

    /// Checks `kind` when present; an item read by primary key may predate it.
    fn kind(&self, expected: &str) -> Result<(), ItemError> {
        match self.opt_string(KIND)? {
            Some(k) if k != expected => Err(self.err(KIND, "does not match the item type")),
            _ => Ok(()),
        }
    }

    /// The suffix of `attr` after `prefix`, non-empty.
    fn suffix(&self, attr: &str, prefix: &str) -> Result<&'a str, ItemError> {
        match self.string(attr)?.strip_prefix(prefix) {
            Some(rest) if !rest.is_empty() => Ok(rest),
            _ => Err(self.err(attr, "does not have the expected prefix")),
        }
    }

    fn exact(&self, attr: &str, expected: &str) -> Result<(), ItemError> {
        if self.string(attr)? == expected {
            Ok(())
        } else {
            Err(self.err(attr, "does not match the item type"))
        }
    }
}

/// DynamoDB numbers are decimal strings; ours are whole non-negative seconds or counts.
fn parse_u64(v: &str) -> Option<u64> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// Decodes an API item.
///
/// # Errors
/// An [`ItemError`] when an attribute is missing, of the wrong type or out of range.
pub fn api_from_item(item: &Item) -> Result<Api, ItemError> {
    let r = Reader::new("API", item);
    r.exact(SK, "API")?;
    r.kind(KIND_API)?;
    let identifier = Audience::new(r.suffix(PK, API_PREFIX)?);
    let profile = match r.opt_string("profile")? {
        None | Some("rfc9068") => Profile::Rfc9068,
        Some("auth0") => Profile::Auth0,
        Some(_) => return Err(r.err("profile", "is not rfc9068 or auth0")),
    };
    let reuse = match r.opt_string(REUSE)? {
        Some("off") => Reuse::Off,
        None | Some("on") => {
            let pct = match r.opt_number(REUSE_PCT)? {
                None => DEFAULT_REUSE_MIN_REMAINING_PCT,
                Some(p @ 1..=99) => p as u8,
                Some(_) => return Err(r.err(REUSE_PCT, "is not between 1 and 99")),
            };
            let with_hook = match r.opt(REUSE_WITH_HOOK) {
                None => false,
                Some(AttributeValue::Bool(b)) => *b,
                Some(_) => return Err(r.err(REUSE_WITH_HOOK, "is not a boolean")),
            };
            Reuse::On {
                min_remaining_pct: pct,
                with_hook,
            }
        }
        Some(_) => return Err(r.err(REUSE, "is not on or off")),
    };
    Ok(Api {
        identifier,
        name: r.string("name")?.to_owned(),
        scopes: r.scopes("scopes")?,
        token_lifetime: r.number("token_lifetime")?,
        profile,
        reuse,
    })
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
    let status = match r.string("status")? {
        "active" => ClientStatus::Active,
        "disabled" => ClientStatus::Disabled,
        _ => return Err(r.err("status", "is not active or disabled")),
    };
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
    Ok(Client {
        id,
        name: r.string("name")?.to_owned(),
        org_id: r.opt_string("org_id")?.map(OrgId::new),
        status,
        metadata,
        secrets,
        version: r.number("version")?,
    })
}

/// Decodes a grant item.
///
/// # Errors
/// An [`ItemError`] when an attribute is missing or of the wrong type.
pub fn grant_from_item(item: &Item) -> Result<Grant, ItemError> {
    let r = Reader::new("grant", item);
    Ok(Grant {
        client_id: ClientId::new(r.suffix(PK, CLIENT_PREFIX)?),
        audience: Audience::new(r.suffix(SK, GRANT_PREFIX)?),
        scopes: r.scopes("scopes")?,
    })
}

/// Decodes a signing-key item. The public JWK may be a JSON string (as written by
/// [`signing_key_to_item`]) or a map of strings.
///
/// # Errors
/// An [`ItemError`] when an attribute is missing, of the wrong type or inconsistent.
pub fn signing_key_from_item(item: &Item) -> Result<SigningKey, ItemError> {
    let r = Reader::new("signing key", item);
    r.exact(SK, "KEY")?;
    r.kind(KIND_KEY)?;
    let kid = Kid::new(r.suffix(PK, KEY_PREFIX)?);
    let alg = Alg::parse(r.string("alg")?).ok_or_else(|| r.err("alg", "is not RS256 or ES256"))?;
    let status = match r.string("status")? {
        "pending" => KeyStatus::Pending,
        "active" => KeyStatus::Active,
        "retired" => KeyStatus::Retired,
        "revoked" => KeyStatus::Revoked,
        _ => return Err(r.err("status", "is not pending, active, retired or revoked")),
    };
    let public_jwk: Jwk = match r.req("public_jwk")? {
        AttributeValue::S(json) => {
            serde_json::from_str(json).map_err(|_| r.err("public_jwk", "is not a JWK in JSON"))?
        }
        AttributeValue::M(m) => {
            let mut obj = serde_json::Map::new();
            for (k, v) in m {
                let AttributeValue::S(v) = v else {
                    return Err(r.err("public_jwk", "holds a non-string member"));
                };
                obj.insert(k.clone(), serde_json::Value::String(v.clone()));
            }
            serde_json::from_value(serde_json::Value::Object(obj))
                .map_err(|_| r.err("public_jwk", "is not a JWK"))?
        }
        _ => return Err(r.err("public_jwk", "is not a string or map")),
    };
    if public_jwk.kid.as_ref().is_some_and(|k| *k != kid) {
        return Err(r.err("public_jwk", "has a kid other than the item's"));
    }
    let kms_key_id = r.string("kms_key_id")?;
    if kms_key_id.is_empty() {
        return Err(r.err("kms_key_id", "is empty"));
    }
    Ok(SigningKey {
        kid,
        kms_key_id: kms_key_id.to_owned(),
        alg,
        status,
        public_jwk,
        created_at: r.number("created_at")?,
        activated_at: r.opt_number("activated_at")?,
        retired_at: r.opt_number("retired_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> Api {
        Api {
            identifier: Audience::new("https://api.example.com/v1"),
            name: "Orders".into(),
            scopes: ScopeSet::parse("orders:read orders:write").unwrap(),
            token_lifetime: 900,
            profile: Profile::Auth0,
            reuse: Reuse::default(),
        }
    }

    fn client() -> Client {
        Client {
            id: ClientId::new("c-123"),
            name: "Acme backend".into(),
            org_id: Some(OrgId::new("org_acme")),
            status: ClientStatus::Active,
            metadata: BTreeMap::from([("tier".to_owned(), "gold".to_owned())]),
            secrets: vec![
                StoredSecret {
                    id: SecretId::new("s1"),
                    hash: [7; 32],
                    created_at: 1_700_000_000,
                    expires_at: Some(1_800_000_000),
                    last_used_at: Some(1_700_000_500),
                },
                StoredSecret {
                    id: SecretId::new("s2"),
                    hash: [0; 32],
                    created_at: 1_700_000_100,
                    expires_at: None,
                    last_used_at: None,
                },
            ],
            version: 4,
        }
    }

    fn grant() -> Grant {
        Grant {
            client_id: ClientId::new("c-123"),
            audience: Audience::new("https://api.example.com/v1"),
            scopes: ScopeSet::parse("orders:read").unwrap(),
        }
    }

    fn signing_key() -> SigningKey {
        SigningKey {
            kid: Kid::new("abc"),
            kms_key_id: "arn:aws:kms:us-east-1:123456789012:key/1".into(),
            alg: Alg::ES256,
            status: KeyStatus::Active,
            public_jwk: Jwk {
                kty: "EC".into(),
                kid: Some(Kid::new("abc")),
                use_: Some("sig".into()),
                alg: Some("ES256".into()),
                n: None,
                e: None,
                crv: Some("P-256".into()),
                x: Some("eA".into()),
                y: Some("eQ".into()),
            },
            created_at: 1,
            activated_at: Some(2),
            retired_at: None,
        }
    }

    #[test]
    fn api_round_trip_equal() {
        assert_eq!(api_from_item(&api_to_item(&api())).unwrap(), api());
    }

    #[test]
    fn api_reuse_settings_round_trip_equal() {
        for reuse in [
            Reuse::Off,
            Reuse::On {
                min_remaining_pct: 90,
                with_hook: true,
            },
        ] {
            let a = Api { reuse, ..api() };
            assert_eq!(api_from_item(&api_to_item(&a)).unwrap(), a);
        }
    }

    #[test]
    fn api_without_reuse_attributes_default_on() {
        let mut item = api_to_item(&api());
        for k in [REUSE, REUSE_PCT, REUSE_WITH_HOOK] {
            item.remove(k);
        }
        assert_eq!(api_from_item(&item).unwrap().reuse, Reuse::default());
    }

    #[test]
    fn api_bad_reuse_rejected() {
        let mut item = api_to_item(&api());
        item.insert(REUSE_PCT.into(), n(100));
        assert_eq!(api_from_item(&item).unwrap_err().attribute, REUSE_PCT);
        let mut item = api_to_item(&api());
        item.insert(REUSE.into(), s("sometimes"));
        assert_eq!(api_from_item(&item).unwrap_err().attribute, REUSE);
        let mut item = api_to_item(&api());
        item.insert(REUSE_WITH_HOOK.into(), s("yes"));
        assert_eq!(api_from_item(&item).unwrap_err().attribute, REUSE_WITH_HOOK);
    }

    #[test]
    fn api_empty_scopes_round_trip_equal() {
        let mut a = api();
        a.scopes = ScopeSet::new();
        assert_eq!(api_from_item(&api_to_item(&a)).unwrap(), a);
    }

    #[test]
    fn client_round_trip_equal() {
        let item = client_to_item(&client());
        assert!(matches!(item.get(LAST_USED), Some(AttributeValue::M(m)) if m.len() == 1));
        assert_eq!(client_from_item(&item).unwrap(), client());
    }

    #[test]
    fn client_without_org_round_trip_equal() {
        let mut c = client();
        c.org_id = None;
        c.metadata.clear();
        c.secrets.clear();
        c.status = ClientStatus::Disabled;
        assert_eq!(client_from_item(&client_to_item(&c)).unwrap(), c);
    }

    #[test]
    fn client_last_used_map_merged() {
        let mut item = client_to_item(&client());
        item.insert(
            LAST_USED.to_owned(),
            AttributeValue::M(HashMap::from([
                ("s1".to_owned(), n(1_700_009_999)),
                ("s2".to_owned(), n(1_700_000_200)),
                ("gone".to_owned(), n(5)),
            ])),
        );
        let c = client_from_item(&item).unwrap();
        assert_eq!(c.secrets[0].last_used_at, Some(1_700_009_999));
        assert_eq!(c.secrets[1].last_used_at, Some(1_700_000_200));
    }

    #[test]
    fn client_without_last_used_map_decoded() {
        let mut item = client_to_item(&client());
        item.remove(LAST_USED);
        assert_eq!(client_from_item(&item).unwrap(), client());
    }

    #[test]
    fn grant_round_trip_equal() {
        assert_eq!(grant_from_item(&grant_to_item(&grant())).unwrap(), grant());
    }

    #[test]
    fn signing_key_round_trip_equal() {
        let item = signing_key_to_item(&signing_key()).unwrap();
        assert_eq!(signing_key_from_item(&item).unwrap(), signing_key());
    }

    #[test]
    fn signing_key_jwk_map_decoded() {
        let mut item = signing_key_to_item(&signing_key()).unwrap();
        item.insert(
            "public_jwk".to_owned(),
            AttributeValue::M(HashMap::from([
                ("kty".to_owned(), s("EC")),
                ("kid".to_owned(), s("abc")),
                ("use".to_owned(), s("sig")),
                ("alg".to_owned(), s("ES256")),
                ("crv".to_owned(), s("P-256")),
                ("x".to_owned(), s("eA")),
                ("y".to_owned(), s("eQ")),
            ])),
        );
        assert_eq!(signing_key_from_item(&item).unwrap(), signing_key());
    }

    fn client_err(mutate: impl FnOnce(&mut Item)) -> ItemError {
        let mut item = client_to_item(&client());
        mutate(&mut item);
        client_from_item(&item).unwrap_err()
    }

    #[test]
    fn client_missing_name_rejected() {
        let e = client_err(|i| {
            i.remove("name");
        });
        assert_eq!(e.attribute, "name");
        assert_eq!(e.problem, "is missing");
    }

    #[test]
    fn client_short_hash_rejected() {
        let e = client_err(|i| {
            let AttributeValue::L(l) = i.get_mut("secrets").unwrap() else {
                unreachable!()
            };
            let AttributeValue::M(m) = &mut l[1] else {
                unreachable!()
            };
            m.insert("hash".into(), AttributeValue::B(Blob::new(vec![1, 2, 3])));
        });
        assert_eq!(e.attribute, "secrets[1].hash");
    }

    #[test]
    fn client_string_hash_rejected() {
        let e = client_err(|i| {
            let AttributeValue::L(l) = i.get_mut("secrets").unwrap() else {
                unreachable!()
            };
            let AttributeValue::M(m) = &mut l[0] else {
                unreachable!()
            };
            m.insert("hash".into(), s("deadbeef"));
        });
        assert_eq!(e.attribute, "secrets[0].hash");
        assert_eq!(e.problem, "is not binary");
    }

    #[test]
    fn client_bad_status_rejected() {
        let e = client_err(|i| {
            i.insert("status".into(), s("Active"));
        });
        assert_eq!(e.attribute, "status");
    }

    #[test]
    fn client_negative_version_rejected() {
        for bad in ["-1", "1.5", "1e3", "", "99999999999999999999999"] {
            let e = client_err(|i| {
                i.insert("version".into(), AttributeValue::N(bad.into()));
            });
            assert_eq!(e.attribute, "version", "{bad}");
        }
    }

    #[test]
    fn client_secrets_not_list_rejected() {
        let e = client_err(|i| {
            i.insert("secrets".into(), AttributeValue::Ss(vec!["x".into()]));
        });
        assert_eq!(e.attribute, "secrets");
    }

    #[test]
    fn client_metadata_number_rejected() {
        let e = client_err(|i| {
            i.insert(
                "metadata".into(),
                AttributeValue::M(HashMap::from([("k".to_owned(), n(1))])),
            );
        });
        assert_eq!(e.attribute, "metadata");
    }

    #[test]
    fn client_wrong_kind_rejected() {
        let e = client_err(|i| {
            i.insert(KIND.into(), s(KIND_KEY));
        });
        assert_eq!(e.attribute, KIND);
    }

    #[test]
    fn client_bad_pk_rejected() {
        let e = client_err(|i| {
            i.insert(PK.into(), s("CLIENT#"));
        });
        assert_eq!(e.attribute, PK);
    }

    #[test]
    fn item_error_never_contains_hash() {
        let e = client_err(|i| {
            let AttributeValue::L(l) = i.get_mut("secrets").unwrap() else {
                unreachable!()
            };
            let AttributeValue::M(m) = &mut l[0] else {
                unreachable!()
            };
            m.insert("hash".into(), AttributeValue::B(Blob::new(vec![0xAB; 31])));
        });
        assert_eq!(
            e.to_string(),
            "malformed client item: attribute `secrets[0].hash` is not 32 bytes"
        );
    }

    #[test]
    fn api_bad_profile_rejected() {
        let mut item = api_to_item(&api());
        item.insert("profile".into(), s("oidc"));
        assert_eq!(api_from_item(&item).unwrap_err().attribute, "profile");
    }

    #[test]
    fn api_invalid_scope_rejected() {
        let mut item = api_to_item(&api());
        item.insert("scopes".into(), AttributeValue::L(vec![s("a b")]));
        assert_eq!(api_from_item(&item).unwrap_err().attribute, "scopes");
        item.insert("scopes".into(), AttributeValue::L(vec![n(1)]));
        assert_eq!(api_from_item(&item).unwrap_err().attribute, "scopes");
    }

    #[test]
    fn api_string_lifetime_rejected() {
        let mut item = api_to_item(&api());
        item.insert("token_lifetime".into(), s("900"));
        assert_eq!(
            api_from_item(&item).unwrap_err().attribute,
            "token_lifetime"
        );
    }

    #[test]
    fn grant_missing_scopes_rejected() {
        let mut item = grant_to_item(&grant());
        item.remove("scopes");
        assert_eq!(grant_from_item(&item).unwrap_err().attribute, "scopes");
    }

    #[test]
    fn grant_bad_sk_rejected() {
        let mut item = grant_to_item(&grant());
        item.insert(SK.into(), s("CLIENT"));
        assert_eq!(grant_from_item(&item).unwrap_err().attribute, SK);
    }

    #[test]
    fn signing_key_bad_alg_rejected() {
        let mut item = signing_key_to_item(&signing_key()).unwrap();
        item.insert("alg".into(), s("PS256"));
        assert_eq!(signing_key_from_item(&item).unwrap_err().attribute, "alg");
    }

    #[test]
    fn signing_key_bad_jwk_rejected() {
        let mut item = signing_key_to_item(&signing_key()).unwrap();
        item.insert("public_jwk".into(), s("{not json"));
        assert_eq!(
            signing_key_from_item(&item).unwrap_err().attribute,
            "public_jwk"
        );
        item.insert("public_jwk".into(), n(3));
        assert_eq!(
            signing_key_from_item(&item).unwrap_err().attribute,
            "public_jwk"
        );
    }

    #[test]
    fn signing_key_mismatched_kid_rejected() {
        let mut k = signing_key();
        k.public_jwk.kid = Some(Kid::new("other"));
        let item = signing_key_to_item(&k).unwrap();
        assert_eq!(
            signing_key_from_item(&item).unwrap_err().attribute,
            "public_jwk"
        );
    }

    #[test]
    fn signing_key_revoked_round_trip_equal() {
        let mut k = signing_key();
        k.status = KeyStatus::Revoked;
        let item = signing_key_to_item(&k).unwrap();
        assert_eq!(item.get("status"), Some(&s("revoked")));
        assert_eq!(signing_key_from_item(&item).unwrap(), k);
    }

    #[test]
    fn signing_key_bad_status_rejected() {
        let mut item = signing_key_to_item(&signing_key()).unwrap();
        item.insert("status".into(), s("enabled"));
        assert_eq!(
            signing_key_from_item(&item).unwrap_err().attribute,
            "status"
        );
    }

    #[test]
    fn null_attribute_is_absent() {
        let mut item = client_to_item(&client());
        item.insert("org_id".into(), AttributeValue::Null(true));
        assert_eq!(client_from_item(&item).unwrap().org_id, None);
    }
}
