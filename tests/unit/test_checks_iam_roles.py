"""aws.iam.privileged_roles on recorded GetAccountAuthorizationDetails pages (Filter Role, Group, User,
LocalManagedPolicy).

Page 1: OrganizationAccountAccessRole (inline * on *, URL-encoded as IAM returns it), dexo-ci-deployer
(customer managed policy whose default version v2 allows iam:PassRole on * and iam:Attach* on role/app-*;
the old v1 allowed * and must not count), dexo-readonly-audit (ReadOnlyAccess, judged by name),
AWSServiceRoleForRDS (service-linked), soc2-evidence-reader (the tool's role); group platform-admins
(AdministratorAccess; maya.admin). Page 2: dexo-poweruser (PowerUserAccess), dexo-mystery (a customer
managed policy on no page), dexo-boundary-admin (AdministratorAccess under a permissions boundary);
group developers (read-only policy; sara.eng, leo.ops).
"""

from __future__ import annotations

from typing import Any

from controls import Status
from tests.helpers import Fail, bundle_from_calls, by_resource, fixture, ref_ops, run_check, scope

CHECK = "aws.iam.privileged_roles"
SCOPE = scope("aws.iam_roles", region="global")
PAGE1 = fixture("aws/iam/authz_roles_page1.json")
PAGE2 = fixture("aws/iam/authz_roles_page2.json")
PARAMS = {"Filter": ["Role", "Group", "User", "LocalManagedPolicy"], "MaxItems": 1000}
ROLE = "arn:aws:iam::123456789012:role/"
GROUP = "arn:aws:iam::123456789012:group/"
MISSING = object()


def roles_bundle(*, page1: Any = PAGE1, page2: Any = PAGE2, params: dict[str, Any] = PARAMS):
    calls: list[tuple[str, str, dict[str, Any], Any]] = [("iam", "GetAccountAuthorizationDetails", params, page1)]
    if page2 is not MISSING:
        calls.append(("iam", "GetAccountAuthorizationDetails", {**params, "Marker": "authz-page-2"}, page2))
    return bundle_from_calls(SCOPE, calls)


def test_every_role_and_group_gets_one_result():
    results = by_resource(run_check(CHECK, roles_bundle()))
    assert len(results) == 10
    assert {r.resource_type for r in results.values()} == {"AWS::IAM::Role", "AWS::IAM::Group"}
    assert ref_ops(results[ROLE + "dexo-ci-deployer"]) == {"iam.GetAccountAuthorizationDetails"}


def test_privileged_roles_fail_with_how_they_are_privileged():
    results = by_resource(run_check(CHECK, roles_bundle()))
    org = results[ROLE + "OrganizationAccountAccessRole"]
    assert org.status == Status.FAIL
    assert org.reason == "privileged role not approved: inline AdministratorAccess: * on *"
    assert org.observed["trusted_principals"] == ["AWS:arn:aws:iam::111111111111:root"]
    assert org.observed["last_used"] == "2025-06-29T10:00:00Z"

    ci = results[ROLE + "dexo-ci-deployer"]
    assert ci.status == Status.FAIL
    assert ci.observed["privileged_through"] == [
        "attached dexo-ci-deploy: iam:PassRole on *; iam:AttachGroupPolicy, iam:AttachRolePolicy, "
        "iam:AttachUserPolicy on arn:aws:iam::123456789012:role/app-*"
    ]
    assert [g["kind"] for g in ci.observed["grants"][0]["grants"]] == ["pass_role", "escalation"]
    assert ci.observed["trusted_principals"][0].startswith("Federated:arn:aws:iam::123456789012:oidc-provider/")

    power = results[ROLE + "dexo-poweruser"]
    assert power.status == Status.FAIL and "PowerUserAccess: AWS managed, privileged by name" in power.reason

    boundary = results[ROLE + "dexo-boundary-admin"]
    assert boundary.status == Status.FAIL
    assert boundary.observed["permissions_boundary"] == "arn:aws:iam::123456789012:policy/dexo-boundary"
    assert "permissions boundary not evaluated" in boundary.observed["note"]


def test_unprivileged_roles_pass_and_name_what_was_judged_by_name_only():
    results = by_resource(run_check(CHECK, roles_bundle()))
    audit = results[ROLE + "dexo-readonly-audit"]
    assert audit.status == Status.PASS
    assert audit.reason == "no privileged grant (AWS managed policies judged by name: ReadOnlyAccess)"
    assert audit.observed["privileged"] is False and audit.observed["privileged_through"] == []


