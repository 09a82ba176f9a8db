//! `/orgs/{org}/disable|enable`: offboarding a customer (every client of the
//! organization disabled in one call) and bringing it back.

use m2m_core::model::ClientStatus;
use m2m_core::types::OrgId;
use m2m_manage::keys::KeyVault;
use m2m_manage::AdminStore;
use serde_json::json;

use crate::reply::Reply;
use crate::request::{body, Empty};
use crate::route::Switch;
use crate::{Call, Outcome};

pub(crate) async fn switch<S: AdminStore, V: KeyVault>(
    call: &Call<'_, S, V>,
    org: &str,
    to: Switch,
) -> Outcome {
    let _: Empty = body(call.req)?;
    let status = match to {
        Switch::Disable => ClientStatus::Disabled,
        Switch::Enable => ClientStatus::Active,
    };
    let done = call
        .app
        .operator
        .set_org_status(&OrgId::new(org), status, call.now)
        .await?;
    Ok(Reply::ok(json!({
        "org_id": done.org_id.as_str(),
        "status": done.status.as_str(),
        "changed": done.changed.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
        "unchanged": done.unchanged,
    }))
    .target(org))
}
