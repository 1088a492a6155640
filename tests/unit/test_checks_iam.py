"""The aws.iam checks on recorded evidence, and the fetch's polling / paging on a fake client.

AS_OF is 2025-06-30 12:00 UTC; the main credential report was generated 3 hours earlier.
Fixture users (tests/fixtures/aws/iam/get_credential_report.json and the two
GetAccountAuthorizationDetails pages):

  alice       password + MFA, key 1 rotated 60 d ago          group admins: AdministratorAccess
  bob         password, no MFA, key 1 211 d old, key 2 off    inline "break-glass" (* on *)
  carol-ci    key 1 only, 200 d old, never used               direct ci-deploy (v1 was admin, v2 default is not)
  dave-new    password never used, created 20 d ago, no MFA   group iam-operators: iam-everything (IAM:* on *)
  erin-ghost  password never used, user created 200 d ago     inline Deny * + Allow s3:* (not admin)
  frank-old   key 1 used 180 d ago, key 2 never used (121 d)  direct AdministratorAccess, no password
  =1+2        no credentials (a legal IAM name that reads as a formula)
  gina-late   in GetAccountAuthorizationDetails only: created after the report was generated
"""

from __future__ import annotations

from typing import Any

import pytest

from collectors.aws.base import classify_error
from collectors.aws.iam import collector as iam_collector
from collectors.aws.iam.policy import admin_statement
from collectors.evidence import Recorder
from controls import Status
from tests.helpers import ACCOUNT, Fail, bundle_from_calls, by_resource, fixture, ref_ops, run_check, scope

SCOPE = scope("aws.iam", region="global")
REPORT = fixture("aws/iam/get_credential_report.json")
REPORT_ROOT_BAD = fixture("aws/iam/get_credential_report_root_no_mfa_active_key.json")
REPORT_ROOT_OLD_USE = fixture("aws/iam/get_credential_report_root_old_use.json")
REPORT_NO_ROOT = fixture("aws/iam/get_credential_report_no_root_row.json")
COMPLETE = fixture("aws/iam/generate_credential_report_complete.json")
STARTED = fixture("aws/iam/generate_credential_report_started.json")
INPROGRESS = fixture("aws/iam/generate_credential_report_inprogress.json")
SUMMARY = fixture("aws/iam/get_account_summary.json")
SUMMARY_MOTO = fixture("aws/iam/get_account_summary_moto.json")
SUMMARY_ROOT_KEY = fixture("aws/iam/get_account_summary_root_key.json")
STRONG = fixture("aws/iam/get_account_password_policy_strong.json")
WEAK = fixture("aws/iam/get_account_password_policy_weak.json")
MFA_USERS = fixture("aws/iam/list_virtual_mfa_devices_users.json")
MFA_ROOT = fixture("aws/iam/list_virtual_mfa_devices_root.json")
AUTHZ1 = fixture("aws/iam/get_account_authorization_details_page1.json")
AUTHZ2 = fixture("aws/iam/get_account_authorization_details_page2.json")
AUTHZ_PARAMS = {"Filter": ["User", "Group", "LocalManagedPolicy"], "MaxItems": 1000}
MFA_PARAMS = {"AssignmentStatus": "Assigned", "MaxItems": 1000}
MISSING = object()
USERS = {"alice", "bob", "carol-ci", "dave-new", "erin-ghost", "frank-old", "=1+2"}


