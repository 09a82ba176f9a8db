//! The grant item: `CLIENT#<client_id>` / `GRANT#<api identifier>`.

use m2m_core::model::Grant;
use m2m_core::types::{Audience, ClientId};

use super::attr::{scopes_av, Reader};
use super::{grant_key, Item, ItemError, CLIENT_PREFIX, GRANT_PREFIX, PK, SK};

/// Encodes a grant.
pub fn grant_to_item(grant: &Grant) -> Item {
    let mut item = grant_key(&grant.client_id, &grant.audience);
    item.insert("scopes".to_owned(), scopes_av(&grant.scopes));
    item
}

/// Decodes a grant item.
///
/// # Errors
/// An [`ItemError`] when an attribute is missing or of the wrong type.
pub fn grant_from_item(item: &Item) -> Result<Grant, ItemError> {
    let r = Reader::new("grant", item);
    Ok(Grant {
        client_id: ClientId::new(r.suffix(PK, CLIENT_PREFIX)?),
        audience: Audience::new(r.suffix(SK, GRANT_PREFIX)?),
        scopes: r.scopes("scopes")?,
    })
}
