//! The operator's client and grant operations on the directory table: conditional on
//! the client's `version`, which every write to a client or its grants bumps.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use m2m_core::error::PortError;
use m2m_core::model::{Client, Grant};
use m2m_core::types::{Audience, ClientId};

use crate::dynamo::admin::{
    build, n, s, AdminStore, Condition, StoreError, MAX_TRANSACTION_ITEMS, VERSION,
};
use crate::dynamo::item::{self, LAST_USED, PK, SK};

impl AdminStore {
    /// The client `id` (strongly consistent).
    ///
    /// # Errors
    /// As [`StoreError`].
    pub async fn get_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        match self.get(item::client_key(id)).await? {
            None => Ok(None),
            Some(item) => Ok(Some(item::client_from_item(&item)?)),
        }
    }

    /// The grants of client `id`, sorted by API (a strongly consistent `Query` on the
    /// client's partition).
    ///
    /// # Errors
    /// As [`StoreError`].
    pub async fn client_grants(&self, id: &ClientId) -> Result<Vec<Grant>, StoreError> {
        let pk = item::client_key(id)
            .remove(PK)
            .unwrap_or(AttributeValue::Null(true));
        let pages = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :grant)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", pk)
            .expression_attribute_values(":grant", s("GRANT#"))
            .into_paginator()
            .send();
        Self::grants_of(
            pages,
            "DynamoDB Query (grants of a client)",
            |page| page.items,
            |a, b| a.audience.cmp(&b.audience),
        )
        .await
    }

    /// Every client, sorted by id.
    ///
    /// # Errors
    /// As [`StoreError`].
    pub async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        let mut clients = self
            .query_kind(item::KIND_CLIENT)
            .await?
            .iter()
            .map(item::client_from_item)
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
            item::client_to_item(client),
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
        let item = item::client_to_item(client);
        let mut sets = Vec::new();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item::client_key(&client.id)))
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
            return Err(StoreError::Aws(PortError::refused(format!(
                "client {id} has {} grants; one transaction deletes at most {}",
                grants.len(),
                MAX_TRANSACTION_ITEMS - 1
            ))));
        }
        let mut actions = vec![(
            format!("client {id}"),
            self.delete_action(
                item::client_key(id),
                Some(Condition {
                    expression: "#v = :expected",
                    names: &[("#v", VERSION)],
                    values: vec![(":expected", n(expected))],
                }),
            )?,
        )];
        for grant in grants {
            actions.push((
                format!("grant of client {id} on {}", grant.audience),
                self.delete_action(item::grant_key(id, &grant.audience), None)?,
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
            .set_item(Some(item::grant_to_item(grant)))
            .build();
        self.transact(vec![
            (
                format!("client {}", grant.client_id),
                self.bump_action(item::client_key(&grant.client_id), client_version)?,
            ),
            (
                format!("API {}", grant.audience),
                self.bump_action(item::api_key(&grant.audience), api_version)?,
            ),
            (
                "grant".to_owned(),
                TransactWriteItem::builder().put(build("Put", put)?).build(),
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
                self.bump_action(item::client_key(client_id), client_version)?,
            ),
            (
                format!("grant of client {client_id} on {audience}"),
                self.delete_action(item::grant_key(client_id, audience), None)?,
            ),
        ])
        .await
    }
}
