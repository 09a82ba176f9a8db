//! Software signers: [`SoftwareSigner`] signs RS256 / ES256 with real in-process keys
//! exactly as KMS would (ES256 goes through DER and [`ecdsa_der_to_jws`]), and
//! [`NoopSigner`] answers instantly for benchmarks that exclude signing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use p256::pkcs8::EncodePublicKey as _;
use rsa::signature::{SignatureEncoding as _, Signer as _};
use sha2::Sha256;

use super::{lock, Failure};
use crate::error::PortError;
use crate::jwk::{Jwk, JwkSet};
use crate::jws::MAX_SIGNING_INPUT;
use crate::model::Alg;
use crate::ports::{ActiveKey, Signer};
use crate::signature::ecdsa_der_to_jws;
use crate::types::Kid;

/// The `handle` of every software key.
const HANDLE: &str = "software";

/// A private key and what the JWKS publishes for it.
struct Keys {
    private: PrivateKey,
    spki_der: Vec<u8>,
    jwk: Jwk,
}

enum PrivateKey {
    Rs256(Box<rsa::pkcs1v15::SigningKey<Sha256>>),
    Es256(p256::ecdsa::SigningKey),
}

/// The key, or why none could be made (reported by `active_key` and `sign`: a
/// test-support type must not panic either).
type KeyResult = Result<Arc<Keys>, String>;

impl Keys {
    fn new(private: PrivateKey, spki_der: Vec<u8>) -> KeyResult {
        // Through the production path, as the KMS adapter does with `GetPublicKey`.
        let jwk = Jwk::from_spki_der(&spki_der).map_err(|e| e.to_string())?;
        Ok(Arc::new(Self {
            private,
            spki_der,
            jwk,
        }))
    }

    fn rs256() -> KeyResult {
        // 2048 bits like KMS `RSA_2048`; generated once per process (keygen is slow).
        let key =
            rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).map_err(|e| e.to_string())?;
        let der = key
            .to_public_key()
            .to_public_key_der()
            .map_err(|e| e.to_string())?;
        Self::new(
            PrivateKey::Rs256(Box::new(rsa::pkcs1v15::SigningKey::<Sha256>::new(key))),
            der.as_bytes().to_vec(),
        )
    }

    fn es256() -> KeyResult {
        let key = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
        let der = p256::PublicKey::from(key.verifying_key())
            .to_public_key_der()
            .map_err(|e| e.to_string())?;
        Self::new(PrivateKey::Es256(key), der.as_bytes().to_vec())
    }

    fn alg(&self) -> Alg {
        match self.private {
            PrivateKey::Rs256(_) => Alg::RS256,
            PrivateKey::Es256(_) => Alg::ES256,
        }
    }

    fn sign(&self, input: &[u8]) -> Result<Vec<u8>, PortError> {
        match &self.private {
            PrivateKey::Rs256(key) => key.try_sign(input).map(|sig| sig.to_vec()).map_err(|e| {
                PortError::unavailable("software RS256 signing failed").with_source(e)
            }),
            PrivateKey::Es256(key) => {
                // KMS `ECDSA_SHA_256` answers DER; convert exactly as the adapter does.
                let sig: p256::ecdsa::Signature = key.try_sign(input).map_err(|e| {
                    PortError::unavailable("software ES256 signing failed").with_source(e)
                })?;
                let der = sig.to_der();
                ecdsa_der_to_jws(der.as_bytes())
                    .map(|rs| rs.to_vec())
                    .map_err(|e| PortError::malformed("ES256 DER conversion failed").with_source(e))
            }
        }
    }
}

/// A [`Signer`] with a real in-process key: RS256 (RSA 2048, PKCS#1 v1.5 SHA-256) or
/// ES256 (P-256, RFC 6979 deterministic ECDSA). Behaves like the KMS adapter: it
/// refuses inputs over 4096 bytes and keys it does not hold, counts `sign` calls, and
/// has a failure switch. Clones share the key, the counter and the switch.
#[derive(Clone)]
pub struct SoftwareSigner {
    keys: KeyResult,
    signs: Arc<AtomicUsize>,
    failure: Arc<Mutex<Option<Failure>>>,
}

