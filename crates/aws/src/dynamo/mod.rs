//! DynamoDB: the single directory table (DESIGN.md "Data model") and everything that
//! reads or writes it.
//!
//! - [`item`]: the item codecs, one file per item kind, and the attribute helpers.
//! - [`directory`]: the token endpoint's [`Directory`](m2m_core::ports::Directory) port —
//!   one strongly consistent `BatchGetItem` per request, and the reuse cache writes.
//! - [`registry`]: the signing-key registry ([`KeySource`](m2m_core::keys::KeySource),
//!   [`KeyRegistry`](m2m_core::keys::KeyRegistry)) for the signer and the JWKS.
//! - [`revocation`]: the [`Revocations`](m2m_core::revocation::Revocations) port (RFC
//!   7009) on one partition of the table, read whole by verifiers.
//! - [`admin`]: the operator's conditional reads, paged listings and writes, the
//!   [`AdminStore`](m2m_manage::AdminStore) port of `m2m-manage`.
//! - [`table`]: creating the table and turning on its deletion protection.
//!
//! Shared by those: one strongly consistent `BatchGetItem` with the retry of unprocessed
//! keys, and bounded paging over the SDK's paginators.

pub mod admin;
mod batch;
pub mod directory;
pub mod item;
mod json;
mod paging;
mod quota;
pub mod registry;
pub mod revocation;
pub mod table;

pub use admin::{DynamoAdminStore, MAX_CREATE_GRANTS};
pub use directory::DynamoDirectory;
pub use registry::DynamoKeyRegistry;
pub use revocation::DynamoRevocations;
pub use table::{create_table, protect_table, TableCreation};
