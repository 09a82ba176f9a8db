//! The discovery documents: OAuth 2.0 Authorization Server Metadata (RFC 8414 §2) and
//! OpenID Connect Discovery 1.0 (§3), one JSON object serving both, built from the
//! issuer alone at cold start so that answering them costs no AWS call; and the paths
//! they (and the JWK Set) are served at.

use serde_json::{json, Value};

/// The JWK Set path under the issuer (what `jwks_uri` points at).
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
/// OpenID Connect Discovery 1.0 §4: appended to the issuer.
pub const OPENID_CONFIGURATION_PATH: &str = "/.well-known/openid-configuration";
/// RFC 8414 §3: inserted between the issuer's host and its path.
pub const OAUTH_SERVER_PATH: &str = "/.well-known/oauth-authorization-server";
/// The token endpoint path under the issuer (the token function's route).
pub use m2m_core::issue::TOKEN_PATH;
/// The introspection endpoint's path under the issuer (RFC 7662).
pub const INTROSPECTION_PATH: &str = "/oauth/introspect";
/// The revocation endpoint's path under the issuer (RFC 7009).
pub const REVOCATION_PATH: &str = "/oauth/revoke";

/// The algorithms our keys sign with (RFC 7518 §3.1): KMS `RSA_2048` and
/// `ECC_NIST_P256`. Static, so the documents need no registry read.
pub const SIGNING_ALGS: &[&str] = m2m_core::model::Alg::NAMES;

/// The issuer without a trailing slash: the base every endpoint URL is built on, so
/// `https://a.example/` and `https://a.example` both give `https://a.example/oauth/token`.
pub fn base(issuer: &str) -> &str {
    issuer.trim_end_matches('/')
}

/// The path component of the issuer, without a trailing slash (`""` for a bare host,
/// `/Prod` for an API Gateway stage URL).
pub fn issuer_path(issuer: &str) -> &str {
    let base = base(issuer);
    let after_scheme = base.split_once("://").map_or(base, |(_, rest)| rest);
    after_scheme.find('/').map_or("", |i| &after_scheme[i..])
}

/// The metadata object. `issuer` is the configured value byte for byte: RFC 8414 §3.3
/// and OIDC Discovery §4.3 require it to equal the URL the document was fetched for.
///
/// - `token_endpoint`, `jwks_uri` (RFC 8414 §2): absolute, under the issuer, so
///   `https` whenever the issuer is.
/// - `grant_types_supported`: only `client_credentials` (RFC 6749 §4.4).
/// - `token_endpoint_auth_methods_supported`: `client_secret_basic` and
///   `client_secret_post` (RFC 6749 §2.3.1), and `private_key_jwt` (RFC 7523 §2.2,
///   OpenID Connect Core §9), which also carries federated workload tokens.
/// - `token_endpoint_auth_signing_alg_values_supported` (RFC 8414 §2, for
///   `private_key_jwt`): the assertion algorithm allowlist; never `none` nor an HMAC.
/// - `introspection_endpoint` (RFC 8414 §2, RFC 7662) and `revocation_endpoint` (RFC
///   8414 §2, RFC 7009), each with the same client authentication methods and
///   algorithms as the token endpoint (`*_auth_methods_supported`,
///   `*_auth_signing_alg_values_supported`).
/// - `response_types_supported` (REQUIRED by RFC 8414 §2 and OIDC Discovery §3) and
///   `subject_types_supported` (REQUIRED by OIDC Discovery §3): `["token"]` and
///   `["public"]`.
/// - `id_token_signing_alg_values_supported` (REQUIRED by OIDC Discovery §3, which
///   requires RS256 in it): the algorithms of our keys, which OIDC libraries also use
///   to pick the algorithms they accept from `jwks_uri`.
///
/// Omitted on purpose: `authorization_endpoint` (RFC 8414 §2: not required when no
/// grant type uses it) and `scopes_supported` (scopes are per API, not per server).
pub fn metadata(issuer: &str) -> Value {
    let base = base(issuer);
    json!({
        "issuer": issuer,
        "token_endpoint": format!("{base}{TOKEN_PATH}"),
        "jwks_uri": format!("{base}{JWKS_PATH}"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": m2m_core::assertion::ASSERTION_ALGS,
        "introspection_endpoint": format!("{base}{INTROSPECTION_PATH}"),
        "introspection_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "introspection_endpoint_auth_signing_alg_values_supported": m2m_core::assertion::ASSERTION_ALGS,
        "revocation_endpoint": format!("{base}{REVOCATION_PATH}"),
        "revocation_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "revocation_endpoint_auth_signing_alg_values_supported": m2m_core::assertion::ASSERTION_ALGS,
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": SIGNING_ALGS,
    })
}

/// Which document a request path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// The JWK Set (RFC 7517 §5).
    Jwks,
    /// The metadata, under either well-known name.
    Metadata,
}

