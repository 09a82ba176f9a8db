//! The port the operator rules need from storage: reads, paged listings and
//! conditional writes of APIs, clients, grants, trust rules, signing keys and
//! organization records; the revocation entries verifiers read (RFC 7009), written
//! with the client they revoke for; and the hourly usage counts.
//!
//! The conditional-write contract every adapter keeps (DynamoDB in `m2m-aws`, the
//! in-memory fake in [`crate::testing`]):
//! - every write names the version it read (`expected`) and fails with
//!   [`StoreError::Conflict`], changing nothing, when the stored version differs or the
//!   item is gone; a successful write stores `expected + 1`;
//! - a client's version is bumped by every write to the client, **its grants or its
//!   trust rules** (its keys and `jwks_uri` are part of the client), an API's by every
//!   write to it or to a grant on it, so a delete conditional on the version read can
//!   never race a grant or a rule into an orphan, and the token endpoint's reuse cache,
//!   which fingerprints the client's version, never hands out a token earned with a
//!   credential since removed;
//! - multi-item writes are all or nothing: a client and the revocation entry recorded
//!   with it ([`AdminStore::replace_client_and_revoke`]) are both written or neither;
//! - an organization's quota reaches a client only by a write conditional on the
//!   organization's record still being at the version it was copied from
//!   ([`AdminStore::create_client_in_org`], [`AdminStore::replace_client_in_org`]), so
//!   two operators changing it at once never leave clients with the loser's quota.

use std::future::Future;

use m2m_core::error::PortError;
use m2m_core::model::{Api, Client, Grant, KeyStatus, SigningKey, TrustRule};
use m2m_core::quota::Subject;
use m2m_core::revocation::Revocation;
use m2m_core::types::{Audience, ClientId, Kid, OrgId};

use crate::orgs::Org;

/// A value with the `version` its item carried when read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versioned<T> {
    /// The decoded value.
    pub value: T,
    /// The item's version (0 when the item predates versioning).
    pub version: u64,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write found the store other than expected (an item exists that
    /// should not, is gone, or changed since it was read); the write changed nothing.
    /// Names what the failed condition was about, e.g. `client c-1`.
    #[error("the condition on {0} failed: it was changed or removed concurrently")]
    Conflict(String),
    /// The store (the table) does not exist.
    #[error("table {0} does not exist")]
    TableMissing(String),
    /// A stored item could not be decoded; the message names the item and attribute.
    #[error("{0}")]
    Malformed(String),
    /// A listing cursor that this store did not hand out (or not for this filter).
    #[error("the cursor is not one this listing handed out")]
    InvalidCursor,
    /// The backend failed or could not be reached.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Which clients a listing returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientFilter {
    /// Only the clients of this organization (read through an index, never a scan).
    pub org: Option<OrgId>,
}

/// One page of a listing: at most the requested number of items, and the opaque
/// cursor that continues after the last one (`None` on the last page).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    /// The items, in the listing's order.
    pub items: Vec<T>,
    /// Where the next page starts; `None` when there is none.
    pub next: Option<Cursor>,
}

/// An opaque position in a listing, handed back by a caller to continue it. Adapters
/// encode their own position (a DynamoDB `LastEvaluatedKey`) and refuse one they did
/// not write, or written for another filter, with [`StoreError::InvalidCursor`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cursor(pub String);

/// A caller's claim on an idempotency key (the `Idempotency-Key` of a creating call):
/// the first request to claim a key performs the creation, a retry finds the claim.
/// Keyed by a hash of the caller's principal and key, so no caller sees another's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyClaim {
    /// Hex SHA-256 of principal and key: the record's identity.
    pub key: String,
    /// Hex SHA-256 of the request (method, path, body): a retry must match it.
    pub fingerprint: String,
    /// The time of the claim, Unix seconds.
    pub now: u64,
    /// A claim made before this time and never completed belongs to a request that
    /// can no longer be running (it outlived the function's timeout): it may be taken
    /// over.
    pub stale_before: u64,
    /// When the record may be forgotten (the table's TTL deletes it); an expired record
    /// counts as absent.
    pub expires_at: u64,
}

/// What claiming an idempotency key found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The key was free (or its record expired or stale): the caller performs the
    /// creation, then completes or releases the claim.
    Claimed,
    /// Another request holds the key.
    Held {
        /// That request's fingerprint.
        fingerprint: String,
        /// What it created (an identifier, never a secret), once completed.
        result: Option<String>,
    },
}

