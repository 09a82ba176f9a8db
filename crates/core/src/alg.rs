//! The JWS signing algorithms we issue with (RFC 7518 §3.1): a leaf of the domain that
//! the JWK, JWS and directory-record modules all name.

use crate::wire::wire_names;

/// A JWS signing algorithm we issue with (RFC 7518 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (KMS `RSA_2048`, `RSASSA_PKCS1_V1_5_SHA_256`).
    RS256,
    /// ECDSA P-256 with SHA-256 (KMS `ECC_NIST_P256`, `ECDSA_SHA_256`).
    ES256,
}

wire_names!(Alg, "JWS algorithm", {
    RS256 => "RS256",
    ES256 => "ES256",
});

impl Alg {
    /// Parses the JOSE name; `None` for any other ([`str::parse`] says why).
    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }
}
