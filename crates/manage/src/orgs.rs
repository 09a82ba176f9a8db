//! Organizations (customers): their clients, listed through the organization index,
//! and offboarding — disabling every client of an organization in one call, or
//! enabling them again. Each client changes in its own conditional write, so an
//! interrupted call leaves some clients changed and the rest as they were; calling it
//! again finishes it (clients already in the wanted state are left alone).

use m2m_core::model::ClientStatus;
use m2m_core::types::{ClientId, OrgId};

use crate::error::ManageError;
use crate::operator::Operator;
use crate::store::{AdminStore, ClientFilter};

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
    /// Sets every client of `org` to `status` at `now` (disabling revokes their tokens,
    /// as [`Self::set_client_status`] does).
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
}
