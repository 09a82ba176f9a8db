//! APIs (resource servers): register, read, change and delete them. Scopes that leave
//! an API leave its grants too (or the change is refused), and an API with grants is
//! deleted only on request, grants first, so no grant ever outlives its API.

use m2m_core::model::{
    Api, Grant, Profile, Reuse, DEFAULT_REUSE_MIN_REMAINING_PCT, MAX_TOKEN_LIFETIME,
};
use m2m_core::types::{Audience, ScopeSet};

use crate::error::{no_api, ManageError, Refusal, Target};
use crate::operator::Operator;
use crate::retry::{check_version, mismatch, Retry};
use crate::store::{AdminStore, StoreError, Versioned};

/// Shortest token lifetime an API may set, seconds.
pub const MIN_TOKEN_LIFETIME: u64 = 1;

/// A change to an API; `None` keeps the current value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiChange {
    /// A new name.
    pub name: Option<String>,
    /// The whole new scope set.
    pub scopes: Option<ScopeSet>,
    /// Scopes to add.
    pub add_scopes: ScopeSet,
    /// Scopes to remove.
    pub remove_scopes: ScopeSet,
    /// A new token lifetime, seconds.
    pub token_lifetime: Option<u64>,
    /// A new claim layout.
    pub profile: Option<Profile>,
    /// A change to the reuse setting.
    pub reuse: ReusePatch,
    /// Remove scopes leaving the API from the grants holding them, rather than refuse.
    pub cascade: bool,
}

impl ApiChange {
    /// Whether the change changes nothing.
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.scopes.is_none()
            && self.add_scopes.is_empty()
            && self.remove_scopes.is_empty()
            && self.token_lifetime.is_none()
            && self.profile.is_none()
            && self.reuse.is_empty()
    }
}

/// A change to an API's token reuse; `None` keeps the current value. Applied to the
/// setting read inside the change's retry, so concurrent changes to other fields of
/// the reuse setting are not lost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReusePatch {
    /// Turn reuse on or off.
    pub enabled: Option<bool>,
    /// The threshold in percent of a token's lifetime.
    pub min_remaining_pct: Option<u8>,
    /// Whether reuse applies with a claims hook configured.
    pub with_hook: Option<bool>,
}

impl ReusePatch {
    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.enabled.is_none() && self.min_remaining_pct.is_none() && self.with_hook.is_none()
    }

    /// The setting after applying the patch to `current`. Reuse stays on or off as it
    /// was unless `enabled` says otherwise; the threshold and hook flag keep their
    /// values (or their defaults, when reuse was off) unless given.
    pub fn apply(&self, current: Reuse) -> Reuse {
        let (pct, hook) = match current {
            Reuse::On {
                min_remaining_pct,
                with_hook,
            } => (min_remaining_pct, with_hook),
            Reuse::Off => (DEFAULT_REUSE_MIN_REMAINING_PCT, false),
        };
        if self.enabled.unwrap_or(current != Reuse::Off) {
            Reuse::On {
                min_remaining_pct: self.min_remaining_pct.unwrap_or(pct),
                with_hook: self.with_hook.unwrap_or(hook),
            }
        } else {
            Reuse::Off
        }
    }
}

/// The result of an API update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiUpdated {
    /// The API as written, with its new version.
    pub api: Versioned<Api>,
    /// The grants narrowed because scopes left the API.
    pub grants_updated: Vec<Grant>,
}

/// Checks what every stored API must satisfy.
///
/// # Errors
/// [`ManageError::Invalid`] naming the field.
pub fn validate_api(api: &Api) -> Result<(), ManageError> {
    if api.identifier.as_str().trim().is_empty() {
        return Err(ManageError::Invalid(
            "the API identifier must not be empty".into(),
        ));
    }
    if api.identifier.as_str().len() > crate::MAX_ID_LEN {
        return Err(ManageError::Invalid(format!(
            "the API identifier must be at most {} bytes",
            crate::MAX_ID_LEN
        )));
    }
    if api.name.trim().is_empty() {
        return Err(ManageError::Invalid(
            "the API name must not be empty".into(),
        ));
    }
    if !(MIN_TOKEN_LIFETIME..=MAX_TOKEN_LIFETIME).contains(&api.token_lifetime) {
        return Err(ManageError::Invalid(format!(
            "the token lifetime must be {MIN_TOKEN_LIFETIME} to {MAX_TOKEN_LIFETIME} seconds"
        )));
    }
    if let Reuse::On {
        min_remaining_pct, ..
    } = api.reuse
    {
        if !(1..=99).contains(&min_remaining_pct) {
            return Err(ManageError::Invalid(
                "the reuse threshold must be 1 to 99 percent".into(),
            ));
        }
    }
    Ok(())
}

