//! AWS Lambda: the operator's custom-claims hook invoked synchronously ([`hook`], the
//! [`ClaimsHook`](m2m_core::ports::ClaimsHook) port).

pub mod hook;

pub use hook::LambdaHook;
