"""Region scope: which regions an account has enabled, and whether the run accounted for each.

The collector `aws.scope` runs once per account before the regional fan-out (flows.regions
plans the regions from its answers), so it is marked `stage="scope"` and never submitted as an
ordinary collect task. Its evidence is the account's `ec2:DescribeRegions` answer (AllRegions,
so every region comes with its OptInStatus), `account:ListRegions` where the account API answers
(opt-in status as the Account Management API reports it: ENABLING/DISABLING are visible there
only) and the run's own scope decision, recorded as a `soc2-evidence:RegionScope` record: the
configured regions, the exclusions with their reasons and the regions examined. The check
`aws.scope.region_coverage` reads only these, so `soc2-evidence evaluate` reproduces it.

API cost per account: DescribeRegions 1 call, ListRegions 1 call per 50 regions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from collectors.evidence import ApiCall, ApiError, EvidenceBundle
from collectors.registry import CheckContext, CollectorSpec, FetchContext, check, register_collector
from controls import CheckResult, Severity

COLLECTOR = "aws.scope"
TOOL_SERVICE = "soc2-evidence"
DECISION_OPERATION = "RegionScope"

OPERATIONS = {
    "ec2:DescribeRegions": "ec2:DescribeRegions",
    "account:ListRegions": "account:ListRegions",
}

# DescribeRegions' OptInStatus values of a region the account can use.
# https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Region.html
ENABLED_OPT_IN = frozenset({"opt-in-not-required", "opted-in"})

# Region name prefixes of the partitions other than "aws"; a partition's DescribeRegions never
# lists another partition's regions, but an emulator may: they are not this account's regions.
PARTITION_PREFIXES: tuple[tuple[str, str], ...] = (
    ("cn-", "aws-cn"),
    ("us-gov-", "aws-us-gov"),
    ("us-isob-", "aws-iso-b"),
    ("us-isof-", "aws-iso-f"),
    ("eu-isoe-", "aws-iso-e"),
    ("us-iso-", "aws-iso"),
)

LIST_REGIONS_PAGE = 50  # account:ListRegions maximum

# account:ListRegions RegionOptStatus values of a region the account can use (ENABLING and DISABLING are
# not settled), in DescribeRegions' OptInStatus words.
# https://docs.aws.amazon.com/accounts/latest/reference/API_Region.html
LISTED_ENABLED = {"ENABLED_BY_DEFAULT": "opt-in-not-required", "ENABLED": "opted-in"}


def region_partition(region: str) -> str:
    """The partition a region name belongs to (by its prefix)."""
    return next((p for prefix, p in PARTITION_PREFIXES if region.startswith(prefix)), "aws")


def fetch(ctx: FetchContext) -> None:
    """DescribeRegions (AllRegions) and, where the Account API answers, ListRegions."""
    rec = ctx.recorder
    ec2 = ctx.client("ec2")
    rec.call("ec2", "DescribeRegions", ec2.describe_regions, AllRegions=True)
    account = ctx.client("account")
    rec.paginate("account", "ListRegions", account.list_regions, "NextToken", "NextToken", MaxResults=LIST_REGIONS_PAGE)


register_collector(
    CollectorSpec(
        id=COLLECTOR,
        provider="aws",
        service="ec2",
        per_region=False,
        operations=OPERATIONS,
        fetch=fetch,
        description="The account's regions and their opt-in status, and the run's region scope decision",
        stage="scope",
    )
)


def enabled_regions(call: ApiCall, partition: str) -> dict[str, str]:
    """Region -> OptInStatus of the regions enabled for the account, in its partition."""
    out = {}
    for region in (call.response or {}).get("Regions", []):
        name = str(region.get("RegionName", ""))
        status = str(region.get("OptInStatus", "opt-in-not-required"))  # absent: a region enabled by default
        if name and status in ENABLED_OPT_IN and region_partition(name) == partition:
            out[name] = status
    return dict(sorted(out.items()))


def account_opt_status(bundle: EvidenceBundle) -> dict[str, str]:
    """Region -> RegionOptStatus from account:ListRegions (empty when it did not answer)."""
    out = {}
    for page in bundle.all("account", "ListRegions"):
        for region in (page.response or {}).get("Regions", []) if page.ok else []:
            out[str(region.get("RegionName"))] = str(region.get("RegionOptStatus"))
    return out


def enabled_from_listing(bundle: EvidenceBundle, partition: str) -> dict[str, str] | None:
    """Region -> OptInStatus of the enabled regions by account:ListRegions, or None unless every page answered.

    The account's enabled regions when ec2:DescribeRegions failed but the Account API answered, so an
    opt-in region is still examined; a listing with a failed page could drop regions, so it is not used."""
    pages = bundle.all("account", "ListRegions")
    if not pages or not all(page.ok for page in pages):
        return None
    out = {}
    for page in pages:
        for region in (page.response or {}).get("Regions", []):
            name, status = str(region.get("RegionName", "")), str(region.get("RegionOptStatus"))
            if name and status in LISTED_ENABLED and region_partition(name) == partition:
                out[name] = LISTED_ENABLED[status]
    return dict(sorted(out.items()))


def first(bundle: EvidenceBundle, service: str, operation: str) -> ApiCall | None:
    """The recorded call of an operation made once per account, whatever its parameters."""
    calls = bundle.all(service, operation)
    return calls[0] if calls else None


def _not_collected(operation: str, permission: str | None) -> ApiCall:
    service = "ec2" if operation == "DescribeRegions" else TOOL_SERVICE
    error = ApiError("NotCollected", f"no recorded {operation} answer for this account", permission)
    return ApiCall(service, operation, {}, "", None, error)


@check(
    id="aws.scope.region_coverage",
    collector=COLLECTOR,
    title="Every enabled region of every account is examined or excluded with a reason",
    description="Each region the account has enabled (ec2:DescribeRegions OptInStatus opt-in-not-required or "
    "opted-in) is either one of the regions this run examined or named in aws.exclude_regions with a reason. "
    "An enabled region that is neither was skipped silently: its resources produced no finding at all.",
    severity=Severity.HIGH,
    resource_type="AWS::Region",
    permissions=["ec2:DescribeRegions", "account:ListRegions"],
    remediation="Remove aws.regions (and aws.accounts[].regions) so every enabled region is examined, add the "
    "region to the list, or name it in aws.exclude_regions with the reason it holds no in-scope systems "
    "(an unused region is best disabled, or denied by an SCP, and then excluded).",
    risk="Resources in a region nobody examined are outside the evidence: an auditor reads 'no failures' "
    "where nobody looked.",
)
def region_coverage(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    decision = first(bundle, TOOL_SERVICE, DECISION_OPERATION)
    ev = bundle.refs_for(("ec2", "DescribeRegions"), ("account", "ListRegions"), (TOOL_SERVICE, DECISION_OPERATION))
    if decision is None or not decision.ok:
        yield ctx.error(decision or _not_collected(DECISION_OPERATION, None), "*", evidence=ev)
        return
    params: Mapping[str, Any] = decision.params
    answer: Mapping[str, Any] = decision.response or {}
    examined = [str(r) for r in answer.get("examined", [])]
    excluded = {str(e["region"]): str(e["reason"]) for e in params.get("exclude_regions", [])}
    configured = params.get("configured_regions")
    expected = {"every_enabled_region": "examined, or excluded in aws.exclude_regions with a reason"}
    recorded = first(bundle, "ec2", "DescribeRegions")
    call = recorded or _not_collected("DescribeRegions", OPERATIONS["ec2:DescribeRegions"])
    partition = str(params.get("partition") or "aws")
    # a failed DescribeRegions falls back on a complete ListRegions answer, as the run's plan did (a missing
    # DescribeRegions record is incomplete evidence: an error)
    listed_enabled = enabled_from_listing(bundle, partition) if recorded is not None and not call.ok else None
    if not call.ok and listed_enabled is None:
        # The enabled regions are unknown: say which regions were examined instead, never a pass.
        result = ctx.error(call, "*", evidence=ev, expected=expected)
        observed = {
            **result.observed,
            "regions_examined": examined,
            "regions_basis": answer.get("basis"),
            "regions_excluded": excluded,
        }
        reason = f"{result.reason}; the enabled regions are unknown, examined instead: {', '.join(examined) or 'none'}"
        if answer.get("basis_note"):
            reason += f" ({answer['basis_note']})"
        yield ctx.result(
            result.status, "*", observed=observed, expected=expected, reason=reason, evidence=ev, region=result.region
        )
        return
    enabled = enabled_regions(call, partition) if listed_enabled is None else listed_enabled
    failed = call.error.code if call.error else "failed"
    source = {} if call.ok else {"enabled_regions_from": f"account:ListRegions (ec2:DescribeRegions {failed})"}
    opt_status = account_opt_status(bundle)
    listed = set(examined)
    for region, status in enabled.items():
        observed = {
            "opt_in_status": status,
            "account_region_opt_status": opt_status.get(region),
            "examined": region in listed,
            "excluded_reason": excluded.get(region),
            "configured_regions": configured,
            **source,
        }
        if region in listed:
            yield ctx.passed(
                region, region=region, evidence=ev, expected=expected, observed=observed, reason="examined by this run"
            )
        elif region in excluded:
            yield ctx.passed(
                region,
                region=region,
                evidence=ev,
                expected=expected,
                observed=observed,
                reason=f"not examined: excluded in aws.exclude_regions ({excluded[region]})",
            )
        else:
            why = "not in the configured regions" if configured is not None else "not examined"
            yield ctx.failed(
                region,
                region=region,
                evidence=ev,
                expected=expected,
                observed=observed,
                reason=f"enabled region {region} was not examined ({why}) and is not in aws.exclude_regions",
            )
    for region in sorted(listed - set(enabled)):
        # Examined although not enabled (an explicit list naming an opt-in region): its collectors
        # report their own errors; listed here so the population shows every region the run touched.
        observed = {"opt_in_status": "not enabled", "examined": True, "configured_regions": configured}
        yield ctx.not_applicable(
            region,
            region=region,
            evidence=ev,
            expected=expected,
            observed=observed,
            reason=f"examined, but {region} is not enabled for this account (not listed as enabled by DescribeRegions)",
        )
