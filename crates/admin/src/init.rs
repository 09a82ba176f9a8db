//! `m2m-admin init`: makes a fresh deployment or local stack usable, idempotently —
//! the directory table (only against a local endpoint: in AWS the SAM template owns
//! it) and a first active signing key when none is active.
//!
//! A deployed stack already has its first key: the template's `SigningKey`, found by
//! its alias `alias/m2m-auth/<stack>`, tagged for the stack and with the key policy
//! that lets its token role sign. `init` registers that key (so the JWKS publishes it)
//! and creates nothing in KMS. Only a local stack without that alias gets a new key.
//! Last, it turns on the table's deletion protection, which the template leaves unset so
//! that a failed first deploy can roll back cleanly.

use aws_sdk_kms::error::DisplayErrorContext;
use m2m_aws::kms::keys::STACK_TAG;
use m2m_aws::{create_table, protect_table, public_jwk, TableCreation};
use m2m_core::model::{KeyStatus, SigningKey};
use m2m_manage::AdminStore as _;
use serde_json::json;

use crate::cli::InitArgs;
use crate::context::Ctx;
use crate::error::AdminError;
use crate::key_policy::{resolve_stack, stack_alias};
use crate::keys::{active_keys, add_alg_warning, create_key};
use crate::output::{fields, Output};

/// Runs `init`.
///
/// # Errors
/// [`AdminError::Invalid`] without a stack name against AWS; [`AdminError::Refused`]
/// when the table or the stack's key alias is missing in AWS, or the stack's key is
/// already registered but not active; otherwise as [`AdminError`].
pub async fn run(ctx: &Ctx, args: InitArgs) -> Result<Output, AdminError> {
    let stack = resolve_stack(args.stack.as_deref(), ctx.endpoint.is_some())?;
    let table = ctx.store.table().to_owned();
    let table_state = if ctx.store.table_exists().await? {
        "existed"
    } else {
        let Some(endpoint) = &ctx.endpoint else {
            return Err(AdminError::Refused(format!(
                "table {table} does not exist. In AWS the SAM template creates it: deploy \
                 the stack (`sam deploy`) and set M2M_TABLE to its TableName output; `init` \
                 creates tables only on a local stack (set AWS_ENDPOINT_URL to the emulator)"
            )));
        };
        match create_table(&ctx.dynamo, &table).await {
            Ok(TableCreation::Created) => "created",
            Ok(TableCreation::AlreadyExisted) => "existed",
            Err(e) => {
                return Err(AdminError::Failed(format!(
                    "creating table {table} at {endpoint} failed: {}",
                    m2m_core::error::Chain(&e)
                )))
            }
        }
    };
    let keys = ctx.store.list_keys().await?;
    let (key, key_state) = match active_keys(&keys, None).first() {
        Some(active) => ((*active).clone(), "existed"),
        None => match stack_key_arn(ctx, &stack).await? {
            Some(arn) => (register_stack_key(ctx, &stack, &arn).await?, "registered"),
            None if ctx.endpoint.is_some() => {
                // Nothing signs yet, so no verifier holds a token or a cached JWKS that
                // the new key could surprise: it is created active at once.
                let key = create_key(ctx, args.alg.into(), &stack, KeyStatus::Active).await?;
                (key, "created")
            }
            None => {
                return Err(AdminError::Refused(format!(
                    "no KMS key has the alias {} in this region: is `{stack}` the name of the \
                     stack `sam deploy` created, and AWS_REGION its region? `init` registers \
                     that stack's own key and creates none in AWS",
                    stack_alias(&stack)
                )))
            }
        },
    };
    // Last, once the stack is known to be usable: the template leaves the table
    // unprotected so that a first deploy's rollback can delete it.
    let protection = match protect_table(&ctx.dynamo, &table).await {
        Ok(true) => "enabled",
        Ok(false) => "already enabled",
        Err(e) => {
            return Err(AdminError::Failed(format!(
                "turning on deletion protection for table {table} failed: {}                  (needs dynamodb:DescribeTable and dynamodb:UpdateTable)",
                m2m_core::error::Chain(&e)
            )))
        }
    };
    let mut json = json!({
        "table": table,
        "table_status": table_state,
        "deletion_protection": protection,
        "stack": stack,
        "active_kid": key.kid.as_str(),
        "kms_key_id": key.kms_key_id,
        "key_status": key_state,
    });
    let mut text = format!(
        "Initialized.\n{}",
        fields(&[
            ("table", format!("{table} ({table_state})")),
            ("deletion protection", protection.to_owned()),
            ("stack", stack.clone()),
            ("active key", format!("{} ({key_state})", key.kid)),
            ("kms key", key.kms_key_id.clone()),
        ])
    );
    if key_state == "existed" {
        if let Some(tagged) = tagged_for_other_stack(ctx, &key, &stack).await {
            let warning = format!(
                "the active key {} is tagged for stack `{tagged}`, not `{stack}`: the \
                 token function of `{stack}` may not sign with it. Create a key with \
                 `m2m-admin keys create --stack {stack}` and activate it",
                key.kid
            );
            text.push_str(&format!("\n\nWarning: {warning}."));
            json["warning"] = json!(warning);
        }
    } else {
        add_alg_warning(&mut json, &mut text, key.alg);
    }
    Ok(Output::new(json, text))
}

