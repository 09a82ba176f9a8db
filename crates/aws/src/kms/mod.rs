//! AWS KMS: the token signer ([`signer`], the [`Signer`](m2m_core::ports::Signer) port),
//! a key's public JWK ([`public_key`]), the operator's key creation and deletion
//! ([`keys`], [`policy`]) and the operator rules' key vault ([`vault`]).

pub mod keys;
pub mod policy;
pub mod public_key;
pub mod signer;
pub mod vault;

pub use public_key::{public_jwk, KmsPublicKey};
pub use signer::KmsSigner;
pub use vault::KmsVault;
