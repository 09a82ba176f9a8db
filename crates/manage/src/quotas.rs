//! Quotas on token requests ([`m2m_core::quota`]; over a limit the token endpoint
//! answers 429, RFC 6585 §4) and the hourly usage counts kept for billing and support.
//!
//! A client's own quota sits on the client. An organization's quota sits on the
//! organization's record and, copied, on every client of the organization, so the
//! token endpoint reads both with the client in its one read. Setting it writes the
//! record first, then each client, each write conditional on the record still being
//! the version written; a client created meanwhile copies it under the same condition
//! ([`AdminStore::create_client_in_org`]). Two operators setting it at once: one of
//! them starts over on a fresh read, and every client ends with the record's quota.
//! An interrupted change leaves some clients with the previous quota; running it again
//! finishes it (clients that hold it already are not written).

use m2m_core::model::Client;
use m2m_core::quota::{hour_of, Quota, Subject};
use m2m_core::types::{ClientId, OrgId};

use crate::error::ManageError;
use crate::operator::Operator;
use crate::orgs::{validate_org_id, Org};
use crate::retry::Retry;
use crate::store::{AdminStore, ClientFilter, StoreError};

/// The largest limit a quota takes, per minute or per day.
pub const MAX_QUOTA_LIMIT: u64 = 1_000_000_000;
/// The longest span of usage read at once: as long as usage counts are kept (400
/// days), in hours.
pub const MAX_USAGE_HOURS: u64 = 400 * 24;

/// What setting an organization's quota did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgQuotaChange {
    /// The organization's record as written.
    pub org: Org,
    /// Its version.
    pub version: u64,
    /// The clients given the new quota.
    pub updated: Vec<ClientId>,
    /// How many clients held it already.
    pub unchanged: usize,
}

/// Refuses a quota that limits nothing, a limit of 0 or over [`MAX_QUOTA_LIMIT`],
/// or a per-minute limit above the per-day one (the day's would always bind first).
///
/// # Errors
/// [`ManageError::Invalid`].
pub fn validate_quota(quota: &Quota) -> Result<(), ManageError> {
    if !quota.is_set() {
        return Err(ManageError::Invalid(
            "a quota needs a per-minute or a per-day limit (or both); clear it instead to \
             remove every limit"
                .into(),
        ));
    }
    for (name, limit) in [("per-minute", quota.per_minute), ("per-day", quota.per_day)] {
        if limit.is_some_and(|l| !(1..=MAX_QUOTA_LIMIT).contains(&l)) {
            return Err(ManageError::Invalid(format!(
                "the {name} limit must be 1 to {MAX_QUOTA_LIMIT}"
            )));
        }
    }
    if let (Some(minute), Some(day)) = (quota.per_minute, quota.per_day) {
        if minute > day {
            return Err(ManageError::Invalid(format!(
                "the per-minute limit ({minute}) must not exceed the per-day limit ({day})"
            )));
        }
    }
    Ok(())
}

fn validate(quota: Option<&Quota>) -> Result<(), ManageError> {
    quota.map_or(Ok(()), validate_quota)
}

impl<S: AdminStore> Operator<S> {
    /// Sets (`Some`) or clears (`None`) the quota of client `id`: the token endpoint
    /// counts its requests against it from its next request on.
    ///
    /// # Errors
    /// [`ManageError::Invalid`] (see [`validate_quota`]); as [`Self::mutate_client`].
    pub async fn set_client_quota(
        &self,
        id: &ClientId,
        quota: Option<Quota>,
        expected: Option<u64>,
    ) -> Result<Client, ManageError> {
        validate(quota.as_ref())?;
        let (client, ()) = self
            .mutate_client(id, expected, |c| {
                c.quota = quota;
                Ok(())
            })
            .await?;
        Ok(client)
    }

