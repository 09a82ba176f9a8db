//! Trust rules (workload identity federation): a client accepts, as its RFC 7523 §2.2
//! client assertion, a token from an external OpenID issuer — a Kubernetes cluster's
//! service-account token, a GitHub Actions OIDC token — whose `sub`, `aud` and listed
//! claims match one of its rules. The workload then needs no secret and no key of its
//! own: its platform's identity is the credential.
//!
//! Each rule is an item of its own beside the client, so a client holds as many as it
//! needs. Adding or removing one is one write with a bump of the client's version (the
//! token endpoint's reuse cache keys on it, so a reused token never outlives the rule
//! that earned it).

use std::collections::BTreeMap;

use m2m_core::model::{Match, TrustRule};
use m2m_core::types::ClientId;
use rand::rngs::OsRng;
use rand::Rng as _;

use crate::error::{ManageError, Target};
use crate::operator::Operator;
use crate::retry::{check_version, mismatch, Retry};
use crate::store::{AdminStore, Cursor, Page, StoreError, MAX_PAGE};
use crate::urls::check_issuer;

/// Most claim conditions on one rule.
pub const MAX_CLAIM_CONDITIONS: usize = 32;
/// Longest description, characters.
pub const MAX_DESCRIPTION_LEN: usize = 500;
/// Longest subject, audience, claim value or pattern, characters.
pub const MAX_VALUE_LEN: usize = 1024;
/// Longest claim name, characters.
pub const MAX_CLAIM_NAME_LEN: usize = 256;
/// Claims the token endpoint checks on its own (issuer, subject, audience and the
/// times, RFC 7523 §3): a rule's claim conditions cannot name them.
pub const CHECKED_CLAIMS: &[&str] = &["iss", "sub", "aud", "exp", "nbf", "iat"];
/// Prefix of rule ids.
pub const RULE_ID_PREFIX: &str = "tr_";
/// Random characters after the prefix: 22 base64url characters, 132 bits.
const RULE_ID_RANDOM: usize = 22;
const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A trust rule to add.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTrustRule {
    /// The external issuer, exactly as its tokens' `iss` reads.
    pub issuer: String,
    /// The `sub` expected, exactly or as a pattern.
    pub subject: Match,
    /// The audience the external token must carry.
    pub audience: String,
    /// Further claims that must match.
    pub claims: BTreeMap<String, Match>,
    /// Free text for the operator.
    pub description: String,
}

/// A rule as written, with the client's version after the write (its `ETag`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleChange {
    /// The rule.
    pub rule: TrustRule,
    /// The client's version after the write.
    pub client_version: u64,
}

fn new_rule_id() -> String {
    let mut id = String::with_capacity(RULE_ID_PREFIX.len() + RULE_ID_RANDOM);
    id.push_str(RULE_ID_PREFIX);
    for _ in 0..RULE_ID_RANDOM {
        let i = OsRng.gen_range(0..BASE64URL.len());
        id.push(char::from(BASE64URL[i]));
    }
    id
}

fn check_value(what: &str, v: &str) -> Result<(), ManageError> {
    if v.is_empty() {
        return Err(ManageError::Invalid(format!("{what} must not be empty")));
    }
    if v.chars().count() > MAX_VALUE_LEN {
        return Err(ManageError::Invalid(format!(
            "{what} must be at most {MAX_VALUE_LEN} characters"
        )));
    }
    if v.chars().any(char::is_control) {
        return Err(ManageError::Invalid(format!(
            "{what} must not contain control characters"
        )));
    }
    Ok(())
}

/// Whether a subject condition accepts every subject of its issuer: a pattern of
/// wildcards alone. Allowed, but for a shared issuer such as GitHub Actions it trusts
/// every workload in the world that asks for the rule's audience, so front ends warn.
pub fn matches_any_subject(subject: &Match) -> bool {
    matches!(subject, Match::Glob(p) if p.chars().all(|c| c == '*'))
}

/// Checks a rule before it is stored.
///
/// # Errors
/// [`ManageError::Invalid`] saying what is wrong.
pub fn validate(rule: &NewTrustRule) -> Result<(), ManageError> {
    check_issuer(&rule.issuer)?;
    check_value("the subject", rule.subject.as_str())?;
    check_value("the audience", &rule.audience)?;
    if rule.claims.len() > MAX_CLAIM_CONDITIONS {
        return Err(ManageError::Invalid(format!(
            "a rule holds at most {MAX_CLAIM_CONDITIONS} claim conditions"
        )));
    }
    for (name, m) in &rule.claims {
        if name.is_empty()
            || name.chars().count() > MAX_CLAIM_NAME_LEN
            || name.chars().any(char::is_control)
        {
            return Err(ManageError::Invalid(format!(
                "claim names must be 1 to {MAX_CLAIM_NAME_LEN} characters, without control characters"
            )));
        }
        if CHECKED_CLAIMS.contains(&name.as_str()) {
            return Err(ManageError::Invalid(format!(
                "the claim {name} cannot be a condition: issuer, subject, audience and the \
                 times have their own checks (use the issuer, subject and audience of the rule)"
            )));
        }
        check_value(&format!("the condition on claim {name}"), m.as_str())?;
    }
    if rule.description.chars().count() > MAX_DESCRIPTION_LEN {
        return Err(ManageError::Invalid(format!(
            "the description must be at most {MAX_DESCRIPTION_LEN} characters"
        )));
    }
    Ok(())
}

