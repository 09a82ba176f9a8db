//! The management function's configuration, read once at cold start.

use m2m_aws::env::{ConfigError, Env};

/// The management function's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `M2M_TABLE`: the directory table.
    pub table: String,
    /// `M2M_STACK`: the stack the keys it creates belong to (their tag, and the token
    /// role path their key policy lets sign).
    pub stack: String,
    /// `M2M_PARTITION`: the AWS partition (`aws`), named by new keys' policies.
    pub partition: String,
    /// `M2M_ACCOUNT_ID`: the account that administers new keys.
    pub account_id: String,
}

impl Config {
    /// Reads the process environment.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first missing variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first missing variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env::new(lookup);
        Ok(Self {
            table: env.required("M2M_TABLE")?,
            stack: env.required("M2M_STACK")?,
            partition: env.required("M2M_PARTITION")?,
            account_id: env.required("M2M_ACCOUNT_ID")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_variable_named() {
        let err = Config::from_lookup(|n| (n == "M2M_TABLE").then(|| "t".to_owned())).unwrap_err();
        assert!(err.to_string().contains("M2M_STACK"), "{err}");
    }
}
