//! The JWS signing algorithms we issue with (RFC 7518 §3.1): a leaf of the domain that
//! the JWK, JWS and directory-record modules all name.

use serde::{Deserialize, Serialize};

/// A JWS signing algorithm we issue with (RFC 7518 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (KMS `RSA_2048`, `RSASSA_PKCS1_V1_5_SHA_256`).
    RS256,
    /// ECDSA P-256 with SHA-256 (KMS `ECC_NIST_P256`, `ECDSA_SHA_256`).
    ES256,
}

impl Alg {
    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
        }
    }

    /// Parses the JOSE name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "RS256" => Some(Self::RS256),
            "ES256" => Some(Self::ES256),
            _ => None,
        }
    }
}