impl<S: AdminStore> Operator<S> {
    /// Registers `api`.
    ///
    /// # Errors
    /// [`ManageError::Invalid`], [`ManageError::Exists`] when the identifier is taken.
    pub async fn create_api(&self, api: &Api) -> Result<Versioned<Api>, ManageError> {
        validate_api(api)?;
        match self.store.create_api(api).await {
            Ok(()) => Ok(Versioned {
                value: api.clone(),
                version: 1,
            }),
            Err(StoreError::Conflict(_)) => {
                Err(ManageError::Exists(Target::Api(api.identifier.clone())))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The API `id`.
    ///
    /// # Errors
    /// [`ManageError::NotFound`].
    pub async fn api(&self, id: &Audience) -> Result<Versioned<Api>, ManageError> {
        if id.as_str().len() > crate::MAX_ID_LEN {
            return Err(no_api(id));
        }
        self.store.get_api(id).await?.ok_or_else(|| no_api(id))
    }

    /// The API `id` and the grants on it.
    ///
    /// # Errors
    /// [`ManageError::NotFound`].
    pub async fn api_with_grants(
        &self,
        id: &Audience,
    ) -> Result<(Versioned<Api>, Vec<Grant>), ManageError> {
        let api = self.api(id).await?;
        let grants = self.store.grants_for_api(id).await?;
        Ok((api, grants))
    }

    /// Every API, sorted by identifier.
    ///
    /// # Errors
    /// As the store.
    pub async fn apis(&self) -> Result<Vec<Versioned<Api>>, ManageError> {
        Ok(self.store.list_apis().await?)
    }

    /// Applies `change` to API `id`, at version `expected` when given (else on the
    /// current version, retried on concurrent changes). Scopes leaving the API leave
    /// the grants holding them when `change.cascade`; otherwise the change is refused,
    /// since a grant keeping them would silently re-grant them if they were added back.
    ///
    /// # Errors
    /// [`ManageError::Invalid`] for an empty or invalid change, [`ManageError::NotFound`],
    /// [`Refusal::ScopesGranted`], [`ManageError::VersionMismatch`],
    /// [`ManageError::KeptChanging`].
    pub async fn update_api(
        &self,
        id: &Audience,
        change: &ApiChange,
        expected: Option<u64>,
    ) -> Result<ApiUpdated, ManageError> {
        if change.is_empty() {
            return Err(ManageError::Invalid("nothing to change".into()));
        }
        let mut retry = Retry::new(self.backoff);
        loop {
            let current = self.api(id).await?;
            check_version(Target::Api(id.clone()), expected, current.version)?;
            let mut api = current.value.clone();
            apply(&mut api, change);
            validate_api(&api)?;
            let dropped = current.value.scopes.difference(&api.scopes);
            let trimmed: Vec<Grant> = if dropped.is_empty() {
                Vec::new()
            } else {
                self.store
                    .grants_for_api(id)
                    .await?
                    .into_iter()
                    .filter(|g| !g.scopes.intersection(&dropped).is_empty())
                    .map(|g| Grant {
                        scopes: g.scopes.difference(&dropped),
                        ..g
                    })
                    .collect()
            };
            if !trimmed.is_empty() && !change.cascade {
                return Err(Refusal::ScopesGranted {
                    api: id.clone(),
                    dropped,
                    clients: trimmed.iter().map(|g| g.client_id.clone()).collect(),
                }
                .into());
            }
            let written = if trimmed.is_empty() {
                self.store.replace_api(&api, current.version).await
            } else {
                self.store
                    .replace_api_with_grants(&api, current.version, &trimmed)
                    .await
            };
            match written {
                Ok(()) => {
                    return Ok(ApiUpdated {
                        api: Versioned {
                            value: api,
                            version: current.version.saturating_add(1),
                        },
                        grants_updated: trimmed,
                    })
                }
                Err(StoreError::Conflict(_)) if expected.is_some() => {
                    return Err(mismatch(Target::Api(id.clone()), expected, current.version))
                }
                Err(StoreError::Conflict(_)) => retry.again(|| format!("API {id}")).await?,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Deletes API `id`; with grants on it only when `force`, and then the grants
    /// first. Returns the grants deleted.
    ///
    /// # Errors
    /// [`ManageError::NotFound`], [`Refusal::ApiInUse`], [`ManageError::VersionMismatch`],
    /// [`ManageError::KeptChanging`].
    pub async fn delete_api(
        &self,
        id: &Audience,
        force: bool,
        expected: Option<u64>,
    ) -> Result<Vec<Grant>, ManageError> {
        let mut retry = Retry::new(self.backoff);
        loop {
            let current = self.api(id).await?;
            check_version(Target::Api(id.clone()), expected, current.version)?;
            let grants = self.store.grants_for_api(id).await?;
            if !grants.is_empty() && !force {
                return Err(Refusal::ApiInUse {
                    api: id.clone(),
                    clients: grants.iter().map(|g| g.client_id.clone()).collect(),
                }
                .into());
            }
            // A conflict means the API changed (e.g. a grant was added) since it was
            // read: decide again on what is there now.
            match self.store.delete_api(id, current.version, &grants).await {
                Ok(()) => return Ok(grants),
                Err(StoreError::Conflict(_)) if expected.is_some() => {
                    return Err(mismatch(Target::Api(id.clone()), expected, current.version))
                }
                Err(StoreError::Conflict(_)) => retry.again(|| format!("API {id}")).await?,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

fn apply(api: &mut Api, change: &ApiChange) {
    if let Some(name) = &change.name {
        api.name.clone_from(name);
    }
    if let Some(scopes) = &change.scopes {
        api.scopes = scopes.clone();
    }
    for s in change.add_scopes.iter() {
        api.scopes.insert(s.clone());
    }
    api.scopes = api.scopes.difference(&change.remove_scopes);
    if let Some(t) = change.token_lifetime {
        api.token_lifetime = t;
    }
    if let Some(p) = change.profile {
        api.profile = p;
    }
    api.reuse = change.reuse.apply(api.reuse);
}
