"""Which regions a run examines in each AWS account, decided per account before the fan-out.

Without an explicit region list (`aws.regions` / `aws.accounts[].regions`) a run examines every
region the account has enabled (ec2:DescribeRegions), minus `aws.exclude_regions`; an explicit
list wins. The answers and the decision are recorded as the evidence of the `aws.scope`
collector (collectors.aws.scope), whose check `aws.scope.region_coverage` then says, per
enabled region, whether it was examined or excluded with a reason. When discovery fails the run
examines the regions every account has enabled by default and says so: never silently one region.

The plan of each account also feeds the manifest (`scope.aws_accounts[]`), the workbook's
Cover and the console summary: the regions examined and the enabled regions that were not, why.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from botocore.session import get_session
from prefect import task
from prefect.cache_policies import NO_CACHE

from collectors.aws import scope as region_scope
from collectors.aws.base import GLOBAL_REGION, AssumeRoleError, AwsFetchContext, AwsTuning, classify_error, session_for
from collectors.evidence import ApiCall, Recorder, Scope, utc_now_iso
from collectors.registry import checks_for, collector_spec
from flows.accounts import AccountTarget, Identity
from flows.collect import ScopeOutcome, evaluate_bundle, write_bundle
from reports.store import RunWriter

# The regions AWS enables in every account of the commercial partition: those launched before
# 20 March 2019 ("Regions introduced before March 20, 2019 are enabled by default and cannot be
# disabled", https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-regions.html).
# Examined when DescribeRegions fails, so a denied discovery still covers every region that is
# certainly enabled (and says so), rather than one.
DEFAULT_ENABLED_REGIONS: tuple[str, ...] = (
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
)
# Where DescribeRegions is asked, per partition.
HOME_REGION = {"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}
SCOPE_COLLECTOR = region_scope.COLLECTOR


@dataclass(frozen=True)
class RegionPlan:
    """The regions one account's collectors run in, and the enabled regions they skip (why)."""

    account: str
    examined: tuple[str, ...]
    basis: str  # "enabled" | "configured" | "fallback" | "unreachable"
    enabled: tuple[str, ...] | None = None  # None: unknown (discovery failed or not attempted)
    not_examined: tuple[tuple[str, str], ...] = ()  # (region, why)
    discovery_error: str | None = None  # "ec2:DescribeRegions: AccessDenied: ..."
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        """The keys added to the account's entry in the manifest's scope."""
        return {
            "regions": list(self.examined),
            "regions_basis": self.basis,
            "regions_enabled": None if self.enabled is None else list(self.enabled),
            "regions_not_examined": [{"region": r, "why": why} for r, why in self.not_examined],
            "regions_discovery_error": self.discovery_error,
            "regions_note": self.note,
        }


def partition_of(arn: str | None) -> str:
    parts = (arn or "").split(":")
    return parts[1] if len(parts) > 1 and parts[1] else "aws"


def fallback_regions(partition: str) -> tuple[str, ...]:
    """Regions certainly enabled in an account of the partition (no opt-in regions)."""
    if partition == "aws":
        return DEFAULT_ENABLED_REGIONS
    # aws-cn and aws-us-gov have no opt-in regions: botocore's list of the partition
    return tuple(sorted(get_session().get_available_regions("ec2", partition_name=partition)))


