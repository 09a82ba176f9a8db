//! Control after issuance: revoking a client's tokens (RFC 7009: every token issued
//! before an instant, or one by `jti`), the introspection permission (RFC 7662 §2.1),
//! quotas per client and per organization, and hourly usage.
//!
//! A revocation is written twice, in this order: onto the client (its `not_before`, or
//! its revocation epoch for a `jti`), which the token endpoint reads with every request
//! so its reuse cache never hands out a revoked token; then into the revocation
//! partition that introspection and the authorizer read. A failure between the two
//! leaves the client's side done and the call failed: running it again finishes it
//! (both writes are idempotent in effect).

use m2m_core::model::{Client, MAX_TOKEN_LIFETIME};
use m2m_core::quota::{Quota, Subject};
use m2m_core::revocation::Revocation;
use m2m_core::types::{ClientId, OrgId};

use crate::error::ManageError;
use crate::operator::Operator;
use crate::store::{AdminStore, ClientFilter};

/// The largest limit a quota takes.
pub const MAX_QUOTA: u64 = 1_000_000_000;

/// What an organization-wide quota change did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgQuotaChange {
    /// The organization.
    pub org_id: OrgId,
    /// Its quota now.
    pub quota: Option<Quota>,
    /// The clients whose copy changed.
    pub changed: Vec<ClientId>,
    /// How many already had it.
    pub unchanged: usize,
}

/// Checks a quota: each limit at least 1 and at most [`MAX_QUOTA`], and a day's at
/// least a minute's.
///
/// # Errors
/// [`ManageError::Invalid`].
pub fn validate_quota(q: &Quota) -> Result<(), ManageError> {
    for (name, v) in [("per_minute", q.per_minute), ("per_day", q.per_day)] {
        if v.is_some_and(|v| v == 0 || v > MAX_QUOTA) {
            return Err(ManageError::Invalid(format!(
                "{name} must be between 1 and {MAX_QUOTA}"
            )));
        }
    }
    if let (Some(m), Some(d)) = (q.per_minute, q.per_day) {
        if d < m {
            return Err(ManageError::Invalid(
                "per_day must be at least per_minute".into(),
            ));
        }
    }
    if !q.is_set() {
        return Err(ManageError::Invalid(
            "a quota needs per_minute, per_day or both".into(),
        ));
    }
    Ok(())
}

impl<S: AdminStore> Operator<S> {
    /// Revokes every token of client `id` issued up to `now` (its `not_before` becomes
    /// `now + 1`; it never moves earlier), on the client and for verifiers.
    ///
    /// # Errors
    /// As [`Self::mutate_client`]; a store failure of the second write.
    pub async fn revoke_tokens(
        &self,
        id: &ClientId,
        now: u64,
        expected: Option<u64>,
    ) -> Result<Client, ManageError> {
        let not_before = now.saturating_add(1);
        let (client, ()) = self
            .mutate_client(id, expected, |c| {
                c.not_before = Some(c.not_before.map_or(not_before, |nb| nb.max(not_before)));
                Ok(())
            })
            .await?;
        self.publish_not_before(&client, now).await?;
        Ok(client)
    }

    /// Records a client's `not_before` where verifiers read it.
    pub(crate) async fn publish_not_before(
        &self,
        client: &Client,
        now: u64,
    ) -> Result<(), ManageError> {
        if let Some(not_before) = client.not_before {
            let revocation = Revocation::Client {
                client_id: client.id.clone(),
                not_before,
            };
            self.store.record_revocation(&revocation, now).await?;
        }
        Ok(())
    }

