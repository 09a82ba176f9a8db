//! The configuration of the introspection and revocation function, read once at cold
//! start through [`m2m_aws::env`]: `M2M_TABLE`, `M2M_ISSUER`, and, since callers
//! authenticate like token requests, `M2M_TRUSTED_ISSUERS` and
//! `M2M_ASSERTION_MAX_LIFETIME` as the token function reads them.

use m2m_aws::env::{ConfigError, Env};
use m2m_core::auth::AssertionPolicy;
use m2m_core::IssuerConfig;

/// The function's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `M2M_TABLE`.
    pub table: String,
    /// The issuer and the assertion policy.
    pub issuer: IssuerConfig,
}

impl Config {
    /// Reads the process environment.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first missing or malformed variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first missing or malformed variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env::new(lookup);
        let table = env.required("M2M_TABLE")?;
        let issuer = env.issuer("M2M_ISSUER")?;
        let (trusted_issuers, max_assertion_lifetime) = env.assertion_policy()?;
        Ok(Self {
            table,
            issuer: IssuerConfig {
                issuer,
                default_audience: None,
                assertions: AssertionPolicy {
                    trusted_issuers,
                    max_assertion_lifetime,
                    ..AssertionPolicy::default()
                },
            },
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_table_issuer_and_assertion_policy() {
        let c = Config::from_lookup(|n| match n {
            "M2M_TABLE" => Some("t".into()),
            "M2M_ISSUER" => Some("https://auth.example.com".into()),
            "M2M_TRUSTED_ISSUERS" => Some("https://token.actions.githubusercontent.com".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.table, "t");
        assert_eq!(c.issuer.assertions.trusted_issuers.len(), 1);
        assert_eq!(c.issuer.assertions.max_assertion_lifetime, 300);
        let e = Config::from_lookup(|n| (n == "M2M_TABLE").then(|| "t".into())).unwrap_err();
        assert_eq!(e.variable, "M2M_ISSUER");
    }
}