def iam_bundle(
    *,
    generate: Any = (COMPLETE,),
    report: Any = REPORT,
    summary: Any = SUMMARY,
    policy: Any = STRONG,
    mfa: Any = MFA_USERS,
    authz2: Any = AUTHZ2,
    authz1: Any = AUTHZ1,
):
    """The recorded answers of one fetch; MISSING leaves an answer out."""
    calls: list[tuple[str, str, dict[str, Any], Any]] = [("iam", "GenerateCredentialReport", {}, g) for g in generate]
    if report is not MISSING:
        calls.append(("iam", "GetCredentialReport", {}, report))
    if summary is not MISSING:
        calls.append(("iam", "GetAccountSummary", {}, summary))
    if policy is not MISSING:
        calls.append(("iam", "GetAccountPasswordPolicy", {}, policy))
    if mfa is not MISSING:
        calls.append(("iam", "ListVirtualMFADevices", MFA_PARAMS, mfa))
    if authz1 is not MISSING:
        calls.append(("iam", "GetAccountAuthorizationDetails", AUTHZ_PARAMS, authz1))
        if authz2 is not MISSING and not isinstance(authz1, Fail):
            calls.append(("iam", "GetAccountAuthorizationDetails", {**AUTHZ_PARAMS, "Marker": "page-2-marker"}, authz2))
    return bundle_from_calls(SCOPE, calls)


def statuses(results) -> dict[str, Status]:
    return {rid: r.status for rid, r in by_resource(results).items()}


# --- collector metadata


def test_collector_is_global_and_declares_every_operation():
    from collectors.registry import checks_for, collectors

    spec = collectors()["aws.iam"]
    assert spec.per_region is False
    assert "NoSuchEntity" in spec.absent_codes
    used = {p for c in checks_for("aws.iam") for p in c.spec.permissions}
    assert used == set(spec.operations.values())
    assert {c.spec.id for c in checks_for("aws.iam")} == {
        "aws.iam.root_mfa",
        "aws.iam.root_access_keys",
        "aws.iam.user_mfa",
        "aws.iam.access_key_rotation",
        "aws.iam.unused_credentials",
        "aws.iam.password_policy",
        "aws.iam.privileged_users",
        "aws.iam.direct_user_policies",
    }


# --- aws.iam.root_mfa


def test_root_mfa_from_the_report_root_row_hardware_by_default():
    (r,) = run_check("aws.iam.root_mfa", iam_bundle())
    assert r.status == Status.PASS
    assert r.resource_id == "<root_account>"
    assert r.resource_type == "AWS::::Account"
    assert r.region == "global"
    assert r.observed["source"] == "credential report root row"
    assert r.observed["mfa_type"] == "hardware"
    assert r.observed["report_generated_at"] == "2025-06-30T09:00:00Z"
    assert r.observed["report_age_hours"] == 3.0
    assert "iam.GetCredentialReport" in ref_ops(r)


def test_root_mfa_virtual_device_fails_only_when_hardware_is_required():
    bundle = iam_bundle(mfa=MFA_ROOT)
    (r,) = run_check("aws.iam.root_mfa", bundle)
    assert r.status == Status.PASS
    assert r.observed["mfa_type"] == "virtual"
    (r,) = run_check("aws.iam.root_mfa", bundle, {"require_hardware_mfa": True})
    assert r.status == Status.FAIL
    assert "virtual" in r.reason
    assert r.observed["virtual_mfa_serial"] == "arn:aws:iam::123456789012:mfa/root-account-mfa-device"
    assert r.expected == {"mfa_active": True, "mfa_type": "hardware"}
    (r,) = run_check("aws.iam.root_mfa", iam_bundle(), {"require_hardware_mfa": True})
    assert r.status == Status.PASS


def test_root_mfa_hardware_required_but_virtual_listing_denied_is_an_error():
    (r,) = run_check("aws.iam.root_mfa", iam_bundle(mfa=Fail("AccessDenied")), {"require_hardware_mfa": True})
    assert r.status == Status.ERROR
    assert r.observed["missing_permission"] == "iam:ListVirtualMFADevices"


def test_root_without_mfa_fails():
    (r,) = run_check("aws.iam.root_mfa", iam_bundle(report=REPORT_ROOT_BAD))
    assert r.status == Status.FAIL
    assert r.observed["mfa_active"] is False
    assert r.reason == "root user has no MFA"


