//! The public keys that verify client assertions: the algorithm allowlist, which key
//! type each algorithm needs, and the rules a JWK passes before it is registered.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey};
use sha2::{Digest as _, Sha256};

/// An algorithm a client assertion may be signed with (RFC 7518 §3.1, RFC 8037 §3.1).
/// `none` and the HMAC family are absent by construction: an assertion must be signed
/// with a private key only the client holds, and a public key must never be usable as
/// an HMAC secret (the classic algorithm-confusion forgery).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AssertionAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// EdDSA on Ed25519 (RFC 8037).
    EdDSA,
}

/// The allowlist, as discovery publishes it
/// (`token_endpoint_auth_signing_alg_values_supported`, RFC 8414 §2).
pub const ASSERTION_ALGS: &[&str] = &["RS256", "PS256", "ES256", "EdDSA"];

/// The smallest RSA modulus accepted, in bytes (RFC 7518 §3.3: 2048 bits or larger).
pub const MIN_RSA_MODULUS_BYTES: usize = 256;

impl AssertionAlg {
    /// The algorithm named `name` exactly (JWS names are case-sensitive), if allowed.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Self::RS256),
            "PS256" => Some(Self::PS256),
            "ES256" => Some(Self::ES256),
            "EdDSA" => Some(Self::EdDSA),
            _ => None,
        }
    }

    /// The JWS name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }

    pub(crate) fn jsonwebtoken(self) -> Algorithm {
        match self {
            Self::RS256 => Algorithm::RS256,
            Self::PS256 => Algorithm::PS256,
            Self::ES256 => Algorithm::ES256,
            Self::EdDSA => Algorithm::EdDSA,
        }
    }

    /// Whether `jwk` is the kind of key this algorithm verifies with: RSA of at least
    /// 2048 bits for RS256 and PS256, EC P-256 for ES256, OKP Ed25519 for EdDSA; and
    /// when the JWK names its own `alg` (RFC 7517 §4.4), that one.
    pub fn fits(self, jwk: &Jwk) -> bool {
        if let Some(own) = &jwk.common.key_algorithm {
            if own.to_string() != self.as_str() {
                return false;
            }
        }
        match (&jwk.algorithm, self) {
            (AlgorithmParameters::RSA(rsa), Self::RS256 | Self::PS256) => URL_SAFE_NO_PAD
                .decode(rsa.n.trim_end_matches('='))
                .is_ok_and(|n| {
                    let significant = n.iter().skip_while(|b| **b == 0).count();
                    significant >= MIN_RSA_MODULUS_BYTES
                }),
            (AlgorithmParameters::EllipticCurve(ec), Self::ES256) => {
                ec.curve == EllipticCurve::P256
            }
            (AlgorithmParameters::OctetKeyPair(okp), Self::EdDSA) => {
                okp.curve == EllipticCurve::Ed25519
            }
            _ => false,
        }
    }
}

/// The verification key for `alg` from `jwk`, when the key fits the algorithm
/// ([`AssertionAlg::fits`]). Symmetric (`oct`) keys never fit.
pub fn decoding_key(jwk: &Jwk, alg: AssertionAlg) -> Option<DecodingKey> {
    if !alg.fits(jwk) {
        return None;
    }
    DecodingKey::from_jwk(jwk).ok()
}

/// Why a JWK cannot be registered as a client's public key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyRefusal {
    /// Not a JSON JWK (RFC 7517 §4) of a supported key type.
    #[error("not a JWK of type RSA, EC (P-256) or OKP (Ed25519): {0}")]
    Malformed(String),
    /// It carries private members: the client's private key must never leave it.
    #[error("the JWK holds private key material ({0}); register the public key only")]
    Private(&'static str),
    /// No algorithm on the allowlist verifies with it (size, curve or its `alg`).
    #[error("no accepted algorithm ({}) verifies with this key: RSA keys need at least 2048 bits, EC keys P-256, OKP keys Ed25519", ASSERTION_ALGS.join(", "))]
    Unsupported,
    /// Its `use` is not `sig` (RFC 7517 §4.2).
    #[error("the JWK's use is not sig")]
    NotForSigning,
}

/// Members that only a private JWK has (RFC 7518 §6.2.2, §6.3.2; RFC 8037 §2), and
/// `k`, a symmetric key.
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Checks a JWK given for registration and returns its `kid` (its own, or its RFC 7638
/// thumbprint when it has none) and the parsed key.
///
/// # Errors
/// A [`KeyRefusal`] saying what is wrong.
pub fn registrable_jwk(json: &str) -> Result<(String, Jwk), KeyRefusal> {
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| KeyRefusal::Malformed(e.to_string()))?;
    let Some(object) = value.as_object() else {
        return Err(KeyRefusal::Malformed("not a JSON object".into()));
    };
    if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| object.contains_key(**m)) {
        return Err(KeyRefusal::Private(member));
    }
    let jwk: Jwk =
        serde_json::from_value(value.clone()).map_err(|e| KeyRefusal::Malformed(e.to_string()))?;
    if object.get("use").is_some_and(|u| u.as_str() != Some("sig")) {
        return Err(KeyRefusal::NotForSigning);
    }
    let usable = [
        AssertionAlg::RS256,
        AssertionAlg::PS256,
        AssertionAlg::ES256,
        AssertionAlg::EdDSA,
    ]
    .into_iter()
    .any(|alg| decoding_key(&jwk, alg).is_some());
    if !usable {
        return Err(KeyRefusal::Unsupported);
    }
    let kid = jwk
        .common
        .key_id
        .clone()
        .filter(|k| !k.is_empty())
        .or_else(|| thumbprint(&jwk))
        .ok_or(KeyRefusal::Unsupported)?;
    Ok((kid, jwk))
}

