//! `m2m-admin trust ...`: a client's trust rules (workload identity federation, RFC 7523
//! §2.2 client assertions from an external issuer), added, listed page by page and
//! removed as `m2m-manage` rules them.

use std::collections::BTreeMap;

use m2m_core::model::{Match, TrustRule};
use m2m_core::types::ClientId;
use m2m_manage::trust::{matches_any_subject, NewTrustRule};
use m2m_manage::Cursor;
use serde_json::{json, Map, Value};

use crate::cli::TrustCommand;
use crate::context::Ctx;
use crate::error::AdminError;
use crate::output::{fields, table, time, Output};

/// Runs one `trust` command.
///
/// # Errors
/// As [`AdminError`].
pub async fn run(ctx: &Ctx, cmd: TrustCommand) -> Result<Output, AdminError> {
    match cmd {
        TrustCommand::Add {
            client,
            issuer,
            subject,
            subject_glob,
            audience,
            claims,
            claim_globs,
            description,
        } => {
            let subject = match (subject, subject_glob) {
                (Some(s), _) => Match::Exact(s),
                (None, Some(g)) => Match::Glob(g),
                (None, None) => {
                    return Err(AdminError::Invalid(
                        "give --subject or --subject-glob".into(),
                    ))
                }
            };
            let mut conditions = BTreeMap::new();
            let exact = claims.into_iter().map(|(k, v)| (k, Match::Exact(v)));
            let globs = claim_globs.into_iter().map(|(k, v)| (k, Match::Glob(v)));
            for (name, m) in exact.chain(globs) {
                if conditions.insert(name.clone(), m).is_some() {
                    return Err(AdminError::Invalid(format!(
                        "the claim {name} is given twice; one condition per claim"
                    )));
                }
            }
            let rule = NewTrustRule {
                issuer,
                subject,
                audience,
                claims: conditions,
                description: description.unwrap_or_default(),
            };
            add(ctx, &ClientId::new(client), rule).await
        }
        TrustCommand::List {
            client,
            limit,
            after,
        } => list(ctx, &ClientId::new(client), usize::from(limit), after).await,
        TrustCommand::Remove { client, rule } => remove(ctx, &ClientId::new(client), &rule).await,
    }
}

/// A condition as JSON: `{"exact": value}` or `{"glob": pattern}`.
fn match_json(m: &Match) -> Value {
    match m {
        Match::Exact(v) => json!({"exact": v}),
        Match::Glob(v) => json!({"glob": v}),
    }
}

fn match_text(m: &Match) -> String {
    match m {
        Match::Exact(v) => v.clone(),
        Match::Glob(v) => format!("{v} (pattern)"),
    }
}

/// The JSON form of a rule.
pub fn rule_json(r: &TrustRule) -> Value {
    let claims: Map<String, Value> = r
        .claims
        .iter()
        .map(|(k, m)| (k.clone(), match_json(m)))
        .collect();
    json!({
        "id": r.id,
        "issuer": r.issuer,
        "subject": match_json(&r.subject),
        "audience": r.audience,
        "claims": claims,
        "description": r.description,
        "created_at": r.created_at,
    })
}

/// The text form of rules.
pub fn rules_table(rules: &[TrustRule]) -> String {
    let rows: Vec<Vec<String>> = rules
        .iter()
        .map(|r| {
            let claims = r
                .claims
                .iter()
                .map(|(k, m)| match m {
                    Match::Exact(v) => format!("{k}={v}"),
                    Match::Glob(v) => format!("{k}~{v}"),
                })
                .collect::<Vec<_>>()
                .join(" ");
            vec![
                r.id.clone(),
                r.issuer.clone(),
                match_text(&r.subject),
                r.audience.clone(),
                if claims.is_empty() {
                    "-".into()
                } else {
                    claims
                },
            ]
        })
        .collect();
    table(&["RULE", "ISSUER", "SUBJECT", "AUDIENCE", "CLAIMS"], &rows)
}

async fn add(ctx: &Ctx, id: &ClientId, rule: NewTrustRule) -> Result<Output, AdminError> {
    let added = ctx.op().add_trust_rule(id, rule, ctx.now, None).await?;
    let r = &added.rule;
    let mut doc = rule_json(r);
    doc["client_id"] = json!(id.as_str());
    doc["version"] = json!(added.client_version);
    let mut warnings = Vec::new();
    if matches_any_subject(&r.subject) {
        warnings.push(format!(
            "the subject pattern accepts every subject of {}: any of its workloads that asks \
             for the audience {} authenticates as this client",
            r.issuer, r.audience
        ));
    }
    doc["warnings"] = json!(warnings);
    let claims = r
        .claims
        .iter()
        .map(|(k, m)| format!("{k} = {}", match_text(m)))
        .collect::<Vec<_>>()
        .join(", ");
    let text = format!(
        "Added trust rule {} to client {id}.\n{}",
        r.id,
        fields(&[
            ("id", r.id.clone()),
            ("issuer", r.issuer.clone()),
            ("subject", match_text(&r.subject)),
            ("audience", r.audience.clone()),
            (
                "claims",
                if claims.is_empty() {
                    "-".into()
                } else {
                    claims
                }
            ),
            ("created", time(r.created_at)),
        ])
    );
    let text = warnings
        .iter()
        .fold(text, |t, w| format!("{t}\nwarning: {w}"));
    Ok(Output::new(doc, text))
}

async fn list(
    ctx: &Ctx,
    id: &ClientId,
    limit: usize,
    after: Option<String>,
) -> Result<Output, AdminError> {
    let after = after.map(Cursor);
    let page = ctx.op().trust_rules(id, after.as_ref(), limit).await?;
    let next = page.next.as_ref().map(|c| c.0.clone());
    let mut text = rules_table(&page.items);
    if let Some(n) = &next {
        text.push_str(&format!(
            "\n(more: `m2m-admin trust list --client {id} --after {n}`)"
        ));
    }
    Ok(Output::new(
        json!({
            "client_id": id.as_str(),
            "trust_rules": page.items.iter().map(rule_json).collect::<Vec<_>>(),
            "next_cursor": next,
        }),
        text,
    ))
}

async fn remove(ctx: &Ctx, id: &ClientId, rule_id: &str) -> Result<Output, AdminError> {
    let removed = ctx.op().remove_trust_rule(id, rule_id, None).await?;
    Ok(Output::new(
        json!({
            "client_id": id.as_str(),
            "removed": removed.rule.id,
            "version": removed.client_version,
        }),
        format!(
            "Removed trust rule {} of client {id}; its tokens no longer authenticate.",
            removed.rule.id
        ),
    ))
}
