//! The operator's KMS operations on signing keys: creation (tagged with the stack, with
//! its key policy from the first moment) and scheduled deletion.

use aws_sdk_kms::types::{KeySpec, KeyUsageType, Tag};
use aws_sdk_kms::Client as KmsClient;
use m2m_core::error::PortError;
use m2m_core::model::Alg;

use crate::sdk::error::port_error;

/// The tag every signing key created by the operator CLI carries, valued with the stack
/// name, so an account's m2m-auth keys can be found (and their cost attributed).
pub const STACK_TAG: &str = "m2m-auth:stack";

/// The KMS key spec of `alg` (DESIGN.md: RS256 from `RSA_2048`, ES256 from
/// `ECC_NIST_P256`).
pub fn key_spec(alg: Alg) -> KeySpec {
    match alg {
        Alg::RS256 => KeySpec::Rsa2048,
        Alg::ES256 => KeySpec::EccNistP256,
    }
}

/// Creates a KMS `SIGN_VERIFY` key for `alg`, tagged [`STACK_TAG`]=`stack`, with the key
/// policy `policy` (a JSON document) from its first moment, and returns its key id.
///
/// # Errors
/// A [`PortError`] when KMS refuses.
pub async fn create_kms_signing_key(
    kms: &KmsClient,
    alg: Alg,
    stack: &str,
    policy: &str,
) -> Result<String, PortError> {
    let tag = Tag::builder()
        .tag_key(STACK_TAG)
        .tag_value(stack)
        .build()
        .map_err(|e| PortError::malformed("building the KMS tag").with_source(e))?;
    let out = kms
        .create_key()
        .key_spec(key_spec(alg))
        .key_usage(KeyUsageType::SignVerify)
        .description(format!(
            "m2m-auth token signing key ({}, stack {stack})",
            alg.as_str()
        ))
        .tags(tag)
        .policy(policy)
        .send()
        .await
        .map_err(|e| port_error("KMS CreateKey", e))?;
    out.key_metadata
        .map(|m| m.key_id)
        .ok_or_else(|| PortError::malformed("KMS CreateKey returned no key metadata"))
}

/// Schedules deletion of a KMS key after `days` (7 to 30, KMS's bounds); returns the
/// deletion date KMS reports, in Unix seconds, when it reports one.
///
/// # Errors
/// A [`PortError`] when KMS refuses.
pub async fn schedule_kms_key_deletion(
    kms: &KmsClient,
    key_id: &str,
    days: i32,
) -> Result<Option<u64>, PortError> {
    let out = kms
        .schedule_key_deletion()
        .key_id(key_id)
        .pending_window_in_days(days)
        .send()
        .await
        .map_err(|e| port_error("KMS ScheduleKeyDeletion", e))?;
    Ok(out.deletion_date.and_then(|d| u64::try_from(d.secs()).ok()))
}