impl std::fmt::Debug for SoftwareSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key.
        f.debug_struct("SoftwareSigner")
            .field(
                "kid",
                &self.keys.as_ref().ok().and_then(|k| k.jwk.kid.as_ref()),
            )
            .field("sign_count", &self.sign_count())
            .finish_non_exhaustive()
    }
}

impl SoftwareSigner {
    fn from_keys(keys: KeyResult) -> Self {
        Self {
            keys,
            signs: Arc::default(),
            failure: Arc::default(),
        }
    }

    /// An RS256 signer. The RSA 2048 key is generated once per process and shared by
    /// every `rs256()` signer, so they all have the same `kid`.
    pub fn rs256() -> Self {
        static KEY: OnceLock<KeyResult> = OnceLock::new();
        Self::from_keys(KEY.get_or_init(Keys::rs256).clone())
    }

    /// An ES256 signer. The P-256 key is generated once per process and shared by
    /// every `es256()` signer.
    pub fn es256() -> Self {
        static KEY: OnceLock<KeyResult> = OnceLock::new();
        Self::from_keys(KEY.get_or_init(Keys::es256).clone())
    }

    /// An ES256 signer with a key of its own (cheap), for key-rotation tests.
    pub fn es256_fresh() -> Self {
        Self::from_keys(Keys::es256())
    }

    fn keys(&self) -> Result<&Keys, PortError> {
        self.keys
            .as_deref()
            .map_err(|e| PortError::refused(format!("software signer has no key: {e}")))
    }

    /// The public key as the JWKS publishes it (`kid`, `use`, `alg` set), built by
    /// [`Jwk::from_spki_der`]. Only a `kty` if the key could not be generated.
    pub fn jwk(&self) -> Jwk {
        match &self.keys {
            Ok(k) => k.jwk.clone(),
            Err(_) => Jwk {
                kty: String::new(),
                kid: None,
                use_: None,
                alg: None,
                n: None,
                e: None,
                crv: None,
                x: None,
                y: None,
            },
        }
    }

    /// A JWK Set of this signer's key alone.
    pub fn jwks(&self) -> JwkSet {
        JwkSet::new(vec![self.jwk()])
    }

    /// The DER SubjectPublicKeyInfo of the public key (what KMS `GetPublicKey`
    /// returns); empty if the key could not be generated.
    pub fn public_key_der(&self) -> Vec<u8> {
        self.keys
            .as_ref()
            .map(|k| k.spki_der.clone())
            .unwrap_or_default()
    }

    /// The key's RFC 7638 thumbprint.
    pub fn kid(&self) -> Kid {
        self.jwk().thumbprint()
    }

    /// How many times `sign` was called (failed calls included).
    pub fn sign_count(&self) -> usize {
        self.signs.load(Ordering::SeqCst)
    }

    /// From now on `active_key` and `sign` fail with `failure`; `None` heals.
    pub fn fail_with(&self, failure: Option<Failure>) {
        *lock(&self.failure) = failure;
    }

    /// From now on `active_key` and `sign` fail (throttled → 503, otherwise → 500).
    pub fn fail(&self, throttled: bool) {
        let failure = if throttled {
            Failure::throttled("signer throttled (injected)")
        } else {
            Failure::error("signer unavailable (injected)")
        };
        self.fail_with(Some(failure));
    }

    /// Signing works again.
    pub fn heal(&self) {
        self.fail_with(None);
    }

    fn check_failure(&self) -> Result<(), PortError> {
        match &*lock(&self.failure) {
            Some(f) => Err(f.to_port_error()),
            None => Ok(()),
        }
    }
}

impl Signer for SoftwareSigner {
    async fn active_key(&self) -> Result<ActiveKey, PortError> {
        self.check_failure()?;
        let keys = self.keys()?;
        Ok(ActiveKey {
            alg: keys.alg(),
            kid: keys.jwk.thumbprint(),
            handle: HANDLE.to_owned(),
        })
    }

    async fn sign(&self, key: &ActiveKey, signing_input: &[u8]) -> Result<Vec<u8>, PortError> {
        self.signs.fetch_add(1, Ordering::SeqCst);
        self.check_failure()?;
        let keys = self.keys()?;
        if key.kid != keys.jwk.thumbprint() || key.alg != keys.alg() || key.handle != HANDLE {
            return Err(PortError::refused(format!(
                "software signer does not hold key {}",
                key.kid
            )));
        }
        if signing_input.len() > MAX_SIGNING_INPUT {
            // KMS answers ValidationException for RAW messages over 4096 bytes.
            return Err(PortError::refused(format!(
                "signing input of {} bytes exceeds 4096",
                signing_input.len()
            )));
        }
        keys.sign(signing_input)
    }
}

