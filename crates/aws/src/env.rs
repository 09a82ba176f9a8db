//! Parsing helpers for the functions' configuration: each function reads its own
//! `M2M_*` variables once at cold start (DESIGN.md "Configuration") through an [`Env`],
//! which trims values, treats an empty value as unset and reports a [`ConfigError`] that
//! names the variable, never its value.

use std::time::Duration;

use m2m_core::auth::DEFAULT_MAX_ASSERTION_LIFETIME;

/// The variable listing trusted external issuers (workload identity federation).
pub const TRUSTED_ISSUERS_VARIABLE: &str = "M2M_TRUSTED_ISSUERS";
/// The variable bounding a client assertion's lifetime.
pub const MAX_LIFETIME_VARIABLE: &str = "M2M_ASSERTION_MAX_LIFETIME";

/// A missing or malformed environment variable. Its `Display` names the variable, so
/// a failed cold start says what to fix.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong with it (never its value: a variable could hold something private).
    pub problem: String,
}

impl ConfigError {
    /// The variable `variable` is wrong in the way `problem` says.
    pub fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        Self {
            variable,
            problem: problem.into(),
        }
    }
}

/// Variables read through a lookup: the process environment in production, a map in
/// tests, so tests never mutate the process environment.
pub struct Env<F>(F);

impl<F: Fn(&str) -> Option<String>> Env<F> {
    /// Variables read through `lookup`.
    pub fn new(lookup: F) -> Self {
        Env(lookup)
    }

    /// The trimmed value of `name`; unset or empty reads as `None`.
    pub fn optional(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// The trimmed value of `name`.
    ///
    /// # Errors
    /// A [`ConfigError`] when it is unset or empty.
    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name)
            .ok_or_else(|| ConfigError::new(name, "is not set"))
    }

    /// What client assertions the deployment accepts: `M2M_TRUSTED_ISSUERS` (external
    /// issuers, exact `iss` values, comma- or space-separated, each a valid issuer) and
    /// `M2M_ASSERTION_MAX_LIFETIME` (seconds, 60 to 3600, default
    /// [`DEFAULT_MAX_ASSERTION_LIFETIME`]): the trusted issuers and the lifetime bound.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the malformed variable.
    pub fn assertion_policy(&self) -> Result<(Vec<String>, u64), ConfigError> {
        let mut trusted = Vec::new();
        for issuer in self
            .optional(TRUSTED_ISSUERS_VARIABLE)
            .unwrap_or_default()
            .split([',', ' ', '\n'])
            .filter(|i| !i.is_empty())
        {
            validate_issuer(issuer).map_err(|p| ConfigError::new(TRUSTED_ISSUERS_VARIABLE, p))?;
            trusted.push(issuer.to_owned());
        }
        let lifetime = match self.optional(MAX_LIFETIME_VARIABLE) {
            None => DEFAULT_MAX_ASSERTION_LIFETIME,
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|s| (60..=3600).contains(s))
                .ok_or_else(|| {
                    ConfigError::new(
                        MAX_LIFETIME_VARIABLE,
                        "must be a whole number of seconds between 60 and 3600",
                    )
                })?,
        };
        Ok((trusted, lifetime))
    }

    /// An issuer identifier (see [`validate_issuer`]).
    ///
    /// # Errors
    /// A [`ConfigError`] when it is unset or not a valid issuer.
    pub fn issuer(&self, name: &'static str) -> Result<String, ConfigError> {
        let issuer = self.required(name)?;
        validate_issuer(&issuer).map_err(|p| ConfigError::new(name, p))?;
        Ok(issuer)
    }

    /// A whole number of milliseconds between 1 and `max_ms`; `default` when unset.
    ///
    /// # Errors
    /// A [`ConfigError`] when it is not such a number.
    pub fn millis(
        &self,
        name: &'static str,
        default: Duration,
        max_ms: u64,
    ) -> Result<Duration, ConfigError> {
        match self.optional(name) {
            None => Ok(default),
            Some(v) => match v.parse::<u64>() {
                Ok(ms) if (1..=max_ms).contains(&ms) => Ok(Duration::from_millis(ms)),
                _ => Err(ConfigError::new(
                    name,
                    format!("must be a whole number of milliseconds between 1 and {max_ms}"),
                )),
            },
        }
    }
}

/// RFC 8414 §2: the issuer identifier is a URL using the `https` scheme with no query
/// or fragment components. Plain `http` is accepted as well, for the local stack
/// (`http://127.0.0.1:9000`).
///
/// # Errors
/// The problem, in words fit for a `ConfigError`.
pub fn validate_issuer(issuer: &str) -> Result<(), &'static str> {
    let rest = issuer
        .strip_prefix("https://")
        .or_else(|| issuer.strip_prefix("http://"))
        .ok_or("must be an absolute http(s) URL")?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err("must be an absolute http(s) URL with a host and no user info");
    }
    if issuer.contains(['?', '#']) {
        return Err("must not have a query or fragment (RFC 8414 §2)");
    }
    if issuer.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain whitespace");
    }
    Ok(())
}
