//! The JSON forms of the directory's records, as the OpenAPI document
//! (`docs/admin-api.openapi.yaml`) describes them. A client's secrets appear by id and
//! dates only: never a secret or its hash; its keys by kid, type, algorithm and dates
//! only.

use m2m_core::model::{Api, Client, ClientKey, Grant, Match, Reuse, SigningKey, TrustRule};
use m2m_core::types::OrgId;
use m2m_manage::Page;
use serde_json::{json, Value};

/// A client (with `grants` when given).
pub fn client(c: &Client, grants: Option<&[Grant]>, now: u64) -> Value {
    let mut doc = json!({
        "client_id": c.id.as_str(),
        "name": c.name,
        "org_id": c.org_id.as_ref().map(OrgId::as_str),
        "status": c.status.as_str(),
        "metadata": c.metadata,
        "version": c.version,
        "secrets": c.secrets.iter().map(|s| json!({
            "secret_id": s.id.as_str(),
            "created_at": s.created_at,
            "expires_at": s.expires_at,
            "last_used_at": s.last_used_at,
            "expired": s.expires_at.is_some_and(|e| now >= e),
        })).collect::<Vec<_>>(),
        "keys": c.keys.iter().map(|k| client_key(k, now)).collect::<Vec<_>>(),
        "jwks_uri": c.jwks_uri,
    });
    if let Some(grants) = grants {
        doc["grants"] = grants.iter().map(grant_of_client).collect();
    }
    doc
}

/// A client's registered public key: its `kid`, the key type and algorithm the JWK
/// names (`kty`, `alg`, RFC 7517 §4.1, §4.4) and its dates; never the key itself.
pub fn client_key(k: &ClientKey, now: u64) -> Value {
    let jwk: Value = serde_json::from_str(&k.jwk).unwrap_or(Value::Null);
    let member = |name: &str| jwk.get(name).and_then(Value::as_str).map(str::to_owned);
    json!({
        "kid": k.kid,
        "kty": member("kty"),
        "alg": member("alg"),
        "added_at": k.added_at,
        "expires_at": k.expires_at,
        "expired": !k.usable_at(now),
    })
}

/// A trust rule's condition: `{"exact": value}` or `{"glob": pattern}`.
fn condition(m: &Match) -> Value {
    match m {
        Match::Exact(v) => json!({"exact": v}),
        Match::Glob(v) => json!({"glob": v}),
    }
}

/// A trust rule.
pub fn trust_rule(r: &TrustRule) -> Value {
    let claims: serde_json::Map<String, Value> = r
        .claims
        .iter()
        .map(|(k, m)| (k.clone(), condition(m)))
        .collect();
    json!({
        "id": r.id,
        "issuer": r.issuer,
        "subject": condition(&r.subject),
        "audience": r.audience,
        "claims": claims,
        "description": r.description,
        "created_at": r.created_at,
    })
}

/// A page of trust rules.
pub fn trust_rule_page(page: &Page<TrustRule>) -> Value {
    json!({
        "trust_rules": page.items.iter().map(trust_rule).collect::<Vec<_>>(),
        "next_cursor": page.next.as_ref().map(|c| c.0.as_str()),
    })
}

/// A grant as seen from its client.
pub fn grant_of_client(g: &Grant) -> Value {
    json!({
        "api": g.audience.as_str(),
        "scopes": g.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
    })
}

/// A grant with its client.
pub fn grant(g: &Grant) -> Value {
    json!({
        "client_id": g.client_id.as_str(),
        "api": g.audience.as_str(),
        "scopes": g.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
    })
}

/// A page of clients.
pub fn client_page(page: &Page<Client>, now: u64) -> Value {
    json!({
        "clients": page.items.iter().map(|c| client(c, None, now)).collect::<Vec<_>>(),
        "next_cursor": page.next.as_ref().map(|c| c.0.as_str()),
    })
}

fn reuse(r: Reuse) -> Value {
    match r {
        Reuse::Off => json!({"enabled": false}),
        Reuse::On {
            min_remaining_pct,
            with_hook,
        } => {
            json!({"enabled": true, "min_remaining_pct": min_remaining_pct, "with_hook": with_hook})
        }
    }
}

/// An API at `version`.
pub fn api(a: &Api, version: u64) -> Value {
    json!({
        "identifier": a.identifier.as_str(),
        "name": a.name,
        "scopes": a.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "token_lifetime": a.token_lifetime,
        "profile": a.profile.as_str(),
        "reuse": reuse(a.reuse),
        "version": version,
    })
}

/// A signing key.
pub fn key(k: &SigningKey, published: bool) -> Value {
    json!({
        "kid": k.kid.as_str(),
        "alg": k.alg.as_str(),
        "status": k.status.as_str(),
        "kms_key_id": k.kms_key_id,
        "created_at": k.created_at,
        "activated_at": k.activated_at,
        "retired_at": k.retired_at,
        "published": published,
    })
}
