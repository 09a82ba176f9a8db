//! DynamoDB: the single directory table (DESIGN.md "Data model") and everything that
//! reads or writes it.
//!
//! - [`item`]: the item codecs, one file per item kind, and the attribute helpers.
//! - [`directory`]: the token endpoint's [`Directory`](m2m_core::ports::Directory) port —
//!   one strongly consistent `BatchGetItem` per request, and the reuse cache writes.
//! - [`registry`]: the signing-key registry ([`KeySource`](m2m_core::keys::KeySource),
//!   [`KeyRegistry`](m2m_core::keys::KeyRegistry)) for the signer and the JWKS.
//! - [`admin`]: the operator's conditional reads and writes (`m2m-admin`).
//! - [`table`]: creating the table and turning on its deletion protection.
//!
//! Shared by those: one strongly consistent `BatchGetItem` with the retry of unprocessed
//! keys, and bounded paging over the SDK's paginators.

pub mod admin;
mod batch;
pub mod directory;
pub mod item;
mod paging;
pub mod registry;
pub mod table;

pub use admin::{AdminStore, StoreError, Versioned};
pub use directory::DynamoDirectory;
pub use registry::DynamoKeyRegistry;
pub use table::{create_table, protect_table, TableCreation};
