//! `/clients/{id}/trust-rules`: a client's trust rules (workload identity federation:
//! an external issuer's token as its RFC 7523 §2.2 client assertion) — added, listed
//! page by page, read and removed.

use std::collections::BTreeMap;

use http::header::LOCATION;
use http::StatusCode;
use m2m_core::model::Match;
use m2m_core::types::ClientId;
use m2m_manage::idempotency::{once, Outcome as Once};
use m2m_manage::keys::KeyVault;
use m2m_manage::trust::{NewTrustRule, RuleChange};
use m2m_manage::{AdminStore, Cursor};
use percent_encoding::utf8_percent_encode;
use serde::Deserialize;

use super::SEGMENT;
use crate::reply::{Problem, Reply, REPLAYED};
use crate::request::{body, idempotency, if_match, query};
use crate::route::PREFIX;
use crate::{render, Call, Outcome};

/// Default page size of a rule listing.
pub const DEFAULT_PAGE: usize = 50;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddBody {
    issuer: String,
    /// `{"exact": s}` or `{"glob": pattern}`.
    subject: Match,
    audience: String,
    #[serde(default)]
    claims: BTreeMap<String, Match>,
    #[serde(default)]
    description: String,
}

fn location(id: &str, rule: &str) -> String {
    format!(
        "{PREFIX}/clients/{}/trust-rules/{}",
        utf8_percent_encode(id, SEGMENT),
        utf8_percent_encode(rule, SEGMENT)
    )
}

pub(crate) async fn list<S: AdminStore, V: KeyVault>(call: &Call<'_, S, V>, id: &str) -> Outcome {
    let limit = match query(call.req, "limit") {
        None => DEFAULT_PAGE,
        // The range is the use case's to check.
        Some(l) => l
            .parse::<usize>()
            .map_err(|_| Problem::invalid("limit must be a whole number, 1 to 100"))?,
    };
    let cursor = query(call.req, "cursor").map(Cursor);
    let page = call
        .app
        .operator
        .trust_rules(&ClientId::new(id), cursor.as_ref(), limit)
        .await?;
    Ok(Reply::ok(render::trust_rule_page(&page)))
}

pub(crate) async fn add<S: AdminStore, V: KeyVault>(call: &Call<'_, S, V>, id: &str) -> Outcome {
    let b: AddBody = body(call.req)?;
    let expected = if_match(call.req)?;
    let key = idempotency(call.req, call.principal)?;
    let op = &call.app.operator;
    let client_id = ClientId::new(id);
    let new = NewTrustRule {
        issuer: b.issuer,
        subject: b.subject,
        audience: b.audience,
        claims: b.claims,
        description: b.description,
    };
    let added = once(
        &op.store,
        key.as_ref(),
        call.now,
        |c: &RuleChange| c.rule.id.clone(),
        || op.add_trust_rule(&client_id, new, call.now, expected),
    )
    .await?;
    match added {
        Once::Created(c) => Ok(
            Reply::json(StatusCode::CREATED, render::trust_rule(&c.rule))
                .etag(c.client_version)
                .header(LOCATION, location(id, &c.rule.id))
                .target(format!("{id} {}", c.rule.id)),
        ),
        Once::Replayed(rule_id) => {
            let rule = op.trust_rule(&client_id, &rule_id).await?;
            Ok(Reply::ok(render::trust_rule(&rule))
                .header(LOCATION, location(id, &rule_id))
                .header(REPLAYED, "true")
                .target(format!("{id} {rule_id}")))
        }
    }
}

pub(crate) async fn get<S: AdminStore, V: KeyVault>(
    call: &Call<'_, S, V>,
    id: &str,
    rule: &str,
) -> Outcome {
    let rule = call
        .app
        .operator
        .trust_rule(&ClientId::new(id), rule)
        .await?;
    Ok(Reply::ok(render::trust_rule(&rule)))
}

pub(crate) async fn remove<S: AdminStore, V: KeyVault>(
    call: &Call<'_, S, V>,
    id: &str,
    rule: &str,
) -> Outcome {
    let expected = if_match(call.req)?;
    let removed = call
        .app
        .operator
        .remove_trust_rule(&ClientId::new(id), rule, expected)
        .await?;
    Ok(Reply::no_content()
        .etag(removed.client_version)
        .target(format!("{id} {rule}")))
}
