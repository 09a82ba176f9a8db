//! Strongly consistent `BatchGetItem` with the retry of unprocessed keys that the
//! DynamoDB API reference asks for ("BatchGetItem": "If there are unprocessed keys …
//! we strongly recommend that you use an exponential backoff algorithm"), shared by
//! the directory's lookup and the signer's re-read of the key registry.

use std::time::Duration;

use aws_sdk_dynamodb::types::KeysAndAttributes;
use aws_sdk_dynamodb::Client as DynamoClient;
use m2m_core::error::PortError;

use crate::dynamo::item::Item;
use crate::dynamo::json::{batch_get_answer, batch_get_request};
use crate::sdk::error::port_error;
use crate::wire::Wire;

/// How a batch is read: through the SDK client, or spoken directly ([`crate::wire`]) on
/// the token endpoint's request path.
#[derive(Clone, Copy)]
pub(crate) enum Reader<'a> {
    /// The AWS SDK's `BatchGetItem`.
    Sdk(&'a DynamoClient),
    /// DynamoDB's JSON protocol, without the SDK's per-call machinery.
    Wire(&'a Wire),
}

impl<'a> Reader<'a> {
    /// The wire client when there is one, the SDK client otherwise.
    pub(crate) fn of(client: &'a DynamoClient, wire: Option<&'a Wire>) -> Self {
        wire.map_or(Self::Sdk(client), Self::Wire)
    }
}

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
    client: Reader<'_>,
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
    client: Reader<'_>,
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
        let (items, unprocessed) = match client {
            Reader::Sdk(client) => sdk_chunk(client, table, pending, what).await?,
            Reader::Wire(wire) => wire_chunk(wire, table, &pending, what).await?,
        };
        found.extend(items);
        pending = unprocessed;
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

/// One `BatchGetItem` through the SDK: the items found and the keys left unprocessed.
async fn sdk_chunk(
    client: &DynamoClient,
    table: &str,
    keys: Vec<Item>,
    what: &str,
) -> Result<(Vec<Item>, Vec<Item>), PortError> {
    let request = KeysAndAttributes::builder()
        .set_keys(Some(keys))
        .consistent_read(true)
        .build()
        .map_err(|e| PortError::malformed("building BatchGetItem").with_source(e))?;
    let out = client
        .batch_get_item()
        .request_items(table, request)
        .send()
        .await
        .map_err(|e| port_error(what, e))?;
    let items = out
        .responses
        .and_then(|mut r| r.remove(table))
        .unwrap_or_default();
    let unprocessed = out
        .unprocessed_keys
        .and_then(|mut u| u.remove(table))
        .map(|k| k.keys)
        .unwrap_or_default();
    Ok((items, unprocessed))
}

/// One `BatchGetItem` spoken directly: the items found and the keys left unprocessed.
async fn wire_chunk(
    wire: &Wire,
    table: &str,
    keys: &[Item],
    what: &str,
) -> Result<(Vec<Item>, Vec<Item>), PortError> {
    let body = batch_get_request(table, keys)
        .map_err(|e| PortError::malformed("building BatchGetItem").with_source(e))?;
    let answer = wire
        .call("BatchGetItem", body)
        .await
        .map_err(|e| e.into_port_error(what))?;
    let answer = batch_get_answer(table, &answer).map_err(|e| {
        PortError::malformed(format!("{what}: an unreadable answer")).with_source(e)
    })?;
    Ok((answer.items, answer.unprocessed))
}
