//! [`InMemoryDirectory`]: the `Directory` port over hash maps, with a lookup counter,
//! failure switches, and the token reuse cache.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::{lock, Failure};
use crate::error::PortError;
use crate::model::{Api, Client, Grant, TrustRule};
use crate::ports::{Directory, Lookup};
use crate::reuse::{CachedToken, ReuseKey, SealedToken};
use crate::types::{Audience, ClientId, SecretId};

#[derive(Debug, Default)]
struct State {
    apis: HashMap<Audience, Api>,
    clients: HashMap<ClientId, Client>,
    grants: HashMap<(ClientId, Audience), Grant>,
    failure: Option<Failure>,
    record_failure: Option<Failure>,
    recorded: Vec<(ClientId, SecretId, u64)>,
    reuse: HashMap<(ClientId, [u8; 32]), SealedToken>,
    reuse_failure: Option<Failure>,
    reuse_stores: usize,
    rules: HashMap<ClientId, Vec<TrustRule>>,
    jtis: HashMap<(ClientId, String), u64>,
    rule_reads: usize,
    quota_counts: HashMap<(crate::quota::Subject, crate::quota::Window, u64), u64>,
    quota_calls: usize,
    usage: HashMap<(crate::quota::Subject, u64), u64>,
}

/// An in-memory [`Directory`]. Like the DynamoDB adapter's one `BatchGetItem`, a
/// lookup returns client, grant and API independently of one another.
#[derive(Clone, Debug, Default)]
pub struct InMemoryDirectory {
    state: Arc<Mutex<State>>,
    lookups: Arc<AtomicUsize>,
}

impl InMemoryDirectory {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a trust rule to `client_id`.
    pub fn put_trust_rule(&self, client_id: &ClientId, rule: TrustRule) {
        lock(&self.state)
            .rules
            .entry(client_id.clone())
            .or_default()
            .push(rule);
    }

    /// How many times quotas were consumed (calls, counted or refused).
    pub fn quota_calls(&self) -> usize {
        lock(&self.state).quota_calls
    }

    /// The usage recorded for `subject` in the hour starting at `hour`.
    pub fn usage(&self, subject: &crate::quota::Subject, hour: u64) -> u64 {
        lock(&self.state)
            .usage
            .get(&(subject.clone(), hour))
            .copied()
            .unwrap_or(0)
    }

    /// How many times trust rules were read.
    pub fn trust_rule_reads(&self) -> usize {
        lock(&self.state).rule_reads
    }

    /// The `jti`s recorded for `client_id`, with the time each is kept until.
    pub fn claimed_jtis(&self, client_id: &ClientId) -> Vec<(String, u64)> {
        let state = lock(&self.state);
        let mut out: Vec<_> = state
            .jtis
            .iter()
            .filter(|((c, _), _)| c == client_id)
            .map(|((_, j), t)| (j.clone(), *t))
            .collect();
        out.sort();
        out
    }

    /// Adds (or replaces) an API; builder style.
    pub fn with_api(self, api: Api) -> Self {
        self.put_api(api);
        self
    }

    /// Adds (or replaces) a client; builder style.
    pub fn with_client(self, client: Client) -> Self {
        self.put_client(client);
        self
    }

    /// Adds (or replaces) a grant; builder style.
    pub fn with_grant(self, grant: Grant) -> Self {
        self.put_grant(grant);
        self
    }

    /// Adds (or replaces) an API.
    pub fn put_api(&self, api: Api) {
        lock(&self.state).apis.insert(api.identifier.clone(), api);
    }

    /// Adds (or replaces) a client.
    pub fn put_client(&self, client: Client) {
        lock(&self.state).clients.insert(client.id.clone(), client);
    }

    /// Adds (or replaces) a grant.
    pub fn put_grant(&self, grant: Grant) {
        let key = (grant.client_id.clone(), grant.audience.clone());
        lock(&self.state).grants.insert(key, grant);
    }

    /// Removes an API; returns it if it was there.
    pub fn remove_api(&self, identifier: &Audience) -> Option<Api> {
        lock(&self.state).apis.remove(identifier)
    }

