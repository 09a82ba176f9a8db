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

use aws_sdk_dynamodb::Client as DynamoClient;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};
use aws_sdk_kms::Client as KmsClient;
use m2m_core::error::PortError;
use m2m_core::jwk::Jwk;
use m2m_core::model::{Alg, KeyStatus, SigningKey};
use m2m_core::ports::{ActiveKey, Signer};
use m2m_core::signature::ecdsa_der_to_jws;
use m2m_core::types::Kid;
use tokio::sync::RwLock;

use crate::registry::DynamoKeyRegistry;
use crate::sdk_error::{code, port_error};

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
/// A source of Unix time in seconds. Only adapters read the clock (the domain takes `now` as a parameter).
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The wall clock in Unix seconds: the single place in m2m-aws that reads it.
pub fn system_clock() -> u64 {
    // Time is a parameter in the domain; this adapter is the entry point that reads it.
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now();
    now.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[derive(Clone, Debug)]
struct Cached {
    key: ActiveKey,
    /// When the key was last read successfully.
    confirmed_at: u64,
    /// When the registry was last consulted, successfully or not.
    checked_at: u64,
}

/// Signs with AWS KMS.
pub struct KmsSigner {
    kms: KmsClient,
    registry: DynamoKeyRegistry,
    fallback_key: String,
    clock: Clock,
    cache: RwLock<Option<Cached>>,
}

impl std::fmt::Debug for KmsSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsSigner")
            .field("table", &self.registry.table())
            .field("fallback_key", &self.fallback_key)
            .finish_non_exhaustive()
    }
}

