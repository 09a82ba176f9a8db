//! `/apis`: register, list, read, change and delete APIs (resource servers).

use http::header::LOCATION;
use http::StatusCode;
use m2m_core::model::{Api, Profile, Reuse, DEFAULT_TOKEN_LIFETIME};
use m2m_core::types::Audience;
use m2m_manage::apis::{ApiChange, ReusePatch};
use m2m_manage::idempotency::{once, Outcome as Once};
use m2m_manage::keys::KeyVault;
use m2m_manage::AdminStore;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::Deserialize;
use serde_json::json;

use super::scopes;
use crate::reply::{Problem, Reply};
use crate::request::{body, idempotency, if_match, query};
use crate::route::PREFIX;
use crate::{render, Call, Outcome};

/// A reuse setting in a request: fields left out keep their current (or default)
/// values.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReuseBody {
    enabled: Option<bool>,
    min_remaining_pct: Option<u8>,
    with_hook: Option<bool>,
}

impl ReuseBody {
    fn patch(&self) -> ReusePatch {
        ReusePatch {
            enabled: self.enabled,
            min_remaining_pct: self.min_remaining_pct,
            with_hook: self.with_hook,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    identifier: String,
    name: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    token_lifetime: Option<u64>,
    profile: Option<String>,
    reuse: Option<ReuseBody>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    name: Option<String>,
    scopes: Option<Vec<String>>,
    #[serde(default)]
    add_scopes: Vec<String>,
    #[serde(default)]
    remove_scopes: Vec<String>,
    token_lifetime: Option<u64>,
    profile: Option<String>,
    reuse: Option<ReuseBody>,
    #[serde(default)]
    cascade: bool,
}

fn profile(p: Option<&str>) -> Result<Option<Profile>, Problem> {
    p.map(|p| {
        p.parse::<Profile>()
            .map_err(|_| Problem::invalid("profile must be rfc9068 or auth0"))
    })
    .transpose()
}

/// The path of API `id`.
pub(crate) fn location(id: &str) -> String {
    format!(
        "{PREFIX}/apis/{}",
        utf8_percent_encode(id, NON_ALPHANUMERIC)
    )
}

pub(crate) async fn list<S: AdminStore, V: KeyVault>(call: &Call<'_, S, V>) -> Outcome {
    let apis = call.app.operator.apis().await?;
    Ok(Reply::ok(json!({
        "apis": apis.iter().map(|a| render::api(&a.value, a.version)).collect::<Vec<_>>()
    })))
}

pub(crate) async fn create<S: AdminStore, V: KeyVault>(call: &Call<'_, S, V>) -> Outcome {
    let b: CreateBody = body(call.req)?;
    let key = idempotency(call.req, call.principal)?;
    let api = Api {
        name: b.name.clone().unwrap_or_else(|| b.identifier.clone()),
        identifier: Audience::new(b.identifier.clone()),
        scopes: scopes(&b.scopes)?,
        token_lifetime: b.token_lifetime.unwrap_or(DEFAULT_TOKEN_LIFETIME),
        profile: profile(b.profile.as_deref())?.unwrap_or_default(),
        reuse: b
            .reuse
            .as_ref()
            .map_or(Reuse::default(), |r| r.patch().apply(Reuse::default())),
    };
    let op = &call.app.operator;
    let created = once(
        &op.store,
        key.as_ref(),
        call.now,
        |a: &m2m_manage::Versioned<Api>| a.value.identifier.to_string(),
        || op.create_api(&api),
    )
    .await?;
    match created {
        Once::Created(a) => Ok(
            Reply::json(StatusCode::CREATED, render::api(&a.value, a.version))
                .etag(a.version)
                .header(LOCATION, location(a.value.identifier.as_str()))
                .target(a.value.identifier.as_str()),
        ),
        Once::Replayed(id) => {
            let a = op.api(&Audience::new(id)).await?;
            Ok(Reply::ok(render::api(&a.value, a.version))
                .etag(a.version)
                .header(LOCATION, location(a.value.identifier.as_str()))
                .header(crate::reply::REPLAYED, "true")
                .target(a.value.identifier.as_str()))
        }
    }
}

pub(crate) async fn get<S: AdminStore, V: KeyVault>(call: &Call<'_, S, V>, id: &str) -> Outcome {
    let (a, grants) = call
        .app
        .operator
        .api_with_grants(&Audience::new(id))
        .await?;
    let mut doc = render::api(&a.value, a.version);
    doc["grants"] = grants
        .iter()
        .map(|g| json!({"client_id": g.client_id.as_str(), "scopes": g.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>()}))
        .collect();
    Ok(Reply::ok(doc).etag(a.version))
}

pub(crate) async fn update<S: AdminStore, V: KeyVault>(call: &Call<'_, S, V>, id: &str) -> Outcome {
    let b: UpdateBody = body(call.req)?;
    let expected = if_match(call.req)?;
    let id = Audience::new(id);
    let op = &call.app.operator;
    let change = ApiChange {
        name: b.name,
        scopes: b.scopes.as_deref().map(scopes).transpose()?,
        add_scopes: scopes(&b.add_scopes)?,
        remove_scopes: scopes(&b.remove_scopes)?,
        token_lifetime: b.token_lifetime,
        profile: profile(b.profile.as_deref())?,
        reuse: b.reuse.as_ref().map(ReuseBody::patch).unwrap_or_default(),
        cascade: b.cascade,
    };
    let updated = op.update_api(&id, &change, expected).await?;
    let mut doc = render::api(&updated.api.value, updated.api.version);
    doc["grants_updated"] = updated
        .grants_updated
        .iter()
        .map(|g| json!(g.client_id.as_str()))
        .collect();
    Ok(Reply::ok(doc).etag(updated.api.version).target(id.as_str()))
}

pub(crate) async fn delete<S: AdminStore, V: KeyVault>(call: &Call<'_, S, V>, id: &str) -> Outcome {
    let expected = if_match(call.req)?;
    let force = match query(call.req, "force").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(Problem::invalid("force must be true or false")),
    };
    call.app
        .operator
        .delete_api(&Audience::new(id), force, expected)
        .await?;
    Ok(Reply::no_content().target(id))
}
