//! `m2m-admin grant ...`: which scopes of which API a client may obtain. A grant write
//! is one transaction that also bumps the client's and the API's versions, conditional
//! on the versions read, so it cannot race a client delete, an API delete or an API
//! scope change.

use m2m_core::model::Grant;
use m2m_core::types::{Audience, ClientId, Scope, ScopeSet};
use m2m_manage::{AdminStore as _, StoreError};
use serde_json::{json, Value};

use crate::cli::GrantCommand;
use crate::client::{grants_table, ATTEMPTS};
use crate::context::Ctx;
use crate::error::{api_not_found, client_not_found, kept_changing, AdminError};
use crate::output::{fields, Output};

/// Runs one `grant` command.
///
/// # Errors
/// As [`AdminError`].
pub async fn run(ctx: &Ctx, cmd: GrantCommand) -> Result<Output, AdminError> {
    match cmd {
        GrantCommand::Add {
            client,
            api,
            scopes,
        } => add(ctx, &ClientId::new(client), &Audience::new(api), scopes).await,
        GrantCommand::Remove {
            client,
            api,
            scopes,
        } => remove(ctx, &ClientId::new(client), &Audience::new(api), scopes).await,
        GrantCommand::List { client } => list(ctx, &ClientId::new(client)).await,
    }
}

fn grant_json(g: &Grant) -> Value {
    json!({
        "client_id": g.client_id.as_str(),
        "api": g.audience.as_str(),
        "scopes": g.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
    })
}

fn grant_text(verb: &str, g: &Grant) -> String {
    format!(
        "{verb}\n{}",
        fields(&[
            ("client_id", g.client_id.to_string()),
            ("api", g.audience.to_string()),
            ("scopes", g.scopes.to_wire()),
        ])
    )
}

async fn add(
    ctx: &Ctx,
    client_id: &ClientId,
    audience: &Audience,
    scopes: Vec<Scope>,
) -> Result<Output, AdminError> {
    let wanted: ScopeSet = scopes.into_iter().collect();
    for _ in 0..ATTEMPTS {
        let client = ctx
            .store
            .get_client(client_id)
            .await?
            .ok_or_else(|| client_not_found(client_id.as_str()))?;
        let api = ctx
            .store
            .get_api(audience)
            .await?
            .ok_or_else(|| api_not_found(audience.as_str()))?;
        let undefined = wanted.difference(&api.value.scopes);
        if !undefined.is_empty() {
            return Err(AdminError::Invalid(format!(
                "API {audience} does not define the scope(s) {}; it defines: {}. Add them \
                 with `m2m-admin api update {audience} --add-scopes ...` first",
                undefined.to_wire(),
                if api.value.scopes.is_empty() {
                    "none".to_owned()
                } else {
                    api.value.scopes.to_wire()
                }
            )));
        }
        let existing = ctx
            .store
            .client_grants(client_id)
            .await?
            .into_iter()
            .find(|g| &g.audience == audience);
        let mut grant = existing.unwrap_or_else(|| Grant {
            client_id: client_id.clone(),
            audience: audience.clone(),
            scopes: ScopeSet::new(),
        });
        for s in wanted.iter() {
            grant.scopes.insert(s.clone());
        }
        match ctx
            .store
            .put_grant(&grant, client.version, api.version)
            .await
        {
            Ok(()) => {
                return Ok(Output::new(
                    grant_json(&grant),
                    grant_text("Granted.", &grant),
                ))
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(kept_changing(&format!(
        "client {client_id} or API {audience}"
    )))
}

async fn remove(
    ctx: &Ctx,
    client_id: &ClientId,
    audience: &Audience,
    scopes: Vec<Scope>,
) -> Result<Output, AdminError> {
    let taken: ScopeSet = scopes.into_iter().collect();
    for _ in 0..ATTEMPTS {
        let client = ctx
            .store
            .get_client(client_id)
            .await?
            .ok_or_else(|| client_not_found(client_id.as_str()))?;
        let Some(mut grant) = ctx
            .store
            .client_grants(client_id)
            .await?
            .into_iter()
            .find(|g| &g.audience == audience)
        else {
            return Err(AdminError::NotFound(format!(
                "client {client_id} has no grant on API {audience}: `m2m-admin grant list \
                 --client {client_id}` shows its grants"
            )));
        };
        grant.scopes = if taken.is_empty() {
            ScopeSet::new()
        } else {
            grant.scopes.difference(&taken)
        };
        let written = if grant.scopes.is_empty() {
            ctx.store
                .delete_grant(client_id, audience, client.version)
                .await
        } else {
            // Narrowing a grant needs no API version check (nothing is added), but the
            // same transaction shape keeps API deletes and grant writes ordered.
            match ctx.store.get_api(audience).await? {
                Some(api) => {
                    ctx.store
                        .put_grant(&grant, client.version, api.version)
                        .await
                }
                // The API is gone: its grants are meaningless, remove this one whole.
                None => {
                    grant.scopes = ScopeSet::new();
                    ctx.store
                        .delete_grant(client_id, audience, client.version)
                        .await
                }
            }
        };
        match written {
            Ok(()) => {
                let verb = if grant.scopes.is_empty() {
                    "Removed the grant."
                } else {
                    "Narrowed the grant."
                };
                return Ok(Output::new(grant_json(&grant), grant_text(verb, &grant)));
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(kept_changing(&format!("client {client_id}")))
}

async fn list(ctx: &Ctx, client_id: &ClientId) -> Result<Output, AdminError> {
    if ctx.store.get_client(client_id).await?.is_none() {
        return Err(client_not_found(client_id.as_str()));
    }
    let grants = ctx.store.client_grants(client_id).await?;
    Ok(Output::new(
        json!({"client_id": client_id.as_str(), "grants": grants.iter().map(grant_json).collect::<Vec<_>>()}),
        grants_table(&grants),
    ))
}
