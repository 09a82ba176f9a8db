//! The DynamoDB directory: [`Directory`] on one table, reading client, grant, API and
//! the token reuse cache entry for a token request in one `BatchGetItem` round trip,
//! and writing sealed reusable tokens with `PutItem`, bounded in time.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_sdk_dynamodb::Client as DynamoClient;
use m2m_core::error::PortError;
use m2m_core::ports::{Directory, Lookup};
use m2m_core::reuse::{ReuseKey, SealedToken, REUSE_WRITE_BUDGET_MS};
use m2m_core::types::{Audience, ClientId, SecretId};

use crate::items::{self, Item, ItemError};
use crate::reuse_item;
use crate::sdk_error::{code, port_error};

/// How many times `BatchGetItem` is sent when DynamoDB leaves keys unprocessed (it
/// does so under throttling or when a response would pass 16 MB). The DynamoDB API
/// reference for `BatchGetItem` asks callers to retry `UnprocessedKeys` with
/// exponential backoff; we bound it to stay inside the function's budget.
pub const BATCH_ATTEMPTS: u32 = 3;
/// First backoff before re-requesting unprocessed keys; doubled on each retry.
const BATCH_BACKOFF: Duration = Duration::from_millis(20);
/// DynamoDB rejects a partition key over 2048 bytes or a sort key over 1024 bytes with
/// a `ValidationException`. Identifiers longer than this cannot be in the directory,
/// so they are reported as absent (an unknown client or audience) instead of failing
/// the request with `server_error`.
const MAX_ID_BYTES: usize = 1000;

/// The directory on a DynamoDB table with DESIGN.md's single-table layout.
#[derive(Clone, Debug)]
pub struct DynamoDirectory {
    client: DynamoClient,
    table: String,
}

impl DynamoDirectory {
    /// A directory on `table`, using `client` (built once at cold start).
    pub fn new(client: DynamoClient, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Sends `BatchGetItem` for `keys`, re-requesting unprocessed keys with backoff,
    /// and returns every item found.
    async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, PortError> {
        let mut pending = keys;
        let mut found = Vec::new();
        for attempt in 0..BATCH_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(BATCH_BACKOFF * 2u32.pow(attempt - 1)).await;
            }
            // Strongly consistent: a disabled client or revoked secret must stop working
            // at once. For three small items this costs 3 read units instead of 1.5.
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
                .map_err(|e| port_error("DynamoDB BatchGetItem", e))?;
            if let Some(mut responses) = out.responses {
                if let Some(items) = responses.remove(&self.table) {
                    found.extend(items);
                }
            }
            pending = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
                .map(|k| k.keys)
                .unwrap_or_default();
            if pending.is_empty() {
                return Ok(found);
            }
            tracing::debug!(
                attempt,
                unprocessed = pending.len(),
                "BatchGetItem left keys unprocessed"
            );
        }
        Err(PortError::throttled(format!(
            "DynamoDB BatchGetItem left keys unprocessed after {BATCH_ATTEMPTS} attempts"
        )))
    }
}

fn malformed(e: ItemError) -> PortError {
    PortError::new("malformed item in the directory").with_source(e)
}

