//! Newtypes for values that must not mix: identifiers, scopes and secrets.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a string.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }
            /// The string form.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_newtype!(
    /// A client identifier (RFC 6749 §2.2), also the token's `sub` and `client_id`.
    ClientId
);
string_newtype!(
    /// An API (resource server) identifier: the token's `aud` (RFC 8707 resource).
    Audience
);
string_newtype!(
    /// One scope token (RFC 6749 §3.3).
    Scope
);
string_newtype!(
    /// A key id: the RFC 7638 JWK thumbprint of the signing key's public key.
    Kid
);
string_newtype!(
    /// The organization (customer) a client was created for.
    OrgId
);
string_newtype!(
    /// The id of one of a client's secrets (not the secret itself).
    SecretId
);

/// A string that is not one scope token (RFC 6749 §3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "not a scope token: use printable ASCII without spaces, quotes or backslashes (RFC 6749 §3.3)"
)]
pub struct InvalidScope;

impl Scope {
    /// Parses one scope token, `1*( %x21 / %x23-5B / %x5D-7E )` (RFC 6749 §3.3):
    /// printable ASCII except space, `"` and `\`. The one place that rule is written;
    /// every reader of scopes (requests, stored records, the operator CLI) goes
    /// through it.
    pub fn parse(token: &str) -> Result<Self, InvalidScope> {
        let nqchar = |b: u8| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b);
        if !token.is_empty() && token.bytes().all(nqchar) {
            Ok(Self::new(token))
        } else {
            Err(InvalidScope)
        }
    }
}

impl std::str::FromStr for Scope {
    type Err = InvalidScope;

    fn from_str(token: &str) -> Result<Self, Self::Err> {
        Self::parse(token)
    }
}

/// A set of scopes, kept sorted so that its wire form is canonical.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ScopeSet(BTreeSet<Scope>);

impl ScopeSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a space-delimited `scope` value (RFC 6749 §3.3). Empty tokens (from
    /// repeated spaces) are skipped; a token that is not a scope ([`Scope::parse`])
    /// makes it invalid and returns `None`.
    pub fn parse(value: &str) -> Option<Self> {
        let mut set = BTreeSet::new();
        for token in value.split(' ').filter(|s| !s.is_empty()) {
            set.insert(Scope::parse(token).ok()?);
        }
        Some(Self(set))
    }

    /// True when no scope is in the set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of scopes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when `scope` is in the set.
    pub fn contains(&self, scope: &Scope) -> bool {
        self.0.contains(scope)
    }

    /// True when every scope of `self` is in `other`.
    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    /// The scopes of `self` that are also in `other`.
    pub fn intersection(&self, other: &ScopeSet) -> ScopeSet {
        ScopeSet(self.0.intersection(&other.0).cloned().collect())
    }

    /// The scopes of `self` that are not in `other`.
    pub fn difference(&self, other: &ScopeSet) -> ScopeSet {
        ScopeSet(self.0.difference(&other.0).cloned().collect())
    }

    /// Adds one scope.
    pub fn insert(&mut self, scope: Scope) {
        self.0.insert(scope);
    }

    /// The scopes, in sorted order.
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    /// The space-delimited wire form, sorted.
    pub fn to_wire(&self) -> String {
        let mut out = String::new();
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(s.as_str());
        }
        out
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl<'a> FromIterator<&'a str> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = &'a str>>(iter: I) -> Self {
        Self(iter.into_iter().map(Scope::new).collect())
    }
}

/// A client secret as presented by a caller. Never logged, never serialized: its
/// `Debug` is redacted, it has no `Display` or `Serialize`, and it compares in
/// constant time (RFC 6749 §10.3 / §2.3.1 "MUST NOT" leak credentials).
#[derive(Clone)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret's characters. Call sites are few and audited: hashing, and the
    /// one-time display of a freshly generated secret by the operator CLI.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

impl PartialEq for ClientSecret {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for ClientSecret {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_parse_sorted_and_deduplicated() {
        let s = ScopeSet::parse("b a  b").unwrap();
        assert_eq!(s.to_wire(), "a b");
    }

    #[test]
    fn scope_parse_rejects_quote_and_backslash() {
        assert!(ScopeSet::parse("a\"b").is_none());
        assert!(ScopeSet::parse("a\\b").is_none());
        assert!(ScopeSet::parse("caf\u{e9}").is_none());
    }

    #[test]
    fn scope_token_bounds_of_nqchar() {
        // RFC 6749 §3.3: %x21 / %x23-5B / %x5D-7E, at least one.
        for ok in ["!", "#", "[", "]", "~", "read:orders"] {
            assert_eq!(Scope::parse(ok), Ok(Scope::new(ok)), "{ok}");
        }
        for bad in ["", " ", "a b", "\"", "\\", "\u{7f}", "a\tb", "\u{e9}"] {
            assert_eq!(Scope::parse(bad), Err(InvalidScope), "{bad:?}");
        }
        assert_eq!("x:y".parse::<Scope>(), Ok(Scope::new("x:y")));
    }

    #[test]
    fn client_secret_debug_redacted() {
        let s = ClientSecret::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
