//! Quotas on token requests, per client and per organization, per minute and per
//! day, and the hourly usage counts kept for billing and support.
//!
//! A quota is counted in fixed windows (the current UTC minute, the current UTC day):
//! each token request of a client with a quota consumes one unit of every window that
//! applies to it, atomically and only if every one of them still has room, so
//! concurrent requests can never overshoot a limit and a refused request consumes
//! nothing. Over a limit the caller is answered 429 with `Retry-After`: the seconds
//! until the fullest window resets. A client with no quota, of an organization with
//! none, pays nothing for the feature: no counter is touched.
//!
//! Usage is counted per client and per organization per hour. Without a quota it is
//! tallied in memory by each function instance and added to the table at most once a
//! minute per instance ([`UsageTally`]), so it costs no write per token; a count can
//! lose at most the last minute of an instance that is shut down, which the quota
//! counters (exact) do not.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::Client;

/// A limit on token requests; each bound optional.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Quota {
    /// At most this many token requests per UTC minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_minute: Option<u64>,
    /// At most this many token requests per UTC day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_day: Option<u64>,
}

impl Quota {
    /// Whether it limits anything.
    pub fn is_set(&self) -> bool {
        self.per_minute.is_some() || self.per_day.is_some()
    }
}

/// A counting window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Window {
    /// A UTC minute.
    Minute,
    /// A UTC day.
    Day,
}

impl Window {
    /// Its length in seconds.
    pub fn seconds(self) -> u64 {
        match self {
            Self::Minute => 60,
            Self::Day => 86_400,
        }
    }

    /// The start of the window holding `now`.
    pub fn start(self, now: u64) -> u64 {
        now - now % self.seconds()
    }

    /// Seconds from `now` until the window holding it ends (at least 1).
    pub fn remaining(self, now: u64) -> u64 {
        (self.start(now) + self.seconds() - now).max(1)
    }

    /// `m` or `d`: the window's letter in a counter's key.
    pub fn letter(self) -> char {
        match self {
            Self::Minute => 'm',
            Self::Day => 'd',
        }
    }
}

/// Whose requests a counter counts.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    /// One client.
    Client(String),
    /// Every client of an organization.
    Org(String),
}

/// One counter a request must fit in: whose, which window, and the limit.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Counter {
    /// Whose requests.
    pub subject: Subject,
    /// Which window.
    pub window: Window,
    /// The window's start (unix seconds): counters of past windows are never touched
    /// again and expire.
    pub window_start: u64,
    /// The most requests the window admits.
    pub limit: u64,
}

/// The counters a token request of `client` must fit in at `now`: its own quota's
/// and its organization's (the copy kept on the client), minute and day. Empty when
/// neither sets a limit.
pub fn counters(client: &Client, now: u64) -> Vec<Counter> {
    let mut out = Vec::new();
    let mut add = |subject: Subject, quota: &Quota| {
        for (window, limit) in [
            (Window::Minute, quota.per_minute),
            (Window::Day, quota.per_day),
        ] {
            if let Some(limit) = limit {
                out.push(Counter {
                    subject: subject.clone(),
                    window,
                    window_start: window.start(now),
                    limit,
                });
            }
        }
    };
    if let Some(q) = &client.quota {
        add(Subject::Client(client.id.as_str().to_owned()), q);
    }
    if let (Some(q), Some(org)) = (&client.org_quota, &client.org_id) {
        add(Subject::Org(org.as_str().to_owned()), q);
    }
    out
}

/// The answer when a counter is full: seconds until the latest-resetting full
/// window resets.
pub fn retry_after(full: &[&Counter], now: u64) -> u64 {
    full.iter()
        .map(|c| c.window.remaining(now))
        .max()
        .unwrap_or(1)
}

/// The start of the UTC hour holding `now`: usage counts are kept per hour.
pub fn hour_of(now: u64) -> u64 {
    now - now % 3600
}

/// Whose usage an issued token counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsageSubject {
    /// The client.
    pub client_id: String,
    /// Its organization, if any.
    pub org_id: Option<String>,
}

impl UsageSubject {
    /// The subject of `client`.
    pub fn of(client: &Client) -> Self {
        Self {
            client_id: client.id.as_str().to_owned(),
            org_id: client.org_id.as_ref().map(|o| o.as_str().to_owned()),
        }
    }
}

