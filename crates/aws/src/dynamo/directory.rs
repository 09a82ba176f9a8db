//! The DynamoDB directory: [`Directory`] on one table, reading client, grant, API and
//! the token reuse cache entry for a token request in one `BatchGetItem` round trip,
//! and writing sealed reusable tokens with `PutItem`, bounded in time; for client
//! assertions (RFC 7523 §2.2), a client's trust rules of one issuer (a strongly
//! consistent `Query` on its partition) and the single use of a `jti` (a conditional
//! `PutItem`).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client as DynamoClient;
use m2m_core::error::PortError;
use m2m_core::model::TrustRule;
use m2m_core::ports::{Directory, Lookup};
use m2m_core::reuse::{ReuseKey, SealedToken, REUSE_WRITE_BUDGET_MS};
use m2m_core::types::{Audience, ClientId, SecretId};

use crate::dynamo::batch::{batch_get_consistent, Reader};
use crate::dynamo::item::attr::s;
use crate::dynamo::item::{self, jti, reuse, trust, Item, ItemError, PK, SK};
use crate::dynamo::paging::all_items;
use crate::sdk::error::{code, port_error};
use crate::wire::Wire;

pub use crate::dynamo::batch::BATCH_ATTEMPTS;
/// DynamoDB rejects a partition key over 2048 bytes or a sort key over 1024 bytes with
/// a `ValidationException`. Identifiers longer than this cannot be in the directory,
/// so they are reported as absent (an unknown client or audience) instead of failing
/// the request with `server_error`.
const MAX_ID_BYTES: usize = 1000;
/// Most `Query` pages (1 MB each) read for one issuer's trust rules: thousands of rules.
/// A partition holding more is refused rather than read for ever.
pub const MAX_TRUST_RULE_PAGES: usize = 8;
/// The whole read of one issuer's trust rules, every page included, must end within
/// this: a federated assertion waits on it.
pub const TRUST_RULES_BUDGET: Duration = Duration::from_millis(3000);

/// The directory on a DynamoDB table with DESIGN.md's single-table layout.
#[derive(Clone, Debug)]
pub struct DynamoDirectory {
    client: DynamoClient,
    wire: Option<Wire>,
    table: String,
    rule_page: Option<i32>,
}

impl DynamoDirectory {
    /// A directory on `table`, using `client` (built once at cold start).
    pub fn new(client: DynamoClient, table: impl Into<String>) -> Self {
        Self {
            client,
            wire: None,
            table: table.into(),
            rule_page: None,
        }
    }

    /// Reads each request's items with `wire` instead of the SDK client
    /// ([`crate::wire`]: the same `BatchGetItem` without the SDK's per-call machinery);
    /// every other operation stays with the SDK.
    #[must_use]
    pub fn with_wire(mut self, wire: Option<Wire>) -> Self {
        self.wire = wire;
        self
    }

