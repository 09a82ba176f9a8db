//! The JWKS function's configuration: only `M2M_TABLE` and `M2M_ISSUER` (DESIGN.md
//! "Configuration"). It never signs, so it does not need `M2M_SIGNING_KEY`, and a
//! deployment can give it a role without any KMS permission.

pub use m2m_aws::env::ConfigError;
use m2m_aws::env::Env;

/// What the JWKS function reads at cold start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwksConfig {
    /// `M2M_TABLE`: the directory table holding the key registry.
    pub table: String,
    /// `M2M_ISSUER`: the issuer identifier, published verbatim as `issuer`
    /// (RFC 8414 §2, OpenID Connect Discovery 1.0 §3).
    pub issuer: String,
}

impl JwksConfig {
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
    /// A [`ConfigError`] naming the first missing or malformed variable; never its
    /// value.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env::new(lookup);
        Ok(Self {
            table: env.required("M2M_TABLE")?,
            issuer: env.issuer("M2M_ISSUER")?,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn table_and_issuer_suffice() {
        let c = JwksConfig::from_lookup(env(&[
            ("M2M_TABLE", "m2m"),
            ("M2M_ISSUER", "https://auth.example.com/"),
        ]))
        .unwrap();
        assert_eq!(c.table, "m2m");
        assert_eq!(c.issuer, "https://auth.example.com/");
    }

    #[test]
    fn missing_table_named() {
        let err = JwksConfig::from_lookup(env(&[("M2M_ISSUER", "https://a.example")])).unwrap_err();
        assert_eq!(err.variable, "M2M_TABLE");
    }

    #[test]
    fn missing_issuer_named() {
        let err = JwksConfig::from_lookup(env(&[("M2M_TABLE", "t")])).unwrap_err();
        assert_eq!(err.variable, "M2M_ISSUER");
    }

    #[test]
    fn malformed_issuer_rejected_without_echo() {
        for bad in [
            "auth.example.com",
            "https://a.example/?q=s3cr3t",
            "https://a.example/#f",
            "ftp://a",
        ] {
            let lookup = move |name: &str| match name {
                "M2M_TABLE" => Some("t".to_owned()),
                "M2M_ISSUER" => Some(bad.to_owned()),
                _ => None,
            };
            let err = JwksConfig::from_lookup(lookup).unwrap_err();
            assert_eq!(err.variable, "M2M_ISSUER", "{bad}");
            assert!(!err.to_string().contains("s3cr3t"));
        }
    }
}
