//! The fetch policy: what may be fetched (the SSRF guard on URLs and addresses) and
//! the bounds of every fetch (time, size) and of the cache (freshness, refresh floor,
//! stale grace).

use std::net::IpAddr;
use std::time::Duration;

use m2m_core::error::PortError;
use reqwest::Url;

use crate::address::{classify, AddressClass};

/// The environment variable that lets a local stack fetch from loopback over plain
/// `http` (`1` or `true`). Honoured by debug builds only: every deployed build is a
/// release build, which ignores it and warns that it is set.
pub const ALLOW_LOOPBACK_VARIABLE: &str = "M2M_FETCH_ALLOW_LOOPBACK";

/// What may be fetched and within which bounds. [`FetchPolicy::default`] is the
/// deployed policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchPolicy {
    /// Also permit plain `http://` and loopback addresses (127.0.0.0/8, `::1`): a local
    /// stack whose issuer or `jwks_uri` is `http://127.0.0.1:<port>`, and tests. Every
    /// other non-public range stays refused. Never set in a deployed stack.
    pub allow_loopback: bool,
    /// The longest one HTTP exchange may take, from DNS resolution and connecting to
    /// the last byte of the body. An issuer costs two exchanges (discovery, then JWKS).
    pub timeout: Duration,
    /// The largest response body accepted, in bytes; a longer one is refused as soon
    /// as it passes the limit, whatever its `Content-Length` said.
    pub max_bytes: usize,
    /// How long a fetched key set is served without fetching it again.
    pub ttl: Duration,
    /// How long after a fetch (or a failed attempt) a caller's `refresh` is not
    /// honoured: an unknown `kid` picks up a rotation within this, and no caller can
    /// make every request fetch.
    pub refresh_floor: Duration,
    /// How long past `ttl` a key set may still be served when fetching it again fails
    /// (the source is down or answers badly), so a short outage of a client's or an
    /// issuer's host does not fail every assertion. Not used for a `refresh`: the
    /// caller already holds that set and found no key in it. `Duration::ZERO` fails
    /// closed.
    pub stale_for: Duration,
}

impl Default for FetchPolicy {
    /// The deployed policy: https only, public addresses only, 3 s per exchange,
    /// 64 KiB per body, fresh for 5 minutes, refreshed at most every 30 s, served stale
    /// for up to an hour past its freshness while the source fails.
    fn default() -> Self {
        Self {
            allow_loopback: false,
            timeout: Duration::from_secs(3),
            max_bytes: 64 * 1024,
            ttl: Duration::from_secs(300),
            refresh_floor: Duration::from_secs(30),
            stale_for: Duration::from_secs(3600),
        }
    }
}

