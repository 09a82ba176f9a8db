//! Control after issuance from the command line: `client revoke-tokens`,
//! `client introspection`, `client quota`, `token revoke`, `org quota` and `usage`. The
//! rules live in `m2m-manage` (`control`); this module renders their results.

use m2m_core::quota::{Quota, Subject};
use m2m_core::types::{ClientId, OrgId};
use serde_json::{json, Value};

use crate::cli::{OrgCommand, QuotaArgs, TokenCommand, UsageArgs};
use crate::client::client_json;
use crate::context::Ctx;
use crate::error::AdminError;
use crate::output::{table, time, Output};

fn quota_of(per_minute: Option<u64>, per_day: Option<u64>, clear: bool) -> Option<Quota> {
    (!clear).then_some(Quota {
        per_minute,
        per_day,
    })
}

fn quota_json(q: Option<&Quota>) -> Value {
    q.map_or(
        Value::Null,
        |q| json!({"per_minute": q.per_minute, "per_day": q.per_day}),
    )
}

fn quota_text(q: Option<&Quota>) -> String {
    match q {
        None => "none".to_owned(),
        Some(q) => {
            let mut parts = Vec::new();
            if let Some(m) = q.per_minute {
                parts.push(format!("{m} per minute"));
            }
            if let Some(d) = q.per_day {
                parts.push(format!("{d} per day"));
            }
            parts.join(", ")
        }
    }
}

/// `client revoke-tokens`.
///
/// # Errors
/// As [`AdminError`].
pub async fn revoke_tokens(ctx: &Ctx, client: &str) -> Result<Output, AdminError> {
    let c = ctx
        .op()
        .revoke_tokens(&ClientId::new(client), ctx.now, None)
        .await?;
    let not_before = c.not_before.unwrap_or(ctx.now);
    let mut doc = client_json(&c, ctx.now);
    doc["not_before"] = json!(not_before);
    Ok(Output::new(
        doc,
        format!(
            "Revoked every token of client {client} issued before {}.",
            time(not_before)
        ),
    ))
}

/// `client introspection`.
///
/// # Errors
/// As [`AdminError`].
pub async fn introspection(ctx: &Ctx, client: &str, allow: bool) -> Result<Output, AdminError> {
    let c = ctx
        .op()
        .set_introspection(&ClientId::new(client), allow, None)
        .await?;
    let mut doc = client_json(&c, ctx.now);
    doc["introspect"] = json!(c.introspect);
    let verb = if allow { "may now" } else { "may no longer" };
    Ok(Output::new(
        doc,
        format!("Client {client} {verb} introspect tokens."),
    ))
}

/// `client quota`.
///
/// # Errors
/// As [`AdminError`].
pub async fn client_quota(ctx: &Ctx, args: QuotaArgs) -> Result<Output, AdminError> {
    let quota = quota_of(args.per_minute, args.per_day, args.clear);
    let c = ctx
        .op()
        .set_client_quota(&ClientId::new(&args.client), quota, None)
        .await?;
    let mut doc = client_json(&c, ctx.now);
    doc["quota"] = quota_json(c.quota.as_ref());
    Ok(Output::new(
        doc,
        format!(
            "Client {}: quota {}.",
            args.client,
            quota_text(c.quota.as_ref())
        ),
    ))
}

/// `token ...`.
///
/// # Errors
/// As [`AdminError`].
pub async fn token(ctx: &Ctx, cmd: TokenCommand) -> Result<Output, AdminError> {
    match cmd {
        TokenCommand::Revoke {
            client,
            jti,
            expires_at,
        } => {
            ctx.op()
                .revoke_token(&ClientId::new(&client), &jti, expires_at, ctx.now)
                .await?;
            Ok(Output::new(
                json!({"client_id": client, "jti": jti, "revoked": true}),
                format!("Revoked token {jti} of client {client}; its other tokens keep working."),
            ))
        }
    }
}

/// `org ...`.
///
/// # Errors
/// As [`AdminError`].
pub async fn org(ctx: &Ctx, cmd: OrgCommand) -> Result<Output, AdminError> {
    match cmd {
        OrgCommand::Quota {
            org,
            per_minute,
            per_day,
            clear,
        } => {
            let done = ctx
                .op()
                .set_org_quota(&OrgId::new(&org), quota_of(per_minute, per_day, clear))
                .await?;
            Ok(Output::new(
                json!({
                    "org_id": org,
                    "quota": quota_json(done.quota.as_ref()),
                    "changed": done.changed.iter().map(ClientId::as_str).collect::<Vec<_>>(),
                    "unchanged": done.unchanged,
                }),
                format!(
                    "Organization {org}: quota {} (copied to {} client(s), {} already had it).",
                    quota_text(done.quota.as_ref()),
                    done.changed.len(),
                    done.unchanged
                ),
            ))
        }
    }
}

fn parse_time(value: &str) -> Result<u64, AdminError> {
    humantime::parse_rfc3339_weak(value)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .ok_or_else(|| AdminError::Invalid(format!("{value} is not an RFC 3339 time")))
}

/// `usage`.
///
/// # Errors
/// As [`AdminError`].
pub async fn usage(ctx: &Ctx, args: UsageArgs) -> Result<Output, AdminError> {
    let (subject, name) = match (&args.client, &args.org) {
        (Some(c), _) => (Subject::Client(c.clone()), format!("client {c}")),
        (None, Some(o)) => (Subject::Org(o.clone()), format!("organization {o}")),
        (None, None) => return Err(AdminError::Invalid("give --client or --org".into())),
    };
    let to = match &args.to {
        Some(t) => parse_time(t)?,
        None => ctx.now,
    };
    let from = match &args.from {
        Some(f) => parse_time(f)?,
        None => to.saturating_sub(args.hours.saturating_sub(1).saturating_mul(3600)),
    };
    let hours = ctx.op().usage(&subject, from, to).await?;
    let total: u64 = hours.iter().map(|(_, n)| n).sum();
    let rows: Vec<Vec<String>> = hours
        .iter()
        .map(|(h, n)| vec![time(*h), n.to_string()])
        .collect();
    let subject_json = match &subject {
        Subject::Client(c) => json!({"client_id": c}),
        Subject::Org(o) => json!({"org_id": o}),
    };
    Ok(Output::new(
        json!({
            "subject": subject_json,
            "from": m2m_core::quota::hour_of(from),
            "to": m2m_core::quota::hour_of(to),
            "hours": hours.iter().map(|(h, n)| json!({"hour": time(*h), "start": h, "count": n})).collect::<Vec<_>>(),
            "total": total,
        }),
        format!(
            "Tokens issued to {name}, per hour (UTC):\n{}\ntotal: {total}",
            table(&["hour", "tokens"], &rows)
        ),
    ))
}
