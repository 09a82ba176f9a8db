//! A KMS key's public half as a JWK (RFC 7517, `kid` the RFC 7638 thumbprint), read
//! with `GetPublicKey`: what the registry stores and the JWKS publishes.

use aws_sdk_kms::types::{KeySpec, KeyUsageType, SigningAlgorithmSpec};
use aws_sdk_kms::Client as KmsClient;
use m2m_core::error::PortError;
use m2m_core::jwk::Jwk;
use m2m_core::model::Alg;

use crate::sdk::error::port_error;

/// The key spec of a `GetPublicKey` answer. `CustomerMasterKeySpec` is the deprecated
/// name of `KeySpec`, with the same values; AWS returns both, moto only the old one.
#[allow(deprecated)]
fn key_spec(out: &aws_sdk_kms::operation::get_public_key::GetPublicKeyOutput) -> Option<KeySpec> {
    out.key_spec.clone().or_else(|| {
        out.customer_master_key_spec
            .as_ref()
            .map(|c| KeySpec::from(c.as_str()))
    })
}

/// A KMS key's public half, as the registry and JWKS need it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KmsPublicKey {
    /// The key's ARN (KMS resolves aliases and ids to it).
    pub key_arn: String,
    /// The JWS algorithm the key signs with.
    pub alg: Alg,
    /// The public JWK with `kid` (RFC 7638 thumbprint), `use` and `alg` set.
    pub jwk: Jwk,
}

/// Reads a KMS key's public key (`GetPublicKey`) and builds its JWK. The key must be a
/// `SIGN_VERIFY` key of spec `RSA_2048`/`RSA_3072`/`RSA_4096` (RS256) or
/// `ECC_NIST_P256` (ES256).
///
/// # Errors
/// A [`PortError`] when KMS fails (throttled when it throttles), the key is of another
/// kind, or its public key cannot be parsed.
pub async fn public_jwk(kms: &KmsClient, key_id: &str) -> Result<KmsPublicKey, PortError> {
    let out = kms
        .get_public_key()
        .key_id(key_id)
        .send()
        .await
        .map_err(|e| port_error("KMS GetPublicKey", e))?;
    if out.key_usage.as_ref() != Some(&KeyUsageType::SignVerify) {
        return Err(PortError::refused("KMS key is not a SIGN_VERIFY key"));
    }
    let (alg, needed) = match key_spec(&out) {
        Some(KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096) => {
            (Alg::RS256, SigningAlgorithmSpec::RsassaPkcs1V15Sha256)
        }
        Some(KeySpec::EccNistP256) => (Alg::ES256, SigningAlgorithmSpec::EcdsaSha256),
        _ => {
            return Err(PortError::refused(
                "KMS key spec is not RSA_2048/3072/4096 or ECC_NIST_P256",
            ))
        }
    };
    if let Some(algs) = &out.signing_algorithms {
        if !algs.contains(&needed) {
            return Err(PortError::refused(format!(
                "KMS key does not offer {}",
                needed.as_str()
            )));
        }
    }
    let der = out
        .public_key
        .ok_or_else(|| PortError::malformed("KMS GetPublicKey returned no public key"))?;
    let jwk = Jwk::from_spki_der(der.as_ref())
        .map_err(|e| PortError::malformed("KMS public key is not a usable JWK").with_source(e))?;
    if jwk.algorithm() != Some(alg) {
        return Err(PortError::malformed(
            "KMS public key does not match its key spec",
        ));
    }
    Ok(KmsPublicKey {
        key_arn: out.key_id.unwrap_or_else(|| key_id.to_owned()),
        alg,
        jwk,
    })
}
