//! The operator's view of the directory table, [`DynamoAdminStore`]: the DynamoDB
//! adapter of `m2m-manage`'s [`AdminStore`](m2m_manage::AdminStore) port (the operator
//! rules behind `m2m-admin` and the management API). Reads, paged listings and
//! conditional writes of APIs, clients, grants, trust rules, signing keys,
//! idempotency records and organization records; revocation entries (RFC 7009) written
//! with the client they revoke for; and the hourly usage counts.
//! Every write is conditional, so two operators acting at once never lose an update and
//! a refused write changes nothing.
//!
//! Concurrency rules (optimistic, no locks):
//! - a client item's `version` is bumped by every write to the client (its keys and
//!   `jwks_uri` included), **its grants or its trust rules** (the token function's
//!   reuse cache keys on it), and each such write is conditional on the version read;
//! - an API item carries a `version` too (absent on items written by other tools reads
//!   as 0), bumped by `api update` and by every grant written for it, so `api delete`
//!   (conditional on the version it read) can never race a concurrent `grant add` into
//!   leaving an orphan grant;
//! - multi-item changes (grant + client + API, a new client + its grants + their APIs,
//!   client + its grants, client + its revocation entry, client + a condition on its
//!   organization's record) are one `TransactWriteItems`: all or nothing.
//!
//! This file holds the store and its shared building blocks; the operations live in
//! one module per concern (`apis`, `clients`, `trust`, `keys`, `listing`, `idempotency`,
//! `orgs`, `revoke`, `usage`) and
//! [`m2m_manage::AdminStore`] is implemented over them in `port`.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client as DynamoClient;
use m2m_core::error::PortError;
use m2m_core::model::Grant;
use m2m_core::types::ClientId;
use m2m_manage::StoreError;

use crate::dynamo::item::attr::{n, s};

pub(crate) use crate::dynamo::paging::all_items;

mod apis;
mod clients;
mod cursor;
mod idempotency;
mod keys;
mod listing;
mod orgs;
mod port;
mod revoke;
mod trust;
mod usage;
use crate::dynamo::item::{self, Item, ItemError, BY_KIND_INDEX, KIND, PK};
use crate::sdk::error::port_error;
pub use clients::MAX_CREATE_GRANTS;

/// The attribute holding an item's optimistic-concurrency version.
pub const VERSION: &str = "version";
/// DynamoDB's limit on actions in one `TransactWriteItems`.
pub const MAX_TRANSACTION_ITEMS: usize = 100;
/// Upper bound on pages read by one listing (1 MB each): far beyond any directory an
/// operator lists from a terminal, and a guard against a runaway loop.
pub(crate) const MAX_PAGES: usize = 10_000;

/// A malformed item becomes [`StoreError::Malformed`] with the same message (which
/// names the item kind and attribute, never a value).
impl From<ItemError> for StoreError {
    fn from(e: ItemError) -> Self {
        StoreError::Malformed(e.to_string())
    }
}

/// A condition expression with its attribute names and values.
pub(crate) struct Condition<'a> {
    /// The expression.
    pub expression: &'a str,
    /// `#name` placeholders.
    pub names: &'a [(&'a str, &'a str)],
    /// `:value` placeholders.
    pub values: Vec<(&'a str, AttributeValue)>,
}

/// One labelled action of a transaction: the label names the item in a [`StoreError::Conflict`].
pub(crate) type Action = (String, TransactWriteItem);

/// Administrative access to the directory table: the DynamoDB adapter of the
/// [`m2m_manage::AdminStore`] port.
#[derive(Clone, Debug)]
pub struct DynamoAdminStore {
    pub(crate) client: DynamoClient,
    pub(crate) table: String,
}

pub(crate) fn build<T>(
    what: &str,
    r: Result<T, aws_sdk_dynamodb::error::BuildError>,
) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Port(PortError::malformed(format!("building {what}")).with_source(e)))
}

/// The `version` attribute of a raw item (absent → 0).
pub(crate) fn item_version(item: &Item) -> Result<u64, ItemError> {
    match item.get(VERSION) {
        None | Some(AttributeValue::Null(_)) => Ok(0),
        Some(AttributeValue::N(v)) => v.parse().map_err(|_| ItemError {
            item: "API",
            attribute: VERSION.to_owned(),
            problem: "is not a non-negative integer",
        }),
        Some(_) => Err(ItemError {
            item: "API",
            attribute: VERSION.to_owned(),
            problem: "is not a number",
        }),
    }
}

/// The condition "the item exists and its version is `expected`" (an absent version
/// counts as 0), with its placeholders `#v` and `:expected`.
pub(crate) fn version_condition(expected: u64) -> &'static str {
    if expected == 0 {
        "attribute_exists(#pk) AND (attribute_not_exists(#v) OR #v = :expected)"
    } else {
        "attribute_exists(#pk) AND #v = :expected"
    }
}

impl DynamoAdminStore {
    /// An admin store on `table`.
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

