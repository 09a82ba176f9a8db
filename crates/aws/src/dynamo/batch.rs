//! Strongly consistent `BatchGetItem` with the retry of unprocessed keys that the
//! DynamoDB API reference asks for ("BatchGetItem": "If there are unprocessed keys …
//! we strongly recommend that you use an exponential backoff algorithm"), shared by
//! the directory's lookup and the signer's re-read of the key registry.

use std::time::Duration;

use aws_sdk_dynamodb::types::KeysAndAttributes;
use aws_sdk_dynamodb::Client as DynamoClient;
use m2m_core::error::PortError;

use crate::dynamo::item::Item;
use crate::sdk::error::port_error;

/// `BatchGetItem` attempts for one set of keys: the first plus retries of whatever
/// DynamoDB left unprocessed.
pub const BATCH_ATTEMPTS: u32 = 3;
/// Backoff before the first retry of unprocessed keys, doubled for each further one.
const BATCH_BACKOFF: Duration = Duration::from_millis(20);
/// Keys one `BatchGetItem` request may name (DynamoDB API reference).
const BATCH_MAX_KEYS: usize = 100;

/// Reads `keys` from `table` with strongly consistent reads (a disabled client, a
/// revoked secret or a retired key must take effect at once), in requests of at most
/// 100 keys, re-requesting unprocessed keys with backoff; returns every item found.
/// `what` names the operation in errors.
///
/// # Errors
/// A [`PortError`] when a request fails, or throttled when keys stay unprocessed after
/// [`BATCH_ATTEMPTS`] attempts.
pub(crate) async fn batch_get_consistent(
    client: &DynamoClient,
    table: &str,
    keys: Vec<Item>,
    what: &str,
) -> Result<Vec<Item>, PortError> {
    let mut found = Vec::new();
    let mut chunks = keys.into_iter().peekable();
    while chunks.peek().is_some() {
        let chunk: Vec<Item> = chunks.by_ref().take(BATCH_MAX_KEYS).collect();
        found.extend(batch_get_chunk(client, table, chunk, what).await?);
    }
    Ok(found)
}

async fn batch_get_chunk(
    client: &DynamoClient,
    table: &str,
    keys: Vec<Item>,
    what: &str,
) -> Result<Vec<Item>, PortError> {
    let mut pending = keys;
    let mut found = Vec::new();
    for attempt in 0..BATCH_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(BATCH_BACKOFF * 2u32.pow(attempt - 1)).await;
        }
        let request = KeysAndAttributes::builder()
            .set_keys(Some(pending))
            .consistent_read(true)
            .build()
            .map_err(|e| PortError::malformed("building BatchGetItem").with_source(e))?;
        let out = client
            .batch_get_item()
            .request_items(table, request)
            .send()
            .await
            .map_err(|e| port_error(what, e))?;
        if let Some(items) = out.responses.and_then(|mut r| r.remove(table)) {
            found.extend(items);
        }
        pending = out
            .unprocessed_keys
            .and_then(|mut u| u.remove(table))
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
        "{what} left keys unprocessed after {BATCH_ATTEMPTS} attempts"
    )))
}
