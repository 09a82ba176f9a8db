//! The one error type of the operator rules: what was refused and why, with the data
//! a front end needs to say it in its own words (the CLI names its flags, the
//! management API answers RFC 9457 problem details). Never carries a secret.

use m2m_core::error::PortError;
use m2m_core::model::KeyStatus;
use m2m_core::types::{Audience, ClientId, Kid, OrgId, ScopeSet, SecretId};

use crate::store::StoreError;

/// What a rule was about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// An API (resource server).
    Api(Audience),
    /// A client.
    Client(ClientId),
    /// A client's grant on an API.
    Grant(ClientId, Audience),
    /// A client's secret.
    Secret(ClientId, SecretId),
    /// A signing key.
    Key(Kid),
    /// An organization.
    Org(OrgId),
    /// A public key registered by a client, by its `kid`.
    ClientKey(ClientId, String),
    /// A client's trust rule, by its id.
    TrustRule(ClientId, String),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Api(a) => write!(f, "API {a}"),
            Self::Client(c) => write!(f, "client {c}"),
            Self::Grant(c, a) => write!(f, "the grant of client {c} on API {a}"),
            Self::Secret(c, s) => write!(f, "secret {s} of client {c}"),
            Self::Key(k) => write!(f, "signing key {k}"),
            Self::Org(o) => write!(f, "organization {o}"),
            Self::ClientKey(c, k) => write!(f, "key {k} of client {c}"),
            Self::TrustRule(c, r) => write!(f, "trust rule {r} of client {c}"),
        }
    }
}

/// A change the rules refuse in the current state (nothing was written).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Deleting an API that clients hold grants on, without `force`.
    #[error("API {api} is granted to {} client(s)", clients.len())]
    ApiInUse {
        /// The API.
        api: Audience,
        /// The clients holding grants on it.
        clients: Vec<ClientId>,
    },
    /// Removing scopes from an API that grants still hold, without `cascade`.
    #[error("scope(s) {} of API {api} are granted to {} client(s)", dropped.to_wire(), clients.len())]
    ScopesGranted {
        /// The API.
        api: Audience,
        /// The scopes leaving it.
        dropped: ScopeSet,
        /// The clients whose grants hold them.
        clients: Vec<ClientId>,
    },
    /// Activating a key before verifiers can have fetched a JWKS holding it.
    #[error("signing key {kid} has been published for {published_for} s only; it may sign from {ready_at}")]
    KeyNotReady {
        /// The key.
        kid: Kid,
        /// Seconds since it was published.
        published_for: u64,
        /// When it may be activated, Unix seconds.
        ready_at: u64,
        /// When it was published, Unix seconds.
        created_at: u64,
    },
    /// A retired or revoked key is never activated again.
    #[error("signing key {kid} is {} and is not reactivated", status.as_str())]
    KeyNotReactivated {
        /// The key.
        kid: Kid,
        /// Its status.
        status: KeyStatus,
    },
    /// Retiring a key already retired.
    #[error("signing key {kid} is already retired")]
    KeyAlreadyRetired {
        /// The key.
        kid: Kid,
        /// Since when.
        retired_at: Option<u64>,
    },
    /// Retiring a revoked key.
    #[error("signing key {kid} is revoked; it is neither published nor signing")]
    KeyRevoked {
        /// The key.
        kid: Kid,
    },
    /// Retiring the active key without `force` leaves no key to sign with.
    #[error("signing key {kid} is the active key; retiring it leaves no active key")]
    KeyActive {
        /// The key.
        kid: Kid,
    },
    /// The key named to take over is not pending.
    #[error("signing key {kid} is not a pending key")]
    KeyNotPending {
        /// The key named.
        kid: Kid,
    },
    /// Revoking the active key with no pending key to take over, without `force`.
    #[error("signing key {kid} is the active key and no key is pending to take over")]
    NoSuccessor {
        /// The active key.
        kid: Kid,
    },
    /// Revoking the active key with several pending keys and none chosen.
    #[error("several keys are pending ({}); choose the one to activate", kids.iter().map(Kid::as_str).collect::<Vec<_>>().join(", "))]
    SeveralPending {
        /// The pending keys.
        kids: Vec<Kid>,
    },
    /// Deleting a key that is not retired.
    #[error("signing key {kid} is {}; only a retired key can be deleted", status.as_str())]
    KeyNotRetired {
        /// The key.
        kid: Kid,
        /// Its status.
        status: KeyStatus,
    },
    /// A retired key without a retirement time: when its last token expires is unknown.
    #[error("signing key {kid} has no retirement time, so when its last token expires is unknown")]
    KeyNoRetirementTime {
        /// The key.
        kid: Kid,
    },
    /// Registering a key for a client that publishes its keys at a `jwks_uri`
    /// (OpenID Connect Dynamic Client Registration §2: `jwks` and `jwks_uri` are never
    /// both present).
    #[error("client {client} publishes its keys at its jwks_uri; it registers no keys")]
    JwksUriSet {
        /// The client.
        client: ClientId,
        /// Its `jwks_uri`.
        jwks_uri: String,
    },
    /// Setting a `jwks_uri` on a client with registered keys (same rule).
    #[error("client {client} has {keys} registered key(s); it cannot also have a jwks_uri")]
    KeysRegistered {
        /// The client.
        client: ClientId,
        /// How many keys it has.
        keys: usize,
    },
    /// Registering a key beyond [`m2m_core::model::MAX_CLIENT_KEYS`].
    #[error("client {client} already has {max} keys, the most a client may register")]
    TooManyKeys {
        /// The client.
        client: ClientId,
        /// The limit.
        max: usize,
    },
    /// Registering a public key the client already has under another `kid`.
    #[error("client {client} already has this public key, as key {kid}")]
    SameKeyRegistered {
        /// The client.
        client: ClientId,
        /// The `kid` it is registered under.
        kid: String,
    },
    /// Deleting a retired key whose tokens may still be valid.
    #[error("tokens signed by key {kid} may be valid until {safe_at}")]
    KeyStillValid {
        /// The key.
        kid: Kid,
        /// When its last token expires, Unix seconds.
        safe_at: u64,
    },
}

