//! Quota counters and hourly usage counts ([`m2m_core::quota`]):
//!
//! | item | PK | SK | attributes |
//! |---|---|---|---|
//! | quota counter | `QUOTA#C#<client_id>` or `QUOTA#O#<org_id>` | `m#<minute start>` or `d#<day start>` | count, ttl |
//! | usage count | `USAGE#C#<client_id>` or `USAGE#O#<org_id>` | `H#<hour start>`, ten digits | count, ttl |
//!
//! A counter lives as long as its window plus an hour (its `ttl`); usage counts are
//! kept for [`USAGE_RETENTION`]. Neither has a `kind` or an `org_id`, so both stay out
//! of the indexes. Hour starts are written with ten digits so that the sort key's
//! string order is time order.

use std::collections::HashMap;

use m2m_core::quota::{Counter, Subject};

use super::attr::{s, Reader};
use super::{Item, ItemError, PK, SK};

/// PK prefix of quota counters.
pub const QUOTA_PREFIX: &str = "QUOTA#";
/// PK prefix of usage counts.
pub const USAGE_PREFIX: &str = "USAGE#";
/// The counting attribute of both.
pub const COUNT: &str = "count";
/// How long hourly usage is kept: about 13 months, for billing.
pub const USAGE_RETENTION: u64 = 400 * 86_400;

fn subject_key(prefix: &str, subject: &Subject) -> String {
    match subject {
        Subject::Client(id) => format!("{prefix}C#{id}"),
        Subject::Org(id) => format!("{prefix}O#{id}"),
    }
}

/// The key of `counter`'s item.
pub fn counter_key(counter: &Counter) -> Item {
    HashMap::from([
        (
            PK.to_owned(),
            s(subject_key(QUOTA_PREFIX, &counter.subject)),
        ),
        (
            SK.to_owned(),
            s(format!(
                "{}#{}",
                counter.window.letter(),
                counter.window_start
            )),
        ),
    ])
}

/// When `counter`'s item may be deleted: its window's end plus an hour.
pub fn counter_ttl(counter: &Counter) -> u64 {
    counter.window_start + counter.window.seconds() + 3600
}

/// The partition of `subject`'s usage counts.
pub fn usage_pk(subject: &Subject) -> String {
    subject_key(USAGE_PREFIX, subject)
}

/// The sort key of the usage count of the hour starting at `hour`.
pub fn usage_sk(hour: u64) -> String {
    format!("H#{hour:010}")
}

/// The hour start a usage sort key names.
pub fn hour_of_sk(sk: &str) -> Option<u64> {
    sk.strip_prefix("H#")?.parse().ok()
}

/// The key of `subject`'s usage count for the hour starting at `hour`.
pub fn usage_key(subject: &Subject, hour: u64) -> Item {
    HashMap::from([
        (PK.to_owned(), s(usage_pk(subject))),
        (SK.to_owned(), s(usage_sk(hour))),
    ])
}

/// Decodes a usage count: the hour start its sort key names, and its count.
///
/// # Errors
/// An [`ItemError`] naming the attribute at fault.
pub fn usage_from_item(item: &Item) -> Result<(u64, u64), ItemError> {
    let r = Reader::new("usage count", item);
    let hour = hour_of_sk(r.string(SK)?).ok_or_else(|| r.err(SK, "does not name an hour"))?;
    Ok((hour, r.number(COUNT)?))
}
