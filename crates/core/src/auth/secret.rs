//! `client_secret_basic` and `client_secret_post` (RFC 6749 §2.3.1): the secret's
//! hash against the client's stored hashes, in constant time.

use super::{Authenticated, Credential};
use crate::error::OAuthError;
use crate::model::{Client, ClientStatus};
use crate::secret::{dummy_verify, verify_secret};
use crate::types::ClientSecret;

/// A secret from the HTTP Basic `Authorization` header.
///
/// # Errors
/// `invalid_client`.
pub fn client_secret_basic<'a>(
    secret: &ClientSecret,
    client: Option<&'a Client>,
    now: u64,
) -> Result<Authenticated<'a>, OAuthError> {
    by_secret(secret, client, now)
}

/// A secret from the body.
///
/// # Errors
/// `invalid_client`.
pub fn client_secret_post<'a>(
    secret: &ClientSecret,
    client: Option<&'a Client>,
    now: u64,
) -> Result<Authenticated<'a>, OAuthError> {
    by_secret(secret, client, now)
}

/// Both methods carry the same credential; only how it travels differs. An unknown
/// client costs the same hash comparison as a wrong secret (RFC 6819 §5.1.4.1.3).
fn by_secret<'a>(
    secret: &ClientSecret,
    client: Option<&'a Client>,
    now: u64,
) -> Result<Authenticated<'a>, OAuthError> {
    let Some(client) = client else {
        dummy_verify(secret);
        return Err(OAuthError::InvalidClient);
    };
    let matched = verify_secret(secret, &client.secrets, now).ok_or(OAuthError::InvalidClient)?;
    if client.status != ClientStatus::Active {
        return Err(OAuthError::InvalidClient);
    }
    Ok(Authenticated {
        client,
        credential: Credential::Secret(matched),
    })
}