    /// Converts an SDK error, recognising a missing table.
    pub(crate) fn sdk<E, R>(&self, what: &str, err: SdkError<E, R>) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        if err.code() == Some("ResourceNotFoundException") {
            return StoreError::TableMissing(self.table.clone());
        }
        StoreError::Port(port_error(what, err))
    }

    /// Whether the table exists (`DescribeTable`).
    ///
    /// # Errors
    /// [`StoreError::Port`] when DynamoDB fails.
    pub async fn table_exists(&self) -> Result<bool, StoreError> {
        match self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => match self.sdk("DynamoDB DescribeTable", e) {
                StoreError::TableMissing(_) => Ok(false),
                other => Err(other),
            },
        }
    }

    /// Every grant among `pages` (a `Query` or `Scan` with the SDK's paginator), sorted
    /// by `order`.
    pub(crate) async fn grants_of<P, E, R>(
        pages: aws_smithy_async::future::pagination_stream::PaginationStream<
            Result<P, SdkError<E, R>>,
        >,
        what: &str,
        items: impl Fn(P) -> Option<Vec<Item>>,
        order: impl Fn(&Grant, &Grant) -> std::cmp::Ordering,
    ) -> Result<Vec<Grant>, StoreError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let mut grants = all_items(pages, MAX_PAGES, what, items)
            .await?
            .iter()
            .map(item::grant_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        grants.sort_by(order);
        Ok(grants)
    }

    /// A strongly consistent `GetItem`.
    pub(crate) async fn get(&self, key: Item) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.sdk("DynamoDB GetItem", e))?;
        Ok(out.item)
    }

    /// Every item of `kind`, through the `ByKind` index (eventually consistent: an item
    /// written a moment ago may be missing; decisions re-check with conditions).
    pub(crate) async fn query_kind(&self, kind: &str) -> Result<Vec<Item>, StoreError> {
        let pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_KIND_INDEX)
            .key_condition_expression("#kind = :kind")
            .expression_attribute_names("#kind", KIND)
            .expression_attribute_values(":kind", s(kind))
            .into_paginator()
            .send();
        Ok(
            all_items(pages, MAX_PAGES, "DynamoDB Query (ByKind)", |page| {
                page.items
            })
            .await?,
        )
    }

    /// Sends one transaction; a cancelled one becomes [`StoreError::Conflict`] naming the
    /// first action whose condition failed.
    pub(crate) async fn transact(&self, actions: Vec<Action>) -> Result<(), StoreError> {
        let (labels, items): (Vec<String>, Vec<TransactWriteItem>) = actions.into_iter().unzip();
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(t)) => {
                    let failed = t
                        .cancellation_reasons()
                        .iter()
                        .position(|r| r.code().is_some_and(|c| c != "None"));
                    let label = failed
                        .and_then(|i| labels.get(i).cloned())
                        .unwrap_or_else(|| "a concurrently changed item".to_owned());
                    Err(StoreError::Conflict(label))
                }
                _ => Err(self.sdk("DynamoDB TransactWriteItems", e)),
            },
        }
    }

    /// A `Put` action of `item` under `condition` (placeholders `#pk` and those given).
    pub(crate) fn put_action(
        &self,
        item: Item,
        condition: &str,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .expression_attribute_names("#pk", PK);
        for (k, v) in names {
            put = put.expression_attribute_names(*k, *v);
        }
        for (k, v) in values {
            put = put.expression_attribute_values(k, v);
        }
        Ok(TransactWriteItem::builder()
            .put(build("Put", put.build())?)
            .build())
    }

    /// A `Delete` action of `key`, conditional on the item existing, or on `extra`'s
    /// condition (with its names and values) when given.
    pub(crate) fn delete_action(
        &self,
        key: Item,
        extra: Option<Condition<'_>>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut del = Delete::builder().table_name(&self.table).set_key(Some(key));
        match extra {
            None => {
                del = del
                    .condition_expression("attribute_exists(#pk)")
                    .expression_attribute_names("#pk", PK);
            }
            Some(cond) => {
                // DynamoDB refuses expression attribute names the expression leaves unused.
                if cond.expression.contains("#pk") {
                    del = del.expression_attribute_names("#pk", PK);
                }
                del = del.condition_expression(cond.expression);
                for (k, v) in cond.names {
                    del = del.expression_attribute_names(*k, *v);
                }
                for (k, v) in cond.values {
                    del = del.expression_attribute_values(k, v);
                }
            }
        }
        Ok(TransactWriteItem::builder()
            .delete(build("Delete", del.build())?)
            .build())
    }

    /// An `Update` action setting `version` to `expected + 1`, conditional on it being
    /// `expected` (absent counts as 0 when `expected` is 0).
    pub(crate) fn bump_action(
        &self,
        key: Item,
        expected: u64,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression("SET #v = :next")
            .condition_expression(version_condition(expected))
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#v", VERSION)
            .expression_attribute_values(":expected", n(expected))
            .expression_attribute_values(":next", n(expected.saturating_add(1)))
            .build();
        Ok(TransactWriteItem::builder()
            .update(build("Update", update)?)
            .build())
    }

    /// An `Update` action adding 1 to an existing client's `version`, whatever it is
    /// (used when deleting an API's grants: the clients' cached tokens must go).
    pub(crate) fn bump_any_action(
        &self,
        client_id: &ClientId,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(item::client_key(client_id)))
            .update_expression("SET #v = #v + :one")
            .condition_expression("attribute_exists(#v)")
            .expression_attribute_names("#v", VERSION)
            .expression_attribute_values(":one", n(1))
            .build();
        Ok(TransactWriteItem::builder()
            .update(build("Update", update)?)
            .build())
    }
}