/// The RFC 7638 thumbprint of a public JWK: SHA-256 over its required members in
/// lexicographic order, base64url.
pub fn thumbprint(jwk: &Jwk) -> Option<String> {
    let q = |s: &str| serde_json::Value::from(s).to_string();
    let canonical = match &jwk.algorithm {
        AlgorithmParameters::RSA(k) => {
            format!(r#"{{"e":{},"kty":"RSA","n":{}}}"#, q(&k.e), q(&k.n))
        }
        AlgorithmParameters::EllipticCurve(k) => format!(
            r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
            q(curve_name(&k.curve)),
            q(&k.x),
            q(&k.y)
        ),
        AlgorithmParameters::OctetKeyPair(k) => format!(
            r#"{{"crv":{},"kty":"OKP","x":{}}}"#,
            q(curve_name(&k.curve)),
            q(&k.x)
        ),
        AlgorithmParameters::OctetKey(_) => return None,
    };
    Some(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
}

fn curve_name(curve: &EllipticCurve) -> &'static str {
    match curve {
        EllipticCurve::P256 => "P-256",
        EllipticCurve::P384 => "P-384",
        EllipticCurve::P521 => "P-521",
        EllipticCurve::Ed25519 => "Ed25519",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    const RSA: &str = include_str!("../testing/keys/rsa.jwk.json");
    const EC: &str = include_str!("../testing/keys/ec.jwk.json");
    const OKP: &str = include_str!("../testing/keys/ed25519.jwk.json");

    #[test]
    fn thumbprints_are_rfc_7638() {
        // Computed independently (Python: sorted required members, no whitespace).
        for (jwk, expected) in [
            (RSA, "Ivze3tcvvET6ycc1S4CZ4jooeAabO8r4XPnERlrimWY"),
            (EC, "4vDUyF1M1guNOhipWJbdR-augEJarVTiOAWkiXiqyCg"),
            (OKP, "DdrgDo6n-9rDhUv9lemruGgqRiCkHvoO7S2yhjzS3cQ"),
        ] {
            assert_eq!(registrable_jwk(jwk).unwrap().0, expected);
        }
    }

    #[test]
    fn own_kid_is_kept() {
        let mut v: serde_json::Value = serde_json::from_str(EC).unwrap();
        v["kid"] = json!("2026-11");
        assert_eq!(registrable_jwk(&v.to_string()).unwrap().0, "2026-11");
    }

    #[test]
    fn private_and_symmetric_keys_refused() {
        let mut v: serde_json::Value = serde_json::from_str(EC).unwrap();
        v["d"] = json!("c2VjcmV0");
        assert_eq!(
            registrable_jwk(&v.to_string()),
            Err(KeyRefusal::Private("d"))
        );
        let oct = json!({"kty": "oct", "k": "c2VjcmV0"}).to_string();
        assert_eq!(registrable_jwk(&oct), Err(KeyRefusal::Private("k")));
    }

    #[test]
    fn unsupported_keys_refused() {
        let small = json!({"kty": "RSA", "e": "AQAB", "n": URL_SAFE_NO_PAD.encode([0xC5u8; 128])});
        let p384 = json!({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"});
        let mut wrong_alg: serde_json::Value = serde_json::from_str(EC).unwrap();
        wrong_alg["alg"] = json!("RS256");
        for jwk in [small, p384, wrong_alg] {
            assert_eq!(
                registrable_jwk(&jwk.to_string()),
                Err(KeyRefusal::Unsupported),
                "{jwk}"
            );
        }
        let mut enc: serde_json::Value = serde_json::from_str(EC).unwrap();
        enc["use"] = json!("enc");
        assert_eq!(
            registrable_jwk(&enc.to_string()),
            Err(KeyRefusal::NotForSigning)
        );
        assert!(matches!(
            registrable_jwk("[1]"),
            Err(KeyRefusal::Malformed(_))
        ));
        assert!(matches!(
            registrable_jwk("{\"kty\":\"XYZ\"}"),
            Err(KeyRefusal::Malformed(_))
        ));
    }

    #[test]
    fn algorithms_fit_only_their_key_type() {
        let rsa: Jwk = serde_json::from_str(RSA).unwrap();
        let ec: Jwk = serde_json::from_str(EC).unwrap();
        let okp: Jwk = serde_json::from_str(OKP).unwrap();
        use AssertionAlg::*;
        for (jwk, fitting) in [
            (&rsa, [RS256, PS256].as_slice()),
            (&ec, &[ES256]),
            (&okp, &[EdDSA]),
        ] {
            for alg in [RS256, PS256, ES256, EdDSA] {
                assert_eq!(alg.fits(jwk), fitting.contains(&alg), "{alg:?}");
            }
        }
    }
}
