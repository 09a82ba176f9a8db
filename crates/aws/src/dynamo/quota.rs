//! Quota counters and usage counts on the table ([`item::quota`]): what
//! [`Directory::consume_quota`](m2m_core::ports::Directory::consume_quota) and
//! [`Directory::record_usage`](m2m_core::ports::Directory::record_usage) do for the
//! DynamoDB directory.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client as DynamoClient;
use m2m_core::error::PortError;
use m2m_core::quota::{retry_after, Counter, Subject};

use crate::dynamo::item::quota::{self, COUNT, USAGE_RETENTION};
use crate::dynamo::item::reuse::TTL;
use crate::sdk::error::{code, port_error};

const ADD_ONE: &str = "SET #ttl = if_not_exists(#ttl, :ttl) ADD #count :one";
const HAS_ROOM: &str = "attribute_not_exists(#count) OR #count < :limit";

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// Counts one request in every counter, only if each has room. One counter is one
/// conditional `UpdateItem`; several are one `TransactWriteItems` of conditional
/// updates, so either all count the request or none does, and concurrent requests
/// can never push a counter past its limit.
pub(crate) async fn consume(
    client: &DynamoClient,
    table: &str,
    counters: &[Counter],
    now: u64,
) -> Result<Result<(), u64>, PortError> {
    let full_answer = |full: Vec<&Counter>| Ok(Err(retry_after(&full, now)));
    if let [counter] = counters {
        let sent = client
            .update_item()
            .table_name(table)
            .set_key(Some(quota::counter_key(counter)))
            .update_expression(ADD_ONE)
            .condition_expression(HAS_ROOM)
            .expression_attribute_names("#count", COUNT)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(counter.limit))
            .expression_attribute_values(":ttl", n(quota::counter_ttl(counter)))
            .send()
            .await;
        return match sent {
            Ok(_) => Ok(Ok(())),
            Err(e) if code(&e) == Some("ConditionalCheckFailedException") => {
                full_answer(vec![counter])
            }
            Err(e) => Err(port_error("DynamoDB UpdateItem (quota)", e)),
        };
    }
    let mut items = Vec::with_capacity(counters.len());
    for counter in counters {
        let update = Update::builder()
            .table_name(table)
            .set_key(Some(quota::counter_key(counter)))
            .update_expression(ADD_ONE)
            .condition_expression(HAS_ROOM)
            .expression_attribute_names("#count", COUNT)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(counter.limit))
            .expression_attribute_values(":ttl", n(quota::counter_ttl(counter)))
            .build()
            .map_err(|e| PortError::malformed("quota update").with_source(e))?;
        items.push(TransactWriteItem::builder().update(update).build());
    }
    let sent = client
        .transact_write_items()
        .set_transact_items(Some(items))
        .send()
        .await;
    match sent {
        Ok(_) => Ok(Ok(())),
        Err(e) if code(&e) == Some("TransactionCanceledException") => {
            // Which counters were full: those whose condition failed. A cancellation
            // for another reason (a conflict with a concurrent transaction) is
            // transient.
            let reasons: Vec<Option<String>> = e
                .as_service_error()
                .and_then(|s| match s {
                    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(t) => Some(t),
                    _ => None,
                })
                .map(|t| {
                    t.cancellation_reasons()
                        .iter()
                        .map(|r| r.code().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let full: Vec<&Counter> = counters
                .iter()
                .zip(
                    reasons
                        .iter()
                        .map(Option::as_deref)
                        .chain(std::iter::repeat(None)),
                )
                .filter(|(_, r)| *r == Some("ConditionalCheckFailed"))
                .map(|(c, _)| c)
                .collect();
            if full.is_empty() {
                Err(PortError::throttled(
                    "DynamoDB TransactWriteItems (quota) cancelled by a concurrent write",
                ))
            } else {
                full_answer(full)
            }
        }
        Err(e) => Err(port_error("DynamoDB TransactWriteItems (quota)", e)),
    }
}

/// Adds each count to its hour's usage item (`ADD`, so concurrent instances add up),
/// all at once.
pub(crate) async fn record_usage(
    client: &DynamoClient,
    table: &str,
    counts: &[(Subject, u64, u64)],
) -> Result<(), PortError> {
    let writes = counts.iter().map(|(subject, hour, count)| {
        client
            .update_item()
            .table_name(table)
            .set_key(Some(quota::usage_key(subject, *hour)))
            .update_expression("SET #ttl = if_not_exists(#ttl, :ttl) ADD #count :n")
            .expression_attribute_names("#count", COUNT)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":n", n(*count))
            .expression_attribute_values(":ttl", n(hour + USAGE_RETENTION))
            .send()
    });
    for result in futures_util::future::join_all(writes).await {
        result.map_err(|e| port_error("DynamoDB UpdateItem (usage)", e))?;
    }
    Ok(())
}