fn no_rule(client: &ClientId, rule_id: &str) -> ManageError {
    ManageError::NotFound(Target::TrustRule(client.clone(), rule_id.to_owned()))
}

impl<S: AdminStore> Operator<S> {
    /// Adds a trust rule to client `id`.
    ///
    /// # Errors
    /// [`ManageError::Invalid`] (see [`validate`]), [`ManageError::NotFound`],
    /// [`ManageError::VersionMismatch`], [`ManageError::KeptChanging`].
    pub async fn add_trust_rule(
        &self,
        id: &ClientId,
        new: NewTrustRule,
        now: u64,
        expected: Option<u64>,
    ) -> Result<RuleChange, ManageError> {
        validate(&new)?;
        let mut rule = TrustRule {
            id: new_rule_id(),
            issuer: new.issuer,
            subject: new.subject,
            audience: new.audience,
            claims: new.claims,
            description: new.description,
            created_at: now,
        };
        let mut retry = Retry::new(self.backoff);
        loop {
            let client = self.client(id).await?;
            check_version(Target::Client(id.clone()), expected, client.version)?;
            match self.store.put_trust_rule(id, &rule, client.version).await {
                Ok(()) => {
                    return Ok(RuleChange {
                        rule,
                        client_version: client.version.saturating_add(1),
                    })
                }
                Err(StoreError::Conflict(_)) if expected.is_some() => {
                    return Err(mismatch(
                        Target::Client(id.clone()),
                        expected,
                        client.version,
                    ))
                }
                Err(StoreError::Conflict(_)) => {
                    retry.again(|| format!("client {id}")).await?;
                    // The client changed or, against all odds, the random id was taken.
                    rule.id = new_rule_id();
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// One page of the trust rules of client `id`.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] for an unknown client; [`ManageError::Invalid`] for a
    /// limit outside 1..=[`MAX_PAGE`] or a foreign cursor.
    pub async fn trust_rules(
        &self,
        id: &ClientId,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<TrustRule>, ManageError> {
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ManageError::Invalid(format!(
                "the page size must be 1 to {MAX_PAGE}"
            )));
        }
        self.client(id).await?;
        Ok(self.store.trust_rules(id, after, limit).await?)
    }

    /// Every trust rule of client `id`, read page by page.
    ///
    /// # Errors
    /// As [`Self::trust_rules`].
    pub async fn all_trust_rules(&self, id: &ClientId) -> Result<Vec<TrustRule>, ManageError> {
        let mut all = Vec::new();
        let mut after: Option<Cursor> = None;
        loop {
            let page = self.store.trust_rules(id, after.as_ref(), MAX_PAGE).await?;
            all.extend(page.items);
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(all),
            }
        }
    }

    /// The trust rule `rule_id` of client `id`.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] for an unknown client or rule.
    pub async fn trust_rule(&self, id: &ClientId, rule_id: &str) -> Result<TrustRule, ManageError> {
        self.client(id).await?;
        if rule_id.is_empty() || rule_id.len() > crate::MAX_ID_LEN {
            return Err(no_rule(id, rule_id));
        }
        self.store
            .get_trust_rule(id, rule_id)
            .await?
            .ok_or_else(|| no_rule(id, rule_id))
    }

    /// Removes the trust rule `rule_id` of client `id` at once.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] for an unknown client or rule,
    /// [`ManageError::VersionMismatch`], [`ManageError::KeptChanging`].
    pub async fn remove_trust_rule(
        &self,
        id: &ClientId,
        rule_id: &str,
        expected: Option<u64>,
    ) -> Result<RuleChange, ManageError> {
        let mut retry = Retry::new(self.backoff);
        loop {
            let client = self.client(id).await?;
            check_version(Target::Client(id.clone()), expected, client.version)?;
            if rule_id.is_empty() || rule_id.len() > crate::MAX_ID_LEN {
                return Err(no_rule(id, rule_id));
            }
            let rule = self
                .store
                .get_trust_rule(id, rule_id)
                .await?
                .ok_or_else(|| no_rule(id, rule_id))?;
            match self
                .store
                .delete_trust_rules(id, std::slice::from_ref(&rule), client.version)
                .await
            {
                Ok(()) => {
                    return Ok(RuleChange {
                        rule,
                        client_version: client.version.saturating_add(1),
                    })
                }
                Err(StoreError::Conflict(_)) if expected.is_some() => {
                    return Err(mismatch(
                        Target::Client(id.clone()),
                        expected,
                        client.version,
                    ))
                }
                Err(StoreError::Conflict(_)) => retry.again(|| format!("client {id}")).await?,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_prefixed_base64url() {
        let a = new_rule_id();
        assert!(a.starts_with(RULE_ID_PREFIX));
        assert_eq!(a.len(), RULE_ID_PREFIX.len() + RULE_ID_RANDOM);
        assert!(a[3..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(a, new_rule_id());
    }
}
