//! Creates the directory table (`PK`/`SK` strings, on-demand billing, the `ByKind` and
//! `ByOrg` indexes) and waits until it and its index are active. Used by the operator CLI's
//! `init`, the local stack and the tests; production tables come from the SAM template
//! with the same shape.

use std::time::Duration;

use aws_sdk_dynamodb::error::BuildError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, IndexStatus, KeySchemaElement, KeyType,
    Projection, ProjectionType, ScalarAttributeType, TableStatus,
};
use aws_sdk_dynamodb::Client as DynamoClient;
use m2m_core::error::PortError;

use crate::dynamo::item::{BY_KIND_INDEX, BY_ORG_INDEX, KIND, ORG_ID, PK, SK};
use crate::sdk::error::{code, port_error};

/// How long [`create_table`] waits for the table to become active.
pub const ACTIVE_WAIT: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(200);

/// What [`create_table`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableCreation {
    /// The table was created and is active.
    Created,
    /// A table of that name already existed (it is now active); its shape was not
    /// checked.
    AlreadyExisted,
}

fn build_error(e: BuildError) -> PortError {
    PortError::malformed("building CreateTable").with_source(e)
}

fn key(name: &str, key_type: KeyType) -> Result<KeySchemaElement, PortError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(build_error)
}

fn string_attr(name: &str) -> Result<AttributeDefinition, PortError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(build_error)
}

/// A global secondary index `name`: hash `hash`, range `PK`, all attributes projected.
fn index(name: &str, hash: &str) -> Result<GlobalSecondaryIndex, PortError> {
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key(hash, KeyType::Hash)?)
        .key_schema(key(PK, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(build_error)
}

/// Creates `table` with the directory's key schema, `PAY_PER_REQUEST` billing and two
/// global secondary indexes, all attributes projected: `ByKind` (hash `kind`, range
/// `PK`: items of one kind) and `ByOrg` (hash `org_id`, range `PK`: one organization's
/// clients). Then waits until the table and indexes are `ACTIVE` (DynamoDB developer guide, "Creating a
/// table": creation is asynchronous).
///
/// # Errors
/// A [`PortError`] when DynamoDB refuses or the table does not become active within
/// [`ACTIVE_WAIT`].
pub async fn create_table(client: &DynamoClient, table: &str) -> Result<TableCreation, PortError> {
    let by_kind = index(BY_KIND_INDEX, KIND)?;
    let by_org = index(BY_ORG_INDEX, ORG_ID)?;
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string_attr(PK)?)
        .attribute_definitions(string_attr(SK)?)
        .attribute_definitions(string_attr(KIND)?)
        .attribute_definitions(string_attr(ORG_ID)?)
        .key_schema(key(PK, KeyType::Hash)?)
        .key_schema(key(SK, KeyType::Range)?)
        .global_secondary_indexes(by_kind)
        .global_secondary_indexes(by_org)
        .send()
        .await;
    let outcome = match created {
        Ok(_) => TableCreation::Created,
        Err(e) if code(&e) == Some("ResourceInUseException") => TableCreation::AlreadyExisted,
        Err(e) => return Err(port_error("DynamoDB CreateTable", e)),
    };
    wait_active(client, table).await?;
    Ok(outcome)
}

/// Polls `DescribeTable` until the table and all its global secondary indexes are
/// `ACTIVE`.
async fn wait_active(client: &DynamoClient, table: &str) -> Result<(), PortError> {
    let deadline = tokio::time::Instant::now() + ACTIVE_WAIT;
    loop {
        let out = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| port_error("DynamoDB DescribeTable", e))?;
        if let Some(desc) = out.table {
            let table_active = desc.table_status == Some(TableStatus::Active);
            let indexes_active = desc
                .global_secondary_indexes
                .unwrap_or_default()
                .iter()
                .all(|i| i.index_status.is_none() || i.index_status == Some(IndexStatus::Active));
            if table_active && indexes_active {
                return Ok(());
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(PortError::timeout(format!(
                "table {table} did not become active within {} s",
                ACTIVE_WAIT.as_secs()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Turns on the table's deletion protection unless it is on already; `true` when this
/// call turned it on. The SAM template leaves the property unset, so that a first
/// deploy that rolls back can delete the table it created; `m2m-admin init`, run after a
/// successful deploy, protects it from then on (DynamoDB developer guide, "Using
/// deletion protection").
///
/// # Errors
/// A [`PortError`] when `DescribeTable` or `UpdateTable` fails.
pub async fn protect_table(client: &DynamoClient, table: &str) -> Result<bool, PortError> {
    let out = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| port_error("DynamoDB DescribeTable", e))?;
    let protected = out
        .table
        .and_then(|t| t.deletion_protection_enabled)
        .unwrap_or(false);
    if protected {
        return Ok(false);
    }
    client
        .update_table()
        .table_name(table)
        .deletion_protection_enabled(true)
        .send()
        .await
        .map_err(|e| port_error("DynamoDB UpdateTable", e))?;
    Ok(true)
}
