//! JWT client assertions (RFC 7523 §2.2, §3): the parser that turns a compact JWS
//! (RFC 7515 §7.1) into its header and claims before anything is trusted, and the
//! checks every assertion passes whoever signed it — signature by an allowed
//! algorithm with a key of the matching type, expiry, issue and not-before times.
//!
//! Parsing is deliberately strict and bounded: at most [`MAX_ASSERTION_BYTES`], three
//! base64url segments without padding, a header and claims that are JSON objects,
//! `alg` a string, no `crit` extension (RFC 7515 §4.1.11: none is understood here),
//! `iss`, `sub` and `exp` present, `aud` a string or an array of strings. Anything
//! else is an [`AssertionError`], which the token endpoint answers `invalid_client`.

pub mod keys;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::jwk::Jwk;
use serde::Deserialize;
use serde_json::{Map, Value};

pub use keys::{AssertionAlg, ASSERTION_ALGS};

/// Longest assertion accepted, in bytes. A client assertion signed with a 4096-bit
/// RSA key and a GitHub Actions or Kubernetes token with all their claims are well
/// under it; anything longer is refused before it is decoded.
pub const MAX_ASSERTION_BYTES: usize = 4096;

/// Why an assertion could not be parsed or was refused. Never sent to a caller
/// (every case is `invalid_client`); for the log, and never holding the assertion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AssertionError {
    /// Longer than [`MAX_ASSERTION_BYTES`].
    #[error("the assertion is longer than {MAX_ASSERTION_BYTES} bytes")]
    TooLarge,
    /// Not three base64url segments of JSON objects.
    #[error("the assertion is not a compact JWS of JSON objects")]
    Malformed,
    /// A required claim or header member is missing or of the wrong type.
    #[error("the assertion lacks {0} or has it in the wrong form")]
    Missing(&'static str),
    /// `crit` names an extension (RFC 7515 §4.1.11).
    #[error("the assertion requires an extension (crit)")]
    Critical,
    /// `alg` is not on the allowlist (`none`, HMAC and anything unknown are never).
    #[error("the assertion's algorithm is not accepted")]
    Algorithm,
    /// No key verifies the signature.
    #[error("the assertion's signature does not verify")]
    Signature,
    /// `exp` has passed.
    #[error("the assertion has expired")]
    Expired,
    /// `exp` is further ahead than allowed.
    #[error("the assertion's exp is too far ahead")]
    TooLong,
    /// `iat` or `nbf` is in the future beyond the skew.
    #[error("the assertion is not yet valid")]
    NotYetValid,
    /// No accepted audience is among its `aud`.
    #[error("the assertion's audience is not accepted")]
    Audience,
}

/// The protected header members that matter here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// `alg` as written.
    pub alg: String,
    /// `kid`, if any.
    pub kid: Option<String>,
}

/// The claims every assertion is checked on; the rest are kept in `other` for trust
/// rules' claim conditions.
#[derive(Clone, Debug, PartialEq)]
pub struct Claims {
    /// `iss`.
    pub iss: String,
    /// `sub`.
    pub sub: String,
    /// `aud`, always as a list.
    pub aud: Vec<String>,
    /// `exp` (NumericDate, whole seconds).
    pub exp: u64,
    /// `nbf`, if any.
    pub nbf: Option<u64>,
    /// `iat`, if any.
    pub iat: Option<u64>,
    /// `jti`, if any.
    pub jti: Option<String>,
    /// Every other claim.
    pub other: Map<String, Value>,
}

/// A parsed, not yet verified JWT assertion. `Debug` shows the header and the
/// claims' names, never the token (a federated token is a bearer credential).
#[derive(Clone, PartialEq)]
pub struct Assertion {
    raw: String,
    /// Where the signing input (`header.payload`) ends in `raw`.
    dot: usize,
    /// The header.
    pub header: Header,
    /// The claims.
    pub claims: Claims,
}

impl Eq for Assertion {}

impl std::fmt::Debug for Assertion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assertion")
            .field("alg", &self.header.alg)
            .field("kid", &self.header.kid)
            .field("iss", &self.claims.iss)
            .field("exp", &self.claims.exp)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct RawHeader {
    alg: Option<Value>,
    kid: Option<Value>,
    crit: Option<Value>,
}

