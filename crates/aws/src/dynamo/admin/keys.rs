//! The operator's side of the signing-key registry (DESIGN.md "Keys and JWKS"):
//! conditional status changes of key items, so that exactly one key is active and a key
//! never skips a state behind an operator's back. The KMS keys themselves are created
//! and scheduled for deletion in [`crate::kms::keys`].

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use m2m_core::error::PortError;
use m2m_core::model::{KeyStatus, SigningKey};
use m2m_core::types::Kid;
use m2m_manage::StoreError;

use crate::dynamo::admin::{Action, Condition, DynamoAdminStore};
use crate::dynamo::item::attr::{n, s};
use crate::dynamo::item::{self, PK};

/// Every key in the registry, oldest first (through the `ByKind` index).
///
/// # Errors
/// As [`StoreError`].
pub(super) async fn list_keys(store: &DynamoAdminStore) -> Result<Vec<SigningKey>, StoreError> {
    let mut keys = store
        .query_kind(item::KIND_KEY)
        .await?
        .iter()
        .map(item::signing_key_from_item)
        .collect::<Result<Vec<_>, _>>()?;
    keys.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.kid.cmp(&b.kid)));
    Ok(keys)
}

/// The key `kid` (strongly consistent).
///
/// # Errors
/// As [`StoreError`].
pub(super) async fn get_key(
    store: &DynamoAdminStore,
    kid: &Kid,
) -> Result<Option<SigningKey>, StoreError> {
    match store.get(item::signing_key_key(kid)).await? {
        None => Ok(None),
        Some(item) => Ok(Some(item::signing_key_from_item(&item)?)),
    }
}

/// Stores a new key item; [`StoreError::Conflict`] if the kid is already registered.
///
/// # Errors
/// As [`StoreError`].
pub(super) async fn create_key(
    store: &DynamoAdminStore,
    key: &SigningKey,
) -> Result<(), StoreError> {
    let item = item::signing_key_to_item(key).map_err(|e| {
        StoreError::Port(PortError::malformed("encoding the signing key").with_source(e))
    })?;
    let put = store.put_action(item, "attribute_not_exists(#pk)", &[], vec![])?;
    store
        .transact(vec![(format!("key {}", key.kid), put)])
        .await
}

/// An `Update` moving `kid` from status `from` to `to`, setting `time_attr` to
/// `now`.
fn transition(
    store: &DynamoAdminStore,
    kid: &Kid,
    from: KeyStatus,
    to: KeyStatus,
    time_attr: &str,
    now: u64,
) -> Result<Action, StoreError> {
    let update = Update::builder()
        .table_name(&store.table)
        .set_key(Some(item::signing_key_key(kid)))
        .update_expression("SET #st = :to, #t = :now")
        .condition_expression("attribute_exists(#pk) AND #st = :from")
        .expression_attribute_names("#pk", PK)
        .expression_attribute_names("#st", "status")
        .expression_attribute_names("#t", time_attr)
        .expression_attribute_values(":from", s(from.as_str()))
        .expression_attribute_values(":to", s(to.as_str()))
        .expression_attribute_values(":now", n(now))
        .build()
        .map_err(|e| StoreError::Port(PortError::malformed("building Update").with_source(e)))?;
    Ok((
        format!("key {kid} ({})", from.as_str()),
        TransactWriteItem::builder().update(update).build(),
    ))
}

/// In one transaction: `kid` goes from `from` to `active` (`activated_at` = `now`)
/// and every key in `previous` goes from `active` to `retired` (`retired_at` =
/// `now`). Conditional on every status, so a concurrent activation fails one side.
///
/// # Errors
/// [`StoreError::Conflict`] when a key's status changed since it was read.
pub(super) async fn activate_key(
    store: &DynamoAdminStore,
    kid: &Kid,
    from: KeyStatus,
    previous: &[Kid],
    now: u64,
) -> Result<(), StoreError> {
    let mut actions = vec![transition(
        store,
        kid,
        from,
        KeyStatus::Active,
        "activated_at",
        now,
    )?];
    for old in previous {
        actions.push(transition(
            store,
            old,
            KeyStatus::Active,
            KeyStatus::Retired,
            "retired_at",
            now,
        )?);
    }
    store.transact(actions).await
}

/// Moves `kid` from `from` to `retired` (`retired_at` = `now`), conditionally.
///
/// # Errors
/// [`StoreError::Conflict`] when its status changed since it was read.
pub(super) async fn retire_key(
    store: &DynamoAdminStore,
    kid: &Kid,
    from: KeyStatus,
    now: u64,
) -> Result<(), StoreError> {
    let action = transition(store, kid, from, KeyStatus::Retired, "retired_at", now)?;
    store.transact(vec![action]).await
}

/// In one transaction: `kid` goes from `from` to `revoked` (`revoked_at` = `now`)
/// and, when given, `promote` goes from `pending` to `active` (`activated_at` =
/// `now`). Conditional on both statuses.
///
/// # Errors
/// [`StoreError::Conflict`] when a key's status changed since it was read.
pub(super) async fn revoke_key(
    store: &DynamoAdminStore,
    kid: &Kid,
    from: KeyStatus,
    promote: Option<&Kid>,
    now: u64,
) -> Result<(), StoreError> {
    let mut actions = vec![transition(
        store,
        kid,
        from,
        KeyStatus::Revoked,
        "revoked_at",
        now,
    )?];
    if let Some(next) = promote {
        actions.push(transition(
            store,
            next,
            KeyStatus::Pending,
            KeyStatus::Active,
            "activated_at",
            now,
        )?);
    }
    store.transact(actions).await
}

/// Deletes the item of a retired key, conditional on it still being retired at
/// `retired_at` (the caller has checked that no token it signed is still valid).
///
/// # Errors
/// [`StoreError::Conflict`] when it changed since it was read.
pub(super) async fn delete_key(
    store: &DynamoAdminStore,
    kid: &Kid,
    retired_at: u64,
) -> Result<(), StoreError> {
    let delete = store.delete_action(
        item::signing_key_key(kid),
        Some(Condition {
            expression: "#st = :retired AND #t = :t",
            names: &[("#st", "status"), ("#t", "retired_at")],
            values: vec![
                (":retired", s(KeyStatus::Retired.as_str())),
                (":t", n(retired_at)),
            ],
        }),
    )?;
    store.transact(vec![(format!("key {kid}"), delete)]).await
}
