//! The two documents fetched: a JWK Set (RFC 7517 §5) and an OpenID Provider's
//! configuration (OpenID Connect Discovery 1.0 §4).

use jsonwebtoken::jwk::Jwk;
use m2m_core::error::PortError;
use m2m_core::ports::JwkSet;
use reqwest::Url;
use serde::Deserialize;
use serde_json::Value;

use crate::policy::FetchPolicy;

/// A JWK Set, read leniently: RFC 7517 §5 says a set "MUST" be an object with a
/// `keys` array, and that implementations "SHOULD ignore JWKs within a JWK Set that
/// use 'kty' (key type) values that are not understood by them, that are missing
/// required members, or for which values are out of the supported ranges". So a key
/// that does not parse (an unknown `kty`, an encryption key with an unknown `alg`) is
/// skipped, and the rest are kept; which of them may verify an assertion is the
/// domain's decision. An empty set is a set.
pub(crate) fn parse_jwks(host: &str, body: &[u8]) -> Result<JwkSet, PortError> {
    let not_a_set = || PortError::malformed(format!("{host}: not a JWK Set (RFC 7517 §5)"));
    let doc: Value = serde_json::from_slice(body).map_err(|e| not_a_set().with_source(e))?;
    let Some(Value::Array(entries)) = doc.get("keys") else {
        return Err(not_a_set());
    };
    let total = entries.len();
    let keys: Vec<Jwk> = entries
        .iter()
        .filter_map(|entry| Jwk::deserialize(entry).ok())
        .collect();
    if keys.len() < total {
        tracing::debug!(
            host,
            skipped = total - keys.len(),
            kept = keys.len(),
            "key set: keys not understood were skipped"
        );
    }
    Ok(JwkSet { keys })
}

/// Where an issuer's configuration is: OpenID Connect Discovery §4 — the issuer with
/// any terminating `/` removed, then `/.well-known/openid-configuration`. The issuer
/// must itself be a URL the policy permits, with no query or fragment (§2).
pub(crate) fn discovery_url(policy: &FetchPolicy, issuer: &str) -> Result<Url, PortError> {
    let parsed = policy.parse_url(issuer)?;
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(PortError::refused(format!(
            "{}: an issuer with a query or fragment",
            crate::policy::host_label(&parsed)
        )));
    }
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    policy.parse_url(&url)
}

/// The members of a provider configuration read here (§3); the others are ignored.
#[derive(Deserialize)]
struct ProviderConfiguration {
    issuer: String,
    jwks_uri: String,
}

/// The `jwks_uri` of `issuer`'s configuration `body`. §4.3: "The issuer value
/// returned MUST be identical to the Issuer URL that was used as the prefix to
/// /.well-known/openid-configuration to retrieve the configuration information" —
/// otherwise a host could publish keys on behalf of another issuer. The comparison
/// is exact, without normalisation.
pub(crate) fn discovered_jwks_uri(
    host: &str,
    body: &[u8],
    issuer: &str,
) -> Result<String, PortError> {
    let config: ProviderConfiguration = serde_json::from_slice(body).map_err(|e| {
        PortError::malformed(format!(
            "{host}: not an OpenID provider configuration with issuer and jwks_uri"
        ))
        .with_source(e)
    })?;
    if config.issuer != issuer {
        return Err(PortError::refused(format!(
            "{host}: the configuration names another issuer (OpenID Connect Discovery §4.3)"
        )));
    }
    Ok(config.jwks_uri)
}

#[cfg(test)]
mod tests {
    use m2m_core::error::PortErrorKind;

    use super::*;

    const RSA_N: &str = "u1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0_IzW7yWR7QkrmBL7jTKEn5u-qKhbwKfBstIs-bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW_VDL5AaWTg0nLVkjRo9z-40RQzuVaE8AkAFmxZzow3x-VJYKdjykkJ0iT9wCS0DRTXu269V264Vf_3jvredZiKRkgwlL9xNAwxXFg0x_XFw005UWVRIkdgcKWTjpBP2dPwVZ4WWC-9aGVd-Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbcmw";

    fn kinds(body: &str) -> Result<usize, PortErrorKind> {
        parse_jwks("h", body.as_bytes())
            .map(|s| s.keys.len())
            .map_err(|e| e.kind())
    }