/// A function instance's usage counts not yet added to the table: per subject and
/// hour. Flushed at most once per [`UsageTally::FLUSH_INTERVAL`].
#[derive(Debug, Default)]
pub struct UsageTally {
    counts: BTreeMap<(Subject, u64), u64>,
    last_flush: u64,
}

impl UsageTally {
    /// Seconds between two flushes of one instance.
    pub const FLUSH_INTERVAL: u64 = 60;

    /// A tally that flushes its first counts a minute after `now`.
    pub fn new(now: u64) -> Self {
        Self {
            counts: BTreeMap::new(),
            last_flush: now,
        }
    }

    /// Counts one issued token of `subject` at `now` (and of its organization).
    pub fn add(&mut self, subject: &UsageSubject, now: u64) {
        let hour = hour_of(now);
        *self
            .counts
            .entry((Subject::Client(subject.client_id.clone()), hour))
            .or_default() += 1;
        if let Some(org) = &subject.org_id {
            *self
                .counts
                .entry((Subject::Org(org.clone()), hour))
                .or_default() += 1;
        }
    }

    /// The counts to write, when a flush is due at `now`; the tally is emptied.
    pub fn take_due(&mut self, now: u64) -> Option<Vec<(Subject, u64, u64)>> {
        if self.counts.is_empty() || now < self.last_flush.saturating_add(Self::FLUSH_INTERVAL) {
            return None;
        }
        self.last_flush = now;
        let taken = std::mem::take(&mut self.counts);
        Some(taken.into_iter().map(|((s, h), n)| (s, h, n)).collect())
    }

    /// Puts counts back after a failed write, so they are tried again.
    pub fn restore(&mut self, counts: Vec<(Subject, u64, u64)>) {
        for (s, h, n) in counts {
            *self.counts.entry((s, h)).or_default() += n;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::testing::fixtures;
    use crate::types::OrgId;

    #[test]
    fn windows() {
        let now = 1_700_000_123;
        assert_eq!(Window::Minute.start(now), 1_700_000_100);
        assert_eq!(Window::Minute.remaining(now), 37);
        assert_eq!(Window::Day.start(now) % 86_400, 0);
        assert_eq!(Window::Minute.remaining(Window::Minute.start(now)), 60);
    }

    #[test]
    fn no_quota_no_counters() {
        let c = fixtures::client("c", "s");
        assert!(counters(&c, 0).is_empty());
        let mut c = fixtures::client_in_org("c", "s", "o");
        c.quota = Some(Quota::default());
        assert!(counters(&c, 0).is_empty());
    }

    #[test]
    fn client_and_org_counters() {
        let mut c = fixtures::client_in_org("c", "s", "o");
        c.quota = Some(Quota {
            per_minute: Some(5),
            per_day: None,
        });
        c.org_quota = Some(Quota {
            per_minute: Some(50),
            per_day: Some(1000),
        });
        let got = counters(&c, 90);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].subject, Subject::Client("c".into()));
        assert_eq!(
            (got[0].window, got[0].window_start, got[0].limit),
            (Window::Minute, 60, 5)
        );
        assert_eq!(got[2].subject, Subject::Org("o".into()));
        assert_eq!((got[2].window, got[2].limit), (Window::Day, 1000));
        // An org quota on a client without an org does not apply.
        c.org_id = None::<OrgId>;
        assert_eq!(counters(&c, 90).len(), 1);
        let refs: Vec<&Counter> = got.iter().collect();
        assert_eq!(retry_after(&refs, 90), 86_400 - 90);
    }

    #[test]
    fn tally_flushes_once_a_minute_and_restores() {
        let c = UsageSubject::of(&fixtures::client_in_org("c", "s", "o"));
        let mut t = UsageTally::new(1000);
        t.add(&c, 1000);
        t.add(&c, 1010);
        assert_eq!(t.take_due(1059), None);
        let due = t.take_due(1060).unwrap();
        assert_eq!(
            due,
            vec![
                (Subject::Client("c".into()), 0, 2),
                (Subject::Org("o".into()), 0, 2)
            ]
        );
        assert_eq!(t.take_due(1200), None, "nothing left");
        t.restore(due);
        t.add(&c, 3700);
        let again = t.take_due(1200).unwrap();
        assert_eq!(again.len(), 4, "restored counts and a new hour");
    }
}