def test_root_mfa_without_root_row_uses_account_summary_and_says_so():
    (r,) = run_check("aws.iam.root_mfa", iam_bundle(report=REPORT_NO_ROOT, summary=SUMMARY_MOTO))
    assert r.status == Status.FAIL
    assert r.observed["source"].startswith("GetAccountSummary AccountMFAEnabled")
    assert "no <root_account> row" in r.observed["source"]
    assert r.observed["account_mfa_enabled"] == 0
    # moto's report is stamped 2015-02-02T20:02:02Z: the age says so
    assert r.observed["report_age_hours"] > 24 * 365 * 10
    (r,) = run_check("aws.iam.root_mfa", iam_bundle(report=REPORT_NO_ROOT, summary=SUMMARY))
    assert r.status == Status.PASS


def test_root_mfa_report_and_summary_both_denied_is_an_error_naming_the_root_cause():
    bundle = iam_bundle(
        generate=(Fail("AccessDenied"),), report=Fail("ReportNotPresent", status=410), summary=Fail("AccessDenied")
    )
    (r,) = run_check("aws.iam.root_mfa", bundle)
    assert r.status == Status.ERROR
    assert r.observed["operation"] == "iam:GenerateCredentialReport"
    assert r.observed["missing_permission"] == "iam:GenerateCredentialReport"
    # report unavailable, summary readable: the summary answers
    bundle = iam_bundle(generate=(Fail("AccessDenied"),), report=Fail("ReportNotPresent", status=410))
    (r,) = run_check("aws.iam.root_mfa", bundle)
    assert r.status == Status.PASS
    assert "credential report unavailable" in r.observed["source"]


# --- aws.iam.root_access_keys


def test_root_access_keys_pass_and_recent_root_use_is_reported():
    (r,) = run_check("aws.iam.root_access_keys", iam_bundle())
    assert r.status == Status.PASS
    assert r.observed["active_access_keys"] == 0
    assert r.observed["password_last_used"] == "2025-06-20T08:15:00+00:00"
    assert r.observed["root_used_within_days"] == {"days": 30, "uses": ["password 10 days ago"]}
    assert "root used within 30 days (password 10 days ago)" in r.reason
    (r,) = run_check("aws.iam.root_access_keys", iam_bundle(), {"root_recent_use_days": 7})
    assert r.status == Status.PASS
    assert r.observed["root_used_within_days"]["uses"] == []
    assert r.reason == "root has no active access keys"


def test_root_active_access_key_fails():
    (r,) = run_check("aws.iam.root_access_keys", iam_bundle(report=REPORT_ROOT_BAD))
    assert r.status == Status.FAIL
    assert r.observed["active_access_keys"] == 1
    assert r.observed["access_key_1_last_rotated"] == "2020-01-15T09:00:00+00:00"
    assert r.reason.startswith("root has 1 active access key(s)")
    assert "access_key_1 1 days ago" in r.reason


def test_root_inactive_old_key_and_old_use_pass_quietly():
    (r,) = run_check("aws.iam.root_access_keys", iam_bundle(report=REPORT_ROOT_OLD_USE))
    assert r.status == Status.PASS
    assert r.observed["root_used_within_days"]["uses"] == []


def test_root_access_keys_without_root_row_use_account_summary():
    (r,) = run_check("aws.iam.root_access_keys", iam_bundle(report=REPORT_NO_ROOT, summary=SUMMARY_ROOT_KEY))
    assert r.status == Status.FAIL
    assert r.observed["account_access_keys_present"] == 1
    assert "AccountAccessKeysPresent" in r.observed["source"]


# --- aws.iam.user_mfa