    /// Removes a client (not its grants); returns it if it was there.
    pub fn remove_client(&self, id: &ClientId) -> Option<Client> {
        lock(&self.state).clients.remove(id)
    }

    /// Removes a grant; returns it if it was there.
    pub fn remove_grant(&self, client_id: &ClientId, audience: &Audience) -> Option<Grant> {
        lock(&self.state)
            .grants
            .remove(&(client_id.clone(), audience.clone()))
    }

    /// A copy of a stored client, to inspect what the code under test left there.
    pub fn client(&self, id: &ClientId) -> Option<Client> {
        lock(&self.state).clients.get(id).cloned()
    }

    /// Changes a stored client in place; false when there is no such client.
    pub fn update_client(&self, id: &ClientId, change: impl FnOnce(&mut Client)) -> bool {
        match lock(&self.state).clients.get_mut(id) {
            Some(c) => {
                change(c);
                true
            }
            None => false,
        }
    }

    /// How many lookups were made (failed ones included).
    pub fn lookup_count(&self) -> usize {
        self.lookups.load(Ordering::SeqCst)
    }

    /// From now on, every call (lookups and `record_secret_use`) fails with
    /// `failure`; `None` turns this switch off.
    pub fn fail_with(&self, failure: Option<Failure>) {
        lock(&self.state).failure = failure;
    }

    /// From now on, every call fails (throttled → 503, otherwise → 500).
    pub fn fail(&self, throttled: bool) {
        let failure = if throttled {
            Failure::throttled("directory throttled (injected)")
        } else {
            Failure::error("directory unavailable (injected)")
        };
        self.fail_with(Some(failure));
    }

    /// Every call succeeds again (both switches off).
    pub fn heal(&self) {
        let mut state = lock(&self.state);
        state.failure = None;
        state.record_failure = None;
        state.reuse_failure = None;
    }

    /// From now on only `record_secret_use` fails with `failure` (lookups still
    /// work): the request must succeed anyway. `None` heals it.
    pub fn fail_record_use_with(&self, failure: Option<Failure>) {
        lock(&self.state).record_failure = failure;
    }

    /// The token kept for reuse under `key` for `client_id`, opened with `key`, if any.
    pub fn reuse_entry(&self, client_id: &ClientId, key: &ReuseKey) -> Option<CachedToken> {
        self.sealed_entry(client_id, key)
            .and_then(|sealed| key.open(client_id, &sealed))
    }

    /// The sealed item kept under `key` for `client_id`, as the store holds it.
    pub fn sealed_entry(&self, client_id: &ClientId, key: &ReuseKey) -> Option<SealedToken> {
        lock(&self.state)
            .reuse
            .get(&(client_id.clone(), key.digest()))
            .cloned()
    }

    /// Every sealed item kept, as a reader of the store would see them.
    pub fn sealed_entries(&self) -> Vec<SealedToken> {
        lock(&self.state).reuse.values().cloned().collect()
    }

    /// Replaces the stored item under `key` for `client_id` (tests tamper with it).
    pub fn put_sealed(&self, client_id: &ClientId, key: &ReuseKey, sealed: SealedToken) {
        lock(&self.state)
            .reuse
            .insert((client_id.clone(), key.digest()), sealed);
    }

    /// How many tokens were stored for reuse (failed attempts included).
    pub fn reuse_store_count(&self) -> usize {
        lock(&self.state).reuse_stores
    }

    /// Forgets every token kept for reuse.
    pub fn clear_reuse(&self) {
        lock(&self.state).reuse.clear();
    }

    /// From now on only `store_reuse` fails with `failure`: the request must succeed
    /// anyway. `None` heals it.
    pub fn fail_store_reuse_with(&self, failure: Option<Failure>) {
        lock(&self.state).reuse_failure = failure;
    }

    /// Every `record_secret_use` call so far, in order: `(client, secret, now)`.
    pub fn recorded_uses(&self) -> Vec<(ClientId, SecretId, u64)> {
        lock(&self.state).recorded.clone()
    }
}

