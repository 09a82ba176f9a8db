//! Clients: one per customer backend. Registered with their organization, metadata
//! and grants in one all-or-nothing write, with a server-generated secret shown once
//! (only its hash is kept, DESIGN.md "Directory") or, for a client that will
//! authenticate with keys or trust rules instead, with no secret at all; read, listed
//! page by page, changed, disabled, enabled and deleted (with its grants in one write,
//! its trust rules just before).

use std::collections::BTreeMap;

use m2m_core::model::{Client, ClientStatus, Grant};
use m2m_core::revocation::Revocation;
use m2m_core::secret::{generate_secret, stored_secret};
use m2m_core::types::{Audience, ClientId, ClientSecret, OrgId, ScopeSet};
use rand::distributions::Alphanumeric;
use rand::rngs::OsRng;
use rand::Rng as _;

use crate::error::{no_client, ManageError, Target};
use crate::grants::undefined_scopes;
use crate::operator::Operator;
use crate::retry::{check_version, mismatch, Retry};
use crate::revocations::revoke_issued_until;
use crate::store::{
    AdminStore, ClientFilter, Cursor, Page, StoreError, MAX_PAGE, MAX_RULES_PER_WRITE,
};

/// Characters in a generated client id: alphanumeric, ~143 bits, never starting with a
/// dash (safe as a command-line argument) and safe in HTTP Basic credentials.
const CLIENT_ID_LEN: usize = 24;
/// Longest client name, characters.
pub const MAX_NAME_LEN: usize = 200;
/// Most metadata entries on one client (it travels to the claims hook on every token).
pub const MAX_METADATA_ENTRIES: usize = 50;
/// Longest metadata key or value, characters.
pub const MAX_METADATA_LEN: usize = 256;
/// Most grants created with a client in one write (one transaction of at most 100
/// actions: the client, and per grant the grant and its API's version).
pub const MAX_GRANTS_AT_CREATE: usize = 49;

/// A client to register.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewClient {
    /// Its name.
    pub name: String,
    /// Its organization (customer).
    pub org_id: Option<OrgId>,
    /// Operator metadata, passed to the claims hook.
    pub metadata: BTreeMap<String, String>,
    /// Grants: scopes of APIs, each defined by its API.
    pub grants: Vec<(Audience, ScopeSet)>,
    /// Register the client without a secret: it will authenticate with
    /// `private_key_jwt` (RFC 7523 §2.2) once it has registered keys, a `jwks_uri` or
    /// trust rules. `secret rotate` can still issue it a secret later.
    pub secretless: bool,
}

/// A registered client with the secret to show its owner once.
#[derive(Debug)]
pub struct Created {
    /// The client as stored.
    pub client: Client,
    /// Its grants.
    pub grants: Vec<Grant>,
    /// The secret: shown once, never stored. `None` for a secretless client.
    pub secret: Option<ClientSecret>,
}

/// What deleting a client removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deleted {
    /// Its grants.
    pub grants: Vec<Grant>,
    /// How many trust rules it held.
    pub trust_rules: usize,
}

/// A change to a client's name and metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientChange {
    /// A new name.
    pub name: Option<String>,
    /// A JSON merge patch (RFC 7396) of the metadata: a value sets the key, `None`
    /// removes it, keys not named are kept.
    pub metadata: BTreeMap<String, Option<String>>,
}

fn new_client_id() -> ClientId {
    ClientId::new(
        OsRng
            .sample_iter(&Alphanumeric)
            .take(CLIENT_ID_LEN)
            .map(char::from)
            .collect::<String>(),
    )
}

fn validate_name(name: &str) -> Result<(), ManageError> {
    if name.trim().is_empty() {
        return Err(ManageError::Invalid(
            "the client name must not be empty".into(),
        ));
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(ManageError::Invalid(format!(
            "the client name must be at most {MAX_NAME_LEN} characters"
        )));
    }
    Ok(())
}

