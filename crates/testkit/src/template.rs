//! The SAM template's IAM policies read as data: the statements and actions of a role,
//! and the IAM actions that authorize the operations a
//! [`RequestCounter`](crate::counter::RequestCounter) recorded, so least privilege is
//! checked against what the code actually calls.

use std::collections::BTreeMap;

/// One `Allow` statement of a role's inline policies in the SAM template: its actions
/// and its text (resources and conditions), read line by line from the template's
/// layout (`- Effect:` opens a statement, `Action:` is a name or a flow list).
#[derive(Clone, Debug, Default)]
pub struct PolicyStatement {
    /// The statement's actions, e.g. `dynamodb:PutItem`.
    pub actions: Vec<String>,
    /// The statement's lines, for checks on its resources and conditions.
    pub text: String,
}

/// The statements of the IAM role resource `role` in `template`.
pub fn role_statements(template: &str, role: &str) -> Vec<PolicyStatement> {
    let header = format!("  {role}:");
    let mut lines = template.lines().skip_while(|l| l.trim_end() != header);
    lines.next();
    let body = lines
        .take_while(|l| l.is_empty() || l.starts_with("   ") || l.trim_start().starts_with('#'));
    let mut statements: Vec<PolicyStatement> = Vec::new();
    for line in body {
        let t = line.trim();
        if t.starts_with("- Effect:") {
            statements.push(PolicyStatement::default());
        } else if t.starts_with("- PolicyName:") || t.starts_with("- !If") {
            // A new policy: the current statement has ended.
            statements.push(PolicyStatement::default());
            continue;
        }
        let Some(current) = statements.last_mut() else {
            continue;
        };
        if t.starts_with('#') {
            continue;
        }
        current.text.push_str(t);
        current.text.push('\n');
        if let Some(value) = t.strip_prefix("Action:") {
            let value = value.trim().trim_start_matches('[').trim_end_matches(']');
            current.actions.extend(
                value
                    .split(',')
                    .map(|a| a.trim().trim_matches('\'').to_owned())
                    .filter(|a| !a.is_empty()),
            );
        }
    }
    statements.retain(|s| !s.actions.is_empty());
    statements
}

/// The actions `role` allows on the given services (`dynamodb`, `kms`, `lambda`).
pub fn role_actions(
    template: &str,
    role: &str,
    services: &[&str],
) -> std::collections::BTreeSet<String> {
    role_statements(template, role)
        .into_iter()
        .flat_map(|s| s.actions)
        .filter(|a| services.iter().any(|svc| a.starts_with(&format!("{svc}:"))))
        .collect()
}

/// The IAM actions that authorize the operations a [`RequestCounter`](crate::counter::RequestCounter) recorded
/// (`DynamoDB`/`BatchGetItem` → `dynamodb:BatchGetItem`; Lambda `Invoke` →
/// `lambda:InvokeFunction`).
pub fn iam_actions(
    recorded: &BTreeMap<(String, String), usize>,
) -> std::collections::BTreeSet<String> {
    recorded
        .keys()
        .map(
            |(service, operation)| match (service.as_str(), operation.as_str()) {
                ("Lambda", "Invoke") => "lambda:InvokeFunction".to_owned(),
                (s, op) => format!("{}:{op}", s.to_ascii_lowercase()),
            },
        )
        .collect()
}
