//! The signing-key lifecycle of DESIGN.md "Keys and JWKS": `pending` (published, not
//! signing) → `active` (signs; exactly one) → `retired` (published until every token
//! it signed has expired) → deleted; and `revoked` (compromised: never published,
//! never signs) from any state.
//!
//! Two timing rules protect verifiers: a key is activated only once it has been
//! published for the JWKS cache lifetime (so every verifier's cached JWKS already holds
//! it), and a retired key is deleted only when no token it signed can still be valid.

use std::future::Future;

use m2m_core::error::PortError;
use m2m_core::jwk::{Jwk, JwkSet};
use m2m_core::model::{Alg, KeyStatus, SigningKey, MAX_TOKEN_LIFETIME};
use m2m_core::types::Kid;

use crate::error::{no_key, ManageError, Refusal, Target};
use crate::operator::Operator;
use crate::store::{AdminStore, StoreError};

/// The JWKS `Cache-Control: max-age` (DESIGN.md): how long a verifier may keep using a
/// JWKS fetched before a key was published.
pub const JWKS_MAX_AGE: u64 = 300;
/// How long a new key must be published before it may sign: the JWKS function's
/// in-memory key-set cache (60 s) plus the `max-age` verifiers may cache the document
/// for. Until then some verifier may hold a JWKS without the key and reject its tokens.
pub const PUBLISH_DELAY: u64 = 60 + JWKS_MAX_AGE;
/// KMS's shortest deletion window, used to clean up a key whose registration failed.
pub const CLEANUP_PENDING_DAYS: i32 = 7;

/// A new asymmetric key in the vault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultKey {
    /// The vault's reference (a KMS key ARN).
    pub key_ref: String,
    /// Its public key.
    pub public_jwk: Jwk,
}

/// Where signing keys are made and destroyed (KMS). The private key never leaves it.
pub trait KeyVault: Send + Sync {
    /// Creates a signing key for `alg` and returns its reference and public key.
    fn create(&self, alg: Alg) -> impl Future<Output = Result<VaultKey, PortError>> + Send;
    /// Schedules the deletion of `key_ref` after `pending_days`; returns when it will
    /// happen (Unix seconds), if the vault says.
    fn schedule_deletion(
        &self,
        key_ref: &str,
        pending_days: i32,
    ) -> impl Future<Output = Result<Option<u64>, PortError>> + Send;
}

/// The result of an activation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Activated {
    /// The key now active.
    pub key: SigningKey,
    /// The keys it replaced, now retired.
    pub retired: Vec<Kid>,
    /// False when the key was already active (nothing was written).
    pub changed: bool,
}

/// The result of a revocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revoked {
    /// The key as it was before.
    pub key: SigningKey,
    /// The pending key promoted to active in the same write, if any.
    pub promoted: Option<Kid>,
    /// False when the key was already revoked (nothing was written).
    pub changed: bool,
}

/// Keys currently active other than `except`.
pub fn active_keys<'a>(keys: &'a [SigningKey], except: Option<&Kid>) -> Vec<&'a SigningKey> {
    keys.iter()
        .filter(|k| k.status == KeyStatus::Active && Some(&k.kid) != except)
        .collect()
}

fn changed_concurrently(what: String) -> ManageError {
    ManageError::ChangedConcurrently(what)
}

impl<S: AdminStore> Operator<S> {
    /// Every key, oldest first, each with whether the JWKS publishes it at `now`.
    ///
    /// # Errors
    /// As the store.
    pub async fn keys(&self, now: u64) -> Result<Vec<(SigningKey, bool)>, ManageError> {
        let keys = self.store.list_keys().await?;
        let published = JwkSet::published(&keys, now);
        Ok(keys
            .into_iter()
            .map(|k| {
                let p = published.find(&k.kid).is_some();
                (k, p)
            })
            .collect())
    }

    /// The key `kid`.
    ///
    /// # Errors
    /// [`ManageError::NotFound`].
    pub async fn key(&self, kid: &Kid) -> Result<SigningKey, ManageError> {
        if kid.as_str().len() > crate::MAX_ID_LEN {
            return Err(no_key(kid));
        }
        self.store.get_key(kid).await?.ok_or_else(|| no_key(kid))
    }

