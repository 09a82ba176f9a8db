//! `m2m-admin keys ...`: the signing-key lifecycle of DESIGN.md "Keys and JWKS" —
//! `pending` (published, not signing) → `active` (signs; exactly one) → `retired`
//! (published until every token it signed has expired) → deleted; and `revoked`
//! (compromised: never published, never signs) from any state.
//!
//! Two timing rules protect verifiers: a key is activated only once it has been
//! published for the JWKS cache lifetime (so every verifier's cached JWKS already holds
//! it), and a retired key is deleted only when no token it signed can still be valid.

use m2m_aws::kms::keys::{create_kms_signing_key, schedule_kms_key_deletion};
use m2m_aws::public_jwk;
use m2m_core::jwk::JwkSet;
use m2m_core::model::{Alg, KeyStatus, SigningKey, MAX_TOKEN_LIFETIME};
use m2m_core::types::Kid;
use m2m_manage::{AdminStore as _, StoreError};
use serde_json::{json, Value};

use crate::cli::KeysCommand;
use crate::context::Ctx;
use crate::error::{key_not_found, AdminError};
use crate::key_policy::{partition_and_account, resolve_stack, signing_key_policy};
use crate::output::{fields, opt_time, table, time, Output};

/// The JWKS `Cache-Control: max-age` (DESIGN.md): how long a verifier may keep using a
/// JWKS fetched before a key was published.
pub const JWKS_MAX_AGE: u64 = 300;
/// How long a new key must be published before it may sign: the JWKS function's
/// in-memory key-set cache (60 s, `jwks::cache::KEY_SET_TTL_SECS`) plus the
/// `max-age` verifiers may cache the document for. Until then some verifier may hold a
/// JWKS without the key and reject its tokens.
pub const PUBLISH_DELAY: u64 = 60 + JWKS_MAX_AGE;
/// KMS's shortest deletion window, used to clean up a key whose registration failed.
const CLEANUP_PENDING_DAYS: i32 = 7;

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
    let kms_error = |e: m2m_core::error::PortError| {
        AdminError::Failed(format!(
            "KMS request failed: {}. Check AWS_REGION, credentials (kms:CreateKey, \
             kms:GetPublicKey, kms:TagResource, and kms:PutKeyPolicy: KMS refuses a key \
             policy its creator could not change) and AWS_ENDPOINT_URL for the local stack",
            m2m_core::error::Chain(&e)
        ))
    };
    let policy = key_policy(ctx, stack).await?;
    let key_id = create_kms_signing_key(&ctx.kms, alg, stack, &policy)
        .await
        .map_err(kms_error)?;
    let registered = async {
        let public = public_jwk(&ctx.kms, &key_id).await.map_err(kms_error)?;
        let key = SigningKey {
            kid: public
                .jwk
                .kid
                .clone()
                .unwrap_or_else(|| public.jwk.thumbprint()),
            kms_key_id: public.key_arn,
            alg,
            status,
            public_jwk: public.jwk,
            created_at: ctx.now,
            activated_at: (status == KeyStatus::Active).then_some(ctx.now),
            retired_at: None,
        };
        ctx.store.create_key(&key).await?;
        Ok::<_, AdminError>(key)
    }
    .await;
    if registered.is_err() {
        // Best effort: the error being reported matters more than this cleanup's.
        let _ = schedule_kms_key_deletion(&ctx.kms, &key_id, CLEANUP_PENDING_DAYS).await;
    }
    registered
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

/// Keys currently active other than `except`.
pub fn active_keys<'a>(keys: &'a [SigningKey], except: Option<&Kid>) -> Vec<&'a SigningKey> {
    keys.iter()
        .filter(|k| k.status == KeyStatus::Active && Some(&k.kid) != except)
        .collect()
}