impl Assertion {
    /// Parses a compact JWS (see the module documentation).
    ///
    /// # Errors
    /// What is wrong with it, as an [`AssertionError`].
    pub fn parse(jwt: &str) -> Result<Self, AssertionError> {
        if jwt.len() > MAX_ASSERTION_BYTES {
            return Err(AssertionError::TooLarge);
        }
        let mut parts = jwt.split('.');
        let (Some(h), Some(p), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AssertionError::Malformed);
        };
        if sig.is_empty() || URL_SAFE_NO_PAD.decode(sig).is_err() {
            return Err(AssertionError::Malformed);
        }
        let header: RawHeader = decode_object(h)?;
        if header.crit.is_some() {
            return Err(AssertionError::Critical);
        }
        let alg = match header.alg {
            Some(Value::String(a)) => a,
            _ => return Err(AssertionError::Missing("alg")),
        };
        let kid = match header.kid {
            None | Some(Value::Null) => None,
            Some(Value::String(k)) => Some(k),
            Some(_) => return Err(AssertionError::Missing("kid")),
        };
        let mut other: Map<String, Value> = decode_object(p)?;
        let iss = take_string(&mut other, "iss")?.ok_or(AssertionError::Missing("iss"))?;
        let sub = take_string(&mut other, "sub")?.ok_or(AssertionError::Missing("sub"))?;
        let aud = match other.remove("aud") {
            Some(Value::String(a)) => vec![a],
            Some(Value::Array(list)) => list
                .into_iter()
                .map(|v| match v {
                    Value::String(a) => Ok(a),
                    _ => Err(AssertionError::Missing("aud")),
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(AssertionError::Missing("aud")),
        };
        let exp = take_time(&mut other, "exp")?.ok_or(AssertionError::Missing("exp"))?;
        let nbf = take_time(&mut other, "nbf")?;
        let iat = take_time(&mut other, "iat")?;
        let jti = take_string(&mut other, "jti")?;
        Ok(Self {
            dot: h.len() + 1 + p.len(),
            raw: jwt.to_owned(),
            header: Header { alg, kid },
            claims: Claims {
                iss,
                sub,
                aud,
                exp,
                nbf,
                iat,
                jti,
                other,
            },
        })
    }

    /// The assertion as presented: a credential, never to be logged.
    pub fn expose(&self) -> &str {
        &self.raw
    }

    /// The algorithm, if it is on the allowlist ([`ASSERTION_ALGS`]).
    pub fn alg(&self) -> Result<AssertionAlg, AssertionError> {
        AssertionAlg::from_name(&self.header.alg).ok_or(AssertionError::Algorithm)
    }

    /// Whether `jwk` verifies the signature with the header's algorithm. False when
    /// the algorithm is not allowed, or the key's type, curve, size or own `alg` do
    /// not fit it ([`keys::decoding_key`]): an RSA key never verifies an HMAC, so a
    /// public key can never serve as a shared secret.
    pub fn verified_by(&self, jwk: &Jwk) -> bool {
        let Ok(alg) = self.alg() else {
            return false;
        };
        let Some(key) = keys::decoding_key(jwk, alg) else {
            return false;
        };
        let (input, signature) = self.raw.split_at(self.dot);
        let signature = signature.trim_start_matches('.');
        jsonwebtoken::crypto::verify(signature, input.as_bytes(), &key, alg.jsonwebtoken())
            .unwrap_or(false)
    }

    /// The time checks (RFC 7523 §3 items 4–6): `exp` not passed (with `skew`
    /// seconds' grace for clock drift) and, when `max_ahead` is given, at most that
    /// many seconds ahead; `nbf` and `iat` not further than `skew` in the future.
    ///
    /// # Errors
    /// [`AssertionError::Expired`], [`AssertionError::TooLong`] or
    /// [`AssertionError::NotYetValid`].
    pub fn check_times(
        &self,
        now: u64,
        skew: u64,
        max_ahead: Option<u64>,
    ) -> Result<(), AssertionError> {
        let c = &self.claims;
        if c.exp.saturating_add(skew) <= now {
            return Err(AssertionError::Expired);
        }
        if max_ahead.is_some_and(|max| c.exp > now.saturating_add(max)) {
            return Err(AssertionError::TooLong);
        }
        let limit = now.saturating_add(skew);
        if c.nbf.is_some_and(|t| t > limit) || c.iat.is_some_and(|t| t > limit) {
            return Err(AssertionError::NotYetValid);
        }
        Ok(())
    }

    /// Whether one of `accepted` is among the `aud` values (RFC 7523 §3 item 3).
    ///
    /// # Errors
    /// [`AssertionError::Audience`].
    pub fn check_audience(&self, accepted: &[&str]) -> Result<(), AssertionError> {
        if self
            .claims
            .aud
            .iter()
            .any(|a| accepted.contains(&a.as_str()))
        {
            Ok(())
        } else {
            Err(AssertionError::Audience)
        }
    }
}

fn decode_object<T: serde::de::DeserializeOwned>(segment: &str) -> Result<T, AssertionError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| AssertionError::Malformed)?;
    if bytes.first() != Some(&b'{') {
        return Err(AssertionError::Malformed);
    }
    serde_json::from_slice(&bytes).map_err(|_| AssertionError::Malformed)
}

fn take_string(
    claims: &mut Map<String, Value>,
    name: &'static str,
) -> Result<Option<String>, AssertionError> {
    match claims.remove(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(AssertionError::Missing(name)),
    }
}

/// A NumericDate (RFC 7519 §2): a non-negative number of seconds, fractions
/// dropped.
fn take_time(
    claims: &mut Map<String, Value>,
    name: &'static str,
) -> Result<Option<u64>, AssertionError> {
    match claims.remove(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
            (Some(t), _) => Ok(Some(t)),
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            (None, Some(f)) if (0.0..1e15).contains(&f) => Ok(Some(f as u64)),
            _ => Err(AssertionError::Missing(name)),
        },
        Some(_) => Err(AssertionError::Missing(name)),
    }
}

#[cfg(test)]
mod tests;
