//! `m2m-admin org ...`: an organization's quota (on its record and copied onto every
//! client of it, present and future), its clients, and offboarding (every client
//! disabled and its tokens revoked, or enabled again). The rules live in `m2m-manage`.

use m2m_core::model::ClientStatus;
use m2m_core::types::OrgId;
use m2m_manage::ClientFilter;
use serde_json::json;

use crate::cli::OrgCommand;
use crate::context::Ctx;
use crate::error::AdminError;
use crate::output::{fields, table, Output};
use crate::quota::{quota_json, quota_text, requested};

/// Runs one `org` command.
///
/// # Errors
/// As [`AdminError`].
pub async fn run(ctx: &Ctx, cmd: OrgCommand) -> Result<Output, AdminError> {
    match cmd {
        OrgCommand::Show { org } => show(ctx, &OrgId::new(org)).await,
        OrgCommand::Quota { org, quota } => {
            let org = OrgId::new(org);
            let done = ctx.op().set_org_quota(&org, requested(&quota)).await?;
            let quota = done.org.quota;
            let head = match &quota {
                Some(q) => format!(
                    "Organization {org}: its clients together make at most {} token \
                     requests (HTTP 429 beyond).",
                    quota_text(Some(q))
                ),
                None => format!("Cleared the quota of organization {org}."),
            };
            Ok(Output::new(
                json!({
                    "org_id": org.as_str(),
                    "quota": quota_json(quota.as_ref()),
                    "version": done.version,
                    "clients_updated": done.updated.len(),
                    "clients_unchanged": done.unchanged,
                    "updated": done.updated.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                }),
                format!(
                    "{head}\nCopied onto {} client(s) ({} had it already); clients created \
                     later start with it.",
                    done.updated.len(),
                    done.unchanged
                ),
            ))
        }
        OrgCommand::Disable { org } => switch(ctx, &OrgId::new(org), ClientStatus::Disabled).await,
        OrgCommand::Enable { org } => switch(ctx, &OrgId::new(org), ClientStatus::Active).await,
    }
}

async fn show(ctx: &Ctx, org: &OrgId) -> Result<Output, AdminError> {
    let op = ctx.op();
    let record = op.org(org).await?;
    let clients = op
        .all_clients(&ClientFilter {
            org: Some(org.clone()),
        })
        .await?;
    let quota = record.as_ref().and_then(|r| r.value.quota);
    let rows: Vec<Vec<String>> = clients
        .iter()
        .map(|c| {
            vec![
                c.id.to_string(),
                c.name.clone(),
                c.status.as_str().to_owned(),
                quota_text(c.quota.as_ref()),
            ]
        })
        .collect();
    Ok(Output::new(
        json!({
            "org_id": org.as_str(),
            "quota": quota_json(quota.as_ref()),
            "version": record.as_ref().map(|r| r.version),
            "clients": clients.iter().map(|c| json!({
                "client_id": c.id.as_str(),
                "name": c.name,
                "status": c.status.as_str(),
                "quota": quota_json(c.quota.as_ref()),
            })).collect::<Vec<_>>(),
        }),
        format!(
            "{}\n\nClients:\n{}",
            fields(&[
                ("org", org.to_string()),
                ("quota", quota_text(quota.as_ref())),
            ]),
            table(&["CLIENT ID", "NAME", "STATUS", "OWN QUOTA"], &rows)
        ),
    ))
}

async fn switch(ctx: &Ctx, org: &OrgId, status: ClientStatus) -> Result<Output, AdminError> {
    let done = ctx.op().set_org_status(org, status, ctx.now).await?;
    let text = match status {
        ClientStatus::Disabled => format!(
            "Disabled {} client(s) of organization {org} and revoked the tokens they were \
             issued; {} were disabled already.",
            done.changed.len(),
            done.unchanged
        ),
        ClientStatus::Active => format!(
            "Enabled {} client(s) of organization {org}; {} were active already. Revoked \
             tokens stay revoked.",
            done.changed.len(),
            done.unchanged
        ),
    };
    Ok(Output::new(
        json!({
            "org_id": done.org_id.as_str(),
            "status": done.status.as_str(),
            "changed": done.changed.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            "unchanged": done.unchanged,
        }),
        text,
    ))
}
