//! The in-memory store's side of control after issuance: revocation entries (kept as
//! verifiers would read them, never narrowed), organization records, and hourly usage
//! counts.

use m2m_core::model::Client;
use m2m_core::quota::Subject;
use m2m_core::revocation::{jti_digest, Revocation};
use m2m_core::types::OrgId;

use super::{check_client, conflict, State};
use crate::orgs::Org;
use crate::store::{StoreError, Versioned};

/// The key of a revocation entry: one per client, one per token (by its `jti` digest).
fn revocation_key(r: &Revocation) -> String {
    match r {
        Revocation::Client { client_id, .. } => format!("CLIENT#{client_id}"),
        Revocation::Token { jti, .. } => format!("JTI#{}", jti_digest(jti)),
    }
}

/// Records `r` at `now` unless it has lapsed, keeping an entry that revokes more.
pub(super) fn record(st: &mut State, r: &Revocation, now: u64) {
    if r.keep_until() <= now {
        return;
    }
    let key = revocation_key(r);
    let broader = match (st.revocations.get(&key), r) {
        (
            Some(Revocation::Client {
                not_before: kept, ..
            }),
            Revocation::Client { not_before, .. },
        ) => kept >= not_before,
        (
            Some(Revocation::Token {
                expires_at: kept, ..
            }),
            Revocation::Token { expires_at, .. },
        ) => kept >= expires_at,
        _ => false,
    };
    if !broader {
        st.revocations.insert(key, r.clone());
    }
}

/// Fails unless organization `id`'s record is at `version` (`None`: absent).
pub(super) fn check_org(st: &State, id: &OrgId, version: Option<u64>) -> Result<(), StoreError> {
    if st.orgs.get(id).map(|o| o.version) == version {
        Ok(())
    } else {
        Err(conflict(format!("organization {id}")))
    }
}

/// Writes `client` over the stored one (conditional on `expected`).
pub(super) fn replace(st: &mut State, client: &Client, expected: u64) -> Result<(), StoreError> {
    check_client(st, &client.id, expected)?;
    let mut c = client.clone();
    c.version = expected + 1;
    st.clients.insert(client.id.clone(), c);
    Ok(())
}

/// The org of `client`, which a write conditional on an organization needs.
pub(super) fn org_of(client: &Client) -> Result<&OrgId, StoreError> {
    client
        .org_id
        .as_ref()
        .ok_or_else(|| conflict(format!("the organization of client {}", client.id)))
}

/// Writes organization `org`'s record, created or conditional on `expected`.
pub(super) fn put_org(st: &mut State, org: &Org, expected: Option<u64>) -> Result<(), StoreError> {
    check_org(st, &org.id, expected)?;
    st.orgs.insert(
        org.id.clone(),
        Versioned {
            value: org.clone(),
            version: expected.map_or(1, |v| v + 1),
        },
    );
    Ok(())
}

/// The usage counts of `subject` for the hours `from_hour..=to_hour`.
pub(super) fn usage(
    st: &State,
    subject: &Subject,
    from_hour: u64,
    to_hour: u64,
) -> Vec<(u64, u64)> {
    st.usage
        .range((subject.clone(), from_hour)..=(subject.clone(), to_hour))
        .map(|((_, hour), count)| (*hour, *count))
        .collect()
}
