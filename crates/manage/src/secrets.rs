//! Secrets: rotation (a new secret, returned once; the older ones expire after a grace
//! period so callers switch over without a failed request) and revocation. Both are
//! conditional on the client's version and retried on conflict, so two operators
//! rotating at once both get a working secret and lose nothing.

use m2m_core::model::Client;
use m2m_core::secret::{generate_secret, stored_secret};
use m2m_core::types::{ClientId, ClientSecret, SecretId};

use crate::error::{ManageError, Target};
use crate::operator::Operator;
use crate::store::AdminStore;

/// Longest grace period for the secrets a rotation replaces: 30 days.
pub const MAX_GRACE: u64 = 30 * 86_400;

/// The result of a rotation.
#[derive(Debug)]
pub struct Rotated {
    /// The client as written.
    pub client: Client,
    /// The new secret: shown once, never stored.
    pub secret: ClientSecret,
    /// Its id.
    pub secret_id: SecretId,
    /// When the older secrets stop working, Unix seconds.
    pub previous_expire_at: u64,
    /// Secrets already expired, dropped from the client.
    pub pruned: Vec<SecretId>,
}

impl<S: AdminStore> Operator<S> {
    /// Issues client `id` a new secret; the others expire `grace` seconds from `now`
    /// (or sooner, if they already would). Secrets already expired are dropped, so the
    /// item does not grow with every rotation.
    ///
    /// # Errors
    /// [`ManageError::Invalid`] for a grace over [`MAX_GRACE`], otherwise as
    /// [`Self::mutate_client`].
    pub async fn rotate_secret(
        &self,
        id: &ClientId,
        grace: u64,
        now: u64,
    ) -> Result<Rotated, ManageError> {
        if grace > MAX_GRACE {
            return Err(ManageError::Invalid(format!(
                "the grace period must be at most {MAX_GRACE} seconds (30 days)"
            )));
        }
        let secret = generate_secret();
        let fresh = stored_secret(&secret, now, None);
        let previous_expire_at = now.saturating_add(grace);
        let (client, pruned) = self
            .mutate_client(id, None, |c| {
                let (expired, mut live): (Vec<_>, Vec<_>) = std::mem::take(&mut c.secrets)
                    .into_iter()
                    .partition(|s| s.expires_at.is_some_and(|e| now >= e));
                for s in &mut live {
                    s.expires_at = Some(
                        s.expires_at
                            .map_or(previous_expire_at, |e| e.min(previous_expire_at)),
                    );
                }
                live.push(fresh.clone());
                c.secrets = live;
                Ok(expired.into_iter().map(|s| s.id).collect::<Vec<_>>())
            })
            .await?;
        Ok(Rotated {
            client,
            secret,
            secret_id: fresh.id,
            previous_expire_at,
            pruned,
        })
    }

    /// Revokes secret `secret_id` of client `id` at once.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] for an unknown client or secret, otherwise as
    /// [`Self::mutate_client`].
    pub async fn revoke_secret(
        &self,
        id: &ClientId,
        secret_id: &SecretId,
        expected: Option<u64>,
    ) -> Result<Client, ManageError> {
        let (client, ()) = self
            .mutate_client(id, expected, |c| {
                let before = c.secrets.len();
                c.secrets.retain(|s| &s.id != secret_id);
                if c.secrets.len() == before {
                    return Err(ManageError::NotFound(Target::Secret(
                        id.clone(),
                        secret_id.clone(),
                    )));
                }
                Ok(())
            })
            .await?;
        Ok(client)
    }
}
