//! Verification of the access tokens this server issued (RFC 9068 §4), as the
//! introspection and revocation endpoints need it: the signature by one of the
//! published signing keys (RFC 7517 §5: exactly the keys the JWKS serves), the
//! issuer, and the times. Done with `jsonwebtoken`, independently of how the tokens
//! were signed (KMS).

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::model::{Alg, SigningKey};

/// Why a presented token is not an active token of this server (RFC 7662 §2.2:
/// each is simply `active: false` to the caller).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Not a compact JWS with a JSON object payload.
    #[error("not a JWT")]
    Malformed,
    /// Its `kid` names no published key, or its `alg` is not that key's.
    #[error("signed by an unknown or unpublished key")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the signature does not verify")]
    Signature,
    /// Another issuer's token.
    #[error("issued by another issuer")]
    Issuer,
    /// `exp` has passed.
    #[error("expired")]
    Expired,
    /// `nbf` or `iat` is in the future.
    #[error("not yet valid")]
    NotYetValid,
}

/// A verified access token: its claims.
#[derive(Clone, PartialEq)]
pub struct VerifiedToken {
    /// Every claim.
    pub claims: Map<String, Value>,
}

impl std::fmt::Debug for VerifiedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedToken")
            .field("client_id", &self.client_id())
            .field("exp", &self.exp())
            .finish_non_exhaustive()
    }
}

impl VerifiedToken {
    fn string(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    fn number(&self, name: &str) -> Option<u64> {
        self.claims.get(name).and_then(Value::as_u64)
    }

    /// `client_id` (RFC 9068 §2.2), for both profiles: the Auth0 profile carries it
    /// as `azp` instead.
    pub fn client_id(&self) -> Option<&str> {
        self.string("client_id").or_else(|| self.string("azp"))
    }

    /// `jti`.
    pub fn jti(&self) -> Option<&str> {
        self.string("jti")
    }

    /// `iat`, 0 when absent.
    pub fn iat(&self) -> u64 {
        self.number("iat").unwrap_or(0)
    }

    /// `exp`, 0 when absent.
    pub fn exp(&self) -> u64 {
        self.number("exp").unwrap_or(0)
    }
}

/// How much clock drift is forgiven on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY: u64 = 30;

/// Verifies `token` against the `published` signing keys and `issuer` at `now`.
///
/// # Errors
/// The [`Rejection`].
pub fn verify_access_token(
    token: &str,
    published: &[SigningKey],
    issuer: &str,
    now: u64,
) -> Result<VerifiedToken, Rejection> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::Malformed)?;
    let kid = header.kid.as_deref().ok_or(Rejection::UnknownKey)?;
    let key = published
        .iter()
        .find(|k| k.kid.as_str() == kid)
        .ok_or(Rejection::UnknownKey)?;
    let (alg, decoding) = decoding_key(key).ok_or(Rejection::UnknownKey)?;
    if header.alg != alg {
        return Err(Rejection::UnknownKey);
    }
    let mut validation = Validation::new(alg);
    // Times are checked below against `now`, the caller's clock; the audience is the
    // caller's business (introspection answers for every API).
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data =
        jsonwebtoken::decode::<Map<String, Value>>(token, &decoding, &validation).map_err(|e| {
            match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => Rejection::Signature,
                _ => Rejection::Malformed,
            }
        })?;
    let verified = VerifiedToken {
        claims: data.claims,
    };
    if verified.string("iss") != Some(issuer) {
        return Err(Rejection::Issuer);
    }
    let exp = verified.number("exp").ok_or(Rejection::Malformed)?;
    if exp.saturating_add(LEEWAY) <= now {
        return Err(Rejection::Expired);
    }
    let limit = now.saturating_add(LEEWAY);
    if verified.number("nbf").is_some_and(|t| t > limit) || verified.iat() > limit {
        return Err(Rejection::NotYetValid);
    }
    Ok(verified)
}

fn decoding_key(key: &SigningKey) -> Option<(Algorithm, DecodingKey)> {
    let jwk = &key.public_jwk;
    match key.alg {
        Alg::RS256 => Some((
            Algorithm::RS256,
            DecodingKey::from_rsa_components(jwk.n.as_deref()?, jwk.e.as_deref()?).ok()?,
        )),
        Alg::ES256 => Some((
            Algorithm::ES256,
            DecodingKey::from_ec_components(jwk.x.as_deref()?, jwk.y.as_deref()?).ok()?,
        )),
    }
}
