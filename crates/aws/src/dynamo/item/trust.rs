//! The trust-rule item, in its client's partition beside the client and its grants:
//!
//! | item | PK | SK | attributes |
//! |---|---|---|---|
//! | trust rule | `CLIENT#<client_id>` | `TRUST#<d>#<rule id>` | kind, issuer, subject, audience, claims, description, created_at |
//!
//! `<d>` is the unpadded base64url SHA-256 of the issuer: 43 characters whatever the
//! issuer's length, so an issuer of any length fits the sort key and the rules of one
//! issuer are one `begins_with(SK, "TRUST#<d>#")` range, read by the token endpoint for
//! a federated client assertion (RFC 7523 §2.2). `subject` is a map `{exact: s}` or
//! `{glob: s}`; `claims` maps each claim name to such a map.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use m2m_core::model::{Match, TrustRule};
use m2m_core::types::ClientId;
use sha2::{Digest as _, Sha256};

use super::attr::{n, s, Reader};
use super::{Item, ItemError, CLIENT_PREFIX, KIND, KIND_TRUST_RULE, PK, SK, TRUST_PREFIX};

const ITEM: &str = "trust rule";
const EXACT: &str = "exact";
const GLOB: &str = "glob";

/// The issuer's digest in a trust rule's sort key: unpadded base64url of SHA-256.
pub fn issuer_digest(issuer: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(issuer.as_bytes()))
}

/// The sort-key prefix of every rule of one issuer: `TRUST#<digest>#`.
pub fn issuer_prefix(issuer: &str) -> String {
    format!("{TRUST_PREFIX}{}#", issuer_digest(issuer))
}

/// The sort-key prefix of every trust rule of a client: `TRUST#`.
pub fn rules_prefix() -> &'static str {
    TRUST_PREFIX
}

/// The primary key of rule `rule_id` of `client_id` for `issuer`.
pub fn trust_rule_key(client_id: &ClientId, issuer: &str, rule_id: &str) -> Item {
    HashMap::from([
        (PK.to_owned(), s(format!("{CLIENT_PREFIX}{client_id}"))),
        (
            SK.to_owned(),
            s(format!("{}{rule_id}", issuer_prefix(issuer))),
        ),
    ])
}

fn match_av(m: &Match) -> AttributeValue {
    let (k, v) = match m {
        Match::Exact(v) => (EXACT, v),
        Match::Glob(v) => (GLOB, v),
    };
    AttributeValue::M(HashMap::from([(k.to_owned(), s(v))]))
}

/// Encodes `rule` of `client_id`.
pub fn trust_rule_to_item(client_id: &ClientId, rule: &TrustRule) -> Item {
    let mut item = trust_rule_key(client_id, &rule.issuer, &rule.id);
    item.insert(KIND.to_owned(), s(KIND_TRUST_RULE));
    item.insert("issuer".to_owned(), s(&rule.issuer));
    item.insert("subject".to_owned(), match_av(&rule.subject));
    item.insert("audience".to_owned(), s(&rule.audience));
    item.insert(
        "claims".to_owned(),
        AttributeValue::M(
            rule.claims
                .iter()
                .map(|(k, m)| (k.clone(), match_av(m)))
                .collect(),
        ),
    );
    item.insert("description".to_owned(), s(&rule.description));
    item.insert("created_at".to_owned(), n(rule.created_at));
    item
}

fn match_from(r: &Reader<'_>, name: &str, v: &AttributeValue) -> Result<Match, ItemError> {
    let AttributeValue::M(m) = v else {
        return Err(r.err(name, "is not a map"));
    };
    match (m.len(), m.get(EXACT), m.get(GLOB)) {
        (1, Some(AttributeValue::S(v)), None) => Ok(Match::Exact(v.clone())),
        (1, None, Some(AttributeValue::S(v))) => Ok(Match::Glob(v.clone())),
        _ => Err(r.err(name, "is not {exact: string} or {glob: string}")),
    }
}

/// Decodes a trust-rule item into its client and rule, checking that the sort key's
/// digest is its issuer's.
///
/// # Errors
/// An [`ItemError`] when an attribute is missing, of the wrong type or inconsistent.
pub fn trust_rule_from_item(item: &Item) -> Result<(ClientId, TrustRule), ItemError> {
    let r = Reader::new(ITEM, item);
    r.kind(KIND_TRUST_RULE)?;
    let client = ClientId::new(r.suffix(PK, CLIENT_PREFIX)?);
    let issuer = r.string("issuer")?;
    let id = r
        .string(SK)?
        .strip_prefix(&issuer_prefix(issuer))
        .filter(|id| !id.is_empty())
        .ok_or_else(|| r.err(SK, "does not match the rule's issuer"))?;
    let subject = match_from(&r, "subject", r.req("subject")?)?;
    let mut claims = BTreeMap::new();
    if let Some(m) = r.opt_map("claims")? {
        for (name, v) in m {
            claims.insert(name.clone(), match_from(&r, "claims", v)?);
        }
    }
    Ok((
        client,
        TrustRule {
            id: id.to_owned(),
            issuer: issuer.to_owned(),
            subject,
            audience: r.string("audience")?.to_owned(),
            claims,
            description: r.opt_string("description")?.unwrap_or_default().to_owned(),
            created_at: r.number("created_at")?,
        },
    ))
}
