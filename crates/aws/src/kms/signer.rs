//! The KMS signer: [`Signer`] on AWS KMS asymmetric keys, `Sign` with
//! `MessageType=RAW` (KMS hashes the signing input itself). The active key comes from
//! the key registry in the table and is cached in the signer between invocations.
//!
//! Which key signs:
//! - the registry's active key, its status read from the base table with a strongly
//!   consistent read (the `ByKind` index only lists which keys exist);
//! - `M2M_SIGNING_KEY` only when the registry holds no key at all (a fresh
//!   deployment);
//! - when the registry holds keys but none is active (retired with `--force`, or
//!   revoked), the last key confirmed active keeps signing within
//!   [`KEY_STALE_GRACE_SECS`] unless it is now revoked or gone; otherwise no token is
//!   signed (fail closed). A revoked key never signs, not even in that grace.

use std::sync::Arc;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use aws_sdk_kms::Client as KmsClient;
use m2m_core::cache::{Fetched, StaleCache};
use m2m_core::error::PortError;
use m2m_core::keys::KeyRegistry;
use m2m_core::model::{Alg, KeyStatus, SigningKey};
use m2m_core::ports::{ActiveKey, Signer};
use m2m_core::signature::ecdsa_der_to_jws;
use m2m_core::types::Kid;

use crate::clock::{system_clock, Clock};
use crate::kms::public_key::public_jwk;
use crate::sdk::error::{code, port_error};
use crate::wire::Wire;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// Largest message KMS `Sign` accepts with `MessageType=RAW` (KMS API reference,
/// `Sign`, request parameter `Message`: "up to 4096 bytes").
pub const MAX_RAW_MESSAGE: usize = 4096;
/// How long the active key is cached before the registry is read again (the
/// [`Signer`] port's contract: refreshed at most every 60 s), which bounds how long a
/// key change takes to reach every function instance.
pub const KEY_REFRESH_SECS: u64 = 60;
/// When a refresh fails, the cached key keeps signing for this long after it was last
/// confirmed: a key that was active minutes ago is still in the published JWKS, so its
/// tokens verify, and a short registry outage does not stop issuance.
pub const KEY_STALE_GRACE_SECS: u64 = 600;

/// Signs with AWS KMS, the active key read from a [`KeyRegistry`] (the DynamoDB one in
/// production).
pub struct KmsSigner<R> {
    kms: KmsClient,
    wire: Option<Wire>,
    registry: R,
    fallback_key: String,
    clock: Clock,
    cache: StaleCache<ActiveKey>,
}

impl<R> std::fmt::Debug for KmsSigner<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsSigner")
            .field("fallback_key", &self.fallback_key)
            .finish_non_exhaustive()
    }
}

impl<R: KeyRegistry> KmsSigner<R> {
    /// A signer reading the active key from `registry` and signing with `kms`;
    /// `fallback_key` (`M2M_SIGNING_KEY`: key id, ARN or alias) signs only while the
    /// registry holds no key at all. Reads the system clock for the cache.
    pub fn new(kms: KmsClient, registry: R, fallback_key: impl Into<String>) -> Self {
        Self {
            kms,
            wire: None,
            registry,
            fallback_key: fallback_key.into(),
            clock: Arc::new(system_clock),
            cache: StaleCache::new("signing key", KEY_REFRESH_SECS, KEY_STALE_GRACE_SECS),
        }
    }

    /// Signs with `wire` instead of the SDK client ([`crate::wire`]: the same `Sign`
    /// without the SDK's per-call machinery); reading public keys stays with the SDK.
    #[must_use]
    pub fn with_wire(mut self, wire: Option<Wire>) -> Self {
        self.wire = wire;
        self
    }

