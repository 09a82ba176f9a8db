//! Scopes per route (`M2M_ROUTE_SCOPES`): which scopes (RFC 6749 §3.3) a token must
//! carry to call each route of the protected API, keyed by API Gateway's `routeKey`
//! (`"GET /orders"`, `"POST /orders/{id}"`, `"$default"`). A route the map does not
//! name is refused, unless the map has the catch-all [`ANY_ROUTE`]: adding a route to
//! the API without deciding its scopes must not open it.

use std::collections::BTreeMap;

use m2m_core::types::ScopeSet;
use serde_json::Value;

/// The key whose scopes apply to every route not named in the map.
pub const ANY_ROUTE: &str = "*";

/// The scopes each route requires.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteScopes(BTreeMap<String, ScopeSet>);

/// Why a route map could not be read. Never quotes the map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouteScopesError {
    /// Not a JSON object.
    #[error("must be a JSON object mapping route keys to space-delimited scopes")]
    NotAnObject,
    /// A route key is empty.
    #[error("a route key is empty")]
    EmptyRoute,
    /// A value is not a string of space-delimited scope tokens.
    #[error(
        "each route's scopes must be a string of space-delimited scope tokens (RFC 6749 §3.3)"
    )]
    BadScopes,
}

impl RouteScopes {
    /// Parses `{"<routeKey>": "<scope> <scope>", ...}`. An empty string means the
    /// route needs a valid token and no particular scope.
    ///
    /// # Errors
    /// A [`RouteScopesError`] when the text is not such an object.
    pub fn parse(json: &str) -> Result<Self, RouteScopesError> {
        let Ok(Value::Object(map)) = serde_json::from_str::<Value>(json) else {
            return Err(RouteScopesError::NotAnObject);
        };
        let mut routes = BTreeMap::new();
        for (route, scopes) in map {
            if route.trim().is_empty() {
                return Err(RouteScopesError::EmptyRoute);
            }
            let scopes = scopes
                .as_str()
                .and_then(ScopeSet::parse)
                .ok_or(RouteScopesError::BadScopes)?;
            routes.insert(route, scopes);
        }
        Ok(Self(routes))
    }

    /// The scopes `route_key` requires: its own entry, else the [`ANY_ROUTE`] entry;
    /// `None` when neither exists (the route is refused).
    pub fn required(&self, route_key: &str) -> Option<&ScopeSet> {
        self.0.get(route_key).or_else(|| self.0.get(ANY_ROUTE))
    }

    /// How many entries the map has.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when no route is listed (every request is refused).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn set(s: &str) -> ScopeSet {
        ScopeSet::parse(s).unwrap()
    }

    #[test]
    fn listed_routes_and_catch_all() {
        let r = RouteScopes::parse(
            r#"{"GET /orders": "read:orders", "POST /orders": "write:orders read:orders", "GET /health": ""}"#,
        )
        .unwrap();
        assert_eq!(r.required("GET /orders"), Some(&set("read:orders")));
        assert_eq!(
            r.required("POST /orders"),
            Some(&set("read:orders write:orders"))
        );
        assert_eq!(r.required("GET /health"), Some(&ScopeSet::new()));
        assert_eq!(r.required("DELETE /orders"), None);
        assert_eq!(r.required("$default"), None);
        assert_eq!(r.len(), 3);

        let any = RouteScopes::parse(r#"{"*": "admin", "GET /orders": "read:orders"}"#).unwrap();
        assert_eq!(any.required("DELETE /orders"), Some(&set("admin")));
        assert_eq!(any.required("GET /orders"), Some(&set("read:orders")));
    }

    #[test]
    fn malformed_maps_refused() {
        for (bad, want) in [
            ("", RouteScopesError::NotAnObject),
            ("[]", RouteScopesError::NotAnObject),
            ("\"read\"", RouteScopesError::NotAnObject),
            (r#"{"": "read"}"#, RouteScopesError::EmptyRoute),
            (r#"{"GET /a": ["read"]}"#, RouteScopesError::BadScopes),
            (r#"{"GET /a": 1}"#, RouteScopesError::BadScopes),
            (r#"{"GET /a": "re\"ad"}"#, RouteScopesError::BadScopes),
        ] {
            assert_eq!(RouteScopes::parse(bad), Err(want), "{bad}");
        }
        assert!(RouteScopes::parse("{}").unwrap().is_empty());
    }
}
