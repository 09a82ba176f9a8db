//! The CLI's one error type: a message for the operator that says what to do, and the
//! exit status scripts branch on. Never carries a secret or a secret hash.

use m2m_core::error::Chain;
use m2m_manage::{ManageError, Refusal, StoreError, Target};

use crate::output::time;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The input is wrong (exit 2).
    #[error("{0}")]
    Invalid(String),
    /// Something named does not exist (exit 3).
    #[error("{0}")]
    NotFound(String),
    /// Refused: it already exists, is in use, is too early, or changed concurrently
    /// (exit 4).
    #[error("{0}")]
    Refused(String),
    /// AWS failed or could not be reached, or the table is inconsistent (exit 1).
    #[error("{0}")]
    Failed(String),
}

impl AdminError {
    /// The process exit status.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Failed(_) => 1,
            Self::Invalid(_) => 2,
            Self::NotFound(_) => 3,
            Self::Refused(_) => 4,
        }
    }

    /// A stable name for `--json` error documents.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Failed(_) => "failed",
            Self::Invalid(_) => "invalid",
            Self::NotFound(_) => "not_found",
            Self::Refused(_) => "refused",
        }
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => Self::Refused(format!(
                "{what} was changed by someone else at the same time, so nothing was \
                 written; run the command again"
            )),
            StoreError::TableMissing(table) => Self::NotFound(format!(
                "table {table} does not exist: check M2M_TABLE (or --table) and AWS_REGION; \
                 for a local stack, run `m2m-admin init` first"
            )),
            StoreError::Malformed(e) => Self::Failed(format!(
                "the table holds an item m2m-admin cannot read ({e}); fix or remove that item"
            )),
            StoreError::InvalidCursor => Self::Failed(
                "the table listing could not be continued; run the command again".into(),
            ),
            StoreError::Port(e) => Self::Failed(format!(
                "AWS request failed: {}. Check AWS_REGION, your AWS credentials and, for the \
                 local stack, that AWS_ENDPOINT_URL points at the running emulator",
                Chain(&e)
            )),
        }
    }
}

/// A client that does not exist.
pub fn client_not_found(id: &str) -> AdminError {
    AdminError::NotFound(format!(
        "client {id} not found: `m2m-admin client list` shows the existing clients"
    ))
}

/// An API that does not exist.
pub fn api_not_found(identifier: &str) -> AdminError {
    AdminError::NotFound(format!(
        "API {identifier} not found: `m2m-admin api list` shows the registered APIs, \
         `m2m-admin api create` registers one"
    ))
}

/// A signing key that does not exist.
pub fn key_not_found(kid: &str) -> AdminError {
    AdminError::NotFound(format!(
        "signing key {kid} not found: `m2m-admin keys list` shows the keys"
    ))
}

/// Gave up after repeated concurrent changes.
pub fn kept_changing(what: &str) -> AdminError {
    AdminError::Refused(format!(
        "{what} kept changing while this command ran (another operator or script is \
         writing it); nothing was written, run the command again"
    ))
}

impl From<ManageError> for AdminError {
    fn from(e: ManageError) -> Self {
        match e {
            ManageError::Invalid(m) => Self::Invalid(m),
            ManageError::UndefinedScopes {
                api,
                undefined,
                defined,
            } => Self::Invalid(format!(
                "API {api} does not define the scope(s) {}; it defines: {}. Add them \
                 with `m2m-admin api update {api} --add-scopes ...` first",
                undefined.to_wire(),
                if defined.is_empty() {
                    "none".to_owned()
                } else {
                    defined.to_wire()
                }
            )),
            ManageError::NotFound(t) => not_found(&t),
            ManageError::Exists(Target::Api(id)) => Self::Refused(format!(
                "an API with identifier {id} already exists: choose another identifier, or \
                 change it with `m2m-admin api update`"
            )),
            ManageError::Exists(Target::ClientKey(c, k)) => Self::Refused(format!(
                "client {c} already has a key with kid {k}: give the new key another kid, or \
                 remove the old one with `m2m-admin client-key remove --client {c} --kid {k}`"
            )),
            ManageError::Exists(t) => Self::Refused(format!("{t} already exists")),
            ManageError::Refused(r) => refused(&r),
            ManageError::KeptChanging(what) => kept_changing(&what),
            ManageError::ChangedConcurrently(what) => Self::Refused(format!(
                "{what} changed at the same time (another operator?); nothing was written. \
                 Check `m2m-admin keys list` and run the command again"
            )),
            e @ (ManageError::VersionMismatch { .. }
            | ManageError::IdempotencyKeyReused
            | ManageError::IdempotencyInProgress) => Self::Refused(e.to_string()),
            ManageError::Store(e) => e.into(),
            ManageError::Vault(e) => Self::Failed(format!(
                "KMS request failed: {}. Check AWS_REGION, credentials (kms:CreateKey, \
                 kms:GetPublicKey, kms:TagResource, and kms:PutKeyPolicy: KMS refuses a key \
                 policy its creator could not change) and AWS_ENDPOINT_URL for the local stack",
                Chain(&e)
            )),
        }
    }
}

