//! `m2m-admin init`: makes a fresh deployment or local stack usable, idempotently —
//! the directory table (only against a local endpoint: in AWS the SAM template owns
//! it) and a first active signing key when none is active.

use m2m_aws::{create_table, TableCreation};
use m2m_core::model::KeyStatus;
use serde_json::json;

use crate::cli::InitArgs;
use crate::context::Ctx;
use crate::error::AdminError;
use crate::keys::{active_keys, create_key};
use crate::output::{fields, Output};

/// Runs `init`.
///
/// # Errors
/// [`AdminError::Refused`] when the table is missing and the endpoint is AWS itself;
/// otherwise as [`AdminError`].
pub async fn run(ctx: &Ctx, args: InitArgs) -> Result<Output, AdminError> {
    let table = ctx.store.table().to_owned();
    let table_state = if ctx.store.table_exists().await? {
        "existed"
    } else {
        let Some(endpoint) = &ctx.endpoint else {
            return Err(AdminError::Refused(format!(
                "table {table} does not exist. In AWS the SAM template creates it: deploy \
                 the stack (`sam deploy`) and set M2M_TABLE to its table; `init` creates \
                 tables only on a local stack (set AWS_ENDPOINT_URL to the emulator)"
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
    let (kid, key_state) = match active_keys(&keys, None).first() {
        Some(active) => (active.kid.clone(), "existed"),
        None => {
            // Nothing signs yet, so no verifier holds a token or a cached JWKS that the
            // new key could surprise: it is created active at once (`--force` semantics).
            let key = create_key(ctx, args.alg.into(), &args.stack, KeyStatus::Active).await?;
            (key.kid, "created")
        }
    };
    Ok(Output::new(
        json!({
            "table": table,
            "table_status": table_state,
            "active_kid": kid.as_str(),
            "key_status": key_state,
        }),
        format!(
            "Initialized.\n{}",
            fields(&[
                ("table", format!("{table} ({table_state})")),
                ("active key", format!("{kid} ({key_state})")),
            ])
        ),
    ))
}