def decide(
    target: AccountTarget,
    partition: str,
    excluded: Mapping[str, str],
    describe: ApiCall | None,
    listing: Mapping[str, str] | None = None,
) -> RegionPlan:
    """The plan from the configured list, the exclusions and the DescribeRegions answer (or, when that
    failed, the enabled regions of a complete account:ListRegions answer: `listing`)."""
    configured = tuple(target.regions)
    enabled: tuple[str, ...] | None = None
    error = None
    note = ""
    if describe is not None and describe.ok:
        enabled = tuple(region_scope.enabled_regions(describe, partition))
    elif describe is not None and describe.error is not None:
        error = f"{describe.error.permission or 'ec2:DescribeRegions'}: {describe.error.code}: {describe.error.message}"
    if enabled is None and listing is not None:
        enabled = tuple(listing)
        note = "ec2:DescribeRegions failed: the enabled regions are account:ListRegions' answer"
    if configured:
        basis, examined = "configured", configured
    elif enabled is not None:
        basis, examined = "enabled", tuple(r for r in enabled if r not in excluded)
    else:
        basis = "fallback"
        examined = tuple(r for r in fallback_regions(partition) if r not in excluded)
        note = (
            "region discovery failed: examined the regions every account has enabled by default; opt-in regions unknown"
        )
    skipped: list[tuple[str, str]] = []
    for region in enabled if enabled is not None else sorted(excluded):
        if region in examined:
            continue
        if region in excluded:
            skipped.append((region, f"excluded: {excluded[region]}"))
        else:
            skipped.append((region, "not in the configured regions"))
    if enabled is None and basis != "fallback":
        note = "region discovery failed: enabled regions not in the configured list are unknown"
    return RegionPlan(target.id, examined, basis, enabled, tuple(skipped), error, note)


def decision_record(plan: RegionPlan, target: AccountTarget, partition: str, excluded: Mapping[str, str]) -> ApiCall:
    """The run's scope decision, stored with the DescribeRegions answer so `evaluate` can redo the check."""
    params = {
        "partition": partition,
        "configured_regions": list(target.regions) or None,
        "exclude_regions": [{"region": r, "reason": why} for r, why in sorted(excluded.items())],
    }
    answer = {"examined": list(plan.examined), "basis": plan.basis, "basis_note": plan.note}
    return ApiCall(region_scope.TOOL_SERVICE, region_scope.DECISION_OPERATION, params, utc_now_iso(), answer)


def plan_account(
    target: AccountTarget,
    partition: str,
    excluded: Mapping[str, str],
    *,
    run_path: str,
    thresholds: Mapping[str, Mapping[str, Any]],
    as_of: datetime,
    tuning: AwsTuning,
) -> tuple[ScopeOutcome, RegionPlan]:
    """Discover the account's regions, decide, record both as `aws.scope` evidence, evaluate."""
    started = time.monotonic()
    scope = Scope("aws", target.id, GLOBAL_REGION, SCOPE_COLLECTOR)
    rec = Recorder(scope, region_scope.OPERATIONS, classify_error)
    try:
        session = session_for(target.role_arn, tuning)
    except AssumeRoleError as exc:
        rec.record("ec2", "DescribeRegions", {"AllRegions": True}, error=exc.error)
    else:
        home = HOME_REGION.get(partition) or (target.regions[0] if target.regions else "us-east-1")
        region_scope.fetch(AwsFetchContext(session, target.id, home, rec, tuning))
    describe = region_scope.first(rec.bundle, "ec2", "DescribeRegions")
    listing = region_scope.enabled_from_listing(rec.bundle, partition) if describe is not None else None
    plan = decide(target, partition, excluded, describe, listing)
    rec.bundle.add(decision_record(plan, target, partition, excluded))
    files = write_bundle(rec.bundle, RunWriter(Path(run_path)))
    results = evaluate_bundle(rec.bundle, checks_for(SCOPE_COLLECTOR), thresholds, as_of)
    spec = collector_spec(SCOPE_COLLECTOR)
    absent = spec.absent_codes if spec else frozenset()
    failed = sum(1 for calls in rec.bundle.calls.values() for c in calls if c.error and c.error.code not in absent)
    status = "ok" if failed == 0 else ("partial" if failed < rec.api_calls else "error")
    outcome = ScopeOutcome(
        scope,
        results,
        evidence=files,
        status=status,
        api_calls=rec.api_calls,
        failed_calls=failed,
        duration_s=time.monotonic() - started,
        message=plan.discovery_error or "",
    )
    return outcome, plan


