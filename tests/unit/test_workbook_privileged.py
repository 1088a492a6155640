"""The Privileged access sheet, on findings the real checks make from recorded evidence.

aws.iam.privileged_roles, aws.iam.privileged_users, aws.sso.privileged_permission_sets and
gcp.iam.primitive_roles run on the fixtures of their own unit tests (test_checks_iam_roles,
test_checks_iam, test_checks_sso, test_checks_gcp_iam); their results become findings as a run
writes them, the workbook is written and read back with openpyxl.
"""

from __future__ import annotations

import dataclasses
import zipfile
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from collectors.registry import checks
from controls.additional import additional_fields
from controls.model import CheckResult, Finding, Status
from reports.workbook import write_workbook
from reports.workbook.model import PRIVILEGED_HEADERS, PRIVILEGED_SHEET
from reports.workbook.privileged_paths import CHECKS, UNKNOWN
from tests.helpers import Fail, run_check
from tests.unit import test_checks_gcp_iam as gcp
from tests.unit import test_checks_sso as sso
from tests.unit.test_checks_iam import iam_bundle
from tests.unit.test_checks_iam_roles import MISSING, roles_bundle
from tests.unit.test_workbook import EVALUATED_AT, RUN_ID, cells_by_header, control, make_input, table

ROLES, USERS, SSO, GCP = CHECKS
ROLE = "arn:aws:iam::123456789012:role/"
CONTROL = "IAM-P"


def findings_of(results: Iterable[CheckResult]) -> list[Finding]:
    """The results as a run writes them: on one control, with their `additional` object."""
    specs = {cid: c.spec for cid, c in checks().items()}
    return [
        Finding(RUN_ID, r, (CONTROL,), ("CC6.3",), EVALUATED_AT, additional_fields(r, specs.get(r.check_id)))
        for r in results
    ]


def sheet(tmp_path: Path, findings: list[Finding]) -> list[dict[str, Any]]:
    path = tmp_path / "wb.xlsx"
    specs = {cid: c.spec for cid, c in checks().items()}
    controls = [dataclasses.replace(control(CONTROL, "Privileged access is approved"), checks=CHECKS)]
    write_workbook(path, make_input(findings=findings, controls=controls, control_results=[], checks=specs))
    ws = load_workbook(path)[PRIVILEGED_SHEET]
    rows = table(ws)
    assert [c.value for c in ws[1]] == list(PRIVILEGED_HEADERS)
    return rows


def by_principal(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["Principal"], []).append(r)
    return out


def excepted(f: Finding) -> Finding:
    """A fail covered by an approved exception, as controls.exceptions rewrites it."""
    r = dataclasses.replace(f.result, status=Status.EXCEPTED, reason=f.result.reason + " [excepted: EX-9]")
    return dataclasses.replace(f, result=r)


