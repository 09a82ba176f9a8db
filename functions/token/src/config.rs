//! The token function's configuration: the `M2M_*` environment variables read once at
//! cold start (DESIGN.md "Configuration"), parsed with the helpers of [`m2m_aws::env`].

use std::time::Duration;

use m2m_aws::env::{ConfigError, Env};
use m2m_aws::lambda::hook::{
    parse_allowed_claims, DEFAULT_HOOK_TIMEOUT, HOOK_ALLOWED_CLAIMS_VARIABLE, HOOK_EPOCH_VARIABLE,
};
use m2m_core::types::Audience;

/// The token function's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `M2M_TABLE`: the DynamoDB table holding the directory.
    pub table: String,
    /// `M2M_ISSUER`: the `iss` of every token, an absolute `http(s)` URL with no query
    /// or fragment (RFC 8414 §2).
    pub issuer: String,
    /// `M2M_SIGNING_KEY`: KMS key id, ARN or alias that signs only while the directory's
    /// key registry holds no key at all (a fresh stack before `m2m-admin init`).
    pub signing_key: String,
    /// `M2M_DEFAULT_AUDIENCE`: the audience when a request names none.
    pub default_audience: Option<Audience>,
    /// `M2M_CLAIMS_HOOK`: the Lambda function (name or ARN) of the custom-claims hook.
    pub claims_hook: Option<String>,
    /// `M2M_HOOK_TIMEOUT_MS`: how long to wait for the hook (default 1500 ms).
    pub hook_timeout: Duration,
    /// `M2M_HOOK_EPOCH`: an operator's epoch (any string, default empty), part of the
    /// hook's identity in the reuse fingerprint: bumping it re-signs every reused token
    /// when the hook's behaviour changes under the same function name.
    pub hook_epoch: String,
    /// `M2M_HOOK_ALLOWED_CLAIMS`: plain claim names (comma- or space-separated) the hook
    /// may set besides collision-resistant ones (RFC 7519 §4.2); reserved names are
    /// left out.
    pub hook_allowed_claims: Vec<String>,
    /// `M2M_TRUSTED_ISSUERS`: the external issuers (exact `iss` values, comma- or
    /// space-separated) whose tokens clients' trust rules may accept (workload
    /// identity federation). Empty: none. Each is an absolute `http(s)` URL with no
    /// query or fragment; the key fetcher refuses anything but https in a deployed
    /// stack.
    pub trusted_issuers: Vec<String>,
    /// `M2M_ASSERTION_MAX_LIFETIME`: how far ahead, in seconds, a client's own
    /// assertion may expire (default 300, at most 3600; RFC 7523 §3 item 4).
    pub assertion_max_lifetime: u64,
}

