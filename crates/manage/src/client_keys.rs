//! A client's own public keys, for `private_key_jwt` (RFC 7523 §2.2, OpenID Connect
//! Core §9): registered one by one (public JWKs only, RFC 7517 §4), listed, expired
//! on a schedule so a customer rotates with an overlap, and removed; or instead
//! published by the customer at a `jwks_uri`. A client has one or the other, never
//! both (OpenID Connect Dynamic Client Registration §2: `jwks` and `jwks_uri` must not
//! both be present).
//!
//! Keys and `jwks_uri` are part of the client item, so every change is one write
//! conditional on the client's version, which it bumps: a token reused from the cache
//! (keyed on that version) never outlives the key that earned it.

use m2m_core::assertion::keys::{registrable_jwk, thumbprint};
use m2m_core::model::{Client, ClientKey, MAX_CLIENT_KEYS};
use m2m_core::types::ClientId;

use crate::error::{ManageError, Refusal, Target};
use crate::operator::Operator;
use crate::store::AdminStore;
use crate::urls::check_jwks_uri;

/// Longest JWK accepted, bytes of JSON: an RSA 4096-bit public key with a certificate
/// chain fits; the client item (400 KB in DynamoDB) holds [`MAX_CLIENT_KEYS`] of them.
pub const MAX_JWK_LEN: usize = 8 * 1024;
/// Longest `kid`, characters.
pub const MAX_KID_LEN: usize = 256;

/// A key just registered.
#[derive(Clone, Debug)]
pub struct KeyAdded {
    /// The client as written.
    pub client: Client,
    /// The key.
    pub key: ClientKey,
    /// The `kid`s of expired keys dropped in the same write.
    pub pruned: Vec<String>,
}

/// The key `kid` of `client`, or not found.
fn key_of<'a>(client: &'a mut Client, kid: &str) -> Result<&'a mut ClientKey, ManageError> {
    let id = client.id.clone();
    client
        .keys
        .iter_mut()
        .find(|k| k.kid == kid)
        .ok_or_else(|| ManageError::NotFound(Target::ClientKey(id, kid.to_owned())))
}

/// The RFC 7638 thumbprint of a stored key, when it still parses.
fn stored_thumbprint(key: &ClientKey) -> Option<String> {
    registrable_jwk(&key.jwk)
        .ok()
        .and_then(|(_, jwk)| thumbprint(&jwk))
}

impl<S: AdminStore> Operator<S> {
    /// Registers the public JWK `jwk` (JSON text) for client `id`, usable until
    /// `expires_at` (Unix seconds) if given. The key's `kid` is its own, or its RFC 7638
    /// thumbprint when it has none. Expired keys are dropped in the same write.
    ///
    /// # Errors
    /// [`ManageError::Invalid`] for a JWK that is not a public signing key of an
    /// accepted type, or an expiry not in the future; [`ManageError::Exists`] for a
    /// `kid` already registered; [`Refusal::SameKeyRegistered`],
    /// [`Refusal::TooManyKeys`], [`Refusal::JwksUriSet`]; otherwise as
    /// [`Self::mutate_client`].
    pub async fn add_client_key(
        &self,
        id: &ClientId,
        jwk: &str,
        expires_at: Option<u64>,
        now: u64,
        expected: Option<u64>,
    ) -> Result<KeyAdded, ManageError> {
        let jwk = jwk.trim();
        if jwk.len() > MAX_JWK_LEN {
            return Err(ManageError::Invalid(format!(
                "the JWK must be at most {MAX_JWK_LEN} bytes of JSON"
            )));
        }
        let (kid, parsed) =
            registrable_jwk(jwk).map_err(|e| ManageError::Invalid(format!("the JWK: {e}")))?;
        if kid.chars().count() > MAX_KID_LEN || kid.chars().any(char::is_control) {
            return Err(ManageError::Invalid(format!(
                "the JWK's kid must be at most {MAX_KID_LEN} characters, without control characters"
            )));
        }
        if expires_at.is_some_and(|e| e <= now) {
            return Err(ManageError::Invalid(
                "the key's expiry must be in the future".into(),
            ));
        }
        let print = thumbprint(&parsed);
        let key = ClientKey {
            kid: kid.clone(),
            jwk: jwk.to_owned(),
            added_at: now,
            expires_at,
        };
        let (client, pruned) = self
            .mutate_client(id, expected, |c| {
                if let Some(uri) = &c.jwks_uri {
                    return Err(Refusal::JwksUriSet {
                        client: c.id.clone(),
                        jwks_uri: uri.clone(),
                    }
                    .into());
                }
                if c.keys.iter().any(|k| k.kid == kid) {
                    return Err(ManageError::Exists(Target::ClientKey(
                        c.id.clone(),
                        kid.clone(),
                    )));
                }
                if let Some(same) = c
                    .keys
                    .iter()
                    .find(|k| print.is_some() && stored_thumbprint(k) == print)
                {
                    return Err(Refusal::SameKeyRegistered {
                        client: c.id.clone(),
                        kid: same.kid.clone(),
                    }
                    .into());
                }
                let (expired, live): (Vec<_>, Vec<_>) = std::mem::take(&mut c.keys)
                    .into_iter()
                    .partition(|k| !k.usable_at(now));
                if live.len() >= MAX_CLIENT_KEYS {
                    return Err(Refusal::TooManyKeys {
                        client: c.id.clone(),
                        max: MAX_CLIENT_KEYS,
                    }
                    .into());
                }
                c.keys = live;
                c.keys.push(key.clone());
                Ok(expired.into_iter().map(|k| k.kid).collect::<Vec<_>>())
            })
            .await?;
        Ok(KeyAdded {
            client,
            key,
            pruned,
        })
    }

