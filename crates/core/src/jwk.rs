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

use crate::model::{Alg, KeyStatus, SigningKey, MAX_TOKEN_LIFETIME};
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
            return Err(JwkError::Malformed("RSA modulus or exponent is zero".to_owned()));
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

    /// The JWKS to publish at `now` (DESIGN.md "Keys and JWKS"): pending and active
    /// keys, and retired keys until every token they may have signed has expired
    /// ([`MAX_TOKEN_LIFETIME`] after retirement). Ordered active, pending, retired,
    /// then by kid, so the document is stable between calls.
    pub fn published(keys: &[SigningKey], now: u64) -> Self {
        let mut selected: Vec<&SigningKey> = keys
            .iter()
            .filter(|k| match k.status {
                KeyStatus::Pending | KeyStatus::Active => true,
                // A retired key with no retirement time is kept: dropping a key
                // too early breaks verifiers, keeping it too long costs nothing.
                KeyStatus::Retired => k
                    .retired_at
                    .is_none_or(|t| now < t.saturating_add(MAX_TOKEN_LIFETIME)),
            })
            .collect();
        let rank = |s: KeyStatus| match s {
            KeyStatus::Active => 0,
            KeyStatus::Pending => 1,
            KeyStatus::Retired => 2,
        };
        selected.sort_by(|a, b| rank(a.status).cmp(&rank(b.status)).then(a.kid.cmp(&b.kid)));
        Self {
            keys: selected.into_iter().map(|k| k.public_jwk.clone()).collect(),
        }
    }
}

