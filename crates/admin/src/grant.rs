//! `m2m-admin grant ...`: which scopes of which API a client may obtain, as
//! `m2m-manage` rules them (every scope defined by the API; one conditional write that
//! also bumps the client's and the API's versions).

use m2m_core::model::Grant;
use m2m_core::types::{Audience, ClientId, Scope, ScopeSet};
use serde_json::{json, Value};

use crate::cli::GrantCommand;
use crate::client::grants_table;
use crate::context::Ctx;
use crate::error::AdminError;
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
    let grant = ctx.op().add_scopes(client_id, audience, &wanted).await?;
    Ok(Output::new(
        grant_json(&grant),
        grant_text("Granted.", &grant),
    ))
}

async fn remove(
    ctx: &Ctx,
    client_id: &ClientId,
    audience: &Audience,
    scopes: Vec<Scope>,
) -> Result<Output, AdminError> {
    let taken: ScopeSet = scopes.into_iter().collect();
    let grant = ctx.op().remove_scopes(client_id, audience, &taken).await?;
    let verb = if grant.scopes.is_empty() {
        "Removed the grant."
    } else {
        "Narrowed the grant."
    };
    Ok(Output::new(grant_json(&grant), grant_text(verb, &grant)))
}

async fn list(ctx: &Ctx, client_id: &ClientId) -> Result<Output, AdminError> {
    let grants = ctx.op().grants(client_id).await?;
    Ok(Output::new(
        json!({"client_id": client_id.as_str(), "grants": grants.iter().map(grant_json).collect::<Vec<_>>()}),
        grants_table(&grants),
    ))
}
