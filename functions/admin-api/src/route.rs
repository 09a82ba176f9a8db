//! The management API's routes: a request's method and path (under `/admin/v1/`) as a
//! [`Route`]. Path segments are percent-decoded (RFC 3986 §2.1), so an API identifier,
//! itself a URL, travels as one segment: `/admin/v1/apis/https%3A%2F%2Fapi.example.com`.

use http::Method;
use percent_encoding::percent_decode_str;

/// The prefix every route lives under.
pub const PREFIX: &str = "/admin/v1";

/// A client's or an organization's status switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Switch {
    /// `/disable`.
    Disable,
    /// `/enable`.
    Enable,
}

/// A signing-key transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyStep {
    /// `/activate`.
    Activate,
    /// `/retire`.
    Retire,
    /// `/revoke`.
    Revoke,
}

/// A resource of the management API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resource {
    /// `/apis`.
    Apis,
    /// `/apis/{api}`.
    Api(String),
    /// `/clients`.
    Clients,
    /// `/clients/{id}`.
    Client(String),
    /// `/clients/{id}/disable|enable`.
    ClientSwitch(String, Switch),
    /// `/clients/{id}/grants`.
    Grants(String),
    /// `/clients/{id}/grants/{api}`.
    Grant(String, String),
    /// `/clients/{id}/secrets`.
    Secrets(String),
    /// `/clients/{id}/secrets/{secret_id}`.
    Secret(String, String),
    /// `/clients/{id}/keys`: the client's registered public keys.
    ClientKeys(String),
    /// `/clients/{id}/keys/{kid}`.
    ClientKey(String, String),
    /// `/clients/{id}/jwks-uri`.
    JwksUri(String),
    /// `/clients/{id}/trust-rules`.
    TrustRules(String),
    /// `/clients/{id}/trust-rules/{rule}`.
    TrustRule(String, String),
    /// `/keys`.
    Keys,
    /// `/keys/{kid}/activate|retire|revoke`.
    KeyStep(String, KeyStep),
    /// `/orgs/{org}/clients`.
    OrgClients(String),
    /// `/orgs/{org}/disable|enable`.
    OrgSwitch(String, Switch),
}

impl Resource {
    /// Parses a request path; `None` when it names no resource.
    pub fn parse(path: &str) -> Option<Self> {
        let rest = path.strip_prefix(PREFIX)?;
        let rest = rest.strip_prefix('/')?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let segments: Vec<String> = rest
            .split('/')
            .map(|s| percent_decode_str(s).decode_utf8().map(|c| c.into_owned()))
            .collect::<Result<_, _>>()
            .ok()?;
        if segments.iter().any(String::is_empty) {
            return None;
        }
        let s: Vec<&str> = segments.iter().map(String::as_str).collect();
        let owned = |x: &str| x.to_owned();
        Some(match s.as_slice() {
            ["apis"] => Self::Apis,
            ["apis", api] => Self::Api(owned(api)),
            ["clients"] => Self::Clients,
            ["clients", id] => Self::Client(owned(id)),
            ["clients", id, "disable"] => Self::ClientSwitch(owned(id), Switch::Disable),
            ["clients", id, "enable"] => Self::ClientSwitch(owned(id), Switch::Enable),
            ["clients", id, "grants"] => Self::Grants(owned(id)),
            ["clients", id, "grants", api] => Self::Grant(owned(id), owned(api)),
            ["clients", id, "secrets"] => Self::Secrets(owned(id)),
            ["clients", id, "secrets", sid] => Self::Secret(owned(id), owned(sid)),
            ["clients", id, "keys"] => Self::ClientKeys(owned(id)),
            ["clients", id, "keys", kid] => Self::ClientKey(owned(id), owned(kid)),
            ["clients", id, "jwks-uri"] => Self::JwksUri(owned(id)),
            ["clients", id, "trust-rules"] => Self::TrustRules(owned(id)),
            ["clients", id, "trust-rules", rule] => Self::TrustRule(owned(id), owned(rule)),
            ["keys"] => Self::Keys,
            ["keys", kid, "activate"] => Self::KeyStep(owned(kid), KeyStep::Activate),
            ["keys", kid, "retire"] => Self::KeyStep(owned(kid), KeyStep::Retire),
            ["keys", kid, "revoke"] => Self::KeyStep(owned(kid), KeyStep::Revoke),
            ["orgs", org, "clients"] => Self::OrgClients(owned(org)),
            ["orgs", org, "disable"] => Self::OrgSwitch(owned(org), Switch::Disable),
            ["orgs", org, "enable"] => Self::OrgSwitch(owned(org), Switch::Enable),
            _ => return None,
        })
    }