def test_roles_and_groups_fail_first_then_excepted_approved_and_listed(tmp_path: Path) -> None:
    thresholds = {"approved_principals": ["dexo-power*"], "tool_roles": ["OrganizationAccountAccessRole"]}
    found = findings_of(run_check(ROLES, roles_bundle(), thresholds))
    boundary = next(f for f in found if f.result.resource_id == ROLE + "dexo-boundary-admin")
    found = [excepted(f) if f is boundary else f for f in found]
    rows = sheet(tmp_path, found)
    statuses = [r["Status"] for r in rows]
    assert statuses == ["fail", "fail", "error", "excepted", "pass", "not_applicable"], statuses
    rows_of = by_principal(rows)
    # not privileged: not a path (the population sheet has them); privileged, whatever the status: listed
    assert not {"dexo-readonly-audit", "developers", "soc2-evidence-reader", "AWSServiceRoleForRDS"} & set(rows_of)

    (ci,) = rows_of["dexo-ci-deployer"]
    assert (ci["Cloud"], ci["Account / project"], ci["Principal type"]) == ("AWS", "123456789012", "role")
    assert ci["Privilege"] == (
        "iam:PassRole on *; iam:AttachGroupPolicy, iam:AttachRolePolicy, iam:AttachUserPolicy on "
        "arn:aws:iam::123456789012:role/app-*"
    )
    assert ci["Granted through"] == "customer managed policy dexo-ci-deploy"
    assert ci["Held by"].startswith("assumable by: Federated:arn:aws:iam::123456789012:oidc-provider/")
    assert ci["Principal ARN / ID"] == ROLE + "dexo-ci-deployer" and ci["Check"] == ROLES

    (admins,) = rows_of["platform-admins"]
    assert (admins["Principal type"], admins["Held by"]) == ("group", "members: leo.ops, maya.admin")
    assert admins["Privilege"] == "AdministratorAccess (AWS managed, listed as privileged)"
    assert admins["Granted through"] == "AWS managed policy AdministratorAccess"

    (exc,) = rows_of["dexo-boundary-admin"]
    assert exc["Status"] == "excepted" and exc["Reason (failed, or listed and why)"].endswith("[excepted: EX-9]")
    (power,) = rows_of["dexo-poweruser"]
    assert power["Status"] == "pass" and power["Reason (failed, or listed and why)"].startswith("approved privileged")

    (tool,) = rows_of["OrganizationAccountAccessRole"]  # the tool's role, privileged: listed, not failed, why said
    assert tool["Status"] == "not_applicable" and tool["Privilege"] == "* on *"
    assert tool["Reason (failed, or listed and why)"].startswith("the role soc2-evidence assumes; privileged:")
    assert tool["Granted through"] == "inline policy AdministratorAccess"
    assert tool["Last used"] == datetime(2025, 6, 29, 10, 0)  # a typed date

    (mystery,) = rows_of["dexo-mystery"]  # a policy document missing: unknown, never left out
    assert (mystery["Status"], mystery["Privilege"]) == ("error", UNKNOWN)


def test_a_privileged_service_linked_role_is_listed_with_the_service(tmp_path: Path) -> None:
    result = CheckResult(
        check_id=ROLES,
        provider="aws",
        account="123456789012",
        region="global",
        resource_type="AWS::IAM::Role",
        resource_id=ROLE + "aws-service-role/support.amazonaws.com/AWSServiceRoleForSupport",
        status=Status.NOT_APPLICABLE,
        observed={
            "principal_type": "role",
            "name": "AWSServiceRoleForSupport",
            "privileged": True,
            "privileged_through": ["attached AWSSupportServiceRolePolicy: iam:PassRole on *"],
            "grants": [{"via": "attached", "policy": "AWSSupportServiceRolePolicy",
                        "policy_arn": "arn:aws:iam::aws:policy/aws-service-role/AWSSupportServiceRolePolicy",
                        "grants": []}],
            "trusted_principals": ["Service:support.amazonaws.com"],
            "last_used": None,
        },
        expected={"privileged": False},
        reason="service-linked role of support.amazonaws.com: AWS defines its permissions; privileged: ...",
    )  # fmt: skip
    (row,) = sheet(tmp_path, findings_of([result]))
    assert (row["Status"], row["Principal"], row["Privilege"]) == (
        "not_applicable",
        "AWSServiceRoleForSupport",
        "iam:PassRole on *",
    )
    assert row["Granted through"] == "AWS managed policy AWSSupportServiceRolePolicy"
    assert row["Held by"] == "assumable by: Service:support.amazonaws.com"
    assert row["Reason (failed, or listed and why)"].startswith("service-linked role of support.amazonaws.com")


