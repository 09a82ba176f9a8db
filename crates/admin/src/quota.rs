//! Quotas on token requests (over one, the token endpoint answers 429 with
//! `Retry-After`, RFC 6585 §4): `m2m-admin client quota`, and how a quota is shown.
//! An organization's quota is in [`crate::org`].

use m2m_core::quota::Quota;
use m2m_core::types::ClientId;
use serde_json::{json, Value};

use crate::cli::QuotaArgs;
use crate::client::client_json;
use crate::context::Ctx;
use crate::error::AdminError;
use crate::output::Output;

/// The quota the arguments ask for: `None` for `--clear`. The rules check the limits.
pub fn requested(args: &QuotaArgs) -> Option<Quota> {
    (!args.clear).then_some(Quota {
        per_minute: args.per_minute,
        per_day: args.per_day,
    })
}

/// A quota in JSON: `{"per_minute", "per_day"}` (each null when unlimited), or null.
pub fn quota_json(quota: Option<&Quota>) -> Value {
    quota.map_or(
        Value::Null,
        |q| json!({"per_minute": q.per_minute, "per_day": q.per_day}),
    )
}

/// A quota in text: `100/min, 10000/day`, or `-`.
pub fn quota_text(quota: Option<&Quota>) -> String {
    let Some(q) = quota else {
        return "-".to_owned();
    };
    let parts: Vec<String> = [("min", q.per_minute), ("day", q.per_day)]
        .iter()
        .filter_map(|(unit, limit)| limit.map(|l| format!("{l}/{unit}")))
        .collect();
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join(", ")
    }
}

/// `client quota`.
///
/// # Errors
/// As [`AdminError`].
pub async fn client_quota(
    ctx: &Ctx,
    id: &ClientId,
    args: &QuotaArgs,
) -> Result<Output, AdminError> {
    let quota = requested(args);
    let client = ctx.op().set_client_quota(id, quota, None).await?;
    let text = match &client.quota {
        Some(q) => format!(
            "Client {id}: at most {} token requests (HTTP 429 beyond).",
            quota_text(Some(q))
        ),
        None => format!("Cleared the quota of client {id}."),
    };
    let text = match &client.org_quota {
        Some(q) => format!(
            "{text}\nIts organization's quota applies as well: {}.",
            quota_text(Some(q))
        ),
        None => text,
    };
    Ok(Output::new(client_json(&client, ctx.now), text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_shown() {
        let both = Quota {
            per_minute: Some(100),
            per_day: Some(10_000),
        };
        assert_eq!(quota_text(Some(&both)), "100/min, 10000/day");
        let day = Quota {
            per_minute: None,
            per_day: Some(5),
        };
        assert_eq!(quota_text(Some(&day)), "5/day");
        assert_eq!(quota_text(None), "-");
        assert_eq!(
            quota_json(Some(&day)),
            json!({"per_minute": null, "per_day": 5})
        );
        assert_eq!(quota_json(None), Value::Null);
    }
}