impl FetchPolicy {
    /// The deployed policy, with [`ALLOW_LOOPBACK_VARIABLE`] read through `lookup`
    /// (the process environment, or a map in tests): `1` or `true` sets
    /// [`allow_loopback`](Self::allow_loopback) in a debug build (the local stack). A
    /// release build ignores it and logs a warning if it is set, so no deployment's
    /// configuration can open the guard.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self::from_env_in(lookup, cfg!(debug_assertions))
    }

    fn from_env_in(lookup: impl Fn(&str) -> Option<String>, debug_build: bool) -> Self {
        let value = lookup(ALLOW_LOOPBACK_VARIABLE)
            .map(|v| v.trim().to_ascii_lowercase())
            .filter(|v| !v.is_empty());
        let requested = match value.as_deref() {
            None | Some("0" | "false") => false,
            Some("1" | "true") => true,
            Some(_) => {
                tracing::warn!(
                    variable = ALLOW_LOOPBACK_VARIABLE,
                    "not 1, true, 0 or false: loopback fetches stay refused"
                );
                false
            }
        };
        if requested && !debug_build {
            tracing::warn!(
                variable = ALLOW_LOOPBACK_VARIABLE,
                "ignored in a release build: key sets are fetched over https from public addresses only"
            );
        }
        Self {
            allow_loopback: requested && debug_build,
            ..Self::default()
        }
    }

    /// Whether an exchange with `ip` is permitted.
    ///
    /// # Errors
    /// The range `ip` falls in, when it is refused.
    pub fn permits(&self, ip: IpAddr) -> Result<(), &'static str> {
        match classify(ip) {
            AddressClass::Public => Ok(()),
            AddressClass::Loopback if self.allow_loopback => Ok(()),
            AddressClass::Loopback => Err("loopback"),
            AddressClass::Forbidden(range) => Err(range),
        }
    }

    /// Whether `url` may be fetched, as far as can be told before resolving its host:
    /// an absolute `https` URL (or `http` when loopback is allowed), no user info, and
    /// an IP-literal host only in a permitted range. A DNS name is checked again when
    /// it is resolved, for every address it resolves to. Useful to refuse a
    /// `jwks_uri` or an issuer when it is registered.
    ///
    /// # Errors
    /// A [`PortError`] of kind `Refused` naming the host at most.
    pub fn check_url(&self, url: &str) -> Result<(), PortError> {
        self.parse_url(url).map(drop)
    }

    /// `url` parsed and checked as [`check_url`](Self::check_url) says.
    pub(crate) fn parse_url(&self, url: &str) -> Result<Url, PortError> {
        let parsed = Url::parse(url)
            .map_err(|e| PortError::refused("not an absolute URL").with_source(e))?;
        self.check_parsed(&parsed)?;
        Ok(parsed)
    }

    /// The checks of [`check_url`](Self::check_url) on a parsed URL; also applied to
    /// every URL right before it is requested.
    pub(crate) fn check_parsed(&self, url: &Url) -> Result<(), PortError> {
        let host = host_label(url);
        match url.scheme() {
            "https" => {}
            "http" if self.allow_loopback => {}
            _ => return Err(PortError::refused(format!("{host}: not an https URL"))),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(PortError::refused(format!("{host}: a URL with user info")));
        }
        let Some(name) = url.host_str() else {
            return Err(PortError::refused("a URL without a host"));
        };
        // reqwest connects to an IP-literal host without calling the resolver, so the
        // guard in `resolve` never sees it: check it here. The URL parser has already
        // turned the numeric IPv4 spellings (`2130706433`, `0x7f.1`) into dotted form.
        let literal = name
            .strip_prefix('[')
            .and_then(|n| n.strip_suffix(']'))
            .unwrap_or(name);
        if let Ok(ip) = literal.parse::<IpAddr>() {
            self.permits(ip).map_err(|range| {
                PortError::refused(format!("{host}: a refused address ({range})"))
            })?;
        }
        Ok(())
    }
}

