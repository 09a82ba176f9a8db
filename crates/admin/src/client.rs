//! `m2m-admin client ...`: register customer clients (printing the secret once, or
//! none for a secretless client), list, show (never a secret, hash or key material),
//! disable (revoking their tokens), enable and delete them, set their `jwks_uri` and
//! their introspection permission (RFC 7662). Revoking tokens is in [`crate::revoke`],
//! quotas in [`crate::quota`]. The rules live in `m2m-manage`; this module renders
//! their results.

use m2m_core::model::{Client, ClientStatus, Grant};
use m2m_core::types::{ClientId, ClientSecret, OrgId};
use m2m_manage::clients::NewClient;
use m2m_manage::ClientFilter;
use serde_json::{json, Value};

use crate::cli::ClientCommand;
use crate::client_key::{key_json, keys_table};
use crate::context::Ctx;
use crate::error::AdminError;
use crate::output::{fields, opt_time, table, time, Output};
use crate::quota::{quota_json, quota_text};
use crate::trust::{rule_json, rules_table};

/// Trust rules shown by `client show` (the rest through `trust list`).
const SHOWN_RULES: usize = 20;

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
            no_secret,
        } => create(ctx, name, org, metadata, no_secret).await,
        ClientCommand::List { org } => list(ctx, org).await,
        ClientCommand::Show { client_id } => show(ctx, &ClientId::new(client_id)).await,
        ClientCommand::Disable { client_id } => {
            set_status(ctx, &ClientId::new(client_id), ClientStatus::Disabled).await
        }
        ClientCommand::Enable { client_id } => {
            set_status(ctx, &ClientId::new(client_id), ClientStatus::Active).await
        }
        ClientCommand::Delete { client_id } => delete(ctx, &ClientId::new(client_id)).await,
        ClientCommand::JwksUri { client, set, .. } => {
            jwks_uri(ctx, &ClientId::new(client), set.as_deref()).await
        }
        ClientCommand::RevokeTokens { client } => {
            crate::revoke::revoke_tokens(ctx, &ClientId::new(client)).await
        }
        ClientCommand::Introspection { client, allow, .. } => {
            introspection(ctx, &ClientId::new(client), allow).await
        }
        ClientCommand::Quota { client, quota } => {
            crate::quota::client_quota(ctx, &ClientId::new(client), &quota).await
        }
    }
}

/// The JSON form of a client: its secrets by id and dates only, its keys by kid, type
/// and dates only.
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
        "keys": c.keys.iter().map(|k| key_json(k, now)).collect::<Vec<_>>(),
        "jwks_uri": c.jwks_uri,
        "introspect": c.introspect,
        "quota": quota_json(c.quota.as_ref()),
        "org_quota": quota_json(c.org_quota.as_ref()),
        "not_before": c.not_before,
        "revocation_epoch": c.revocation_epoch,
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
        ("jwks_uri", c.jwks_uri.clone().unwrap_or_else(|| "-".into())),
        (
            "introspect",
            if c.introspect { "allowed" } else { "denied" }.to_owned(),
        ),
        ("quota", quota_text(c.quota.as_ref())),
        ("org quota", quota_text(c.org_quota.as_ref())),
        (
            "not before",
            c.not_before.map_or_else(
                || "-".to_owned(),
                |t| format!("{} (tokens issued before it are revoked)", time(t)),
            ),
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
    no_secret: bool,
) -> Result<Output, AdminError> {
    if name.trim().is_empty() {
        return Err(AdminError::Invalid("--name must not be empty".into()));
    }
    let created = ctx
        .op()
        .create_client(
            NewClient {
                name,
                org_id: org.map(OrgId::new),
                metadata: metadata.into_iter().collect(),
                grants: Vec::new(),
                secretless: no_secret,
            },
            ctx.now,
        )
        .await?;
    let client = &created.client;
    let mut doc = client_json(client, ctx.now);
    let notice = match &created.secret {
        Some(secret) => {
            doc["client_secret"] = json!(secret.expose());
            doc["secret_id"] = json!(client.secrets.first().map(|s| s.id.as_str()));
            secret_notice(secret)
        }
        None => format!(
            "No secret: register a public key (`m2m-admin client-key add --client {id} \
             --jwk-file key.json`), a jwks_uri (`m2m-admin client jwks-uri --client {id} \
             --set URL`) or a trust rule (`m2m-admin trust add --client {id} ...`).",
            id = client.id
        ),
    };
    Ok(Output::new(
        doc,
        format!(
            "Created client.\n{}\n{notice}",
            fields(&client_fields(client)),
        ),
    ))
}