    /// Sets (`Some`) or clears (`None`) the quota of organization `org`, shared by all
    /// its clients: written on its record, then copied onto every client of the
    /// organization (see the module docs). Clients created later start with it.
    ///
    /// # Errors
    /// [`ManageError::Invalid`] for a bad quota or organization id,
    /// [`ManageError::KeptChanging`] when others keep changing the record or a client.
    pub async fn set_org_quota(
        &self,
        org: &OrgId,
        quota: Option<Quota>,
    ) -> Result<OrgQuotaChange, ManageError> {
        validate_org_id(org)?;
        validate(quota.as_ref())?;
        let record = Org {
            id: org.clone(),
            quota,
        };
        let mut retry = Retry::new(self.backoff);
        'record: loop {
            let stored = self.store.get_org(org).await?;
            let expected = stored.as_ref().map(|o| o.version);
            let version = match stored {
                // Already in force (an earlier run may have been interrupted): finish
                // copying it.
                Some(s) if s.value == record => s.version,
                _ => match self.store.put_org(&record, expected).await {
                    Ok(()) => expected.map_or(1, |v| v.saturating_add(1)),
                    Err(StoreError::Conflict(_)) => {
                        retry.again(|| format!("organization {org}")).await?;
                        continue 'record;
                    }
                    Err(e) => return Err(e.into()),
                },
            };
            let filter = ClientFilter {
                org: Some(org.clone()),
            };
            let mut updated = Vec::new();
            let mut unchanged = 0;
            for listed in self.all_clients(&filter).await? {
                match self.copy_org_quota(&listed.id, &record, version).await? {
                    Copied::Written => updated.push(listed.id),
                    Copied::Held => unchanged += 1,
                    Copied::Gone => {}
                    Copied::RecordChanged => {
                        retry.again(|| format!("organization {org}")).await?;
                        continue 'record;
                    }
                }
            }
            return Ok(OrgQuotaChange {
                org: record,
                version,
                updated,
                unchanged,
            });
        }
    }

    /// Copies `record`'s quota onto client `id`, conditional on the record still being
    /// at `version`; a concurrent change of the client is retried on a fresh read.
    async fn copy_org_quota(
        &self,
        id: &ClientId,
        record: &Org,
        version: u64,
    ) -> Result<Copied, ManageError> {
        let mut retry = Retry::new(self.backoff);
        loop {
            let Some(current) = self.store.get_client(id).await? else {
                return Ok(Copied::Gone);
            };
            if current.org_id.as_ref() != Some(&record.id) {
                return Ok(Copied::Gone);
            }
            if current.org_quota == record.quota {
                return Ok(Copied::Held);
            }
            let mut next = current.clone();
            next.org_quota = record.quota;
            next.version = current.version.saturating_add(1);
            match self
                .store
                .replace_client_in_org(&next, current.version, version)
                .await
            {
                Ok(()) => return Ok(Copied::Written),
                Err(StoreError::Conflict(_)) => {
                    let now_at = self.store.get_org(&record.id).await?.map(|o| o.version);
                    if now_at != Some(version) {
                        return Ok(Copied::RecordChanged);
                    }
                    retry.again(|| format!("client {id}")).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The hourly usage of `subject` (a client or an organization) for the hours
    /// holding `from` through `to` (Unix seconds, both included), in time order:
    /// `(hour start, count)`, hours without usage left out. Usage reaches the table up
    /// to a minute after the tokens it counts. The subject need not exist any more:
    /// a deleted client's usage is kept as long as any.
    ///
    /// # Errors
    /// [`ManageError::Invalid`] for an empty or overlong id, `from` after `to`, or a span
    /// over [`MAX_USAGE_HOURS`].
    pub async fn usage(
        &self,
        subject: &Subject,
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, u64)>, ManageError> {
        let id = match subject {
            Subject::Client(id) | Subject::Org(id) => id,
        };
        if id.trim().is_empty() || id.len() > crate::MAX_ID_LEN {
            return Err(ManageError::Invalid(format!(
                "a client or organization id must be 1 to {} bytes",
                crate::MAX_ID_LEN
            )));
        }
        let (from_hour, to_hour) = (hour_of(from), hour_of(to));
        if from_hour > to_hour {
            return Err(ManageError::Invalid(
                "the start of the usage period is after its end".into(),
            ));
        }
        if (to_hour - from_hour) / 3600 >= MAX_USAGE_HOURS {
            return Err(ManageError::Invalid(format!(
                "usage is read at most {MAX_USAGE_HOURS} hours ({} days) at a time, as long \
                 as it is kept",
                MAX_USAGE_HOURS / 24
            )));
        }
        Ok(self.store.usage(subject, from_hour, to_hour).await?)
    }
}

/// What copying an organization's quota onto one client did.
enum Copied {
    /// Written.
    Written,
    /// The client held it already.
    Held,
    /// The client is gone, or no longer of the organization.
    Gone,
    /// The organization's record changed since it was written: start over.
    RecordChanged,
}