/// The host of `url`, the most a log message says about where a fetch went.
pub(crate) fn host_label(url: &Url) -> &str {
    url.host_str().unwrap_or("(no host)")
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use m2m_core::error::PortErrorKind;

    use super::*;

    fn deployed() -> FetchPolicy {
        FetchPolicy::default()
    }

    fn local() -> FetchPolicy {
        FetchPolicy {
            allow_loopback: true,
            ..FetchPolicy::default()
        }
    }

    fn refused(policy: &FetchPolicy, url: &str) -> String {
        let e = policy.check_url(url).unwrap_err();
        assert_eq!(e.kind(), PortErrorKind::Refused, "{url}");
        e.message().to_owned()
    }

    #[test]
    fn https_public_host_permitted() {
        for url in [
            "https://login.example.com/keys",
            "https://token.actions.githubusercontent.com/.well-known/jwks",
            "https://example.com:8443/jwks.json",
            "https://8.8.8.8/jwks",
            "https://[2001:4860:4860::8888]/jwks",
        ] {
            assert!(deployed().check_url(url).is_ok(), "{url}");
        }
    }

    #[test]
    fn http_deployed_refused() {
        let m = refused(&deployed(), "http://example.com/jwks");
        assert_eq!(m, "example.com: not an https URL");
    }

    #[test]
    fn other_schemes_refused() {
        for url in [
            "file:///etc/passwd",
            "ftp://example.com/jwks",
            "gopher://example.com/",
        ] {
            refused(&deployed(), url);
            refused(&local(), url);
        }
    }

    #[test]
    fn not_a_url_refused() {
        refused(&deployed(), "/relative/jwks");
        refused(&deployed(), "");
    }

    #[test]
    fn userinfo_refused() {
        for url in [
            "https://user@example.com/jwks",
            "https://user:pass@example.com/jwks",
            "https://:pass@example.com/jwks",
        ] {
            let m = refused(&deployed(), url);
            assert_eq!(m, "example.com: a URL with user info");
            assert!(!m.contains("pass"));
        }
    }

    #[test]
    fn metadata_service_literal_refused() {
        let m = refused(&deployed(), "https://169.254.169.254/latest/meta-data/");
        assert!(
            m.starts_with("169.254.169.254: a refused address (link-local"),
            "{m}"
        );
    }

    #[test]
    fn private_and_loopback_literals_deployed_refused() {
        for url in [
            "https://10.0.0.1/jwks",
            "https://172.16.5.4/jwks",
            "https://192.168.1.1/jwks",
            "https://100.64.0.1/jwks",
            "https://127.0.0.1/jwks",
            "https://0.0.0.0/jwks",
            "https://[::1]/jwks",
            "https://[::]/jwks",
            "https://[fe80::1]/jwks",
            "https://[fd00:ec2::254]/jwks",
            "https://[::ffff:10.0.0.1]/jwks",
            "https://[::ffff:169.254.169.254]/jwks",
            "https://[::ffff:127.0.0.1]/jwks",
            "https://[64:ff9b::a9fe:a9fe]/jwks",
        ] {
            refused(&deployed(), url);
        }
    }

    #[test]
    fn numeric_ipv4_spellings_refused() {
        // WHATWG URL parsing reads these as 127.0.0.1 and 169.254.169.254.
        for url in [
            "https://2130706433/jwks",
            "https://0x7f.1/jwks",
            "https://0177.0.0.1/jwks",
            "https://169.254.43518/jwks",
        ] {
            refused(&deployed(), url);
        }
    }

    #[test]
    fn allow_loopback_permits_http_and_loopback_only() {
        for url in [
            "http://127.0.0.1:9000/jwks",
            "http://[::1]:9000/jwks",
            "https://127.0.0.1/jwks",
            "http://localhost:9000/jwks",
        ] {
            assert!(local().check_url(url).is_ok(), "{url}");
        }
        for url in [
            "http://10.0.0.1/jwks",
            "http://169.254.169.254/latest/meta-data/",
            "https://169.254.169.254/latest/meta-data/",
            "http://192.168.0.1/jwks",
            "http://[fe80::1]/jwks",
            "http://[::ffff:10.0.0.1]/jwks",
            "http://[fd00:ec2::254]/jwks",
            "http://user@127.0.0.1/jwks",
        ] {
            refused(&local(), url);
        }
    }

    #[test]
    fn default_is_deployed() {
        let p = FetchPolicy::default();
        assert!(!p.allow_loopback);
        assert_eq!(p.timeout, Duration::from_secs(3));
        assert_eq!(p.max_bytes, 65_536);
        assert_eq!(p.ttl, Duration::from_secs(300));
        assert_eq!(p.refresh_floor, Duration::from_secs(30));
        assert_eq!(p.stale_for, Duration::from_secs(3600));
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn env_flag_debug_build_honoured() {
        for v in ["1", "true", "TRUE", " true "] {
            let p = FetchPolicy::from_env_in(env(&[(ALLOW_LOOPBACK_VARIABLE, v)]), true);
            assert!(p.allow_loopback, "{v:?}");
        }
        for v in ["0", "false", "", "yes", "on"] {
            let p = FetchPolicy::from_env_in(env(&[(ALLOW_LOOPBACK_VARIABLE, v)]), true);
            assert!(!p.allow_loopback, "{v:?}");
        }
        assert!(!FetchPolicy::from_env_in(env(&[]), true).allow_loopback);
    }

    #[test]
    fn env_flag_release_build_ignored() {
        for v in ["1", "true"] {
            let p = FetchPolicy::from_env_in(env(&[(ALLOW_LOOPBACK_VARIABLE, v)]), false);
            assert_eq!(p, FetchPolicy::default(), "{v:?}");
        }
    }

    #[test]
    fn env_flag_follows_build_profile() {
        let p = FetchPolicy::from_env(env(&[(ALLOW_LOOPBACK_VARIABLE, "1")]));
        assert_eq!(p.allow_loopback, cfg!(debug_assertions));
    }
}