/// DER INTEGERs carry a leading 0x00 when the high bit is set; JWK wants the
/// unsigned magnitude (RFC 7518 §2 "Base64urlUInt": no leading zero octets).
fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7638 §3.1 example key.
    const RFC7638_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

    fn rfc7638_jwk() -> Jwk {
        Jwk {
            kty: "RSA".into(),
            kid: Some(Kid::new("2011-04-29")),
            use_: None,
            alg: Some("RS256".into()),
            n: Some(RFC7638_N.into()),
            e: Some("AQAB".into()),
            crv: None,
            x: None,
            y: None,
        }
    }

    /// DER length octets (X.690 §8.1.3).
    fn der_len(len: usize) -> Vec<u8> {
        match len {
            0..=0x7f => vec![len as u8],
            0x80..=0xff => vec![0x81, len as u8],
            _ => vec![0x82, (len >> 8) as u8, len as u8],
        }
    }

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        out.extend(der_len(content.len()));
        out.extend_from_slice(content);
        out
    }

    fn oid(dotted: &str) -> Vec<u8> {
        let o = ObjectIdentifier::new(dotted).unwrap();
        tlv(0x06, o.as_bytes())
    }

    /// A SubjectPublicKeyInfo: SEQUENCE { SEQUENCE { alg, params }, BIT STRING }.
    fn spki(alg: &[u8], params: &[u8], key: &[u8]) -> Vec<u8> {
        let mut algid = alg.to_vec();
        algid.extend_from_slice(params);
        let mut bits = vec![0u8];
        bits.extend_from_slice(key);
        let mut body = tlv(0x30, &algid);
        body.extend(tlv(0x03, &bits));
        tlv(0x30, &body)
    }

    fn rsa_spki(n: &[u8], e: &[u8]) -> Vec<u8> {
        let int = |v: &[u8]| {
            let mut c = Vec::new();
            if v[0] & 0x80 != 0 {
                c.push(0);
            }
            c.extend_from_slice(v);
            tlv(0x02, &c)
        };
        let mut seq = int(n);
        seq.extend(int(e));
        let pkcs1 = tlv(0x30, &seq);
        spki(&oid("1.2.840.113549.1.1.1"), &[0x05, 0x00], &pkcs1)
    }

    fn p256_point() -> Vec<u8> {
        // The generator G of P-256 (SEC 2 §2.4.2), a valid public point.
        let mut p = vec![0x04];
        p.extend(hex("6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296"));
        p.extend(hex("4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5"));
        p
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn rfc7638_example_thumbprint_matches() {
        assert_eq!(
            rfc7638_jwk().thumbprint().as_str(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn thumbprint_ignores_optional_members() {
        let mut jwk = rfc7638_jwk();
        let before = jwk.thumbprint();
        jwk.kid = None;
        jwk.use_ = Some("sig".into());
        jwk.alg = None;
        assert_eq!(jwk.thumbprint(), before);
    }

    #[test]
    fn rfc7638_example_from_spki_same_kid() {
        let n = URL_SAFE_NO_PAD.decode(RFC7638_N).unwrap();
        let der = rsa_spki(&n, &[1, 0, 1]);
        let jwk = Jwk::from_spki_der(&der).unwrap();
        assert_eq!(jwk.kty, "RSA");
        assert_eq!(jwk.n.as_deref(), Some(RFC7638_N));
        assert_eq!(jwk.e.as_deref(), Some("AQAB"));
        assert_eq!(jwk.alg.as_deref(), Some("RS256"));
        assert_eq!(jwk.use_.as_deref(), Some("sig"));
        assert_eq!(
            jwk.kid.as_ref().map(Kid::as_str),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
        assert_eq!(jwk.algorithm(), Some(Alg::RS256));
    }

    #[test]
    fn rsa_spki_sign_byte_stripped() {
        // A modulus with the high bit set is encoded with a 0x00 sign byte in DER.
        let n = [0xC0u8; 256];
        let jwk = Jwk::from_spki_der(&rsa_spki(&n, &[1, 0, 1])).unwrap();
        let decoded = URL_SAFE_NO_PAD.decode(jwk.n.unwrap()).unwrap();
        assert_eq!(decoded, n);
    }

    #[test]
    fn p256_spki_builds_ec_jwk() {
        let der = spki(&oid("1.2.840.10045.2.1"), &oid("1.2.840.10045.3.1.7"), &p256_point());
        let jwk = Jwk::from_spki_der(&der).unwrap();
        assert_eq!(jwk.kty, "EC");
        assert_eq!(jwk.crv.as_deref(), Some("P-256"));
        assert_eq!(jwk.alg.as_deref(), Some("ES256"));
        let x = URL_SAFE_NO_PAD.decode(jwk.x.as_ref().unwrap()).unwrap();
        let y = URL_SAFE_NO_PAD.decode(jwk.y.as_ref().unwrap()).unwrap();
        assert_eq!((x.len(), y.len()), (32, 32));
        assert_eq!(x, p256_point()[1..33]);
        assert_eq!(jwk.kid, Some(jwk.thumbprint()));
        assert!(jwk.n.is_none() && jwk.e.is_none());
    }

    #[test]
    fn p256_spki_matches_p256_crate_encoding() {
        use p256::pkcs8::EncodePublicKey as _;
        let sk = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let der = sk.public_key().to_public_key_der().unwrap();
        let jwk = Jwk::from_spki_der(der.as_bytes()).unwrap();
        let point = sk.public_key().to_encoded_point(false);
        assert_eq!(jwk.x, Some(URL_SAFE_NO_PAD.encode(point.x().unwrap())));
        assert_eq!(jwk.y, Some(URL_SAFE_NO_PAD.encode(point.y().unwrap())));
    }

    #[test]
    fn ec_thumbprint_member_order_lexicographic() {
        let jwk = Jwk {
            kty: "EC".into(),
            kid: None,
            use_: None,
            alg: None,
            n: None,
            e: None,
            crv: Some("P-256".into()),
            x: Some("X".into()),
            y: Some("Y".into()),
        };
        let expected = URL_SAFE_NO_PAD
            .encode(Sha256::digest(br#"{"crv":"P-256","kty":"EC","x":"X","y":"Y"}"#));
        assert_eq!(jwk.thumbprint().as_str(), expected);
    }

    #[test]
    fn p384_curve_unsupported() {
        let der = spki(&oid("1.2.840.10045.2.1"), &oid("1.3.132.0.34"), &[0x04; 97]);
        assert!(matches!(Jwk::from_spki_der(&der), Err(JwkError::Unsupported(_))));
    }

    #[test]
    fn ed25519_key_unsupported() {
        let der = spki(&oid("1.3.101.112"), &[], &[7u8; 32]);
        assert!(matches!(Jwk::from_spki_der(&der), Err(JwkError::Unsupported(_))));
    }

    #[test]
    fn p256_point_off_curve_malformed() {
        let mut point = p256_point();
        point[64] ^= 1;
        let der = spki(&oid("1.2.840.10045.2.1"), &oid("1.2.840.10045.3.1.7"), &point);
        assert!(matches!(Jwk::from_spki_der(&der), Err(JwkError::Malformed(_))));
    }

    #[test]
    fn ec_without_curve_malformed() {
        let der = spki(&oid("1.2.840.10045.2.1"), &[], &p256_point());
        assert!(matches!(Jwk::from_spki_der(&der), Err(JwkError::Malformed(_))));
    }

    #[test]
    fn rsa_garbage_key_malformed() {
        let der = spki(&oid("1.2.840.113549.1.1.1"), &[0x05, 0x00], &[0x30, 0x03, 1, 2, 3]);
        assert!(matches!(Jwk::from_spki_der(&der), Err(JwkError::Malformed(_))));
    }

    #[test]
    fn garbage_input_malformed_never_panics() {
        let valid = rsa_spki(&[0xC0u8; 256], &[1, 0, 1]);
        let mut inputs: Vec<Vec<u8>> = vec![vec![], vec![0x30], vec![0xff; 40], b"hello".to_vec()];
        // Every truncation of a valid key.
        inputs.extend((0..valid.len()).map(|i| valid[..i].to_vec()));
        for input in inputs {
            assert!(Jwk::from_spki_der(&input).is_err());
        }
        // Trailing bytes after the SPKI are rejected too.
        let mut trailing = valid;
        trailing.push(0);
        assert!(matches!(Jwk::from_spki_der(&trailing), Err(JwkError::Malformed(_))));
    }

    #[test]
    fn jwk_serializes_use_and_skips_absent_members() {
        let n = URL_SAFE_NO_PAD.decode(RFC7638_N).unwrap();
        let jwk = Jwk::from_spki_der(&rsa_spki(&n, &[1, 0, 1])).unwrap();
        let v = serde_json::to_value(&jwk).unwrap();
        assert_eq!(v["use"], "sig");
        assert!(v.get("crv").is_none() && v.get("use_").is_none());
        let back: Jwk = serde_json::from_value(v).unwrap();
        assert_eq!(back, jwk);
    }

    fn key(kid: &str, status: KeyStatus, retired_at: Option<u64>) -> SigningKey {
        let mut jwk = rfc7638_jwk();
        jwk.kid = Some(Kid::new(kid));
        SigningKey {
            kid: Kid::new(kid),
            kms_key_id: "k".into(),
            alg: Alg::RS256,
            status,
            public_jwk: jwk,
            created_at: 0,
            activated_at: None,
            retired_at,
        }
    }

    #[test]
    fn published_drops_long_retired_keys() {
        let now = 1_000_000;
        let keys = [
            key("old", KeyStatus::Retired, Some(now - MAX_TOKEN_LIFETIME)),
            key("recent", KeyStatus::Retired, Some(now - 10)),
            key("next", KeyStatus::Pending, None),
            key("cur", KeyStatus::Active, None),
        ];
        let set = JwkSet::published(&keys, now);
        let kids: Vec<_> = set.keys.iter().filter_map(|k| k.kid.as_ref()).map(Kid::as_str).collect();
        assert_eq!(kids, ["cur", "next", "recent"]);
        assert!(set.find(&Kid::new("recent")).is_some());
        assert!(set.find(&Kid::new("old")).is_none());
    }
}
