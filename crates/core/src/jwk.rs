//! JSON Web Keys (RFC 7517/7518 §6) for our public keys: built from the DER
//! SubjectPublicKeyInfo that KMS `GetPublicKey` returns, identified by their RFC 7638
//! thumbprint.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use der::Decode as _;
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};

use crate::alg::Alg;
use crate::types::Kid;

/// `rsaEncryption` (RFC 8017 appendix C, RFC 3279 §2.3.1).
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// `id-ecPublicKey` (RFC 5480 §2.1.1).
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// `secp256r1` / `prime256v1`, the JOSE `P-256` curve (RFC 5480 §2.1.1.1).
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// A public JWK: RSA (`n`, `e`) or EC P-256 (`crv`, `x`, `y`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// `RSA` or `EC`.
    pub kty: String,
    /// The RFC 7638 thumbprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<Kid>,
    /// Always `sig` for our keys.
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// `RS256` or `ES256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// RSA modulus, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA exponent, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// EC curve, `P-256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// EC x coordinate, base64url (32 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC y coordinate, base64url (32 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

/// A JWK Set (RFC 7517 §5).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// Why a public key could not be turned into a JWK.
#[derive(Debug, thiserror::Error)]
pub enum JwkError {
    /// Not valid DER SubjectPublicKeyInfo.
    #[error("malformed SubjectPublicKeyInfo: {0}")]
    Malformed(String),
    /// A key type other than RSA or EC P-256.
    #[error("unsupported key type: {0}")]
    Unsupported(String),
}

/// RFC 7638 §3.2 required members of an RSA key, in lexicographic order.
#[derive(Serialize)]
struct RsaThumbprintInput<'a> {
    e: &'a str,
    kty: &'a str,
    n: &'a str,
}

/// RFC 7638 §3.2 required members of an EC key, in lexicographic order.
#[derive(Serialize)]
struct EcThumbprintInput<'a> {
    crv: &'a str,
    kty: &'a str,
    x: &'a str,
    y: &'a str,
}

/// A key type we do not know: only `kty` is required of every JWK (RFC 7517 §4.1).
#[derive(Serialize)]
struct OtherThumbprintInput<'a> {
    kty: &'a str,
}

