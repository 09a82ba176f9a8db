//! The paged client listing: one `Query` per page on a global secondary index, `ByOrg`
//! (`org_id = <org>`) for one organization's clients and `ByKind` (`kind = CLIENT`) for
//! all of them, both ranged on `PK`, so pages come in client id order and no listing
//! ever scans the table.

use m2m_core::model::Client;
use m2m_manage::{ClientFilter, Cursor, Page, StoreError, MAX_PAGE};

use crate::dynamo::admin::cursor::{self, Listing};
use crate::dynamo::admin::DynamoAdminStore;
use crate::dynamo::item::{self, attr::s};

/// One page of the clients `filter` selects, in client id order, at most `limit` long
/// (clamped to 1..=[`MAX_PAGE`]), starting after `after`.
///
/// The page is read with `Limit` = `limit + 1`: when the extra item arrives, the page
/// ends at `limit` items and its cursor is the last item's index key, so a listing
/// whose remaining items fill the page exactly ends there (`next` is `None`) rather than
/// with an empty page. A page can be shorter than `limit` only when DynamoDB stops at
/// its 1 MB page size; `next` then continues from its `LastEvaluatedKey`.
///
/// Global secondary indexes are eventually consistent (DynamoDB developer guide,
/// "Global secondary indexes"): a client created or changed a moment ago may be missing
/// from a page or show its previous state, and one deleted a moment ago may still be
/// listed. Decisions re-read the client itself ([`DynamoAdminStore`]'s `get_client`,
/// strongly consistent) and writes are conditional.
///
/// # Errors
/// [`StoreError::InvalidCursor`] when `after` is not a cursor this listing handed out
/// for `filter`; [`StoreError::Malformed`] when a listed item does not decode; otherwise
/// as [`StoreError`].
pub(super) async fn list_clients(
    store: &DynamoAdminStore,
    filter: &ClientFilter,
    after: Option<&Cursor>,
    limit: usize,
) -> Result<Page<Client>, StoreError> {
    let limit = limit.clamp(1, MAX_PAGE);
    let start = after.map(|c| cursor::decode(filter, c)).transpose()?;
    let listing = Listing::of(filter);
    if listing.hash_value.is_empty() {
        // No client has an empty organization (it is stored as none), and DynamoDB
        // refuses an empty key value.
        return Ok(Page {
            items: Vec::new(),
            next: None,
        });
    }
    let what = format!("DynamoDB Query ({})", listing.index);
    let out = store
        .client
        .query()
        .table_name(&store.table)
        .index_name(listing.index)
        .key_condition_expression("#h = :h")
        .expression_attribute_names("#h", listing.hash_attr)
        .expression_attribute_values(":h", s(listing.hash_value))
        // MAX_PAGE + 1 fits an i32.
        .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
        .set_exclusive_start_key(start)
        .send()
        .await
        .map_err(|e| store.sdk(&what, e))?;
    let mut found = out.items.unwrap_or_default();
    let next = if found.len() > limit {
        found.truncate(limit);
        match found.last() {
            Some(last) => Some(cursor::encode(filter, last)?),
            None => None,
        }
    } else {
        out.last_evaluated_key
            .filter(|key| !key.is_empty())
            .map(|key| cursor::encode(filter, &key))
            .transpose()?
    };
    let items = found
        .iter()
        .map(item::client_from_item)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page { items, next })
}
