//! m2m-aws: the AWS adapters of m2m-auth, grouped by service. Each implements a port of
//! `m2m_core` (DESIGN.md "Ports"):
//!
//! - [`dynamo`]: the directory table — item codecs, the token endpoint's directory, the
//!   key registry, the revocation entries, the operator's store (`m2m-manage`'s
//!   [`AdminStore`] port) and the table itself;
//! - [`kms`]: the signer and the operator's key operations;
//! - [`lambda`]: the custom-claims hook;
//! - [`sdk`]: the SDK settings every client shares and the mapping of SDK errors;
//! - [`wire`]: the token endpoint's two per-request calls (DynamoDB `BatchGetItem`,
//!   KMS `Sign`) spoken directly, without the SDK's per-call machinery;
//! - [`env`]: the helpers each function's configuration is parsed with;
//! - [`clock`] and [`telemetry`]: the wall clock and the structured log.
#![deny(missing_docs)]

pub mod clock;
pub mod dynamo;
pub mod env;
pub mod kms;
pub mod lambda;
pub mod sdk;
pub mod telemetry;
pub mod wire;

pub use dynamo::{
    create_table, protect_table, DynamoAdminStore, DynamoDirectory, DynamoKeyRegistry,
    DynamoRevocations, TableCreation, MAX_CREATE_GRANTS,
};
pub use env::{ConfigError, Env};
pub use kms::{public_jwk, KmsPublicKey, KmsSigner, KmsVault};
pub use lambda::LambdaHook;
/// The operator's storage port that [`DynamoAdminStore`] implements, and its types.
pub use m2m_manage::{
    AdminStore, Claim, ClientFilter, Cursor, IdempotencyClaim, Page, StoreError, Versioned,
    MAX_PAGE, MAX_RULES_PER_WRITE,
};
pub use sdk::sdk_config;
