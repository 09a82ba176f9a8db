//! Hourly usage counts ([`item::quota`]) read for billing and support: one `Query` of
//! the subject's usage partition between two hour sort keys.

use m2m_core::quota::Subject;
use m2m_manage::StoreError;

use crate::dynamo::admin::{all_items, s, DynamoAdminStore, MAX_PAGES};
use crate::dynamo::item::quota::{usage_from_item, usage_pk, usage_sk};
use crate::dynamo::item::{PK, SK};

/// `subject`'s counts for the hours `from_hour..=to_hour`, in time order (the sort
/// keys' ten-digit hours sort as time). Eventually consistent: half the read cost, and
/// the counts trail the tokens by up to a minute anyway.
///
/// # Errors
/// As [`StoreError`]; [`StoreError::Malformed`] for a count that does not decode.
pub(super) async fn usage(
    store: &DynamoAdminStore,
    subject: &Subject,
    from_hour: u64,
    to_hour: u64,
) -> Result<Vec<(u64, u64)>, StoreError> {
    let pages = store
        .client
        .query()
        .table_name(&store.table)
        .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
        .expression_attribute_names("#pk", PK)
        .expression_attribute_names("#sk", SK)
        .expression_attribute_values(":pk", s(usage_pk(subject)))
        .expression_attribute_values(":from", s(usage_sk(from_hour)))
        .expression_attribute_values(":to", s(usage_sk(to_hour)))
        .into_paginator()
        .send();
    let items = all_items(pages, MAX_PAGES, "DynamoDB Query (usage)", |page| {
        page.items
    })
    .await?;
    Ok(items
        .iter()
        .map(usage_from_item)
        .collect::<Result<Vec<_>, _>>()?)
}