async fn list(ctx: &Ctx, org: Option<String>) -> Result<Output, AdminError> {
    let filter = ClientFilter {
        org: org.filter(|o| !o.trim().is_empty()).map(OrgId::new),
    };
    let clients = ctx.op().all_clients(&filter).await?;
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
    let op = ctx.op();
    let (client, grants) = op.client_with_grants(id).await?;
    let rules = op.trust_rules(id, None, SHOWN_RULES).await?;
    let mut doc = client_json(&client, ctx.now);
    doc["grants"] = grants_json(&grants);
    doc["trust_rules"] = rules.items.iter().map(rule_json).collect();
    doc["trust_rules_next_cursor"] = json!(rules.next.as_ref().map(|c| c.0.as_str()));
    let mut text = format!(
        "{}\n\nGrants:\n{}\n\nSecrets:\n{}\n\nKeys:\n{}\n\nTrust rules:\n{}",
        fields(&client_fields(&client)),
        grants_table(&grants),
        secrets_table(&client, ctx.now),
        keys_table(&client, ctx.now),
        rules_table(&rules.items),
    );
    if let Some(next) = &rules.next {
        text.push_str(&format!(
            "\n(more: `m2m-admin trust list --client {id} --after {}`)",
            next.0
        ));
    }
    Ok(Output::new(doc, text))
}

async fn set_status(ctx: &Ctx, id: &ClientId, status: ClientStatus) -> Result<Output, AdminError> {
    let client = ctx
        .op()
        .set_client_status(id, status, None, ctx.now)
        .await?;
    let text = match (status, client.not_before) {
        (ClientStatus::Disabled, Some(nb)) => format!(
            "Disabled client {id}: it gets no token, and every token it was issued before \
             {} is revoked.",
            time(nb)
        ),
        (ClientStatus::Disabled, None) => format!("Disabled client {id}."),
        (ClientStatus::Active, _) => {
            format!("Enabled client {id}. Tokens revoked before stay revoked; it gets new ones.")
        }
    };
    Ok(Output::new(client_json(&client, ctx.now), text))
}

async fn introspection(ctx: &Ctx, id: &ClientId, allow: bool) -> Result<Output, AdminError> {
    let client = ctx.op().set_introspection(id, allow, None).await?;
    let text = if allow {
        format!(
            "Client {id} may call the introspection endpoint (RFC 7662), authenticating as \
             it does at the token endpoint."
        )
    } else {
        format!("Client {id} may no longer call the introspection endpoint.")
    };
    Ok(Output::new(client_json(&client, ctx.now), text))
}

async fn delete(ctx: &Ctx, id: &ClientId) -> Result<Output, AdminError> {
    let deleted = ctx.op().delete_client(id, None).await?;
    Ok(Output::new(
        json!({
            "deleted": id.as_str(),
            "grants_deleted": deleted.grants.len(),
            "trust_rules_deleted": deleted.trust_rules,
        }),
        format!(
            "Deleted client {id}, its {} grant(s) and {} trust rule(s).",
            deleted.grants.len(),
            deleted.trust_rules
        ),
    ))
}

async fn jwks_uri(ctx: &Ctx, id: &ClientId, uri: Option<&str>) -> Result<Output, AdminError> {
    let client = ctx.op().set_jwks_uri(id, uri, None).await?;
    let text = match uri {
        Some(u) => format!(
            "Client {id} publishes its keys at {u}; the token endpoint fetches and caches them."
        ),
        None => format!("Cleared the jwks_uri of client {id}."),
    };
    Ok(Output::new(client_json(&client, ctx.now), text))
}
