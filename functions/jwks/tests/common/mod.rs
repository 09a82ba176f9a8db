//! Shared test support: an in-memory key registry that counts its reads, and
//! signing-key records.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use lambda_http::{Body, Response};
use m2m_core::error::PortError;
use m2m_core::jwk::Jwk;
use m2m_core::keys::KeySource;
use m2m_core::model::{Alg, KeyStatus, SigningKey};
use serde_json::Value;

/// The response body as JSON.
pub fn body_json(r: &Response<Body>) -> Value {
    serde_json::from_slice(r.body().as_ref()).unwrap()
}

/// A registry key with `jwk` in state `status`.
pub fn key(jwk: &Jwk, status: KeyStatus, created_at: u64, retired_at: Option<u64>) -> SigningKey {
    SigningKey {
        kid: jwk.kid.clone().unwrap(),
        kms_key_id: format!("kms-{}", jwk.kid.as_ref().unwrap()),
        alg: jwk.algorithm().unwrap_or(Alg::RS256),
        status,
        public_jwk: jwk.clone(),
        created_at,
        activated_at: (status != KeyStatus::Pending).then_some(created_at),
        retired_at,
    }
}

/// An in-memory [`KeySource`] that counts reads and can be made to fail.
#[derive(Debug, Default)]
pub struct FakeKeys {
    keys: Mutex<Vec<SigningKey>>,
    reads: AtomicUsize,
    failure: Mutex<Option<bool>>,
}

impl FakeKeys {
    pub fn new(keys: Vec<SigningKey>) -> Self {
        Self {
            keys: Mutex::new(keys),
            ..Self::default()
        }
    }

    pub fn set(&self, keys: Vec<SigningKey>) {
        *self.keys.lock().unwrap() = keys;
    }

    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }

    /// Makes reads fail (`Some(throttled)`) or succeed (`None`).
    pub fn fail(&self, failure: Option<bool>) {
        *self.failure.lock().unwrap() = failure;
    }
}

impl KeySource for FakeKeys {
    async fn signing_keys(&self) -> Result<Vec<SigningKey>, PortError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        match *self.failure.lock().unwrap() {
            Some(true) => Err(PortError::throttled("fake registry throttled")),
            Some(false) => Err(PortError::unavailable("fake registry down")),
            None => Ok(self.keys.lock().unwrap().clone()),
        }
    }
}
