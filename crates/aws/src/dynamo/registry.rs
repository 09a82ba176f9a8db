//! The signing-key registry on DynamoDB: [`KeySource`] over the `KEY#<kid>` items of
//! the directory table, listed with a `Query` on the `ByKind` index (`kind = KEY`)
//! rather than a `Scan`, so the cost follows the number of keys, not of clients.
//!
//! The index is eventually consistent (a GSI cannot be read consistently), so the
//! signer does not take a key's status from it: [`DynamoKeyRegistry::read_consistent`]
//! re-reads the listed items from the base table with a strongly consistent
//! `BatchGetItem`. The index only says which keys exist, which changes only when a key
//! is created (and published as pending long before it may sign) or deleted.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client as DynamoClient;
use m2m_core::error::PortError;
use m2m_core::keys::{KeyRegistry, KeySource};
use m2m_core::model::SigningKey;
use m2m_core::types::Kid;

use crate::dynamo::batch::{batch_get_consistent, Reader};
use crate::dynamo::item;
use crate::dynamo::paging::all_items;
use crate::wire::Wire;

/// Upper bound on `Query` pages (each up to 1 MB, roughly a thousand keys). A registry
/// holds a handful of keys; more pages than this means something is wrong, and a
/// truncated list must never be published as if it were whole.
pub const MAX_REGISTRY_PAGES: usize = 16;

/// The key registry in the directory table.
#[derive(Clone, Debug)]
pub struct DynamoKeyRegistry {
    client: DynamoClient,
    wire: Option<Wire>,
    table: String,
    page_size: Option<i32>,
}

impl DynamoKeyRegistry {
    /// A registry reading `table` with `client`.
    pub fn new(client: DynamoClient, table: impl Into<String>) -> Self {
        Self {
            client,
            wire: None,
            table: table.into(),
            page_size: None,
        }
    }

    /// Reads keys' status with `wire` instead of the SDK client (the token function's
    /// request path, [`crate::wire`]); listing the keys stays with the SDK.
    #[must_use]
    pub fn with_wire(mut self, wire: Option<Wire>) -> Self {
        self.wire = wire;
        self
    }

    /// Caps each `Query` page at `items` items (DynamoDB `Limit`); by default a page
    /// is as large as DynamoDB allows. Tests use it to exercise pagination.
    pub fn with_page_size(mut self, items: i32) -> Self {
        self.page_size = Some(items);
        self
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Every signing key, in `PK` order (the index's range key), all pages read.
    ///
    /// # Errors
    /// A [`PortError`] (throttled when DynamoDB throttles) when the query fails, an
    /// item does not decode strictly ([`item::signing_key_from_item`]), or the
    /// registry spans more than [`MAX_REGISTRY_PAGES`] pages.
    pub async fn list(&self) -> Result<Vec<SigningKey>, PortError> {
        let pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(item::BY_KIND_INDEX)
            .key_condition_expression("#k = :k")
            .expression_attribute_names("#k", item::KIND)
            .expression_attribute_values(":k", AttributeValue::S(item::KIND_KEY.into()))
            .set_limit(self.page_size)
            .into_paginator()
            .send();
        let what = "DynamoDB Query (key registry)";
        decode_keys(&all_items(pages, MAX_REGISTRY_PAGES, what, |page| page.items).await?)
    }
}

impl KeySource for DynamoKeyRegistry {
    async fn signing_keys(&self) -> Result<Vec<SigningKey>, PortError> {
        self.list().await
    }
}

impl KeyRegistry for DynamoKeyRegistry {
    /// The items of `kids`, read from the base table with a strongly consistent
    /// `BatchGetItem` (DynamoDB developer guide, "Read consistency"). Keys no longer in
    /// the table are left out.
    ///
    /// # Errors
    /// A [`PortError`] when the read fails, keys stay unprocessed after retries, or an
    /// item does not decode strictly.
    async fn read_consistent(&self, kids: &[Kid]) -> Result<Vec<SigningKey>, PortError> {
        let keys = kids.iter().map(item::signing_key_key).collect();
        let what = "DynamoDB BatchGetItem (key registry)";
        decode_keys(
            &batch_get_consistent(
                Reader::of(&self.client, self.wire.as_ref()),
                &self.table,
                keys,
                what,
            )
            .await?,
        )
    }
}

/// Decodes key items strictly: a malformed key is an error, never skipped.
fn decode_keys(items: &[item::Item]) -> Result<Vec<SigningKey>, PortError> {
    items
        .iter()
        .map(|found| {
            item::signing_key_from_item(found).map_err(|e| {
                PortError::malformed("malformed signing key in the registry").with_source(e)
            })
        })
        .collect()
}
