//! A client write together with a revocation entry (RFC 7009 §2) for verifiers: one
//! transaction of the client's conditional update and the entry in the `REVOCATION`
//! partition, in exactly the form [`DynamoRevocations`](crate::DynamoRevocations) writes
//! and reads ([`item::revocation`]).
//!
//! The entry's `Put` never narrows a revocation: it is conditional on no entry, or one
//! that revokes no more (an earlier or equal not-before, an earlier or equal token
//! expiry). When that condition fails, a broader revocation is in force already, and
//! the client is written alone.

use m2m_core::model::Client;
use m2m_core::revocation::Revocation;
use m2m_manage::StoreError;

use crate::dynamo::admin::clients::{client_update_action, replace_client};
use crate::dynamo::admin::{n, DynamoAdminStore};
use crate::dynamo::item::revocation::{revocation_to_item, EXPIRES_AT, NOT_BEFORE};

/// Writes `client` (conditional on `expected`) and records `revocation` at `now`, in one
/// transaction; an entry that would already have lapsed is not written.
///
/// # Errors
/// [`StoreError::Conflict`] when the client changed or is gone.
pub(super) async fn replace_client_and_revoke(
    store: &DynamoAdminStore,
    client: &Client,
    expected: u64,
    revocation: &Revocation,
    now: u64,
) -> Result<(), StoreError> {
    if revocation.keep_until() <= now {
        // Every token it would revoke has expired: nothing for verifiers to keep.
        return replace_client(store, client, expected).await;
    }
    let (attribute, value) = match revocation {
        Revocation::Client { not_before, .. } => (NOT_BEFORE, *not_before),
        Revocation::Token { expires_at, .. } => (EXPIRES_AT, *expires_at),
    };
    let entry = format!("the revocation entry of client {}", revocation.client_id());
    let put = store.put_action(
        revocation_to_item(revocation, now),
        "attribute_not_exists(#pk) OR #at <= :at",
        &[("#at", attribute)],
        vec![(":at", n(value))],
    )?;
    let written = store
        .transact(vec![
            client_update_action(store, client, expected)?,
            (entry.clone(), put),
        ])
        .await;
    match written {
        // The entry in force revokes more than this one would.
        Err(StoreError::Conflict(what)) if what == entry => {
            replace_client(store, client, expected).await
        }
        other => other,
    }
}
