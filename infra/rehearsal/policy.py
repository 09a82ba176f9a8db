"""A small evaluator of IAM and KMS key policies, for the deploy rehearsal: the local
emulator does not enforce IAM, so the rehearsal decides itself whether the token role
could call kms:Sign on the active key in AWS.

It follows the AWS policy evaluation logic for one account (IAM User Guide, "Policy
evaluation logic" and "Determining whether a request is allowed or denied within an
account"; KMS Developer Guide, "Key policies"): an explicit Deny in the key policy or
the identity policies wins; otherwise the key policy must allow the principal itself,
or allow the account (its root), which delegates to the identity policies, and one of
those must allow. Supported: Effect, Action/NotAction with wildcards, Resource,
Principal ("*", AWS ARNs or account ids), and the condition operators the templates
use: StringEquals, StringNotEquals, StringLike, StringNotLike, ArnEquals, ArnLike,
ArnNotEquals, ArnNotLike (each with multiple keys ANDed, multiple values ORed, a
missing key false for positive operators and true for negated ones). Anything else
raises, so the rehearsal never silently misjudges a statement it does not understand.
"""

import re


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _glob(pattern, value, case_sensitive):
    """IAM wildcards: `*` any run of characters, `?` one character."""
    regex = "".join(
        ".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern
    )
    flags = 0 if case_sensitive else re.IGNORECASE
    return re.fullmatch(regex, value, flags) is not None


def _arn_like(pattern, value):
    """ArnLike: the six colon-separated parts match one by one."""
    p_parts, v_parts = pattern.split(":", 5), value.split(":", 5)
    if len(p_parts) != 6 or len(v_parts) != 6:
        return False
    return all(_glob(p, v, True) for p, v in zip(p_parts, v_parts))


_OPERATORS = {
    "StringEquals": (lambda p, v: p == v, False),
    "StringNotEquals": (lambda p, v: p == v, True),
    "StringLike": (lambda p, v: _glob(p, v, True), False),
    "StringNotLike": (lambda p, v: _glob(p, v, True), True),
    "ArnEquals": (lambda p, v: p == v, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (lambda p, v: p == v, True),
    "ArnNotLike": (_arn_like, True),
}


def conditions_hold(conditions, context):
    for operator, keys in (conditions or {}).items():
        if operator not in _OPERATORS:
            raise ValueError(f"condition operator {operator} is not supported here")
        match, negated = _OPERATORS[operator]
        for key, patterns in keys.items():
            # Condition keys are case-insensitive; the context is keyed in lower case.
            value = context.get(key.lower())
            if value is None:
                if not negated:
                    return False
                continue
            hit = any(match(str(p), str(value)) for p in _as_list(patterns))
            if hit == negated:
                return False
    return True


def _action_matches(statement, action):
    if "Action" in statement:
        return any(_glob(a, action, False) for a in _as_list(statement["Action"]))
    if "NotAction" in statement:
        return not any(_glob(a, action, False) for a in _as_list(statement["NotAction"]))
    raise ValueError(f"statement without Action: {statement}")


def _resource_matches(statement, resource):
    if "Resource" not in statement:
        raise ValueError(f"statement without Resource: {statement}")
    return any(
        r == "*" or _arn_like(r, resource) for r in _as_list(statement["Resource"])
    )


def _principals(statement):
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    if isinstance(principal, dict):
        if set(principal) - {"AWS"}:
            raise ValueError(f"principal type not supported here: {principal}")
        return _as_list(principal["AWS"])
    raise ValueError(f"key policy statement without Principal: {statement}")


def _account_root(account):
    return re.compile(rf"^(arn:[^:]+:iam::{account}:root|{account})$")


def statements(policy):
    return _as_list(policy.get("Statement", []))


def matching(policy, action, resource, context, effect):
    return [
        s for s in statements(policy)
        if s.get("Effect") == effect
        and _action_matches(s, action)
        and _resource_matches(s, resource)
        and conditions_hold(s.get("Condition"), context)
    ]


def decide(principal_arn, account, identity_policies, key_policy, action, key_arn, context):
    """Whether `principal_arn` (a role in `account`, whose identity policies are given)
    may call `action` on the KMS key `key_arn` under `key_policy`. `context` maps
    condition keys (any case) to values; aws:PrincipalArn is added. Returns
    (allowed, reason)."""
    ctx = {k.lower(): v for k, v in context.items()}
    ctx["aws:principalarn"] = principal_arn
    root = _account_root(account)

    def names_principal(statement):
        return any(p == "*" or p == principal_arn for p in _principals(statement))

    def names_account(statement):
        return any(root.match(p) for p in _principals(statement))

    for s in matching(key_policy, action, key_arn, ctx, "Deny"):
        if names_principal(s) or names_account(s):
            return False, f"key policy statement {s.get('Sid', '?')} denies it"
    for policy in identity_policies:
        for s in matching(policy, action, key_arn, ctx, "Deny"):
            return False, f"an identity policy denies it ({s})"
    key_allows = matching(key_policy, action, key_arn, ctx, "Allow")
    if any(names_principal(s) for s in key_allows):
        return True, "the key policy allows the principal"
    if not any(names_account(s) for s in key_allows):
        return False, "the key policy neither allows the principal nor delegates to IAM"
    for policy in identity_policies:
        if matching(policy, action, key_arn, ctx, "Allow"):
            return True, "the key policy delegates to IAM and an identity policy allows it"
    return False, "no identity policy allows it (resource, tag or condition mismatch)"


def self_test():
    """The evaluator's own checks, run before it judges the stack."""
    acct, role = "123456789012", "arn:aws:iam::123456789012:role/m2m-auth/s/token/r"
    key = "arn:aws:kms:eu-west-1:123456789012:key/k"
    key_policy = {"Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{acct}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Principal": "*", "Action": "kms:Sign", "Resource": "*",
         "Condition": {"ArnNotLike": {"aws:PrincipalArn": f"arn:aws:iam::{acct}:role/m2m-auth/s/token/*"}}},
    ]}
    signing = {"Statement": [{
        "Effect": "Allow", "Action": "kms:Sign",
        "Resource": f"arn:aws:kms:eu-west-1:{acct}:key/*",
        "Condition": {"StringEquals": {"aws:ResourceTag/m2m-auth:stack": "s",
                                       "kms:MessageType": "RAW"}}}]}
    ok = {"aws:ResourceTag/m2m-auth:stack": "s", "kms:MessageType": "RAW"}
    cases = [
        (role, [signing], ok, True),
        (role, [signing], {**ok, "aws:ResourceTag/m2m-auth:stack": "other"}, False),
        (role, [signing], {"kms:MessageType": "RAW"}, False),
        (role, [signing], {**ok, "kms:MessageType": "DIGEST"}, False),
        (role, [], ok, False),
        ("arn:aws:iam::123456789012:role/Admin",
         [{"Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}], ok, False),
    ]
    for principal, identity, context, expected in cases:
        got, why = decide(principal, acct, identity, key_policy, "kms:Sign", key, context)
        assert got == expected, (principal, context, got, why)
    admin = [{"Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}]
    got, _ = decide("arn:aws:iam::123456789012:role/Admin", acct, admin, key_policy,
                    "kms:Verify", key, ok)
    assert got, "Verify stays open to administrators"
    assert _arn_like("arn:aws:iam::1:role/a/*", "arn:aws:iam::1:role/a/b/c")
    assert not _arn_like("arn:aws:iam::1:role/a/*", "arn:aws:iam::1:role/ab")
