"""The aws.sso collector fetched over HTTP against moto (MotoEmulator), then checked.

Dexo.chat's Identity Center (demo.estate_sso) is seeded into the management account's instance;
the fetch runs through the production AwsFetchContext + Recorder + classify_error with the accounts
in scope, and every check's results are compared with what the estate says must fail. Faults are
injected in the emulator's WSGI layer: AccessDenied on ListInstances (an unreadable Identity Center:
error naming sso:ListInstances, never a pass) and on one account's ListAccountAssignments (error for
that account's pairs only).

moto 5.2.5 limitations seen here: every (account, region) has an instance of its own; UserStatus is
never stored (the demo's WSGI layer reports it, see demo.moto_wsgi); ListAccountsForProvisionedPermissionSet
and ListPermissionSetsProvisionedToAccount ignore the account (not used by the collector).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from collectors.aws.base import GLOBAL_REGION, AwsFetchContext, AwsTuning, classify_error
from collectors.aws.sso import IdentityCenterScope, identity_center
from collectors.evidence import Recorder, Scope
from collectors.registry import checks_for, collectors
from controls import CheckResult, Status
from demo.emulators import FaultRule, MotoEmulator
from demo.estate_sso import DEMO_THRESHOLDS, seed_identity_center
from demo.seeding import MANAGEMENT_ACCOUNT
from tests.helpers import AS_OF

pytestmark = pytest.mark.integration

ACCOUNTS = {"management": MANAGEMENT_ACCOUNT, "prod": "210987654321", "staging": "333333333333"}


@pytest.fixture(scope="module")
def moto() -> Iterator[tuple[MotoEmulator, dict[str, Any]]]:
    with MotoEmulator() as emulator, emulator.use_env():
        emulator.reset()
        yield emulator, seed_identity_center(emulator.endpoint_url, ACCOUNTS)
        emulator.reset()


def collect(configured: bool = True, regions: tuple[str, ...] = ("us-east-1",)) -> Recorder:
    spec = collectors()["aws.sso"]
    recorder = Recorder(Scope("aws", MANAGEMENT_ACCOUNT, GLOBAL_REGION, "aws.sso"), spec.operations, classify_error)
    ctx = AwsFetchContext(boto3.Session(), MANAGEMENT_ACCOUNT, GLOBAL_REGION, recorder, AwsTuning(max_attempts=2))
    ctx.identity_center = IdentityCenterScope(regions, tuple(ACCOUNTS.values()), configured)
    spec.fetch(ctx)
    return recorder


def evaluate(recorder: Recorder, thresholds: dict[str, Any] = DEMO_THRESHOLDS) -> dict[str, list[CheckResult]]:
    return {c.spec.id: c.run(recorder.bundle, thresholds.get(c.spec.id, {}), AS_OF) for c in checks_for("aws.sso")}


def failing(results: list[CheckResult]) -> list[str]:
    return sorted(r.resource_id for r in results if r.status == Status.FAIL)


def test_fetch_enumerates_accounts_times_permission_sets_and_the_checks_find_the_seeded_problems(moto):
    emulator, seeded = moto
    emulator.reset_counts()
    recorder = collect()
    assert all(c.ok for calls in recorder.bundle.calls.values() for c in calls)
    counts = emulator.counts()
    sets, groups = len(seeded["identity_center"]["permission_sets"]), len(seeded["identity_center"]["groups"])
    assert counts["ListAccountAssignments"] == len(ACCOUNTS) * sets
    assert counts["ListGroupMemberships"] == groups and counts["ListInstances"] == 1
    api = 1 + 1 + 4 * sets + len(ACCOUNTS) * sets + 1 + 1 + groups  # the module doc's formula
    assert recorder.api_calls == api + 1  # + the recorded IdentityCenterScope
    results = evaluate(recorder)
    for check_id, expected in seeded["non_compliant"].items():
        assert failing(results[check_id]) == expected, check_id
    default = {r.resource_id: r for r in evaluate(recorder, {})["aws.sso.privileged_permission_sets"]}
    admin = default[seeded["identity_center"]["permission_sets"]["AdministratorAccess"]]
    assert admin.status == Status.FAIL  # not approved under the default thresholds (the demo approves it)
    assert "group PlatformAdmins in" in admin.reason and "maya.admin@dexo.chat" in admin.reason
    assert not [r for rs in results.values() for r in rs if r.status == Status.ERROR]


def test_model_paths_cover_group_members_and_direct_users(moto):
    (inst,) = identity_center(collect().bundle).instances
    paths = set()
    for p in inst.paths():
        via = inst.group_name(p.group_id) if p.group_id else "direct"
        paths.add((p.account, inst.ps_name(p.permission_set), inst.user_name(p.user_id), via))
    assert (ACCOUNTS["prod"], "DeveloperAccess", "omar.oncall@dexo.chat", "Developers") in paths
    assert (ACCOUNTS["prod"], "ReadOnly", "nina.contractor@dexo.chat", "direct") in paths
    assert len([p for p in paths if p[1] == "AdministratorAccess"]) == 2 * len(ACCOUNTS)  # maya, leo x 3 accounts


def test_access_denied_on_list_instances_is_error_for_every_check(moto):
    emulator, _ = moto
    emulator.add_fault(FaultRule("ListInstances", code="AccessDeniedException", status=400))
    try:
        results = evaluate(collect())
    finally:
        emulator.clear_faults()
    for check_id, got in results.items():
        assert [(r.status, r.resource_id) for r in got] == [(Status.ERROR, "*")], check_id
        assert got[0].observed["missing_permission"] == "sso:ListInstances"


def test_wrong_region_is_error_not_a_pass(moto):
    results = evaluate(collect(regions=("eu-west-1",)))  # moto's eu-west-1 instance is empty: not this one
    sets = results["aws.sso.privileged_permission_sets"]
    assert all(r.status != Status.FAIL for r in sets)
    empty = collect(regions=("ap-south-1",))
    empty.bundle.calls[("sso-admin", "ListInstances")][0].response["Instances"] = []  # as in a member account
    for got in evaluate(empty).values():
        assert [r.observed.get("error_code") for r in got] == ["NoIdentityCenterInstance"]


def test_one_account_unreadable_is_error_for_that_account_only(moto):
    emulator, seeded = moto
    denied = FaultRule("ListAccountAssignments", match=ACCOUNTS["staging"], code="AccessDeniedException", status=400)
    emulator.add_fault(denied)
    try:
        results = evaluate(collect())
    finally:
        emulator.clear_faults()
    errors = {r.resource_id for r in results["aws.sso.assignments_to_users"] if r.status == Status.ERROR}
    assert errors == {f"{ACCOUNTS['staging']}/{name}" for name in seeded["identity_center"]["permission_sets"]}
    elsewhere = [
        r for r in seeded["non_compliant"]["aws.sso.assignments_to_users"] if not r.startswith(ACCOUNTS["staging"])
    ]
    assert failing(results["aws.sso.assignments_to_users"]) == elsewhere  # still assessed
