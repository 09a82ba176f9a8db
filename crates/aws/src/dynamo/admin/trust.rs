//! The operator's trust-rule operations on the directory table: rules live in their
//! client's partition (`TRUST#<issuer digest>#<rule id>`), are listed page by page with
//! a strongly consistent `Query`, and every write is one transaction with a bump of the
//! client's version, conditional on the version read.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use m2m_core::error::PortError;
use m2m_core::model::TrustRule;
use m2m_core::types::ClientId;
use m2m_manage::{Cursor, Page, StoreError, MAX_PAGE, MAX_RULES_PER_WRITE};
use serde::{Deserialize, Serialize};

use crate::dynamo::admin::{all_items, s, Action, DynamoAdminStore, MAX_PAGES};
use crate::dynamo::item::{self, trust, Item, CLIENT_PREFIX, PK, SK};

/// Longest cursor accepted: a client id and a rule's sort key with room.
const MAX_CURSOR_LEN: usize = 4 * 1024;

/// The JSON document inside a rule listing's cursor: the listing's client and the sort
/// key of the last rule handed out.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    client: String,
    sk: String,
}

fn partition(id: &ClientId) -> AttributeValue {
    s(format!("{CLIENT_PREFIX}{id}"))
}

fn encode(id: &ClientId, position: &Item) -> Result<Cursor, StoreError> {
    let Some(AttributeValue::S(sk)) = position.get(SK) else {
        return Err(StoreError::Port(PortError::malformed(
            "DynamoDB Query (trust rules): a listing position lacks its sort key",
        )));
    };
    let json = serde_json::to_vec(&Doc {
        client: id.as_str().to_owned(),
        sk: sk.clone(),
    })
    .map_err(|e| StoreError::Port(PortError::malformed("encoding a cursor").with_source(e)))?;
    Ok(Cursor(URL_SAFE_NO_PAD.encode(json)))
}

/// The `ExclusiveStartKey` in `cursor`, if [`encode`] wrote it for client `id`'s rules.
fn decode(id: &ClientId, cursor: &Cursor) -> Result<Item, StoreError> {
    if cursor.0.len() > MAX_CURSOR_LEN {
        return Err(StoreError::InvalidCursor);
    }
    let json = URL_SAFE_NO_PAD
        .decode(&cursor.0)
        .map_err(|_| StoreError::InvalidCursor)?;
    let doc: Doc = serde_json::from_slice(&json).map_err(|_| StoreError::InvalidCursor)?;
    let prefix = trust::rules_prefix();
    if doc.client != id.as_str() || !doc.sk.starts_with(prefix) || doc.sk.len() <= prefix.len() {
        return Err(StoreError::InvalidCursor);
    }
    Ok(HashMap::from([
        (PK.to_owned(), partition(id)),
        (SK.to_owned(), s(doc.sk)),
    ]))
}

fn rule_of(id: &ClientId, item: &Item) -> Result<TrustRule, StoreError> {
    let (owner, rule) = item::trust_rule_from_item(item)?;
    if &owner != id {
        return Err(StoreError::Malformed(format!(
            "a trust rule of client {owner} was listed for client {id}"
        )));
    }
    Ok(rule)
}

/// One page of client `id`'s trust rules in sort-key order (by issuer digest, then
/// rule id), at most `limit` (clamped to 1..=[`MAX_PAGE`]) long, after `after`. Read
/// with `Limit` = `limit + 1` so a listing that ends exactly at a page boundary has no
/// empty last page (as the client listing).
///
/// # Errors
/// [`StoreError::InvalidCursor`] for a cursor of another listing; otherwise as
/// [`StoreError`].
pub(super) async fn trust_rules(
    store: &DynamoAdminStore,
    id: &ClientId,
    after: Option<&Cursor>,
    limit: usize,
) -> Result<Page<TrustRule>, StoreError> {
    let limit = limit.clamp(1, MAX_PAGE);
    let start = after.map(|c| decode(id, c)).transpose()?;
    let what = "DynamoDB Query (trust rules)";
    let out = store
        .client
        .query()
        .table_name(&store.table)
        .consistent_read(true)
        .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
        .expression_attribute_names("#pk", PK)
        .expression_attribute_names("#sk", SK)
        .expression_attribute_values(":pk", partition(id))
        .expression_attribute_values(":prefix", s(trust::rules_prefix()))
        // MAX_PAGE + 1 fits an i32.
        .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
        .set_exclusive_start_key(start)
        .send()
        .await
        .map_err(|e| store.sdk(what, e))?;
    let mut found = out.items.unwrap_or_default();
    let next = if found.len() > limit {
        found.truncate(limit);
        found.last().map(|last| encode(id, last)).transpose()?
    } else {
        out.last_evaluated_key
            .filter(|key| !key.is_empty())
            .map(|key| encode(id, &key))
            .transpose()?
    };
    let items = found
        .iter()
        .map(|i| rule_of(id, i))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page { items, next })
}

