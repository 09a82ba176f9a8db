//! `/clients/{id}/keys` and `/clients/{id}/jwks-uri`: a client's own public keys for
//! `private_key_jwt` (RFC 7523 §2.2) — registered, listed, expired and removed — or the
//! URL where it publishes them (OpenID Connect Core §9), never both.

use http::header::LOCATION;
use http::StatusCode;
use m2m_core::types::ClientId;
use m2m_manage::client_keys::KeyAdded;
use m2m_manage::idempotency::{once, Outcome as Once};
use m2m_manage::keys::KeyVault;
use m2m_manage::{AdminStore, ManageError, Target};
use percent_encoding::utf8_percent_encode;
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};

use super::SEGMENT;
use crate::reply::{Problem, Reply, REPLAYED};
use crate::request::{body, idempotency, if_match};
use crate::route::PREFIX;
use crate::{render, Call, Outcome};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddBody {
    /// The public JWK (RFC 7517 §4), as a JSON object.
    jwk: Value,
    /// When it stops authenticating, Unix seconds.
    expires_at: Option<u64>,
}

/// `null` or a number, and present: `{}` is refused rather than read as "never".
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Option::<u64>::deserialize(d)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpireBody {
    #[serde(deserialize_with = "present")]
    expires_at: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JwksUriBody {
    jwks_uri: String,
}

fn location(id: &str, kid: &str) -> String {
    format!(
        "{PREFIX}/clients/{}/keys/{}",
        utf8_percent_encode(id, SEGMENT),
        utf8_percent_encode(kid, SEGMENT)
    )
}

fn key_doc(id: &str, key: &m2m_core::model::ClientKey, now: u64) -> Value {
    let mut doc = render::client_key(key, now);
    doc["client_id"] = json!(id);
    doc
}

pub(crate) async fn list<S: AdminStore, V: KeyVault>(call: &Call<'_, S, V>, id: &str) -> Outcome {
    let client = call.app.operator.client_keys(&ClientId::new(id)).await?;
    Ok(Reply::ok(json!({
        "client_id": id,
        "jwks_uri": client.jwks_uri,
        "keys": client.keys.iter().map(|k| render::client_key(k, call.now)).collect::<Vec<_>>(),
    }))
    .etag(client.version))
}

pub(crate) async fn add<S: AdminStore, V: KeyVault>(call: &Call<'_, S, V>, id: &str) -> Outcome {
    let b: AddBody = body(call.req)?;
    if !b.jwk.is_object() {
        return Err(Problem::invalid(
            "jwk must be a JSON object: the public JWK (RFC 7517 §4)",
        ));
    }
    let expected = if_match(call.req)?;
    let key = idempotency(call.req, call.principal)?;
    let op = &call.app.operator;
    let client_id = ClientId::new(id);
    let jwk = b.jwk.to_string();
    let added = once(
        &op.store,
        key.as_ref(),
        call.now,
        |a: &KeyAdded| a.key.kid.clone(),
        || op.add_client_key(&client_id, &jwk, b.expires_at, call.now, expected),
    )
    .await?;
    match added {
        Once::Created(a) => {
            let mut doc = key_doc(id, &a.key, call.now);
            doc["pruned_kids"] = json!(a.pruned);
            Ok(Reply::json(StatusCode::CREATED, doc)
                .etag(a.client.version)
                .header(LOCATION, location(id, &a.key.kid))
                .target(format!("{id} {}", a.key.kid)))
        }
        Once::Replayed(kid) => {
            let client = op.client(&client_id).await?;
            let k = client.keys.iter().find(|k| k.kid == kid).ok_or_else(|| {
                Problem::from(ManageError::NotFound(Target::ClientKey(
                    client_id.clone(),
                    kid.clone(),
                )))
            })?;
            let mut doc = key_doc(id, k, call.now);
            doc["pruned_kids"] = json!([]);
            Ok(Reply::ok(doc)
                .etag(client.version)
                .header(LOCATION, location(id, &kid))
                .header(REPLAYED, "true")
                .target(format!("{id} {kid}")))
        }
    }
}

pub(crate) async fn expire<S: AdminStore, V: KeyVault>(
    call: &Call<'_, S, V>,
    id: &str,
    kid: &str,
) -> Outcome {
    let b: ExpireBody = body(call.req)?;
    let expected = if_match(call.req)?;
    let (client, key) = call
        .app
        .operator
        .set_client_key_expiry(&ClientId::new(id), kid, b.expires_at, call.now, expected)
        .await?;
    Ok(Reply::ok(key_doc(id, &key, call.now))
        .etag(client.version)
        .target(format!("{id} {kid}")))
}

pub(crate) async fn remove<S: AdminStore, V: KeyVault>(
    call: &Call<'_, S, V>,
    id: &str,
    kid: &str,
) -> Outcome {
    let expected = if_match(call.req)?;
    let (client, _) = call
        .app
        .operator
        .remove_client_key(&ClientId::new(id), kid, expected)
        .await?;
    Ok(Reply::no_content()
        .etag(client.version)
        .target(format!("{id} {kid}")))
}

pub(crate) async fn set_jwks_uri<S: AdminStore, V: KeyVault>(
    call: &Call<'_, S, V>,
    id: &str,
) -> Outcome {
    let b: JwksUriBody = body(call.req)?;
    let expected = if_match(call.req)?;
    let client = call
        .app
        .operator
        .set_jwks_uri(&ClientId::new(id), Some(&b.jwks_uri), expected)
        .await?;
    Ok(Reply::ok(render::client(&client, None, call.now))
        .etag(client.version)
        .target(id))
}

pub(crate) async fn clear_jwks_uri<S: AdminStore, V: KeyVault>(
    call: &Call<'_, S, V>,
    id: &str,
) -> Outcome {
    let expected = if_match(call.req)?;
    let client = call
        .app
        .operator
        .set_jwks_uri(&ClientId::new(id), None, expected)
        .await?;
    Ok(Reply::ok(render::client(&client, None, call.now))
        .etag(client.version)
        .target(id))
}
