//! `m2m-admin client-key ...`: a client's own public keys for `private_key_jwt`
//! (RFC 7523 §2.2): register one from a JWK file (RFC 7517 §4), list, expire on a
//! schedule for a rotation with overlap, and remove, as `m2m-manage` rules them. Only
//! a key's `kid`, type (`kty`), algorithm (`alg`) and dates are ever printed.

use std::io::Read as _;

use m2m_core::model::{Client, ClientKey};
use m2m_core::types::ClientId;
use m2m_manage::client_keys::MAX_JWK_LEN;
use serde_json::{json, Value};

use crate::cli::ClientKeyCommand;
use crate::context::Ctx;
use crate::error::AdminError;
use crate::output::{fields, opt_time, table, time, Output};

/// Runs one `client-key` command.
///
/// # Errors
/// As [`AdminError`].
pub async fn run(ctx: &Ctx, cmd: ClientKeyCommand) -> Result<Output, AdminError> {
    match cmd {
        ClientKeyCommand::Add {
            client,
            jwk_file,
            expires_in,
        } => add(ctx, &ClientId::new(client), &jwk_file, expires_in).await,
        ClientKeyCommand::List { client } => list(ctx, &ClientId::new(client)).await,
        ClientKeyCommand::Remove { client, kid } => remove(ctx, &ClientId::new(client), &kid).await,
        ClientKeyCommand::Expire {
            client, kid, r#in, ..
        } => expire(ctx, &ClientId::new(client), &kid, r#in).await,
    }
}

/// The key type and algorithm a stored JWK names (`kty`, `alg`): all that is shown of
/// the key itself.
fn kty_alg(k: &ClientKey) -> (Option<String>, Option<String>) {
    let v: Value = serde_json::from_str(&k.jwk).unwrap_or(Value::Null);
    let member = |name: &str| v.get(name).and_then(Value::as_str).map(str::to_owned);
    (member("kty"), member("alg"))
}

fn state(k: &ClientKey, now: u64) -> &'static str {
    match k.expires_at {
        Some(e) if now >= e => "expired",
        Some(_) => "expiring",
        None => "valid",
    }
}

/// The JSON form of a key: kid, type, algorithm and dates, never the key material.
pub fn key_json(k: &ClientKey, now: u64) -> Value {
    let (kty, alg) = kty_alg(k);
    json!({
        "kid": k.kid,
        "kty": kty,
        "alg": alg,
        "added_at": k.added_at,
        "expires_at": k.expires_at,
        "expired": !k.usable_at(now),
    })
}

/// The text form of a client's keys.
pub fn keys_table(c: &Client, now: u64) -> String {
    let rows: Vec<Vec<String>> = c
        .keys
        .iter()
        .map(|k| {
            let (kty, alg) = kty_alg(k);
            vec![
                k.kid.clone(),
                kty.unwrap_or_else(|| "-".into()),
                alg.unwrap_or_else(|| "-".into()),
                state(k, now).to_owned(),
                time(k.added_at),
                opt_time(k.expires_at),
            ]
        })
        .collect();
    table(&["KID", "KTY", "ALG", "STATE", "ADDED", "EXPIRES"], &rows)
}

/// The JWK text in `path` (`-`: standard input), at most a little over what the rules
/// accept so an oversized file is refused by them with their message.
fn read_jwk(path: &str) -> Result<String, AdminError> {
    let limit = u64::try_from(MAX_JWK_LEN * 2).unwrap_or(u64::MAX);
    let mut text = String::new();
    let read = if path == "-" {
        std::io::stdin().take(limit).read_to_string(&mut text)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(limit).read_to_string(&mut text))
    };
    read.map_err(|e| AdminError::Invalid(format!("--jwk-file {path}: {e}")))?;
    Ok(text)
}

async fn add(
    ctx: &Ctx,
    id: &ClientId,
    path: &str,
    expires_in: Option<u64>,
) -> Result<Output, AdminError> {
    let jwk = read_jwk(path)?;
    let expires_at = expires_in.map(|d| ctx.now.saturating_add(d));
    let added = ctx
        .op()
        .add_client_key(id, &jwk, expires_at, ctx.now, None)
        .await?;
    let mut doc = key_json(&added.key, ctx.now);
    doc["client_id"] = json!(id.as_str());
    doc["version"] = json!(added.client.version);
    doc["pruned_kids"] = json!(added.pruned);
    let (kty, alg) = kty_alg(&added.key);
    let mut text = format!(
        "Registered key {} for client {id}.\n{}",
        added.key.kid,
        fields(&[
            ("kid", added.key.kid.clone()),
            ("kty", kty.unwrap_or_else(|| "-".into())),
            ("alg", alg.unwrap_or_else(|| "any accepted".into())),
            ("expires", opt_time(added.key.expires_at)),
        ])
    );
    if !added.pruned.is_empty() {
        text.push_str(&format!(
            "\nDropped expired key(s): {}",
            added.pruned.join(", ")
        ));
    }
    Ok(Output::new(doc, text))
}

async fn list(ctx: &Ctx, id: &ClientId) -> Result<Output, AdminError> {
    let client = ctx.op().client_keys(id).await?;
    let mut text = keys_table(&client, ctx.now);
    if let Some(uri) = &client.jwks_uri {
        text.push_str(&format!("\nThe client publishes its keys at {uri}."));
    }
    Ok(Output::new(
        json!({
            "client_id": id.as_str(),
            "jwks_uri": client.jwks_uri,
            "keys": client.keys.iter().map(|k| key_json(k, ctx.now)).collect::<Vec<_>>(),
        }),
        text,
    ))
}

async fn remove(ctx: &Ctx, id: &ClientId, kid: &str) -> Result<Output, AdminError> {
    let (client, removed) = ctx.op().remove_client_key(id, kid, None).await?;
    Ok(Output::new(
        json!({"client_id": id.as_str(), "removed": removed.kid, "version": client.version}),
        format!(
            "Removed key {} of client {id}; assertions signed with it fail at once.",
            removed.kid
        ),
    ))
}

async fn expire(
    ctx: &Ctx,
    id: &ClientId,
    kid: &str,
    after: Option<u64>,
) -> Result<Output, AdminError> {
    let expires_at = after.map(|d| ctx.now.saturating_add(d));
    let (client, key) = ctx
        .op()
        .set_client_key_expiry(id, kid, expires_at, ctx.now, None)
        .await?;
    let mut doc = key_json(&key, ctx.now);
    doc["client_id"] = json!(id.as_str());
    doc["version"] = json!(client.version);
    let text = match key.expires_at {
        Some(e) => format!("Key {kid} of client {id} stops working at {}.", time(e)),
        None => format!("Key {kid} of client {id} no longer expires."),
    };
    Ok(Output::new(doc, text))
}
