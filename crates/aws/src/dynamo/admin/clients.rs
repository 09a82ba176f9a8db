//! The operator's client and grant operations on the directory table: conditional on
//! the client's `version`, which every write to a client or its grants bumps.

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use m2m_core::error::PortError;
use m2m_core::model::{Client, Grant};
use m2m_core::types::{Audience, ClientId};
use m2m_manage::StoreError;

use crate::dynamo::admin::{
    build, n, s, Action, Condition, DynamoAdminStore, MAX_TRANSACTION_ITEMS, VERSION,
};
use crate::dynamo::item::{self, JWKS_URI, LAST_USED, ORG_ID, PK, SK};

/// The client `id` (strongly consistent).
///
/// # Errors
/// As [`StoreError`].
pub(super) async fn get_client(
    store: &DynamoAdminStore,
    id: &ClientId,
) -> Result<Option<Client>, StoreError> {
    match store.get(item::client_key(id)).await? {
        None => Ok(None),
        Some(item) => Ok(Some(item::client_from_item(&item)?)),
    }
}

/// The grants of client `id`, sorted by API (a strongly consistent `Query` on the
/// client's partition).
///
/// # Errors
/// As [`StoreError`].
pub(super) async fn client_grants(
    store: &DynamoAdminStore,
    id: &ClientId,
) -> Result<Vec<Grant>, StoreError> {
    let pk = item::client_key(id)
        .remove(PK)
        .unwrap_or(AttributeValue::Null(true));
    let pages = store
        .client
        .query()
        .table_name(&store.table)
        .consistent_read(true)
        .key_condition_expression("#pk = :pk AND begins_with(#sk, :grant)")
        .expression_attribute_names("#pk", PK)
        .expression_attribute_names("#sk", SK)
        .expression_attribute_values(":pk", pk)
        .expression_attribute_values(":grant", s("GRANT#"))
        .into_paginator()
        .send();
    DynamoAdminStore::grants_of(
        pages,
        "DynamoDB Query (grants of a client)",
        |page| page.items,
        |a, b| a.audience.cmp(&b.audience),
    )
    .await
}

/// Most grants [`create_client`](m2m_manage::AdminStore::create_client) writes with the
/// client: each takes two actions (the grant and its API's version bump) beside the
/// client's own, within DynamoDB's 100 per transaction.
pub const MAX_CREATE_GRANTS: usize = (MAX_TRANSACTION_ITEMS - 1) / 2;

/// Creates `client` with `grants`, in one transaction: the client (conditional on its
/// id being free), each grant, and each grant's API version bump (conditional on the
/// version given beside the grant), so a grant is never written on an API that changed
/// since it was read, and a refused creation writes nothing.
///
/// # Errors
/// [`StoreError::Conflict`] naming the client (id taken) or the API that changed or
/// vanished; [`StoreError::Port`] (refused, before any write) with more than
/// [`MAX_CREATE_GRANTS`] grants, two grants on one API, or a grant of another client.
pub(super) async fn create_client(
    store: &DynamoAdminStore,
    client: &Client,
    grants: &[(Grant, u64)],
) -> Result<(), StoreError> {
    if grants.len() > MAX_CREATE_GRANTS {
        return Err(StoreError::Port(PortError::refused(format!(
            "client {} would be created with {} grants; one transaction creates at most \
             {MAX_CREATE_GRANTS} (add the others afterwards)",
            client.id,
            grants.len()
        ))));
    }
    let mut audiences = std::collections::BTreeSet::new();
    for (grant, _) in grants {
        if grant.client_id != client.id {
            return Err(StoreError::Port(PortError::refused(format!(
                "a grant of client {} cannot be created with client {}",
                grant.client_id, client.id
            ))));
        }
        if !audiences.insert(&grant.audience) {
            return Err(StoreError::Port(PortError::refused(format!(
                "client {} would get two grants on API {}",
                client.id, grant.audience
            ))));
        }
    }
    if grants.is_empty() {
        // One item: a conditional PutItem, at half a transaction's write capacity.
        return match store
            .client
            .put_item()
            .table_name(&store.table)
            .set_item(Some(item::client_to_item(client)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(_)) => {
                    Err(StoreError::Conflict(format!("client {}", client.id)))
                }
                _ => Err(store.sdk("DynamoDB PutItem", e)),
            },
        };
    }
    let mut actions: Vec<Action> = vec![(
        format!("client {}", client.id),
        store.put_action(
            item::client_to_item(client),
            "attribute_not_exists(#pk)",
            &[],
            vec![],
        )?,
    )];
    for (grant, api_version) in grants {
        actions.push((
            format!("API {}", grant.audience),
            store.bump_action(item::api_key(&grant.audience), *api_version)?,
        ));
        actions.push((
            format!("grant of client {} on {}", client.id, grant.audience),
            grant_put(store, grant)?,
        ));
    }
    store.transact(actions).await
}

/// An unconditional `Put` of `grant` (the conditions sit on its client and API).
fn grant_put(store: &DynamoAdminStore, grant: &Grant) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(&store.table)
        .set_item(Some(item::grant_to_item(grant)))
        .build();
    Ok(TransactWriteItem::builder().put(build("Put", put)?).build())
}

