//! Grants: which scopes of which API a client may obtain. Every scope granted must be
//! defined by the API. A grant write is one conditional write that also bumps the
//! client's and the API's versions, so it cannot race a client delete, an API delete
//! or an API scope change.

use m2m_core::model::Grant;
use m2m_core::types::{Audience, ClientId, ScopeSet};

use crate::error::{ManageError, Target};
use crate::operator::Operator;
use crate::retry::Retry;
use crate::store::{AdminStore, StoreError};

/// Refuses scopes in `wanted` that the API `api` does not define.
///
/// # Errors
/// [`ManageError::UndefinedScopes`].
pub fn undefined_scopes(
    api: &Audience,
    wanted: &ScopeSet,
    defined: &ScopeSet,
) -> Result<(), ManageError> {
    let undefined = wanted.difference(defined);
    if undefined.is_empty() {
        Ok(())
    } else {
        Err(ManageError::UndefinedScopes {
            api: api.clone(),
            undefined,
            defined: defined.clone(),
        })
    }
}

/// How a grant write changes the scopes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Add the given scopes to the grant (creating it).
    Widen,
    /// Make the grant exactly the given scopes (creating it).
    Set,
}

impl<S: AdminStore> Operator<S> {
    /// The grants of client `id`, sorted by API.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] for an unknown client.
    pub async fn grants(&self, id: &ClientId) -> Result<Vec<Grant>, ManageError> {
        self.client(id).await?;
        Ok(self.store.client_grants(id).await?)
    }

    /// Adds `scopes` of API `audience` to client `client_id`'s grant (creating it).
    ///
    /// # Errors
    /// [`ManageError::NotFound`] (client or API), [`ManageError::UndefinedScopes`],
    /// [`ManageError::KeptChanging`].
    pub async fn add_scopes(
        &self,
        client_id: &ClientId,
        audience: &Audience,
        scopes: &ScopeSet,
    ) -> Result<Grant, ManageError> {
        self.write_grant(client_id, audience, scopes, Mode::Widen)
            .await
    }

    /// Makes client `client_id`'s grant on API `audience` exactly `scopes` (at least
    /// one; removing a grant is [`Self::remove_scopes`] with none).
    ///
    /// # Errors
    /// [`ManageError::Invalid`] for no scopes, otherwise as [`Self::add_scopes`].
    pub async fn set_grant(
        &self,
        client_id: &ClientId,
        audience: &Audience,
        scopes: &ScopeSet,
    ) -> Result<Grant, ManageError> {
        if scopes.is_empty() {
            return Err(ManageError::Invalid(
                "a grant holds at least one scope; delete the grant to remove them all".into(),
            ));
        }
        self.write_grant(client_id, audience, scopes, Mode::Set)
            .await
    }

    async fn write_grant(
        &self,
        client_id: &ClientId,
        audience: &Audience,
        scopes: &ScopeSet,
        mode: Mode,
    ) -> Result<Grant, ManageError> {
        let mut retry = Retry::new(self.backoff);
        loop {
            let client = self.client(client_id).await?;
            let api = self.api(audience).await?;
            undefined_scopes(audience, scopes, &api.value.scopes)?;
            let existing = self
                .store
                .client_grants(client_id)
                .await?
                .into_iter()
                .find(|g| &g.audience == audience);
            let mut grant = existing.unwrap_or_else(|| Grant {
                client_id: client_id.clone(),
                audience: audience.clone(),
                scopes: ScopeSet::new(),
            });
            match mode {
                Mode::Widen => {
                    for s in scopes.iter() {
                        grant.scopes.insert(s.clone());
                    }
                }
                Mode::Set => grant.scopes = scopes.clone(),
            }
            match self
                .store
                .put_grant(&grant, client.version, api.version)
                .await
            {
                Ok(()) => return Ok(grant),
                Err(StoreError::Conflict(_)) => {
                    retry
                        .again(|| format!("client {client_id} or API {audience}"))
                        .await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Removes `scopes` from client `client_id`'s grant on API `audience`, or the
    /// whole grant when `scopes` is empty or nothing would be left. Returns the grant
    /// as left (no scopes: removed).
    ///
    /// # Errors
    /// [`ManageError::NotFound`] for an unknown client or grant,
    /// [`ManageError::KeptChanging`].
    pub async fn remove_scopes(
        &self,
        client_id: &ClientId,
        audience: &Audience,
        scopes: &ScopeSet,
    ) -> Result<Grant, ManageError> {
        let mut retry = Retry::new(self.backoff);
        loop {
            let client = self.client(client_id).await?;
            let Some(mut grant) = self
                .store
                .client_grants(client_id)
                .await?
                .into_iter()
                .find(|g| &g.audience == audience)
            else {
                return Err(ManageError::NotFound(Target::Grant(
                    client_id.clone(),
                    audience.clone(),
                )));
            };
            grant.scopes = if scopes.is_empty() {
                ScopeSet::new()
            } else {
                grant.scopes.difference(scopes)
            };
            let written = if grant.scopes.is_empty() {
                self.store
                    .delete_grant(client_id, audience, client.version)
                    .await
            } else {
                // Narrowing needs no API check (nothing is added), but the same write
                // shape keeps API deletes and grant writes ordered.
                match self.store.get_api(audience).await? {
                    Some(api) => {
                        self.store
                            .put_grant(&grant, client.version, api.version)
                            .await
                    }
                    // The API is gone: its grants mean nothing, remove this one whole.
                    None => {
                        grant.scopes = ScopeSet::new();
                        self.store
                            .delete_grant(client_id, audience, client.version)
                            .await
                    }
                }
            };
            match written {
                Ok(()) => return Ok(grant),
                Err(StoreError::Conflict(_)) => {
                    retry.again(|| format!("client {client_id}")).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}