impl Config {
    /// Reads the process environment.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first missing or malformed variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment in production, a map
    /// in tests, so tests never mutate the process environment).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first missing or malformed variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env::new(lookup);
        let table = env.required("M2M_TABLE")?;
        let issuer = env.issuer("M2M_ISSUER")?;
        let signing_key = env.required("M2M_SIGNING_KEY")?;
        let default_audience = env.optional("M2M_DEFAULT_AUDIENCE").map(Audience::new);
        let claims_hook = env.optional("M2M_CLAIMS_HOOK");
        let hook_timeout = env.millis("M2M_HOOK_TIMEOUT_MS", DEFAULT_HOOK_TIMEOUT, 60_000)?;
        let hook_epoch = env.optional(HOOK_EPOCH_VARIABLE).unwrap_or_default();
        let hook_allowed_claims = env
            .optional(HOOK_ALLOWED_CLAIMS_VARIABLE)
            .map(|v| parse_allowed_claims(&v))
            .unwrap_or_default();
        let (trusted_issuers, assertion_max_lifetime) = env.assertion_policy()?;
        Ok(Self {
            table,
            issuer,
            signing_key,
            default_audience,
            claims_hook,
            hook_timeout,
            hook_epoch,
            hook_allowed_claims,
            trusted_issuers,
            assertion_max_lifetime,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const BASE: &[(&str, &str)] = &[
        ("M2M_TABLE", "m2m"),
        ("M2M_ISSUER", "https://auth.example.com/"),
        ("M2M_SIGNING_KEY", "alias/m2m"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut v: Vec<_> = BASE.to_vec();
        v.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
        v.extend_from_slice(extra);
        v
    }

    #[test]
    fn minimal_env_defaults() {
        let c = Config::from_lookup(env(BASE)).unwrap();
        assert_eq!(c.table, "m2m");
        assert_eq!(c.issuer, "https://auth.example.com/");
        assert_eq!(c.signing_key, "alias/m2m");
        assert_eq!(c.default_audience, None);
        assert_eq!(c.claims_hook, None);
        assert_eq!(c.hook_timeout, DEFAULT_HOOK_TIMEOUT);
    }

    #[test]
    fn assertion_settings_read_and_checked() {
        let c = Config::from_lookup(env(BASE)).unwrap();
        assert!(c.trusted_issuers.is_empty());
        assert_eq!(c.assertion_max_lifetime, 300);
        let c = Config::from_lookup(env(&with(&[
            (
                "M2M_TRUSTED_ISSUERS",
                "https://token.actions.githubusercontent.com, https://oidc.eks.example/id/ABC",
            ),
            ("M2M_ASSERTION_MAX_LIFETIME", "600"),
        ])))
        .unwrap();
        assert_eq!(
            c.trusted_issuers,
            vec![
                "https://token.actions.githubusercontent.com",
                "https://oidc.eks.example/id/ABC"
            ]
        );
        assert_eq!(c.assertion_max_lifetime, 600);
        for (name, value) in [
            ("M2M_TRUSTED_ISSUERS", "not a url"),
            ("M2M_TRUSTED_ISSUERS", "https://a.example/#frag"),
            ("M2M_ASSERTION_MAX_LIFETIME", "59"),
            ("M2M_ASSERTION_MAX_LIFETIME", "3601"),
            ("M2M_ASSERTION_MAX_LIFETIME", "5m"),
        ] {
            let e = Config::from_lookup(env(&with(&[(name, value)]))).unwrap_err();
            assert!(e.to_string().contains(name), "{e}");
        }
    }

    #[test]
    fn optional_variables_read() {
        let c = Config::from_lookup(env(&with(&[
            ("M2M_DEFAULT_AUDIENCE", "https://api.example.com"),
            ("M2M_CLAIMS_HOOK", "claims-hook"),
            ("M2M_HOOK_TIMEOUT_MS", "250"),
        ])))
        .unwrap();
        assert_eq!(
            c.default_audience,
            Some(Audience::new("https://api.example.com"))
        );
        assert_eq!(c.claims_hook.as_deref(), Some("claims-hook"));
        assert_eq!(c.hook_timeout, Duration::from_millis(250));
    }

    #[test]
    fn hook_epoch_and_allowed_claims_read() {
        let c = Config::from_lookup(env(&with(&[
            ("M2M_HOOK_EPOCH", "2026-11"),
            ("M2M_HOOK_ALLOWED_CLAIMS", "tier, plan scp"),
        ])))
        .unwrap();
        assert_eq!(c.hook_epoch, "2026-11");
        // A reserved name in the allowlist is left out: it could never be set anyway.
        assert_eq!(c.hook_allowed_claims, vec!["tier", "plan"]);
        let d = Config::from_lookup(env(BASE)).unwrap();
        assert_eq!(d.hook_epoch, "");
        assert!(d.hook_allowed_claims.is_empty());
    }

    #[test]
    fn missing_variable_named() {
        for name in ["M2M_TABLE", "M2M_ISSUER", "M2M_SIGNING_KEY"] {
            let pairs: Vec<_> = BASE.iter().copied().filter(|(k, _)| *k != name).collect();
            let err = Config::from_lookup(env(&pairs)).unwrap_err();
            assert_eq!(err.variable, name);
            assert!(err.to_string().starts_with(name));
        }
    }

    #[test]
    fn empty_variable_is_missing() {
        let err = Config::from_lookup(env(&with(&[("M2M_TABLE", "  ")]))).unwrap_err();
        assert_eq!(err.variable, "M2M_TABLE");
    }

    #[test]
    fn relative_issuer_rejected() {
        for bad in [
            "auth.example.com",
            "/issuer",
            "ftp://auth.example.com",
            "https://",
            "https:///path",
            "https://auth.example.com/?x=1",
            "https://auth.example.com/#f",
            "https://user@auth.example.com",
            "https://auth example.com",
        ] {
            let err = Config::from_lookup(env(&with(&[("M2M_ISSUER", bad)]))).unwrap_err();
            assert_eq!(err.variable, "M2M_ISSUER", "{bad}");
        }
    }

    #[test]
    fn local_http_issuer_accepted() {
        let c =
            Config::from_lookup(env(&with(&[("M2M_ISSUER", "http://127.0.0.1:9000")]))).unwrap();
        assert_eq!(c.issuer, "http://127.0.0.1:9000");
    }

    #[test]
    fn malformed_hook_timeout_rejected() {
        for bad in ["abc", "0", "-5", "1.5", "600000"] {
            let err = Config::from_lookup(env(&with(&[("M2M_HOOK_TIMEOUT_MS", bad)]))).unwrap_err();
            assert_eq!(err.variable, "M2M_HOOK_TIMEOUT_MS", "{bad}");
        }
    }

    #[test]
    fn error_never_echoes_value() {
        let err =
            Config::from_lookup(env(&with(&[("M2M_HOOK_TIMEOUT_MS", "s3cr3t")]))).unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"));
    }
}
