//! The API (resource server) item: `API#<identifier>` / `API`.

use aws_sdk_dynamodb::types::AttributeValue;
use m2m_core::model::{Api, Profile, Reuse, DEFAULT_REUSE_MIN_REMAINING_PCT};
use m2m_core::types::Audience;

use super::attr::{n, s, scopes_av, Reader};
use super::{
    api_key, Item, ItemError, API_PREFIX, KIND, KIND_API, PK, REUSE, REUSE_PCT, REUSE_WITH_HOOK, SK,
};

/// Encodes an API.
pub fn api_to_item(api: &Api) -> Item {
    let mut item = api_key(&api.identifier);
    item.insert(KIND.to_owned(), s(KIND_API));
    item.insert("name".to_owned(), s(&api.name));
    item.insert("scopes".to_owned(), scopes_av(&api.scopes));
    item.insert("token_lifetime".to_owned(), n(api.token_lifetime));
    item.insert("profile".to_owned(), s(api.profile.as_str()));
    match api.reuse {
        Reuse::Off => {
            item.insert(REUSE.to_owned(), s("off"));
        }
        Reuse::On {
            min_remaining_pct,
            with_hook,
        } => {
            item.insert(REUSE.to_owned(), s("on"));
            item.insert(REUSE_PCT.to_owned(), n(u64::from(min_remaining_pct)));
            item.insert(REUSE_WITH_HOOK.to_owned(), AttributeValue::Bool(with_hook));
        }
    }
    item
}

/// Decodes an API item.
///
/// # Errors
/// An [`ItemError`] when an attribute is missing, of the wrong type or out of range.
pub fn api_from_item(item: &Item) -> Result<Api, ItemError> {
    let r = Reader::new("API", item);
    r.exact(SK, "API")?;
    r.kind(KIND_API)?;
    let identifier = Audience::new(r.suffix(PK, API_PREFIX)?);
    let profile = match r.opt_string("profile")? {
        None => Profile::default(),
        Some(name) => name
            .parse::<Profile>()
            .map_err(|_| r.err("profile", "is not rfc9068 or auth0"))?,
    };
    let reuse = match r.opt_string(REUSE)? {
        Some("off") => Reuse::Off,
        None | Some("on") => {
            let pct = match r.opt_number(REUSE_PCT)? {
                None => DEFAULT_REUSE_MIN_REMAINING_PCT,
                Some(p @ 1..=99) => p as u8,
                Some(_) => return Err(r.err(REUSE_PCT, "is not between 1 and 99")),
            };
            let with_hook = match r.opt(REUSE_WITH_HOOK) {
                None => false,
                Some(AttributeValue::Bool(b)) => *b,
                Some(_) => return Err(r.err(REUSE_WITH_HOOK, "is not a boolean")),
            };
            Reuse::On {
                min_remaining_pct: pct,
                with_hook,
            }
        }
        Some(_) => return Err(r.err(REUSE, "is not on or off")),
    };
    Ok(Api {
        identifier,
        name: r.string("name")?.to_owned(),
        scopes: r.scopes("scopes")?,
        token_lifetime: r.number("token_lifetime")?,
        profile,
        reuse,
    })
}
