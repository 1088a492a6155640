"""The pure IAM privilege evaluator: statements in, privileged grants out."""

from __future__ import annotations

import json
from urllib.parse import quote

import botocore.session
import pytest

from collectors.aws import iam_privilege_eval as ev
from collectors.aws.iam_privilege_eval import (
    ADMIN,
    ASSUME_ROLE,
    AWS_MANAGED,
    ESCALATION,
    IAM_ALL,
    NOT_ACTION,
    PASS_ROLE,
    action_matches,
    document_grants,
    principal_privilege,
    statement_grants,
)


def allow(action=None, resource="*", **extra):
    stmt = {"Effect": "Allow", "Resource": resource, **extra}
    if action is not None:
        stmt["Action"] = action
    return stmt


def kinds(stmt) -> list[str]:
    return [g.kind for g in statement_grants(stmt)]


def test_frozen_escalation_actions_are_the_issue_patterns_over_botocores_iam_model():
    """A new IAM operation matching iam:Attach*Policy / iam:Put*Policy must fail here, not go unseen."""
    operations = botocore.session.get_session().get_service_model("iam").operation_names
    expanded = {f"iam:{op}" for op in operations for p in ev.ESCALATION_PATTERNS if action_matches(p, f"iam:{op}")}
    assert expanded == set(ev.POLICY_WRITE_ACTIONS)
    assert "AssumeRole" in botocore.session.get_session().get_service_model("sts").operation_names
    assert "PassRole" not in operations  # permission-only: listed by hand


@pytest.mark.parametrize(
    ("pattern", "action", "matches"),
    [
        ("iam:Attach*", "iam:AttachRolePolicy", True),
        ("IAM:attachrolepolicy", "iam:AttachRolePolicy", True),
        ("iam:*Policy", "iam:PutUserPolicy", True),
        ("iam:Put?serPolicy", "iam:PutUserPolicy", True),
        ("iam:Get*", "iam:AttachRolePolicy", False),
        ("iam:[A]ttachRolePolicy", "iam:AttachRolePolicy", False),  # no character classes in IAM
        ("s*:Assume*", "sts:AssumeRole", True),
    ],
)
def test_action_wildcards(pattern, action, matches):
    assert action_matches(pattern, action) is matches


def test_star_on_star_is_admin_and_star_elsewhere_is_only_escalation():
    assert kinds(allow("*")) == [ADMIN]
    assert kinds(allow(["s3:GetObject", "*:*"])) == [ADMIN]
    scoped = statement_grants(allow("*", "arn:aws:iam::123456789012:role/app-*"))
    assert [g.kind for g in scoped] == [ESCALATION]
    assert scoped[0].actions == ev.POLICY_WRITE_ACTIONS


def test_iam_star_and_its_wildcard_spellings():
    assert kinds(allow("iam:*")) == [IAM_ALL]
    assert kinds(allow("i?m:*")) == [IAM_ALL]
    assert kinds(allow(["iam:*", "sts:AssumeRole"])) == [IAM_ALL, ASSUME_ROLE]


def test_not_action_allow_on_star_lists_what_it_leaves():
    (grant,) = statement_grants({"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"})
    assert grant.kind == NOT_ACTION
    assert grant.actions == ("sts:AssumeRole",)  # PowerUserAccess still lets you assume any role
    assert grant.describe() == "Allow NotAction [iam:*, organizations:*] on *, leaving sts:AssumeRole"
    assert kinds({"Effect": "Allow", "NotAction": "s3:*", "Resource": "arn:aws:s3:::x"}) == []


def test_escalation_actions_on_any_resource_and_role_actions_only_on_every_role():
    grants = statement_grants(allow(["iam:Attach*", "iam:PassRole"], "arn:aws:iam::123456789012:role/ci-*"))
    assert [(g.kind, g.actions) for g in grants] == [
        (ESCALATION, ("iam:AttachGroupPolicy", "iam:AttachRolePolicy", "iam:AttachUserPolicy"))
    ]
    assert kinds(allow("iam:PassRole")) == [PASS_ROLE]
    assert kinds(allow("iam:PassRole", "arn:aws:iam::*:role/*")) == [PASS_ROLE]
    assert kinds(allow("iam:PassRole", "arn:aws:iam::123456789012:role/lambda-exec")) == []
    assert kinds(allow("sts:AssumeRole")) == [ASSUME_ROLE]
    assert kinds(allow("sts:AssumeRole", "arn:aws:iam::999999999999:role/audit")) == []
    assert kinds(allow("iam:CreatePolicyVersion", "arn:aws:iam::123456789012:policy/x")) == [ESCALATION]