def test_users_one_row_per_grant_with_mfa_and_keys(tmp_path: Path) -> None:
    rows_of = by_principal(sheet(tmp_path, findings_of(run_check(USERS, iam_bundle()))))
    assert "carol-ci" not in rows_of and "=1+2" not in rows_of  # not admins
    bob = rows_of["bob"]
    assert [(r["Privilege"], r["Granted through"]) for r in bob] == [
        ("Allow NotAction [iam:*] on *, leaving sts:AssumeRole",
         "group developers-ro (membership): inline policy no-admin-here"),
        ("* on *", "inline policy break-glass"),
    ]  # fmt: skip
    assert {r["MFA"] for r in bob} == {"no MFA; console password; active access key 1"} and bob[0]["Status"] == "fail"
    (dave,) = rows_of["dave-new"]
    assert (dave["Privilege"], dave["Granted through"]) == (
        "iam:* on *",
        "group iam-operators (membership): customer managed policy iam-everything",
    )
    (frank,) = rows_of["frank-old"]
    assert frank["Granted through"] == "AWS managed policy AdministratorAccess"
    assert frank["MFA"] == "no MFA; no console password; active access key 1, access key 2"
    (alice,) = rows_of["alice"]
    assert (alice["Status"], alice["MFA"]) == ("pass", "MFA active; active access key 1")
    assert alice["Principal ARN / ID"] == "arn:aws:iam::123456789012:user/alice"
    (gina,) = rows_of["gina-late"]  # not in the credential report: its MFA is unknown, so is the verdict
    assert (gina["Status"], gina["Principal type"], gina["Privilege"]) == ("error", "user", UNKNOWN)


def test_identity_center_one_row_per_holder_in_the_account_where_it_is_held(tmp_path: Path) -> None:
    rows = sheet(tmp_path, findings_of(sso.results(SSO)))
    held = [(r["Account / project"], r["Principal type"], r["Principal"]) for r in rows if r["Status"] == "fail"]
    assert held == [
        ("111111111111", "group (Identity Center)", "Admins"),
        ("222222222222", "group (Identity Center)", "Admins"),
        ("222222222222", "group (Identity Center)", "Developers"),
    ]
    dev = next(r for r in rows if r["Principal"] == "Developers")
    assert dev["Privilege"] == "inline policy: * on *"
    assert dev["Granted through"] == "Identity Center permission set DeveloperAccess (account assignment)"
    assert dev["Held by"] == "members: bob@dexo.chat, dave@dexo.chat"
    assert dev["Evidence file"].endswith("ListAccountAssignments.json")
    nobody = next(r for r in rows if r["Principal"] == "BreakGlass")
    assert (nobody["Status"], nobody["Principal type"], nobody["Held by"]) == (
        "pass",
        "permission set",
        "assigned to nobody in the accounts in scope",
    )
    unknown = next(r for r in rows if r["Status"] == "error")  # DataEngineer: a customer managed policy
    assert (unknown["Principal type"], unknown["Privilege"]) == ("permission set", UNKNOWN)
    assert "ReadOnly" not in {r["Principal"] for r in rows}  # no administrative grant


def test_gcp_basic_role_bindings_direct_inherited_and_conditional(tmp_path: Path) -> None:
    rows = sheet(tmp_path, findings_of(gcp.results(GCP)))
    assert {r["Cloud"] for r in rows} == {"GCP"} and {r["Account / project"] for r in rows} == {"dexo-prod"}
    founder = next(r for r in rows if r["Principal"] == "founder@dexo.chat")
    assert (founder["Principal type"], founder["Privilege"]) == ("member (user)", "roles/owner")
    assert founder["Granted through"] == "IAM binding inherited from organizations/123456789012"
    assert founder["Evidence file"].endswith("GetOrganizationIamPolicy.json")
    oncall = next(r for r in rows if r["Principal"] == "oncall@dexo.chat")
    assert oncall["Granted through"].startswith("IAM binding on projects/dexo-prod (condition: break-glass:")
    assert oncall["Evidence file"].endswith("GetProjectIamPolicy.json")
    robots = [r for r in rows if r["Principal type"] == "member (serviceAccount)"]
    assert len(robots) == 2 and {r["Status"] for r in robots} == {"not_applicable"}
    assert [r["Status"] for r in rows][:4] == ["fail"] * 4 and len(rows) == 6