def test_user_mfa_per_user():
    results = run_check("aws.iam.user_mfa", iam_bundle())
    assert statuses(results) == {
        "alice": Status.PASS,
        "bob": Status.FAIL,
        "carol-ci": Status.NOT_APPLICABLE,
        "dave-new": Status.FAIL,
        "erin-ghost": Status.PASS,
        "frank-old": Status.NOT_APPLICABLE,
        "=1+2": Status.NOT_APPLICABLE,
        "gina-late": Status.ERROR,
    }
    r = by_resource(results)
    assert r["bob"].reason == "console password without MFA"
    assert r["bob"].observed["report_age_hours"] == 3.0
    assert r["bob"].resource_type == "AWS::IAM::User"
    assert r["gina-late"].observed["error_code"] == "NotInCredentialReport"
    assert "generated at 2025-06-30T09:00:00Z" in r["gina-late"].observed["message"]
    assert "<root_account>" not in r


def test_user_mfa_report_never_completed_is_one_error_naming_generate():
    bundle = iam_bundle(generate=(STARTED, INPROGRESS, INPROGRESS), report=MISSING)
    (r,) = run_check("aws.iam.user_mfa", bundle)
    assert r.status == Status.ERROR
    assert r.resource_id == "*"
    assert r.observed["operation"] == "iam:GenerateCredentialReport"
    assert r.observed["error_code"] == "ReportNotComplete"
    assert "INPROGRESS after 3 polls" in r.observed["message"]
    assert r.observed["required_permission"] == "iam:GenerateCredentialReport"


def test_user_mfa_get_report_denied_is_an_error_not_a_pass():
    (r,) = run_check("aws.iam.user_mfa", iam_bundle(report=Fail("AccessDenied")))
    assert r.status == Status.ERROR
    assert r.observed["missing_permission"] == "iam:GetCredentialReport"


def test_unreadable_report_is_an_error():
    (r,) = run_check("aws.iam.user_mfa", iam_bundle(report={"Content": "", "GeneratedTime": "2025-06-30T09:00:00Z"}))
    assert r.status == Status.ERROR
    assert r.observed["error_code"] == "UnreadableReport"


# --- aws.iam.access_key_rotation


def test_access_key_rotation_one_result_per_key():
    results = run_check("aws.iam.access_key_rotation", iam_bundle())
    assert statuses(results) == {
        "alice/access_key_1": Status.PASS,
        "bob/access_key_1": Status.FAIL,
        "bob/access_key_2": Status.NOT_APPLICABLE,
        "carol-ci/access_key_1": Status.FAIL,
        "frank-old/access_key_1": Status.PASS,
        "frank-old/access_key_2": Status.FAIL,
        "gina-late": Status.ERROR,
    }
    r = by_resource(results)
    assert r["bob/access_key_1"].observed["age_days"] == 211
    assert r["bob/access_key_1"].reason == "active key is 211 days old (more than 90)"
    assert r["bob/access_key_1"].resource_type == "AWS::IAM::AccessKey"
    assert r["bob/access_key_2"].reason == "key is inactive"
    assert r["alice/access_key_1"].observed["age_days"] == 60


def test_access_key_rotation_threshold():
    results = run_check("aws.iam.access_key_rotation", iam_bundle(), {"max_key_age_days": 365})
    assert statuses(results)["bob/access_key_1"] == Status.PASS


# --- aws.iam.unused_credentials


def test_unused_credentials_one_result_per_credential_including_never_used():
    results = run_check("aws.iam.unused_credentials", iam_bundle())
    assert statuses(results) == {
        "alice/password": Status.PASS,
        "alice/access_key_1": Status.PASS,
        "bob/password": Status.PASS,
        "bob/access_key_1": Status.PASS,  # key 2 is inactive: not a usable credential
        "carol-ci/access_key_1": Status.FAIL,
        "dave-new/password": Status.PASS,
        "erin-ghost/password": Status.FAIL,
        "frank-old/access_key_1": Status.FAIL,
        "frank-old/access_key_2": Status.FAIL,
        "=1+2": Status.NOT_APPLICABLE,
        "gina-late": Status.ERROR,
    }
    r = by_resource(results)
    carol = r["carol-ci/access_key_1"]
    assert carol.reason == "access_key_1 never used, created 200 days ago (more than 90)"
    assert carol.observed["never_used"] is True
    assert carol.observed["created_from"] == "access_key_1_last_rotated"
    erin = r["erin-ghost/password"]  # password_last_changed N/A: the user's creation date
    assert erin.observed["created_from"] == "user_creation_time"
    assert erin.observed["days_since_created"] == 200
    dave = r["dave-new/password"]
    assert dave.reason == "password not used yet, created 20 days ago (within 90)"
    assert r["frank-old/access_key_1"].observed["days_since_use"] == 180
    assert r["frank-old/access_key_2"].observed["days_since_created"] == 121
    assert r["=1+2"].reason == "no console password and no active access key"


