//! The organization record beside DESIGN.md's directory items: what applies to every
//! client of one organization (customer).
//!
//! | item | PK | SK | attributes |
//! |---|---|---|---|
//! | organization record | `ORG#<org_id>` | `ORG` | quota (`{per_minute, per_day}`, each optional; absent: none), version |
//!
//! The quota is also copied onto each client of the organization (the client's
//! `org_quota`), which is what the token endpoint reads. The record has no `kind` and
//! no `org_id` attribute, so it stays out of both indexes: listing an organization's
//! clients through `ByOrg` never meets it.

use std::collections::HashMap;

use m2m_core::types::OrgId;
use m2m_manage::orgs::Org;

use super::attr::{n, s, Reader};
use super::client::{quota_from, quota_to_map, QUOTA};
use super::{Item, ItemError, PK, SK};

/// PK prefix of organization records.
pub const ORG_PREFIX: &str = "ORG#";
/// SK of organization records.
pub const ORG_SK: &str = "ORG";
/// The record's optimistic-concurrency version.
const VERSION: &str = "version";

const ITEM: &str = "organization";

/// The primary key of organization `id`'s record.
pub fn org_key(id: &OrgId) -> Item {
    HashMap::from([
        (PK.to_owned(), s(format!("{ORG_PREFIX}{id}"))),
        (SK.to_owned(), s(ORG_SK)),
    ])
}

/// The record of `org` at `version`.
pub fn org_to_item(org: &Org, version: u64) -> Item {
    let mut item = org_key(&org.id);
    if let Some(q) = org.quota.filter(m2m_core::quota::Quota::is_set) {
        item.insert(QUOTA.to_owned(), quota_to_map(&q));
    }
    item.insert(VERSION.to_owned(), n(version));
    item
}

/// Decodes a record and its version, strictly.
///
/// # Errors
/// An [`ItemError`] naming the attribute at fault.
pub fn org_from_item(item: &Item) -> Result<(Org, u64), ItemError> {
    let r = Reader::new(ITEM, item);
    r.exact(SK, ORG_SK)?;
    let id = OrgId::new(r.suffix(PK, ORG_PREFIX)?);
    let quota = quota_from(&r, QUOTA)?;
    Ok((Org { id, quota }, r.number(VERSION)?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use m2m_core::quota::Quota;

    use super::*;

    #[test]
    fn record_round_trips_with_its_version() {
        let org = Org {
            id: OrgId::new("org_acme"),
            quota: Some(Quota {
                per_minute: None,
                per_day: Some(10_000),
            }),
        };
        let item = org_to_item(&org, 3);
        assert_eq!(item[PK], s("ORG#org_acme"));
        assert_eq!(org_from_item(&item).unwrap(), (org.clone(), 3));
        let none = Org { quota: None, ..org };
        let item = org_to_item(&none, 1);
        assert!(!item.contains_key(QUOTA));
        assert_eq!(org_from_item(&item).unwrap(), (none, 1));
    }

    #[test]
    fn malformed_record_named() {
        let org = Org {
            id: OrgId::new("o"),
            quota: None,
        };
        let mut item = org_to_item(&org, 1);
        item.insert(QUOTA.to_owned(), s("lots"));
        assert_eq!(org_from_item(&item).unwrap_err().attribute, QUOTA);
        let mut item = org_to_item(&org, 1);
        item.remove(VERSION);
        let err = org_from_item(&item).unwrap_err();
        assert_eq!(
            (err.item, err.attribute.as_str()),
            ("organization", VERSION)
        );
        let mut item = org_to_item(&org, 1);
        item.insert(PK.to_owned(), s("ORG#"));
        assert_eq!(org_from_item(&item).unwrap_err().attribute, PK);
    }
}