async fn activate(ctx: &Ctx, kid: &Kid, force: bool) -> Result<Output, AdminError> {
    let key = ctx
        .store
        .get_key(kid)
        .await?
        .ok_or_else(|| key_not_found(kid.as_str()))?;
    match key.status {
        KeyStatus::Active => {
            return Ok(Output::new(
                key_json(&key, true),
                format!("Key {kid} is already the active key."),
            ))
        }
        KeyStatus::Retired | KeyStatus::Revoked => {
            return Err(AdminError::Refused(format!(
                "key {kid} is {} and is not reactivated; create a new key with \
                 `m2m-admin keys create` and activate that",
                key.status.as_str()
            )))
        }
        KeyStatus::Pending => {}
    }
    let ready_at = key.created_at.saturating_add(PUBLISH_DELAY);
    if ctx.now < ready_at && !force {
        return Err(AdminError::Refused(format!(
            "key {kid} was published {} s ago; verifiers may hold a JWKS without it for {PUBLISH_DELAY} s \
             and would reject its tokens until they refresh. Activate it after {}, or pass \
             --force if no verifier has fetched the JWKS since {}",
            ctx.now.saturating_sub(key.created_at),
            time(ready_at),
            time(key.created_at)
        )));
    }
    let keys = ctx.store.list_keys().await?;
    let previous: Vec<Kid> = active_keys(&keys, Some(kid))
        .into_iter()
        .map(|k| k.kid.clone())
        .collect();
    match ctx
        .store
        .activate_key(kid, KeyStatus::Pending, &previous, ctx.now)
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict(what)) => {
            return Err(AdminError::Refused(format!(
                "{what} changed while activating (another operator?); nothing was written. \
                 Check `m2m-admin keys list` and run the command again"
            )))
        }
        Err(e) => return Err(e.into()),
    }
    let retired: Vec<&str> = previous.iter().map(Kid::as_str).collect();
    let mut text = format!("Activated key {kid}: it signs every new token.");
    for old in &retired {
        text.push_str(&format!(
            "\nRetired key {old}: published until {} so its tokens keep verifying.",
            time(ctx.now.saturating_add(MAX_TOKEN_LIFETIME))
        ));
    }
    let mut json = json!({"activated": kid.as_str(), "retired": retired, "at": ctx.now});
    add_alg_warning(&mut json, &mut text, key.alg);
    Ok(Output::new(json, text))
}

async fn retire(ctx: &Ctx, kid: &Kid, force: bool) -> Result<Output, AdminError> {
    let key = ctx
        .store
        .get_key(kid)
        .await?
        .ok_or_else(|| key_not_found(kid.as_str()))?;
    match key.status {
        KeyStatus::Retired => {
            return Err(AdminError::Refused(format!(
                "key {kid} is already retired (since {})",
                opt_time(key.retired_at)
            )))
        }
        KeyStatus::Revoked => {
            return Err(AdminError::Refused(format!(
                "key {kid} is revoked; it is neither published nor signing"
            )))
        }
        KeyStatus::Active if !force => {
            return Err(AdminError::Refused(format!(
                "key {kid} is the active key; retiring it leaves no active key, and the token \
                 function stops signing within 10 minutes. To rotate, create and activate a \
                 new key (which retires this one); to retire it anyway, pass --force"
            )))
        }
        KeyStatus::Active | KeyStatus::Pending => {}
    }
    ctx.store.retire_key(kid, key.status, ctx.now).await?;
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
    let key = ctx
        .store
        .get_key(kid)
        .await?
        .ok_or_else(|| key_not_found(kid.as_str()))?;
    if key.status == KeyStatus::Revoked {
        return Ok(Output::new(
            key_json(&key, false),
            format!("Key {kid} is already revoked."),
        ));
    }
    let keys = ctx.store.list_keys().await?;
    let pending: Vec<&SigningKey> = keys
        .iter()
        .filter(|k| k.status == KeyStatus::Pending && &k.kid != kid)
        .collect();
    let promote = match (&activate, key.status) {
        (Some(next), _) => {
            if !pending.iter().any(|k| &k.kid == next) {
                return Err(AdminError::Refused(format!(
                    "key {next} is not a pending key; `m2m-admin keys list` shows the keys"
                )));
            }
            Some(next.clone())
        }
        (None, KeyStatus::Active) => match pending.as_slice() {
            [only] => Some(only.kid.clone()),
            [] if force => None,
            [] => {
                return Err(AdminError::Refused(format!(
                    "key {kid} is the active key and no key is pending to take over; create one \
                     with `m2m-admin keys create` and pass --activate <kid>, or pass --force to \
                     revoke it now and issue no token until a key is activated"
                )))
            }
            several => {
                let kids: Vec<&str> = several.iter().map(|k| k.kid.as_str()).collect();
                return Err(AdminError::Refused(format!(
                    "several keys are pending ({}); choose the one to activate with --activate <kid>",
                    kids.join(", ")
                )));
            }
        },
        (None, _) => None,
    };
    match ctx
        .store
        .revoke_key(kid, key.status, promote.as_ref(), ctx.now)
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict(what)) => {
            return Err(AdminError::Refused(format!(
                "{what} changed while revoking (another operator?); nothing was written. \
                 Check `m2m-admin keys list` and run the command again"
            )))
        }
        Err(e) => return Err(e.into()),
    }
    let mut text = format!(
        "Revoked key {kid}: removed from the JWKS within 60 s (verifiers may cache the JWKS \
         for 300 s more) and never signs again."
    );
    if let Some(next) = &promote {
        text.push_str(&format!(
            "\nActivated key {next}: it signs every new token within 60 s."
        ));
    } else if key.status == KeyStatus::Active {
        text.push_str("\nNo key is active: no token is issued until one is activated.");
    }
    Ok(Output::new(
        json!({
            "revoked": kid.as_str(),
            "activated": promote.as_ref().map(Kid::as_str),
            "at": ctx.now,
        }),
        text,
    ))
}