def test_unused_credentials_threshold():
    results = statuses(run_check("aws.iam.unused_credentials", iam_bundle(), {"max_unused_days": 365}))
    assert results["carol-ci/access_key_1"] == Status.PASS
    assert results["frank-old/access_key_1"] == Status.PASS
    assert results["erin-ghost/password"] == Status.PASS


def test_unparseable_creation_date_is_an_error():
    text = REPORT["Content"].replace(
        "2024-12-12T12:00:00+00:00,true,no_information,N/A", "garbage,true,no_information,N/A"
    )
    results = by_resource(run_check("aws.iam.unused_credentials", iam_bundle(report={**REPORT, "Content": text})))
    assert results["erin-ghost/password"].status == Status.ERROR
    assert results["erin-ghost/password"].observed["error_code"] == "UnreadableReport"


# --- aws.iam.password_policy


def test_password_policy_strong_passes_and_weak_lists_every_shortfall():
    (r,) = run_check("aws.iam.password_policy", iam_bundle())
    assert r.status == Status.PASS
    assert r.resource_id == ACCOUNT
    (r,) = run_check("aws.iam.password_policy", iam_bundle(policy=WEAK))
    assert r.status == Status.FAIL
    assert r.reason == "MinimumPasswordLength 8 < 14; RequireSymbols is off; RequireUppercaseCharacters is off"
    assert r.observed["policy"]["MinimumPasswordLength"] == 8


def test_password_policy_optional_thresholds():
    (r,) = run_check("aws.iam.password_policy", iam_bundle(), {"max_age_days": 60, "password_reuse_prevention": 24})
    assert r.status == Status.FAIL
    assert r.reason == "MaxPasswordAge 90 > 60"
    (r,) = run_check("aws.iam.password_policy", iam_bundle(policy=WEAK), {"max_age_days": 90, "min_length": 8})
    assert r.status == Status.FAIL
    assert "passwords never expire" in r.reason
    (r,) = run_check(
        "aws.iam.password_policy",
        iam_bundle(policy=WEAK),
        {"min_length": 8, "require_symbols": False, "require_uppercase": False, "password_reuse_prevention": 5},
    )
    assert r.reason == "PasswordReusePrevention off < 5"


def test_no_password_policy_fails_and_denied_is_an_error():
    (r,) = run_check("aws.iam.password_policy", iam_bundle(policy=Fail("NoSuchEntity", status=404)))
    assert r.status == Status.FAIL
    assert r.observed == {"policy": None}
    (r,) = run_check("aws.iam.password_policy", iam_bundle(policy=Fail("AccessDenied")))
    assert r.status == Status.ERROR
    assert r.observed["missing_permission"] == "iam:GetAccountPasswordPolicy"


# --- aws.iam.privileged_users