/// Largest page a listing returns.
pub const MAX_PAGE: usize = 100;
/// Most trust rules one [`AdminStore::delete_trust_rules`] removes: with the client's
/// version bump, one DynamoDB transaction of at most 100 actions.
pub const MAX_RULES_PER_WRITE: usize = 99;

/// Storage for the operator rules. Every write is conditional (see the module docs).
pub trait AdminStore: Send + Sync {
    /// The API `identifier`, with its version.
    fn get_api(
        &self,
        identifier: &Audience,
    ) -> impl Future<Output = Result<Option<Versioned<Api>>, StoreError>> + Send;
    /// Every API, sorted by identifier.
    fn list_apis(&self) -> impl Future<Output = Result<Vec<Versioned<Api>>, StoreError>> + Send;
    /// Creates an API; [`StoreError::Conflict`] if its identifier is taken.
    fn create_api(&self, api: &Api) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Replaces an API, conditional on its version still being `expected`.
    fn replace_api(
        &self,
        api: &Api,
        expected: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Replaces an API (conditional on `expected`) after rewriting `grants` (each
    /// conditional on still existing, bumping its client's version): used when scopes
    /// leave the API and the grants holding them. Grants first, the API last.
    fn replace_api_with_grants(
        &self,
        api: &Api,
        expected: u64,
        grants: &[Grant],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Every grant on the API `identifier`.
    fn grants_for_api(
        &self,
        identifier: &Audience,
    ) -> impl Future<Output = Result<Vec<Grant>, StoreError>> + Send;
    /// Deletes `grants` (each bumping its client's version), then the API
    /// (conditional on `expected`), the API last.
    fn delete_api(
        &self,
        identifier: &Audience,
        expected: u64,
        grants: &[Grant],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The client `id` (strongly consistent); its `version` is the stored one.
    fn get_client(
        &self,
        id: &ClientId,
    ) -> impl Future<Output = Result<Option<Client>, StoreError>> + Send;
    /// The grants of client `id`, sorted by API.
    fn client_grants(
        &self,
        id: &ClientId,
    ) -> impl Future<Output = Result<Vec<Grant>, StoreError>> + Send;
    /// One page of clients matching `filter`, sorted by client id, at most `limit`
    /// (1..=[`MAX_PAGE`]) long, starting after `after`.
    fn list_clients(
        &self,
        filter: &ClientFilter,
        after: Option<&Cursor>,
        limit: usize,
    ) -> impl Future<Output = Result<Page<Client>, StoreError>> + Send;
    /// Creates `client` with `grants`, all or nothing: [`StoreError::Conflict`] if the
    /// id is taken or an API's version is no longer the one given beside its grant
    /// (each grant bumps its API's version).
    fn create_client(
        &self,
        client: &Client,
        grants: &[(Grant, u64)],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Writes `client` over the stored one, conditional on the stored version being
    /// `expected` (`client.version` is `expected + 1`).
    fn replace_client(
        &self,
        client: &Client,
        expected: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Creates `client` with `grants` as [`Self::create_client`] does, conditional in the
    /// same write on the record of its organization still being at `org_version`
    /// (`None`: there is none), so a client never starts with an organization quota
    /// changed since it was read: [`StoreError::Conflict`] otherwise.
    fn create_client_in_org(
        &self,
        client: &Client,
        grants: &[(Grant, u64)],
        org_version: Option<u64>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Writes `client` over the stored one as [`Self::replace_client`] does, conditional
    /// in the same write on the record of its organization being at `org_version`: how
    /// an organization's quota is copied onto its clients.
    fn replace_client_in_org(
        &self,
        client: &Client,
        expected: u64,
        org_version: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Writes `client` over the stored one (conditional on `expected`, as
    /// [`Self::replace_client`]) and records `revocation` where verifiers read
    /// revocations (RFC 7009 §2), kept until [`Revocation::keep_until`], in one write:
    /// both or neither. A recorded entry that already revokes more (a later not-before
    /// of the client, a later expiry of the same token) is kept as it is and the client
    /// is still written; an entry that would already have lapsed at `now` need not be
    /// written.
    fn replace_client_and_revoke(
        &self,
        client: &Client,
        expected: u64,
        revocation: &Revocation,
        now: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Deletes the client and `grants` in one write, conditional on `expected`. Its
    /// trust rules are deleted before, with [`Self::delete_trust_rules`].
    fn delete_client(
        &self,
        id: &ClientId,
        expected: u64,
        grants: &[Grant],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Writes `grant` (new or replacing), bumping its client's version from
    /// `client_version` and its API's from `api_version`, in one write.
    fn put_grant(
        &self,
        grant: &Grant,
        client_version: u64,
        api_version: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Deletes the grant of `client_id` on `audience`, bumping the client's version
    /// from `client_version`.
    fn delete_grant(
        &self,
        client_id: &ClientId,
        audience: &Audience,
        client_version: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// One page of the trust rules of client `id` (strongly consistent), at most
    /// `limit` (1..=[`MAX_PAGE`]) long, starting after `after`, in the store's order
    /// (stable from page to page; rules of one issuer together).
    fn trust_rules(
        &self,
        id: &ClientId,
        after: Option<&Cursor>,
        limit: usize,
    ) -> impl Future<Output = Result<Page<TrustRule>, StoreError>> + Send;
    /// The trust rule `rule_id` of client `id`, if any.
    fn get_trust_rule(
        &self,
        id: &ClientId,
        rule_id: &str,
    ) -> impl Future<Output = Result<Option<TrustRule>, StoreError>> + Send;
    /// Adds `rule` to client `client_id`, bumping the client's version from
    /// `client_version`, in one write: [`StoreError::Conflict`] if the client changed
    /// or the rule id is taken.
    fn put_trust_rule(
        &self,
        client_id: &ClientId,
        rule: &TrustRule,
        client_version: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Deletes `rules` (at most [`MAX_RULES_PER_WRITE`]) of client `client_id`,
    /// bumping the client's version from `client_version`, in one write:
    /// [`StoreError::Conflict`] if the client changed or a rule is gone.
    fn delete_trust_rules(
        &self,
        client_id: &ClientId,
        rules: &[TrustRule],
        client_version: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The record of organization `id` (strongly consistent), with its version;
    /// `None` when nothing was ever set for it.
    fn get_org(
        &self,
        id: &OrgId,
    ) -> impl Future<Output = Result<Option<Versioned<Org>>, StoreError>> + Send;
    /// Writes the record of an organization: created when `expected` is `None`
    /// ([`StoreError::Conflict`] if one exists), otherwise conditional on its version
    /// being `expected`. The stored version is `expected + 1`, or 1 for a new record.
    fn put_org(
        &self,
        org: &Org,
        expected: Option<u64>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The hourly usage counts of `subject` for the hours starting at `from_hour`
    /// through `to_hour` (both included), in time order, as `(hour start, count)`;
    /// hours without a count are left out. Not strongly consistent: counts arrive in
    /// the table up to a minute after the tokens they count anyway.
    fn usage(
        &self,
        subject: &Subject,
        from_hour: u64,
        to_hour: u64,
    ) -> impl Future<Output = Result<Vec<(u64, u64)>, StoreError>> + Send;

    /// Every signing key, oldest first.
    fn list_keys(&self) -> impl Future<Output = Result<Vec<SigningKey>, StoreError>> + Send;
    /// The key `kid`.
    fn get_key(
        &self,
        kid: &Kid,
    ) -> impl Future<Output = Result<Option<SigningKey>, StoreError>> + Send;
    /// Registers a new key; [`StoreError::Conflict`] if the kid is taken.
    fn create_key(&self, key: &SigningKey) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// In one write: `kid` goes from `from` to `active` and every key in `previous`
    /// from `active` to `retired`, conditional on every status.
    fn activate_key(
        &self,
        kid: &Kid,
        from: KeyStatus,
        previous: &[Kid],
        now: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// `kid` goes from `from` to `retired`.
    fn retire_key(
        &self,
        kid: &Kid,
        from: KeyStatus,
        now: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// `kid` goes from `from` to `revoked` and, in the same write, `promote` (pending)
    /// to `active`.
    fn revoke_key(
        &self,
        kid: &Kid,
        from: KeyStatus,
        promote: Option<&Kid>,
        now: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Deletes the retired key `kid`, conditional on its retirement time.
    fn delete_key(
        &self,
        kid: &Kid,
        retired_at: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Claims an idempotency key: a conditional write that succeeds when no live
    /// record holds the key (absent, expired, or claimed before `stale_before` and never
    /// completed); otherwise returns the holder's record.
    fn claim_idempotency(
        &self,
        claim: &IdempotencyClaim,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send;
    /// Records what the claimed request created (`result`, an identifier), conditional
    /// on the record still carrying `fingerprint`.
    fn complete_idempotency(
        &self,
        key: &str,
        fingerprint: &str,
        result: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Drops an uncompleted claim (the creation failed), conditional on `fingerprint`,
    /// so a retry may try again at once.
    fn release_idempotency(
        &self,
        key: &str,
        fingerprint: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