/// The fixed `kid` of [`NoopSigner`].
pub const NOOP_KID: &str = "noop";

/// A [`Signer`] that signs nothing: RS256, kid [`NOOP_KID`], and a 256-byte zero
/// "signature", instantly. For benchmarks of issuance with signing excluded; its
/// tokens verify nowhere. Counts `sign` calls; clones share the counter.
#[derive(Clone, Debug, Default)]
pub struct NoopSigner {
    signs: Arc<AtomicUsize>,
}

impl NoopSigner {
    /// A new no-op signer.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many times `sign` was called.
    pub fn sign_count(&self) -> usize {
        self.signs.load(Ordering::Relaxed)
    }
}

impl Signer for NoopSigner {
    async fn active_key(&self) -> Result<ActiveKey, PortError> {
        Ok(ActiveKey {
            alg: Alg::RS256,
            kid: Kid::new(NOOP_KID),
            handle: "noop".to_owned(),
        })
    }

    async fn sign(&self, _key: &ActiveKey, _signing_input: &[u8]) -> Result<Vec<u8>, PortError> {
        self.signs.fetch_add(1, Ordering::Relaxed);
        Ok(vec![0; 256])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use p256::ecdsa::signature::Verifier as _;

    #[tokio::test]
    async fn rs256_signature_verifies_with_public_key() {
        use rsa::pkcs8::DecodePublicKey as _;
        let signer = SoftwareSigner::rs256();
        let key = signer.active_key().await.unwrap();
        assert_eq!(key.alg, Alg::RS256);
        assert_eq!(Some(&key.kid), signer.jwk().kid.as_ref());
        let sig = signer.sign(&key, b"a.b").await.unwrap();
        assert_eq!(sig.len(), 256);
        let public = rsa::RsaPublicKey::from_public_key_der(&signer.public_key_der()).unwrap();
        let verifier = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(public);
        let sig = rsa::pkcs1v15::Signature::try_from(sig.as_slice()).unwrap();
        rsa::signature::Verifier::verify(&verifier, b"a.b", &sig).unwrap();
        assert_eq!(signer.sign_count(), 1);
    }

    #[tokio::test]
    async fn es256_signature_is_raw_and_verifies() {
        let signer = SoftwareSigner::es256();
        let key = signer.active_key().await.unwrap();
        assert_eq!(key.alg, Alg::ES256);
        let sig = signer.sign(&key, b"a.b").await.unwrap();
        assert_eq!(sig.len(), 64);
        // Rebuild the public key from the JWK alone, as a resource server would.
        let jwk = signer.jwk();
        let mut point = vec![0x04];
        point.extend(URL_SAFE_NO_PAD.decode(jwk.x.unwrap()).unwrap());
        point.extend(URL_SAFE_NO_PAD.decode(jwk.y.unwrap()).unwrap());
        let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap();
        let sig = p256::ecdsa::Signature::from_slice(&sig).unwrap();
        vk.verify(b"a.b", &sig).unwrap();
    }

    /// Signs a token through the production JWS functions and verifies it with an
    /// independent library, from the published JWK alone.
    async fn verify_with_jsonwebtoken(signer: &SoftwareSigner, alg: jsonwebtoken::Algorithm) {
        use crate::jws::{compact, signing_input, JwsHeader};
        let key = signer.active_key().await.unwrap();
        let header = JwsHeader {
            alg: key.alg.as_str(),
            kid: key.kid.as_str(),
            typ: "at+jwt",
        };
        let serde_json::Value::Object(claims) = serde_json::json!({"sub": "c", "aud": "a"}) else {
            unreachable!()
        };
        let input = signing_input(&header, &claims).unwrap();
        let token = compact(&input, &signer.sign(&key, input.as_bytes()).await.unwrap());

        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(serde_json::to_value(signer.jwk()).unwrap()).unwrap();
        let decoding = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(alg);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.set_audience(&["a"]);
        let data =
            jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation).unwrap();
        assert_eq!(data.claims["sub"], "c");
        assert_eq!(data.header.kid.as_deref(), Some(key.kid.as_str()));
    }

