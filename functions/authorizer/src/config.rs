//! The authorizer's configuration: its `M2M_*` environment variables, read once at
//! cold start with the helpers of [`m2m_aws::env`]. A missing or malformed variable
//! stops the cold start with a message naming it (never its value); every request
//! is then refused by API Gateway, which is the safe way to be misconfigured.

pub use m2m_aws::env::ConfigError;
use m2m_aws::env::Env;

use crate::routes::RouteScopes;

/// `M2M_REVOCATION_CACHE_SECONDS` when unset.
pub const DEFAULT_REVOCATION_CACHE_SECONDS: u64 = 30;
/// The largest `M2M_REVOCATION_CACHE_SECONDS` accepted: an hour.
pub const MAX_REVOCATION_CACHE_SECONDS: u64 = 3600;

/// What the authorizer reads at cold start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizerConfig {
    /// `M2M_TABLE`: the directory table (key registry and revocations).
    pub table: String,
    /// `M2M_ISSUER`: the only `iss` accepted (RFC 7519 §4.1.1), exactly as the
    /// token function issues it.
    pub issuer: String,
    /// `M2M_AUDIENCE`: the identifier of the API this authorizer protects; a token's
    /// `aud` must contain it (RFC 7519 §4.1.3, RFC 9068 §4).
    pub audience: String,
    /// `M2M_ROUTE_SCOPES`: the scopes each route requires ([`RouteScopes`]).
    pub routes: RouteScopes,
    /// `M2M_REVOCATION_CACHE_SECONDS` (0..=3600, default 30): how long a read of the
    /// revocation list is reused, so how late a revocation may take effect. 0 reads
    /// the list on every request.
    pub revocation_cache_seconds: u64,
}

impl AuthorizerConfig {
    /// Reads the process environment.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first missing or malformed variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (a map in tests).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first missing or malformed variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env::new(lookup);
        let table = env.required("M2M_TABLE")?;
        let issuer = env.issuer("M2M_ISSUER")?;
        let audience = env.required("M2M_AUDIENCE")?;
        let routes = RouteScopes::parse(&env.required("M2M_ROUTE_SCOPES")?)
            .map_err(|e| ConfigError::new("M2M_ROUTE_SCOPES", e.to_string()))?;
        let revocation_cache_seconds = match env.optional("M2M_REVOCATION_CACHE_SECONDS") {
            None => DEFAULT_REVOCATION_CACHE_SECONDS,
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|s| *s <= MAX_REVOCATION_CACHE_SECONDS)
                .ok_or_else(|| {
                    ConfigError::new(
                        "M2M_REVOCATION_CACHE_SECONDS",
                        format!("must be a whole number of seconds from 0 to {MAX_REVOCATION_CACHE_SECONDS}"),
                    )
                })?,
        };
        Ok(Self {
            table,
            issuer,
            audience,
            routes,
            revocation_cache_seconds,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const BASE: &[(&str, &str)] = &[
        ("M2M_TABLE", "m2m"),
        ("M2M_ISSUER", "https://auth.example.com/"),
        ("M2M_AUDIENCE", "https://api.example.com"),
        ("M2M_ROUTE_SCOPES", r#"{"GET /orders": "read:orders"}"#),
    ];

    fn read(
        overrides: &[(&'static str, Option<&'static str>)],
    ) -> Result<AuthorizerConfig, ConfigError> {
        AuthorizerConfig::from_lookup(|name| {
            if let Some((_, v)) = overrides.iter().find(|(k, _)| *k == name) {
                return v.map(str::to_owned);
            }
            BASE.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn required_variables_and_default_bound() {
        let c = read(&[]).unwrap();
        assert_eq!(c.table, "m2m");
        assert_eq!(c.issuer, "https://auth.example.com/");
        assert_eq!(c.audience, "https://api.example.com");
        assert!(c.routes.required("GET /orders").is_some());
        assert_eq!(c.revocation_cache_seconds, 30);
    }

    #[test]
    fn each_missing_variable_named() {
        for name in [
            "M2M_TABLE",
            "M2M_ISSUER",
            "M2M_AUDIENCE",
            "M2M_ROUTE_SCOPES",
        ] {
            assert_eq!(read(&[(name, None)]).unwrap_err().variable, name);
            assert_eq!(read(&[(name, Some("  "))]).unwrap_err().variable, name);
        }
    }

    #[test]
    fn cache_bound_within_range() {
        for (v, want) in [("0", 0), ("1", 1), ("3600", 3600), (" 45 ", 45)] {
            let c = read(&[("M2M_REVOCATION_CACHE_SECONDS", Some(v))]).unwrap();
            assert_eq!(c.revocation_cache_seconds, want, "{v}");
        }
        for bad in ["3601", "-1", "30s", "1.5", "∞"] {
            let err = read(&[("M2M_REVOCATION_CACHE_SECONDS", Some(bad))]).unwrap_err();
            assert_eq!(err.variable, "M2M_REVOCATION_CACHE_SECONDS", "{bad}");
            assert!(!err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn malformed_route_map_and_issuer_named_without_echo() {
        let err = read(&[("M2M_ROUTE_SCOPES", Some("GET /orders=read:orders"))]).unwrap_err();
        assert_eq!(err.variable, "M2M_ROUTE_SCOPES");
        assert!(!err.to_string().contains("read:orders"), "{err}");
        let err = read(&[("M2M_ISSUER", Some("auth.example.com"))]).unwrap_err();
        assert_eq!(err.variable, "M2M_ISSUER");
    }
}