    /// Creates a key in `vault` and registers it with `status` (`active` only for a
    /// first key, which no verifier can have cached yet). If the registration fails,
    /// the vault key is scheduled for deletion.
    ///
    /// # Errors
    /// [`ManageError::Vault`], or the store's error.
    pub async fn create_key<V: KeyVault>(
        &self,
        vault: &V,
        alg: Alg,
        status: KeyStatus,
        now: u64,
    ) -> Result<SigningKey, ManageError> {
        let made = vault.create(alg).await.map_err(ManageError::Vault)?;
        let key = SigningKey {
            kid: made
                .public_jwk
                .kid
                .clone()
                .unwrap_or_else(|| made.public_jwk.thumbprint()),
            kms_key_id: made.key_ref.clone(),
            alg,
            status,
            public_jwk: made.public_jwk,
            created_at: now,
            activated_at: (status == KeyStatus::Active).then_some(now),
            retired_at: None,
        };
        match self.store.create_key(&key).await {
            Ok(()) => Ok(key),
            Err(e) => {
                // Best effort: the registration's error matters more than the cleanup's.
                let _ = vault
                    .schedule_deletion(&made.key_ref, CLEANUP_PENDING_DAYS)
                    .await;
                Err(match e {
                    StoreError::Conflict(_) => ManageError::Exists(Target::Key(key.kid)),
                    other => other.into(),
                })
            }
        }
    }

    /// Makes pending key `kid` the active one, retiring the key it replaces, once it
    /// has been published for [`PUBLISH_DELAY`] (earlier only with `force`).
    ///
    /// # Errors
    /// [`ManageError::NotFound`], [`Refusal::KeyNotReactivated`],
    /// [`Refusal::KeyNotReady`], [`ManageError::ChangedConcurrently`].
    pub async fn activate_key(
        &self,
        kid: &Kid,
        force: bool,
        now: u64,
    ) -> Result<Activated, ManageError> {
        let key = self.key(kid).await?;
        match key.status {
            KeyStatus::Active => {
                return Ok(Activated {
                    key,
                    retired: Vec::new(),
                    changed: false,
                })
            }
            KeyStatus::Retired | KeyStatus::Revoked => {
                return Err(Refusal::KeyNotReactivated {
                    kid: kid.clone(),
                    status: key.status,
                }
                .into())
            }
            KeyStatus::Pending => {}
        }
        let ready_at = key.created_at.saturating_add(PUBLISH_DELAY);
        if now < ready_at && !force {
            return Err(Refusal::KeyNotReady {
                kid: kid.clone(),
                published_for: now.saturating_sub(key.created_at),
                ready_at,
                created_at: key.created_at,
            }
            .into());
        }
        let keys = self.store.list_keys().await?;
        let previous: Vec<Kid> = active_keys(&keys, Some(kid))
            .into_iter()
            .map(|k| k.kid.clone())
            .collect();
        match self
            .store
            .activate_key(kid, KeyStatus::Pending, &previous, now)
            .await
        {
            Ok(()) => Ok(Activated {
                key: SigningKey {
                    status: KeyStatus::Active,
                    activated_at: Some(now),
                    ..key
                },
                retired: previous,
                changed: true,
            }),
            Err(StoreError::Conflict(what)) => Err(changed_concurrently(what)),
            Err(e) => Err(e.into()),
        }
    }

    /// Retires key `kid`: it stays published until its tokens have expired. The active
    /// key only with `force` (no key signs afterwards).
    ///
    /// # Errors
    /// [`ManageError::NotFound`], [`Refusal::KeyAlreadyRetired`], [`Refusal::KeyRevoked`],
    /// [`Refusal::KeyActive`].
    pub async fn retire_key(
        &self,
        kid: &Kid,
        force: bool,
        now: u64,
    ) -> Result<SigningKey, ManageError> {
        let key = self.key(kid).await?;
        match key.status {
            KeyStatus::Retired => {
                return Err(Refusal::KeyAlreadyRetired {
                    kid: kid.clone(),
                    retired_at: key.retired_at,
                }
                .into())
            }
            KeyStatus::Revoked => return Err(Refusal::KeyRevoked { kid: kid.clone() }.into()),
            KeyStatus::Active if !force => {
                return Err(Refusal::KeyActive { kid: kid.clone() }.into())
            }
            KeyStatus::Active | KeyStatus::Pending => {}
        }
        match self.store.retire_key(kid, key.status, now).await {
            Ok(()) => Ok(SigningKey {
                status: KeyStatus::Retired,
                retired_at: Some(now),
                ..key
            }),
            Err(StoreError::Conflict(what)) => Err(changed_concurrently(what)),
            Err(e) => Err(e.into()),
        }
    }

