//! The operator's API operations on the directory table: read, list, create, replace
//! and delete APIs (resource servers), and find the grants that reference one.

use aws_sdk_dynamodb::types::AttributeValue;
use m2m_core::model::{Api, Grant};
use m2m_core::types::{Audience, ClientId};
use m2m_manage::{StoreError, Versioned};

use crate::dynamo::admin::{
    item_version, n, version_condition, Condition, DynamoAdminStore, MAX_TRANSACTION_ITEMS, VERSION,
};
use crate::dynamo::item::{self, ItemError, SK};

/// The API `identifier`, with its version.
///
/// # Errors
/// As [`StoreError`].
pub(super) async fn get_api(
    store: &DynamoAdminStore,
    identifier: &Audience,
) -> Result<Option<Versioned<Api>>, StoreError> {
    match store.get(item::api_key(identifier)).await? {
        None => Ok(None),
        Some(item) => Ok(Some(Versioned {
            value: item::api_from_item(&item)?,
            version: item_version(&item)?,
        })),
    }
}

/// Every API, sorted by identifier.
///
/// # Errors
/// As [`StoreError`].
pub(super) async fn list_apis(store: &DynamoAdminStore) -> Result<Vec<Versioned<Api>>, StoreError> {
    let mut apis = store
        .query_kind(item::KIND_API)
        .await?
        .iter()
        .map(|item| {
            Ok(Versioned {
                value: item::api_from_item(item)?,
                version: item_version(item)?,
            })
        })
        .collect::<Result<Vec<_>, ItemError>>()?;
    apis.sort_by(|a, b| a.value.identifier.cmp(&b.value.identifier));
    Ok(apis)
}

/// Creates an API; [`StoreError::Conflict`] if its identifier is taken.
///
/// # Errors
/// As [`StoreError`].
pub(super) async fn create_api(store: &DynamoAdminStore, api: &Api) -> Result<(), StoreError> {
    let mut item = item::api_to_item(api);
    item.insert(VERSION.to_owned(), n(1));
    let put = store.put_action(item, "attribute_not_exists(#pk)", &[], vec![])?;
    store
        .transact(vec![(format!("API {}", api.identifier), put)])
        .await
}

/// Replaces an API, conditional on its version still being `expected`; the stored
/// version becomes `expected + 1`.
///
/// # Errors
/// [`StoreError::Conflict`] when the API changed or is gone.
pub(super) async fn replace_api(
    store: &DynamoAdminStore,
    api: &Api,
    expected: u64,
) -> Result<(), StoreError> {
    let mut item = item::api_to_item(api);
    item.insert(VERSION.to_owned(), n(expected.saturating_add(1)));
    let put = store.put_action(
        item,
        version_condition(expected),
        &[("#v", VERSION)],
        vec![(":expected", n(expected))],
    )?;
    store
        .transact(vec![(format!("API {}", api.identifier), put)])
        .await
}

/// Every grant on the API `identifier`. A strongly consistent `Scan` filtered on the
/// sort key: the table has no index by audience, and operators delete APIs rarely,
/// so a full read is cheaper than maintaining one. [`delete_api`]'s version
/// condition catches a grant added after the scan.
///
/// # Errors
/// As [`StoreError`].
pub(super) async fn grants_for_api(
    store: &DynamoAdminStore,
    identifier: &Audience,
) -> Result<Vec<Grant>, StoreError> {
    let sk = item::grant_key(&ClientId::new("-"), identifier)
        .remove(SK)
        .unwrap_or(AttributeValue::Null(true));
    let pages = store
        .client
        .scan()
        .table_name(&store.table)
        .consistent_read(true)
        .filter_expression("#sk = :sk")
        .expression_attribute_names("#sk", SK)
        .expression_attribute_values(":sk", sk)
        .into_paginator()
        .send();
    DynamoAdminStore::grants_of(
        pages,
        "DynamoDB Scan (grants of an API)",
        |page| page.items,
        |a, b| a.client_id.cmp(&b.client_id),
    )
    .await
}

/// Deletes `grants` (each bumping its client's version), then the API (conditional
/// on `expected` version). Grants go in transactions of up to 49; the API goes in
/// the last one, after every other grant is gone. An interruption (a crash, a
/// conflict) therefore leaves the API in place with fewer grants, never grants of a
/// deleted API: running the deletion again finishes it. A grant added meanwhile
/// bumps the API's version, so the last transaction fails and the caller re-reads.
///
/// # Errors
/// [`StoreError::Conflict`] when the API changed (e.g. a grant was added) or a grant
/// was removed concurrently.
pub(super) async fn delete_api(
    store: &DynamoAdminStore,
    identifier: &Audience,
    expected: u64,
    grants: &[Grant],
) -> Result<(), StoreError> {
    let mut batch = Vec::new();
    for grant in grants {
        // Room for this grant's two actions and the API's deletion.
        if batch.len() + 3 > MAX_TRANSACTION_ITEMS {
            store.transact(std::mem::take(&mut batch)).await?;
        }
        let label = format!("grant of client {}", grant.client_id);
        batch.push((
            label.clone(),
            store.delete_action(item::grant_key(&grant.client_id, identifier), None)?,
        ));
        batch.push((
            format!("client {}", grant.client_id),
            store.bump_any_action(&grant.client_id)?,
        ));
    }
    let api_delete = store.delete_action(
        item::api_key(identifier),
        Some(Condition {
            expression: version_condition(expected),
            names: &[("#v", VERSION)],
            values: vec![(":expected", n(expected))],
        }),
    )?;
    batch.push((format!("API {identifier}"), api_delete));
    store.transact(batch).await
}

/// Replaces an API (conditional on `expected` version) after rewriting `grants`
/// (each conditional on still existing, bumping its client's version) — used when
/// scopes are removed from the API and from the grants holding them. Grants go
/// first, the API last, so an interruption leaves grants without scopes the API
/// still defines (narrower, never wider) and running the update again finishes it.
///
/// # Errors
/// [`StoreError::Conflict`] when the API changed or a grant vanished.
pub(super) async fn replace_api_with_grants(
    store: &DynamoAdminStore,
    api: &Api,
    expected: u64,
    grants: &[Grant],
) -> Result<(), StoreError> {
    let mut batch = Vec::new();
    for grant in grants {
        if batch.len() + 3 > MAX_TRANSACTION_ITEMS {
            store.transact(std::mem::take(&mut batch)).await?;
        }
        batch.push((
            format!("grant of client {}", grant.client_id),
            store.put_action(
                item::grant_to_item(grant),
                "attribute_exists(#pk)",
                &[],
                vec![],
            )?,
        ));
        batch.push((
            format!("client {}", grant.client_id),
            store.bump_any_action(&grant.client_id)?,
        ));
    }
    let mut item = item::api_to_item(api);
    item.insert(VERSION.to_owned(), n(expected.saturating_add(1)));
    batch.push((
        format!("API {}", api.identifier),
        store.put_action(
            item,
            version_condition(expected),
            &[("#v", VERSION)],
            vec![(":expected", n(expected))],
        )?,
    ));
    store.transact(batch).await
}
