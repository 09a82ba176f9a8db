//! m2m-aws: the AWS adapters of m2m-auth — the DynamoDB [`directory`], the KMS
//! [`signer`], the Lambda claims [`hook`] — plus the deployment [`config`] and the SDK
//! settings they share. Each implements one port of `m2m_core::ports`.
#![deny(missing_docs)]

pub mod admin_apis;
pub mod admin_clients;
pub mod admin_keys;
pub mod admin_store;
pub mod config;
pub mod directory;
pub mod hook;
pub mod items;
pub mod registry;
pub mod reuse_item;
mod sdk_error;
pub mod signer;
pub mod table;
pub mod telemetry;

pub use admin_store::{AdminStore, StoreError, Versioned};
pub use config::{sdk_config, Config, ConfigError};
pub use directory::DynamoDirectory;
pub use hook::LambdaHook;
pub use signer::{public_jwk, KmsPublicKey, KmsSigner};
pub use table::{create_table, protect_table, TableCreation};
