//! `/keys`: the signing-key lifecycle — create (pending), activate, retire, revoke.

use http::StatusCode;
use m2m_core::model::{Alg, KeyStatus};
use m2m_core::types::Kid;
use m2m_manage::idempotency::{once, Outcome as Once};
use m2m_manage::keys::KeyVault;
use m2m_manage::AdminStore;
use serde::Deserialize;
use serde_json::json;

use crate::reply::{Problem, Reply, REPLAYED};
use crate::request::{body, idempotency};
use crate::route::KeyStep;
use crate::{render, Call, Outcome};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    alg: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepBody {
    #[serde(default)]
    force: bool,
    activate: Option<String>,
}

pub(crate) async fn list<S: AdminStore, V: KeyVault>(call: &Call<'_, S, V>) -> Outcome {
    let keys = call.app.operator.keys(call.now).await?;
    Ok(Reply::ok(json!({
        "keys": keys.iter().map(|(k, p)| render::key(k, *p)).collect::<Vec<_>>()
    })))
}

pub(crate) async fn create<S: AdminStore, V: KeyVault>(call: &Call<'_, S, V>) -> Outcome {
    let b: CreateBody = body(call.req)?;
    let alg = match b.alg.as_deref() {
        None => Alg::RS256,
        Some(a) => a
            .parse::<Alg>()
            .map_err(|_| Problem::invalid("alg must be RS256 or ES256"))?,
    };
    let key = idempotency(call.req, call.principal)?;
    let op = &call.app.operator;
    let made = once(
        &op.store,
        key.as_ref(),
        call.now,
        |k: &m2m_core::model::SigningKey| k.kid.to_string(),
        || op.create_key(&call.app.vault, alg, KeyStatus::Pending, call.now),
    )
    .await?;
    match made {
        Once::Created(k) => {
            Ok(Reply::json(StatusCode::CREATED, render::key(&k, true)).target(k.kid.as_str()))
        }
        Once::Replayed(kid) => {
            // Published or not by the JWKS's one rule, as in the listing.
            let kid = Kid::new(kid);
            let (k, published) = op
                .keys(call.now)
                .await?
                .into_iter()
                .find(|(k, _)| k.kid == kid)
                .ok_or_else(|| {
                    Problem::from(m2m_manage::ManageError::NotFound(m2m_manage::Target::Key(
                        kid,
                    )))
                })?;
            Ok(Reply::ok(render::key(&k, published))
                .header(REPLAYED, "true")
                .target(k.kid.as_str()))
        }
    }
}

pub(crate) async fn step<S: AdminStore, V: KeyVault>(
    call: &Call<'_, S, V>,
    kid: &str,
    step: KeyStep,
) -> Outcome {
    let b: StepBody = body(call.req)?;
    let kid = Kid::new(kid);
    let op = &call.app.operator;
    if b.activate.is_some() && step != KeyStep::Revoke {
        return Err(Problem::invalid("activate is a field of revoke only"));
    }
    let doc = match step {
        KeyStep::Activate => {
            let done = op.activate_key(&kid, b.force, call.now).await?;
            json!({
                "activated": kid.as_str(),
                "retired": done.retired.iter().map(Kid::as_str).collect::<Vec<_>>(),
                "at": call.now,
            })
        }
        KeyStep::Retire => {
            op.retire_key(&kid, b.force, call.now).await?;
            json!({
                "retired": kid.as_str(),
                "at": call.now,
                "published_until": call.now.saturating_add(m2m_core::model::MAX_TOKEN_LIFETIME),
            })
        }
        KeyStep::Revoke => {
            let next = b.activate.map(Kid::new);
            let done = op
                .revoke_key(&kid, next.as_ref(), b.force, call.now)
                .await?;
            json!({
                "revoked": kid.as_str(),
                "activated": done.promoted.as_ref().map(Kid::as_str),
                "at": call.now,
            })
        }
    };
    Ok(Reply::ok(doc).target(kid.as_str()))
}