    #[test]
    fn set_of_rsa_and_ec_parsed() {
        let body = format!(
            r#"{{"keys":[{{"kty":"RSA","kid":"r1","use":"sig","alg":"RS256","n":"{RSA_N}","e":"AQAB"}},
            {{"kty":"EC","kid":"e1","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}}],
            "extra":"ignored"}}"#
        );
        let set = parse_jwks("h", body.as_bytes()).unwrap();
        assert_eq!(set.keys.len(), 2);
        assert_eq!(set.keys[0].common.key_id.as_deref(), Some("r1"));
        assert_eq!(set.keys[1].common.key_id.as_deref(), Some("e1"));
    }

    #[test]
    fn unknown_and_broken_keys_skipped() {
        let body = format!(
            r#"{{"keys":[{{"kty":"PQC","kid":"future"}},
            {{"kty":"RSA","kid":"enc","use":"enc","alg":"ECDH-ES+A256KW","n":"{RSA_N}","e":"AQAB"}},
            {{"kty":"RSA","kid":"no-n","e":"AQAB"}},
            "not an object",
            {{"kty":"RSA","kid":"good","n":"{RSA_N}","e":"AQAB"}}]}}"#
        );
        let set = parse_jwks("h", body.as_bytes()).unwrap();
        assert_eq!(set.keys.len(), 1);
        assert_eq!(set.keys[0].common.key_id.as_deref(), Some("good"));
    }

    #[test]
    fn empty_set_parsed() {
        assert_eq!(kinds(r#"{"keys":[]}"#), Ok(0));
    }

    #[test]
    fn not_a_set_malformed() {
        for body in [
            "",
            "not json",
            "[]",
            r#"{"keys":{}}"#,
            r#"{"keys":"x"}"#,
            r#"{"key":[]}"#,
            r#"{"kty":"RSA"}"#,
            "null",
        ] {
            assert_eq!(kinds(body), Err(PortErrorKind::Malformed), "{body:?}");
        }
    }

    #[test]
    fn discovery_url_appended_after_trailing_slash_removed() {
        let p = FetchPolicy::default();
        for (iss, expected) in [
            (
                "https://issuer.example",
                "https://issuer.example/.well-known/openid-configuration",
            ),
            (
                "https://issuer.example/",
                "https://issuer.example/.well-known/openid-configuration",
            ),
            (
                "https://issuer.example/tenant/",
                "https://issuer.example/tenant/.well-known/openid-configuration",
            ),
        ] {
            assert_eq!(discovery_url(&p, iss).unwrap().as_str(), expected);
        }
    }

    #[test]
    fn discovery_url_refusals() {
        let p = FetchPolicy::default();
        for iss in [
            "http://issuer.example",
            "https://issuer.example?x=1",
            "https://issuer.example#f",
            "https://169.254.169.254",
            "https://u@issuer.example",
            "issuer.example",
        ] {
            assert_eq!(
                discovery_url(&p, iss).unwrap_err().kind(),
                PortErrorKind::Refused,
                "{iss}"
            );
        }
    }

    #[test]
    fn discovered_issuer_must_be_identical() {
        let doc = br#"{"issuer":"https://issuer.example","jwks_uri":"https://issuer.example/keys","x":1}"#;
        assert_eq!(
            discovered_jwks_uri("h", doc, "https://issuer.example").unwrap(),
            "https://issuer.example/keys"
        );
        for other in [
            "https://issuer.example/",
            "https://ISSUER.example",
            "https://evil.example",
        ] {
            let e = discovered_jwks_uri("h", doc, other).unwrap_err();
            assert_eq!(e.kind(), PortErrorKind::Refused, "{other}");
        }
    }

    #[test]
    fn configuration_without_members_malformed() {
        for body in [
            r#"{"issuer":"https://i"}"#,
            r#"{"jwks_uri":"https://i/k"}"#,
            r#"{"issuer":1,"jwks_uri":"https://i/k"}"#,
            "[]",
            "nope",
        ] {
            let e = discovered_jwks_uri("h", body.as_bytes(), "https://i").unwrap_err();
            assert_eq!(e.kind(), PortErrorKind::Malformed, "{body}");
        }
    }
}
