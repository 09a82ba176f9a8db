//! Revocations (RFC 7009) on DynamoDB: the [`Revocations`] port over the `REVOCATION`
//! partition of the directory table ([`item::revocation`]).
//!
//! - [`DynamoRevocations::revocation_list`] reads the whole partition with one strongly
//!   consistent `Query`, page after page: a verifier that caches the list knows that a
//!   revocation written before its read is in it. Entries past their `ttl` are skipped
//!   (DynamoDB deletes expired items lazily, up to days later).
//! - [`DynamoRevocations::revoke`] is one `PutItem`. A client's entry is conditional on
//!   not lowering a stored `not_before` (`attribute_not_exists(PK) OR not_before <
//!   :nb`); the condition failing means a later instant is already recorded, which is
//!   success.
//!
//! The partition holds at most about a day of revocations, so a read is small: an
//! entry is about 150 bytes, a thousand entries cost some 40 read units.

use std::time::Duration;

use aws_sdk_dynamodb::Client as DynamoClient;
use m2m_core::error::PortError;
use m2m_core::revocation::{Revocation, RevocationList, Revocations};
use m2m_core::types::ClientId;

use crate::clock::{system_clock, Clock};
use crate::dynamo::item::attr::s;
use crate::dynamo::item::revocation::{
    revocation_from_item, revocation_key, revocation_to_item, RevocationEntry, NOT_BEFORE,
    REVOCATION_PK,
};
use crate::dynamo::item::{Item, PK};
use crate::dynamo::paging::all_items;
use crate::sdk::error::{code, port_error};

/// Most `Query` pages (1 MB each, some 6 000 entries) read for the list: far beyond a
/// day of revocations. A partition spanning more is an error rather than a truncated
/// list, which would un-revoke tokens: verifiers then fail closed.
pub const MAX_REVOCATION_PAGES: usize = 32;
/// The whole read of the list, every page included, must end within this.
pub const REVOCATION_LIST_BUDGET: Duration = Duration::from_millis(3000);
/// DynamoDB refuses a sort key over 1024 bytes; no client id is that long.
const MAX_CLIENT_ID_BYTES: usize = 1000;

/// The revocation entries in the directory table.
#[derive(Clone)]
pub struct DynamoRevocations {
    client: DynamoClient,
    table: String,
    page_size: Option<i32>,
    clock: Clock,
}

impl std::fmt::Debug for DynamoRevocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoRevocations")
            .field("table", &self.table)
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

impl DynamoRevocations {
    /// The revocations in `table`, read and written with `client`.
    pub fn new(client: DynamoClient, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            page_size: None,
            clock: std::sync::Arc::new(system_clock),
        }
    }

    /// Caps each `Query` page at `items` entries (DynamoDB `Limit`); by default a page
    /// is as large as DynamoDB allows. Tests use it to exercise the paging.
    #[must_use]
    pub fn with_page_size(mut self, items: i32) -> Self {
        self.page_size = Some(items.max(1));
        self
    }

    /// Reads the time that decides which entries have lapsed from `clock` instead of
    /// the wall clock.
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Every entry of the partition, lapsed ones included, decoded strictly.
    ///
    /// # Errors
    /// A [`PortError`] when the query fails, spans more than [`MAX_REVOCATION_PAGES`]
    /// pages, or an entry does not decode: a list missing an entry would un-revoke it.
    pub async fn entries(&self) -> Result<Vec<RevocationEntry>, PortError> {
        let what = "DynamoDB Query (revocations)";
        let pages = self
            .client
            .query()
            .table_name(&self.table)
            // A revocation written a moment ago must be in the list read now.
            .consistent_read(true)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", s(REVOCATION_PK))
            .set_limit(self.page_size)
            .into_paginator()
            .send();
        let read = all_items(pages, MAX_REVOCATION_PAGES, what, |page| page.items);
        let items: Vec<Item> = match tokio::time::timeout(REVOCATION_LIST_BUDGET, read).await {
            Ok(items) => items?,
            Err(_) => {
                return Err(PortError::timeout(format!(
                    "{what} abandoned after {} ms",
                    REVOCATION_LIST_BUDGET.as_millis()
                )))
            }
        };
        items
            .iter()
            .map(|item| {
                revocation_from_item(item).map_err(|e| {
                    PortError::malformed("malformed revocation entry in the table").with_source(e)
                })
            })
            .collect()
    }
}

