//! The URLs an operator registers for secretless clients: a client's `jwks_uri`
//! (OpenID Connect Core §9, RFC 7591 §2) and a trust rule's issuer (OpenID Connect
//! Discovery §3, RFC 8414 §2). Both are absolute `https` URLs without userinfo or
//! fragment; an issuer has no query either. Plain `http` is accepted for loopback
//! hosts only (`127.0.0.1`, `localhost`, `[::1]`), so a local stack works.
//!
//! These checks keep mistakes out of the directory; the token endpoint's fetcher
//! enforces the network rules (no private, loopback or link-local addresses in a
//! deployed stack) on every fetch, whatever is stored.

use crate::error::ManageError;

/// Longest URL accepted, bytes.
pub const MAX_URL_LEN: usize = 2048;

/// Hosts plain `http` is accepted for.
const LOOPBACK: &[&str] = &["127.0.0.1", "localhost", "[::1]"];

/// What the URL is for: its name in messages, and whether a query is allowed.
#[derive(Clone, Copy)]
enum Kind {
    JwksUri,
    Issuer,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::JwksUri => "the jwks_uri",
            Self::Issuer => "the issuer",
        }
    }
}

/// Checks a client's `jwks_uri`.
///
/// # Errors
/// [`ManageError::Invalid`] saying what is wrong.
pub fn check_jwks_uri(uri: &str) -> Result<(), ManageError> {
    check(uri, Kind::JwksUri)
}

/// Checks a trust rule's issuer (the external tokens' `iss`, compared byte for byte).
///
/// # Errors
/// [`ManageError::Invalid`] saying what is wrong.
pub fn check_issuer(issuer: &str) -> Result<(), ManageError> {
    check(issuer, Kind::Issuer)
}

fn check(url: &str, kind: Kind) -> Result<(), ManageError> {
    let what = kind.name();
    let invalid = |why: &str| ManageError::Invalid(format!("{what} {why}"));
    if url.is_empty() {
        return Err(invalid("must not be empty"));
    }
    if url.len() > MAX_URL_LEN {
        return Err(invalid(&format!("must be at most {MAX_URL_LEN} bytes")));
    }
    if !url.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(
            "must be ASCII without spaces or control characters (percent-encode the rest)",
        ));
    }
    let (secure, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(invalid("must be an absolute https:// URL"));
    };
    if url.contains('#') {
        return Err(invalid("must not have a fragment (#...)"));
    }
    if matches!(kind, Kind::Issuer) && url.contains('?') {
        return Err(invalid(
            "must not have a query (OpenID Connect Discovery §3: an issuer is a URL with \
             no query or fragment)",
        ));
    }
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.contains('@') {
        return Err(invalid("must not carry credentials (user@host)"));
    }
    let host = host_of(authority).ok_or_else(|| invalid("has no valid host[:port]"))?;
    if !secure && !LOOPBACK.contains(&host.to_ascii_lowercase().as_str()) {
        return Err(invalid(
            "must use https (plain http only for 127.0.0.1, localhost or [::1])",
        ));
    }
    Ok(())
}

/// The host of `authority` (`host`, `host:port`, `[v6]`, `[v6]:port`) when it is well
/// formed: a DNS name or IPv4 address of letters, digits, `-` and `.`, or a bracketed
/// IPv6 literal; a port of 1 to 65535.
fn host_of(authority: &str) -> Option<&str> {
    let (host, port) = if authority.starts_with('[') {
        let close = authority.find(']')?;
        let (host, after) = authority.split_at(close + 1);
        let inner = &host[1..host.len() - 1];
        if inner.is_empty()
            || !inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return None;
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (host, port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if host.is_empty() || !host.trim_end_matches('.').split('.').all(label_ok) {
            return None;
        }
        (host, port)
    };
    if let Some(p) = port {
        if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if !(1..=65_535).contains(&p.parse::<u32>().ok()?) {
            return None;
        }
    }
    Some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_urls_accepted() {
        for ok in [
            "https://customer.example.com/.well-known/jwks.json",
            "https://customer.example.com:8443/keys?tenant=a",
            "https://192.0.2.7/jwks",
            "https://[2001:db8::1]:443/jwks",
            "https://example.com",
            "http://127.0.0.1:9000/jwks.json",
            "http://localhost/jwks",
            "http://[::1]:8080/jwks",
        ] {
            assert!(check_jwks_uri(ok).is_ok(), "{ok}");
        }
        for ok in [
            "https://token.actions.githubusercontent.com",
            "https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE",
            "https://kubernetes.default.svc.cluster.local",
            "http://localhost:8080",
        ] {
            assert!(check_issuer(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn bad_urls_refused() {
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        for bad in [
            "",
            "example.com/jwks",
            "ftp://example.com/jwks",
            "HTTPS://example.com/jwks",
            "//example.com/jwks",
            "https://",
            "https:///jwks",
            "https://user:pw@example.com/jwks",
            "https://example.com/jwks#frag",
            "https://exa mple.com/jwks",
            "https://exämple.com/jwks",
            "https://example.com:0/jwks",
            "https://example.com:65536/jwks",
            "https://example.com:/jwks",
            "https://example.com:x/jwks",
            "https://-example.com/jwks",
            "https://[::1/jwks",
            "https://[]/jwks",
            "http://example.com/jwks",
            "http://10.0.0.1/jwks",
            "http://127.0.0.2/jwks",
            "http://localhost.example.com/jwks",
            long.as_str(),
        ] {
            assert!(check_jwks_uri(bad).is_err(), "{bad}");
        }
        for bad in [
            "https://issuer.example.com?x=1",
            "https://issuer.example.com/#",
            "http://issuer.example.com",
        ] {
            assert!(check_issuer(bad).is_err(), "{bad}");
        }
    }
}
