"""Fault injection: the whole `soc2-evidence run` on the demo estate against moto, with AWS
misbehaving, compared with a clean run of the same estate (issue 12).

The emulator (demo/emulators.py) throttles at random (seeded) in each protocol's own throttling
error, always throttles one operation, or answers a burst of HTTP 500s that clears. The run goes
through the CLI (preflight, exit codes) with the config `soc2-evidence demo` writes; verdicts are
compared with tests/tools/compare_findings.py's `verdicts`. What must hold:

- 30 % of every request throttled, aws.max_attempts 12: the same verdicts as the clean run;
- one operation always throttled: only the findings that depend on it turn `error`, naming the
  operation and the throttling code; an account that cannot be entered makes the run partial (exit 3);
- 80 % throttled with 2 attempts: never a false verdict - whatever differs from the clean run is
  `error`, nothing passes that failed, nothing vanishes without an `error` in its place;
- a burst of InternalError (500) on every operation that clears: the same verdicts.

The counts of throttled requests are printed (and asserted to be substantial): run with -s to see them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from collectors.aws.base import THROTTLING_CODES
from demo.emulators import MotoEmulator, throttle_summary
from demo.estate import DemoEstate, seed_demo_estate
from demo.moto_wsgi import FaultRule
from demo.run import write_demo_config
from flows.cli import main
from tests.tools.compare_findings import verdicts

pytestmark = pytest.mark.integration

# identification and discovery are spared in the 80 % scenario: with them throttled the run would
# rarely get past entering the accounts, and the collectors are what must never give a false verdict
IDENTIFICATION = {"GetCallerIdentity", "AssumeRole", "ListAccounts"}
# checks whose resource ids carry names read by other calls: an Identity Center assignment is
# "<account>/<permission set name>/user:<user name>", a permission set its name; with DescribePermissionSet
# or ListUsers throttled the same resource is named by ids ("ps-...", "unknown user <id>"), so these are
# compared by counts
NAMED_BY_LOOKUP = {"aws.sso.assignments_to_users", "aws.sso.inactive_principals", "aws.sso.privileged_permission_sets"}


@dataclass
class Run:
    code: int
    err: str
    out: str
    run_dir: Path
    counts: dict[str, int]
    throttled: dict[str, int]
    faulted: dict[str, int]

    @property
    def findings(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in (self.run_dir / "findings.jsonl").read_text().splitlines() if line]

    @property
    def manifest(self) -> dict[str, Any]:
        return json.loads((self.run_dir / "manifest.json").read_text())

    def summary(self) -> str:
        return throttle_summary(self.throttled, self.counts)


@pytest.fixture(scope="module")
def estate(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, ...]]:
    with MotoEmulator() as moto, moto.use_env():
        moto.reset()  # moto's state is per process: other modules may have seeded it
        try:
            yield moto, seed_demo_estate(moto.endpoint_url), tmp_path_factory.mktemp("faults")
        finally:
            moto.clear_faults()
            moto.reset()


def run(
    estate: tuple[MotoEmulator, DemoEstate, Path],
    capsys: pytest.CaptureFixture[str],
    name: str,
    *,
    faults: Callable[[MotoEmulator], None] = lambda moto: None,
    max_attempts: int = 5,
    args: tuple[str, ...] = (),
    edit: Callable[[dict[str, Any]], None] = lambda body: None,
) -> Run:
    """`soc2-evidence run` on the demo config (AWS only) in its own output, with these faults."""
    moto, demo, root = estate
    config = write_demo_config(demo, root / name)
    body = yaml.safe_load(config.read_text())
    body["aws"]["max_attempts"] = max_attempts
    edit(body)
    config.write_text(yaml.safe_dump(body, sort_keys=False))
    moto.clear_faults()
    moto.reset_counts()
    faults(moto)
    try:
        code = main(["run", "--config", str(config), *args])
    finally:
        moto.clear_faults()
    captured = capsys.readouterr()
    runs = sorted((root / name / "runs").iterdir())
    return Run(code, captured.err, captured.out, runs[-1], moto.counts(), moto.throttled(), moto.faulted())


def report(capsys: pytest.CaptureFixture[str], text: str) -> None:
    with capsys.disabled():
        print(f"\n[fault injection] {text}")


@pytest.fixture(scope="module")
def clean(estate: tuple[MotoEmulator, DemoEstate, Path]) -> Run:
    moto, demo, root = estate
    config = write_demo_config(demo, root / "clean")
    moto.clear_faults()
    moto.reset_counts()
    code = main(["run", "--config", str(config)])
    out = Run(code, "", "", sorted((root / "clean" / "runs").iterdir())[-1], moto.counts(), {}, {})
    assert code == 0 and out.manifest["assessment"] == "complete"
    statuses = Counter(f["status"] for f in out.findings)
    assert statuses["error"] == 0 and statuses["pass"] > 0 and statuses["fail"] > 0, statuses
    return out


def differences(a: Counter[tuple[str, ...]], b: Counter[tuple[str, ...]]) -> list[str]:
    return [f"{a[k]} -> {b[k]} {' | '.join(k)}" for k in sorted(set(a) | set(b)) if a[k] != b[k]]


def by_resource(findings: list[dict[str, Any]]) -> dict[tuple[str, ...], Counter[str]]:
    """(check, account, region, resource type, resource id) -> the statuses found for it."""
    out: dict[tuple[str, ...], Counter[str]] = {}
    for f in findings:
        key = (f["check_id"], f["account"], f["region"], f["resource_type"], f["resource_id"])
        out.setdefault(key, Counter())[f["status"]] += 1
    return out


def test_30_percent_throttling_gives_the_clean_runs_verdicts(estate, clean: Run, capsys) -> None:
    throttled = run(estate, capsys, "throttled-30", faults=lambda m: m.throttle(0.3, seed=30), max_attempts=12)
    report(capsys, f"30 % throttling, max_attempts 12: {throttled.summary()}; clean run: {sum(clean.counts.values())}")
    assert throttled.code == 0, throttled.err
    n, total = sum(throttled.throttled.values()), sum(throttled.counts.values())
    assert n >= 0.2 * total and n >= 50, throttled.summary()  # really throttled, and all over the API surface
    assert len(throttled.throttled) >= 20, throttled.throttled
    assert verdicts(throttled.run_dir) == verdicts(clean.run_dir), differences(
        verdicts(clean.run_dir), verdicts(throttled.run_dir)
    )
    assert throttled.manifest["assessment"] == "complete"


def test_one_operation_always_throttled_errors_only_what_depends_on_it(estate, clean: Run, capsys) -> None:
    operation = "GetBucketPolicy"  # one call per bucket, read by aws.s3.secure_transport alone

    def depends(f: dict[str, Any]) -> bool:
        return any(e["path"].rsplit("/", 1)[-1].endswith(f"{operation}.json") for e in f["evidence"])

    got = run(
        estate,
        capsys,
        "always-throttled",
        faults=lambda m: m.add_fault(FaultRule(operation, throttle=True)),
        args=("--fail-on", "errors"),
    )
    report(capsys, f"{operation} always throttled: {got.summary()}")
    assert got.throttled == {operation: got.counts[operation]} and got.counts[operation] >= 5 * 18  # 5 attempts
    dependent = {(f["check_id"], f["account"], f["region"]) for f in clean.findings if depends(f)}
    assert dependent and {c for c, _, _ in dependent} == {"aws.s3.secure_transport"}
    errors = [f for f in got.findings if f["status"] == "error"]
    assert {(f["check_id"], f["account"], f["region"]) for f in errors} == dependent
    for f in errors:
        assert f["observed"]["operation"] == f"s3:{operation}" and f["observed"]["error_code"] == "SlowDown", f
        assert f["observed"]["missing_permission"] is None  # throttled, not denied
    rest = [f for f in got.findings if (f["check_id"], f["account"], f["region"]) not in dependent]
    clean_rest = [f for f in clean.findings if (f["check_id"], f["account"], f["region"]) not in dependent]
    assert by_resource(rest) == by_resource(clean_rest)
    # every account was assessed (exit 3 is for an account wholly unassessed); the errors show in
    # the exit code with --fail-on errors
    assert got.manifest["assessment"] == "complete"
    assert got.code == 1 and "error" in got.err, got.err
    assert f"{len(errors)} of them because AWS throttled the calls after their aws.max_attempts" in got.out


def test_an_account_whose_role_is_always_throttled_makes_the_run_partial(estate, clean: Run, capsys) -> None:
    _, demo, _ = estate
    staging = demo.accounts["staging"]
    got = run(
        estate,
        capsys,
        "role-throttled",
        faults=lambda m: m.add_fault(FaultRule("AssumeRole", match=demo.role_arn("staging"), throttle=True)),
    )
    assert got.code == 3, got.err
    assert f"AWS account {staging} (dexo-staging) could not be checked: sts:AssumeRole throttled" in got.err
    assert [(u["account"], "Throttling" in u["reason"]) for u in got.manifest["unassessed"]] == [(staging, True)]
    mine = [f for f in got.findings if f["account"] == staging]
    assert mine and {(f["status"], f["observed"]["error_code"]) for f in mine} == {("error", "Throttling")}
    others = [f for f in got.findings if f["account"] != staging]
    assert by_resource(others) == by_resource([f for f in clean.findings if f["account"] != staging])


def parent(resource: str) -> str:
    """The resource whose listing holds this one, when an error names the parent: an ELBv2 listener's
    load balancer (DescribeListeners failed for it)."""
    if ":listener/" in resource:
        return resource.replace(":listener/", ":loadbalancer/", 1).rsplit("/", 1)[0]
    return resource


def test_80_percent_throttling_with_2_attempts_never_gives_a_false_verdict(estate, clean: Run, capsys) -> None:
    operations = set(clean.counts) - IDENTIFICATION
    got = run(
        estate,
        capsys,
        "throttled-80",
        faults=lambda m: m.throttle(0.8, seed=80, operations=operations),
        max_attempts=2,
    )
    before, after = by_resource(clean.findings), by_resource(got.findings)
    errors = [f for f in got.findings if f["status"] == "error"]
    report(capsys, f"80 % throttling, max_attempts 2: {got.summary()}; {len(errors)} of {len(got.findings)} `error`")
    assert got.code in (0, 3), got.err
    assert sum(got.throttled.values()) >= 0.5 * sum(got.counts.values())
    assert errors, "at 80 % with 2 attempts some calls must fail"
    for f in errors:  # every error says it was throttling, and which call
        assert f["observed"]["error_code"] in THROTTLING_CODES and f["observed"]["operation"], f
    # a pass or fail the clean run did not give for that resource is a false verdict
    false = [
        (key, status)
        for key, statuses in after.items()
        for status in statuses
        if status != "error" and status not in before.get(key, Counter()) and key[0] not in NAMED_BY_LOOKUP
    ]
    assert false == []
    # a resource the clean run judged and this run did not is covered by an `error` of its check for it, or
    # for every resource ("*"), in its region or account-wide (a bucket whose region could not be read is
    # `error` under "global"; an unlisted population is "*")
    erred = {(f["check_id"], f["account"], f["region"], f["resource_id"]) for f in errors}

    def covered(check: str, account: str, region: str, resource: str) -> bool:
        return any(
            (check, a, r, i) in erred
            for a in (account, "*")
            for r in (region, "global", "*")
            for i in (resource, parent(resource), "*")
        )

    # an account whose region discovery was throttled: its enabled regions are unknown, so the run examined the
    # regions every account has enabled by default, and aws.scope.region_coverage is `error` ("*") for it; an
    # opt-in region's findings (eu-south-1 in the demo) are then covered by that error, as the manifest says
    fallback = {
        a["id"]: set(a["regions"]) for a in got.manifest["scope"]["aws_accounts"] if a["regions_basis"] == "fallback"
    }
    scope_erred = {a for c, a, _, i in erred if c == "aws.scope.region_coverage" and i == "*"}

    def unexamined(account: str, region: str) -> bool:
        return account in fallback and account in scope_erred and region not in fallback[account] | {"global"}

    vanished = [
        k
        for k in before
        if k not in after
        and not covered(k[0], k[1], k[2], k[4])
        and not unexamined(k[1], k[2])
        and k[0] not in NAMED_BY_LOOKUP
    ]
    assert vanished == []
    # checks whose resources are named by other calls: never more of a verdict than the clean run gave, and
    # fewer only beside an `error` of the check in that account
    for check in NAMED_BY_LOOKUP:
        for account in {f["account"] for f in clean.findings if f["check_id"] == check}:
            was, now = (
                Counter(f["status"] for f in fs if f["check_id"] == check and f["account"] == account)
                for fs in (clean.findings, got.findings)
            )
            for status in ("pass", "fail", "not_applicable", "excepted"):
                assert now[status] <= was[status], (check, account, status, was, now)
            if sum(now.values()) - now["error"] < sum(was.values()):
                assert now["error"] > 0, (check, account, was, now)


def test_a_burst_of_internal_errors_that_clears_gives_the_clean_runs_verdicts(estate, clean: Run, capsys) -> None:
    operations = sorted(clean.counts)

    def burst(moto: MotoEmulator) -> None:  # the first 2 requests of every operation answer 500
        for operation in operations:
            moto.add_fault(FaultRule(operation, code="InternalError", status=500, message="try again", times=2))

    got = run(estate, capsys, "internal-errors", faults=burst)
    report(capsys, f"InternalError burst: {sum(got.faulted.values())} of {sum(got.counts.values())} requests")
    assert got.code == 0, got.err
    assert got.faulted == dict.fromkeys(operations, 2)  # the whole burst was answered, then it cleared
    assert got.throttled == {}
    assert verdicts(got.run_dir) == verdicts(clean.run_dir), differences(verdicts(clean.run_dir), verdicts(got.run_dir))


def test_a_failed_organization_discovery_makes_every_check_error_access_reviews_included(
    estate, clean: Run, capsys
) -> None:
    """The accounts Organizations would have listed are unknown: every AWS check, and every access-review
    check (they were missing before), is `error` in account "*" naming organizations:ListAccounts."""
    _, demo, _ = estate
    prod = demo.accounts["prod"]

    def deny(moto: MotoEmulator) -> None:
        moto.add_fault(FaultRule("ListAccounts", code="AccessDeniedException", status=400, service="organizations"))

    def one_account(body: dict[str, Any]) -> None:  # configured besides discovery: preflight only warns
        body["aws"]["accounts"] = [{"id": prod, "name": "dexo-prod", "role_arn": demo.role_arn("prod")}]

    got = run(estate, capsys, "discovery-denied", faults=deny, edit=one_account)
    assert got.code == 3, got.err
    assert "cannot list the organization's accounts (organizations:ListAccounts)" in got.err
    star = [f for f in got.findings if f["account"] == "*"]
    assert {f["status"] for f in star} == {"error"}
    assert {f["observed"]["missing_permission"] for f in star} == {"organizations:ListAccounts"}
    providers = {f["provider"] for f in star}
    assert providers == {"aws", "access_review"}
    checks = {f["check_id"] for f in star}
    assert {f["check_id"] for f in clean.findings if f["provider"] == "access_review"} <= checks

    # the configured account is assessed as in the clean run
    def mine(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [f for f in findings if f["account"] == prod and f["provider"] == "aws"]

    assert mine(got.findings) and by_resource(mine(got.findings)) == by_resource(mine(clean.findings))