impl KmsSigner {
    /// A signer reading the key registry from `table` with `dynamo` and signing with
    /// `kms`; `fallback_key` (`M2M_SIGNING_KEY`: key id, ARN or alias) signs only while
    /// the registry holds no key at all. Reads the system clock for the cache.
    pub fn new(
        kms: KmsClient,
        dynamo: DynamoClient,
        table: impl Into<String>,
        fallback_key: impl Into<String>,
    ) -> Self {
        Self {
            kms,
            registry: DynamoKeyRegistry::new(dynamo, table),
            fallback_key: fallback_key.into(),
            clock: Arc::new(system_clock),
            cache: RwLock::new(None),
        }
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
                *self.cache.write().await = Some(Cached {
                    key: key.clone(),
                    confirmed_at: now,
                    checked_at: now,
                });
                Ok(key)
            }
            Resolved::NoActive { .. } => Err(no_active_key()),
        }
    }

    /// Reads the registry's active key, or the fallback key's public key from KMS when
    /// the registry holds no key at all.
    async fn resolve(&self, cached: Option<&Kid>) -> Result<Resolved, PortError> {
        let listed = self.registry.list().await?;
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

impl Signer for KmsSigner {
    async fn active_key(&self) -> Result<ActiveKey, PortError> {
        let now = (self.clock)();
        let fresh = |c: &Cached| now >= c.checked_at && now - c.checked_at < KEY_REFRESH_SECS;
        if let Some(c) = self.cache.read().await.as_ref() {
            if fresh(c) {
                return Ok(c.key.clone());
            }
        }
        let mut cache = self.cache.write().await;
        // Another task may have refreshed while we waited for the lock.
        if let Some(c) = cache.as_ref() {
            if fresh(c) {
                return Ok(c.key.clone());
            }
        }
        let cached_kid = cache.as_ref().map(|c| c.key.kid.clone());
        match self.resolve(cached_kid.as_ref()).await {
            Ok(Resolved::Key(key)) => {
                *cache = Some(Cached {
                    key: key.clone(),
                    confirmed_at: now,
                    checked_at: now,
                });
                Ok(key)
            }
            Ok(Resolved::NoActive {
                cached_usable: false,
            }) => {
                // Revoked or deleted: never sign with it again, not even in the grace.
                if let Some(c) = cache.take() {
                    tracing::error!(kid = %c.key.kid, "the cached signing key is revoked or gone and no key is active; no token is signed");
                }
                Err(no_active_key())
            }
            Ok(Resolved::NoActive {
                cached_usable: true,
            }) => match cache.as_mut() {
                Some(c) if now.saturating_sub(c.confirmed_at) < KEY_STALE_GRACE_SECS => {
                    tracing::warn!(
                        kid = %c.key.kid,
                        "no signing key is active in the registry; signing with the last active key"
                    );
                    c.checked_at = now;
                    Ok(c.key.clone())
                }
                _ => {
                    *cache = None;
                    Err(no_active_key())
                }
            },
            Err(e) => match cache.as_mut() {
                Some(c) if now.saturating_sub(c.confirmed_at) < KEY_STALE_GRACE_SECS => {
                    tracing::warn!(
                        error = %m2m_core::error::Chain(&e),
                        kid = %c.key.kid,
                        "refreshing the active key failed; signing with the cached key"
                    );
                    c.checked_at = now;
                    Ok(c.key.clone())
                }
                _ => Err(e),
            },
        }
    }

    async fn sign(&self, key: &ActiveKey, signing_input: &[u8]) -> Result<Vec<u8>, PortError> {
        if signing_input.len() > MAX_RAW_MESSAGE {
            return Err(PortError::new(format!(
                "signing input of {} bytes exceeds the KMS RAW limit of {MAX_RAW_MESSAGE}",
                signing_input.len()
            )));
        }
        // RFC 7518 §3.3 (RS256) and §3.4 (ES256). Never DIGEST (we would hash ourselves
        // for no gain) and never PSS (not RS256).
        let algorithm = match key.alg {
            Alg::RS256 => SigningAlgorithmSpec::RsassaPkcs1V15Sha256,
            Alg::ES256 => SigningAlgorithmSpec::EcdsaSha256,
        };
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
                Some(c @ ("DisabledException" | "KMSInvalidStateException")) => {
                    let msg = format!("KMS Sign: the signing key is not usable ({c})");
                    PortError::new(msg).with_source(e)
                }
                _ => port_error("KMS Sign", e),
            })?;
        let signature = out
            .signature
            .ok_or_else(|| PortError::new("KMS Sign returned no signature"))?
            .into_inner();
        match key.alg {
            Alg::RS256 if signature.is_empty() => {
                Err(PortError::new("KMS Sign returned an empty signature"))
            }
            Alg::RS256 => Ok(signature),
            Alg::ES256 => ecdsa_der_to_jws(&signature)
                .map(|rs| rs.to_vec())
                .map_err(|e| {
                    PortError::new("KMS Sign returned a malformed ECDSA signature").with_source(e)
                }),
        }
    }
}

fn no_active_key() -> PortError {
    PortError::new(
        "the key registry holds signing keys but none is active; activate one with \
         `m2m-admin keys activate`",
    )
}

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
        return Err(PortError::new("KMS key is not a SIGN_VERIFY key"));
    }
    let (alg, needed) = match key_spec(&out) {
        Some(KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096) => {
            (Alg::RS256, SigningAlgorithmSpec::RsassaPkcs1V15Sha256)
        }
        Some(KeySpec::EccNistP256) => (Alg::ES256, SigningAlgorithmSpec::EcdsaSha256),
        _ => {
            return Err(PortError::new(
                "KMS key spec is not RSA_2048/3072/4096 or ECC_NIST_P256",
            ))
        }
    };
    if let Some(algs) = &out.signing_algorithms {
        if !algs.contains(&needed) {
            return Err(PortError::new(format!(
                "KMS key does not offer {}",
                needed.as_str()
            )));
        }
    }
    let der = out
        .public_key
        .ok_or_else(|| PortError::new("KMS GetPublicKey returned no public key"))?;
    let jwk = Jwk::from_spki_der(der.as_ref())
        .map_err(|e| PortError::new("KMS public key is not a usable JWK").with_source(e))?;
    if jwk.algorithm() != Some(alg) {
        return Err(PortError::new("KMS public key does not match its key spec"));
    }
    Ok(KmsPublicKey {
        key_arn: out.key_id.unwrap_or_else(|| key_id.to_owned()),
        alg,
        jwk,
    })
}
