//! The stack name and the key policy of the KMS signing keys `m2m-admin` creates: the
//! same policy as the template's `SigningKey`, so a key made for rotation is exactly
//! as guarded as the first one.
//!
//! The account administers the key (the default key policy, so IAM policies can
//! delegate), but `kms:Sign` is denied to every principal outside the token role's IAM
//! path `/m2m-auth/<stack>/token/`. The restriction names that path, not the role:
//! an `aws:PrincipalArn` condition is a string match, so the key policy can be written
//! before the role exists and never depends on a principal KMS must resolve.

pub use m2m_aws::kms::policy::{partition_and_account, signing_key_policy};

use crate::error::AdminError;

/// The stack name of a local stack without CloudFormation (`infra/local/run`).
pub const LOCAL_STACK: &str = "local";

/// A CloudFormation stack name: a letter, then letters, digits and hyphens, at most
/// 128 characters. Checked because it becomes part of a tag, an alias and an IAM path.
///
/// # Errors
/// [`AdminError::Invalid`] otherwise.
pub fn validate_stack(name: &str) -> Result<(), AdminError> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if first_ok && name.len() <= 128 && chars.all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Ok(())
    } else {
        Err(AdminError::Invalid(format!(
            "`{name}` is not a CloudFormation stack name (a letter, then letters, digits and \
             hyphens, at most 128 characters)"
        )))
    }
}

/// The stack to act for: `given` (`--stack` or `M2M_STACK`), or [`LOCAL_STACK`] against
/// a local emulator. Against AWS the stack must be named: a key tagged for the wrong
/// stack is one the token function may not sign with.
///
/// # Errors
/// [`AdminError::Invalid`] when it is missing against AWS, or not a stack name.
pub fn resolve_stack(given: Option<&str>, local: bool) -> Result<String, AdminError> {
    let name = match given.map(str::trim).filter(|s| !s.is_empty()) {
        Some(name) => name.to_owned(),
        None if local => LOCAL_STACK.to_owned(),
        None => {
            return Err(AdminError::Invalid(
                "no stack name: pass --stack NAME (or set M2M_STACK) with the name of the \
                 CloudFormation stack `sam deploy` created; its token function signs only \
                 with keys tagged for it"
                    .into(),
            ))
        }
    };
    validate_stack(&name)?;
    Ok(name)
}

/// The alias the template gives the stack's first signing key.
pub fn stack_alias(stack: &str) -> String {
    format!("alias/m2m-auth/{stack}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_names_validated() {
        assert!(validate_stack("m2m-auth").is_ok());
        assert!(validate_stack(&format!("a{}", "b".repeat(127))).is_ok());
        for bad in ["", "1stack", "a_b", "a/b", "a b", &"a".repeat(129)] {
            assert!(validate_stack(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stack_required_against_aws_only() {
        assert_eq!(resolve_stack(None, true).ok().as_deref(), Some("local"));
        assert!(matches!(
            resolve_stack(None, false),
            Err(AdminError::Invalid(_))
        ));
        assert!(matches!(
            resolve_stack(Some("  "), false),
            Err(AdminError::Invalid(_))
        ));
        assert_eq!(
            resolve_stack(Some("prod"), false).ok().as_deref(),
            Some("prod")
        );
    }
}
