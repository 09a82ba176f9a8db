//! AWS KMS: the token signer ([`signer`], the [`Signer`](m2m_core::ports::Signer) port),
//! a key's public JWK ([`public_key`]) and the operator's key creation and deletion
//! ([`keys`]).

pub mod keys;
pub mod public_key;
pub mod signer;

pub use public_key::{public_jwk, KmsPublicKey};
pub use signer::KmsSigner;