impl Directory for InMemoryDirectory {
    async fn lookup(&self, client_id: &ClientId, audience: &Audience) -> Result<Lookup, PortError> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        let state = lock(&self.state);
        if let Some(f) = &state.failure {
            return Err(f.to_port_error());
        }
        Ok(Lookup {
            client: state.clients.get(client_id).cloned(),
            grant: state
                .grants
                .get(&(client_id.clone(), audience.clone()))
                .cloned(),
            api: state.apis.get(audience).cloned(),
            reuse: None,
        })
    }

    async fn lookup_with_reuse(
        &self,
        client_id: &ClientId,
        audience: &Audience,
        key: &ReuseKey,
    ) -> Result<Lookup, PortError> {
        let mut lookup = self.lookup(client_id, audience).await?;
        lookup.reuse = self.sealed_entry(client_id, key);
        Ok(lookup)
    }

    async fn store_reuse(
        &self,
        client_id: &ClientId,
        key: &ReuseKey,
        token: &SealedToken,
    ) -> Result<(), PortError> {
        let mut state = lock(&self.state);
        state.reuse_stores += 1;
        if let Some(f) = state.failure.as_ref().or(state.reuse_failure.as_ref()) {
            return Err(f.to_port_error());
        }
        state
            .reuse
            .insert((client_id.clone(), key.digest()), token.clone());
        Ok(())
    }

    async fn record_secret_use(
        &self,
        client_id: &ClientId,
        secret_id: &SecretId,
        now: u64,
    ) -> Result<(), PortError> {
        let mut state = lock(&self.state);
        state
            .recorded
            .push((client_id.clone(), secret_id.clone(), now));
        if let Some(f) = state.failure.as_ref().or(state.record_failure.as_ref()) {
            return Err(f.to_port_error());
        }
        // Like the adapter's UpdateItem: only `last_used_at` changes, not `version`.
        let secret = state
            .clients
            .get_mut(client_id)
            .and_then(|c| c.secrets.iter_mut().find(|s| &s.id == secret_id))
            .ok_or_else(|| {
                PortError::refused(format!("no secret {secret_id} on client {client_id}"))
            })?;
        secret.last_used_at = Some(now);
        Ok(())
    }

    async fn trust_rules(
        &self,
        client_id: &ClientId,
        issuer: &str,
    ) -> Result<Vec<TrustRule>, PortError> {
        let mut state = lock(&self.state);
        state.rule_reads += 1;
        if let Some(f) = &state.failure {
            return Err(f.to_port_error());
        }
        Ok(state
            .rules
            .get(client_id)
            .map(|rules| {
                rules
                    .iter()
                    .filter(|r| r.issuer == issuer)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn claim_jti(
        &self,
        client_id: &ClientId,
        jti: &str,
        expires_at: u64,
    ) -> Result<bool, PortError> {
        let mut state = lock(&self.state);
        if let Some(f) = &state.failure {
            return Err(f.to_port_error());
        }
        let key = (client_id.clone(), jti.to_owned());
        if state.jtis.contains_key(&key) {
            return Ok(false);
        }
        state.jtis.insert(key, expires_at);
        Ok(true)
    }

    async fn consume_quota(
        &self,
        counters: &[crate::quota::Counter],
        now: u64,
    ) -> Result<Result<(), u64>, PortError> {
        let mut state = lock(&self.state);
        state.quota_calls += 1;
        if let Some(f) = &state.failure {
            return Err(f.to_port_error());
        }
        let key = |c: &crate::quota::Counter| (c.subject.clone(), c.window, c.window_start);
        let full: Vec<&crate::quota::Counter> = counters
            .iter()
            .filter(|c| state.quota_counts.get(&key(c)).copied().unwrap_or(0) >= c.limit)
            .collect();
        if !full.is_empty() {
            return Ok(Err(crate::quota::retry_after(&full, now)));
        }
        for c in counters {
            *state.quota_counts.entry(key(c)).or_default() += 1;
        }
        Ok(Ok(()))
    }

    async fn record_usage(
        &self,
        counts: &[(crate::quota::Subject, u64, u64)],
    ) -> Result<(), PortError> {
        let mut state = lock(&self.state);
        if let Some(f) = &state.failure {
            return Err(f.to_port_error());
        }
        for (subject, hour, n) in counts {
            *state.usage.entry((subject.clone(), *hour)).or_default() += n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fixtures::{self, API, CLIENT_ID, CLIENT_SECRET};

    fn directory() -> InMemoryDirectory {
        InMemoryDirectory::new()
            .with_api(fixtures::api(API, &["read", "write"]))
            .with_client(fixtures::client(CLIENT_ID, CLIENT_SECRET))
            .with_grant(fixtures::grant(CLIENT_ID, API, &["read"]))
    }

    #[tokio::test]
    async fn lookup_returns_all_three() {
        let d = directory();
        let l = d
            .lookup(&ClientId::new(CLIENT_ID), &Audience::new(API))
            .await
            .unwrap();
        assert_eq!(l.client.unwrap().id.as_str(), CLIENT_ID);
        assert_eq!(l.grant.unwrap().scopes.to_wire(), "read");
        assert_eq!(l.api.unwrap().scopes.to_wire(), "read write");
        assert_eq!(d.lookup_count(), 1);
    }

    #[tokio::test]
    async fn unknown_client_known_api_partial() {
        let d = directory();
        let l = d
            .lookup(&ClientId::new("nobody"), &Audience::new(API))
            .await
            .unwrap();
        assert!(l.client.is_none() && l.grant.is_none());
        assert!(l.api.is_some());
    }

    #[tokio::test]
    async fn failure_switch_fails_then_heals() {
        let d = directory();
        let shared = d.clone();
        shared.fail(true);
        let err = d
            .lookup(&ClientId::new(CLIENT_ID), &Audience::new(API))
            .await
            .unwrap_err();
        assert!(err.is_transient());
        shared.heal();
        assert!(d
            .lookup(&ClientId::new(CLIENT_ID), &Audience::new(API))
            .await
            .is_ok());
        assert_eq!(shared.lookup_count(), 2);
    }

    #[tokio::test]
    async fn remove_grant_then_lookup_none() {
        let d = directory();
        assert!(d
            .remove_grant(&ClientId::new(CLIENT_ID), &Audience::new(API))
            .is_some());
        let l = d
            .lookup(&ClientId::new(CLIENT_ID), &Audience::new(API))
            .await
            .unwrap();
        assert!(l.grant.is_none() && l.client.is_some());
    }

    #[tokio::test]
    async fn record_secret_use_sets_last_used_keeps_version() {
        let d = directory();
        let id = ClientId::new(CLIENT_ID);
        let before = d.client(&id).unwrap();
        let secret_id = before.secrets[0].id.clone();
        d.record_secret_use(&id, &secret_id, 42).await.unwrap();
        let after = d.client(&id).unwrap();
        assert_eq!(after.secrets[0].last_used_at, Some(42));
        assert_eq!(after.version, before.version);
        assert_eq!(d.recorded_uses(), vec![(id.clone(), secret_id.clone(), 42)]);
        assert!(d
            .record_secret_use(&id, &SecretId::new("nope"), 43)
            .await
            .is_err());
    }

    #[tokio::test]
    async fn record_failure_switch_leaves_lookup_working() {
        let d = directory();
        let id = ClientId::new(CLIENT_ID);
        d.fail_record_use_with(Some(Failure::error("boom")));
        let secret_id = d.client(&id).unwrap().secrets[0].id.clone();
        assert!(d.record_secret_use(&id, &secret_id, 1).await.is_err());
        assert!(d.lookup(&id, &Audience::new(API)).await.is_ok());
        d.heal();
        assert!(d.record_secret_use(&id, &secret_id, 1).await.is_ok());
    }

    #[test]
    fn update_client_changes_stored_copy() {
        let d = directory();
        let id = ClientId::new(CLIENT_ID);
        assert!(d.update_client(&id, |c| c.name = "renamed".into()));
        assert_eq!(d.client(&id).unwrap().name, "renamed");
        assert!(!d.update_client(&ClientId::new("nobody"), |_| {}));
    }
}
