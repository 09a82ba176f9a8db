//! The operator's API operations on the directory table: read, list, create, replace
//! and delete APIs (resource servers), and find the grants that reference one.

use aws_sdk_dynamodb::types::AttributeValue;
use m2m_core::error::PortError;
use m2m_core::model::{Api, Grant};
use m2m_core::types::{Audience, ClientId};

use crate::admin_store::{
    item_version, n, version_condition, AdminStore, Condition, StoreError, Versioned, MAX_PAGES,
    MAX_TRANSACTION_ITEMS, VERSION,
};
use crate::items::{self, ItemError, SK};

impl AdminStore {
    /// The API `identifier`, with its version.
    ///
    /// # Errors
    /// As [`StoreError`].
    pub async fn get_api(
        &self,
        identifier: &Audience,
    ) -> Result<Option<Versioned<Api>>, StoreError> {
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
        Err(StoreError::Aws(PortError::new(
            "scanning grants did not finish",
        )))
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
            Some(Condition {
                expression: version_condition(expected),
                names: &[("#v", VERSION)],
                values: vec![(":expected", n(expected))],
            }),
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
}
