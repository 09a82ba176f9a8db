//! m2m-fetch: the outbound HTTPS adapter of m2m-auth. [`HttpKeySets`] implements
//! `m2m_core`'s [`KeySets`](m2m_core::ports::KeySets) port: it fetches a client's
//! registered `jwks_uri` (`private_key_jwt`, RFC 7523) or a trusted issuer's JWK Set
//! through its OpenID discovery document (OpenID Connect Discovery 1.0 §4), parses it
//! as a JWK Set (RFC 7517 §5) and caches it per source.
//!
//! # Server-side request forgery
//!
//! Those URLs are chosen by customers, not by the operator. Fetched naively, a
//! `jwks_uri` of `http://169.254.169.254/latest/meta-data/iam/...` would make the
//! token function read the instance metadata service; `http://127.0.0.1:9001/...`
//! reaches the Lambda runtime API; a VPC address reaches the deployment's own
//! network. The [`FetchPolicy`] refuses all of that:
//!
//! - `https` only, no user info in the URL, any port;
//! - only globally routable unicast addresses ([`address::classify`]): loopback,
//!   private, link-local, shared (CGNAT), unspecified, broadcast, multicast,
//!   documentation, benchmarking and reserved ranges are refused, in IPv4 and IPv6,
//!   and also when an IPv6 address carries one of them (IPv4-mapped, NAT64, 6to4);
//! - enforced when connecting, not only before: every DNS name is resolved by a guard
//!   that refuses the name if any of its addresses is refused, and hands the connector
//!   exactly the addresses it checked, so DNS rebinding between check and connection
//!   gains nothing; IP-literal hosts, which the HTTP client connects to without
//!   resolving, are checked before the request, and the peer address of every answer
//!   is checked again;
//! - no redirects (a `3xx` is a refusal), no proxy, only `200` with a JSON media type,
//!   a body of at most 64 KiB read incrementally, one deadline per exchange (3 s).
//!
//! A local stack may allow loopback and plain `http` through
//! [`FetchPolicy::from_env`], in a debug build only.
//!
//! # Dependencies
//!
//! reqwest 0.12 without default features, plus `rustls-tls-webpki-roots`: rustls
//! with the compiled-in Mozilla root store (no file system or OS store to read in a
//! Lambda) and ring as the crypto provider, already in the tree through jsonwebtoken
//! (a process-wide provider installed by the AWS SDK, if any, takes precedence). No
//! OpenSSL, no HTTP/2, no system proxy, no cookies, no decompression.
#![deny(missing_docs)]

pub mod address;
mod document;
mod http;
mod key_sets;
mod policy;
mod resolve;

pub use address::{classify, AddressClass};
pub use key_sets::HttpKeySets;
pub use policy::{FetchPolicy, ALLOW_LOOPBACK_VARIABLE};
