"""The aws.sso checks on recorded evidence (tests/fixtures/aws/sso).

Fixture estate: one instance (us-east-1, identity store d-9067a1b2c3) administered from
111111111111, accounts in scope 111111111111, 222222222222, 333333333333:

  AdministratorAccess  AWS managed AdministratorAccess      group Admins (alice) in 111 and 222
  DeveloperAccess      ReadOnlyAccess + inline * on *       group Developers (bob, dave) in 222
  ReadOnly             ReadOnlyAccess + inline s3:GetObject user carol directly in 333; a deleted group in 222
  DataEngineer         customer managed /dexo/data-engineering  group Developers in 333
  BreakGlass           AWS managed IAMFullAccess            nobody

dave is DISABLED; the others are ENABLED.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from collectors.aws.sso.collector import PERMISSION_SET_DETAILS
from collectors.aws.sso.model import identity_center
from collectors.evidence import ApiError
from controls import Status
from tests.helpers import Fail, bundle_from_calls, by_resource, fixture, run_check, scope

SCOPE = scope("aws.sso", region="global", account="111111111111")
ACCOUNTS = ["111111111111", "222222222222", "333333333333"]
INSTANCE = fixture("aws/sso/list_instances.json")["Instances"][0]
ARN, STORE = INSTANCE["InstanceArn"], INSTANCE["IdentityStoreId"]
PS_LIST = fixture("aws/sso/list_permission_sets.json")
DETAILS = fixture("aws/sso/permission_set_details.json")
ASSIGNMENTS = fixture("aws/sso/list_account_assignments.json")
USERS = fixture("aws/sso/list_users.json")
GROUPS = fixture("aws/sso/list_groups.json")
MEMBERS = fixture("aws/sso/list_group_memberships.json")
PS = {d["describe"]["PermissionSet"]["Name"]: arn for arn, d in DETAILS.items()}
KEYS = {
    "DescribePermissionSet": "describe",
    "ListManagedPoliciesInPermissionSet": "managed",
    "GetInlinePolicyForPermissionSet": "inline",
    "ListCustomerManagedPolicyReferencesInPermissionSet": "customer",
}
PAGE = {"MaxResults": 100}


def calls(
    *,
    configured: bool = True,
    instances: Any = None,
    overrides: dict[tuple[str, str], Any] | None = None,
    users: Any = USERS,
) -> Iterator[tuple[str, str, dict[str, Any], Any]]:
    """The recorded calls of one aws.sso fetch; `overrides` replaces one answer, keyed by
    (operation, a parameter value that identifies the call, e.g. a permission set ARN)."""
    over = overrides or {}
    scope_doc = {"regions": ["us-east-1"], "accounts": ACCOUNTS, "configured": configured}
    yield "soc2-evidence", "IdentityCenterScope", {}, scope_doc
    listed = instances if instances is not None else {"Instances": [INSTANCE]}
    yield "sso-admin", "ListInstances", {"Region": "us-east-1", **PAGE}, over.get(("ListInstances", ""), listed)
    if instances is not None:
        return
    yield "sso-admin", "ListPermissionSets", {"InstanceArn": ARN, **PAGE}, over.get(("ListPermissionSets", ""), PS_LIST)
    for ps, detail in DETAILS.items():
        for op in PERMISSION_SET_DETAILS:
            params = {
                "InstanceArn": ARN,
                "PermissionSetArn": ps,
                **({} if op.startswith(("Describe", "Get")) else PAGE),
            }
            yield "sso-admin", op, params, over.get((op, ps), detail[KEYS[op]])
    for account in ACCOUNTS:
        for ps in DETAILS:
            params = {"InstanceArn": ARN, "AccountId": account, "PermissionSetArn": ps, **PAGE}
            answer = over.get(("ListAccountAssignments", f"{account} {ps}"), ASSIGNMENTS[f"{account} {ps}"])
            yield "sso-admin", "ListAccountAssignments", params, answer
    yield "identitystore", "ListUsers", {"IdentityStoreId": STORE, **PAGE}, over.get(("ListUsers", ""), users)
    yield "identitystore", "ListGroups", {"IdentityStoreId": STORE, **PAGE}, over.get(("ListGroups", ""), GROUPS)
    for group, answer in MEMBERS.items():
        params = {"IdentityStoreId": STORE, "GroupId": group, **PAGE}
        yield "identitystore", "ListGroupMemberships", params, over.get(("ListGroupMemberships", group), answer)


def bundle(**kw: Any):
    return bundle_from_calls(SCOPE, calls(**kw))


def results(check: str, thresholds: dict[str, Any] | None = None, **kw: Any):
    return run_check(check, bundle(**kw), thresholds)


# ------------------------------------------------------------------------------- model


def test_model_reads_every_permission_set_assignment_and_member():
    ic = identity_center(bundle())
    (inst,) = ic.instances
    assert inst.region == "us-east-1" and inst.identity_store == STORE
    assert {ps.label for ps in inst.permission_sets.values()} == set(PS)
    assert len(inst.assignments) == 6 and not inst.assignments_failed
    paths = {(p.account, inst.ps_name(p.permission_set), inst.user_name(p.user_id) if p.user_id else "", p.orphan)
             for p in inst.paths()}  # fmt: skip
    assert ("222222222222", "DeveloperAccess", "dave@dexo.chat", False) in paths
    assert ("333333333333", "ReadOnly", "carol@dexo.chat", False) in paths
    assert ("222222222222", "ReadOnly", "", True) in paths  # the deleted group


# ------------------------------------------------------------------------------- privileged_permission_sets


def test_privileged_sets_fail_with_their_holders_and_others_are_listed():
    got = by_resource(results("aws.sso.privileged_permission_sets"))
    admin, dev = got[PS["AdministratorAccess"]], got[PS["DeveloperAccess"]]
    assert admin.status == Status.FAIL and dev.status == Status.FAIL
    assert "group Admins in 111111111111 (alice@dexo.chat)" in admin.reason
    assert "inline policy: * on *" in dev.reason and "bob@dexo.chat, dave@dexo.chat" in dev.reason
    assert dev.region == "us-east-1" and dev.resource_type == "AWS::SSO::PermissionSet"
    assert got[PS["ReadOnly"]].status == Status.NOT_APPLICABLE
    assert got[PS["BreakGlass"]].status == Status.PASS and "assigned to nobody" in got[PS["BreakGlass"]].reason
    data = got[PS["DataEngineer"]]  # its only policy lives in each account: never "not privileged"
    assert data.status == Status.ERROR and "/dexo/data-engineering" in data.reason


def test_approved_privileged_set_passes_and_thresholds_name_the_admin_policies():
    got = by_resource(results("aws.sso.privileged_permission_sets", {"approved_permission_sets": ["Administrator*"]}))
    assert got[PS["AdministratorAccess"]].status == Status.PASS
    assert got[PS["DeveloperAccess"]].status == Status.FAIL
    narrow = by_resource(results("aws.sso.privileged_permission_sets", {"privileged_aws_managed_policies": []}))
    assert narrow[PS["AdministratorAccess"]].status == Status.NOT_APPLICABLE  # judged by name only
    assert narrow[PS["DeveloperAccess"]].status == Status.FAIL  # the inline * on * is read


def test_privileged_set_with_unreadable_assignments_is_not_a_pass():
    denied = Fail("AccessDeniedException")
    overrides = {("ListAccountAssignments", f"{a} {PS['BreakGlass']}"): denied for a in ACCOUNTS}
    got = by_resource(results("aws.sso.privileged_permission_sets", overrides=overrides))
    assert got[PS["BreakGlass"]].status == Status.ERROR
    assert got[PS["BreakGlass"]].observed["missing_permission"] == "sso:ListAccountAssignments"


def test_a_failed_detail_call_makes_that_set_error_only():
    overrides = {("GetInlinePolicyForPermissionSet", PS["ReadOnly"]): Fail("ThrottlingException")}
    got = by_resource(results("aws.sso.privileged_permission_sets", overrides=overrides))
    assert got[PS["ReadOnly"]].status == Status.ERROR
    assert got[PS["ReadOnly"]].observed["operation"] == "sso-admin:GetInlinePolicyForPermissionSet"
    assert got[PS["AdministratorAccess"]].status == Status.FAIL


# ------------------------------------------------------------------------------- assignments_to_users


def test_direct_user_assignment_fails_unless_allowed():
    got = by_resource(results("aws.sso.assignments_to_users"))
    assert list(got) == ["333333333333/ReadOnly/user:carol@dexo.chat"]
    assert got["333333333333/ReadOnly/user:carol@dexo.chat"].status == Status.FAIL
    allowed = results("aws.sso.assignments_to_users", {"allowed_users": ["carol@*"]})
    assert [r.status for r in allowed] == [Status.PASS]


def test_only_group_assignments_pass_once_for_the_instance():
    none = {("ListAccountAssignments", f"333333333333 {PS['ReadOnly']}"): {"AccountAssignments": []}}
    (result,) = results("aws.sso.assignments_to_users", overrides=none)
    assert result.status == Status.PASS and result.resource_id == ARN and "5 account assignments" in result.reason


def test_unreadable_account_permission_set_pair_is_error_for_that_pair_only():
    overrides = {("ListAccountAssignments", f"222222222222 {PS['DeveloperAccess']}"): Fail("AccessDeniedException")}
    got = by_resource(results("aws.sso.assignments_to_users", overrides=overrides))
    assert got["222222222222/DeveloperAccess"].status == Status.ERROR
    assert got["333333333333/ReadOnly/user:carol@dexo.chat"].status == Status.FAIL


def test_a_direct_assignment_whose_user_could_not_be_named_is_error_when_some_users_are_allowed():
    """ListUsers throttled: carol's name is unknown, so allowed_users ["carol@*"] cannot be applied: error, never
    a fail that would pass with the name (found by tests/integration/test_fault_injection.py at 80 %)."""
    throttled = {("ListUsers", ""): Fail("ThrottlingException")}
    (unknown,) = results("aws.sso.assignments_to_users", {"allowed_users": ["carol@*"]}, overrides=throttled)
    assert unknown.status == Status.ERROR and unknown.observed["operation"] == "identitystore:ListUsers"
    assert unknown.observed["error_code"] == "ThrottlingException" and unknown.observed["missing_permission"] is None
    (direct,) = results("aws.sso.assignments_to_users", overrides=throttled)  # nobody allowed: a fail whatever the name
    assert direct.status == Status.FAIL


# ------------------------------------------------------------------------------- inactive_principals


def test_disabled_user_and_deleted_group_holding_access_fail():
    got = by_resource(results("aws.sso.inactive_principals"))
    dave = got["user:dave@dexo.chat"]
    assert dave.status == Status.FAIL
    assert dave.observed["access"] == [
        "222222222222/DeveloperAccess via group Developers",
        "333333333333/DataEngineer via group Developers",
    ]
    orphan = [r for r in got.values() if r.resource_type == "AWS::SSO::AccountAssignment"]
    assert [r.status for r in orphan] == [Status.FAIL] and "deleted group" in orphan[0].reason
    assert set(got) == {"user:dave@dexo.chat", orphan[0].resource_id}


def test_enabled_principals_pass_but_unreported_status_is_error():
    users = {"Users": [{**u, "UserStatus": "ENABLED"} for u in USERS["Users"]]}
    clean = {("ListAccountAssignments", f"222222222222 {PS['ReadOnly']}"): {"AccountAssignments": []}}
    (ok,) = results("aws.sso.inactive_principals", users=users, overrides=clean)
    assert ok.status == Status.PASS and ok.resource_id == ARN
    unreported = {"Users": [{k: v for k, v in u.items() if k != "UserStatus"} for u in USERS["Users"]]}
    (err,) = results("aws.sso.inactive_principals", users=unreported, overrides=clean)
    assert err.status == Status.ERROR and err.observed["error_code"] == "NotReported"


def test_unreadable_members_of_an_assigned_group_are_error():
    overrides = {("ListGroupMemberships", next(iter(MEMBERS))): Fail("AccessDeniedException")}  # Admins
    got = by_resource(results("aws.sso.inactive_principals", overrides=overrides))
    assert got["group:Admins"].status == Status.ERROR
    assert got["group:Admins"].observed["missing_permission"] == "identitystore:ListGroupMemberships"


# ------------------------------------------------------------------------------- scope-level outcomes

CHECKS = ["aws.sso.privileged_permission_sets", "aws.sso.assignments_to_users", "aws.sso.inactive_principals"]


@pytest.mark.parametrize("check_id", CHECKS)
def test_access_denied_on_list_instances_is_error_naming_the_permission(check_id):
    (result,) = results(check_id, overrides={("ListInstances", ""): Fail("AccessDeniedException")})
    assert result.status == Status.ERROR and result.resource_id == "*"
    assert result.observed["operation"] == "sso-admin:ListInstances"
    assert result.observed["missing_permission"] == "sso:ListInstances"


@pytest.mark.parametrize("check_id", CHECKS)
def test_configured_account_without_an_instance_is_error_not_a_pass(check_id):
    (result,) = results(check_id, instances={"Instances": []})
    assert result.status == Status.ERROR and result.observed["error_code"] == "NoIdentityCenterInstance"
    assert "wrong account or region" in result.observed["message"]


@pytest.mark.parametrize("check_id", CHECKS)
def test_discovery_without_an_instance_is_not_applicable(check_id):
    (result,) = results(check_id, configured=False, instances={"Instances": []})
    assert result.status == Status.NOT_APPLICABLE and result.resource_id == "111111111111"


@pytest.mark.parametrize("check_id", CHECKS)
def test_denied_permission_set_listing_is_error_in_the_instance_region(check_id):
    (result,) = results(check_id, overrides={("ListPermissionSets", ""): Fail("AccessDeniedException")})
    assert result.status == Status.ERROR and result.region == "us-east-1"
    assert result.observed["missing_permission"] == "sso:ListPermissionSets"


def test_discovery_collects_an_instance_only_from_its_owner_when_the_owner_is_in_scope():
    elsewhere = {"Instances": [{**INSTANCE, "OwnerAccountId": "222222222222"}]}
    assert identity_center(bundle_from_calls(SCOPE, calls(configured=False, instances=elsewhere))).instances == []
    outside = {"Instances": [{**INSTANCE, "OwnerAccountId": "999999999999"}]}  # delegated admin sees it
    assert len(identity_center(bundle_from_calls(SCOPE, calls(configured=False, instances=outside))).instances) == 1
    assert len(identity_center(bundle_from_calls(SCOPE, calls(configured=True, instances=elsewhere))).instances) == 1


def test_missing_scope_record_is_error():
    recorded = [c for c in calls() if c[1] != "IdentityCenterScope"]
    (result,) = run_check("aws.sso.assignments_to_users", bundle_from_calls(SCOPE, recorded))
    assert result.status == Status.ERROR and result.observed["error_code"] == "NotCollected"


def test_recorded_error_keeps_the_permission():
    denied = ApiError("AccessDeniedException", "no", None, 400)
    (result,) = results("aws.sso.privileged_permission_sets", overrides={("ListInstances", ""): denied})
    assert result.observed["required_permission"] == "sso:ListInstances"


def test_escalation_in_an_inline_policy_is_privileged_as_for_iam_roles():
    escalate = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:Attach*", "Resource": "*"}]}
    overrides = {("GetInlinePolicyForPermissionSet", PS["ReadOnly"]): {"InlinePolicy": json.dumps(escalate)}}
    got = by_resource(results("aws.sso.privileged_permission_sets", overrides=overrides))
    ro = got[PS["ReadOnly"]]
    assert ro.status == Status.FAIL and "iam:AttachRolePolicy" in ro.reason
    assert "user carol@dexo.chat in 333333333333 (direct)" in ro.reason


def test_an_instance_without_permission_sets_is_not_applicable():
    (r,) = results("aws.sso.privileged_permission_sets", overrides={("ListPermissionSets", ""): {"PermissionSets": []}})
    assert r.status == Status.NOT_APPLICABLE and r.resource_id == ARN and r.resource_type == "AWS::SSO::Instance"