async fn list(ctx: &Ctx) -> Result<Output, AdminError> {
    let keys = ctx.store.list_keys().await?;
    let published = JwkSet::published(&keys, ctx.now);
    let is_published = |k: &SigningKey| published.find(&k.kid).is_some();
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            vec![
                k.kid.to_string(),
                k.alg.as_str().to_owned(),
                k.status.as_str().to_owned(),
                time(k.created_at),
                opt_time(k.activated_at),
                opt_time(k.retired_at),
                if is_published(k) { "yes" } else { "no" }.to_owned(),
            ]
        })
        .collect();
    Ok(Output::new(
        json!({"keys": keys.iter().map(|k| key_json(k, is_published(k))).collect::<Vec<_>>()}),
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
    let key = ctx
        .store
        .get_key(kid)
        .await?
        .ok_or_else(|| key_not_found(kid.as_str()))?;
    let retired_at = match (key.status, key.retired_at) {
        (KeyStatus::Retired, Some(t)) => t,
        (KeyStatus::Retired, None) => {
            return Err(AdminError::Refused(format!(
                "key {kid} has no retirement time, so when its last token expires is unknown; \
                 it is kept"
            )))
        }
        _ => {
            return Err(AdminError::Refused(format!(
                "key {kid} is {}; only a retired key can be deleted (`m2m-admin keys retire`)",
                key.status.as_str()
            )))
        }
    };
    let safe_at = retired_at.saturating_add(MAX_TOKEN_LIFETIME);
    if ctx.now < safe_at {
        return Err(AdminError::Refused(format!(
            "tokens signed by key {kid} may be valid until {}; it must stay published until \
             then. Delete it after that time",
            time(safe_at)
        )));
    }
    ctx.store.delete_key(kid, retired_at).await?;
    let deletion = schedule_kms_key_deletion(&ctx.kms, &key.kms_key_id, pending_days)
        .await
        .map_err(|e| {
            AdminError::Failed(format!(
                "key {kid} was removed from the registry, but scheduling deletion of KMS key {} \
                 failed ({}); run `aws kms schedule-key-deletion --key-id {}`",
                key.kms_key_id,
                m2m_core::error::Chain(&e),
                key.kms_key_id
            ))
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
