//! `m2m-admin secret ...`: rotation (a new secret, printed once; the older ones expire
//! after a grace period so callers switch over without a failed request) and
//! revocation, as `m2m-manage` rules them.

use m2m_core::types::{ClientId, SecretId};
use serde_json::json;

use crate::cli::SecretCommand;
use crate::client::{client_json, secret_notice, secrets_table};
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
    let r = ctx.op().rotate_secret(id, grace, ctx.now).await?;
    let client = &r.client;
    let mut doc = client_json(client, ctx.now);
    doc["client_secret"] = json!(r.secret.expose());
    doc["secret_id"] = json!(r.secret_id.as_str());
    doc["previous_secrets_expire_at"] = json!(r.previous_expire_at);
    doc["pruned_secret_ids"] = json!(r.pruned.iter().map(SecretId::as_str).collect::<Vec<_>>());
    let text = format!(
        "Rotated the secret of client {id}.\n{}\n{}\n\nSecrets:\n{}",
        fields(&[
            ("secret_id", r.secret_id.to_string()),
            ("older secrets expire", time(r.previous_expire_at)),
        ]),
        secret_notice(&r.secret),
        secrets_table(client, ctx.now)
    );
    Ok(Output::new(doc, text))
}

async fn revoke(ctx: &Ctx, id: &ClientId, secret_id: &SecretId) -> Result<Output, AdminError> {
    let client = ctx.op().revoke_secret(id, secret_id, None).await?;
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
