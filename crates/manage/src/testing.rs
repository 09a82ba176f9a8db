//! In-memory fakes of the [`AdminStore`] and [`KeyVault`] ports, keeping the same
//! conditional-write contract as the DynamoDB adapter, with conflicts that tests can
//! inject to play a concurrent writer. Revocation entries, organization records and
//! usage counts live in [`control`].

mod control;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use m2m_core::error::PortError;
use m2m_core::model::{Alg, Api, Client, Grant, KeyStatus, SigningKey, TrustRule};
use m2m_core::quota::Subject;
use m2m_core::revocation::Revocation;
use m2m_core::testing::SoftwareSigner;
use m2m_core::types::{Audience, ClientId, Kid, OrgId};

use crate::keys::{KeyVault, VaultKey};
use crate::orgs::Org;
use crate::store::{
    AdminStore, Claim, ClientFilter, Cursor, IdempotencyClaim, Page, StoreError, Versioned,
    MAX_PAGE, MAX_RULES_PER_WRITE,
};

/// A trust rule's place in the store: client, issuer, rule id (the order of listings).
type RuleKey = (ClientId, String, String);

/// Separates the parts of an in-memory rule cursor.
const SEP: char = '\u{1f}';

#[derive(Clone, Debug)]
struct Record {
    fingerprint: String,
    claimed_at: u64,
    expires_at: u64,
    result: Option<String>,
}

#[derive(Debug, Default)]
struct State {
    apis: BTreeMap<Audience, Versioned<Api>>,
    clients: BTreeMap<ClientId, Client>,
    grants: BTreeMap<(ClientId, Audience), Grant>,
    rules: BTreeMap<RuleKey, TrustRule>,
    keys: Vec<SigningKey>,
    idempotency: BTreeMap<String, Record>,
    /// Revocation entries by key (`CLIENT#<id>`, `JTI#<digest>`).
    revocations: BTreeMap<String, Revocation>,
    orgs: BTreeMap<OrgId, Versioned<Org>>,
    usage: BTreeMap<(Subject, u64), u64>,
    conflicts: usize,
    /// A concurrent change to make just before a coming write: (writes to let pass
    /// first, the change).
    touch: Option<(usize, Touch)>,
    writes: usize,
    unavailable: bool,
}

/// A change another writer makes, bumping an item's version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Touch {
    /// The client's version.
    Client(ClientId),
    /// The organization record's version.
    Org(OrgId),
}

/// An [`AdminStore`] in memory.
#[derive(Debug, Default)]
pub struct InMemoryAdminStore {
    state: Mutex<State>,
}

fn conflict(what: impl std::fmt::Display) -> StoreError {
    StoreError::Conflict(what.to_string())
}

impl InMemoryAdminStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Makes the next `n` writes fail with a conflict and change nothing, as if another
    /// writer had changed the item between read and write.
    pub fn inject_conflicts(&self, n: usize) {
        self.state().conflicts = n;
    }

    /// Makes `touch` happen just before write attempt number `nth` (1: the next one)
    /// from now on, as another writer changing the item between a read and that write
    /// would.
    pub fn touch_before_write(&self, nth: usize, touch: Touch) {
        self.state().touch = Some((nth.max(1), touch));
    }

    /// Makes every read and write fail as an unreachable backend would, or work again.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.state().unavailable = unavailable;
    }

    fn reachable(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        let st = self.state();
        if st.unavailable {
            return Err(StoreError::Port(PortError::unavailable(
                "the in-memory store is set unavailable",
            )));
        }
        Ok(st)
    }

    /// Writes that succeeded so far.
    pub fn writes(&self) -> usize {
        self.state().writes
    }

    /// Bumps client `id`'s version without changing it, as a concurrent writer would.
    pub fn touch_client(&self, id: &ClientId) {
        if let Some(c) = self.state().clients.get_mut(id) {
            c.version += 1;
        }
    }

    /// Every stored client (for assertions).
    pub fn clients(&self) -> Vec<Client> {
        self.state().clients.values().cloned().collect()
    }

    /// Every revocation entry recorded, in key order (for assertions).
    pub fn revocations(&self) -> Vec<Revocation> {
        self.state().revocations.values().cloned().collect()
    }

    /// Every organization record with its version (for assertions).
    pub fn orgs(&self) -> Vec<Versioned<Org>> {
        self.state().orgs.values().cloned().collect()
    }

    /// Bumps organization `id`'s record version without changing it, as a concurrent
    /// writer would.
    pub fn touch_org(&self, id: &OrgId) {
        if let Some(o) = self.state().orgs.get_mut(id) {
            o.version += 1;
        }
    }

    /// Adds `count` to `subject`'s usage in the hour starting at `hour`, as the token
    /// endpoint does.
    pub fn add_usage(&self, subject: &Subject, hour: u64, count: u64) {
        *self
            .state()
            .usage
            .entry((subject.clone(), hour))
            .or_default() += count;
    }

    /// Every stored grant (for assertions).
    pub fn all_grants(&self) -> Vec<Grant> {
        self.state().grants.values().cloned().collect()
    }

    /// Every stored trust rule with its client (for assertions).
    pub fn all_trust_rules(&self) -> Vec<(ClientId, TrustRule)> {
        self.state()
            .rules
            .iter()
            .map(|((c, _, _), r)| (c.clone(), r.clone()))
            .collect()
    }
}

