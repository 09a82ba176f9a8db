//! `m2m-admin secret ...`: rotation (a new secret, printed once; the older ones expire
//! after a grace period so callers switch over without a failed request) and
//! revocation. Both are conditional on the client's version and retried on conflict, so
//! two operators rotating at once both get a working secret and lose nothing.

use m2m_core::secret::{generate_secret, stored_secret};
use m2m_core::types::{ClientId, SecretId};
use serde_json::json;

use crate::cli::SecretCommand;
use crate::client::{client_json, mutate_client, secret_notice, secrets_table};
use crate::context::Ctx;
use crate::error::AdminError;
use crate::output::{fields, time, Output};

/// Runs one `secret` command.
///
/// # Errors
/// As [`AdminError`].
pub async fn run(ctx: &Ctx, cmd: SecretCommand) -> Result<Output, AdminError> {
    match cmd {
        SecretCommand::Rotate { client, grace } => rotate(ctx, &ClientId::new(client), grace).await,
        SecretCommand::Revoke { client, secret_id } => {
            revoke(ctx, &ClientId::new(client), &SecretId::new(secret_id)).await
        }
    }
}

async fn rotate(ctx: &Ctx, id: &ClientId, grace: u64) -> Result<Output, AdminError> {
    let secret = generate_secret();
    let fresh = stored_secret(&secret, ctx.now, None);
    let old_expiry = ctx.now.saturating_add(grace);
    let (client, pruned) = mutate_client(ctx, id, |c| {
        // Secrets already expired can never authenticate again: drop them so the item
        // does not grow with every rotation.
        let (expired, mut live): (Vec<_>, Vec<_>) = std::mem::take(&mut c.secrets)
            .into_iter()
            .partition(|s| s.expires_at.is_some_and(|e| ctx.now >= e));
        for s in &mut live {
            s.expires_at = Some(s.expires_at.map_or(old_expiry, |e| e.min(old_expiry)));
        }
        live.push(fresh.clone());
        c.secrets = live;
        Ok(expired.into_iter().map(|s| s.id).collect::<Vec<_>>())
    })
    .await?;
    let mut doc = client_json(&client, ctx.now);
    doc["client_secret"] = json!(secret.expose());
    doc["secret_id"] = json!(fresh.id.as_str());
    doc["previous_secrets_expire_at"] = json!(old_expiry);
    doc["pruned_secret_ids"] = json!(pruned.iter().map(SecretId::as_str).collect::<Vec<_>>());
    let text = format!(
        "Rotated the secret of client {id}.\n{}\n{}\n\nSecrets:\n{}",
        fields(&[
            ("secret_id", fresh.id.to_string()),
            ("older secrets expire", time(old_expiry)),
        ]),
        secret_notice(&secret),
        secrets_table(&client, ctx.now)
    );
    Ok(Output::new(doc, text))
}

async fn revoke(ctx: &Ctx, id: &ClientId, secret_id: &SecretId) -> Result<Output, AdminError> {
    let (client, ()) = mutate_client(ctx, id, |c| {
        let before = c.secrets.len();
        c.secrets.retain(|s| &s.id != secret_id);
        if c.secrets.len() == before {
            return Err(AdminError::NotFound(format!(
                "client {id} has no secret {secret_id}: `m2m-admin client show {id}` lists its \
                 secrets"
            )));
        }
        Ok(())
    })
    .await?;
    let mut text = format!(
        "Revoked secret {secret_id} of client {id}.\n\nSecrets:\n{}",
        secrets_table(&client, ctx.now)
    );
    if client.secrets.is_empty() {
        text.push_str(&format!(
            "\n\nThe client has no secret left; `m2m-admin secret rotate --client {id}` issues one."
        ));
    }
    let mut doc = client_json(&client, ctx.now);
    doc["revoked_secret_id"] = json!(secret_id.as_str());
    Ok(Output::new(doc, text))
}