    #[tokio::test]
    async fn rs256_token_verifies_with_jsonwebtoken() {
        verify_with_jsonwebtoken(&SoftwareSigner::rs256(), jsonwebtoken::Algorithm::RS256).await;
    }

    #[tokio::test]
    async fn es256_token_verifies_with_jsonwebtoken() {
        verify_with_jsonwebtoken(&SoftwareSigner::es256(), jsonwebtoken::Algorithm::ES256).await;
    }

    #[test]
    fn rs256_jwk_matches_private_key() {
        use rsa::pkcs8::DecodePublicKey as _;
        use rsa::traits::PublicKeyParts as _;
        let signer = SoftwareSigner::rs256();
        let public = rsa::RsaPublicKey::from_public_key_der(&signer.public_key_der()).unwrap();
        let jwk = signer.jwk();
        assert_eq!(
            jwk.n,
            Some(URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()))
        );
        assert_eq!(jwk.e.as_deref(), Some("AQAB"));
        assert_eq!(jwk.kid, Some(signer.kid()));
    }

    #[test]
    fn rs256_key_shared_per_process() {
        assert_eq!(SoftwareSigner::rs256().kid(), SoftwareSigner::rs256().kid());
        assert_ne!(
            SoftwareSigner::es256().kid(),
            SoftwareSigner::es256_fresh().kid()
        );
    }

    #[tokio::test]
    async fn unknown_key_refused() {
        let signer = SoftwareSigner::es256();
        let other = SoftwareSigner::es256_fresh().active_key().await.unwrap();
        assert!(signer.sign(&other, b"a.b").await.is_err());
    }

    #[tokio::test]
    async fn oversized_input_refused() {
        let signer = SoftwareSigner::es256();
        let key = signer.active_key().await.unwrap();
        assert!(signer.sign(&key, &[b'a'; 4097]).await.is_err());
        assert!(signer.sign(&key, &[b'a'; 4096]).await.is_ok());
    }

    #[tokio::test]
    async fn failure_switch_fails_then_heals() {
        let signer = SoftwareSigner::es256_fresh();
        let key = signer.active_key().await.unwrap();
        let handle = signer.clone();
        handle.fail(false);
        let err = signer.sign(&key, b"x").await.unwrap_err();
        assert!(!err.is_transient());
        assert!(signer.active_key().await.is_err());
        handle.heal();
        assert!(signer.sign(&key, b"x").await.is_ok());
        assert_eq!(handle.sign_count(), 2);
    }

    #[test]
    fn debug_shows_no_private_key() {
        let s = format!("{:?}", SoftwareSigner::es256());
        assert!(s.contains("kid") && !s.contains("private"));
    }

    #[tokio::test]
    async fn noop_signer_zero_signature() {
        let signer = NoopSigner::new();
        let key = signer.active_key().await.unwrap();
        assert_eq!(key.kid.as_str(), NOOP_KID);
        assert_eq!(signer.sign(&key, b"x").await.unwrap(), vec![0u8; 256]);
        assert_eq!(signer.clone().sign_count(), 1);
    }
}

impl SoftwareSigner {
    /// This signer's key as the registry records it, active since [`super::fixtures::NOW`].
    pub fn signing_key(&self) -> crate::model::SigningKey {
        let jwk = self.jwk();
        crate::model::SigningKey {
            kid: jwk.thumbprint(),
            kms_key_id: HANDLE.to_owned(),
            alg: self.keys().map(|k| k.alg()).unwrap_or(Alg::RS256),
            status: crate::model::KeyStatus::Active,
            public_jwk: jwk,
            created_at: super::fixtures::NOW,
            activated_at: Some(super::fixtures::NOW),
            retired_at: None,
        }
    }
}

/// A key registry that holds a fixed list of keys.
#[derive(Clone, Debug, Default)]
pub struct StaticKeys(pub Vec<crate::model::SigningKey>);

impl crate::keys::KeySource for StaticKeys {
    async fn signing_keys(&self) -> Result<Vec<crate::model::SigningKey>, PortError> {
        Ok(self.0.clone())
    }
}
