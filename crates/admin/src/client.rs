//! `m2m-admin client ...`: register customer clients (printing the secret once), list,
//! show (never a secret or hash), disable, enable and delete them; and the retrying
//! read-modify-write every client change goes through.

use std::collections::BTreeMap;

use m2m_core::model::{Client, ClientStatus, Grant};
use m2m_core::secret::{generate_secret, stored_secret};
use m2m_core::types::{ClientId, ClientSecret, OrgId};
use m2m_manage::{AdminStore as _, ClientFilter, StoreError, MAX_PAGE};
use rand::distributions::Alphanumeric;
use rand::rngs::OsRng;
use rand::Rng as _;
use serde_json::{json, Value};

use crate::cli::ClientCommand;
use crate::context::Ctx;
use crate::error::{client_not_found, kept_changing, AdminError};
use crate::output::{fields, opt_time, table, time, Output};

/// Attempts of a read-modify-write before giving up on concurrent changes.
pub const ATTEMPTS: usize = 5;
/// Characters in a generated client id: alphanumeric, ~143 bits, never starting with a
/// dash (so it is safe as a command-line argument) and safe in HTTP Basic credentials.
const CLIENT_ID_LEN: usize = 24;

/// Runs one `client` command.
///
/// # Errors
/// As [`AdminError`].
pub async fn run(ctx: &Ctx, cmd: ClientCommand) -> Result<Output, AdminError> {
    match cmd {
        ClientCommand::Create {
            name,
            org,
            metadata,
        } => create(ctx, name, org, metadata).await,
        ClientCommand::List { org } => list(ctx, org).await,
        ClientCommand::Show { client_id } => show(ctx, &ClientId::new(client_id)).await,
        ClientCommand::Disable { client_id } => {
            set_status(ctx, &ClientId::new(client_id), ClientStatus::Disabled).await
        }
        ClientCommand::Enable { client_id } => {
            set_status(ctx, &ClientId::new(client_id), ClientStatus::Active).await
        }
        ClientCommand::Delete { client_id } => delete(ctx, &ClientId::new(client_id)).await,
    }
}

fn new_client_id() -> ClientId {
    ClientId::new(
        OsRng
            .sample_iter(&Alphanumeric)
            .take(CLIENT_ID_LEN)
            .map(char::from)
            .collect::<String>(),
    )
}

/// The JSON form of a client: its secrets by id and dates only.
pub fn client_json(c: &Client, now: u64) -> Value {
    json!({
        "client_id": c.id.as_str(),
        "name": c.name,
        "org_id": c.org_id.as_ref().map(OrgId::as_str),
        "status": c.status.as_str(),
        "metadata": c.metadata,
        "version": c.version,
        "secrets": c.secrets.iter().map(|s| json!({
            "secret_id": s.id.as_str(),
            "created_at": s.created_at,
            "expires_at": s.expires_at,
            "last_used_at": s.last_used_at,
            "expired": s.expires_at.is_some_and(|e| now >= e),
        })).collect::<Vec<_>>(),
    })
}

/// The text form of a client's secrets (ids and dates only).
pub fn secrets_table(c: &Client, now: u64) -> String {
    let rows: Vec<Vec<String>> = c
        .secrets
        .iter()
        .map(|s| {
            let state = match s.expires_at {
                Some(e) if now >= e => "expired",
                Some(_) => "expiring",
                None => "valid",
            };
            vec![
                s.id.to_string(),
                state.to_owned(),
                time(s.created_at),
                opt_time(s.expires_at),
                opt_time(s.last_used_at),
            ]
        })
        .collect();
    table(
        &["SECRET ID", "STATE", "CREATED", "EXPIRES", "LAST USED"],
        &rows,
    )
}

fn client_fields(c: &Client) -> Vec<(&'static str, String)> {
    let metadata = c
        .metadata
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ");
    vec![
        ("client_id", c.id.to_string()),
        ("name", c.name.clone()),
        (
            "org",
            c.org_id.as_ref().map_or("-", OrgId::as_str).to_owned(),
        ),
        ("status", c.status.as_str().to_owned()),
        (
            "metadata",
            if metadata.is_empty() {
                "-".into()
            } else {
                metadata
            },
        ),
    ]
}

fn grants_json(grants: &[Grant]) -> Value {
    grants
        .iter()
        .map(|g| {
            json!({
                "api": g.audience.as_str(),
                "scopes": g.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            })
        })
        .collect()
}

/// The text form of grants.
pub fn grants_table(grants: &[Grant]) -> String {
    let rows: Vec<Vec<String>> = grants
        .iter()
        .map(|g| vec![g.audience.to_string(), g.scopes.to_wire()])
        .collect();
    table(&["API", "SCOPES"], &rows)
}

/// The text shown with a new secret.
pub fn secret_notice(secret: &ClientSecret) -> String {
    format!(
        "client_secret: {}\n\nStore the secret now: it is shown only this once and only its \
         hash is kept.",
        secret.expose()
    )
}