fn validate_metadata(metadata: &BTreeMap<String, String>) -> Result<(), ManageError> {
    if metadata.len() > MAX_METADATA_ENTRIES {
        return Err(ManageError::Invalid(format!(
            "a client holds at most {MAX_METADATA_ENTRIES} metadata entries"
        )));
    }
    for (k, v) in metadata {
        if k.is_empty()
            || k.chars().count() > MAX_METADATA_LEN
            || v.chars().count() > MAX_METADATA_LEN
        {
            return Err(ManageError::Invalid(format!(
                "metadata keys must be 1 to {MAX_METADATA_LEN} characters and values at most {MAX_METADATA_LEN}"
            )));
        }
    }
    Ok(())
}

impl<S: AdminStore> Operator<S> {
    /// Registers a client with its grants in one write and a fresh secret (its hash
    /// stored, the secret returned once). An organization given as blank is none; a
    /// client of an organization starts with the organization's quota.
    ///
    /// # Errors
    /// [`ManageError::Invalid`], [`ManageError::NotFound`] for an unknown API,
    /// [`ManageError::UndefinedScopes`], [`ManageError::KeptChanging`].
    pub async fn create_client(&self, new: NewClient, now: u64) -> Result<Created, ManageError> {
        validate_name(&new.name)?;
        validate_metadata(&new.metadata)?;
        if new
            .org_id
            .as_ref()
            .is_some_and(|o| o.as_str().chars().count() > MAX_NAME_LEN)
        {
            return Err(ManageError::Invalid(format!(
                "the organization id must be at most {MAX_NAME_LEN} characters"
            )));
        }
        if new.grants.len() > MAX_GRANTS_AT_CREATE {
            return Err(ManageError::Invalid(format!(
                "at most {MAX_GRANTS_AT_CREATE} grants can be given at creation; add more afterwards"
            )));
        }
        let mut wanted: BTreeMap<Audience, ScopeSet> = BTreeMap::new();
        for (api, scopes) in new.grants {
            let entry = wanted.entry(api).or_default();
            for s in scopes.iter() {
                entry.insert(s.clone());
            }
        }
        let secret = (!new.secretless).then(generate_secret);
        let mut client = Client {
            id: new_client_id(),
            name: new.name,
            org_id: new.org_id.filter(|o| !o.as_str().trim().is_empty()),
            status: ClientStatus::Active,
            metadata: new.metadata,
            secrets: secret.iter().map(|s| stored_secret(s, now, None)).collect(),
            keys: Vec::new(),
            jwks_uri: None,
            quota: None,
            org_quota: None,
            not_before: None,
            revocation_epoch: 0,
            introspect: false,
            version: 1,
        };
        let mut retry = Retry::new(self.backoff);
        loop {
            // The organization's quota as it is now; the write is conditional on its
            // record not changing meanwhile.
            let org = match &client.org_id {
                Some(org) => Some(self.store.get_org(org).await?),
                None => None,
            };
            client.org_quota = org
                .as_ref()
                .and_then(|o| o.as_ref().and_then(|o| o.value.quota));
            let mut grants = Vec::with_capacity(wanted.len());
            for (audience, scopes) in &wanted {
                let api = self.api(audience).await?;
                undefined_scopes(audience, scopes, &api.value.scopes)?;
                grants.push((
                    Grant {
                        client_id: client.id.clone(),
                        audience: audience.clone(),
                        scopes: scopes.clone(),
                    },
                    api.version,
                ));
            }
            let written = match &org {
                Some(record) => {
                    let org_version = record.as_ref().map(|o| o.version);
                    self.store
                        .create_client_in_org(&client, &grants, org_version)
                        .await
                }
                None => self.store.create_client(&client, &grants).await,
            };
            match written {
                Ok(()) => {
                    return Ok(Created {
                        client,
                        grants: grants.into_iter().map(|(g, _)| g).collect(),
                        secret,
                    })
                }
                Err(StoreError::Conflict(_)) => {
                    retry.again(|| format!("client {}", client.id)).await?;
                    // An API or the organization's record changed since it was read
                    // (read them again) or, against all odds, the random 143-bit id was
                    // taken: draw a fresh one either way.
                    client.id = new_client_id();
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The client `id`.
    ///
    /// # Errors
    /// [`ManageError::NotFound`].
    pub async fn client(&self, id: &ClientId) -> Result<Client, ManageError> {
        if id.as_str().len() > crate::MAX_ID_LEN {
            return Err(no_client(id));
        }
        self.store
            .get_client(id)
            .await?
            .ok_or_else(|| no_client(id))
    }

    /// The client `id` with its grants.
    ///
    /// # Errors
    /// [`ManageError::NotFound`].
    pub async fn client_with_grants(
        &self,
        id: &ClientId,
    ) -> Result<(Client, Vec<Grant>), ManageError> {
        let client = self.client(id).await?;
        let grants = self.store.client_grants(id).await?;
        Ok((client, grants))
    }

    /// One page of clients (of one organization when `filter.org`), sorted by id.
    ///
    /// # Errors
    /// [`ManageError::Invalid`] for a limit outside 1..=[`MAX_PAGE`] or a foreign
    /// cursor.
    pub async fn clients(
        &self,
        filter: &ClientFilter,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<Client>, ManageError> {
        if filter
            .org
            .as_ref()
            .is_some_and(|o| o.as_str().len() > crate::MAX_ID_LEN)
        {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        }
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ManageError::Invalid(format!(
                "the page size must be 1 to {MAX_PAGE}"
            )));
        }
        Ok(self.store.list_clients(filter, after, limit).await?)
    }

    /// Every client matching `filter`, read page by page.
    ///
    /// # Errors
    /// As the store.
    pub async fn all_clients(&self, filter: &ClientFilter) -> Result<Vec<Client>, ManageError> {
        let mut all = Vec::new();
        let mut after: Option<Cursor> = None;
        loop {
            let page = self.clients(filter, after.as_ref(), MAX_PAGE).await?;
            all.extend(page.items);
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(all),
            }
        }
    }

    /// Reads client `id`, applies `change` and writes it back conditional on the version
    /// read (bumping it). With `expected`, the stored version must be that one
    /// (optimistic concurrency for a caller holding an `ETag`); without, a concurrent
    /// change is met by reading again and re-applying `change`, with backoff.
    ///
    /// # Errors
    /// What `change` returns, [`ManageError::NotFound`], [`ManageError::VersionMismatch`],
    /// [`ManageError::KeptChanging`].
    pub async fn mutate_client<T>(
        &self,
        id: &ClientId,
        expected: Option<u64>,
        mut change: impl FnMut(&mut Client) -> Result<T, ManageError>,
    ) -> Result<(Client, T), ManageError> {
        self.mutate_client_revoking(id, expected, 0, |c| Ok((change(c)?, None)))
            .await
    }

    /// [`Self::mutate_client`] for a change that may also revoke tokens: when `change`
    /// returns a [`Revocation`], it is recorded for verifiers in the same write as the
    /// client ([`AdminStore::replace_client_and_revoke`]), at `now`.
    ///
    /// # Errors
    /// As [`Self::mutate_client`].
    pub(crate) async fn mutate_client_revoking<T>(
        &self,
        id: &ClientId,
        expected: Option<u64>,
        now: u64,
        mut change: impl FnMut(&mut Client) -> Result<(T, Option<Revocation>), ManageError>,
    ) -> Result<(Client, T), ManageError> {
        let mut retry = Retry::new(self.backoff);
        loop {
            let current = self.client(id).await?;
            check_version(Target::Client(id.clone()), expected, current.version)?;
            let mut next = current.clone();
            let (out, revocation) = change(&mut next)?;
            next.version = current.version.saturating_add(1);
            let written = match &revocation {
                None => self.store.replace_client(&next, current.version).await,
                Some(r) => {
                    self.store
                        .replace_client_and_revoke(&next, current.version, r, now)
                        .await
                }
            };
            match written {
                Ok(()) => return Ok((next, out)),
                Err(StoreError::Conflict(_)) if expected.is_some() => {
                    return Err(mismatch(
                        Target::Client(id.clone()),
                        expected,
                        current.version,
                    ))
                }
                Err(StoreError::Conflict(_)) => retry.again(|| format!("client {id}")).await?,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Changes a client's name and metadata.
    ///
    /// # Errors
    /// As [`Self::mutate_client`]; [`ManageError::Invalid`] for a bad name or metadata.
    pub async fn update_client(
        &self,
        id: &ClientId,
        change: &ClientChange,
        expected: Option<u64>,
    ) -> Result<Client, ManageError> {
        if let Some(name) = &change.name {
            validate_name(name)?;
        }
        let (client, ()) = self
            .mutate_client(id, expected, |c| {
                if let Some(name) = &change.name {
                    c.name.clone_from(name);
                }
                for (k, v) in &change.metadata {
                    match v {
                        Some(v) => {
                            c.metadata.insert(k.clone(), v.clone());
                        }
                        None => {
                            c.metadata.remove(k);
                        }
                    }
                }
                validate_metadata(&c.metadata)
            })
            .await?;
        Ok(client)
    }

    /// Disables or enables client `id`. A disabled client gets no token (and no reused
    /// one: the version bump changes the reuse cache's key). Disabling also revokes
    /// every token it was issued up to `now` (RFC 7009 §2), in the same write
    /// ([`Self::revoke_tokens`]): verifiers refuse them from then on, and enabling it
    /// again does not bring them back.
    ///
    /// # Errors
    /// As [`Self::mutate_client`].
    pub async fn set_client_status(
        &self,
        id: &ClientId,
        status: ClientStatus,
        expected: Option<u64>,
        now: u64,
    ) -> Result<Client, ManageError> {
        let (client, ()) = self
            .mutate_client_revoking(id, expected, now, |c| {
                c.status = status;
                let revocation =
                    (status == ClientStatus::Disabled).then(|| revoke_issued_until(c, now));
                Ok(((), revocation))
            })
            .await?;
        Ok(client)
    }

    /// Allows or denies client `id` the introspection endpoint (RFC 7662 §2.1: the
    /// endpoint answers only callers authorized to ask, typically a resource server's
    /// own client).
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

    /// Deletes client `id`: first its trust rules, [`MAX_RULES_PER_WRITE`] per write
    /// (each write conditional on the client's version and bumping it, so a rule added
    /// meanwhile fails the delete and is read again), then the client and its grants in
    /// one write. Returns what was deleted. Interrupted between those writes, the client
    /// is left with fewer rules; deleting it again finishes.
    ///
    /// # Errors
    /// [`ManageError::NotFound`], [`ManageError::VersionMismatch`],
    /// [`ManageError::KeptChanging`].
    pub async fn delete_client(
        &self,
        id: &ClientId,
        expected: Option<u64>,
    ) -> Result<Deleted, ManageError> {
        let mut retry = Retry::new(self.backoff);
        let mut expected = expected;
        let mut rules_deleted = 0;
        loop {
            let client = self.client(id).await?;
            check_version(Target::Client(id.clone()), expected, client.version)?;
            let grants = self.store.client_grants(id).await?;
            let rules = self.all_trust_rules(id).await?;
            let mut version = client.version;
            let mut written = Ok(());
            for chunk in rules.chunks(MAX_RULES_PER_WRITE) {
                written = self.store.delete_trust_rules(id, chunk, version).await;
                if written.is_err() {
                    break;
                }
                version = version.saturating_add(1);
                rules_deleted += chunk.len();
                // The caller's precondition held; what changes now is this delete's own.
                if expected.is_some() {
                    expected = Some(version);
                }
            }
            if written.is_ok() {
                written = self.store.delete_client(id, version, &grants).await;
            }
            match written {
                Ok(()) => {
                    return Ok(Deleted {
                        grants,
                        trust_rules: rules_deleted,
                    })
                }
                Err(StoreError::Conflict(_)) if expected.is_some() => {
                    return Err(mismatch(Target::Client(id.clone()), expected, version))
                }
                Err(StoreError::Conflict(_)) => retry.again(|| format!("client {id}")).await?,
                Err(e) => return Err(e.into()),
            }
        }
    }
}