@task(
    name="plan-regions",
    retries=1,
    retry_delay_seconds=1,
    task_run_name="regions/{target.id}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def plan_regions_task(
    target: AccountTarget,
    partition: str,
    excluded: Mapping[str, str],
    run_path: str,
    thresholds: Mapping[str, Mapping[str, Any]],
    as_of: datetime,
    tuning: AwsTuning,
) -> tuple[ScopeOutcome, RegionPlan]:
    return plan_account(
        target, partition, excluded, run_path=run_path, thresholds=thresholds, as_of=as_of, tuning=tuning
    )


def plan_regions(
    runner: Any,
    targets: Sequence[AccountTarget],
    identities: Mapping[str, Identity],
    excluded: Mapping[str, str],
    *,
    run_path: str,
    thresholds: Mapping[str, Mapping[str, Any]],
    as_of: datetime,
    tuning: AwsTuning,
) -> tuple[dict[str, RegionPlan], list[ScopeOutcome]]:
    """One plan per account (in parallel on the run's task runner), with the `aws.scope` outcomes.

    An account that could not be entered gets an "unreachable" plan (its configured regions, if
    any): its collectors are reported as `error` by the caller, aws.scope included."""
    futures = {}
    for t in targets:
        ident = identities[t.id]
        if ident.ok:
            params = {
                "target": t,
                "partition": partition_of(ident.arn),
                "excluded": dict(excluded),
                "run_path": run_path,
                "thresholds": thresholds,
                "as_of": as_of,
                "tuning": tuning,
            }
            futures[t.id] = runner.submit(plan_regions_task, params)
    plans: dict[str, RegionPlan] = {}
    outcomes: list[ScopeOutcome] = []
    for t in targets:
        fut = futures.get(t.id)
        if fut is None:
            plans[t.id] = RegionPlan(t.id, tuple(t.regions), "unreachable", note="the account could not be entered")
            continue
        fut.wait()
        if fut.state.is_completed():
            outcome, plan = fut.result()
            outcomes.append(outcome)
        else:  # crashed twice: the configured regions, or the default-enabled ones, and say so
            from flows.collect import crashed_outcome

            outcomes.append(crashed_outcome(Scope("aws", t.id, GLOBAL_REGION, SCOPE_COLLECTOR), str(fut.state.message)))
            plan = decide(t, partition_of(identities[t.id].arn), excluded, None)
            plan = RegionPlan(
                t.id, plan.examined, plan.basis, None, plan.not_examined, "region planning crashed", plan.note
            )
        plans[t.id] = plan
    return plans, outcomes


def summary_lines(scope: Mapping[str, Any]) -> list[str]:
    """The console's per-account region lines, from the manifest's scope."""
    lines = []
    for account in scope.get("aws_accounts") or []:
        regions = account.get("regions") or []
        label = account.get("id", "?")
        if account.get("name") and account.get("name") != label:
            label = f"{label} ({account['name']})"
        basis = account.get("regions_basis")
        how = {
            "enabled": "every enabled region",
            "configured": "configured list",
            "fallback": "discovery FAILED, default-enabled regions",
            "unreachable": "account not reachable",
        }.get(str(basis), str(basis))
        lines.append(f"  {label}: examined {len(regions)} ({how}): {', '.join(regions) or 'none'}")
        skipped = account.get("regions_not_examined") or []
        if skipped:  # grouped by why: one reason often covers many regions
            groups: dict[str, list[str]] = {}
            for s in skipped:
                groups.setdefault(str(s["why"]), []).append(str(s["region"]))
            lines.append("    not examined: " + "; ".join(f"{', '.join(rs)} ({why})" for why, rs in groups.items()))
        if account.get("regions_discovery_error"):
            lines.append(f"    region discovery failed: {account['regions_discovery_error']}")
        if account.get("regions_note"):
            lines.append(f"    note: {account['regions_note']}")
    return lines