impl Jwk {
    /// Builds the JWK of a DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7), RSA or EC
    /// P-256, with `kid` set to its RFC 7638 thumbprint, `use` = `sig` (RFC 7517
    /// §4.2) and `alg` = RS256 / ES256 (RFC 7518 §3.1).
    ///
    /// RSA keys (RFC 3279 §2.3.1) give `n` and `e` as unsigned big-endian integers
    /// without leading zeros (RFC 7518 §6.3.1); P-256 keys (RFC 5480) give the
    /// 32-byte `x` and `y` of the uncompressed point (RFC 7518 §6.2.1). Never panics:
    /// anything that does not parse is [`JwkError::Malformed`].
    pub fn from_spki_der(der: &[u8]) -> Result<Self, JwkError> {
        let spki = SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| JwkError::Malformed(e.to_string()))?;
        let key_bytes = spki.subject_public_key.as_bytes().ok_or_else(|| {
            JwkError::Malformed("public key bit string has unused bits".to_owned())
        })?;
        let oid = spki.algorithm.oid;
        let mut jwk = if oid == RSA_ENCRYPTION {
            Self::rsa_from_pkcs1(key_bytes)?
        } else if oid == ID_EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters_oid()
                .map_err(|e| JwkError::Malformed(format!("EC curve parameter: {e}")))?;
            if curve != SECP256R1 {
                return Err(JwkError::Unsupported(format!("EC curve {curve}")));
            }
            Self::p256_from_sec1(key_bytes)?
        } else {
            return Err(JwkError::Unsupported(format!("algorithm {oid}")));
        };
        jwk.use_ = Some("sig".to_owned());
        jwk.kid = Some(jwk.thumbprint());
        Ok(jwk)
    }

    /// RFC 8017 §A.1.1 `RSAPublicKey` → `n`, `e` (RFC 7518 §6.3.1).
    fn rsa_from_pkcs1(bytes: &[u8]) -> Result<Self, JwkError> {
        let key = pkcs1::RsaPublicKey::from_der(bytes)
            .map_err(|e| JwkError::Malformed(format!("RSAPublicKey: {e}")))?;
        let n = strip_leading_zeros(key.modulus.as_bytes());
        let e = strip_leading_zeros(key.public_exponent.as_bytes());
        if n.is_empty() || e.is_empty() {
            return Err(JwkError::Malformed(
                "RSA modulus or exponent is zero".to_owned(),
            ));
        }
        Ok(Self {
            kty: "RSA".to_owned(),
            kid: None,
            use_: None,
            alg: Some(Alg::RS256.as_str().to_owned()),
            n: Some(URL_SAFE_NO_PAD.encode(n)),
            e: Some(URL_SAFE_NO_PAD.encode(e)),
            crv: None,
            x: None,
            y: None,
        })
    }

    /// SEC 1 §2.3.3 point (RFC 5480 §2.2) → `x`, `y` (RFC 7518 §6.2.1). The point is
    /// checked to lie on the curve; a compressed point is decompressed.
    fn p256_from_sec1(bytes: &[u8]) -> Result<Self, JwkError> {
        let key = p256::PublicKey::from_sec1_bytes(bytes)
            .map_err(|_| JwkError::Malformed("not a P-256 point".to_owned()))?;
        let point = key.to_encoded_point(false);
        let (Some(x), Some(y)) = (point.x(), point.y()) else {
            return Err(JwkError::Malformed("P-256 point at infinity".to_owned()));
        };
        Ok(Self {
            kty: "EC".to_owned(),
            kid: None,
            use_: None,
            alg: Some(Alg::ES256.as_str().to_owned()),
            n: None,
            e: None,
            crv: Some("P-256".to_owned()),
            x: Some(URL_SAFE_NO_PAD.encode(x)),
            y: Some(URL_SAFE_NO_PAD.encode(y)),
        })
    }

    /// The RFC 7638 §3 thumbprint: SHA-256 over the JSON object of the required
    /// members only (§3.2: RSA `e`, `kty`, `n`; EC `crv`, `kty`, `x`, `y`), in
    /// lexicographic order with no whitespace (§3.3), base64url without padding.
    ///
    /// A missing required member hashes as the empty string, so a malformed JWK
    /// still gets a (useless, but deterministic) value instead of a panic.
    pub fn thumbprint(&self) -> Kid {
        fn s(v: &Option<String>) -> &str {
            v.as_deref().unwrap_or_default()
        }
        let json = match self.kty.as_str() {
            "RSA" => serde_json::to_vec(&RsaThumbprintInput {
                e: s(&self.e),
                kty: &self.kty,
                n: s(&self.n),
            }),
            "EC" => serde_json::to_vec(&EcThumbprintInput {
                crv: s(&self.crv),
                kty: &self.kty,
                x: s(&self.x),
                y: s(&self.y),
            }),
            _ => serde_json::to_vec(&OtherThumbprintInput { kty: &self.kty }),
        }
        // Serializing a struct of `&str` cannot fail.
        .unwrap_or_default();
        Kid::new(URL_SAFE_NO_PAD.encode(Sha256::digest(&json)))
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Option<Alg> {
        self.alg.as_deref().and_then(Alg::parse)
    }
}

impl JwkSet {
    /// The set of the given keys.
    pub fn new(keys: Vec<Jwk>) -> Self {
        Self { keys }
    }

    /// The key whose `kid` is `kid` (RFC 7517 §4.5: how a verifier picks a key).
    pub fn find(&self, kid: &Kid) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.kid.as_ref() == Some(kid))
    }
}

/// DER INTEGERs carry a leading 0x00 when the high bit is set; JWK wants the
/// unsigned magnitude (RFC 7518 §2 "Base64urlUInt": no leading zero octets).
fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

#[cfg(test)]
mod tests;
