//! Attribute helpers shared by the item codecs: encoding of strings, numbers and scope
//! lists, and [`Reader`], which decodes typed attributes and names the attribute at
//! fault (never its value).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use m2m_core::types::{Scope, ScopeSet};

use super::{ItemError, KIND};

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// Scopes as a list of strings: a DynamoDB string set cannot be empty.
pub(super) fn scopes_av(scopes: &ScopeSet) -> AttributeValue {
    AttributeValue::L(scopes.iter().map(|sc| s(sc.as_str())).collect())
}

/// Reads typed attributes of one item (or one nested map), reporting the path.
pub(super) struct Reader<'a> {
    pub(super) item: &'static str,
    pub(super) path: String,
    pub(super) map: &'a HashMap<String, AttributeValue>,
}

impl<'a> Reader<'a> {
    pub(super) fn new(item: &'static str, map: &'a HashMap<String, AttributeValue>) -> Self {
        Self {
            item,
            path: String::new(),
            map,
        }
    }

    pub(super) fn err(&self, attribute: &str, problem: &'static str) -> ItemError {
        ItemError {
            item: self.item,
            attribute: format!("{}{attribute}", self.path),
            problem,
        }
    }

    pub(super) fn opt(&self, name: &str) -> Option<&'a AttributeValue> {
        match self.map.get(name) {
            // An explicit NULL reads as absent.
            Some(AttributeValue::Null(_)) | None => None,
            Some(v) => Some(v),
        }
    }

    pub(super) fn req(&self, name: &str) -> Result<&'a AttributeValue, ItemError> {
        self.opt(name).ok_or_else(|| self.err(name, "is missing"))
    }

    pub(super) fn string(&self, name: &str) -> Result<&'a str, ItemError> {
        match self.req(name)? {
            AttributeValue::S(v) => Ok(v),
            _ => Err(self.err(name, "is not a string")),
        }
    }

    pub(super) fn opt_string(&self, name: &str) -> Result<Option<&'a str>, ItemError> {
        match self.opt(name) {
            None => Ok(None),
            Some(AttributeValue::S(v)) => Ok(Some(v)),
            Some(_) => Err(self.err(name, "is not a string")),
        }
    }

    pub(super) fn number(&self, name: &str) -> Result<u64, ItemError> {
        self.opt_number(name)?
            .ok_or_else(|| self.err(name, "is missing"))
    }

    pub(super) fn opt_number(&self, name: &str) -> Result<Option<u64>, ItemError> {
        match self.opt(name) {
            None => Ok(None),
            Some(AttributeValue::N(v)) => parse_u64(v)
                .map(Some)
                .ok_or_else(|| self.err(name, "is not a non-negative integer")),
            Some(_) => Err(self.err(name, "is not a number")),
        }
    }

    pub(super) fn list(&self, name: &str) -> Result<&'a [AttributeValue], ItemError> {
        match self.req(name)? {
            AttributeValue::L(v) => Ok(v),
            _ => Err(self.err(name, "is not a list")),
        }
    }

    pub(super) fn opt_list(&self, name: &str) -> Result<Option<&'a [AttributeValue]>, ItemError> {
        match self.opt(name) {
            None => Ok(None),
            Some(AttributeValue::L(v)) => Ok(Some(v)),
            Some(_) => Err(self.err(name, "is not a list")),
        }
    }

    pub(super) fn opt_map(
        &self,
        name: &str,
    ) -> Result<Option<&'a HashMap<String, AttributeValue>>, ItemError> {
        match self.opt(name) {
            None => Ok(None),
            Some(AttributeValue::M(v)) => Ok(Some(v)),
            Some(_) => Err(self.err(name, "is not a map")),
        }
    }

    pub(super) fn scopes(&self, name: &str) -> Result<ScopeSet, ItemError> {
        let mut set = ScopeSet::new();
        for v in self.list(name)? {
            let AttributeValue::S(token) = v else {
                return Err(self.err(name, "holds a non-string scope"));
            };
            // A stored scope must itself be a valid single scope token (RFC 6749 §3.3).
            let scope =
                Scope::parse(token).map_err(|_| self.err(name, "holds an invalid scope token"))?;
            set.insert(scope);
        }
        Ok(set)
    }

    /// Checks `kind` when present; an item read by primary key may predate it.
    pub(super) fn kind(&self, expected: &str) -> Result<(), ItemError> {
        match self.opt_string(KIND)? {
            Some(k) if k != expected => Err(self.err(KIND, "does not match the item type")),
            _ => Ok(()),
        }
    }

    /// The suffix of `attr` after `prefix`, non-empty.
    pub(super) fn suffix(&self, attr: &str, prefix: &str) -> Result<&'a str, ItemError> {
        match self.string(attr)?.strip_prefix(prefix) {
            Some(rest) if !rest.is_empty() => Ok(rest),
            _ => Err(self.err(attr, "does not have the expected prefix")),
        }
    }

    pub(super) fn exact(&self, attr: &str, expected: &str) -> Result<(), ItemError> {
        if self.string(attr)? == expected {
            Ok(())
        } else {
            Err(self.err(attr, "does not match the item type"))
        }
    }
}

/// DynamoDB numbers are decimal strings; ours are whole non-negative seconds or counts.
pub(super) fn parse_u64(v: &str) -> Option<u64> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}