    /// Replaces the clock (tests drive the cache with a fake one).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Resolves the active key now, bypassing the cache, and caches it. Call during
    /// init so the first request does not pay for it.
    ///
    /// # Errors
    /// As [`Signer::active_key`].
    pub async fn refresh(&self) -> Result<ActiveKey, PortError> {
        let now = (self.clock)();
        match self.resolve(None).await? {
            Resolved::Key(key) => {
                self.cache.put(key.clone(), now).await;
                Ok(key)
            }
            Resolved::NoActive { .. } => Err(no_active_key()),
        }
    }

    /// Reads the registry's active key, or the fallback key's public key from KMS when
    /// the registry holds no key at all.
    async fn resolve(&self, cached: Option<&Kid>) -> Result<Resolved, PortError> {
        let listed = self.registry.signing_keys().await?;
        if listed.is_empty() {
            let public = public_jwk(&self.kms, &self.fallback_key).await?;
            return Ok(Resolved::Key(ActiveKey {
                alg: public.alg,
                kid: public.jwk.thumbprint(),
                handle: public.key_arn,
            }));
        }
        let mut kids: Vec<Kid> = listed.into_iter().map(|k| k.kid).collect();
        if let Some(kid) = cached {
            if !kids.contains(kid) {
                kids.push(kid.clone());
            }
        }
        let keys = self.registry.read_consistent(&kids).await?;
        let cached_usable = cached.is_some_and(|kid| {
            keys.iter()
                .any(|k| &k.kid == kid && k.status != KeyStatus::Revoked)
        });
        let active: Vec<SigningKey> = keys
            .into_iter()
            .filter(|k| k.status == KeyStatus::Active)
            .collect();
        if active.len() > 1 {
            tracing::warn!(
                active = active.len(),
                "several signing keys are active; using the latest"
            );
        }
        Ok(match active.into_iter().max_by_key(|k| k.activated_at) {
            Some(key) => Resolved::Key(ActiveKey {
                alg: key.alg,
                kid: key.kid,
                handle: key.kms_key_id,
            }),
            None => Resolved::NoActive { cached_usable },
        })
    }
}

/// What a registry read found.
enum Resolved {
    /// The key to sign with.
    Key(ActiveKey),
    /// The registry holds keys but none is active; whether the cached key is still in
    /// the registry and not revoked.
    NoActive { cached_usable: bool },
}

impl<R: KeyRegistry> Signer for KmsSigner<R> {
    /// The cached active key, refreshed every [`KEY_REFRESH_SECS`]. When the registry
    /// holds keys but none is active, the last key confirmed active keeps signing within
    /// [`KEY_STALE_GRACE_SECS`] unless it is now revoked or gone; a failed read keeps it
    /// within the same grace.
    async fn active_key(&self) -> Result<ActiveKey, PortError> {
        let now = (self.clock)();
        self.cache
            .get(now, |cached| async move {
                let cached_kid = cached.as_ref().map(|c| c.kid.clone());
                Ok(match self.resolve(cached_kid.as_ref()).await? {
                    Resolved::Key(key) => Fetched::Fresh(key),
                    Resolved::NoActive {
                        cached_usable: true,
                    } => Fetched::Unavailable(no_active_key()),
                    Resolved::NoActive {
                        cached_usable: false,
                    } => {
                        // Revoked or deleted: never sign with it again, not even in the grace.
                        if let Some(kid) = cached_kid {
                            tracing::error!(%kid, "the cached signing key is revoked or gone and no key is active; no token is signed");
                        }
                        Fetched::Withdrawn(no_active_key())
                    }
                })
            })
            .await
    }