    /// The same directory reading trust rules at most `items` per `Query` page
    /// (DynamoDB's `Limit`; by default a page is up to 1 MB): lets a test exercise the
    /// paging with a handful of rules.
    #[must_use]
    pub fn with_trust_rule_page_size(mut self, items: i32) -> Self {
        self.rule_page = Some(items.max(1));
        self
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Sends a strongly consistent `BatchGetItem` for `keys` (a disabled client or
    /// revoked secret must stop working at once; for three small items this costs 3
    /// read units instead of 1.5) and returns every item found.
    async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, PortError> {
        let reader = Reader::of(&self.client, self.wire.as_ref());
        batch_get_consistent(reader, &self.table, keys, "DynamoDB BatchGetItem").await
    }
}

fn malformed(e: ItemError) -> PortError {
    PortError::malformed("malformed item in the directory").with_source(e)
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
            item::client_key(client_id),
            item::grant_key(client_id, audience),
            item::api_key(audience),
        ];
        if let Some(key) = reuse {
            keys.push(reuse::reuse_key(client_id, key));
        }
        let found = self.batch_get(keys).await?;
        let mut lookup = Lookup::default();
        for item in &found {
            match item::item_key(item) {
                Some((_, "CLIENT")) => {
                    lookup.client = Some(item::client_from_item(item).map_err(malformed)?)
                }
                Some((_, "API")) => {
                    lookup.api = Some(item::api_from_item(item).map_err(malformed)?)
                }
                Some((_, sk)) if sk.starts_with("GRANT#") => {
                    lookup.grant = Some(item::grant_from_item(item).map_err(malformed)?)
                }
                Some((pk, _)) if reuse.is_some() && reuse::is_reuse_pk(pk) => {
                    // A malformed cache entry is a miss, not a failure: the request signs
                    // afresh and its PutItem replaces the entry.
                    match reuse::reuse_from_item(item) {
                        Ok(cached) => lookup.reuse = Some(cached),
                        Err(e) => {
                            tracing::warn!(error = %e, "ignoring a malformed reuse cache item")
                        }
                    }
                }
                _ => {
                    return Err(PortError::malformed(
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
            .set_item(Some(reuse::reuse_to_item(client_id, key, token)))
            .send();
        match tokio::time::timeout(Duration::from_millis(REUSE_WRITE_BUDGET_MS), put).await {
            Ok(done) => done
                .map(|_| ())
                .map_err(|e| port_error("DynamoDB PutItem (reuse cache)", e)),
            Err(_) => Err(PortError::timeout(format!(
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
        // `item::client_to_item` does). Only that map entry changes, never `version`,
        // so an operator's concurrent conditional write is not disturbed.
        let first = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item::client_key(client_id)))
            .update_expression("SET #lu.#sid = :now")
            .condition_expression("attribute_exists(PK) AND attribute_exists(#lu)")
            .expression_attribute_names("#lu", item::LAST_USED)
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
            .set_key(Some(item::client_key(client_id)))
            .update_expression("SET #lu = :map")
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(#lu)")
            .expression_attribute_names("#lu", item::LAST_USED)
            .expression_attribute_values(":map", map)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if code(&e) == Some("ConditionalCheckFailedException") => Err(
                PortError::refused("recording secret use: the client no longer exists"),
            ),
            Err(e) => Err(port_error("DynamoDB UpdateItem (last_used)", e)),
        }
    }

    async fn trust_rules(
        &self,
        client_id: &ClientId,
        issuer: &str,
    ) -> Result<Vec<TrustRule>, PortError> {
        // No such client can exist: nothing to read (the issuer itself is digested, so
        // any length fits the key).
        if client_id.as_str().is_empty() || client_id.as_str().len() > MAX_ID_BYTES {
            return Ok(Vec::new());
        }
        match tokio::time::timeout(TRUST_RULES_BUDGET, self.read_trust_rules(client_id, issuer))
            .await
        {
            Ok(read) => read,
            Err(_) => Err(PortError::timeout(format!(
                "DynamoDB Query (trust rules) abandoned after {} ms",
                TRUST_RULES_BUDGET.as_millis()
            ))),
        }
    }

    async fn claim_jti(
        &self,
        client_id: &ClientId,
        jti: &str,
        expires_at: u64,
    ) -> Result<bool, PortError> {
        // The record's key is a digest, so any client id and jti fit it. The SDK's
        // operation timeout bounds the call.
        match self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(jti::jti_to_item(client_id, jti, expires_at)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if code(&e) == Some("ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(port_error("DynamoDB PutItem (assertion jti)", e)),
        }
    }

    async fn client(
        &self,
        client_id: &ClientId,
    ) -> Result<Option<m2m_core::model::Client>, PortError> {
        if client_id.as_str().is_empty() || client_id.as_str().len() > MAX_ID_BYTES {
            return Ok(None);
        }
        let found = self.batch_get(vec![item::client_key(client_id)]).await?;
        found
            .first()
            .map(|i| item::client_from_item(i).map_err(malformed))
            .transpose()
    }

    async fn bump_revocation_epoch(&self, client_id: &ClientId) -> Result<(), PortError> {
        if client_id.as_str().is_empty() || client_id.as_str().len() > MAX_ID_BYTES {
            return Err(PortError::refused("no such client"));
        }
        let one = AttributeValue::N("1".to_owned());
        match self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item::client_key(client_id)))
            .update_expression("ADD #epoch :one, #version :one")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#epoch", item::client::REVOCATION_EPOCH)
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":one", one)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if code(&e) == Some("ConditionalCheckFailedException") => {
                Err(PortError::refused("no such client"))
            }
            Err(e) => Err(port_error("DynamoDB UpdateItem (revocation epoch)", e)),
        }
    }

    async fn consume_quota(
        &self,
        counters: &[m2m_core::quota::Counter],
        now: u64,
    ) -> Result<Result<(), u64>, PortError> {
        crate::dynamo::quota::consume(&self.client, &self.table, counters, now).await
    }

    async fn record_usage(
        &self,
        counts: &[(m2m_core::quota::Subject, u64, u64)],
    ) -> Result<(), PortError> {
        crate::dynamo::quota::record_usage(&self.client, &self.table, counts).await
    }
}

impl DynamoDirectory {
    /// Every trust rule of `client_id` for `issuer`, page after page (see
    /// [`Directory::trust_rules`]).
    async fn read_trust_rules(
        &self,
        client_id: &ClientId,
        issuer: &str,
    ) -> Result<Vec<TrustRule>, PortError> {
        let what = "DynamoDB Query (trust rules)";
        let pages = self
            .client
            .query()
            .table_name(&self.table)
            // A rule removed a moment ago must no longer let anyone in.
            .consistent_read(true)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(format!("{}{client_id}", item::CLIENT_PREFIX)))
            .expression_attribute_values(":prefix", s(trust::issuer_prefix(issuer)))
            .set_limit(self.rule_page)
            .into_paginator()
            .send();
        let items = all_items(pages, MAX_TRUST_RULE_PAGES, what, |page| page.items).await?;
        let mut rules = Vec::with_capacity(items.len());
        for item in &items {
            let (owner, rule) = trust::trust_rule_from_item(item).map_err(malformed)?;
            if &owner != client_id || rule.issuer != issuer {
                return Err(PortError::malformed(
                    "a trust rule query returned another client's or issuer's rule",
                ));
            }
            rules.push(rule);
        }
        Ok(rules)
    }
}