    /// Revokes one token of client `id` by its `jti`, kept until `expires_at` (the
    /// token's `exp`; when unknown, the longest token lifetime from now): the client's
    /// revocation epoch moves on, then verifiers learn the `jti`.
    ///
    /// # Errors
    /// [`ManageError::Invalid`] for an empty or over-long `jti`; as
    /// [`Self::mutate_client`].
    pub async fn revoke_token(
        &self,
        id: &ClientId,
        jti: &str,
        expires_at: Option<u64>,
        now: u64,
    ) -> Result<Client, ManageError> {
        if jti.is_empty() || jti.len() > 1024 {
            return Err(ManageError::Invalid(
                "the jti must be 1 to 1024 bytes".into(),
            ));
        }
        let (client, ()) = self
            .mutate_client(id, None, |c| {
                c.revocation_epoch = c.revocation_epoch.saturating_add(1);
                Ok(())
            })
            .await?;
        let revocation = Revocation::Token {
            jti: jti.to_owned(),
            client_id: client.id.clone(),
            expires_at: expires_at.unwrap_or(now.saturating_add(MAX_TOKEN_LIFETIME)),
        };
        self.store.record_revocation(&revocation, now).await?;
        Ok(client)
    }

    /// Grants or withdraws client `id`'s permission to introspect tokens.
    ///
    /// # Errors
    /// As [`Self::mutate_client`].
    pub async fn set_introspection(
        &self,
        id: &ClientId,
        allow: bool,
        expected: Option<u64>,
    ) -> Result<Client, ManageError> {
        let (client, ()) = self
            .mutate_client(id, expected, |c| {
                c.introspect = allow;
                Ok(())
            })
            .await?;
        Ok(client)
    }

    /// Sets (or with `None` clears) client `id`'s own quota.
    ///
    /// # Errors
    /// [`ManageError::Invalid`] for a bad quota; as [`Self::mutate_client`].
    pub async fn set_client_quota(
        &self,
        id: &ClientId,
        quota: Option<Quota>,
        expected: Option<u64>,
    ) -> Result<Client, ManageError> {
        if let Some(q) = &quota {
            validate_quota(q)?;
        }
        let (client, ()) = self
            .mutate_client(id, expected, |c| {
                c.quota = quota;
                Ok(())
            })
            .await?;
        Ok(client)
    }

    /// Sets (or clears) organization `org`'s quota, shared by all its clients: kept
    /// for clients created later, and copied onto each current client (each in its own
    /// conditional write; an interrupted call is finished by calling it again).
    ///
    /// # Errors
    /// [`ManageError::Invalid`] for a bad quota; as [`Self::mutate_client`] for the
    /// first client that fails.
    pub async fn set_org_quota(
        &self,
        org: &OrgId,
        quota: Option<Quota>,
    ) -> Result<OrgQuotaChange, ManageError> {
        if let Some(q) = &quota {
            validate_quota(q)?;
        }
        self.store.put_org_quota(org, quota).await?;
        let filter = ClientFilter {
            org: Some(org.clone()),
        };
        let mut changed = Vec::new();
        let mut unchanged = 0;
        for c in self.all_clients(&filter).await? {
            if c.org_quota == quota {
                unchanged += 1;
                continue;
            }
            match self
                .mutate_client(&c.id, None, |c| {
                    c.org_quota = quota;
                    Ok(())
                })
                .await
            {
                Ok(_) => changed.push(c.id),
                Err(ManageError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(OrgQuotaChange {
            org_id: org.clone(),
            quota,
            changed,
            unchanged,
        })
    }

    /// The organization's quota, if any.
    ///
    /// # Errors
    /// A store failure.
    pub async fn org_quota(&self, org: &OrgId) -> Result<Option<Quota>, ManageError> {
        Ok(self.store.org_quota(org).await?)
    }

    /// Hourly usage of `subject` from the hour holding `from` to the hour holding `to`.
    ///
    /// # Errors
    /// [`ManageError::Invalid`] when `from` is after `to` or the range is over 400
    /// days; a store failure.
    pub async fn usage(
        &self,
        subject: &Subject,
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, u64)>, ManageError> {
        if from > to || to - from > 400 * 86_400 {
            return Err(ManageError::Invalid(
                "the range must run forward and span at most 400 days".into(),
            ));
        }
        let hour = m2m_core::quota::hour_of;
        Ok(self.store.usage(subject, hour(from), hour(to)).await?)
    }
}
