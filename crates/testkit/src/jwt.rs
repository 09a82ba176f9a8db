//! Access tokens verified as a resource server would, with the independent
//! `jsonwebtoken` crate rather than our own JWS code: the signature against a published
//! JWK (RFC 7517) or a JWK Set picked by `kid` (RFC 7517 §4.5), then `iss`, `aud` and
//! the required claims (RFC 9068 §4). The fixtures' clocks are fixed, so expiry is
//! checked against a given `now` unless the wall clock is asked for.

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Header, Validation};
use serde_json::Value;

/// Why a token did not verify.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// `jsonwebtoken` refused the token (signature, `iss`, `aud`, required claims...).
    #[error(transparent)]
    Token(#[from] jsonwebtoken::errors::Error),
    /// Our JWK could not be read as `jsonwebtoken`'s.
    #[error("JWK: {0}")]
    Jwk(String),
    /// The token names no `kid`, or one the JWK Set does not publish.
    #[error("{0}")]
    Kid(String),
    /// The published key carries no usable `alg`.
    #[error("published key has no alg")]
    Alg,
    /// `exp` is missing or not after the fixed clock.
    #[error("expired at {exp:?}, now {now}")]
    Expired {
        /// The token's `exp`.
        exp: Option<u64>,
        /// The clock it was checked against.
        now: u64,
    },
}

/// A verified token's protected header and claims.
#[derive(Clone, Debug)]
pub struct Verified {
    /// The JOSE header.
    pub header: Header,
    /// The claims set.
    pub claims: Value,
}

/// What the resource server checks besides the signature.
#[derive(Clone, Debug)]
pub struct Expect {
    validation: Validation,
    now: Option<u64>,
}

impl Expect {
    /// `alg` only, `exp` required and checked against the wall clock: `jsonwebtoken`'s
    /// defaults.
    pub fn new(alg: Algorithm) -> Self {
        Self {
            validation: Validation::new(alg),
            now: None,
        }
    }

    /// The signature alone: no claim required, `aud` and `exp` not examined.
    pub fn signature_only(alg: Algorithm) -> Self {
        let mut validation = Validation::new(alg);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        Self {
            validation,
            now: None,
        }
    }

    /// `aud` must be `audience` (RFC 7519 §4.1.3).
    pub fn audience(mut self, audience: &str) -> Self {
        self.validation.set_audience(&[audience]);
        self
    }

    /// `iss` must be `issuer` (RFC 7519 §4.1.1).
    pub fn issuer(mut self, issuer: &str) -> Self {
        self.validation.set_issuer(&[issuer]);
        self
    }

    /// These registered claims must be present.
    pub fn require(mut self, claims: &[&str]) -> Self {
        self.validation.set_required_spec_claims(claims);
        self
    }

    /// `exp` not checked against the wall clock (the fixtures' clock is elsewhere).
    pub fn any_expiry(mut self) -> Self {
        self.validation.validate_exp = false;
        self.now = None;
        self
    }

    /// `exp` must lie after `now`, the test's fixed clock.
    pub fn valid_at(mut self, now: u64) -> Self {
        self.validation.validate_exp = false;
        self.now = Some(now);
        self
    }
}

/// Our JWK (`m2m_core::jwk::Jwk`, or any JWK document) read as `jsonwebtoken`'s.
///
/// # Errors
/// When the document is not a JWK `jsonwebtoken` understands.
pub fn jwk<T: serde::Serialize + ?Sized>(ours: &T) -> Result<Jwk, JwtError> {
    serde_json::to_value(ours)
        .and_then(serde_json::from_value)
        .map_err(|e| JwtError::Jwk(e.to_string()))
}

/// Verifies `token` against the single published key `jwk` (our JWK type or
/// `jsonwebtoken`'s).
///
/// # Errors
/// When the signature or a checked claim is wrong.
pub fn verify<T: serde::Serialize + ?Sized>(
    token: &str,
    jwk: &T,
    expect: &Expect,
) -> Result<Verified, JwtError> {
    let theirs = self::jwk(jwk)?;
    let key = DecodingKey::from_jwk(&theirs)?;
    let data = decode::<Value>(token, &key, &expect.validation)?;
    if let Some(now) = expect.now {
        let exp = data.claims["exp"].as_u64();
        if exp.is_none_or(|exp| exp <= now) {
            return Err(JwtError::Expired { exp, now });
        }
    }
    Ok(Verified {
        header: data.header,
        claims: data.claims,
    })
}

/// Verifies `token` against the JWK Set `set`: the key is the one whose `kid` the token
/// names, and the algorithm is the published key's, never the token's alone.
///
/// # Errors
/// When the `kid` is absent or unknown, the key has no `alg`, or as [`verify`].
pub fn verify_in_set(token: &str, set: &JwkSet, expect: &Expect) -> Result<Verified, JwtError> {
    let header = decode_header(token)?;
    let kid = header
        .kid
        .ok_or_else(|| JwtError::Kid("token has no kid".into()))?;
    let jwk = set
        .find(&kid)
        .ok_or_else(|| JwtError::Kid(format!("kid {kid} is not in the JWKS")))?;
    let alg: Algorithm = jwk
        .common
        .key_algorithm
        .ok_or(JwtError::Alg)?
        .to_string()
        .parse()
        .map_err(|_| JwtError::Alg)?;
    let mut expect = expect.clone();
    expect.validation.algorithms = vec![alg];
    verify(token, jwk, &expect)
}