def test_harmless_deny_and_malformed_statements_grant_nothing():
    assert kinds(allow(["s3:GetObject", "logs:Get*"])) == []
    assert kinds({"Effect": "Deny", "Action": "*", "Resource": "*"}) == []
    assert kinds("not a statement") == []
    assert document_grants("{not json") == []
    assert document_grants(None) == []


def test_conditions_and_not_resource_are_kept_conservatively():
    (grant,) = statement_grants(allow("*", Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}, Sid="MfaAdmin"))
    assert grant.conditional is True and grant.sid == "MfaAdmin"
    assert grant.describe() == "* on * (with conditions)"
    (broad,) = statement_grants({"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::secret"})
    assert broad.kind == ADMIN and broad.resources == ("NotResource arn:aws:s3:::secret",)


def test_documents_as_dict_json_text_and_url_encoded_text():
    doc = {"Version": "2012-10-17", "Statement": [allow("*")]}
    for form in (doc, json.dumps(doc), quote(json.dumps(doc))):
        assert [g.kind for g in document_grants(form)] == [ADMIN]
    single = {"Version": "2012-10-17", "Statement": allow("iam:PutRolePolicy")}  # a lone statement, not a list
    assert [g.kind for g in document_grants(single)] == [ESCALATION]


POLICIES = {
    "arn:aws:iam::123456789012:policy/ci": {
        "Arn": "arn:aws:iam::123456789012:policy/ci",
        "DefaultVersionId": "v2",
        "PolicyVersionList": [
            {"VersionId": "v1", "IsDefaultVersion": False, "Document": {"Statement": [allow("*")]}},
            {"VersionId": "v2", "IsDefaultVersion": True, "Document": {"Statement": [allow("iam:PassRole")]}},
        ],
    }
}


def test_principal_privilege_reads_attached_inline_and_group_policies():
    user = {
        "UserName": "u",
        "AttachedManagedPolicies": [
            {"PolicyName": "ci", "PolicyArn": "arn:aws:iam::123456789012:policy/ci"},
            {"PolicyName": "ReadOnlyAccess", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
            {"PolicyName": "gone", "PolicyArn": "arn:aws:iam::123456789012:policy/gone"},
        ],
        "UserPolicyList": [{"PolicyName": "inline-admin", "PolicyDocument": {"Statement": [allow("*")]}}],
        "GroupList": ["admins", "ghost"],
    }
    groups = {
        "admins": {
            "AttachedManagedPolicies": [
                {"PolicyName": "AdministratorAccess", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}
            ]
        }
    }
    priv = principal_privilege(user, "user", POLICIES, ["AdministratorAccess"], groups)
    assert priv.privileged
    assert [p.describe() for p in priv.grants] == [
        "attached ci: iam:PassRole on *",  # the default version (v2), not v1
        "inline inline-admin: * on *",
        "group admins AdministratorAccess: AWS managed, privileged by name",
    ]
    assert priv.grants[2].grants[0].kind == AWS_MANAGED
    assert priv.undetermined == ["attached gone", "group ghost"]
    assert priv.judged_by_name == ["ReadOnlyAccess"]


def test_an_aws_managed_policy_whose_document_was_collected_is_judged_by_its_document():
    arn = "arn:aws:iam::aws:policy/PowerUserAccess"
    doc = {"Statement": [{"Effect": "Allow", "NotAction": ["iam:*", "organizations:*", "account:*"], "Resource": "*"}]}
    policies = {
        arn: {"Arn": arn, "DefaultVersionId": "v5", "PolicyVersionList": [{"VersionId": "v5", "Document": doc}]}
    }
    role = {"AttachedManagedPolicies": [{"PolicyName": "PowerUserAccess", "PolicyArn": arn}]}
    priv = principal_privilege(role, "role", policies, [])
    assert [g.kind for p in priv.grants for g in p.grants] == [NOT_ACTION]


def test_iam_write_actions_on_non_iam_resources_grant_nothing():
    assert kinds({"Effect": "Allow", "NotAction": "s3:*", "Resource": "arn:aws:s3:::x"}) == []
    assert kinds(allow("*", "arn:aws:dynamodb:us-east-1:123456789012:table/chat")) == []
    assert kinds(allow("iam:PutUserPolicy", "arn:aws:iam::123456789012:user/${aws:username}")) == [ESCALATION]
