//! The operator rules of m2m-auth as use cases: registering APIs and clients, grants,
//! secret rotation with grace, secretless client authentication (registered public
//! keys, a `jwks_uri`, federated trust rules), the signing-key lifecycle, customer
//! (organization) offboarding, token revocation (RFC 7009), the introspection
//! permission (RFC 7662), quotas and usage. `m2m-admin` renders their results on a
//! terminal and the management API as JSON; neither holds a rule of its own.
//!
//! Storage is the [`AdminStore`] port (DynamoDB in `m2m-aws`, in memory in
//! `testing`); key material is the [`keys::KeyVault`] port (KMS). Time is a parameter.
#![deny(missing_docs)]

pub mod apis;
pub mod client_keys;
pub mod clients;
pub mod error;
pub mod grants;
pub mod idempotency;
pub mod keys;
mod operator;
pub mod orgs;
pub mod quotas;
pub mod retry;
pub mod revocations;
pub mod secrets;
pub mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod trust;
pub mod urls;

pub use error::{ManageError, Refusal, Target};

/// The longest identifier (API identifier, client id, key id, organization) the rules
/// accept, in bytes. DynamoDB keys hold at most 2,048 bytes, a sort key 1,024 (a grant's
/// is `GRANT#` and its API's identifier), so a longer one names nothing that can exist:
/// it is refused or not found before any store call.
pub const MAX_ID_LEN: usize = 1000;
pub use operator::Operator;
pub use retry::Backoff;
pub use store::{
    AdminStore, Claim, ClientFilter, Cursor, IdempotencyClaim, Page, StoreError, Versioned,
    MAX_PAGE, MAX_RULES_PER_WRITE,
};
