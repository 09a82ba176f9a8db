//! Organization records on the directory table ([`item::org`]) and the client writes
//! conditional on them: an organization's quota reaches a client only while the
//! record is still at the version it was copied from (a `ConditionCheck` on the record
//! in the client's transaction).

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{ConditionCheck, TransactWriteItem};
use m2m_core::error::PortError;
use m2m_core::model::{Client, Grant};
use m2m_core::types::OrgId;
use m2m_manage::orgs::Org;
use m2m_manage::{StoreError, Versioned};

use crate::dynamo::admin::clients::{client_update_action, create_client_checked};
use crate::dynamo::admin::{build, n, version_condition, Action, DynamoAdminStore, VERSION};
use crate::dynamo::item::org::{org_from_item, org_key, org_to_item};
use crate::dynamo::item::PK;

fn label(id: &OrgId) -> String {
    format!("organization {id}")
}

/// The record of organization `id` (strongly consistent), with its version.
///
/// # Errors
/// As [`StoreError`]; [`StoreError::Malformed`] for a record that does not decode.
pub(super) async fn get_org(
    store: &DynamoAdminStore,
    id: &OrgId,
) -> Result<Option<Versioned<Org>>, StoreError> {
    match store.get(org_key(id)).await? {
        None => Ok(None),
        Some(item) => {
            let (value, version) = org_from_item(&item)?;
            Ok(Some(Versioned { value, version }))
        }
    }
}

/// Writes `org`'s record: a new one when `expected` is `None`, else conditional on its
/// version. One `PutItem`: the record holds nothing another writer adds to.
///
/// # Errors
/// [`StoreError::Conflict`] when the record exists (or not) other than expected.
pub(super) async fn put_org(
    store: &DynamoAdminStore,
    org: &Org,
    expected: Option<u64>,
) -> Result<(), StoreError> {
    let next = expected.map_or(1, |v| v.saturating_add(1));
    let mut put = store
        .client
        .put_item()
        .table_name(&store.table)
        .set_item(Some(org_to_item(org, next)))
        .expression_attribute_names("#pk", PK);
    put = match expected {
        None => put.condition_expression("attribute_not_exists(#pk)"),
        Some(v) => put
            .condition_expression(version_condition(v))
            .expression_attribute_names("#v", VERSION)
            .expression_attribute_values(":expected", n(v)),
    };
    match put.send().await {
        Ok(_) => Ok(()),
        Err(e) => match e.as_service_error() {
            Some(PutItemError::ConditionalCheckFailedException(_)) => {
                Err(StoreError::Conflict(label(&org.id)))
            }
            _ => Err(store.sdk("DynamoDB PutItem (organization)", e)),
        },
    }
}

/// A `ConditionCheck` that organization `id`'s record is at `version` (`None`: absent).
fn org_check(
    store: &DynamoAdminStore,
    id: &OrgId,
    version: Option<u64>,
) -> Result<Action, StoreError> {
    let mut check = ConditionCheck::builder()
        .table_name(&store.table)
        .set_key(Some(org_key(id)))
        .expression_attribute_names("#pk", PK);
    check = match version {
        None => check.condition_expression("attribute_not_exists(#pk)"),
        Some(v) => check
            .condition_expression(version_condition(v))
            .expression_attribute_names("#v", VERSION)
            .expression_attribute_values(":expected", n(v)),
    };
    Ok((
        label(id),
        TransactWriteItem::builder()
            .condition_check(build("ConditionCheck", check.build())?)
            .build(),
    ))
}

fn org_of(client: &Client) -> Result<&OrgId, StoreError> {
    client.org_id.as_ref().ok_or_else(|| {
        StoreError::Port(PortError::refused(format!(
            "client {} belongs to no organization",
            client.id
        )))
    })
}

/// Creates `client` with `grants` in one transaction with a condition on its
/// organization's record being at `org_version`.
///
/// # Errors
/// As `create_client`; [`StoreError::Conflict`] naming the organization when its
/// record changed.
pub(super) async fn create_client_in_org(
    store: &DynamoAdminStore,
    client: &Client,
    grants: &[(Grant, u64)],
    org_version: Option<u64>,
) -> Result<(), StoreError> {
    let check = org_check(store, org_of(client)?, org_version)?;
    create_client_checked(store, client, grants, Some(check)).await
}

/// Writes `client` over the stored one (conditional on `expected`) in one transaction
/// with a condition on its organization's record being at `org_version`.
///
/// # Errors
/// [`StoreError::Conflict`] naming the client or the organization.
pub(super) async fn replace_client_in_org(
    store: &DynamoAdminStore,
    client: &Client,
    expected: u64,
    org_version: u64,
) -> Result<(), StoreError> {
    let check = org_check(store, org_of(client)?, Some(org_version))?;
    store
        .transact(vec![client_update_action(store, client, expected)?, check])
        .await
}