def test_privileged_users_lists_every_admin_and_how():
    results = run_check("aws.iam.privileged_users", iam_bundle())
    assert statuses(results) == {
        "alice": Status.PASS,
        "bob": Status.FAIL,
        "carol-ci": Status.NOT_APPLICABLE,  # only the non-default v1 of ci-deploy was admin
        "dave-new": Status.FAIL,
        # group developers-ro: Allow NotAction iam:* on * still leaves sts:AssumeRole on every role
        # (the PowerUserAccess pattern): privileged, by the evaluator aws.iam.privileged_roles uses too
        "erin-ghost": Status.PASS,  # MFA active
        "frank-old": Status.PASS,
        "=1+2": Status.NOT_APPLICABLE,
        "gina-late": Status.ERROR,  # privileged, and missing from the credential report
    }
    r = by_resource(results)
    assert r["alice"].observed["privileged_through"] == ["group admins: AdministratorAccess"]
    assert (
        r["alice"].reason == "admin (group admins: AdministratorAccess); MFA active; active access keys access_key_1 "
        "are privileged too"
    )
    assert r["bob"].observed["privileged_through"] == [
        "inline: break-glass",
        "group developers-ro inline: no-admin-here (Allow NotAction [iam:*] on *, leaving sts:AssumeRole)",
    ]
    assert r["bob"].reason.startswith("admin (inline: break-glass; group developers-ro inline: no-admin-here")
    assert r["bob"].reason.endswith("with a console password and no MFA")
    assert r["dave-new"].observed["privileged_through"] == [
        "group iam-operators: iam-everything (customer managed, iam:* on *)"
    ]
    assert r["erin-ghost"].observed["privileged_through"] == [
        "group developers-ro inline: no-admin-here (Allow NotAction [iam:*] on *, leaving sts:AssumeRole)"
    ]
    frank = r["frank-old"]
    assert frank.observed["privileged_through"] == ["direct: AdministratorAccess"]
    assert frank.observed["active_access_keys"] == ["access_key_1", "access_key_2"]
    assert "no console password" in frank.reason
    assert ref_ops(frank) >= {"iam.GetAccountAuthorizationDetails", "iam.GetCredentialReport"}


def test_privileged_aws_managed_policies_threshold():
    results = statuses(run_check("aws.iam.privileged_users", iam_bundle(), {"privileged_aws_managed_policies": []}))
    assert results["alice"] == Status.NOT_APPLICABLE
    assert results["frank-old"] == Status.NOT_APPLICABLE
    assert results["bob"] == Status.FAIL


def test_privileged_users_second_page_failure_never_passes_the_unknown():
    results = by_resource(run_check("aws.iam.privileged_users", iam_bundle(authz2=Fail("Throttling", status=400))))
    assert set(results) == {"*", "alice", "bob", "carol-ci", "dave-new"}
    assert results["*"].status == Status.ERROR
    assert results["*"].observed["operation"] == "iam:GetAccountAuthorizationDetails"
    assert results["bob"].status == Status.FAIL  # the inline admin policy is on page 1
    for user in ("alice", "carol-ci", "dave-new"):  # group / policy documents were on page 2
        assert results[user].status == Status.ERROR


def test_privileged_users_without_report_are_errors_others_not_applicable():
    results = statuses(run_check("aws.iam.privileged_users", iam_bundle(report=Fail("AccessDenied"))))
    errors = {"alice", "bob", "dave-new", "frank-old", "erin-ghost", "gina-late"}
    assert {u for u, s in results.items() if s == Status.ERROR} == errors
    assert {u for u, s in results.items() if s == Status.NOT_APPLICABLE} == {"carol-ci", "=1+2"}


