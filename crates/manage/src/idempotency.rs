//! Idempotent creation (the `Idempotency-Key` request header of the IETF
//! draft "The Idempotency-Key HTTP Header Field"): a creating call retried with the
//! same key and the same request creates nothing more and answers with what the first
//! call created; the same key with a different request is refused.
//!
//! The first request claims the key in the store before creating, so two concurrent
//! retries cannot both create. The record keeps what was created (an identifier), never
//! the response: a client secret is shown once and never stored, so a replay answers
//! without it. A claim whose request died before completing is taken over once it is
//! older than [`STALE_AFTER`], longer than any request may run.

use std::future::Future;

use sha2::{Digest as _, Sha256};

use crate::error::ManageError;
use crate::store::{AdminStore, Claim, IdempotencyClaim};

/// How long a completed key is remembered, seconds.
pub const KEEP_FOR: u64 = 24 * 3600;
/// After how long an uncompleted claim is presumed dead, seconds (the management
/// function's timeout is 30 s).
pub const STALE_AFTER: u64 = 60;
/// Longest idempotency key accepted, characters.
pub const MAX_KEY_LEN: usize = 255;

/// An idempotency key presented by a caller with a creating request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotentRequest {
    /// Hex SHA-256 of the caller's principal and key.
    key: String,
    /// Hex SHA-256 of the request.
    fingerprint: String,
}

impl IdempotentRequest {
    /// The request with `key` from `principal`: `request` is what identifies it
    /// (method, path and body). Keys are 1 to [`MAX_KEY_LEN`] visible ASCII characters.
    ///
    /// # Errors
    /// [`ManageError::Invalid`] for a malformed key.
    pub fn new(principal: &str, key: &str, request: &[&[u8]]) -> Result<Self, ManageError> {
        if key.is_empty()
            || key.len() > MAX_KEY_LEN
            || !key.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        {
            return Err(ManageError::Invalid(format!(
                "the idempotency key must be 1 to {MAX_KEY_LEN} visible ASCII characters"
            )));
        }
        Ok(Self {
            key: digest(&[principal.as_bytes(), key.as_bytes()]),
            fingerprint: digest(request),
        })
    }
}

/// Hex SHA-256 of `parts`, each length-prefixed so no two splits collide.
fn digest(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// What an idempotent creation produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome<T> {
    /// Created now.
    Created(T),
    /// Created by an earlier request with the same key: what it created.
    Replayed(String),
}

/// Runs `create` at most once per idempotency key: with no key, simply runs it; with
/// one, claims it first, and on success records `id_of` what was created.
///
/// # Errors
/// [`ManageError::IdempotencyKeyReused`], [`ManageError::IdempotencyInProgress`], or
/// what `create` returns (the claim is then released, so a retry may try again).
pub async fn once<S, T, F, Fut>(
    store: &S,
    request: Option<&IdempotentRequest>,
    now: u64,
    id_of: impl FnOnce(&T) -> String,
    create: F,
) -> Result<Outcome<T>, ManageError>
where
    S: AdminStore,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, ManageError>>,
{
    let Some(req) = request else {
        return create().await.map(Outcome::Created);
    };
    let claim = IdempotencyClaim {
        key: req.key.clone(),
        fingerprint: req.fingerprint.clone(),
        now,
        stale_before: now.saturating_sub(STALE_AFTER),
        expires_at: now.saturating_add(KEEP_FOR),
    };
    match store.claim_idempotency(&claim).await? {
        Claim::Claimed => {}
        Claim::Held { fingerprint, .. } if fingerprint != req.fingerprint => {
            return Err(ManageError::IdempotencyKeyReused)
        }
        Claim::Held {
            result: Some(id), ..
        } => return Ok(Outcome::Replayed(id)),
        Claim::Held { result: None, .. } => return Err(ManageError::IdempotencyInProgress),
    }
    match create().await {
        Ok(v) => {
            // The creation stands even if recording it fails; a retry then finds the
            // claim uncompleted and waits for it to go stale.
            let _ = store
                .complete_idempotency(&req.key, &req.fingerprint, &id_of(&v))
                .await;
            Ok(Outcome::Created(v))
        }
        Err(e) => {
            let _ = store.release_idempotency(&req.key, &req.fingerprint).await;
            Err(e)
        }
    }
}
