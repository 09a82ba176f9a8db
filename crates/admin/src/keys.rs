//! `m2m-admin keys ...`: the signing-key lifecycle of DESIGN.md "Keys and JWKS" —
//! `pending` (published, not signing) → `active` (signs; exactly one) → `retired`
//! (published until every token it signed has expired) → deleted; and `revoked`
//! (compromised: never published, never signs) from any state.
//!
//! Two timing rules protect verifiers: a key is activated only once it has been
//! published for the JWKS cache lifetime (so every verifier's cached JWKS already holds
//! it), and a retired key is deleted only when no token it signed can still be valid.

use m2m_aws::KmsVault;
use m2m_core::model::{Alg, KeyStatus, SigningKey, MAX_TOKEN_LIFETIME};
use m2m_core::types::Kid;
pub use m2m_manage::keys::active_keys;
use m2m_manage::keys::PUBLISH_DELAY;
use serde_json::{json, Value};

use crate::cli::KeysCommand;
use crate::context::Ctx;
use crate::error::AdminError;
use crate::key_policy::{partition_and_account, resolve_stack, signing_key_policy};
use crate::output::{fields, opt_time, table, time, Output};

/// Runs one `keys` command.
///
/// # Errors
/// As [`AdminError`].
pub async fn run(ctx: &Ctx, cmd: KeysCommand) -> Result<Output, AdminError> {
    match cmd {
        KeysCommand::Create(args) => {
            let stack = resolve_stack(args.stack.as_deref(), ctx.endpoint.is_some())?;
            let key = create_key(ctx, args.alg.into(), &stack, KeyStatus::Pending).await?;
            let mut json = key_json(&key, true);
            json["stack"] = json!(stack);
            let mut text = format!(
                "Created signing key for stack {stack} (pending: published in the JWKS, not \
                 signing).\n{}\n\n\
                 Activate it after {} with `m2m-admin keys activate {}`.",
                fields(&key_fields(&key)),
                time(key.created_at.saturating_add(PUBLISH_DELAY)),
                key.kid
            );
            add_alg_warning(&mut json, &mut text, key.alg);
            Ok(Output::new(json, text))
        }
        KeysCommand::Activate { kid, force } => activate(ctx, &Kid::new(kid), force).await,
        KeysCommand::Retire { kid, force } => retire(ctx, &Kid::new(kid), force).await,
        KeysCommand::Revoke {
            kid,
            activate,
            force,
        } => revoke(ctx, &Kid::new(kid), activate.map(Kid::new), force).await,
        KeysCommand::List => list(ctx).await,
        KeysCommand::Delete { kid, pending_days } => {
            delete(ctx, &Kid::new(kid), pending_days).await
        }
    }
}

fn key_json(k: &SigningKey, published: bool) -> Value {
    json!({
        "kid": k.kid.as_str(),
        "alg": k.alg.as_str(),
        "status": k.status.as_str(),
        "kms_key_id": k.kms_key_id,
        "created_at": k.created_at,
        "activated_at": k.activated_at,
        "retired_at": k.retired_at,
        "published": published,
    })
}

fn key_fields(k: &SigningKey) -> Vec<(&'static str, String)> {
    vec![
        ("kid", k.kid.to_string()),
        ("alg", k.alg.as_str().to_owned()),
        ("status", k.status.as_str().to_owned()),
        ("kms key", k.kms_key_id.clone()),
        ("created", time(k.created_at)),
    ]
}

/// Creates a KMS key for `alg`, tagged for `stack` and created with the stack's key
/// policy (only the stack's token role may sign), reads its public key and registers
/// it with `status` (`active` only for a first key, which no verifier can have cached
/// yet). If the registration fails, the new KMS key is scheduled for deletion.
///
/// # Errors
/// [`AdminError::Failed`] when KMS or DynamoDB fail.
pub async fn create_key(
    ctx: &Ctx,
    alg: Alg,
    stack: &str,
    status: KeyStatus,
) -> Result<SigningKey, AdminError> {
    let policy = key_policy(ctx, stack).await?;
    let vault = KmsVault::new(ctx.kms.clone(), stack, policy);
    Ok(ctx.op().create_key(&vault, alg, status, ctx.now).await?)
}

/// The key policy of a new key for `stack`, naming the caller's account (STS
/// `GetCallerIdentity`, which needs no permission).
async fn key_policy(ctx: &Ctx, stack: &str) -> Result<String, AdminError> {
    let identity = ctx.sts.get_caller_identity().send().await.map_err(|e| {
        AdminError::Failed(format!(
            "STS GetCallerIdentity failed: {}. Check AWS_REGION and credentials",
            aws_sdk_sts::error::DisplayErrorContext(&e)
        ))
    })?;
    let arn = identity.arn.unwrap_or_default();
    let (partition, account) = partition_and_account(&arn).ok_or_else(|| {
        AdminError::Failed(format!(
            "STS GetCallerIdentity returned `{arn}`, not an ARN with an account"
        ))
    })?;
    Ok(signing_key_policy(partition, account, stack).to_string())
}

/// API Gateway's JWT authorizer verifies RSA signatures only: the warning every command
/// that creates or activates an ES256 key prints.
pub const ES256_WARNING: &str = "ES256 tokens are rejected by API Gateway's JWT authorizer, \
     which verifies RSA signatures only (RS256); resource servers that verify with a library \
     accept them. Keep RS256 if any API uses that authorizer.";

