//! The key policy of the KMS signing keys m2m-auth creates (by `m2m-admin` and the
//! management API): the same policy as the template's `SigningKey`, so a key made for
//! rotation is exactly as guarded as the first one.
//!
//! The account administers the key (the default key policy, so IAM policies can
//! delegate), but `kms:Sign` is denied to every principal outside the token role's IAM
//! path `/m2m-auth/<stack>/token/`. The restriction names that path, not the role:
//! an `aws:PrincipalArn` condition is a string match, so the key policy can be written
//! before the role exists and never depends on a principal KMS must resolve.

use serde_json::{json, Value};

/// The IAM path of the stack's token role (`Path` of `TokenRole` in the template).
/// At most 10 + 128 + 7 characters, well under IAM's 512.
pub fn token_role_path(stack: &str) -> String {
    format!("/m2m-auth/{stack}/token/")
}

/// The key policy: the account administers the key; nobody outside the token role's
/// path may `kms:Sign`. `partition` and `account` are the caller's (the key's
/// account). The statement ids match the template's.
pub fn signing_key_policy(partition: &str, account: &str, stack: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministers",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:{partition}:iam::{account}:root")},
                "Action": "kms:*",
                "Resource": "*"
            },
            {
                "Sid": "OnlyTheTokenRoleSigns",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "kms:Sign",
                "Resource": "*",
                "Condition": {
                    "ArnNotLike": {
                        "aws:PrincipalArn": format!(
                            "arn:{partition}:iam::{account}:role{}*",
                            token_role_path(stack)
                        )
                    }
                }
            }
        ]
    })
}

/// The partition and account of an ARN (`arn:<partition>:<service>:<region>:<account>:…`).
pub fn partition_and_account(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.split(':');
    let (Some("arn"), Some(partition), Some(_), Some(_), Some(account)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    (!partition.is_empty() && account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))
        .then_some((partition, account))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_denies_sign_outside_token_path() {
        let p = signing_key_policy("aws", "123456789012", "prod");
        let deny = &p["Statement"][1];
        assert_eq!(deny["Effect"], "Deny");
        assert_eq!(deny["Action"], "kms:Sign");
        assert_eq!(
            deny["Condition"]["ArnNotLike"]["aws:PrincipalArn"],
            "arn:aws:iam::123456789012:role/m2m-auth/prod/token/*"
        );
        assert_eq!(
            p["Statement"][0]["Principal"]["AWS"],
            "arn:aws:iam::123456789012:root"
        );
    }

    #[test]
    fn arns_split() {
        assert_eq!(
            partition_and_account("arn:aws-cn:sts::123456789012:assumed-role/x/y"),
            Some(("aws-cn", "123456789012"))
        );
        assert_eq!(partition_and_account("arn:aws:iam::12:root"), None);
        assert_eq!(partition_and_account("nonsense"), None);
    }
}
