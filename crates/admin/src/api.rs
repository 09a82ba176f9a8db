//! `m2m-admin api ...`: register, list, show, update and delete APIs (resource servers),
//! as `m2m-manage` rules them.

use m2m_core::model::{Api, Grant, Reuse};
use m2m_core::types::{Audience, ScopeSet};
use m2m_manage::apis::{ApiChange, ReusePatch};
use m2m_manage::Versioned;
use serde_json::{json, Value};

use crate::cli::{ApiCommand, ApiCreate, ApiUpdate, OnOff};
use crate::context::Ctx;
use crate::error::AdminError;
use crate::output::{fields, table, Output};

/// Runs one `api` command.
///
/// # Errors
/// As [`AdminError`].
pub async fn run(ctx: &Ctx, cmd: ApiCommand) -> Result<Output, AdminError> {
    match cmd {
        ApiCommand::Create(args) => create(ctx, args).await,
        ApiCommand::List => list(ctx).await,
        ApiCommand::Show { identifier } => show(ctx, &Audience::new(identifier)).await,
        ApiCommand::Update(args) => update(ctx, args).await,
        ApiCommand::Delete { identifier, force } => {
            delete(ctx, &Audience::new(identifier), force).await
        }
    }
}

fn scope_list(s: &ScopeSet) -> Vec<&str> {
    s.iter().map(|x| x.as_str()).collect()
}

fn reuse_json(r: Reuse) -> Value {
    match r {
        Reuse::Off => json!({"enabled": false}),
        Reuse::On {
            min_remaining_pct,
            with_hook,
        } => {
            json!({"enabled": true, "min_remaining_pct": min_remaining_pct, "with_hook": with_hook})
        }
    }
}

fn reuse_text(r: Reuse) -> String {
    match r {
        Reuse::Off => "off".to_owned(),
        Reuse::On {
            min_remaining_pct,
            with_hook,
        } => format!(
            "on while more than {min_remaining_pct} % of a token's lifetime is left{}",
            if with_hook {
                ", also with a claims hook"
            } else {
                ""
            }
        ),
    }
}

/// The reuse change the flags `on`, `pct` and `with_hook` ask for.
fn reuse_patch(on: Option<OnOff>, pct: Option<u8>, with_hook: Option<OnOff>) -> ReusePatch {
    ReusePatch {
        enabled: on.map(|o| o == OnOff::On),
        min_remaining_pct: pct,
        with_hook: with_hook.map(|h| h == OnOff::On),
    }
}

/// The JSON form of an API.
pub fn api_json(api: &Api) -> Value {
    json!({
        "identifier": api.identifier.as_str(),
        "name": api.name,
        "scopes": scope_list(&api.scopes),
        "token_lifetime": api.token_lifetime,
        "profile": api.profile.as_str(),
        "reuse": reuse_json(api.reuse),
    })
}

fn api_fields(api: &Api) -> Vec<(&'static str, String)> {
    vec![
        ("identifier", api.identifier.to_string()),
        ("name", api.name.clone()),
        ("scopes", scope_list(&api.scopes).join(" ")),
        ("token lifetime", format!("{} s", api.token_lifetime)),
        ("profile", api.profile.as_str().to_owned()),
        ("token reuse", reuse_text(api.reuse)),
    ]
}

async fn create(ctx: &Ctx, args: ApiCreate) -> Result<Output, AdminError> {
    let api = Api {
        name: args.name.unwrap_or_else(|| args.identifier.clone()),
        identifier: Audience::new(args.identifier),
        scopes: args.scopes.into_iter().collect(),
        token_lifetime: args.token_lifetime,
        profile: args.profile.into(),
        // Stored with the API, kept by `api update` unless changed there.
        reuse: reuse_patch(
            Some(args.reuse),
            Some(args.reuse_min_remaining),
            Some(args.reuse_with_hook),
        )
        .apply(Reuse::Off),
    };
    ctx.op().create_api(&api).await?;
    Ok(Output::new(
        api_json(&api),
        format!("Created API.\n{}", fields(&api_fields(&api))),
    ))
}

