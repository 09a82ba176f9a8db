//! The operator's view of the directory table (used by `m2m-admin`): reads, listings and
//! conditional writes of APIs, clients and grants. Every write is conditional, so two
//! operators acting at once never lose an update and a refused write changes nothing.
//!
//! Concurrency rules (optimistic, no locks):
//! - a client item's `version` is bumped by every write to the client **or its grants**
//!   (the token function's reuse cache keys on it), and each such write is conditional
//!   on the version read;
//! - an API item carries a `version` too (absent on items written by other tools reads
//!   as 0), bumped by `api update` and by every grant written for it, so `api delete`
//!   (conditional on the version it read) can never race a concurrent `grant add` into
//!   leaving an orphan grant;
//! - multi-item changes (grant + client + API, client + its grants) are one
//!   `TransactWriteItems`: all or nothing.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client as DynamoClient;
use m2m_core::error::PortError;
use m2m_core::model::{Api, Client, Grant};
use m2m_core::types::{Audience, ClientId};

use crate::items::{self, Item, ItemError, BY_KIND_INDEX, KIND, LAST_USED, PK, SK};
use crate::sdk_error::port_error;

/// The attribute holding an item's optimistic-concurrency version.
pub const VERSION: &str = "version";
/// DynamoDB's limit on actions in one `TransactWriteItems`.
pub const MAX_TRANSACTION_ITEMS: usize = 100;
/// Upper bound on pages read by one listing (1 MB each): far beyond any directory an
/// operator lists from a terminal, and a guard against a runaway loop.
const MAX_PAGES: usize = 10_000;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write found the table other than expected (an item exists that
    /// should not, is gone, or changed since it was read); the write changed nothing.
    /// Names what the failed condition was about, e.g. `client c-1`.
    #[error("the condition on {0} failed: it was changed or removed concurrently")]
    Conflict(String),
    /// The table does not exist.
    #[error("table {0} does not exist")]
    TableMissing(String),
    /// An item in the table could not be decoded.
    #[error(transparent)]
    Malformed(#[from] ItemError),
    /// DynamoDB failed or could not be reached.
    #[error(transparent)]
    Aws(#[from] PortError),
}

/// A value with the `version` its item carried when read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versioned<T> {
    /// The decoded value.
    pub value: T,
    /// The item's `version` (0 when the attribute is absent).
    pub version: u64,
}

/// One labelled action of a transaction: the label names the item in a [`StoreError::Conflict`].
pub(crate) type Action = (String, TransactWriteItem);

/// Administrative access to the directory table.
#[derive(Clone, Debug)]
pub struct AdminStore {
    pub(crate) client: DynamoClient,
    pub(crate) table: String,
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn build<T>(what: &str, r: Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Aws(PortError::new(format!("building {what}")).with_source(e)))
}

/// The `version` attribute of a raw item (absent → 0).
fn item_version(item: &Item) -> Result<u64, ItemError> {
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
fn version_condition(expected: u64) -> &'static str {
    if expected == 0 {
        "attribute_exists(#pk) AND (attribute_not_exists(#v) OR #v = :expected)"
    } else {
        "attribute_exists(#pk) AND #v = :expected"
    }
}

impl AdminStore {
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
        StoreError::Aws(port_error(what, err))
    }

    /// Whether the table exists (`DescribeTable`).
    ///
    /// # Errors
    /// [`StoreError::Aws`] when DynamoDB fails.
    pub async fn table_exists(&self) -> Result<bool, StoreError> {
        match self.client.describe_table().table_name(&self.table).send().await {
            Ok(_) => Ok(true),
            Err(e) => match self.sdk("DynamoDB DescribeTable", e) {
                StoreError::TableMissing(_) => Ok(false),
                other => Err(other),
            },
        }
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
        let mut found = Vec::new();
        let mut start = None;
        for _ in 0..MAX_PAGES {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_KIND_INDEX)
                .key_condition_expression("#kind = :kind")
                .expression_attribute_names("#kind", KIND)
                .expression_attribute_values(":kind", s(kind))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| self.sdk("DynamoDB Query (ByKind)", e))?;
            found.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key.filter(|k| !k.is_empty());
            if start.is_none() {
                return Ok(found);
            }
        }
        Err(StoreError::Aws(PortError::new("listing did not finish")))
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
        extra: Option<(&str, &[(&str, &str)], Vec<(&str, AttributeValue)>)>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut del = Delete::builder().table_name(&self.table).set_key(Some(key));
        match extra {
            None => {
                del = del
                    .condition_expression("attribute_exists(#pk)")
                    .expression_attribute_names("#pk", PK);
            }
            Some((cond, names, values)) => {
                // DynamoDB refuses expression attribute names the expression leaves unused.
                if cond.contains("#pk") {
                    del = del.expression_attribute_names("#pk", PK);
                }
                del = del.condition_expression(cond);
                for (k, v) in names {
                    del = del.expression_attribute_names(*k, *v);
                }
                for (k, v) in values {
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
    fn bump_action(&self, key: Item, expected: u64) -> Result<TransactWriteItem, StoreError> {
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
    fn bump_any_action(&self, client_id: &ClientId) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(items::client_key(client_id)))
            .update_expression("SET #v = #v + :one")
            .condition_expression("attribute_exists(#v)")
            .expression_attribute_names("#v", VERSION)
            .expression_attribute_values(":one", n(1))
            .build();
        Ok(TransactWriteItem::builder()
            .update(build("Update", update)?)
            .build())
    }

    // -----------------------------------------------------------------------------
    // APIs.

    /// The API `identifier`, with its version.
    ///
    /// # Errors
    /// As [`StoreError`].
    pub async fn get_api(&self, identifier: &Audience) -> Result<Option<Versioned<Api>>, StoreError> {
        match self.get(items::api_key(identifier)).await? {
            None => Ok(None),
            Some(item) => Ok(Some(Versioned {
                value: items::api_from_item(&item)?,
                version: item_version(&item)?,
            })),
        }
    }

    /// Every API, sorted by identifier.
    ///
    /// # Errors
    /// As [`StoreError`].
    pub async fn list_apis(&self) -> Result<Vec<Versioned<Api>>, StoreError> {
        let mut apis = self
            .query_kind(items::KIND_API)
            .await?
            .iter()
            .map(|item| {
                Ok(Versioned {
                    value: items::api_from_item(item)?,
                    version: item_version(item)?,
                })
            })
            .collect::<Result<Vec<_>, ItemError>>()?;
        apis.sort_by(|a, b| a.value.identifier.cmp(&b.value.identifier));
        Ok(apis)
    }

    /// Creates an API; [`StoreError::Conflict`] if its identifier is taken.
    ///
    /// # Errors
    /// As [`StoreError`].
    pub async fn create_api(&self, api: &Api) -> Result<(), StoreError> {
        let mut item = items::api_to_item(api);
        item.insert(VERSION.to_owned(), n(1));
        let put = self.put_action(item, "attribute_not_exists(#pk)", &[], vec![])?;
        self.transact(vec![(format!("API {}", api.identifier), put)])
            .await
    }

    /// Replaces an API, conditional on its version still being `expected`; the stored
    /// version becomes `expected + 1`.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the API changed or is gone.
    pub async fn replace_api(&self, api: &Api, expected: u64) -> Result<(), StoreError> {
        let mut item = items::api_to_item(api);
        item.insert(VERSION.to_owned(), n(expected.saturating_add(1)));
        let put = self.put_action(
            item,
            version_condition(expected),
            &[("#v", VERSION)],
            vec![(":expected", n(expected))],
        )?;
        self.transact(vec![(format!("API {}", api.identifier), put)])
            .await
    }

    /// Every grant on the API `identifier`. A strongly consistent `Scan` filtered on the
    /// sort key: the table has no index by audience, and operators delete APIs rarely,
    /// so a full read is cheaper than maintaining one. [`Self::delete_api`]'s version
    /// condition catches a grant added after the scan.
    ///
    /// # Errors
    /// As [`StoreError`].
    pub async fn grants_for_api(&self, identifier: &Audience) -> Result<Vec<Grant>, StoreError> {
        let sk = items::grant_key(&ClientId::new("-"), identifier)
            .remove(SK)
            .unwrap_or(AttributeValue::Null(true));
        let mut grants = Vec::new();
        let mut start = None;
        for _ in 0..MAX_PAGES {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .filter_expression("#sk = :sk")
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":sk", sk.clone())
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| self.sdk("DynamoDB Scan (grants of an API)", e))?;
            for item in out.items.unwrap_or_default() {
                grants.push(items::grant_from_item(&item)?);
            }
            start = out.last_evaluated_key.filter(|k| !k.is_empty());
            if start.is_none() {
                grants.sort_by(|a, b| a.client_id.cmp(&b.client_id));
                return Ok(grants);
            }
        }
        Err(StoreError::Aws(PortError::new("scanning grants did not finish")))
    }

    /// Deletes the API (conditional on `expected` version) and `grants` (each bumping
    /// its client's version). Up to 49 grants go in the API's own transaction; more are
    /// deleted in further transactions after the API is gone (no grant can be added to
    /// a deleted API, so the remainder cannot grow).
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the API changed (e.g. a grant was added) or a grant
    /// was removed concurrently.
    pub async fn delete_api(
        &self,
        identifier: &Audience,
        expected: u64,
        grants: &[Grant],
    ) -> Result<(), StoreError> {
        let api_delete = self.delete_action(
            items::api_key(identifier),
            Some((
                version_condition(expected),
                &[("#v", VERSION)],
                vec![(":expected", n(expected))],
            )),
        )?;
        let mut batch = vec![(format!("API {identifier}"), api_delete)];
        for grant in grants {
            if batch.len() + 2 > MAX_TRANSACTION_ITEMS {
                self.transact(std::mem::take(&mut batch)).await?;
            }
            let label = format!("grant of client {}", grant.client_id);
            batch.push((
                label.clone(),
                self.delete_action(items::grant_key(&grant.client_id, identifier), None)?,
            ));
            batch.push((
                format!("client {}", grant.client_id),
                self.bump_any_action(&grant.client_id)?,
            ));
        }
        self.transact(batch).await
    }

    // -----------------------------------------------------------------------------
    // Clients.

    /// The client `id` (strongly consistent).
    ///
    /// # Errors
    /// As [`StoreError`].
    pub async fn get_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        match self.get(items::client_key(id)).await? {
            None => Ok(None),
            Some(item) => Ok(Some(items::client_from_item(&item)?)),
        }
    }

    /// The grants of client `id`, sorted by API (a strongly consistent `Query` on the
    /// client's partition).
    ///
    /// # Errors
    /// As [`StoreError`].
    pub async fn client_grants(&self, id: &ClientId) -> Result<Vec<Grant>, StoreError> {
        let pk = items::client_key(id)
            .remove(PK)
            .unwrap_or(AttributeValue::Null(true));
        let mut grants = Vec::new();
        let mut start = None;
        for _ in 0..MAX_PAGES {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :grant)")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":pk", pk.clone())
                .expression_attribute_values(":grant", s("GRANT#"))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| self.sdk("DynamoDB Query (grants of a client)", e))?;
            for item in out.items.unwrap_or_default() {
                grants.push(items::grant_from_item(&item)?);
            }
            start = out.last_evaluated_key.filter(|k| !k.is_empty());
            if start.is_none() {
                grants.sort_by(|a, b| a.audience.cmp(&b.audience));
                return Ok(grants);
            }
        }
        Err(StoreError::Aws(PortError::new("listing grants did not finish")))
    }

    /// Every client, sorted by id.
    ///
    /// # Errors
    /// As [`StoreError`].
    pub async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        let mut clients = self
            .query_kind(items::KIND_CLIENT)
            .await?
            .iter()
            .map(items::client_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        clients.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(clients)
    }

    /// Creates a client; [`StoreError::Conflict`] if its id is taken.
    ///
    /// # Errors
    /// As [`StoreError`].
    pub async fn create_client(&self, client: &Client) -> Result<(), StoreError> {
        let put = self.put_action(
            items::client_to_item(client),
            "attribute_not_exists(#pk)",
            &[],
            vec![],
        )?;
        self.transact(vec![(format!("client {}", client.id), put)])
            .await
    }

    /// Writes `client` over the stored one, conditional on the stored version being
    /// `expected` (`client.version` should be `expected + 1`). An `UpdateItem`, not a
    /// `Put`: the `last_used` map the token function writes concurrently is kept.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the client changed or is gone.
    pub async fn replace_client(&self, client: &Client, expected: u64) -> Result<(), StoreError> {
        let item = items::client_to_item(client);
        let mut sets = Vec::new();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(items::client_key(&client.id)))
            .condition_expression("#v = :expected")
            .expression_attribute_names("#v", VERSION)
            .expression_attribute_values(":expected", n(expected));
        for (i, (name, value)) in item
            .into_iter()
            .filter(|(k, _)| k != PK && k != SK && k != LAST_USED)
            .enumerate()
        {
            if name == VERSION {
                sets.push("#v = :next".to_owned());
                update = update.expression_attribute_values(":next", value);
                continue;
            }
            sets.push(format!("#a{i} = :a{i}"));
            update = update
                .expression_attribute_names(format!("#a{i}"), name)
                .expression_attribute_values(format!(":a{i}"), value);
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if client.org_id.is_none() {
            expression.push_str(" REMOVE #org");
            update = update.expression_attribute_names("#org", "org_id");
        }
        match update.update_expression(expression).send().await {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(se) if se.is_conditional_check_failed_exception() => {
                    Err(StoreError::Conflict(format!("client {}", client.id)))
                }
                _ => Err(self.sdk("DynamoDB UpdateItem (client)", e)),
            },
        }
    }

    /// Deletes the client and `grants` in one transaction, conditional on the client's
    /// version still being `expected` (so a grant added since it was read fails the
    /// delete instead of surviving it).
    ///
    /// # Errors
    /// [`StoreError::Conflict`] on a concurrent change; [`StoreError::Aws`] with more
    /// than 99 grants (remove some first).
    pub async fn delete_client(
        &self,
        id: &ClientId,
        expected: u64,
        grants: &[Grant],
    ) -> Result<(), StoreError> {
        if grants.len() >= MAX_TRANSACTION_ITEMS {
            return Err(StoreError::Aws(PortError::new(format!(
                "client {id} has {} grants; one transaction deletes at most {}",
                grants.len(),
                MAX_TRANSACTION_ITEMS - 1
            ))));
        }
        let mut actions = vec![(
            format!("client {id}"),
            self.delete_action(
                items::client_key(id),
                Some((
                    "#v = :expected",
                    &[("#v", VERSION)],
                    vec![(":expected", n(expected))],
                )),
            )?,
        )];
        for grant in grants {
            actions.push((
                format!("grant of client {id} on {}", grant.audience),
                self.delete_action(items::grant_key(id, &grant.audience), None)?,
            ));
        }
        self.transact(actions).await
    }

    // -----------------------------------------------------------------------------
    // Grants.

    /// Writes `grant` (new or replacing), bumping its client's version from
    /// `client_version` and its API's from `api_version`, all in one transaction.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] naming the client or API that changed or vanished.
    pub async fn put_grant(
        &self,
        grant: &Grant,
        client_version: u64,
        api_version: u64,
    ) -> Result<(), StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(items::grant_to_item(grant)))
            .build();
        self.transact(vec![
            (
                format!("client {}", grant.client_id),
                self.bump_action(items::client_key(&grant.client_id), client_version)?,
            ),
            (
                format!("API {}", grant.audience),
                self.bump_action(items::api_key(&grant.audience), api_version)?,
            ),
            (
                "grant".to_owned(),
                TransactWriteItem::builder()
                    .put(build("Put", put)?)
                    .build(),
            ),
        ])
        .await
    }

    /// Deletes the grant of `client_id` on `audience`, bumping the client's version
    /// from `client_version`, in one transaction.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the client changed or the grant is gone.
    pub async fn delete_grant(
        &self,
        client_id: &ClientId,
        audience: &Audience,
        client_version: u64,
    ) -> Result<(), StoreError> {
        self.transact(vec![
            (
                format!("client {client_id}"),
                self.bump_action(items::client_key(client_id), client_version)?,
            ),
            (
                format!("grant of client {client_id} on {audience}"),
                self.delete_action(items::grant_key(client_id, audience), None)?,
            ),
        ])
        .await
    }
}
