//! The CLI's one error type: a message for the operator that says what to do, and the
//! exit status scripts branch on. Never carries a secret or a secret hash.

use m2m_core::error::Chain;
use m2m_manage::StoreError;

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
            e @ StoreError::InvalidCursor => Self::Failed(e.to_string()),
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
