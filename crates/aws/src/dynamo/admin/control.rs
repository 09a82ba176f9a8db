//! Control after issuance on the table: recording a revocation where verifiers read it
//! (the `REVOCATION` partition of [`DynamoRevocations`]), organizations' quotas, and
//! reading hourly usage.
//!
//! | item | PK | SK | attributes |
//! |---|---|---|---|
//! | organization quota | `ORG#<org_id>` | `QUOTA` | quota (`{per_minute, per_day}`) |

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use m2m_core::quota::{Quota, Subject};
use m2m_core::revocation::{Revocation, Revocations as _};
use m2m_core::types::OrgId;
use m2m_manage::StoreError;

use crate::dynamo::admin::DynamoAdminStore;
use crate::dynamo::item::client::quota_to_map;
use crate::dynamo::item::quota::{hour_of_sk, usage_pk, usage_sk, COUNT};
use crate::dynamo::item::{Item, PK, SK};
use crate::dynamo::revocation::DynamoRevocations;

const ORG_PREFIX: &str = "ORG#";
const ORG_QUOTA_SK: &str = "QUOTA";
const QUOTA: &str = "quota";

fn org_key(org: &OrgId) -> Item {
    HashMap::from([
        (
            PK.to_owned(),
            AttributeValue::S(format!("{ORG_PREFIX}{org}")),
        ),
        (SK.to_owned(), AttributeValue::S(ORG_QUOTA_SK.to_owned())),
    ])
}

fn number(v: Option<&AttributeValue>) -> Option<u64> {
    v.and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok())
}

pub(crate) async fn record_revocation(
    store: &DynamoAdminStore,
    revocation: &Revocation,
    now: u64,
) -> Result<(), StoreError> {
    DynamoRevocations::new(store.client.clone(), store.table.clone())
        .revoke(revocation, now)
        .await
        .map_err(StoreError::Port)
}

pub(crate) async fn org_quota(
    store: &DynamoAdminStore,
    org: &OrgId,
) -> Result<Option<Quota>, StoreError> {
    let got = store
        .client
        .get_item()
        .table_name(&store.table)
        .set_key(Some(org_key(org)))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| store.sdk("DynamoDB GetItem (organization quota)", e))?;
    let Some(map) = got
        .item
        .as_ref()
        .and_then(|i| i.get(QUOTA))
        .and_then(|q| q.as_m().ok())
    else {
        return Ok(None);
    };
    let q = Quota {
        per_minute: number(map.get("per_minute")),
        per_day: number(map.get("per_day")),
    };
    Ok(Some(q).filter(Quota::is_set))
}

pub(crate) async fn put_org_quota(
    store: &DynamoAdminStore,
    org: &OrgId,
    quota: Option<Quota>,
) -> Result<(), StoreError> {
    match quota.filter(Quota::is_set) {
        Some(q) => {
            let mut item = org_key(org);
            item.insert(QUOTA.to_owned(), quota_to_map(&q));
            store
                .client
                .put_item()
                .table_name(&store.table)
                .set_item(Some(item))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| store.sdk("DynamoDB PutItem (organization quota)", e))
        }
        None => store
            .client
            .delete_item()
            .table_name(&store.table)
            .set_key(Some(org_key(org)))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| store.sdk("DynamoDB DeleteItem (organization quota)", e)),
    }
}

pub(crate) async fn usage(
    store: &DynamoAdminStore,
    subject: &Subject,
    from: u64,
    to: u64,
) -> Result<Vec<(u64, u64)>, StoreError> {
    let mut out = Vec::new();
    let mut start: Option<HashMap<String, AttributeValue>> = None;
    loop {
        let page = store
            .client
            .query()
            .table_name(&store.table)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", AttributeValue::S(usage_pk(subject)))
            .expression_attribute_values(":from", AttributeValue::S(usage_sk(from)))
            .expression_attribute_values(":to", AttributeValue::S(usage_sk(to)))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| store.sdk("DynamoDB Query (usage)", e))?;
        for item in page.items() {
            let hour = item
                .get(SK)
                .and_then(|v| v.as_s().ok())
                .and_then(|s| hour_of_sk(s));
            if let (Some(hour), Some(count)) = (hour, number(item.get(COUNT))) {
                out.push((hour, count));
            }
        }
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return Ok(out),
        }
    }
}