    /// Revokes key `kid` (compromise): it leaves the JWKS and never signs again. When it
    /// is the active key, a pending key takes over in the same write: `activate`, or the
    /// only pending key; with none, only with `force` (no token is issued until a key
    /// is activated).
    ///
    /// # Errors
    /// [`ManageError::NotFound`], [`Refusal::KeyNotPending`], [`Refusal::NoSuccessor`],
    /// [`Refusal::SeveralPending`], [`ManageError::ChangedConcurrently`].
    pub async fn revoke_key(
        &self,
        kid: &Kid,
        activate: Option<&Kid>,
        force: bool,
        now: u64,
    ) -> Result<Revoked, ManageError> {
        let key = self.key(kid).await?;
        if key.status == KeyStatus::Revoked {
            return Ok(Revoked {
                key,
                promoted: None,
                changed: false,
            });
        }
        let keys = self.store.list_keys().await?;
        let pending: Vec<&SigningKey> = keys
            .iter()
            .filter(|k| k.status == KeyStatus::Pending && &k.kid != kid)
            .collect();
        let promote = match (activate, key.status) {
            (Some(next), _) => {
                if !pending.iter().any(|k| &k.kid == next) {
                    return Err(Refusal::KeyNotPending { kid: next.clone() }.into());
                }
                Some(next.clone())
            }
            (None, KeyStatus::Active) => match pending.as_slice() {
                [only] => Some(only.kid.clone()),
                [] if force => None,
                [] => return Err(Refusal::NoSuccessor { kid: kid.clone() }.into()),
                several => {
                    return Err(Refusal::SeveralPending {
                        kids: several.iter().map(|k| k.kid.clone()).collect(),
                    }
                    .into())
                }
            },
            (None, _) => None,
        };
        match self
            .store
            .revoke_key(kid, key.status, promote.as_ref(), now)
            .await
        {
            Ok(()) => Ok(Revoked {
                key,
                promoted: promote,
                changed: true,
            }),
            Err(StoreError::Conflict(what)) => Err(changed_concurrently(what)),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes retired key `kid` from the registry once no token it signed can be
    /// valid, then schedules its vault key's deletion. Returns the key and when the
    /// vault deletes it.
    ///
    /// # Errors
    /// [`Refusal::KeyNotRetired`], [`Refusal::KeyNoRetirementTime`],
    /// [`Refusal::KeyStillValid`]; [`ManageError::Vault`] when the registry entry is
    /// gone but the deletion could not be scheduled.
    pub async fn delete_key<V: KeyVault>(
        &self,
        vault: &V,
        kid: &Kid,
        pending_days: i32,
        now: u64,
    ) -> Result<(SigningKey, Option<u64>), ManageError> {
        let key = self.key(kid).await?;
        let retired_at = match (key.status, key.retired_at) {
            (KeyStatus::Retired, Some(t)) => t,
            (KeyStatus::Retired, None) => {
                return Err(Refusal::KeyNoRetirementTime { kid: kid.clone() }.into())
            }
            (status, _) => {
                return Err(Refusal::KeyNotRetired {
                    kid: kid.clone(),
                    status,
                }
                .into())
            }
        };
        let safe_at = retired_at.saturating_add(MAX_TOKEN_LIFETIME);
        if now < safe_at {
            return Err(Refusal::KeyStillValid {
                kid: kid.clone(),
                safe_at,
            }
            .into());
        }
        self.store.delete_key(kid, retired_at).await?;
        let deletion = vault
            .schedule_deletion(&key.kms_key_id, pending_days)
            .await
            .map_err(ManageError::Vault)?;
        Ok((key, deletion))
    }
}
