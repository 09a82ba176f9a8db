//! [`FakeHook`]: a scripted `ClaimsHook` that records what it was sent.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value};

use super::{lock, Failure};
use crate::error::PortError;
use crate::hook::{HookDeny, HookRequest, HookResponse};
use crate::ports::ClaimsHook;

/// What the fake hook does when called.
#[derive(Clone, Debug)]
enum Outcome {
    Answer(HookResponse),
    Fail(Failure),
    Timeout,
    RawJson(String),
}

/// A [`ClaimsHook`] with a fixed outcome: an answer, an error, a timeout, or raw JSON
/// parsed strictly like the Lambda adapter does (failing closed when malformed). It
/// counts calls and keeps the last request. Clones share the counter and the record.
#[derive(Clone, Debug)]
pub struct FakeHook {
    outcome: Outcome,
    delay: Option<Duration>,
    calls: Arc<AtomicUsize>,
    last: Arc<Mutex<Option<HookRequest>>>,
    identity: String,
    allowed: Vec<String>,
}

impl Default for FakeHook {
    /// A hook that adds nothing.
    fn default() -> Self {
        Self::answer(HookResponse::default())
    }
}

impl FakeHook {
    fn with(outcome: Outcome) -> Self {
        Self {
            outcome,
            delay: None,
            calls: Arc::default(),
            last: Arc::default(),
            identity: "fake-hook\n0".to_owned(),
            allowed: Vec::new(),
        }
    }

    /// Answers `response` to every call.
    pub fn answer(response: HookResponse) -> Self {
        Self::with(Outcome::Answer(response))
    }

    /// Adds `claims` (a JSON object; anything else adds nothing).
    pub fn claims(claims: Value) -> Self {
        let claims = match claims {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        Self::answer(HookResponse {
            claims,
            ..HookResponse::default()
        })
    }

    /// Narrows the scopes to `scopes`.
    pub fn narrow(scopes: &[&str]) -> Self {
        Self::answer(HookResponse {
            scopes: Some(scopes.iter().map(|s| (*s).to_owned()).collect()),
            ..HookResponse::default()
        })
    }

    /// Denies every token with `description`.
    pub fn deny(description: impl Into<String>) -> Self {
        Self::answer(HookResponse {
            deny: Some(HookDeny {
                error_description: description.into(),
            }),
            ..HookResponse::default()
        })
    }

    /// Fails every call with a `PortError` carrying `message` (→ 500).
    pub fn error(message: impl Into<String>) -> Self {
        Self::with(Outcome::Fail(Failure::error(message)))
    }

    /// Fails every call as throttled (→ 503).
    pub fn throttled(message: impl Into<String>) -> Self {
        Self::with(Outcome::Fail(Failure::throttled(message)))
    }

    /// Fails every call with [`FakeHook::TIMEOUT_MESSAGE`], as the adapter reports a
    /// hook that exceeded `M2M_HOOK_TIMEOUT_MS`. Returns at once (no real wait).
    pub fn timeout() -> Self {
        Self::with(Outcome::Timeout)
    }

    /// Answers `json`, parsed with [`HookResponse::from_json`] at call time; malformed
    /// JSON is a `PortError` (fail closed).
    pub fn raw_json(json: &str) -> Self {
        Self::with(Outcome::RawJson(json.to_owned()))
    }

    /// Waits `delay` (tokio time) before answering, to test the caller's own timeout.
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Sets the identity ([`ClaimsHook::identity`]: function and epoch).
    pub fn with_identity(mut self, identity: &str) -> Self {
        identity.clone_into(&mut self.identity);
        self
    }

    /// Sets the operator's allowlist of plain claim names.
    pub fn with_allowed_claims(mut self, names: &[&str]) -> Self {
        self.allowed = names.iter().map(|n| (*n).to_owned()).collect();
        self
    }

    /// The message of [`FakeHook::timeout`]'s error.
    pub const TIMEOUT_MESSAGE: &'static str = "claims hook timed out";

    /// How many times the hook was called.
    pub fn call_count(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// The last request the hook received.
    pub fn last_request(&self) -> Option<HookRequest> {
        lock(&self.last).clone()
    }
}

impl ClaimsHook for FakeHook {
    async fn call(&self, request: &HookRequest) -> Result<HookResponse, PortError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        *lock(&self.last) = Some(request.clone());
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        match &self.outcome {
            Outcome::Answer(r) => Ok(r.clone()),
            Outcome::Fail(f) => Err(f.to_port_error()),
            Outcome::Timeout => Err(PortError::refused(Self::TIMEOUT_MESSAGE)),
            Outcome::RawJson(json) => HookResponse::from_json(json.as_bytes()).map_err(|e| {
                PortError::malformed("claims hook answered malformed JSON").with_source(e)
            }),
        }
    }

    fn identity(&self) -> &str {
        &self.identity
    }

    fn allowed_claims(&self) -> &[String] {
        &self.allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hook::{HookClient, HOOK_VERSION};
    use serde_json::json;

    fn request() -> HookRequest {
        HookRequest {
            version: HOOK_VERSION.into(),
            client: HookClient {
                id: "c".into(),
                name: "C".into(),
                org_id: None,
                metadata: Default::default(),
            },
            audience: "https://api".into(),
            scopes: vec!["read".into()],
            claims: Map::new(),
        }
    }

    #[tokio::test]
    async fn answer_returned_and_request_recorded() {
        let hook = FakeHook::claims(json!({"tier": "gold"}));
        let r = hook.call(&request()).await.unwrap();
        assert_eq!(r.claims["tier"], "gold");
        assert_eq!(hook.call_count(), 1);
        assert_eq!(hook.clone().last_request(), Some(request()));
    }

    #[tokio::test]
    async fn deny_answered() {
        let r = FakeHook::deny("nope").call(&request()).await.unwrap();
        assert_eq!(r.deny.unwrap().error_description, "nope");
    }

    #[tokio::test]
    async fn timeout_is_port_error() {
        let err = FakeHook::timeout().call(&request()).await.unwrap_err();
        assert_eq!(err.message(), FakeHook::TIMEOUT_MESSAGE);
    }

    #[tokio::test]
    async fn throttled_error_flagged() {
        assert!(FakeHook::throttled("busy")
            .call(&request())
            .await
            .unwrap_err()
            .is_transient());
        assert!(!FakeHook::error("boom")
            .call(&request())
            .await
            .unwrap_err()
            .is_transient());
    }

    #[tokio::test]
    async fn raw_json_valid_parsed() {
        let hook = FakeHook::raw_json(r#"{"claims":{"a":1},"scopes":["read"]}"#);
        let r = hook.call(&request()).await.unwrap();
        assert_eq!(r.scopes, Some(vec!["read".to_owned()]));
    }

    #[tokio::test]
    async fn raw_json_malformed_fails_closed() {
        for bad in [
            "",
            "not json",
            "[]",
            r#"{"claims":{},"extra":1}"#,
            r#"{"claims":[1]}"#,
        ] {
            assert!(
                FakeHook::raw_json(bad).call(&request()).await.is_err(),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn delayed_hook_waits() {
        let hook = FakeHook::default().delayed(Duration::from_millis(20));
        let start = std::time::Instant::now();
        hook.call(&request()).await.unwrap();
        assert!(start.elapsed() >= Duration::from_millis(20));
    }
}