/// The stack an existing active key is tagged for, when it is not `stack` (a key made
/// for another stack, or by an older `init` for `local`). Best effort: without
/// kms:ListResourceTags, or for an untagged key, nothing is reported.
async fn tagged_for_other_stack(ctx: &Ctx, key: &SigningKey, stack: &str) -> Option<String> {
    let tags = ctx
        .kms
        .list_resource_tags()
        .key_id(&key.kms_key_id)
        .send()
        .await
        .ok()?
        .tags?;
    tags.into_iter()
        .find(|t| t.tag_key == STACK_TAG)
        .map(|t| t.tag_value)
        .filter(|tagged| tagged != stack)
}

/// The ARN of the key behind the stack's alias, or `None` when there is no such alias.
async fn stack_key_arn(ctx: &Ctx, stack: &str) -> Result<Option<String>, AdminError> {
    let alias = stack_alias(stack);
    match ctx.kms.describe_key().key_id(&alias).send().await {
        Ok(out) => Ok(out.key_metadata.and_then(|m| m.arn.or(Some(m.key_id)))),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(AdminError::Failed(format!(
            "KMS DescribeKey {alias} failed: {}. Check AWS_REGION and credentials \
             (kms:DescribeKey, kms:GetPublicKey)",
            DisplayErrorContext(&e)
        ))),
    }
}

/// Registers the stack's own key as the active key: the key the token function already
/// signs with while the registry has none (`M2M_SIGNING_KEY` is the same alias), so
/// its `kid` does not change and the JWKS now publishes it.
async fn register_stack_key(ctx: &Ctx, stack: &str, arn: &str) -> Result<SigningKey, AdminError> {
    let public = public_jwk(&ctx.kms, arn).await.map_err(|e| {
        AdminError::Failed(format!(
            "reading the public key of {} ({arn}) failed: {}",
            stack_alias(stack),
            m2m_core::error::Chain(&e)
        ))
    })?;
    let kid = public
        .jwk
        .kid
        .clone()
        .unwrap_or_else(|| public.jwk.thumbprint());
    if let Some(existing) = ctx.store.get_key(&kid).await? {
        return Err(AdminError::Refused(format!(
            "the stack's key {kid} is already registered, as {}; with no active key the token \
             function signs with it anyway. Activate a key with `m2m-admin keys activate`, \
             or create one with `m2m-admin keys create --stack {stack}`",
            status_name(&existing)
        )));
    }
    let key = SigningKey {
        kid,
        kms_key_id: arn.to_owned(),
        alg: public.alg,
        status: KeyStatus::Active,
        public_jwk: public.jwk,
        created_at: ctx.now,
        activated_at: Some(ctx.now),
        retired_at: None,
    };
    ctx.store.create_key(&key).await?;
    Ok(key)
}

fn status_name(key: &SigningKey) -> String {
    format!("{:?}", key.status).to_lowercase()
}
