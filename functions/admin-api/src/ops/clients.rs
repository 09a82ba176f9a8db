//! `/clients` and `/orgs/{org}/clients`: register clients with their grants (the
//! secret in the response, once), read, list page by page, change, disable, enable and
//! delete them; their grants and secrets.

use std::collections::BTreeMap;

use http::header::LOCATION;
use http::StatusCode;
use m2m_core::model::ClientStatus;
use m2m_core::types::{Audience, ClientId, OrgId, SecretId};
use m2m_manage::clients::{ClientChange, NewClient};
use m2m_manage::idempotency::{once, Outcome as Once};
use m2m_manage::keys::KeyVault;
use m2m_manage::{AdminStore, ClientFilter, Cursor};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::Deserialize;
use serde_json::json;

use super::scopes;
use crate::reply::{Problem, Reply, REPLAYED};
use crate::request::{body, idempotency, if_match, query, Empty};
use crate::route::{Switch, PREFIX};
use crate::{render, Call, Outcome};

/// Default page size of a client listing.
pub const DEFAULT_PAGE: usize = 50;
/// Default grace for the secrets a rotation replaces: 24 hours.
pub const DEFAULT_GRACE: u64 = 86_400;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantBody {
    api: String,
    scopes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    org_id: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    #[serde(default)]
    grants: Vec<GrantBody>,
    /// `false`: register the client without a secret (it authenticates with keys, a
    /// `jwks_uri` or trust rules). Default `true`.
    secret: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    name: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, Option<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScopesBody {
    scopes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateBody {
    grace_seconds: Option<u64>,
}

fn location(id: &ClientId) -> String {
    format!(
        "{PREFIX}/clients/{}",
        utf8_percent_encode(id.as_str(), NON_ALPHANUMERIC)
    )
}

pub(crate) async fn create<S: AdminStore, V: KeyVault>(call: &Call<'_, S, V>) -> Outcome {
    let b: CreateBody = body(call.req)?;
    let key = idempotency(call.req, call.principal)?;
    let mut grants = Vec::with_capacity(b.grants.len());
    for g in &b.grants {
        grants.push((Audience::new(g.api.clone()), scopes(&g.scopes)?));
    }
    let new = NewClient {
        name: b.name,
        org_id: b.org_id.map(OrgId::new),
        metadata: b.metadata,
        grants,
        secretless: b.secret == Some(false),
    };
    let op = &call.app.operator;
    let created = once(
        &op.store,
        key.as_ref(),
        call.now,
        |c: &m2m_manage::clients::Created| c.client.id.to_string(),
        || op.create_client(new, call.now),
    )
    .await?;
    match created {
        Once::Created(c) => {
            let mut doc = render::client(&c.client, Some(&c.grants), call.now);
            if let Some(secret) = &c.secret {
                doc["client_secret"] = json!(secret.expose());
                doc["secret_id"] = json!(c.client.secrets.first().map(|s| s.id.as_str()));
            }
            Ok(Reply::json(StatusCode::CREATED, doc)
                .etag(c.client.version)
                .header(LOCATION, location(&c.client.id))
                .target(c.client.id.as_str()))
        }
        // The secret was shown to the first request only; it is not stored anywhere.
        Once::Replayed(id) => {
            let id = ClientId::new(id);
            let (client, grants) = op.client_with_grants(&id).await?;
            Ok(Reply::ok(render::client(&client, Some(&grants), call.now))
                .etag(client.version)
                .header(LOCATION, location(&id))
                .header(REPLAYED, "true")
                .target(id.as_str()))
        }
    }
}

pub(crate) async fn get<S: AdminStore, V: KeyVault>(call: &Call<'_, S, V>, id: &str) -> Outcome {
    let (client, grants) = call
        .app
        .operator
        .client_with_grants(&ClientId::new(id))
        .await?;
    Ok(Reply::ok(render::client(&client, Some(&grants), call.now)).etag(client.version))
}

pub(crate) async fn list<S: AdminStore, V: KeyVault>(
    call: &Call<'_, S, V>,
    org_path: Option<&str>,
) -> Outcome {
    let org = match org_path {
        Some(o) => Some(o.to_owned()),
        None => query(call.req, "org_id"),
    };
    let limit = match query(call.req, "limit") {
        None => DEFAULT_PAGE,
        // The range is the use case's to check.
        Some(l) => l
            .parse::<usize>()
            .map_err(|_| Problem::invalid("limit must be a whole number, 1 to 100"))?,
    };
    let cursor = query(call.req, "cursor").map(Cursor);
    let filter = ClientFilter {
        org: org.filter(|o| !o.is_empty()).map(OrgId::new),
    };
    let page = call
        .app
        .operator
        .clients(&filter, cursor.as_ref(), limit)
        .await?;
    Ok(Reply::ok(render::client_page(&page, call.now)))
}

pub(crate) async fn update<S: AdminStore, V: KeyVault>(call: &Call<'_, S, V>, id: &str) -> Outcome {
    let b: UpdateBody = body(call.req)?;
    let expected = if_match(call.req)?;
    let change = ClientChange {
        name: b.name,
        metadata: b.metadata,
    };
    let client = call
        .app
        .operator
        .update_client(&ClientId::new(id), &change, expected)
        .await?;
    Ok(Reply::ok(render::client(&client, None, call.now))
        .etag(client.version)
        .target(id))
}

pub(crate) async fn switch<S: AdminStore, V: KeyVault>(
    call: &Call<'_, S, V>,
    id: &str,
    to: Switch,
) -> Outcome {
    let _: Empty = body(call.req)?;
    let expected = if_match(call.req)?;
    let status = match to {
        Switch::Disable => ClientStatus::Disabled,
        Switch::Enable => ClientStatus::Active,
    };
    let client = call
        .app
        .operator
        .set_client_status(&ClientId::new(id), status, expected, call.now)
        .await?;
    Ok(Reply::ok(render::client(&client, None, call.now))
        .etag(client.version)
        .target(id))
}

/// Deletes the client, its trust rules and its grants.
pub(crate) async fn delete<S: AdminStore, V: KeyVault>(call: &Call<'_, S, V>, id: &str) -> Outcome {
    let expected = if_match(call.req)?;
    call.app
        .operator
        .delete_client(&ClientId::new(id), expected)
        .await?;
    Ok(Reply::no_content().target(id))
}

pub(crate) async fn grants<S: AdminStore, V: KeyVault>(call: &Call<'_, S, V>, id: &str) -> Outcome {
    let grants = call.app.operator.grants(&ClientId::new(id)).await?;
    Ok(Reply::ok(json!({
        "grants": grants.iter().map(render::grant_of_client).collect::<Vec<_>>()
    })))
}

pub(crate) async fn put_grant<S: AdminStore, V: KeyVault>(
    call: &Call<'_, S, V>,
    id: &str,
    api: &str,
) -> Outcome {
    let b: ScopesBody = body(call.req)?;
    let grant = call
        .app
        .operator
        .set_grant(&ClientId::new(id), &Audience::new(api), &scopes(&b.scopes)?)
        .await?;
    Ok(Reply::ok(render::grant(&grant)).target(format!("{id} {api}")))
}

pub(crate) async fn delete_grant<S: AdminStore, V: KeyVault>(
    call: &Call<'_, S, V>,
    id: &str,
    api: &str,
) -> Outcome {
    call.app
        .operator
        .remove_scopes(&ClientId::new(id), &Audience::new(api), &Default::default())
        .await?;
    Ok(Reply::no_content().target(format!("{id} {api}")))
}

pub(crate) async fn rotate<S: AdminStore, V: KeyVault>(call: &Call<'_, S, V>, id: &str) -> Outcome {
    let b: RotateBody = body(call.req)?;
    let grace = b.grace_seconds.unwrap_or(DEFAULT_GRACE);
    let key = idempotency(call.req, call.principal)?;
    let op = &call.app.operator;
    let client_id = ClientId::new(id);
    let rotated = once(
        &op.store,
        key.as_ref(),
        call.now,
        |r: &m2m_manage::secrets::Rotated| r.secret_id.to_string(),
        || op.rotate_secret(&client_id, grace, call.now),
    )
    .await?;
    match rotated {
        Once::Created(r) => Ok(Reply::json(
            StatusCode::CREATED,
            json!({
                "client_secret": r.secret.expose(),
                "secret_id": r.secret_id.as_str(),
                "previous_secrets_expire_at": r.previous_expire_at,
                "client": render::client(&r.client, None, call.now),
            }),
        )
        .etag(r.client.version)
        .target(format!("{id} {}", r.secret_id))),
        // The secret was shown to the first request only; it is not stored anywhere.
        Once::Replayed(secret_id) => {
            let client = op.client(&client_id).await?;
            Ok(Reply::ok(json!({
                "secret_id": secret_id,
                "client": render::client(&client, None, call.now),
            }))
            .etag(client.version)
            .header(REPLAYED, "true")
            .target(format!("{id} {secret_id}")))
        }
    }
}

pub(crate) async fn revoke_secret<S: AdminStore, V: KeyVault>(
    call: &Call<'_, S, V>,
    id: &str,
    secret_id: &str,
) -> Outcome {
    let expected = if_match(call.req)?;
    let client = call
        .app
        .operator
        .revoke_secret(&ClientId::new(id), &SecretId::new(secret_id), expected)
        .await?;
    Ok(Reply::ok(render::client(&client, None, call.now))
        .etag(client.version)
        .target(format!("{id} {secret_id}")))
}
