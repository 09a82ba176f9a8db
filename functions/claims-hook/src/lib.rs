//! The reference custom-claims hook: copy it, change it. It refuses suspended
//! customers and turns `claim.`-prefixed client metadata into namespaced claims;
//! nothing else. The contract (version "1") is `m2m_core::hook`.

use m2m_core::hook::{HookDeny, HookRequest, HookResponse};
use serde_json::{Map, Value};

/// Metadata keys with this prefix become claims: `claim.plan=gold` → `<ns>plan: "gold"`.
pub const CLAIM_PREFIX: &str = "claim.";

/// The claim namespace when `M2M_HOOK_CLAIM_NAMESPACE` is unset. Namespaced (URI)
/// claim names cannot collide with registered ones (RFC 7519 §4.2).
pub const DEFAULT_NAMESPACE: &str = "https://m2m-auth.dev/";

/// Decides one token request.
pub fn decide(request: &HookRequest, namespace: &str) -> HookResponse {
    let metadata = &request.client.metadata;
    if metadata
        .get("suspended")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        return HookResponse {
            deny: Some(HookDeny {
                error_description: "this customer's access is suspended".into(),
            }),
            ..HookResponse::default()
        };
    }
    let claims: Map<String, Value> = metadata
        .iter()
        .filter_map(|(key, value)| {
            let name = key.strip_prefix(CLAIM_PREFIX)?;
            (!name.is_empty()).then(|| (format!("{namespace}{name}"), Value::from(value.as_str())))
        })
        .collect();
    HookResponse {
        claims,
        ..HookResponse::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use m2m_core::hook::HookClient;

    fn request(metadata: &[(&str, &str)]) -> HookRequest {
        HookRequest {
            version: "1".into(),
            client: HookClient {
                id: "c1".into(),
                name: "Acme backend".into(),
                org_id: Some("org_acme".into()),
                metadata: metadata
                    .iter()
                    .map(|(k, v)| ((*k).into(), (*v).into()))
                    .collect(),
            },
            audience: "https://api.example.com".into(),
            scopes: vec!["read".into()],
            claims: Map::new(),
        }
    }

    #[test]
    fn suspended_client_denied() {
        let r = decide(
            &request(&[("suspended", "true"), ("claim.plan", "gold")]),
            DEFAULT_NAMESPACE,
        );
        assert!(r.deny.is_some());
        assert!(r.claims.is_empty());
    }

    #[test]
    fn suspended_false_allowed() {
        assert!(
            decide(&request(&[("suspended", "false")]), DEFAULT_NAMESPACE)
                .deny
                .is_none()
        );
    }

    #[test]
    fn prefixed_metadata_mapped_to_namespaced_claims() {
        let r = decide(
            &request(&[
                ("claim.plan", "gold"),
                ("claim.region", "eu"),
                ("internal_note", "x"),
                ("claim.", "empty"),
            ]),
            "https://acme.example/",
        );
        assert_eq!(r.claims.len(), 2);
        assert_eq!(r.claims["https://acme.example/plan"], "gold");
        assert_eq!(r.claims["https://acme.example/region"], "eu");
        assert!(r.scopes.is_none());
        assert!(r.deny.is_none());
    }

    #[test]
    fn no_metadata_adds_nothing() {
        assert_eq!(
            decide(&request(&[]), DEFAULT_NAMESPACE),
            HookResponse::default()
        );
    }
}