    /// The keys registered by client `id`.
    ///
    /// # Errors
    /// [`ManageError::NotFound`].
    pub async fn client_keys(&self, id: &ClientId) -> Result<Client, ManageError> {
        self.client(id).await
    }

    /// Removes key `kid` from client `id` at once.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] for an unknown client or key, otherwise as
    /// [`Self::mutate_client`].
    pub async fn remove_client_key(
        &self,
        id: &ClientId,
        kid: &str,
        expected: Option<u64>,
    ) -> Result<(Client, ClientKey), ManageError> {
        self.mutate_client(id, expected, |c| {
            let removed = key_of(c, kid)?.clone();
            c.keys.retain(|k| k.kid != kid);
            Ok(removed)
        })
        .await
    }

    /// Sets when key `kid` of client `id` stops authenticating: `Some(t)` at `t` (now
    /// or later), `None` never. For a rotation, register the new key, then expire the
    /// old one after the customer has switched.
    ///
    /// # Errors
    /// [`ManageError::Invalid`] for a time in the past; [`ManageError::NotFound`] for
    /// an unknown client or key; otherwise as [`Self::mutate_client`].
    pub async fn set_client_key_expiry(
        &self,
        id: &ClientId,
        kid: &str,
        expires_at: Option<u64>,
        now: u64,
        expected: Option<u64>,
    ) -> Result<(Client, ClientKey), ManageError> {
        if expires_at.is_some_and(|e| e < now) {
            return Err(ManageError::Invalid(
                "the key's expiry must not be in the past".into(),
            ));
        }
        self.mutate_client(id, expected, |c| {
            let key = key_of(c, kid)?;
            key.expires_at = expires_at;
            Ok(key.clone())
        })
        .await
    }

    /// Sets (`Some`) or clears (`None`) the `jwks_uri` of client `id`: where the
    /// customer publishes its public keys (OpenID Connect Core §9), fetched and cached
    /// by the token endpoint.
    ///
    /// # Errors
    /// [`ManageError::Invalid`] for a URL that is not absolute https (plain http only
    /// to a loopback host) or carries userinfo or a fragment;
    /// [`Refusal::KeysRegistered`] while the client has registered keys; otherwise as
    /// [`Self::mutate_client`].
    pub async fn set_jwks_uri(
        &self,
        id: &ClientId,
        uri: Option<&str>,
        expected: Option<u64>,
    ) -> Result<Client, ManageError> {
        if let Some(uri) = uri {
            check_jwks_uri(uri)?;
        }
        let (client, ()) = self
            .mutate_client(id, expected, |c| {
                if uri.is_some() && !c.keys.is_empty() {
                    return Err(Refusal::KeysRegistered {
                        client: c.id.clone(),
                        keys: c.keys.len(),
                    }
                    .into());
                }
                c.jwks_uri = uri.map(str::to_owned);
                Ok(())
            })
            .await?;
        Ok(client)
    }
}
