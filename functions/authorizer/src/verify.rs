//! Offline verification of our access tokens (RFC 9068 §4) as this API's resource
//! server: the JOSE header's shape first (RFC 7515 §4.1: `alg` RS256 or ES256 only,
//! `typ` of either profile, a `kid`, no `crit`), then the signature, issuer and times
//! with [`m2m_core::access_token::verify_access_token`] (by `jsonwebtoken`, against the
//! one published key the `kid` names), then what is particular to this API: the
//! audience and a lifetime no longer than any token we issue.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use m2m_core::access_token::{verify_access_token, Rejection, VerifiedToken};
use m2m_core::model::{SigningKey, MAX_TOKEN_LIFETIME};
use serde_json::{Map, Value};

use crate::Refusal;

/// The algorithms our keys sign with (KMS `RSA_2048`, `ECC_NIST_P256`). Never `none`,
/// never an HMAC: a verifier that let the token pick would accept a forgery.
pub const ALGORITHMS: &[&str] = &["RS256", "ES256"];

/// Reads and checks the header of a JWS compact `token` (RFC 7515 §7.1): three
/// base64url parts, a JSON object header with an allowed `alg`, the `typ` of either
/// profile (`at+jwt`, RFC 9068 §2.1, media type comparison case-insensitive with the
/// `application/` prefix optional; `JWT` for the Auth0 profile), a `kid` and no
/// `crit`.
///
/// Returns the `kid`.
///
/// # Errors
/// [`Refusal::Malformed`], [`Refusal::Algorithm`], [`Refusal::Type`] or
/// [`Refusal::UnknownKey`] (no `kid`).
pub fn header_kid(token: &str) -> Result<String, Refusal> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refusal::Malformed);
    };
    if h.is_empty() || p.is_empty() || s.is_empty() {
        return Err(Refusal::Malformed);
    }
    let bytes = URL_SAFE_NO_PAD.decode(h).map_err(|_| Refusal::Malformed)?;
    // A JSON object (RFC 7515 §4), read member by member: a derived struct would also
    // take an array.
    let header: Map<String, Value> =
        serde_json::from_slice(&bytes).map_err(|_| Refusal::Malformed)?;
    let member = |name: &str| match header.get(name) {
        None => Ok(None),
        Some(Value::String(v)) => Ok(Some(v.as_str())),
        Some(_) => Err(Refusal::Malformed),
    };
    let alg = member("alg")?.ok_or(Refusal::Malformed)?;
    if !ALGORITHMS.contains(&alg) {
        return Err(Refusal::Algorithm);
    }
    // RFC 7515 §4.1.11: we understand no extension, so any `crit` refuses.
    if header.contains_key("crit") {
        return Err(Refusal::Malformed);
    }
    let typ = member("typ")?.unwrap_or_default();
    let typ = match (typ.get(..12), typ.get(12..)) {
        (Some(prefix), Some(rest)) if prefix.eq_ignore_ascii_case("application/") => rest,
        _ => typ,
    };
    if !(typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("jwt")) {
        return Err(Refusal::Type);
    }
    member("kid")?.map(str::to_owned).ok_or(Refusal::UnknownKey)
}

/// Verifies `token`, signed by `key` (the published key its `kid` names), for
/// `issuer` and `audience` at `now`.
///
/// # Errors
/// The [`Refusal`]: the signature, issuer or times ([`verify_access_token`]), the
/// audience, a missing `iat` or `jti`, or a lifetime longer than [`MAX_TOKEN_LIFETIME`]
/// (the revocation list keeps a client's entry that long, so no token may outlive it).
pub fn verify(
    token: &str,
    key: &SigningKey,
    issuer: &str,
    audience: &str,
    now: u64,
) -> Result<VerifiedToken, Refusal> {
    let verified = verify_access_token(token, std::slice::from_ref(key), issuer, now).map_err(
        |r| match r {
            Rejection::Malformed => Refusal::Malformed,
            Rejection::UnknownKey => Refusal::UnknownKey,
            Rejection::Signature => Refusal::Signature,
            Rejection::Issuer => Refusal::Issuer,
            Rejection::Expired => Refusal::Expired,
            Rejection::NotYetValid => Refusal::NotYetValid,
        },
    )?;
    let aud_matches = match verified.claims.get("aud") {
        Some(Value::String(a)) => a == audience,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience)),
        _ => false,
    };
    if !aud_matches {
        return Err(Refusal::Audience);
    }
    // RFC 9068 §2.2: `iat` and `jti` are required; a token without a `jti` could not
    // be revoked on its own.
    if verified.claims.get("iat").and_then(Value::as_u64).is_none() || verified.jti().is_none() {
        return Err(Refusal::Malformed);
    }
    if verified.exp() > verified.iat().saturating_add(MAX_TOKEN_LIFETIME) {
        return Err(Refusal::Lifetime);
    }
    Ok(verified)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(header: &str) -> String {
        format!("{}.e30.c2ln", URL_SAFE_NO_PAD.encode(header))
    }

    #[test]
    fn header_checks() {
        let ok = [
            r#"{"alg":"RS256","kid":"k","typ":"at+jwt"}"#,
            r#"{"alg":"ES256","kid":"k","typ":"application/AT+JWT"}"#,
            r#"{"alg":"RS256","kid":"k","typ":"JWT"}"#,
        ];
        for h in ok {
            assert_eq!(header_kid(&token(h)).as_deref(), Ok("k"), "{h}");
        }
        let refused = [
            (
                r#"{"alg":"none","kid":"k","typ":"at+jwt"}"#,
                Refusal::Algorithm,
            ),
            (
                r#"{"alg":"HS256","kid":"k","typ":"at+jwt"}"#,
                Refusal::Algorithm,
            ),
            (
                r#"{"alg":"PS256","kid":"k","typ":"at+jwt"}"#,
                Refusal::Algorithm,
            ),
            (
                r#"{"alg":"rs256","kid":"k","typ":"at+jwt"}"#,
                Refusal::Algorithm,
            ),
            (r#"{"alg":"RS256","kid":"k"}"#, Refusal::Type),
            (r#"{"alg":"RS256","kid":"k","typ":"id+jwt"}"#, Refusal::Type),
            (
                r#"{"alg":"RS256","kid":"k","typ":"application/"}"#,
                Refusal::Type,
            ),
            (
                r#"{"alg":"RS256","kid":"k","typ":"applicatioé/at+jwt"}"#,
                Refusal::Type,
            ),
            (r#"{"alg":"RS256","typ":"at+jwt"}"#, Refusal::UnknownKey),
            (
                r#"{"alg":"RS256","kid":"k","typ":"at+jwt","crit":["x"]}"#,
                Refusal::Malformed,
            ),
            (r#"{"kid":"k","typ":"at+jwt"}"#, Refusal::Malformed),
            (
                r#"{"alg":"RS256","kid":7,"typ":"at+jwt"}"#,
                Refusal::Malformed,
            ),
            (
                r#"{"alg":["RS256"],"kid":"k","typ":"at+jwt"}"#,
                Refusal::Malformed,
            ),
            (r#"["RS256"]"#, Refusal::Malformed),
        ];
        for (h, want) in refused {
            assert_eq!(header_kid(&token(h)).unwrap_err(), want, "{h}");
        }
        for t in ["a.b", "a.b.c.d", ".e30.c2ln", "eyJ9.e30.", "!!!.e30.c2ln"] {
            assert_eq!(header_kid(t).unwrap_err(), Refusal::Malformed, "{t}");
        }
    }
}