    async fn sign(&self, key: &ActiveKey, signing_input: &[u8]) -> Result<Vec<u8>, PortError> {
        if signing_input.len() > MAX_RAW_MESSAGE {
            return Err(PortError::refused(format!(
                "signing input of {} bytes exceeds the KMS RAW limit of {MAX_RAW_MESSAGE}",
                signing_input.len()
            )));
        }
        let algorithm = signing_algorithm(key.alg);
        let signature = match &self.wire {
            Some(wire) => wire_sign(wire, key, signing_input).await?,
            None => self.sdk_sign(key, signing_input, algorithm).await?,
        };
        match key.alg {
            Alg::RS256 if signature.is_empty() => {
                Err(PortError::malformed("KMS Sign returned an empty signature"))
            }
            Alg::RS256 => Ok(signature),
            Alg::ES256 => ecdsa_der_to_jws(&signature)
                .map(|rs| rs.to_vec())
                .map_err(|e| {
                    PortError::malformed("KMS Sign returned a malformed ECDSA signature")
                        .with_source(e)
                }),
        }
    }
}

impl<R> KmsSigner<R> {
    async fn sdk_sign(
        &self,
        key: &ActiveKey,
        signing_input: &[u8],
        algorithm: SigningAlgorithmSpec,
    ) -> Result<Vec<u8>, PortError> {
        let out = self
            .kms
            .sign()
            .key_id(&key.handle)
            .message(Blob::new(signing_input))
            .message_type(MessageType::Raw)
            .signing_algorithm(algorithm)
            .send()
            .await
            .map_err(|e| match code(&e) {
                Some(c) if key_unusable(c) => unusable(c).with_source(e),
                _ => port_error("KMS Sign", e),
            })?;
        Ok(out
            .signature
            .ok_or_else(|| PortError::malformed("KMS Sign returned no signature"))?
            .into_inner())
    }
}

/// `Sign` spoken directly (KMS API reference, "Sign": `KeyId`, `Message` base64,
/// `MessageType`, `SigningAlgorithm`; the answer's `Signature` base64).
async fn wire_sign(
    wire: &Wire,
    key: &ActiveKey,
    signing_input: &[u8],
) -> Result<Vec<u8>, PortError> {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Request<'a> {
        key_id: &'a str,
        message: String,
        message_type: &'a str,
        signing_algorithm: &'a str,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Answer {
        signature: Option<String>,
    }
    let algorithm = signing_algorithm(key.alg);
    let body = serde_json::to_vec(&Request {
        key_id: &key.handle,
        message: STANDARD.encode(signing_input),
        message_type: MessageType::Raw.as_str(),
        signing_algorithm: algorithm.as_str(),
    })
    .map_err(|e| PortError::malformed("building KMS Sign").with_source(e))?;
    let answer = wire.call("Sign", body).await.map_err(|e| match e.code() {
        Some(c) if key_unusable(c) => unusable(c).with_source(e),
        _ => e.into_port_error("KMS Sign"),
    })?;
    let answer: Answer = serde_json::from_slice(&answer).map_err(|e| {
        PortError::malformed("KMS Sign returned an unreadable answer").with_source(e)
    })?;
    let signature = answer
        .signature
        .ok_or_else(|| PortError::malformed("KMS Sign returned no signature"))?;
    STANDARD.decode(signature).map_err(|e| {
        PortError::malformed("KMS Sign returned a signature not in base64").with_source(e)
    })
}

/// RFC 7518 §3.3 (RS256) and §3.4 (ES256). Never DIGEST (we would hash ourselves for
/// no gain) and never PSS (not RS256).
fn signing_algorithm(alg: Alg) -> SigningAlgorithmSpec {
    match alg {
        Alg::RS256 => SigningAlgorithmSpec::RsassaPkcs1V15Sha256,
        Alg::ES256 => SigningAlgorithmSpec::EcdsaSha256,
    }
}

/// KMS error codes that mean the key cannot sign now (disabled, pending deletion).
fn key_unusable(code: &str) -> bool {
    matches!(code, "DisabledException" | "KMSInvalidStateException")
}

fn unusable(code: &str) -> PortError {
    PortError::refused(format!("KMS Sign: the signing key is not usable ({code})"))
}

fn no_active_key() -> PortError {
    PortError::refused(
        "the key registry holds signing keys but none is active; activate one with \
         `m2m-admin keys activate`",
    )
}