impl DynamoDirectory {
    /// The shared body of [`Directory::lookup`] and [`Directory::lookup_with_reuse`].
    async fn read(
        &self,
        client_id: &ClientId,
        audience: &Audience,
        reuse: Option<&ReuseKey>,
    ) -> Result<Lookup, PortError> {
        if client_id.as_str().is_empty()
            || audience.as_str().is_empty()
            || client_id.as_str().len() > MAX_ID_BYTES
            || audience.as_str().len() > MAX_ID_BYTES
        {
            return Ok(Lookup::default());
        }
        let mut keys = vec![
            items::client_key(client_id),
            items::grant_key(client_id, audience),
            items::api_key(audience),
        ];
        if let Some(key) = reuse {
            keys.push(reuse_item::reuse_key(client_id, key));
        }
        let found = self.batch_get(keys).await?;
        let mut lookup = Lookup::default();
        for item in &found {
            match items::item_key(item) {
                Some((_, "CLIENT")) => {
                    lookup.client = Some(items::client_from_item(item).map_err(malformed)?)
                }
                Some((_, "API")) => {
                    lookup.api = Some(items::api_from_item(item).map_err(malformed)?)
                }
                Some((_, sk)) if sk.starts_with("GRANT#") => {
                    lookup.grant = Some(items::grant_from_item(item).map_err(malformed)?)
                }
                Some((pk, _)) if reuse.is_some() && reuse_item::is_reuse_pk(pk) => {
                    // A malformed cache entry is a miss, not a failure: the request signs
                    // afresh and its PutItem replaces the entry.
                    match reuse_item::reuse_from_item(item) {
                        Ok(cached) => lookup.reuse = Some(cached),
                        Err(e) => {
                            tracing::warn!(error = %e, "ignoring a malformed reuse cache item")
                        }
                    }
                }
                _ => {
                    return Err(PortError::new(
                        "BatchGetItem returned an item with an unexpected key",
                    ))
                }
            }
        }
        Ok(lookup)
    }
}

impl Directory for DynamoDirectory {
    async fn lookup(&self, client_id: &ClientId, audience: &Audience) -> Result<Lookup, PortError> {
        self.read(client_id, audience, None).await
    }

    async fn lookup_with_reuse(
        &self,
        client_id: &ClientId,
        audience: &Audience,
        key: &ReuseKey,
    ) -> Result<Lookup, PortError> {
        self.read(client_id, audience, Some(key)).await
    }

    async fn store_reuse(
        &self,
        client_id: &ClientId,
        key: &ReuseKey,
        token: &SealedToken,
    ) -> Result<(), PortError> {
        // Unconditional: of two concurrent misses, the last writer wins, and either
        // token is valid. The SDK error never carries the item. The token is already
        // signed, so the write gets its own short deadline rather than the SDK's
        // operation timeout: a slow write is abandoned, never a late response.
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(reuse_item::reuse_to_item(client_id, key, token)))
            .send();
        match tokio::time::timeout(Duration::from_millis(REUSE_WRITE_BUDGET_MS), put).await {
            Ok(done) => done
                .map(|_| ())
                .map_err(|e| port_error("DynamoDB PutItem (reuse cache)", e)),
            Err(_) => Err(PortError::new(format!(
                "DynamoDB PutItem (reuse cache) abandoned after {REUSE_WRITE_BUDGET_MS} ms"
            ))),
        }
    }

    async fn record_secret_use(
        &self,
        client_id: &ClientId,
        secret_id: &SecretId,
        now: u64,
    ) -> Result<(), PortError> {
        let now_av = AttributeValue::N(now.to_string());
        // Common case: the client item has its `last_used` map (every item written by
        // `items::client_to_item` does). Only that map entry changes, never `version`,
        // so an operator's concurrent conditional write is not disturbed.
        let first = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(items::client_key(client_id)))
            .update_expression("SET #lu.#sid = :now")
            .condition_expression("attribute_exists(PK) AND attribute_exists(#lu)")
            .expression_attribute_names("#lu", items::LAST_USED)
            .expression_attribute_names("#sid", secret_id.as_str())
            .expression_attribute_values(":now", now_av.clone())
            .send()
            .await;
        match first {
            Ok(_) => return Ok(()),
            Err(e) if code(&e) == Some("ConditionalCheckFailedException") => {}
            Err(e) => return Err(port_error("DynamoDB UpdateItem (last_used)", e)),
        }
        // The item lacks the map (written by something older): create it, still only if
        // the client exists.
        let map = AttributeValue::M(HashMap::from([(secret_id.as_str().to_owned(), now_av)]));
        match self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(items::client_key(client_id)))
            .update_expression("SET #lu = :map")
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(#lu)")
            .expression_attribute_names("#lu", items::LAST_USED)
            .expression_attribute_values(":map", map)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if code(&e) == Some("ConditionalCheckFailedException") => Err(PortError::new(
                "recording secret use: the client no longer exists",
            )),
            Err(e) => Err(port_error("DynamoDB UpdateItem (last_used)", e)),
        }
    }
}