/// The paths served, derived from the issuer's path `P`: `P/.well-known/jwks.json`,
/// `P/.well-known/openid-configuration` (OIDC Discovery §4.1), and
/// `/.well-known/oauth-authorization-server` + `P` (RFC 8414 §3.1), also accepted as
/// `P/.well-known/oauth-authorization-server`, where many clients look for it. With
/// an issuer that is a bare host these are the three plain paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Routes {
    jwks: String,
    openid: String,
    oauth_rfc8414: String,
    oauth_appended: String,
}

impl Routes {
    /// The routes for `issuer`.
    pub fn new(issuer: &str) -> Self {
        let p = issuer_path(issuer);
        Self {
            jwks: format!("{p}{JWKS_PATH}"),
            openid: format!("{p}{OPENID_CONFIGURATION_PATH}"),
            oauth_rfc8414: format!("{OAUTH_SERVER_PATH}{p}"),
            oauth_appended: format!("{p}{OAUTH_SERVER_PATH}"),
        }
    }

    /// The document at `path`, if any.
    pub fn route(&self, path: &str) -> Option<Route> {
        if path == self.jwks {
            Some(Route::Jwks)
        } else if path == self.openid || path == self.oauth_rfc8414 || path == self.oauth_appended {
            Some(Route::Metadata)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_slash_not_doubled() {
        let m = metadata("https://auth.example.com/");
        assert_eq!(m["issuer"], "https://auth.example.com/");
        assert_eq!(m["token_endpoint"], "https://auth.example.com/oauth/token");
        assert_eq!(
            m["jwks_uri"],
            "https://auth.example.com/.well-known/jwks.json"
        );
    }

    #[test]
    fn issuer_with_path_routes_per_spec() {
        let r = Routes::new("https://x.execute-api.eu-west-1.amazonaws.com/Prod");
        assert_eq!(r.route("/Prod/.well-known/jwks.json"), Some(Route::Jwks));
        assert_eq!(
            r.route("/Prod/.well-known/openid-configuration"),
            Some(Route::Metadata)
        );
        assert_eq!(
            r.route("/.well-known/oauth-authorization-server/Prod"),
            Some(Route::Metadata)
        );
        assert_eq!(
            r.route("/Prod/.well-known/oauth-authorization-server"),
            Some(Route::Metadata)
        );
        assert_eq!(r.route("/.well-known/jwks.json"), None);
    }

    #[test]
    fn bare_host_routes_plain_paths() {
        let r = Routes::new("http://127.0.0.1:9000");
        assert_eq!(r.route("/.well-known/jwks.json"), Some(Route::Jwks));
        assert_eq!(
            r.route("/.well-known/openid-configuration"),
            Some(Route::Metadata)
        );
        assert_eq!(
            r.route("/.well-known/oauth-authorization-server"),
            Some(Route::Metadata)
        );
        assert_eq!(r.route("/.well-known/jwks.json/"), None);
    }
}