/// Adds [`ES256_WARNING`] to an output when `alg` is ES256.
pub fn add_alg_warning(json: &mut Value, text: &mut String, alg: Alg) {
    if alg == Alg::ES256 {
        json["warning"] = json!(ES256_WARNING);
        text.push_str("\n\nWarning: ");
        text.push_str(ES256_WARNING);
    }
}

async fn activate(ctx: &Ctx, kid: &Kid, force: bool) -> Result<Output, AdminError> {
    let done = ctx.op().activate_key(kid, force, ctx.now).await?;
    if !done.changed {
        return Ok(Output::new(
            key_json(&done.key, true),
            format!("Key {kid} is already the active key."),
        ));
    }
    let retired: Vec<&str> = done.retired.iter().map(Kid::as_str).collect();
    let mut text = format!("Activated key {kid}: it signs every new token.");
    for old in &retired {
        text.push_str(&format!(
            "\nRetired key {old}: published until {} so its tokens keep verifying.",
            time(ctx.now.saturating_add(MAX_TOKEN_LIFETIME))
        ));
    }
    let mut json = json!({"activated": kid.as_str(), "retired": retired, "at": ctx.now});
    add_alg_warning(&mut json, &mut text, done.key.alg);
    Ok(Output::new(json, text))
}

async fn retire(ctx: &Ctx, kid: &Kid, force: bool) -> Result<Output, AdminError> {
    ctx.op().retire_key(kid, force, ctx.now).await?;
    let until = ctx.now.saturating_add(MAX_TOKEN_LIFETIME);
    Ok(Output::new(
        json!({"retired": kid.as_str(), "at": ctx.now, "published_until": until}),
        format!(
            "Retired key {kid}; it stays published until {}.",
            time(until)
        ),
    ))
}

/// `keys revoke`: the compromise procedure. The key leaves the JWKS at the next
/// registry read of the JWKS function (its cache: 60 s, plus the documents' 300 s
/// `max-age` at verifiers) and never signs again; the token function stops signing
/// with it at its next registry read (60 s).
async fn revoke(
    ctx: &Ctx,
    kid: &Kid,
    activate: Option<Kid>,
    force: bool,
) -> Result<Output, AdminError> {
    let done = ctx
        .op()
        .revoke_key(kid, activate.as_ref(), force, ctx.now)
        .await?;
    if !done.changed {
        return Ok(Output::new(
            key_json(&done.key, false),
            format!("Key {kid} is already revoked."),
        ));
    }
    let mut text = format!(
        "Revoked key {kid}: removed from the JWKS within 60 s (verifiers may cache the JWKS \
         for 300 s more) and never signs again."
    );
    if let Some(next) = &done.promoted {
        text.push_str(&format!(
            "\nActivated key {next}: it signs every new token within 60 s."
        ));
    } else if done.key.status == KeyStatus::Active {
        text.push_str("\nNo key is active: no token is issued until one is activated.");
    }
    Ok(Output::new(
        json!({
            "revoked": kid.as_str(),
            "activated": done.promoted.as_ref().map(Kid::as_str),
            "at": ctx.now,
        }),
        text,
    ))
}

async fn list(ctx: &Ctx) -> Result<Output, AdminError> {
    let keys = ctx.op().keys(ctx.now).await?;
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|(k, published)| {
            vec![
                k.kid.to_string(),
                k.alg.as_str().to_owned(),
                k.status.as_str().to_owned(),
                time(k.created_at),
                opt_time(k.activated_at),
                opt_time(k.retired_at),
                if *published { "yes" } else { "no" }.to_owned(),
            ]
        })
        .collect();
    Ok(Output::new(
        json!({"keys": keys.iter().map(|(k, p)| key_json(k, *p)).collect::<Vec<_>>()}),
        table(
            &[
                "KID",
                "ALG",
                "STATUS",
                "CREATED",
                "ACTIVATED",
                "RETIRED",
                "PUBLISHED",
            ],
            &rows,
        ),
    ))
}

async fn delete(ctx: &Ctx, kid: &Kid, pending_days: i32) -> Result<Output, AdminError> {
    // Deleting needs no key policy: the vault only schedules the deletion.
    let vault = KmsVault::new(ctx.kms.clone(), "", "");
    let kms_key_id = ctx.op().key(kid).await?.kms_key_id;
    let (key, deletion) = ctx
        .op()
        .delete_key(&vault, kid, pending_days, ctx.now)
        .await
        .map_err(|e| match e {
            m2m_manage::ManageError::Vault(e) => AdminError::Failed(format!(
                "key {kid} was removed from the registry, but scheduling deletion of KMS key \
                 {kms_key_id} failed ({}); run `aws kms schedule-key-deletion --key-id {kms_key_id}`",
                m2m_core::error::Chain(&e),
            )),
            other => other.into(),
        })?;
    Ok(Output::new(
        json!({"deleted": kid.as_str(), "kms_key_id": key.kms_key_id, "kms_deletion_at": deletion}),
        format!(
            "Deleted key {kid}; KMS deletes key {} on {}.",
            key.kms_key_id,
            opt_time(deletion)
        ),
    ))
}