/// The trust rule `rule_id` of client `id`: its sort key holds its issuer's digest,
/// which the id alone does not give, so the client's rules are read and searched.
///
/// # Errors
/// As [`StoreError`].
pub(super) async fn get_trust_rule(
    store: &DynamoAdminStore,
    id: &ClientId,
    rule_id: &str,
) -> Result<Option<TrustRule>, StoreError> {
    let what = "DynamoDB Query (trust rules)";
    let pages = store
        .client
        .query()
        .table_name(&store.table)
        .consistent_read(true)
        .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
        .expression_attribute_names("#pk", PK)
        .expression_attribute_names("#sk", SK)
        .expression_attribute_values(":pk", partition(id))
        .expression_attribute_values(":prefix", s(trust::rules_prefix()))
        .into_paginator()
        .send();
    let suffix = format!("#{rule_id}");
    for i in all_items(pages, MAX_PAGES, what, |page| page.items).await? {
        let ours = matches!(i.get(SK), Some(AttributeValue::S(sk)) if sk.ends_with(&suffix));
        if ours {
            let rule = rule_of(id, &i)?;
            if rule.id == rule_id {
                return Ok(Some(rule));
            }
        }
    }
    Ok(None)
}

/// Writes the new `rule` of `client_id` (conditional on its key being free) and bumps
/// the client's version from `client_version`, in one transaction.
///
/// # Errors
/// [`StoreError::Conflict`] naming the client (changed or gone) or the rule (id taken).
pub(super) async fn put_trust_rule(
    store: &DynamoAdminStore,
    client_id: &ClientId,
    rule: &TrustRule,
    client_version: u64,
) -> Result<(), StoreError> {
    store
        .transact(vec![
            (
                format!("client {client_id}"),
                store.bump_action(item::client_key(client_id), client_version)?,
            ),
            (
                format!("trust rule {} of client {client_id}", rule.id),
                store.put_action(
                    item::trust_rule_to_item(client_id, rule),
                    "attribute_not_exists(#pk)",
                    &[],
                    vec![],
                )?,
            ),
        ])
        .await
}

/// Deletes `rules` of `client_id` (each conditional on still existing) and bumps the
/// client's version from `client_version`, in one transaction.
///
/// # Errors
/// [`StoreError::Conflict`] naming the client or a rule already gone;
/// [`StoreError::Port`] (refused, before any write) with more than
/// [`MAX_RULES_PER_WRITE`] rules.
pub(super) async fn delete_trust_rules(
    store: &DynamoAdminStore,
    client_id: &ClientId,
    rules: &[TrustRule],
    client_version: u64,
) -> Result<(), StoreError> {
    if rules.len() > MAX_RULES_PER_WRITE {
        return Err(StoreError::Port(PortError::refused(format!(
            "one transaction deletes at most {MAX_RULES_PER_WRITE} trust rules, not {}",
            rules.len()
        ))));
    }
    let mut seen = BTreeMap::new();
    let mut actions: Vec<Action> = vec![(
        format!("client {client_id}"),
        store.bump_action(item::client_key(client_id), client_version)?,
    )];
    for rule in rules {
        // DynamoDB refuses two actions on one item in a transaction.
        if seen.insert((&rule.issuer, &rule.id), ()).is_some() {
            continue;
        }
        actions.push((
            format!("trust rule {} of client {client_id}", rule.id),
            store.delete_action(
                trust::trust_rule_key(client_id, &rule.issuer, &rule.id),
                None,
            )?,
        ));
    }
    store.transact(actions).await
}
