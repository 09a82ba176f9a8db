//! `m2m-admin usage`: tokens issued per hour to a client or an organization, with the
//! total, for billing and support. Counts reach the table up to a minute after the
//! tokens they count.

use m2m_core::quota::{hour_of, Subject};
use serde_json::json;

use crate::cli::UsageArgs;
use crate::context::Ctx;
use crate::error::AdminError;
use crate::output::{table, time, Output};

/// Runs `usage`.
///
/// # Errors
/// As [`AdminError`].
pub async fn run(ctx: &Ctx, args: UsageArgs) -> Result<Output, AdminError> {
    let (subject, subject_json, name) = match (args.client, args.org) {
        (Some(c), _) => (
            Subject::Client(c.clone()),
            json!({"client_id": c}),
            format!("client {c}"),
        ),
        (None, Some(o)) => (
            Subject::Org(o.clone()),
            json!({"org_id": o}),
            format!("organization {o}"),
        ),
        (None, None) => {
            return Err(AdminError::Invalid("give --client or --org".into()));
        }
    };
    // [from, to): the hours holding `from` through the instant before `to`.
    let (from, to) = match args.from {
        Some(from) => {
            let to = args.to.unwrap_or(ctx.now);
            if to <= from {
                return Err(AdminError::Invalid("--to must be after --from".to_owned()));
            }
            (from, to)
        }
        None => {
            let back = args.hours.saturating_sub(1).saturating_mul(3600);
            (
                hour_of(ctx.now).saturating_sub(back),
                ctx.now.saturating_add(1),
            )
        }
    };
    let hours = ctx.op().usage(&subject, from, to.saturating_sub(1)).await?;
    let total: u64 = hours.iter().map(|(_, n)| n).sum();
    let rows: Vec<Vec<String>> = hours
        .iter()
        .map(|(h, n)| vec![time(*h), n.to_string()])
        .collect();
    let (first, last) = (hour_of(from), hour_of(to.saturating_sub(1)));
    Ok(Output::new(
        json!({
            "subject": subject_json,
            "from": first,
            "to": last.saturating_add(3600),
            "hours": hours.iter().map(|(h, n)| json!({
                "hour": time(*h),
                "start": h,
                "count": n,
            })).collect::<Vec<_>>(),
            "total": total,
        }),
        format!(
            "Tokens issued to {name}, {} to {} (hours without tokens left out):\n{}\ntotal: {total}",
            time(first),
            time(last.saturating_add(3600)),
            table(&["HOUR (UTC)", "TOKENS"], &rows)
        ),
    ))
}