def test_service_linked_and_tool_roles_are_listed_not_failed():
    results = by_resource(run_check(CHECK, roles_bundle()))
    slr = results[ROLE + "aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS"]
    assert slr.status == Status.NOT_APPLICABLE
    assert slr.reason == "service-linked role of rds.amazonaws.com: AWS defines its permissions"
    tool = results[ROLE + "soc2-evidence-reader"]
    assert tool.status == Status.NOT_APPLICABLE and tool.reason == "the role soc2-evidence assumes"


def test_a_privileged_tool_role_says_so():
    thresholds = {"tool_roles": ["OrganizationAccountAccessRole"]}
    org = by_resource(run_check(CHECK, roles_bundle(), thresholds))[ROLE + "OrganizationAccountAccessRole"]
    assert org.status == Status.NOT_APPLICABLE
    assert org.reason.startswith("the role soc2-evidence assumes; privileged: inline AdministratorAccess: * on *")
    assert "read-only policy" in org.reason


def test_approved_principals_pass_with_their_grants_by_name_arn_or_wildcard():
    approved = {"approved_principals": ["OrganizationAccountAccessRole", GROUP + "platform-*", "dexo-power*"]}
    results = by_resource(run_check(CHECK, roles_bundle(), approved))
    org = results[ROLE + "OrganizationAccountAccessRole"]
    assert org.status == Status.PASS
    assert org.reason == "approved privileged role: inline AdministratorAccess: * on *"
    assert results[GROUP + "platform-admins"].status == Status.PASS
    assert results[ROLE + "dexo-poweruser"].status == Status.PASS
    assert results[ROLE + "dexo-ci-deployer"].status == Status.FAIL


def test_groups_list_their_members():
    results = by_resource(run_check(CHECK, roles_bundle()))
    admins = results[GROUP + "platform-admins"]
    assert admins.status == Status.FAIL and admins.observed["members"] == ["leo.ops", "maya.admin"]
    assert (
        admins.reason == "privileged group not approved: attached AdministratorAccess: AWS managed, privileged by name"
    )
    devs = results[GROUP + "developers"]
    assert devs.status == Status.PASS and devs.observed["members"] == ["leo.ops", "sara.eng"]


def test_a_policy_without_a_document_is_an_error_unless_something_else_already_makes_it_privileged():
    results = by_resource(run_check(CHECK, roles_bundle()))
    mystery = results[ROLE + "dexo-mystery"]
    assert mystery.status == Status.ERROR
    assert mystery.observed["error_code"] == "NotCollected"
    assert "attached not-on-any-page" in mystery.observed["message"]


def test_custom_list_of_privileged_aws_managed_policies():
    thresholds = {"privileged_aws_managed_policies": ["AdministratorAccess", "ReadOnlyAccess"]}
    results = by_resource(run_check(CHECK, roles_bundle(), thresholds))
    assert results[ROLE + "dexo-readonly-audit"].status == Status.FAIL
    assert results[ROLE + "dexo-poweruser"].status == Status.PASS


def test_a_failed_second_page_is_an_error_and_the_first_pages_principals_are_still_assessed():
    results = by_resource(run_check(CHECK, roles_bundle(page2=Fail("Throttling"))))
    assert results["*"].status == Status.ERROR
    assert results["*"].observed["required_permission"] == "iam:GetAccountAuthorizationDetails"
    assert results[ROLE + "dexo-ci-deployer"].status == Status.FAIL
    assert ROLE + "dexo-poweruser" not in results


def test_denied_or_never_recorded_is_one_error():
    results = run_check(CHECK, roles_bundle(page1=Fail("AccessDenied", status=403), page2=MISSING))
    assert [(r.resource_id, r.status) for r in results] == [("*", Status.ERROR)]
    assert results[0].observed["missing_permission"] == "iam:GetAccountAuthorizationDetails"
    assert run_check(CHECK, bundle_from_calls(SCOPE, []))[0].observed["error_code"] == "NotCollected"


def test_evidence_fetched_without_roles_is_an_error_for_roles_never_a_silent_pass():
    """aws.iam's own listing (Filter User, Group, LocalManagedPolicy) has no roles: if the check reads it."""
    params = {"Filter": ["User", "Group", "LocalManagedPolicy"], "MaxItems": 1000}
    page = {k: v for k, v in PAGE1.items() if k not in ("RoleDetailList", "IsTruncated", "Marker")}
    results = by_resource(run_check(CHECK, roles_bundle(page1=page, page2=MISSING, params=params)))
    gap = results["*"]
    assert gap.status == Status.ERROR and gap.resource_type == "AWS::IAM::Role"
    assert "Filter lacks Role" in gap.observed["message"]
    assert results[GROUP + "platform-admins"].status == Status.FAIL  # groups are still assessed
