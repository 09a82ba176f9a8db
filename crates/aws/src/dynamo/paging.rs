//! Paging through DynamoDB `Query` and `Scan` results with the SDK's paginators
//! (`into_paginator()`), bounded: a listing that runs past its page budget is an error,
//! not an endless loop.

use std::error::Error as StdError;
use std::fmt::Debug;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_async::future::pagination_stream::PaginationStream;
use m2m_core::error::PortError;

use crate::dynamo::item::Item;
use crate::sdk::error::port_error;

/// Every item of every page of `pages` (`items` picks a page's items); `what` names
/// the call in errors.
///
/// # Errors
/// The SDK's error as a [`PortError`], or a refusal once more than `max_pages` pages
/// arrive.
pub(crate) async fn all_items<P, E, R>(
    mut pages: PaginationStream<Result<P, SdkError<E, R>>>,
    max_pages: usize,
    what: &str,
    items: impl Fn(P) -> Option<Vec<Item>>,
) -> Result<Vec<Item>, PortError>
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    let mut found = Vec::new();
    let mut read = 0;
    while let Some(page) = pages.try_next().await.map_err(|e| port_error(what, e))? {
        read += 1;
        if read > max_pages {
            return Err(PortError::refused(format!(
                "{what}: the listing spans more than {max_pages} pages"
            )));
        }
        found.extend(items(page).unwrap_or_default());
    }
    Ok(found)
}