impl Revocations for DynamoRevocations {
    async fn revocation_list(&self) -> Result<RevocationList, PortError> {
        let entries = self.entries().await?;
        let now = (self.clock)();
        let mut list = RevocationList::new();
        for entry in entries.into_iter().filter(|e| e.ttl() > now) {
            match entry {
                RevocationEntry::Client {
                    client_id,
                    not_before,
                    ..
                } => list.revoke_client_before(client_id.as_str(), not_before),
                RevocationEntry::Token { digest, .. } => list.revoke_token_digest(digest),
            }
        }
        Ok(list)
    }

    async fn revoke(&self, revocation: &Revocation, now: u64) -> Result<(), PortError> {
        if revocation.keep_until() <= now {
            // Every token it would revoke has expired: nothing to keep.
            return Ok(());
        }
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(revocation_to_item(revocation, now)));
        match revocation {
            Revocation::Client {
                client_id,
                not_before,
            } => {
                if client_id.as_str().is_empty() || client_id.as_str().len() > MAX_CLIENT_ID_BYTES {
                    return Err(PortError::refused(
                        "a revoked client id must be 1 to 1000 bytes",
                    ));
                }
                let what = "DynamoDB PutItem (client revocation)";
                match put
                    .condition_expression("attribute_not_exists(#pk) OR #nb < :nb")
                    .expression_attribute_names("#pk", PK)
                    .expression_attribute_names("#nb", NOT_BEFORE)
                    .expression_attribute_values(":nb", crate::dynamo::item::attr::n(*not_before))
                    .send()
                    .await
                {
                    Ok(_) => Ok(()),
                    // A later (or the same) not_before is already recorded: the
                    // revocation asked for is in force.
                    Err(e) if code(&e) == Some("ConditionalCheckFailedException") => Ok(()),
                    Err(e) => Err(port_error(what, e)),
                }
            }
            Revocation::Token { .. } => put
                .send()
                .await
                .map(|_| ())
                .map_err(|e| port_error("DynamoDB PutItem (token revocation)", e)),
        }
    }

    async fn is_revoked(
        &self,
        client_id: &ClientId,
        jti: Option<&str>,
        iat: u64,
    ) -> Result<bool, PortError> {
        if client_id.as_str().is_empty() || client_id.as_str().len() > MAX_CLIENT_ID_BYTES {
            return Ok(false);
        }
        // The two entries that could revoke the token, in one consistent read.
        let mut keys = vec![revocation_key(&Revocation::Client {
            client_id: client_id.clone(),
            not_before: 0,
        })];
        if let Some(jti) = jti {
            keys.push(revocation_key(&Revocation::Token {
                jti: jti.to_owned(),
                client_id: client_id.clone(),
                expires_at: 0,
            }));
        }
        let found = crate::dynamo::batch::batch_get_consistent(
            crate::dynamo::batch::Reader::Sdk(&self.client),
            &self.table,
            keys,
            "DynamoDB BatchGetItem (revocations)",
        )
        .await?;
        let now = (self.clock)();
        for item in &found {
            let entry = revocation_from_item(item)
                .map_err(|e| PortError::malformed("malformed revocation entry").with_source(e))?;
            if entry.ttl() <= now {
                continue;
            }
            match entry {
                RevocationEntry::Client { not_before, .. } if iat < not_before => return Ok(true),
                RevocationEntry::Token { .. } => return Ok(true),
                RevocationEntry::Client { .. } => {}
            }
        }
        Ok(false)
    }
}
