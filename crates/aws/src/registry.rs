//! The signing-key registry on DynamoDB: [`KeySource`] over the `KEY#<kid>` items of
//! the directory table, listed with a `Query` on the `ByKind` index (`kind = KEY`)
//! rather than a `Scan`, so the cost follows the number of keys, not of clients.
//!
//! The index is eventually consistent (a GSI cannot be read consistently), so the
//! signer does not take a key's status from it: [`DynamoKeyRegistry::read_consistent`]
//! re-reads the listed items from the base table with a strongly consistent
//! `BatchGetItem`. The index only says which keys exist, which changes only when a key
//! is created (and published as pending long before it may sign) or deleted.

use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_sdk_dynamodb::Client as DynamoClient;
use m2m_core::error::PortError;
use m2m_core::keys::KeySource;
use m2m_core::model::SigningKey;
use m2m_core::types::Kid;

use crate::items;
use crate::sdk_error::port_error;

/// Upper bound on `Query` pages (each up to 1 MB, roughly a thousand keys). A registry
/// holds a handful of keys; more pages than this means something is wrong, and a
/// truncated list must never be published as if it were whole.
pub const MAX_REGISTRY_PAGES: usize = 16;

/// The key registry in the directory table.
#[derive(Clone, Debug)]
pub struct DynamoKeyRegistry {
    client: DynamoClient,
    table: String,
    page_size: Option<i32>,
}

impl DynamoKeyRegistry {
    /// A registry reading `table` with `client`.
    pub fn new(client: DynamoClient, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            page_size: None,
        }
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
    /// item does not decode strictly ([`items::signing_key_from_item`]), or the
    /// registry spans more than [`MAX_REGISTRY_PAGES`] pages.
    pub async fn list(&self) -> Result<Vec<SigningKey>, PortError> {
        let mut keys = Vec::new();
        let mut start = None;
        for _ in 0..MAX_REGISTRY_PAGES {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(items::BY_KIND_INDEX)
                .key_condition_expression("#k = :k")
                .expression_attribute_names("#k", items::KIND)
                .expression_attribute_values(":k", AttributeValue::S(items::KIND_KEY.into()))
                .set_limit(self.page_size)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| port_error("DynamoDB Query (key registry)", e))?;
            for item in out.items.unwrap_or_default() {
                let key = items::signing_key_from_item(&item).map_err(|e| {
                    PortError::new("malformed signing key in the registry").with_source(e)
                })?;
                keys.push(key);
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(keys);
            }
        }
        Err(PortError::new(format!(
            "the key registry spans more than {MAX_REGISTRY_PAGES} query pages"
        )))
    }
}

impl DynamoKeyRegistry {
    /// The items of `kids`, read from the base table with a strongly consistent
    /// `BatchGetItem` (DynamoDB developer guide, "Read consistency"). Keys no longer in
    /// the table are left out.
    ///
    /// # Errors
    /// A [`PortError`] when the read fails, keys stay unprocessed after retries, or an
    /// item does not decode strictly.
    pub async fn read_consistent(&self, kids: &[Kid]) -> Result<Vec<SigningKey>, PortError> {
        let mut keys = Vec::new();
        // BatchGetItem takes at most 100 keys per request.
        for chunk in kids.chunks(100) {
            let mut pending: Vec<_> = chunk.iter().map(items::signing_key_key).collect();
            for attempt in 0..3u32 {
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
                }
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(pending))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| PortError::new("building BatchGetItem").with_source(e))?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| port_error("DynamoDB BatchGetItem (key registry)", e))?;
                for item in out
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default()
                {
                    keys.push(items::signing_key_from_item(&item).map_err(|e| {
                        PortError::new("malformed signing key in the registry").with_source(e)
                    })?);
                }
                pending = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .map(|k| k.keys)
                    .unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
            }
            if !pending.is_empty() {
                return Err(PortError::throttled(
                    "DynamoDB BatchGetItem (key registry) left keys unprocessed",
                ));
            }
        }
        Ok(keys)
    }
}

impl KeySource for DynamoKeyRegistry {
    async fn signing_keys(&self) -> Result<Vec<SigningKey>, PortError> {
        self.list().await
    }
}
