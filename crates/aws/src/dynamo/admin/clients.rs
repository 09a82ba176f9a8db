//! The operator's client and grant operations on the directory table: conditional on
//! the client's `version`, which every write to a client or its grants bumps.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use m2m_core::error::PortError;
use m2m_core::model::{Client, Grant};
use m2m_core::types::{Audience, ClientId};
use m2m_manage::StoreError;

use crate::dynamo::admin::{
    build, n, s, Action, Condition, DynamoAdminStore, MAX_TRANSACTION_ITEMS, VERSION,
};
use crate::dynamo::item::{self, LAST_USED, PK, SK};

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
/// client's own and the condition on its organization's record, within DynamoDB's 100
/// per transaction.
pub const MAX_CREATE_GRANTS: usize = (MAX_TRANSACTION_ITEMS - 2) / 2;

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
    create_client_checked(store, client, grants, None).await
}

/// [`create_client`], with `check` (a condition on another item, labelled) in the same
/// transaction.
pub(super) async fn create_client_checked(
    store: &DynamoAdminStore,
    client: &Client,
    grants: &[(Grant, u64)],
    check: Option<Action>,
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
    if grants.is_empty() && check.is_none() {
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
    actions.extend(check);
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

/// The `UpdateItem` that writes `client` over the stored one at version `expected`:
/// every attribute of the item but its key and the `last_used` map (which the token
/// function writes concurrently, so it is kept), the optional attributes the client
/// does not have removed ([`item::OPTIONAL_ATTRIBUTES`]: a client without an
/// organization leaves the `ByOrg` index, a cleared quota stops counting).
pub(super) struct ClientUpdate {
    /// `SET ... REMOVE ...`.
    pub expression: String,
    /// `#v` and the `#aN` attribute names.
    pub names: HashMap<String, String>,
    /// `:expected`, `:next` and the `:aN` values.
    pub values: HashMap<String, AttributeValue>,
}

/// The condition of a [`ClientUpdate`]: the stored version is the one read.
pub(super) const CLIENT_CONDITION: &str = "#v = :expected";

pub(super) fn client_update(client: &Client, expected: u64) -> ClientUpdate {
    let item = item::client_to_item(client);
    let mut names = HashMap::from([("#v".to_owned(), VERSION.to_owned())]);
    let mut values = HashMap::from([(":expected".to_owned(), n(expected))]);
    let mut sets = Vec::new();
    let mut removes = Vec::new();
    for (i, name) in item::OPTIONAL_ATTRIBUTES.iter().enumerate() {
        if !item.contains_key(*name) {
            removes.push(format!("#r{i}"));
            names.insert(format!("#r{i}"), (*name).to_owned());
        }
    }
    for (i, (name, value)) in item
        .into_iter()
        .filter(|(k, _)| k != PK && k != SK && k != LAST_USED)
        .enumerate()
    {
        if name == VERSION {
            sets.push("#v = :next".to_owned());
            values.insert(":next".to_owned(), value);
            continue;
        }
        sets.push(format!("#a{i} = :a{i}"));
        names.insert(format!("#a{i}"), name);
        values.insert(format!(":a{i}"), value);
    }
    let mut expression = format!("SET {}", sets.join(", "));
    if !removes.is_empty() {
        expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
    }
    ClientUpdate {
        expression,
        names,
        values,
    }
}

/// The [`ClientUpdate`] of `client` as a transaction action, labelled with the client.
pub(super) fn client_update_action(
    store: &DynamoAdminStore,
    client: &Client,
    expected: u64,
) -> Result<Action, StoreError> {
    let u = client_update(client, expected);
    let update = Update::builder()
        .table_name(&store.table)
        .set_key(Some(item::client_key(&client.id)))
        .update_expression(u.expression)
        .condition_expression(CLIENT_CONDITION)
        .set_expression_attribute_names(Some(u.names))
        .set_expression_attribute_values(Some(u.values))
        .build();
    Ok((
        format!("client {}", client.id),
        TransactWriteItem::builder()
            .update(build("Update", update)?)
            .build(),
    ))
}

/// Writes `client` over the stored one, conditional on the stored version being
/// `expected` (`client.version` should be `expected + 1`): one [`ClientUpdate`], not a
/// `Put`, so the `last_used` map the token function writes concurrently is kept.
///
/// # Errors
/// [`StoreError::Conflict`] when the client changed or is gone.
pub(super) async fn replace_client(
    store: &DynamoAdminStore,
    client: &Client,
    expected: u64,
) -> Result<(), StoreError> {
    let u = client_update(client, expected);
    match store
        .client
        .update_item()
        .table_name(&store.table)
        .set_key(Some(item::client_key(&client.id)))
        .update_expression(u.expression)
        .condition_expression(CLIENT_CONDITION)
        .set_expression_attribute_names(Some(u.names))
        .set_expression_attribute_values(Some(u.values))
        .send()
        .await
    {
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