    /// The methods the resource answers (the `Allow` of a 405, RFC 9110 §15.5.6).
    pub fn allowed(&self) -> &'static [Method] {
        match self {
            Self::Apis
            | Self::Clients
            | Self::Secrets(_)
            | Self::Keys
            | Self::ClientKeys(_)
            | Self::TrustRules(_) => &[Method::GET, Method::POST],
            Self::Api(_) | Self::Client(_) => &[Method::GET, Method::PATCH, Method::DELETE],
            Self::Grant(..) => &[Method::PUT, Method::DELETE],
            Self::Grants(_) | Self::OrgClients(_) => &[Method::GET],
            Self::Secret(..) => &[Method::DELETE],
            Self::ClientKey(..) => &[Method::PATCH, Method::DELETE],
            Self::JwksUri(_) => &[Method::PUT, Method::DELETE],
            Self::TrustRule(..) => &[Method::GET, Method::DELETE],
            Self::ClientSwitch(..) | Self::KeyStep(..) | Self::OrgSwitch(..) => &[Method::POST],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_identifier_one_segment() {
        assert_eq!(
            Resource::parse("/admin/v1/apis/https%3A%2F%2Fapi.example.com%2Forders"),
            Some(Resource::Api("https://api.example.com/orders".into()))
        );
        assert_eq!(
            Resource::parse("/admin/v1/clients/c1/grants/https%3A%2F%2Fa"),
            Some(Resource::Grant("c1".into(), "https://a".into()))
        );
    }

    #[test]
    fn unknown_paths_none() {
        for p in [
            "/admin/v2/apis",
            "/admin/v1",
            "/admin/v1/",
            "/admin/v1/nope",
            "/admin/v1/clients//grants",
            "/admin/v1/clients/c1/secrets/s1/x",
            "/admin/v1/keys/k1",
            "/admin/v1/apis/%FF",
        ] {
            assert_eq!(Resource::parse(p), None, "{p}");
        }
    }

    #[test]
    fn secretless_routes_parsed() {
        assert_eq!(
            Resource::parse("/admin/v1/clients/c1/keys"),
            Some(Resource::ClientKeys("c1".into()))
        );
        assert_eq!(
            Resource::parse("/admin/v1/clients/c1/keys/-k%2F1"),
            Some(Resource::ClientKey("c1".into(), "-k/1".into()))
        );
        assert_eq!(
            Resource::parse("/admin/v1/clients/c1/jwks-uri"),
            Some(Resource::JwksUri("c1".into()))
        );
        assert_eq!(
            Resource::parse("/admin/v1/clients/c1/trust-rules/"),
            Some(Resource::TrustRules("c1".into()))
        );
        assert_eq!(
            Resource::parse("/admin/v1/clients/c1/trust-rules/tr_1"),
            Some(Resource::TrustRule("c1".into(), "tr_1".into()))
        );
        assert_eq!(Resource::parse("/admin/v1/clients/c1/jwks-uri/x"), None);
        assert_eq!(
            Resource::parse("/admin/v1/clients/c1/trust-rules/tr_1/x"),
            None
        );
    }

    #[test]
    fn trailing_slash_same_resource() {
        assert_eq!(
            Resource::parse("/admin/v1/clients/"),
            Some(Resource::Clients)
        );
    }
}
