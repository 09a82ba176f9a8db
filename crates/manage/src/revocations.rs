//! Revoking access tokens before they expire (RFC 7009 §2), by the operator: every
//! token a client was issued up to now (a leaked secret, a compromised backend, or the
//! client being disabled), or one token by its `jti` (RFC 7519 §4.1.7).
//!
//! A revocation takes two places, written together in one write
//! ([`AdminStore::replace_client_and_revoke`]), so a failure leaves neither and running
//! the command again does it:
//! - the client itself: its `not_before` (tokens issued before it are revoked) or its
//!   `revocation_epoch` (bumped by every revocation of one of its tokens), which the
//!   token endpoint's reuse cache reads, so no token it kept is handed out again;
//! - the revocation entries verifiers read (the API Gateway authorizer,
//!   introspection): [`Revocation::Client`] or [`Revocation::Token`], kept until no
//!   token they revoke can still verify ([`Revocation::keep_until`]).

use m2m_core::model::{Client, MAX_TOKEN_LIFETIME};
use m2m_core::revocation::Revocation;
use m2m_core::types::ClientId;

use crate::error::ManageError;
use crate::operator::Operator;
use crate::store::AdminStore;

/// Sets `client`'s `not_before` so that every token it was issued up to `now`, that
/// second included, is revoked (never earlier than a `not_before` it already has),
/// and returns the entry that tells verifiers.
pub(crate) fn revoke_issued_until(client: &mut Client, now: u64) -> Revocation {
    let not_before = client.not_before.unwrap_or(0).max(now.saturating_add(1));
    client.not_before = Some(not_before);
    Revocation::Client {
        client_id: client.id.clone(),
        not_before,
    }
}

impl<S: AdminStore> Operator<S> {
    /// Revokes every token client `id` was issued up to `now` (RFC 7009 §2): its
    /// `not_before` becomes `now + 1` and verifiers are told, in one write. The client
    /// keeps working: the tokens it obtains from now on are valid.
    ///
    /// # Errors
    /// As [`Self::mutate_client`].
    pub async fn revoke_tokens(
        &self,
        id: &ClientId,
        expected: Option<u64>,
        now: u64,
    ) -> Result<Client, ManageError> {
        let (client, ()) = self
            .mutate_client_revoking(id, expected, now, |c| {
                Ok(((), Some(revoke_issued_until(c, now))))
            })
            .await?;
        Ok(client)
    }

    /// Revokes the token of client `id` whose `jti` is `jti` and which expires at
    /// `expires_at` (RFC 7009 §2): verifiers are told until then (the entry keeps only
    /// a digest of the `jti`), and the client's `revocation_epoch` is bumped in the
    /// same write so the token endpoint never hands out a token it kept for reuse.
    ///
    /// # Errors
    /// [`ManageError::Invalid`] for an empty or overlong `jti`, an expiry further than
    /// a token lives ([`MAX_TOKEN_LIFETIME`]) from `now`, or one so long past that
    /// every verifier refuses the token already; otherwise as [`Self::mutate_client`].
    pub async fn revoke_token(
        &self,
        id: &ClientId,
        jti: &str,
        expires_at: u64,
        expected: Option<u64>,
        now: u64,
    ) -> Result<Client, ManageError> {
        if jti.is_empty() || jti.len() > crate::MAX_ID_LEN {
            return Err(ManageError::Invalid(format!(
                "a token id (jti) must be 1 to {} bytes",
                crate::MAX_ID_LEN
            )));
        }
        let latest = now.saturating_add(MAX_TOKEN_LIFETIME);
        if expires_at > latest {
            return Err(ManageError::Invalid(format!(
                "no token lives more than {MAX_TOKEN_LIFETIME} s, so none issued by now \
                 expires after {latest}"
            )));
        }
        let revocation = Revocation::Token {
            jti: jti.to_owned(),
            client_id: id.clone(),
            expires_at,
        };
        if revocation.keep_until() <= now {
            return Err(ManageError::Invalid(format!(
                "a token that expired at {expires_at} is refused by every verifier already"
            )));
        }
        let (client, ()) = self
            .mutate_client_revoking(id, expected, now, |c| {
                c.revocation_epoch = c.revocation_epoch.saturating_add(1);
                Ok(((), Some(revocation.clone())))
            })
            .await?;
        Ok(client)
    }
}