def test_a_failed_listing_makes_the_population_unknown_never_none(tmp_path: Path) -> None:
    denied = run_check(ROLES, roles_bundle(page1=Fail("AccessDenied", status=403), page2=MISSING))
    rows = sheet(tmp_path, findings_of(denied))
    assert rows and all(r["Status"] == "error" and r["Privilege"] == UNKNOWN for r in rows)
    assert "every principal" in {r["Principal"] for r in rows}
    assert not any(r["Status"] == "none found" for r in rows)


def test_none_found_names_the_checks_that_ran(tmp_path: Path) -> None:
    not_privileged = [r for r in run_check(USERS, iam_bundle()) if r.resource_id in ("carol-ci", "=1+2")]
    (row,) = sheet(tmp_path, findings_of(not_privileged))
    assert (row["Status"], row["Principal"]) == ("none found", "(none)")
    why = row["Reason (failed, or listed and why)"]
    assert why.startswith("No principal holds administrative privilege")
    assert f"{USERS}: 2 finding(s), none privileged" in why and f"{ROLES}: did not run (no finding)" in why


def test_no_check_ran_says_the_population_is_unknown(tmp_path: Path) -> None:
    path = tmp_path / "wb.xlsx"
    write_workbook(path, make_input())  # EBS and S3 findings only
    (row,) = table(load_workbook(path)[PRIVILEGED_SHEET])
    assert (row["Status"], row["Principal"]) == ("not run", "(not assessed)")
    assert row["Reason (failed, or listed and why)"].startswith("The population is unknown")


def test_a_role_named_like_a_formula_is_text(tmp_path: Path) -> None:
    hostile = '=HYPERLINK("http://attacker.example","x")'
    result = next(r for r in run_check(ROLES, roles_bundle()) if r.resource_id == ROLE + "dexo-ci-deployer")
    observed: Mapping[str, Any] = {**result.observed, "name": hostile}
    result = dataclasses.replace(result, resource_id=ROLE + hostile, observed=observed)
    path = tmp_path / "wb.xlsx"
    write_workbook(path, make_input(findings=findings_of([result])))
    ws = load_workbook(path)[PRIVILEGED_SHEET]
    (row,) = cells_by_header(ws)
    assert row["Principal"].value == hostile and row["Principal"].data_type == "s"
    assert row["Principal"].quotePrefix
    with zipfile.ZipFile(path) as z:
        assert all(b"<f>" not in z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/"))


def test_finding_id_opens_its_row_on_the_population_sheet_and_evidence_is_a_relative_link(tmp_path: Path) -> None:
    found = findings_of(run_check(ROLES, roles_bundle()))
    path = tmp_path / "wb.xlsx"
    specs = {cid: c.spec for cid, c in checks().items()}
    write_workbook(path, make_input(findings=found, checks=specs))
    wb = load_workbook(path)
    population = {r["Finding ID"]: i + 2 for i, r in enumerate(table(wb[CONTROL]))}
    for cells in cells_by_header(wb[PRIVILEGED_SHEET]):
        fid = cells["Finding ID"]
        assert fid.hyperlink.location == f"'{CONTROL}'!A{population[fid.value]}"
        evidence = cells["Evidence file"]
        assert evidence.hyperlink.target == evidence.value
        assert evidence.value.endswith("GetAccountAuthorizationDetails.json")
    ws = wb[PRIVILEGED_SHEET]
    last = PRIVILEGED_HEADERS.index("Evidence file")
    assert ws.print_area == f"'{PRIVILEGED_SHEET}'!$A$1:${chr(ord('A') + last)}${ws.max_row}"
    assert ws.freeze_panes == "F2"


@pytest.mark.parametrize("status", [Status.PASS, Status.NOT_APPLICABLE])
def test_unprivileged_principals_are_not_paths(tmp_path: Path, status: Status) -> None:
    result = next(r for r in run_check(ROLES, roles_bundle()) if r.resource_id == ROLE + "dexo-readonly-audit")
    (row,) = sheet(tmp_path, findings_of([dataclasses.replace(result, status=status)]))
    assert row["Status"] == "none found"