fn rule_key(client: &ClientId, rule: &TrustRule) -> RuleKey {
    (client.clone(), rule.issuer.clone(), rule.id.clone())
}

/// Runs a write against the state: refused while injected conflicts remain.
fn write<T>(
    store: &InMemoryAdminStore,
    f: impl FnOnce(&mut State) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let mut st = store.reachable()?;
    match st.touch.take() {
        Some((1, Touch::Client(id))) => bump_client(&mut st, &id),
        Some((1, Touch::Org(id))) => {
            if let Some(o) = st.orgs.get_mut(&id) {
                o.version += 1;
            }
        }
        Some((n, t)) => st.touch = Some((n - 1, t)),
        None => {}
    }
    if st.conflicts > 0 {
        st.conflicts -= 1;
        return Err(conflict("an injected concurrent change"));
    }
    let out = f(&mut st)?;
    st.writes += 1;
    Ok(out)
}

fn check_client(st: &State, id: &ClientId, expected: u64) -> Result<(), StoreError> {
    match st.clients.get(id) {
        Some(c) if c.version == expected => Ok(()),
        _ => Err(conflict(format!("client {id}"))),
    }
}

fn check_api(st: &State, id: &Audience, expected: u64) -> Result<(), StoreError> {
    match st.apis.get(id) {
        Some(a) if a.version == expected => Ok(()),
        _ => Err(conflict(format!("API {id}"))),
    }
}

fn bump_client(st: &mut State, id: &ClientId) {
    if let Some(c) = st.clients.get_mut(id) {
        c.version += 1;
    }
}

fn bump_api(st: &mut State, id: &Audience) {
    if let Some(a) = st.apis.get_mut(id) {
        a.version += 1;
    }
}

fn create(st: &mut State, client: &Client, grants: &[(Grant, u64)]) -> Result<(), StoreError> {
    if st.clients.contains_key(&client.id) {
        return Err(conflict(format!("client {}", client.id)));
    }
    for (g, v) in grants {
        check_api(st, &g.audience, *v)?;
    }
    st.clients.insert(client.id.clone(), client.clone());
    for (g, _) in grants {
        st.grants
            .insert((g.client_id.clone(), g.audience.clone()), g.clone());
        bump_api(st, &g.audience);
    }
    Ok(())
}

fn set_status<'a>(
    st: &'a mut State,
    kid: &Kid,
    from: KeyStatus,
) -> Result<&'a mut SigningKey, StoreError> {
    match st.keys.iter_mut().find(|k| &k.kid == kid) {
        Some(k) if k.status == from => Ok(k),
        _ => Err(conflict(format!("signing key {kid}"))),
    }
}

impl AdminStore for InMemoryAdminStore {
    async fn get_api(&self, identifier: &Audience) -> Result<Option<Versioned<Api>>, StoreError> {
        Ok(self.reachable()?.apis.get(identifier).cloned())
    }

