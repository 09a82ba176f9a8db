//! m2m-core: the domain of m2m-auth, an OAuth 2.0 client credentials (RFC 6749 §4.4)
//! authorization server. No AWS and no Lambda here: adapters implement the [`ports`].
#![deny(missing_docs)]

pub mod access_token;
pub mod alg;
pub mod assertion;
pub mod auth;
pub mod basic;
pub mod cache;
pub mod claims;
pub mod error;
pub mod hook;
pub mod http_response;
pub mod introspection;
pub mod issue;
pub mod jwk;
pub mod jws;
pub mod keys;
pub mod model;
pub mod ports;
pub mod publication;
pub mod quota;
pub mod request;
pub mod reuse;
pub mod revocation;
pub mod secret;
pub mod signature;
pub mod types;
pub mod wire;

#[cfg(feature = "testing")]
pub mod testing;

pub use error::OAuthError;
pub use issue::{issue_token, IssuerConfig, TokenResponse};
pub use request::{parse_token_request, TokenRequest};
