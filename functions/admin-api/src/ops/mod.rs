//! The operations: each route's method mapped to one use case of `m2m-manage`, its
//! input read from the request and its result rendered.

use http::Method;
use m2m_core::types::{Scope, ScopeSet};
use m2m_manage::keys::KeyVault;
use m2m_manage::AdminStore;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};

use crate::reply::Problem;
use crate::route::{KeyStep, Resource, Switch};
use crate::{Call, Outcome};

mod apis;
mod client_keys;
mod clients;
mod keys;
mod orgs;
mod trust;

/// What a path segment written into a `Location` percent-encodes: everything but
/// RFC 3986 §2.3's unreserved characters.
pub(crate) const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Runs the operation `method` on `resource` (the method is one the resource allows).
pub(crate) async fn dispatch<S: AdminStore, V: KeyVault>(
    call: &Call<'_, S, V>,
    method: &Method,
    resource: &Resource,
) -> Outcome {
    match (resource, method.as_str()) {
        (Resource::Apis, "GET") => apis::list(call).await,
        (Resource::Apis, _) => apis::create(call).await,
        (Resource::Api(id), "GET") => apis::get(call, id).await,
        (Resource::Api(id), "PATCH") => apis::update(call, id).await,
        (Resource::Api(id), _) => apis::delete(call, id).await,
        (Resource::Clients, "GET") => clients::list(call, None).await,
        (Resource::Clients, _) => clients::create(call).await,
        (Resource::Client(id), "GET") => clients::get(call, id).await,
        (Resource::Client(id), "PATCH") => clients::update(call, id).await,
        (Resource::Client(id), _) => clients::delete(call, id).await,
        (Resource::ClientSwitch(id, s), _) => clients::switch(call, id, *s).await,
        (Resource::Grants(id), _) => clients::grants(call, id).await,
        (Resource::Grant(id, api), "PUT") => clients::put_grant(call, id, api).await,
        (Resource::Grant(id, api), _) => clients::delete_grant(call, id, api).await,
        (Resource::Secrets(id), _) => clients::rotate(call, id).await,
        (Resource::Secret(id, sid), _) => clients::revoke_secret(call, id, sid).await,
        (Resource::ClientKeys(id), "GET") => client_keys::list(call, id).await,
        (Resource::ClientKeys(id), _) => client_keys::add(call, id).await,
        (Resource::ClientKey(id, kid), "PATCH") => client_keys::expire(call, id, kid).await,
        (Resource::ClientKey(id, kid), _) => client_keys::remove(call, id, kid).await,
        (Resource::JwksUri(id), "PUT") => client_keys::set_jwks_uri(call, id).await,
        (Resource::JwksUri(id), _) => client_keys::clear_jwks_uri(call, id).await,
        (Resource::TrustRules(id), "GET") => trust::list(call, id).await,
        (Resource::TrustRules(id), _) => trust::add(call, id).await,
        (Resource::TrustRule(id, rule), "GET") => trust::get(call, id, rule).await,
        (Resource::TrustRule(id, rule), _) => trust::remove(call, id, rule).await,
        (Resource::Keys, "GET") => keys::list(call).await,
        (Resource::Keys, _) => keys::create(call).await,
        (Resource::KeyStep(kid, step), _) => keys::step(call, kid, *step).await,
        (Resource::OrgClients(org), _) => clients::list(call, Some(org)).await,
        (Resource::OrgSwitch(org, s), _) => orgs::switch(call, org, *s).await,
    }
}

/// The audit name of an operation.
pub(crate) fn action(method: &Method, resource: &Resource) -> &'static str {
    match (resource, method.as_str()) {
        (Resource::Apis, _) => "api.create",
        (Resource::Api(_), "PATCH") => "api.update",
        (Resource::Api(_), _) => "api.delete",
        (Resource::Clients, _) => "client.create",
        (Resource::Client(_), "PATCH") => "client.update",
        (Resource::Client(_), _) => "client.delete",
        (Resource::ClientSwitch(_, Switch::Disable), _) => "client.disable",
        (Resource::ClientSwitch(_, Switch::Enable), _) => "client.enable",
        (Resource::Grant(..), "PUT") => "grant.put",
        (Resource::Grant(..), _) => "grant.delete",
        (Resource::Grants(_), _) => "grant.list",
        (Resource::Secrets(_), _) => "secret.rotate",
        (Resource::Secret(..), _) => "secret.revoke",
        (Resource::ClientKeys(_), "GET") => "client_key.list",
        (Resource::ClientKeys(_), _) => "client_key.add",
        (Resource::ClientKey(..), "PATCH") => "client_key.expire",
        (Resource::ClientKey(..), _) => "client_key.remove",
        (Resource::JwksUri(_), "PUT") => "jwks_uri.set",
        (Resource::JwksUri(_), _) => "jwks_uri.clear",
        (Resource::TrustRules(_), "GET") => "trust_rule.list",
        (Resource::TrustRules(_), _) => "trust_rule.add",
        (Resource::TrustRule(..), "GET") => "trust_rule.get",
        (Resource::TrustRule(..), _) => "trust_rule.remove",
        (Resource::Keys, _) => "key.create",
        (Resource::KeyStep(_, KeyStep::Activate), _) => "key.activate",
        (Resource::KeyStep(_, KeyStep::Retire), _) => "key.retire",
        (Resource::KeyStep(_, KeyStep::Revoke), _) => "key.revoke",
        (Resource::OrgClients(_), _) => "org.list",
        (Resource::OrgSwitch(_, Switch::Disable), _) => "org.disable",
        (Resource::OrgSwitch(_, Switch::Enable), _) => "org.enable",
    }
}

/// What an operation is about, as named in its path (`-` for collections).
pub(crate) fn target(resource: &Resource) -> &str {
    match resource {
        Resource::Apis | Resource::Clients | Resource::Keys => "-",
        Resource::Api(id)
        | Resource::Client(id)
        | Resource::ClientSwitch(id, _)
        | Resource::Grants(id)
        | Resource::Grant(id, _)
        | Resource::Secrets(id)
        | Resource::Secret(id, _)
        | Resource::ClientKeys(id)
        | Resource::ClientKey(id, _)
        | Resource::JwksUri(id)
        | Resource::TrustRules(id)
        | Resource::TrustRule(id, _)
        | Resource::KeyStep(id, _)
        | Resource::OrgClients(id)
        | Resource::OrgSwitch(id, _) => id,
    }
}

/// Scopes from a body, each checked against RFC 6749 §3.3.
pub(crate) fn scopes(list: &[String]) -> Result<ScopeSet, Problem> {
    list.iter()
        .map(|s| {
            Scope::parse(s).map_err(|_| {
                Problem::invalid(format!(
                    "{s:?} is not a scope (RFC 6749 §3.3: visible ASCII except \" and \\, no spaces)"
                ))
            })
        })
        .collect()
}
