//! Idempotency records of creating management calls (see
//! [`crate::dynamo::item::idempotency`]): claimed with one conditional `PutItem`,
//! completed and released with conditional writes on the claimant's fingerprint.

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use m2m_manage::{Claim, IdempotencyClaim, StoreError};

use crate::dynamo::admin::{n, s, DynamoAdminStore};
use crate::dynamo::item::idempotency::{
    held_from_item, idempotency_key, idempotency_to_item, CLAIMED_AT, FINGERPRINT, RESULT,
};
use crate::dynamo::item::reuse::TTL;
use crate::dynamo::item::PK;

/// Claims a record vanishing between a refused claim and its re-read (released or
/// deleted by the TTL) lets the claim be tried again; this bounds those attempts.
const CLAIM_ATTEMPTS: usize = 3;

/// What the label of a refused idempotency write names (never the key itself).
const LABEL: &str = "the idempotency record";

/// Claims `claim.key`: a `PutItem` conditional on no live record holding it — none, an
/// expired one (`ttl` before `now`: DynamoDB deletes expired items only some time
/// later), or one claimed before `stale_before` and never completed. When the condition
/// fails, the holder's record comes back with the refusal
/// (`ReturnValuesOnConditionCheckFailure = ALL_OLD`), or from a strongly consistent
/// `GetItem` where it does not.
///
/// # Errors
/// [`StoreError::Malformed`] when the holder's record does not decode; otherwise as
/// [`StoreError`].
pub(super) async fn claim_idempotency(
    store: &DynamoAdminStore,
    claim: &IdempotencyClaim,
) -> Result<Claim, StoreError> {
    for _ in 0..CLAIM_ATTEMPTS {
        let put = store
            .client
            .put_item()
            .table_name(&store.table)
            .set_item(Some(idempotency_to_item(claim)))
            .condition_expression(
                "attribute_not_exists(#pk) OR #ttl < :now \
                 OR (attribute_not_exists(#result) AND #claimed_at < :stale)",
            )
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_names("#result", RESULT)
            .expression_attribute_names("#claimed_at", CLAIMED_AT)
            .expression_attribute_values(":now", n(claim.now))
            .expression_attribute_values(":stale", n(claim.stale_before))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let returned = match put {
            Ok(_) => return Ok(Claim::Claimed),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(refused)) => {
                    refused.item().cloned()
                }
                _ => return Err(store.sdk("DynamoDB PutItem (idempotency)", e)),
            },
        };
        let holder = match returned {
            Some(item) => Some(item),
            None => store.get(idempotency_key(&claim.key)).await?,
        };
        if let Some(item) = holder {
            return Ok(held_from_item(&item)?);
        }
    }
    Err(StoreError::Conflict(LABEL.to_owned()))
}

/// Records `result` on the record of `key`, conditional on its fingerprint.
///
/// # Errors
/// [`StoreError::Conflict`] when the record is gone or holds another fingerprint.
pub(super) async fn complete_idempotency(
    store: &DynamoAdminStore,
    key: &str,
    fingerprint: &str,
    result: &str,
) -> Result<(), StoreError> {
    let update = store
        .client
        .update_item()
        .table_name(&store.table)
        .set_key(Some(idempotency_key(key)))
        .update_expression("SET #result = :result")
        .condition_expression("#fp = :fp")
        .expression_attribute_names("#result", RESULT)
        .expression_attribute_names("#fp", FINGERPRINT)
        .expression_attribute_values(":result", s(result))
        .expression_attribute_values(":fp", s(fingerprint))
        .send()
        .await;
    match update {
        Ok(_) => Ok(()),
        Err(e) => match e.as_service_error() {
            Some(se) if se.is_conditional_check_failed_exception() => {
                Err(StoreError::Conflict(LABEL.to_owned()))
            }
            _ => Err(store.sdk("DynamoDB UpdateItem (idempotency)", e)),
        },
    }
}

/// Deletes the record of `key`, conditional on its fingerprint and on it not being
/// completed (a completed record answers retries until it expires).
///
/// # Errors
/// [`StoreError::Conflict`] when the record is gone, completed or holds another
/// fingerprint.
pub(super) async fn release_idempotency(
    store: &DynamoAdminStore,
    key: &str,
    fingerprint: &str,
) -> Result<(), StoreError> {
    let delete = store
        .client
        .delete_item()
        .table_name(&store.table)
        .set_key(Some(idempotency_key(key)))
        .condition_expression("#fp = :fp AND attribute_not_exists(#result)")
        .expression_attribute_names("#result", RESULT)
        .expression_attribute_names("#fp", FINGERPRINT)
        .expression_attribute_values(":fp", s(fingerprint))
        .send()
        .await;
    match delete {
        Ok(_) => Ok(()),
        Err(e) => match e.as_service_error() {
            Some(se) if se.is_conditional_check_failed_exception() => {
                Err(StoreError::Conflict(LABEL.to_owned()))
            }
            _ => Err(store.sdk("DynamoDB DeleteItem (idempotency)", e)),
        },
    }
}
