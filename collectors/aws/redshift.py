"""Redshift: every provisioned cluster is encrypted at rest and requires SSL from clients.

``Encrypted`` comes from DescribeClusters; ``require_ssl`` from the cluster's
parameter group (DescribeClusterParameters, the whole listing, so AWS's engine
default is read as AWS reports it, with ``Source`` ``engine-default``). If the
answer does not list require_ssl at all, the documented default ``false``
applies ("By default, cluster databases accept a connection whether it uses SSL
or not. To configure your cluster to require an SSL connection, set the
require_SSL parameter to true": docs.aws.amazon.com/redshift/latest/mgmt/
connecting-ssl-support.html) and ``observed["value_source"]`` says it is
modelled: never a pass. A parameter change waiting for a reboot
(``ParameterApplyStatus`` pending-reboot) is reported alongside.

Redshift Serverless workgroups are not listed by this API and not assessed.

API cost per region: DescribeClusters 1 call per 100 clusters,
DescribeClusterParameters 1 call per 100 parameters of each distinct parameter
group in use (a handful of pages per group, shared by its clusters).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from collectors.evidence import ApiCall, ApiError, EvidenceBundle, listing_error
from collectors.registry import CheckContext, CollectorSpec, FetchContext, check, register_collector
from controls import CheckResult, Severity

OPERATIONS = {
    "redshift:DescribeClusters": "redshift:DescribeClusters",
    "redshift:DescribeClusterParameters": "redshift:DescribeClusterParameters",
}
PAGE_SIZE = 100  # MaxRecords maximum of both listings
REQUIRE_SSL = "require_ssl"
DEFAULT_REQUIRE_SSL = "false"


def parameter_group(cluster: dict[str, Any]) -> tuple[str | None, str | None]:
    """(the cluster's parameter group, its apply status)."""
    groups = cluster.get("ClusterParameterGroups") or []
    if not groups:
        return None, None
    return groups[0].get("ParameterGroupName"), groups[0].get("ParameterApplyStatus")


def fetch(ctx: FetchContext) -> None:
    rec = ctx.recorder
    rs = ctx.client("redshift")
    pages = rec.paginate("redshift", "DescribeClusters", rs.describe_clusters, "Marker", "Marker", MaxRecords=PAGE_SIZE)
    in_use = [parameter_group(c)[0] for p in pages if p.ok for c in (p.response or {}).get("Clusters", [])]
    groups = sorted({g for g in in_use if g})
    ctx.map(
        lambda name: rec.paginate(
            "redshift",
            "DescribeClusterParameters",
            rs.describe_cluster_parameters,
            "Marker",
            "Marker",
            ParameterGroupName=name,
            MaxRecords=PAGE_SIZE,
        ),
        groups,
    )


register_collector(
    CollectorSpec(
        id="aws.redshift",
        provider="aws",
        service="redshift",
        per_region=True,
        operations=OPERATIONS,
        fetch=fetch,
        description="Redshift provisioned clusters and their parameter groups, per region",
    )
)


def _not_collected(operation: str, params: dict[str, Any], what: str) -> ApiCall:
    error = ApiError("NotCollected", f"no recorded {operation} answer for {what}", OPERATIONS[f"redshift:{operation}"])
    return ApiCall("redshift", operation, params, "", None, error)


def _require_ssl(bundle: EvidenceBundle, group: str) -> tuple[dict[str, Any] | None, ApiCall | None]:
    """(the require_ssl entry of the group's listing or None, the failed call if the listing is incomplete)."""
    pages = [
        c for c in bundle.all("redshift", "DescribeClusterParameters") if c.params.get("ParameterGroupName") == group
    ]
    if not pages:
        params = {"ParameterGroupName": group, "MaxRecords": PAGE_SIZE}
        return None, _not_collected("DescribeClusterParameters", params, f"parameter group {group}")
    for page in pages:
        for entry in (page.response or {}).get("Parameters") or []:
            if entry.get("ParameterName") == REQUIRE_SSL:
                return entry, None
    return None, listing_error(pages)


@check(
    id="aws.redshift.encryption",
    collector="aws.redshift",
    title="Redshift clusters are encrypted at rest and require SSL",
    description="Every provisioned Redshift cluster is encrypted (Encrypted, with its KMS key) and its parameter "
    "group sets require_ssl to true; whether require_ssl is set, an engine default reported by AWS, or the "
    "documented default (false) is observed.",
    severity=Severity.HIGH,
    resource_type="AWS::Redshift::Cluster",
    permissions=["redshift:DescribeClusters", "redshift:DescribeClusterParameters"],
    remediation="At rest: aws redshift modify-cluster --cluster-identifier ID --encrypted [--kms-key-id KEY] "
    "(Redshift migrates the data). In transit: use a custom parameter group, aws redshift "
    "modify-cluster-parameter-group --parameter-group-name GROUP --parameters "
    "ParameterName=require_ssl,ParameterValue=true, then reboot the cluster (require_ssl is static).",
    risk="The warehouse holds the broadest copy of customer data: unencrypted blocks and backups, or SQL clients "
    "connecting without TLS, expose all of it.",
)
def redshift_encryption(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    expected = {"encrypted": True, "require_ssl": "true"}
    pages = bundle.all("redshift", "DescribeClusters")
    failed = (
        listing_error(pages) if pages else _not_collected("DescribeClusters", {"MaxRecords": PAGE_SIZE}, "clusters")
    )
    if failed is not None:
        yield ctx.error(failed, evidence=bundle.ref("redshift", "DescribeClusters"), expected=expected)
    ev = bundle.refs_for(("redshift", "DescribeClusters"), ("redshift", "DescribeClusterParameters"))
    for cluster in (c for page in pages for c in (page.response or {}).get("Clusters", [])):
        name = cluster["ClusterIdentifier"]
        group, apply_status = parameter_group(cluster)
        entry, failed_call = _require_ssl(bundle, group) if group else (None, None)
        if failed_call is not None:
            yield ctx.error(failed_call, name, evidence=ev, expected=expected)
            continue
        if entry is not None and entry.get("ParameterValue") is not None:
            value = str(entry["ParameterValue"])
            source = "set" if entry.get("Source") == "user" else "engine default (reported by AWS)"
        else:
            value, source = DEFAULT_REQUIRE_SSL, "engine default (modelled)"
        encrypted = bool(cluster.get("Encrypted"))
        ssl = value.strip().lower() == "true"
        observed = {
            "encrypted": encrypted,
            "kms_key_id": cluster.get("KmsKeyId") if encrypted else None,
            "parameter_group": group,
            "parameter_apply_status": apply_status,
            "require_ssl": value,
            "value_source": source,
            "status": cluster.get("ClusterStatus"),
            "publicly_accessible": cluster.get("PubliclyAccessible"),
        }
        gaps = []
        if not encrypted:
            gaps.append("not encrypted at rest")
        if not ssl:
            gaps.append(
                f"require_ssl = {value} ({source}) in {group or 'no parameter group'}: clients may connect without TLS"
            )
        if apply_status and apply_status != "in-sync":
            observed["note"] = f"parameter group changes {apply_status}: the running value may differ until reboot"
        if gaps:
            yield ctx.failed(name, evidence=ev, expected=expected, observed=observed, reason="; ".join(gaps))
        else:
            reason = f"encrypted with {observed['kms_key_id'] or 'a KMS key'}; require_ssl = true ({source})"
            yield ctx.passed(name, evidence=ev, expected=expected, observed=observed, reason=reason)