def test_privileged_user_missing_from_the_report_is_an_error():
    page = {**AUTHZ2, "UserDetailList": [*AUTHZ2["UserDetailList"], {"UserName": "henry", "GroupList": ["admins"]}]}
    results = by_resource(run_check("aws.iam.privileged_users", iam_bundle(authz2=page)))
    assert results["henry"].status == Status.ERROR
    assert results["henry"].observed["error_code"] == "NotInCredentialReport"


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}, "* on *"),
        ({"Statement": [{"Effect": "Allow", "Action": ["s3:*", "*"], "Resource": ["*"]}]}, "* on *"),
        ({"Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}, "iam:* on *"),
        ({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b/*"}]}, None),
        ({"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}, None),
        # the shared evaluator (iam_privilege_eval) sees NotAction and wildcard escalation too
        (
            {"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]},
            "Allow NotAction [iam:*] on *, leaving sts:AssumeRole",
        ),
        (
            {"Statement": [{"Effect": "Allow", "Action": "iam:Attach*", "Resource": "*"}]},
            "iam:AttachGroupPolicy, iam:AttachRolePolicy, iam:AttachUserPolicy on *",
        ),
        ({"Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::1:role/app"}]}, None),
        ('{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}', "* on *"),
        (
            "%7B%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22%2A%22%2C%22Resource%22%3A%22%2A%22%7D%7D",
            "* on *",
        ),
        ("not json", None),
        (None, None),
    ],
)
def test_admin_statement(doc, expected):
    assert admin_statement(doc) == expected


# --- aws.iam.direct_user_policies


def test_direct_user_policies():
    results = run_check("aws.iam.direct_user_policies", iam_bundle())
    assert statuses(results) == {
        "alice": Status.PASS,
        "bob": Status.FAIL,
        "carol-ci": Status.FAIL,
        "dave-new": Status.PASS,
        "erin-ghost": Status.FAIL,
        "frank-old": Status.FAIL,
        "=1+2": Status.PASS,
        "gina-late": Status.PASS,
    }
    r = by_resource(results)
    assert r["bob"].reason == "policies attached to the user (inline: break-glass)"
    assert r["frank-old"].observed["attached_managed_policies"] == ["AdministratorAccess"]
    assert r["carol-ci"].reason == "policies attached to the user (managed: ci-deploy)"


def test_direct_user_policies_listing_denied_is_one_error():
    (r,) = run_check("aws.iam.direct_user_policies", iam_bundle(authz1=Fail("AccessDenied")))
    assert r.status == Status.ERROR
    assert r.resource_id == "*"
    assert r.observed["missing_permission"] == "iam:GetAccountAuthorizationDetails"
    assert ref_ops(r) == {"iam.GetAccountAuthorizationDetails"}


def test_report_checks_never_pass_without_any_evidence():
    bundle = bundle_from_calls(SCOPE, [])
    for check_id in (
        "aws.iam.root_mfa",
        "aws.iam.root_access_keys",
        "aws.iam.user_mfa",
        "aws.iam.access_key_rotation",
        "aws.iam.unused_credentials",
        "aws.iam.password_policy",
        "aws.iam.privileged_users",
        "aws.iam.direct_user_policies",
    ):
        results = run_check(check_id, bundle)
        assert results, check_id
        assert {r.status for r in results} == {Status.ERROR}, check_id


# --- fetch on a fake client


class FakeIam:
    def __init__(self, states: list[str], fail_generate: bool = False, authz_pages: int = 2) -> None:
        self.states = list(states)
        self.fail_generate = fail_generate
        self.authz_pages = authz_pages
        self.calls: list[str] = []

    def generate_credential_report(self) -> dict[str, Any]:
        self.calls.append("GenerateCredentialReport")
        if self.fail_generate:
            Fail("AccessDenied").raise_("GenerateCredentialReport")
        return {"State": self.states.pop(0) if len(self.states) > 1 else self.states[0]}

    def get_credential_report(self) -> dict[str, Any]:
        self.calls.append("GetCredentialReport")
        return {
            "Content": REPORT["Content"].encode(),
            "GeneratedTime": "2025-06-30T09:00:00Z",
            "ReportFormat": "text/csv",
        }

    def get_account_summary(self) -> dict[str, Any]:
        self.calls.append("GetAccountSummary")
        return SUMMARY

    def get_account_password_policy(self) -> dict[str, Any]:
        self.calls.append("GetAccountPasswordPolicy")
        Fail("NoSuchEntity", status=404).raise_("GetAccountPasswordPolicy")
        return {}

    def list_virtual_mfa_devices(self, **params: Any) -> dict[str, Any]:
        self.calls.append("ListVirtualMFADevices")
        device = {"SerialNumber": "arn:aws:iam::123456789012:mfa/x", "Base32StringSeed": b"SECRET", "QRCodePNG": b"png"}
        return {"VirtualMFADevices": [device], "IsTruncated": False}

    def get_account_authorization_details(self, **params: Any) -> dict[str, Any]:
        self.calls.append("GetAccountAuthorizationDetails")
        n = int(params.get("Marker", "0"))
        last = n + 1 >= self.authz_pages
        page = {"UserDetailList": [{"UserName": f"u{n}"}], "IsTruncated": not last}
        if not last:
            page["Marker"] = str(n + 1)
        return page


class FakeCtx:
    account = ACCOUNT
    region = "global"

    def __init__(self, client: FakeIam) -> None:
        self._client = client
        self.recorder = Recorder(SCOPE, iam_collector.OPERATIONS, classify_error)

    def client(self, service: str) -> FakeIam:
        assert service == "iam"
        return self._client

    def map(self, fn, items):
        return [fn(i) for i in items]


@pytest.fixture
def fake_time(monkeypatch):
    """A virtual clock: sleeping advances it."""
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(iam_collector, "_sleep", sleep)
    monkeypatch.setattr(iam_collector, "_clock", lambda: now[0])
    return sleeps


def test_fetch_polls_with_exponential_backoff_then_reads_the_report(fake_time):
    client = FakeIam(["STARTED", "INPROGRESS", "INPROGRESS", "COMPLETE"])
    ctx = FakeCtx(client)
    iam_collector.fetch(ctx)
    assert fake_time == [0.2, 0.4, 0.8]
    bundle = ctx.recorder.bundle
    assert [c.response["State"] for c in bundle.all("iam", "GenerateCredentialReport")] == [
        "STARTED",
        "INPROGRESS",
        "INPROGRESS",
        "COMPLETE",
    ]
    (got,) = bundle.all("iam", "GetCredentialReport")
    assert got.response["Content"].startswith("user,arn,")  # bytes recorded as text
    assert len(bundle.all("iam", "GetAccountAuthorizationDetails")) == 2
    assert bundle.all("iam", "GetAccountAuthorizationDetails")[1].params["Marker"] == "1"
    (devices,) = bundle.all("iam", "ListVirtualMFADevices")
    assert devices.response["VirtualMFADevices"] == [{"SerialNumber": "arn:aws:iam::123456789012:mfa/x"}]
    (policy,) = bundle.all("iam", "GetAccountPasswordPolicy")
    assert policy.error.code == "NoSuchEntity"
    assert statuses(run_check("aws.iam.user_mfa", bundle))["bob"] == Status.FAIL


def test_fetch_gives_up_after_the_time_limit_without_reading_a_report(fake_time):
    client = FakeIam(["INPROGRESS"])
    ctx = FakeCtx(client)
    iam_collector.fetch(ctx)
    assert sum(fake_time) == pytest.approx(iam_collector.REPORT_POLL_LIMIT_S)
    assert fake_time[:3] == [0.2, 0.4, 0.8]
    assert "GetCredentialReport" not in client.calls
    polls = len(ctx.recorder.bundle.all("iam", "GenerateCredentialReport"))
    assert polls == len(fake_time) + 1
    (r,) = run_check("aws.iam.unused_credentials", ctx.recorder.bundle)
    assert r.status == Status.ERROR
    assert r.observed["error_code"] == "ReportNotComplete"


def test_fetch_reads_an_existing_report_when_generate_is_denied(fake_time):
    client = FakeIam(["COMPLETE"], fail_generate=True)
    ctx = FakeCtx(client)
    iam_collector.fetch(ctx)
    assert client.calls.count("GenerateCredentialReport") == 1
    assert "GetCredentialReport" in client.calls
    assert fake_time == []
    results = statuses(run_check("aws.iam.user_mfa", ctx.recorder.bundle))
    assert results["alice"] == Status.PASS  # the readable report is used; its age is in observed
