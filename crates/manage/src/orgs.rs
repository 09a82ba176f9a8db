//! Organizations (customers): their clients, listed through the organization index;
//! offboarding — disabling every client of an organization in one call (which revokes
//! their tokens, RFC 7009 §2), or enabling them again; and the organization's own
//! record, which holds what applies to all its clients (its quota, [`crate::quotas`]).
//!
//! An organization-wide change writes each client in its own conditional write, so an
//! interrupted call leaves some clients changed and the rest as they were; calling it
//! again finishes it (clients already in the wanted state are left alone).

use m2m_core::model::ClientStatus;
use m2m_core::quota::Quota;
use m2m_core::types::{ClientId, OrgId};

use crate::error::ManageError;
use crate::operator::Operator;
use crate::store::{AdminStore, ClientFilter, Versioned};

/// The record of an organization: what applies to every one of its clients. An
/// organization without one has none of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Org {
    /// The organization.
    pub id: OrgId,
    /// Its quota on token requests, shared by all its clients (a copy of it sits on
    /// each client, for the token endpoint to read with the client).
    pub quota: Option<Quota>,
}

/// What an organization-wide change did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgChange {
    /// The organization.
    pub org_id: OrgId,
    /// The status its clients now have.
    pub status: ClientStatus,
    /// The clients changed.
    pub changed: Vec<ClientId>,
    /// How many clients already had the status.
    pub unchanged: usize,
}

impl<S: AdminStore> Operator<S> {
    /// Sets every client of `org` to `status`. Disabling a client also revokes its
    /// tokens issued up to `now`, in the same write ([`Self::set_client_status`]).
    ///
    /// # Errors
    /// As [`Self::set_client_status`], for the first client that fails; the clients
    /// before it keep their new status.
    pub async fn set_org_status(
        &self,
        org: &OrgId,
        status: ClientStatus,
        now: u64,
    ) -> Result<OrgChange, ManageError> {
        let filter = ClientFilter {
            org: Some(org.clone()),
        };
        let clients = self.all_clients(&filter).await?;
        let mut changed = Vec::new();
        let mut unchanged = 0;
        for c in clients {
            if c.status == status {
                unchanged += 1;
                continue;
            }
            match self.set_client_status(&c.id, status, None, now).await {
                Ok(_) => changed.push(c.id),
                // Deleted since the listing: nothing left to switch.
                Err(ManageError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(OrgChange {
            org_id: org.clone(),
            status,
            changed,
            unchanged,
        })
    }

    /// The record of organization `org` with its version; `None` when nothing was ever
    /// set for it.
    ///
    /// # Errors
    /// [`ManageError::Invalid`] for a blank or overlong id; as the store.
    pub async fn org(&self, org: &OrgId) -> Result<Option<Versioned<Org>>, ManageError> {
        validate_org_id(org)?;
        Ok(self.store.get_org(org).await?)
    }
}

/// An organization id the rules accept: not blank, at most
/// [`crate::clients::MAX_NAME_LEN`] characters (as at client creation).
pub(crate) fn validate_org_id(org: &OrgId) -> Result<(), ManageError> {
    if org.as_str().trim().is_empty() {
        return Err(ManageError::Invalid(
            "the organization id must not be empty".into(),
        ));
    }
    if org.as_str().chars().count() > crate::clients::MAX_NAME_LEN
        || org.as_str().len() > crate::MAX_ID_LEN
    {
        return Err(ManageError::Invalid(format!(
            "the organization id must be at most {} characters",
            crate::clients::MAX_NAME_LEN
        )));
    }
    Ok(())
}
