//! `m2m-admin api ...`: register, list, show, update and delete APIs (resource servers).

use m2m_core::model::{Api, Grant, Reuse};
use m2m_core::types::{Audience, ScopeSet};
use m2m_manage::{AdminStore as _, StoreError, Versioned};
use serde_json::{json, Value};

use crate::cli::{ApiCommand, ApiCreate, ApiUpdate, OnOff};
use crate::context::Ctx;
use crate::error::{api_not_found, kept_changing, AdminError};
use crate::output::{fields, table, Output};

/// Attempts of a read-modify-write before giving up on concurrent changes.
const ATTEMPTS: usize = 5;

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

/// The reuse setting after applying `on`, `pct` and `with_hook` to `current`.
fn reuse_with(
    current: Reuse,
    on: Option<OnOff>,
    pct: Option<u8>,
    with_hook: Option<OnOff>,
) -> Reuse {
    let (cur_pct, cur_hook) = match current {
        Reuse::On {
            min_remaining_pct,
            with_hook,
        } => (min_remaining_pct, with_hook),
        Reuse::Off => (m2m_core::model::DEFAULT_REUSE_MIN_REMAINING_PCT, false),
    };
    let enabled = match on {
        Some(OnOff::On) => true,
        Some(OnOff::Off) => false,
        None => current != Reuse::Off,
    };
    if enabled {
        Reuse::On {
            min_remaining_pct: pct.unwrap_or(cur_pct),
            with_hook: with_hook.map_or(cur_hook, |h| h == OnOff::On),
        }
    } else {
        Reuse::Off
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
        reuse: reuse_with(
            Reuse::Off,
            Some(args.reuse),
            Some(args.reuse_min_remaining),
            Some(args.reuse_with_hook),
        ),
    };
    match ctx.store.create_api(&api).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(AdminError::Refused(format!(
                "an API with identifier {} already exists: choose another identifier, or \
                 change it with `m2m-admin api update`",
                api.identifier
            )))
        }
        Err(e) => return Err(e.into()),
    }
    Ok(Output::new(
        api_json(&api),
        format!("Created API.\n{}", fields(&api_fields(&api))),
    ))
}

async fn list(ctx: &Ctx) -> Result<Output, AdminError> {
    let apis = ctx.store.list_apis().await?;
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
    let api = ctx
        .store
        .get_api(identifier)
        .await?
        .ok_or_else(|| api_not_found(identifier.as_str()))?
        .value;
    let grants = ctx.store.grants_for_api(identifier).await?;
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
    for _ in 0..ATTEMPTS {
        let current = ctx
            .store
            .get_api(&identifier)
            .await?
            .ok_or_else(|| api_not_found(identifier.as_str()))?;
        let mut api = current.value.clone();
        if let Some(name) = &args.name {
            api.name.clone_from(name);
        }
        if let Some(scopes) = &args.scopes {
            api.scopes = scopes.iter().cloned().collect();
        }
        for s in &args.add_scopes {
            api.scopes.insert(s.clone());
        }
        let removed: ScopeSet = args.remove_scopes.iter().cloned().collect();
        api.scopes = api.scopes.difference(&removed);
        if let Some(t) = args.token_lifetime {
            api.token_lifetime = t;
        }
        if let Some(p) = args.profile {
            api.profile = p.into();
        }
        api.reuse = reuse_with(
            api.reuse,
            args.reuse,
            args.reuse_min_remaining,
            args.reuse_with_hook,
        );
        // Scopes leaving the API leave its grants too, or the update is refused: a
        // grant keeping them would silently re-grant them if they were added back.
        let dropped = current.value.scopes.difference(&api.scopes);
        let trimmed: Vec<Grant> = if dropped.is_empty() {
            Vec::new()
        } else {
            ctx.store
                .grants_for_api(&identifier)
                .await?
                .into_iter()
                .filter(|g| !g.scopes.intersection(&dropped).is_empty())
                .map(|g| Grant {
                    scopes: g.scopes.difference(&dropped),
                    ..g
                })
                .collect()
        };
        if !trimmed.is_empty() && !args.cascade {
            let clients: Vec<&str> = trimmed.iter().map(|g| g.client_id.as_str()).collect();
            return Err(AdminError::Refused(format!(
                "scope(s) {} are granted to {} client(s) ({}); pass --cascade to remove them \
                 from those grants too, or remove them with `m2m-admin grant` first",
                scope_list(&dropped).join(" "),
                trimmed.len(),
                clients.join(", ")
            )));
        }
        let written = if trimmed.is_empty() {
            ctx.store.replace_api(&api, current.version).await
        } else {
            ctx.store
                .replace_api_with_grants(&api, current.version, &trimmed)
                .await
        };
        match written {
            Ok(()) => {
                let mut doc = api_json(&api);
                doc["grants_updated"] = trimmed
                    .iter()
                    .map(|g| Value::from(g.client_id.as_str()))
                    .collect();
                return Ok(Output::new(
                    doc,
                    format!("Updated API.\n{}", fields(&api_fields(&api))),
                ));
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(kept_changing(&format!("API {identifier}")))
}

async fn delete(ctx: &Ctx, identifier: &Audience, force: bool) -> Result<Output, AdminError> {
    for _ in 0..ATTEMPTS {
        let current = ctx
            .store
            .get_api(identifier)
            .await?
            .ok_or_else(|| api_not_found(identifier.as_str()))?;
        let grants = ctx.store.grants_for_api(identifier).await?;
        if !grants.is_empty() && !force {
            let clients: Vec<&str> = grants.iter().map(|g| g.client_id.as_str()).collect();
            return Err(AdminError::Refused(format!(
                "API {identifier} is granted to {} client(s) ({}); remove those grants with \
                 `m2m-admin grant remove`, or pass --force to delete the API and its grants",
                grants.len(),
                clients.join(", ")
            )));
        }
        match ctx
            .store
            .delete_api(identifier, current.version, &grants)
            .await
        {
            Ok(()) => {
                let clients: Vec<&str> = grants.iter().map(|g| g.client_id.as_str()).collect();
                return Ok(Output::new(
                    json!({"deleted": identifier.as_str(), "grants_deleted": clients}),
                    format!("Deleted API {identifier} and {} grant(s).", grants.len()),
                ));
            }
            // The API changed (e.g. a grant was added) between reading and deleting:
            // read again, so the decision is made on what is there now.
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(kept_changing(&format!("API {identifier}")))
}