/// Writes `client` over the stored one, conditional on the stored version being
/// `expected` (`client.version` should be `expected + 1`). An `UpdateItem`, not a
/// `Put`: the `last_used` map the token function writes concurrently is kept.
///
/// # Errors
/// [`StoreError::Conflict`] when the client changed or is gone.
pub(super) async fn replace_client(
    store: &DynamoAdminStore,
    client: &Client,
    expected: u64,
) -> Result<(), StoreError> {
    let item = item::client_to_item(client);
    // An optional attribute the new client has not is removed (see `client_to_item`):
    // without an organization, no `org_id`, and with it goes the client's entry in the
    // `ByOrg` index; likewise a cleared `jwks_uri`, quota, or introspection permission.
    let absent: Vec<&str> = [
        ORG_ID,
        JWKS_URI,
        item::client::QUOTA,
        item::client::ORG_QUOTA,
        item::client::NOT_BEFORE,
        item::client::REVOCATION_EPOCH,
        item::client::INTROSPECT,
    ]
    .into_iter()
    .filter(|a| !item.contains_key(*a))
    .collect();
    let mut sets = Vec::new();
    let mut update = store
        .client
        .update_item()
        .table_name(&store.table)
        .set_key(Some(item::client_key(&client.id)))
        .condition_expression("#v = :expected")
        .expression_attribute_names("#v", VERSION)
        .expression_attribute_values(":expected", n(expected));
    for (i, (name, value)) in item
        .into_iter()
        .filter(|(k, _)| k != PK && k != SK && k != LAST_USED)
        .enumerate()
    {
        if name == VERSION {
            sets.push("#v = :next".to_owned());
            update = update.expression_attribute_values(":next", value);
            continue;
        }
        sets.push(format!("#a{i} = :a{i}"));
        update = update
            .expression_attribute_names(format!("#a{i}"), name)
            .expression_attribute_values(format!(":a{i}"), value);
    }
    let mut expression = format!("SET {}", sets.join(", "));
    let mut removes = Vec::new();
    for (i, name) in absent.into_iter().enumerate() {
        removes.push(format!("#r{i}"));
        update = update.expression_attribute_names(format!("#r{i}"), name);
    }
    if !removes.is_empty() {
        expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
    }
    match update.update_expression(expression).send().await {
        Ok(_) => Ok(()),
        Err(e) => match e.as_service_error() {
            Some(se) if se.is_conditional_check_failed_exception() => {
                Err(StoreError::Conflict(format!("client {}", client.id)))
            }
            _ => Err(store.sdk("DynamoDB UpdateItem (client)", e)),
        },
    }
}

/// Deletes the client and `grants` in one transaction, conditional on the client's
/// version still being `expected` (so a grant or trust rule added since it was read
/// fails the delete instead of surviving it; the rules themselves were deleted before,
/// by `trust::delete_trust_rules`).
///
/// # Errors
/// [`StoreError::Conflict`] on a concurrent change; [`StoreError::Port`] with more
/// than 99 grants (remove some first).
pub(super) async fn delete_client(
    store: &DynamoAdminStore,
    id: &ClientId,
    expected: u64,
    grants: &[Grant],
) -> Result<(), StoreError> {
    if grants.len() >= MAX_TRANSACTION_ITEMS {
        return Err(StoreError::Port(PortError::refused(format!(
            "client {id} has {} grants; one transaction deletes at most {}",
            grants.len(),
            MAX_TRANSACTION_ITEMS - 1
        ))));
    }
    let mut actions = vec![(
        format!("client {id}"),
        store.delete_action(
            item::client_key(id),
            Some(Condition {
                expression: "#v = :expected",
                names: &[("#v", VERSION)],
                values: vec![(":expected", n(expected))],
            }),
        )?,
    )];
    for grant in grants {
        actions.push((
            format!("grant of client {id} on {}", grant.audience),
            store.delete_action(item::grant_key(id, &grant.audience), None)?,
        ));
    }
    store.transact(actions).await
}

// -----------------------------------------------------------------------------
// Grants.

/// Writes `grant` (new or replacing), bumping its client's version from
/// `client_version` and its API's from `api_version`, all in one transaction.
///
/// # Errors
/// [`StoreError::Conflict`] naming the client or API that changed or vanished.
pub(super) async fn put_grant(
    store: &DynamoAdminStore,
    grant: &Grant,
    client_version: u64,
    api_version: u64,
) -> Result<(), StoreError> {
    store
        .transact(vec![
            (
                format!("client {}", grant.client_id),
                store.bump_action(item::client_key(&grant.client_id), client_version)?,
            ),
            (
                format!("API {}", grant.audience),
                store.bump_action(item::api_key(&grant.audience), api_version)?,
            ),
            ("grant".to_owned(), grant_put(store, grant)?),
        ])
        .await
}

/// Deletes the grant of `client_id` on `audience`, bumping the client's version
/// from `client_version`, in one transaction.
///
/// # Errors
/// [`StoreError::Conflict`] when the client changed or the grant is gone.
pub(super) async fn delete_grant(
    store: &DynamoAdminStore,
    client_id: &ClientId,
    audience: &Audience,
    client_version: u64,
) -> Result<(), StoreError> {
    store
        .transact(vec![
            (
                format!("client {client_id}"),
                store.bump_action(item::client_key(client_id), client_version)?,
            ),
            (
                format!("grant of client {client_id} on {audience}"),
                store.delete_action(item::grant_key(client_id, audience), None)?,
            ),
        ])
        .await
}
