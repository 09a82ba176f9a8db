//! The command line of control after issuance: quotas (of a client or an
//! organization), token revocation by id, organizations, usage, and the instants they
//! take.

use std::time::UNIX_EPOCH;

use clap::{ArgGroup, Args, Subcommand};

use m2m_manage::quotas::MAX_USAGE_HOURS;

/// The limits of a quota, or `--clear`. The quota given replaces the previous one.
#[derive(Debug, Args)]
#[group(required = true, multiple = true)]
pub struct QuotaArgs {
    /// At most N token requests per UTC minute (1 to 1000000000); more get HTTP 429.
    #[arg(long, value_name = "N", conflicts_with = "clear")]
    pub per_minute: Option<u64>,
    /// At most N token requests per UTC day (1 to 1000000000, at least --per-minute).
    #[arg(long, value_name = "N", conflicts_with = "clear")]
    pub per_day: Option<u64>,
    /// Remove every limit.
    #[arg(long)]
    pub clear: bool,
}

/// `m2m-admin token ...`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Revoke one access token by its jti (RFC 7009): verifiers that read revocations
    /// (the authorizer, introspection) refuse it until it expires. The client's other
    /// tokens stay valid.
    #[command(group(ArgGroup::new("expiry").args(["expires_at", "expires_in"])))]
    Revoke {
        /// The client the token was issued to (its `client_id` claim).
        #[arg(long, value_name = "CLIENT_ID")]
        client: String,
        /// The token's `jti` claim; it may begin with a dash.
        #[arg(long, value_name = "JTI", allow_hyphen_values = true)]
        jti: String,
        /// The token's `exp`: Unix seconds or RFC 3339 UTC (2026-11-23T10:00:00Z).
        /// Default: the longest a token lives (24 h) from now.
        #[arg(long, value_name = "TIME", value_parser = parse_instant)]
        expires_at: Option<u64>,
        /// The token expires this long from now: 90s, 30m, 24h.
        #[arg(long, value_name = "DURATION", value_parser = super::parse_duration)]
        expires_in: Option<u64>,
    },
}

/// `m2m-admin org ...`
#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Show an organization's quota and its clients.
    Show {
        /// The organization id.
        #[arg(long, value_name = "ORG_ID")]
        org: String,
    },
    /// Set or clear the quota an organization's clients share (HTTP 429 over it),
    /// copied onto every present client; clients created later start with it.
    Quota {
        /// The organization id.
        #[arg(long, value_name = "ORG_ID")]
        org: String,
        /// The limits.
        #[command(flatten)]
        quota: QuotaArgs,
    },
    /// Disable every client of an organization (offboarding) and revoke the tokens
    /// they were issued.
    Disable {
        /// The organization id.
        #[arg(long, value_name = "ORG_ID")]
        org: String,
    },
    /// Enable every client of an organization again (revoked tokens stay revoked).
    Enable {
        /// The organization id.
        #[arg(long, value_name = "ORG_ID")]
        org: String,
    },
}

/// `m2m-admin usage`
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("subject").required(true).args(["client", "org"])))]
pub struct UsageArgs {
    /// Tokens issued to this client.
    #[arg(long, value_name = "CLIENT_ID")]
    pub client: Option<String>,
    /// Tokens issued to every client of this organization.
    #[arg(long, value_name = "ORG_ID")]
    pub org: Option<String>,
    /// The last N hours, the current one included.
    #[arg(long, value_name = "N", default_value_t = 24, conflicts_with_all = ["from", "to"],
          value_parser = clap::value_parser!(u64).range(1..=MAX_USAGE_HOURS))]
    pub hours: u64,
    /// From this instant (its hour included): RFC 3339 UTC (2026-11-20T00:00:00Z), a
    /// date (2026-11-20, midnight UTC) or Unix seconds.
    #[arg(long, value_name = "TIME", value_parser = parse_instant)]
    pub from: Option<u64>,
    /// Until this instant, excluded (default: now); same forms as --from.
    #[arg(long, value_name = "TIME", value_parser = parse_instant, requires = "from")]
    pub to: Option<u64>,
}

/// An instant: Unix seconds, RFC 3339 in UTC (`Z` or `+00:00`; an instant in another
/// offset is refused rather than misread), or a date (`2026-11-20`: midnight UTC).
pub fn parse_instant(value: &str) -> Result<u64, String> {
    let value = value.trim();
    let malformed = || {
        format!(
            "`{value}` is not a time: use RFC 3339 in UTC (2026-11-20T00:00:00Z), a date \
             (2026-11-20) or Unix seconds"
        )
    };
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse().map_err(|_| malformed());
    }
    let text = if value.len() == "2026-11-20".len() {
        format!("{value}T00:00:00Z")
    } else {
        value.to_owned()
    };
    let at = humantime::parse_rfc3339(&text).map_err(|_| malformed())?;
    at.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| malformed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_parsed() {
        assert_eq!(parse_instant("1763888400"), Ok(1_763_888_400));
        assert_eq!(parse_instant("2025-11-23T09:00:00Z"), Ok(1_763_888_400));
        assert_eq!(
            parse_instant("2025-11-23T09:00:00+00:00"),
            Ok(1_763_888_400)
        );
        assert_eq!(parse_instant("2025-11-23"), Ok(1_763_856_000));
        for bad in [
            "",
            "soon",
            "2025-11-23T09:00:00",
            "2025-11-23T09:00:00+02:00",
            "2025-13-01",
            "-5",
        ] {
            assert!(parse_instant(bad).is_err(), "{bad}");
        }
    }
}