fn not_found(t: &Target) -> AdminError {
    match t {
        Target::Client(id) => client_not_found(id.as_str()),
        Target::Api(id) => api_not_found(id.as_str()),
        Target::Key(kid) => key_not_found(kid.as_str()),
        Target::Grant(c, a) => AdminError::NotFound(format!(
            "client {c} has no grant on API {a}: `m2m-admin grant list --client {c}` shows its grants"
        )),
        Target::Secret(c, s) => AdminError::NotFound(format!(
            "client {c} has no secret {s}: `m2m-admin client show {c}` lists its secrets"
        )),
        Target::Org(o) => AdminError::NotFound(format!("organization {o} has no clients")),
        Target::ClientKey(c, k) => AdminError::NotFound(format!(
            "client {c} has no key {k}: `m2m-admin client-key list --client {c}` lists its keys"
        )),
        Target::TrustRule(c, r) => AdminError::NotFound(format!(
            "client {c} has no trust rule {r}: `m2m-admin trust list --client {c}` lists its rules"
        )),
    }
}

fn ids<T: std::fmt::Display>(ids: &[T]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn refused(r: &Refusal) -> AdminError {
    AdminError::Refused(match r {
        Refusal::ApiInUse { api, clients } => format!(
            "API {api} is granted to {} client(s) ({}); remove those grants with \
             `m2m-admin grant remove`, or pass --force to delete the API and its grants",
            clients.len(),
            ids(clients)
        ),
        Refusal::ScopesGranted {
            dropped, clients, ..
        } => format!(
            "scope(s) {} are granted to {} client(s) ({}); pass --cascade to remove them \
             from those grants too, or remove them with `m2m-admin grant` first",
            dropped
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            clients.len(),
            ids(clients)
        ),
        Refusal::KeyNotReady {
            kid,
            published_for,
            ready_at,
            created_at,
        } => format!(
            "key {kid} was published {published_for} s ago; verifiers may hold a JWKS without it \
             for {} s and would reject its tokens until they refresh. Activate it after {}, or \
             pass --force if no verifier has fetched the JWKS since {}",
            m2m_manage::keys::PUBLISH_DELAY,
            time(*ready_at),
            time(*created_at)
        ),
        Refusal::KeyNotReactivated { kid, status } => format!(
            "key {kid} is {} and is not reactivated; create a new key with \
             `m2m-admin keys create` and activate that",
            status.as_str()
        ),
        Refusal::KeyAlreadyRetired { kid, retired_at } => format!(
            "key {kid} is already retired (since {})",
            crate::output::opt_time(*retired_at)
        ),
        Refusal::KeyRevoked { kid } => {
            format!("key {kid} is revoked; it is neither published nor signing")
        }
        Refusal::KeyActive { kid } => format!(
            "key {kid} is the active key; retiring it leaves no active key, and the token \
             function stops signing within 10 minutes. To rotate, create and activate a \
             new key (which retires this one); to retire it anyway, pass --force"
        ),
        Refusal::KeyNotPending { kid } => {
            format!("key {kid} is not a pending key; `m2m-admin keys list` shows the keys")
        }
        Refusal::NoSuccessor { kid } => format!(
            "key {kid} is the active key and no key is pending to take over; create one \
             with `m2m-admin keys create` and pass --activate <kid>, or pass --force to \
             revoke it now and issue no token until a key is activated"
        ),
        Refusal::SeveralPending { kids } => format!(
            "several keys are pending ({}); choose the one to activate with --activate <kid>",
            ids(kids)
        ),
        Refusal::KeyNotRetired { kid, status } => format!(
            "key {kid} is {}; only a retired key can be deleted (`m2m-admin keys retire`)",
            status.as_str()
        ),
        Refusal::KeyNoRetirementTime { kid } => format!(
            "key {kid} has no retirement time, so when its last token expires is unknown; \
             it is kept"
        ),
        Refusal::JwksUriSet { client, jwks_uri } => format!(
            "client {client} publishes its keys at {jwks_uri}, so it registers none (a client \
             has keys or a jwks_uri, never both); clear it first with \
             `m2m-admin client jwks-uri --client {client} --clear`"
        ),
        Refusal::KeysRegistered { client, keys } => format!(
            "client {client} has {keys} registered key(s), so it cannot also have a jwks_uri; \
             remove them first with `m2m-admin client-key remove`"
        ),
        Refusal::TooManyKeys { client, max } => format!(
            "client {client} already has {max} keys, the most a client may hold; remove one \
             with `m2m-admin client-key remove` (expired keys are dropped automatically)"
        ),
        Refusal::SameKeyRegistered { client, kid } => {
            format!("client {client} already has this public key, as key {kid}")
        }
        Refusal::KeyStillValid { kid, safe_at } => format!(
            "tokens signed by key {kid} may be valid until {}; it must stay published until \
             then. Delete it after that time",
            time(*safe_at)
        ),
    })
}
