//! m2m-testkit: what the tests of every m2m-auth crate share — the local AWS emulator
//! ([`moto`]) and SDK configurations for local endpoints ([`sdk`]), counters of AWS
//! requests and TCP connections ([`counter`]), canned dependency failures
//! ([`canned`]), the SAM template's IAM policies as data ([`template`]), API Gateway
//! events ([`event`]), the whole service under `cargo lambda watch` ([`stack`]),
//! access tokens verified with an independent JWT library
//! ([`jwt`]) and the issuer configuration the fixtures assume ([`issuer_config`]).
//! Never a dependency of a deployed function.
#![deny(missing_docs)]

pub mod canned;
pub mod counter;
pub mod event;
pub mod jwt;
pub mod moto;
pub mod sdk;
pub mod stack;
pub mod template;

pub use canned::{Canned, CannedServer};
pub use counter::{ConnectionCounter, RequestCounter};
pub use moto::{fixture_directory_items, workspace_root, HarnessError, LocalAws};
pub use sdk::local_sdk_config;
pub use template::{iam_actions, role_actions, role_statements, PolicyStatement};

use m2m_core::IssuerConfig;

/// The issuer configuration of the tests: tokens carry `iss` = `issuer` (RFC 8414 §2)
/// and a request must name its audience. A test that varies a field says so with
/// struct update syntax: `IssuerConfig { default_audience: .., ..issuer_config(ISSUER) }`.
pub fn issuer_config(issuer: &str) -> IssuerConfig {
    IssuerConfig {
        issuer: issuer.to_owned(),
        default_audience: None,
        assertions: Default::default(),
    }
}