    async fn list_apis(&self) -> Result<Vec<Versioned<Api>>, StoreError> {
        Ok(self.reachable()?.apis.values().cloned().collect())
    }

    async fn create_api(&self, api: &Api) -> Result<(), StoreError> {
        write(self, |st| {
            if st.apis.contains_key(&api.identifier) {
                return Err(conflict(format!("API {}", api.identifier)));
            }
            st.apis.insert(
                api.identifier.clone(),
                Versioned {
                    value: api.clone(),
                    version: 1,
                },
            );
            Ok(())
        })
    }

    async fn replace_api(&self, api: &Api, expected: u64) -> Result<(), StoreError> {
        write(self, |st| {
            check_api(st, &api.identifier, expected)?;
            st.apis.insert(
                api.identifier.clone(),
                Versioned {
                    value: api.clone(),
                    version: expected + 1,
                },
            );
            Ok(())
        })
    }

    async fn replace_api_with_grants(
        &self,
        api: &Api,
        expected: u64,
        grants: &[Grant],
    ) -> Result<(), StoreError> {
        write(self, |st| {
            check_api(st, &api.identifier, expected)?;
            for g in grants {
                if !st
                    .grants
                    .contains_key(&(g.client_id.clone(), g.audience.clone()))
                {
                    return Err(conflict(format!("grant {} {}", g.client_id, g.audience)));
                }
            }
            for g in grants {
                st.grants
                    .insert((g.client_id.clone(), g.audience.clone()), g.clone());
                bump_client(st, &g.client_id);
            }
            st.apis.insert(
                api.identifier.clone(),
                Versioned {
                    value: api.clone(),
                    version: expected + 1,
                },
            );
            Ok(())
        })
    }

    async fn grants_for_api(&self, identifier: &Audience) -> Result<Vec<Grant>, StoreError> {
        let mut grants: Vec<Grant> = self
            .state()
            .grants
            .values()
            .filter(|g| &g.audience == identifier)
            .cloned()
            .collect();
        grants.sort_by(|a, b| a.client_id.as_str().cmp(b.client_id.as_str()));
        Ok(grants)
    }

    async fn delete_api(
        &self,
        identifier: &Audience,
        expected: u64,
        grants: &[Grant],
    ) -> Result<(), StoreError> {
        write(self, |st| {
            check_api(st, identifier, expected)?;
            let held = st
                .grants
                .values()
                .filter(|g| &g.audience == identifier)
                .count();
            if held != grants.len() {
                return Err(conflict(format!("API {identifier}")));
            }
            for g in grants {
                st.grants.remove(&(g.client_id.clone(), g.audience.clone()));
                bump_client(st, &g.client_id);
            }
            st.apis.remove(identifier);
            Ok(())
        })
    }

