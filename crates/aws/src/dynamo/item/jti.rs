//! The record of a client assertion's `jti` (RFC 7523 §3 item 7: the authorization
//! server may refuse a JWT it has already seen):
//!
//! | item | PK | SK | attributes |
//! |---|---|---|---|
//! | assertion `jti` | `JTI#<digest>` | `JTI` | ttl |
//!
//! `<digest>` is the unpadded base64url SHA-256 of the client id, a newline and the
//! `jti`: fixed length whatever the caller sent, and one partition per record, so
//! concurrent claims of different `jti`s never contend. `ttl` (= the assertion's `exp`)
//! lets DynamoDB delete the record once the assertion could no longer be accepted
//! anyway. The item has no `kind` and no `org_id`, so it stays out of both indexes.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use m2m_core::types::ClientId;
use sha2::{Digest as _, Sha256};

use super::attr::{n, s};
use super::reuse::TTL;
use super::{Item, PK, SK};

/// PK prefix of `jti` records.
pub const JTI_PREFIX: &str = "JTI#";
/// SK of `jti` records.
pub const JTI_SK: &str = "JTI";

/// The primary key of the record of `jti` presented by `client_id`.
pub fn jti_key(client_id: &ClientId, jti: &str) -> Item {
    let mut h = Sha256::new();
    h.update(client_id.as_str().as_bytes());
    h.update(b"\n");
    h.update(jti.as_bytes());
    HashMap::from([
        (
            PK.to_owned(),
            s(format!(
                "{JTI_PREFIX}{}",
                URL_SAFE_NO_PAD.encode(h.finalize())
            )),
        ),
        (SK.to_owned(), s(JTI_SK)),
    ])
}

/// The record of `jti` presented by `client_id`, kept until `expires_at`.
pub fn jti_to_item(client_id: &ClientId, jti: &str, expires_at: u64) -> Item {
    let mut item = jti_key(client_id, jti);
    item.insert(TTL.to_owned(), n(expires_at));
    item
}
