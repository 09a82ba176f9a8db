//! Revocation by the operator (RFC 7009 §2): `m2m-admin client revoke-tokens` (every
//! token a client was issued until now) and `m2m-admin token revoke` (one token by its
//! `jti`). Each is one write of the client and the entry verifiers read, so a failed
//! command changes nothing and running it again does it.

use m2m_core::model::MAX_TOKEN_LIFETIME;
use m2m_core::types::ClientId;
use serde_json::json;

use crate::cli::TokenCommand;
use crate::client::client_json;
use crate::context::Ctx;
use crate::error::AdminError;
use crate::output::{time, Output};

/// Runs one `token` command.
///
/// # Errors
/// As [`AdminError`].
pub async fn run(ctx: &Ctx, cmd: TokenCommand) -> Result<Output, AdminError> {
    match cmd {
        TokenCommand::Revoke {
            client,
            jti,
            expires_at,
            expires_in,
        } => {
            // A token lives at most MAX_TOKEN_LIFETIME: by default the entry is kept
            // that long, never longer than it must.
            let expires_at = expires_at.unwrap_or_else(|| {
                ctx.now
                    .saturating_add(expires_in.unwrap_or(MAX_TOKEN_LIFETIME))
            });
            revoke_token(ctx, &ClientId::new(client), &jti, expires_at).await
        }
    }
}

/// `client revoke-tokens`: prints the instant before which the client's tokens are
/// revoked.
///
/// # Errors
/// As [`AdminError`].
pub async fn revoke_tokens(ctx: &Ctx, id: &ClientId) -> Result<Output, AdminError> {
    let client = ctx.op().revoke_tokens(id, None, ctx.now).await?;
    let not_before = client.not_before.unwrap_or(ctx.now.saturating_add(1));
    let mut doc = client_json(&client, ctx.now);
    doc["revoked_before"] = json!(not_before);
    Ok(Output::new(
        doc,
        format!(
            "Revoked every token client {id} was issued before {}.\n\
             not before: {not_before}\n\
             Verifiers that read revocations refuse them once their cached list refreshes; \
             the client gets new tokens as before.",
            time(not_before)
        ),
    ))
}

async fn revoke_token(
    ctx: &Ctx,
    id: &ClientId,
    jti: &str,
    expires_at: u64,
) -> Result<Output, AdminError> {
    let client = ctx
        .op()
        .revoke_token(id, jti, expires_at, None, ctx.now)
        .await?;
    Ok(Output::new(
        json!({
            "client_id": id.as_str(),
            "jti": jti,
            "expires_at": expires_at,
            "revocation_epoch": client.revocation_epoch,
        }),
        format!(
            "Revoked token {jti} of client {id}: verifiers that read revocations refuse it \
             until it expires ({}).",
            time(expires_at)
        ),
    ))
}