async fn create(
    ctx: &Ctx,
    name: String,
    org: Option<String>,
    metadata: Vec<(String, String)>,
) -> Result<Output, AdminError> {
    if name.trim().is_empty() {
        return Err(AdminError::Invalid("--name must not be empty".into()));
    }
    let secret = generate_secret();
    let stored = stored_secret(&secret, ctx.now, None);
    let mut client = Client {
        id: new_client_id(),
        name,
        org_id: org.filter(|o| !o.trim().is_empty()).map(OrgId::new),
        status: ClientStatus::Active,
        metadata: metadata.into_iter().collect::<BTreeMap<_, _>>(),
        secrets: vec![stored],
        version: 1,
    };
    // A random 143-bit id does not collide; the condition makes sure, and a fresh id is
    // drawn if it ever did.
    for _ in 0..ATTEMPTS {
        match ctx.store.create_client(&client, &[]).await {
            Ok(()) => {
                let mut doc = client_json(&client, ctx.now);
                doc["client_secret"] = json!(secret.expose());
                doc["secret_id"] = json!(client.secrets.first().map(|s| s.id.as_str()));
                return Ok(Output::new(
                    doc,
                    format!(
                        "Created client.\n{}\n{}",
                        fields(&client_fields(&client)),
                        secret_notice(&secret)
                    ),
                ));
            }
            Err(StoreError::Conflict(_)) => client.id = new_client_id(),
            Err(e) => return Err(e.into()),
        }
    }
    Err(AdminError::Failed("could not find a free client id".into()))
}

async fn list(ctx: &Ctx, org: Option<String>) -> Result<Output, AdminError> {
    let mut clients = Vec::new();
    let mut after = None;
    loop {
        let page = ctx
            .store
            .list_clients(&ClientFilter::default(), after.as_ref(), MAX_PAGE)
            .await?;
        clients.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    if let Some(org) = &org {
        clients.retain(|c| c.org_id.as_ref().is_some_and(|o| o.as_str() == org));
    }
    let rows: Vec<Vec<String>> = clients
        .iter()
        .map(|c| {
            vec![
                c.id.to_string(),
                c.name.clone(),
                c.org_id.as_ref().map_or("-", OrgId::as_str).to_owned(),
                c.status.as_str().to_owned(),
                c.secrets.len().to_string(),
            ]
        })
        .collect();
    Ok(Output::new(
        json!({"clients": clients.iter().map(|c| client_json(c, ctx.now)).collect::<Vec<_>>()}),
        table(&["CLIENT ID", "NAME", "ORG", "STATUS", "SECRETS"], &rows),
    ))
}

async fn show(ctx: &Ctx, id: &ClientId) -> Result<Output, AdminError> {
    let client = ctx
        .store
        .get_client(id)
        .await?
        .ok_or_else(|| client_not_found(id.as_str()))?;
    let grants = ctx.store.client_grants(id).await?;
    let mut doc = client_json(&client, ctx.now);
    doc["grants"] = grants_json(&grants);
    Ok(Output::new(
        doc,
        format!(
            "{}\n\nGrants:\n{}\n\nSecrets:\n{}",
            fields(&client_fields(&client)),
            grants_table(&grants),
            secrets_table(&client, ctx.now)
        ),
    ))
}

/// Reads client `id`, applies `change` and writes it back conditional on the version
/// read (bumping it), retrying from a fresh read when someone else wrote in between.
/// Returns the client as written and what `change` returned.
///
/// # Errors
/// What `change` returns, [`client_not_found`], or a conflict after [`ATTEMPTS`].
pub async fn mutate_client<T>(
    ctx: &Ctx,
    id: &ClientId,
    mut change: impl FnMut(&mut Client) -> Result<T, AdminError>,
) -> Result<(Client, T), AdminError> {
    for _ in 0..ATTEMPTS {
        let current = ctx
            .store
            .get_client(id)
            .await?
            .ok_or_else(|| client_not_found(id.as_str()))?;
        let mut next = current.clone();
        let out = change(&mut next)?;
        next.version = current.version.saturating_add(1);
        match ctx.store.replace_client(&next, current.version).await {
            Ok(()) => return Ok((next, out)),
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(kept_changing(&format!("client {id}")))
}

async fn set_status(ctx: &Ctx, id: &ClientId, status: ClientStatus) -> Result<Output, AdminError> {
    let (client, ()) = mutate_client(ctx, id, |c| {
        c.status = status;
        Ok(())
    })
    .await?;
    let verb = match status {
        ClientStatus::Active => "Enabled",
        ClientStatus::Disabled => "Disabled",
    };
    Ok(Output::new(
        client_json(&client, ctx.now),
        format!("{verb} client {id}."),
    ))
}

async fn delete(ctx: &Ctx, id: &ClientId) -> Result<Output, AdminError> {
    for _ in 0..ATTEMPTS {
        let client = ctx
            .store
            .get_client(id)
            .await?
            .ok_or_else(|| client_not_found(id.as_str()))?;
        let grants = ctx.store.client_grants(id).await?;
        match ctx.store.delete_client(id, client.version, &grants).await {
            Ok(()) => {
                return Ok(Output::new(
                    json!({"deleted": id.as_str(), "grants_deleted": grants.len()}),
                    format!("Deleted client {id} and its {} grant(s).", grants.len()),
                ))
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(kept_changing(&format!("client {id}")))
}
