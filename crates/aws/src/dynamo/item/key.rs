//! The signing-key item: `KEY#<kid>` / `KEY`, with the key's public JWK.

use aws_sdk_dynamodb::types::AttributeValue;
use m2m_core::jwk::Jwk;
use m2m_core::model::{Alg, KeyStatus, SigningKey};
use m2m_core::types::Kid;

use super::attr::{n, s, Reader};
use super::{signing_key_key, Item, ItemError, KEY_PREFIX, KIND, KIND_KEY, PK, SK};

/// Encodes a signing key; its public JWK is stored as a JSON string.
///
/// # Errors
/// Only if the JWK cannot be serialized (it always can).
pub fn signing_key_to_item(key: &SigningKey) -> Result<Item, serde_json::Error> {
    let mut item = signing_key_key(&key.kid);
    item.insert(KIND.to_owned(), s(KIND_KEY));
    item.insert("kms_key_id".to_owned(), s(&key.kms_key_id));
    item.insert("alg".to_owned(), s(key.alg.as_str()));
    item.insert("status".to_owned(), s(key.status.as_str()));
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
    let alg = r
        .string("alg")?
        .parse::<Alg>()
        .map_err(|_| r.err("alg", "is not RS256 or ES256"))?;
    let status = r
        .string("status")?
        .parse::<KeyStatus>()
        .map_err(|_| r.err("status", "is not pending, active, retired or revoked"))?;
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