/// Why an operator use case failed.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    /// The input is wrong.
    #[error("{0}")]
    Invalid(String),
    /// A grant names scopes its API does not define.
    #[error("API {api} does not define the scope(s) {}", undefined.to_wire())]
    UndefinedScopes {
        /// The API.
        api: Audience,
        /// The scopes it lacks.
        undefined: ScopeSet,
        /// The scopes it defines.
        defined: ScopeSet,
    },
    /// Something named does not exist.
    #[error("{0} not found")]
    NotFound(Target),
    /// Something to be created exists already.
    #[error("{0} already exists")]
    Exists(Target),
    /// Refused in the current state.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// Gave up after repeated concurrent changes; nothing was written.
    #[error("{0} kept changing while the change was applied; nothing was written")]
    KeptChanging(String),
    /// A change that is decided once, not retried (a key transition), met a
    /// concurrent change to what it names; nothing was written.
    #[error("{0} changed while the change was applied; nothing was written")]
    ChangedConcurrently(String),
    /// The caller's expected version (`If-Match`) is not the stored one.
    #[error("{target} is at version {current}, not the expected {expected}")]
    VersionMismatch {
        /// What was to change.
        target: Target,
        /// The version the caller expected.
        expected: u64,
        /// The stored version.
        current: u64,
    },
    /// An idempotency key reused for a different request.
    #[error("the idempotency key was already used for a different request")]
    IdempotencyKeyReused,
    /// An idempotency key held by a request that has not finished.
    #[error("a request with the same idempotency key is still in progress")]
    IdempotencyInProgress,
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// The key vault (KMS) failed.
    #[error("key vault: {0}")]
    Vault(PortError),
}

impl From<StoreError> for ManageError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InvalidCursor => Self::Invalid(
                "the cursor is not one this listing handed out; start again without it".into(),
            ),
            other => Self::Store(other),
        }
    }
}

/// A client that does not exist.
pub(crate) fn no_client(id: &ClientId) -> ManageError {
    ManageError::NotFound(Target::Client(id.clone()))
}

/// An API that does not exist.
pub(crate) fn no_api(id: &Audience) -> ManageError {
    ManageError::NotFound(Target::Api(id.clone()))
}

/// A key that does not exist.
pub(crate) fn no_key(kid: &Kid) -> ManageError {
    ManageError::NotFound(Target::Key(kid.clone()))
}
