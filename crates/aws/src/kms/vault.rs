//! KMS as the [`KeyVault`] of the operator rules: new signing keys are created tagged
//! for the stack and with its key policy from their first moment, and deleted only
//! after KMS's waiting period.

use aws_sdk_kms::Client as KmsClient;
use m2m_core::error::PortError;
use m2m_core::model::Alg;
use m2m_manage::keys::{KeyVault, VaultKey};

use crate::kms::keys::{create_kms_signing_key, schedule_kms_key_deletion};
use crate::kms::public_key::public_jwk;

/// KMS's shortest deletion window, for a key whose public half could not be read.
const CLEANUP_PENDING_DAYS: i32 = 7;

/// Signing keys in KMS for one stack.
#[derive(Clone, Debug)]
pub struct KmsVault {
    kms: KmsClient,
    stack: String,
    policy: String,
}

impl KmsVault {
    /// Keys for `stack`, created with the key policy `policy` (a JSON document, see
    /// [`crate::kms::policy::signing_key_policy`]).
    pub fn new(kms: KmsClient, stack: impl Into<String>, policy: impl Into<String>) -> Self {
        Self {
            kms,
            stack: stack.into(),
            policy: policy.into(),
        }
    }
}

impl KeyVault for KmsVault {
    async fn create(&self, alg: Alg) -> Result<VaultKey, PortError> {
        let key_id = create_kms_signing_key(&self.kms, alg, &self.stack, &self.policy).await?;
        match public_jwk(&self.kms, &key_id).await {
            Ok(public) => Ok(VaultKey {
                key_ref: public.key_arn,
                public_jwk: public.jwk,
            }),
            Err(e) => {
                // Best effort: the read's error matters more than this cleanup's.
                let _ = schedule_kms_key_deletion(&self.kms, &key_id, CLEANUP_PENDING_DAYS).await;
                Err(e)
            }
        }
    }

    async fn schedule_deletion(
        &self,
        key_ref: &str,
        pending_days: i32,
    ) -> Result<Option<u64>, PortError> {
        schedule_kms_key_deletion(&self.kms, key_ref, pending_days).await
    }
}