async fn list(ctx: &Ctx) -> Result<Output, AdminError> {
    let apis = ctx.op().apis().await?;
    let rows: Vec<Vec<String>> = apis
        .iter()
        .map(|Versioned { value: a, .. }| {
            vec![
                a.identifier.to_string(),
                a.name.clone(),
                a.token_lifetime.to_string(),
                a.profile.as_str().to_owned(),
                scope_list(&a.scopes).join(" "),
            ]
        })
        .collect();
    Ok(Output::new(
        json!({"apis": apis.iter().map(|a| api_json(&a.value)).collect::<Vec<_>>()}),
        table(
            &["IDENTIFIER", "NAME", "LIFETIME", "PROFILE", "SCOPES"],
            &rows,
        ),
    ))
}

fn grant_rows(grants: &[Grant]) -> Vec<Vec<String>> {
    grants
        .iter()
        .map(|g| vec![g.client_id.to_string(), scope_list(&g.scopes).join(" ")])
        .collect()
}

async fn show(ctx: &Ctx, identifier: &Audience) -> Result<Output, AdminError> {
    let (Versioned { value: api, .. }, grants) = ctx.op().api_with_grants(identifier).await?;
    let mut doc = api_json(&api);
    doc["grants"] = grants
        .iter()
        .map(|g| json!({"client_id": g.client_id.as_str(), "scopes": scope_list(&g.scopes)}))
        .collect();
    Ok(Output::new(
        doc,
        format!(
            "{}\n\nGranted to:\n{}",
            fields(&api_fields(&api)),
            table(&["CLIENT", "SCOPES"], &grant_rows(&grants))
        ),
    ))
}

async fn update(ctx: &Ctx, args: ApiUpdate) -> Result<Output, AdminError> {
    let identifier = Audience::new(args.identifier.clone());
    let nothing = args.name.is_none()
        && args.scopes.is_none()
        && args.add_scopes.is_empty()
        && args.remove_scopes.is_empty()
        && args.token_lifetime.is_none()
        && args.profile.is_none()
        && args.reuse.is_none()
        && args.reuse_min_remaining.is_none()
        && args.reuse_with_hook.is_none();
    if nothing {
        return Err(AdminError::Invalid(
            "nothing to change: pass --name, --scopes, --add-scopes, --remove-scopes, \
             --token-lifetime, --profile, --reuse, --reuse-min-remaining or --reuse-with-hook"
                .into(),
        ));
    }
    let change = ApiChange {
        name: args.name.clone(),
        scopes: args.scopes.as_ref().map(|s| s.iter().cloned().collect()),
        add_scopes: args.add_scopes.iter().cloned().collect(),
        remove_scopes: args.remove_scopes.iter().cloned().collect(),
        token_lifetime: args.token_lifetime,
        profile: args.profile.map(Into::into),
        reuse: reuse_patch(args.reuse, args.reuse_min_remaining, args.reuse_with_hook),
        cascade: args.cascade,
    };
    let updated = ctx.op().update_api(&identifier, &change, None).await?;
    let api = &updated.api.value;
    let mut doc = api_json(api);
    doc["grants_updated"] = updated
        .grants_updated
        .iter()
        .map(|g| Value::from(g.client_id.as_str()))
        .collect();
    Ok(Output::new(
        doc,
        format!("Updated API.\n{}", fields(&api_fields(api))),
    ))
}

async fn delete(ctx: &Ctx, identifier: &Audience, force: bool) -> Result<Output, AdminError> {
    let grants = ctx.op().delete_api(identifier, force, None).await?;
    let clients: Vec<&str> = grants.iter().map(|g| g.client_id.as_str()).collect();
    Ok(Output::new(
        json!({"deleted": identifier.as_str(), "grants_deleted": clients}),
        format!("Deleted API {identifier} and {} grant(s).", grants.len()),
    ))
}