    async fn get_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        Ok(self.reachable()?.clients.get(id).cloned())
    }

    async fn client_grants(&self, id: &ClientId) -> Result<Vec<Grant>, StoreError> {
        Ok(self
            .state()
            .grants
            .values()
            .filter(|g| &g.client_id == id)
            .cloned()
            .collect())
    }

    async fn list_clients(
        &self,
        filter: &ClientFilter,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<Client>, StoreError> {
        let tag = filter.org.as_ref().map_or("*", |o| o.as_str()).to_owned();
        let start = match after {
            None => None,
            Some(Cursor(c)) => match c.split_once('|') {
                Some((t, id)) if t == tag => Some(ClientId::new(id)),
                _ => return Err(StoreError::InvalidCursor),
            },
        };
        let limit = limit.clamp(1, MAX_PAGE);
        let st = self.reachable()?;
        let matching: Vec<&Client> = st
            .clients
            .values()
            .filter(|c| filter.org.is_none() || c.org_id == filter.org)
            .filter(|c| start.as_ref().is_none_or(|s| c.id.as_str() > s.as_str()))
            .collect();
        let items: Vec<Client> = matching.iter().take(limit).map(|c| (*c).clone()).collect();
        let next = (matching.len() > limit)
            .then(|| items.last().map(|c| Cursor(format!("{tag}|{}", c.id))))
            .flatten();
        Ok(Page { items, next })
    }

    async fn create_client(
        &self,
        client: &Client,
        grants: &[(Grant, u64)],
    ) -> Result<(), StoreError> {
        write(self, |st| create(st, client, grants))
    }

    async fn replace_client(&self, client: &Client, expected: u64) -> Result<(), StoreError> {
        write(self, |st| control::replace(st, client, expected))
    }

    async fn create_client_in_org(
        &self,
        client: &Client,
        grants: &[(Grant, u64)],
        org_version: Option<u64>,
    ) -> Result<(), StoreError> {
        write(self, |st| {
            control::check_org(st, control::org_of(client)?, org_version)?;
            create(st, client, grants)
        })
    }

    async fn replace_client_in_org(
        &self,
        client: &Client,
        expected: u64,
        org_version: u64,
    ) -> Result<(), StoreError> {
        write(self, |st| {
            control::check_org(st, control::org_of(client)?, Some(org_version))?;
            control::replace(st, client, expected)
        })
    }

    async fn replace_client_and_revoke(
        &self,
        client: &Client,
        expected: u64,
        revocation: &Revocation,
        now: u64,
    ) -> Result<(), StoreError> {
        write(self, |st| {
            control::replace(st, client, expected)?;
            control::record(st, revocation, now);
            Ok(())
        })
    }

    async fn delete_client(
        &self,
        id: &ClientId,
        expected: u64,
        grants: &[Grant],
    ) -> Result<(), StoreError> {
        write(self, |st| {
            check_client(st, id, expected)?;
            st.clients.remove(id);
            for g in grants {
                st.grants.remove(&(g.client_id.clone(), g.audience.clone()));
            }
            Ok(())
        })
    }

    async fn put_grant(
        &self,
        grant: &Grant,
        client_version: u64,
        api_version: u64,
    ) -> Result<(), StoreError> {
        write(self, |st| {
            check_client(st, &grant.client_id, client_version)?;
            check_api(st, &grant.audience, api_version)?;
            st.grants.insert(
                (grant.client_id.clone(), grant.audience.clone()),
                grant.clone(),
            );
            bump_client(st, &grant.client_id);
            bump_api(st, &grant.audience);
            Ok(())
        })
    }

    async fn delete_grant(
        &self,
        client_id: &ClientId,
        audience: &Audience,
        client_version: u64,
    ) -> Result<(), StoreError> {
        write(self, |st| {
            check_client(st, client_id, client_version)?;
            if st
                .grants
                .remove(&(client_id.clone(), audience.clone()))
                .is_none()
            {
                return Err(conflict(format!("grant {client_id} {audience}")));
            }
            bump_client(st, client_id);
            Ok(())
        })
    }

    async fn trust_rules(
        &self,
        id: &ClientId,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<TrustRule>, StoreError> {
        let start = match after {
            None => None,
            Some(Cursor(c)) => match c.split(SEP).collect::<Vec<_>>().as_slice() {
                ["rule", client, issuer, rule] if *client == id.as_str() => {
                    Some(((*issuer).to_owned(), (*rule).to_owned()))
                }
                _ => return Err(StoreError::InvalidCursor),
            },
        };
        let limit = limit.clamp(1, MAX_PAGE);
        let st = self.reachable()?;
        let matching: Vec<(&RuleKey, &TrustRule)> = st
            .rules
            .iter()
            .filter(|((c, _, _), _)| c == id)
            .filter(|((_, issuer, rule), _)| {
                start
                    .as_ref()
                    .is_none_or(|(si, sr)| (issuer, rule) > (si, sr))
            })
            .collect();
        let items: Vec<TrustRule> = matching
            .iter()
            .take(limit)
            .map(|(_, r)| (*r).clone())
            .collect();
        let next = (matching.len() > limit)
            .then(|| {
                items
                    .last()
                    .map(|r| Cursor(format!("rule{SEP}{id}{SEP}{}{SEP}{}", r.issuer, r.id)))
            })
            .flatten();
        Ok(Page { items, next })
    }

    async fn get_trust_rule(
        &self,
        id: &ClientId,
        rule_id: &str,
    ) -> Result<Option<TrustRule>, StoreError> {
        Ok(self
            .reachable()?
            .rules
            .iter()
            .find(|((c, _, r), _)| c == id && r == rule_id)
            .map(|(_, rule)| rule.clone()))
    }

    async fn put_trust_rule(
        &self,
        client_id: &ClientId,
        rule: &TrustRule,
        client_version: u64,
    ) -> Result<(), StoreError> {
        write(self, |st| {
            check_client(st, client_id, client_version)?;
            let key = rule_key(client_id, rule);
            if st.rules.contains_key(&key) {
                return Err(conflict(format!("trust rule {}", rule.id)));
            }
            st.rules.insert(key, rule.clone());
            bump_client(st, client_id);
            Ok(())
        })
    }

    async fn delete_trust_rules(
        &self,
        client_id: &ClientId,
        rules: &[TrustRule],
        client_version: u64,
    ) -> Result<(), StoreError> {
        if rules.len() > MAX_RULES_PER_WRITE {
            return Err(StoreError::Port(PortError::refused(format!(
                "one write deletes at most {MAX_RULES_PER_WRITE} trust rules"
            ))));
        }
        write(self, |st| {
            check_client(st, client_id, client_version)?;
            for r in rules {
                if !st.rules.contains_key(&rule_key(client_id, r)) {
                    return Err(conflict(format!("trust rule {}", r.id)));
                }
            }
            for r in rules {
                st.rules.remove(&rule_key(client_id, r));
            }
            bump_client(st, client_id);
            Ok(())
        })
    }

    async fn get_org(&self, id: &OrgId) -> Result<Option<Versioned<Org>>, StoreError> {
        Ok(self.reachable()?.orgs.get(id).cloned())
    }

    async fn put_org(&self, org: &Org, expected: Option<u64>) -> Result<(), StoreError> {
        write(self, |st| control::put_org(st, org, expected))
    }

    async fn usage(
        &self,
        subject: &Subject,
        from_hour: u64,
        to_hour: u64,
    ) -> Result<Vec<(u64, u64)>, StoreError> {
        Ok(control::usage(
            &*self.reachable()?,
            subject,
            from_hour,
            to_hour,
        ))
    }

    async fn list_keys(&self) -> Result<Vec<SigningKey>, StoreError> {
        Ok(self.reachable()?.keys.clone())
    }

    async fn get_key(&self, kid: &Kid) -> Result<Option<SigningKey>, StoreError> {
        Ok(self.state().keys.iter().find(|k| &k.kid == kid).cloned())
    }

    async fn create_key(&self, key: &SigningKey) -> Result<(), StoreError> {
        write(self, |st| {
            if st.keys.iter().any(|k| k.kid == key.kid) {
                return Err(conflict(format!("signing key {}", key.kid)));
            }
            st.keys.push(key.clone());
            Ok(())
        })
    }

    async fn activate_key(
        &self,
        kid: &Kid,
        from: KeyStatus,
        previous: &[Kid],
        now: u64,
    ) -> Result<(), StoreError> {
        write(self, |st| {
            set_status(st, kid, from)?;
            for p in previous {
                set_status(st, p, KeyStatus::Active)?;
            }
            for p in previous {
                let k = set_status(st, p, KeyStatus::Active)?;
                k.status = KeyStatus::Retired;
                k.retired_at = Some(now);
            }
            let k = set_status(st, kid, from)?;
            k.status = KeyStatus::Active;
            k.activated_at = Some(now);
            Ok(())
        })
    }

    async fn retire_key(&self, kid: &Kid, from: KeyStatus, now: u64) -> Result<(), StoreError> {
        write(self, |st| {
            let k = set_status(st, kid, from)?;
            k.status = KeyStatus::Retired;
            k.retired_at = Some(now);
            Ok(())
        })
    }

    async fn revoke_key(
        &self,
        kid: &Kid,
        from: KeyStatus,
        promote: Option<&Kid>,
        now: u64,
    ) -> Result<(), StoreError> {
        write(self, |st| {
            set_status(st, kid, from)?;
            if let Some(p) = promote {
                let k = set_status(st, p, KeyStatus::Pending)?;
                k.status = KeyStatus::Active;
                k.activated_at = Some(now);
            }
            let k = set_status(st, kid, from)?;
            k.status = KeyStatus::Revoked;
            Ok(())
        })
    }

    async fn delete_key(&self, kid: &Kid, retired_at: u64) -> Result<(), StoreError> {
        write(self, |st| {
            let before = st.keys.len();
            st.keys.retain(|k| {
                !(&k.kid == kid
                    && k.status == KeyStatus::Retired
                    && k.retired_at == Some(retired_at))
            });
            if st.keys.len() == before {
                return Err(conflict(format!("signing key {kid}")));
            }
            Ok(())
        })
    }

    async fn claim_idempotency(&self, claim: &IdempotencyClaim) -> Result<Claim, StoreError> {
        let mut st = self.reachable()?;
        let free = match st.idempotency.get(&claim.key) {
            None => true,
            Some(r) => {
                r.expires_at < claim.now
                    || (r.result.is_none() && r.claimed_at < claim.stale_before)
            }
        };
        if free {
            st.idempotency.insert(
                claim.key.clone(),
                Record {
                    fingerprint: claim.fingerprint.clone(),
                    claimed_at: claim.now,
                    expires_at: claim.expires_at,
                    result: None,
                },
            );
            return Ok(Claim::Claimed);
        }
        let r = st.idempotency.get(&claim.key).cloned();
        Ok(r.map_or(Claim::Claimed, |r| Claim::Held {
            fingerprint: r.fingerprint,
            result: r.result,
        }))
    }

    async fn complete_idempotency(
        &self,
        key: &str,
        fingerprint: &str,
        result: &str,
    ) -> Result<(), StoreError> {
        match self.state().idempotency.get_mut(key) {
            Some(r) if r.fingerprint == fingerprint => {
                r.result = Some(result.to_owned());
                Ok(())
            }
            _ => Err(conflict("idempotency key")),
        }
    }

    async fn release_idempotency(&self, key: &str, fingerprint: &str) -> Result<(), StoreError> {
        let mut st = self.state();
        match st.idempotency.get(key) {
            Some(r) if r.fingerprint == fingerprint && r.result.is_none() => {
                st.idempotency.remove(key);
                Ok(())
            }
            _ => Err(conflict("idempotency key")),
        }
    }
}

/// A [`KeyVault`] that makes software keys and records deletions.
#[derive(Debug, Default)]
pub struct FakeVault {
    made: AtomicUsize,
    deleted: Mutex<Vec<String>>,
    fail: Mutex<bool>,
}

impl FakeVault {
    /// A vault that works.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every call fail (KMS unavailable) or work again.
    pub fn fail(&self, fail: bool) {
        *self
            .fail
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = fail;
    }

    /// The key references scheduled for deletion.
    pub fn deleted(&self) -> Vec<String> {
        self.deleted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn failing(&self) -> bool {
        *self
            .fail
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl KeyVault for FakeVault {
    async fn create(&self, alg: Alg) -> Result<VaultKey, PortError> {
        if self.failing() {
            return Err(PortError::unavailable("the fake vault is failing"));
        }
        let n = self.made.fetch_add(1, Ordering::Relaxed);
        let mut public_jwk = SoftwareSigner::es256_fresh().jwk();
        public_jwk.alg = Some(alg.as_str().to_owned());
        Ok(VaultKey {
            key_ref: format!("arn:aws:kms:us-east-1:000000000000:key/fake-{n}"),
            public_jwk,
        })
    }

    async fn schedule_deletion(
        &self,
        key_ref: &str,
        pending_days: i32,
    ) -> Result<Option<u64>, PortError> {
        if self.failing() {
            return Err(PortError::unavailable("the fake vault is failing"));
        }
        self.deleted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(key_ref.to_owned());
        Ok(Some(u64::try_from(pending_days).unwrap_or(7) * 86_400))
    }
}
