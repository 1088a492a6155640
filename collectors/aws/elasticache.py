"""ElastiCache: encryption at rest and in transit of every replication group and every
standalone cache cluster (one that belongs to no replication group).

What passes, from AWS's ElastiCache documentation (at-rest-encryption.html,
in-transit-encryption.html):

- Valkey / Redis OSS replication groups: ``AtRestEncryptionEnabled`` and
  ``TransitEncryptionEnabled`` with ``TransitEncryptionMode`` ``required``.
  ``preferred`` accepts plain-text clients alongside TLS ones (a migration state)
  and fails. A group with transit encryption on and no mode reported predates
  the setting, when TLS was always required.
- Standalone Valkey / Redis OSS clusters: at-rest encryption exists only for
  replication groups, so such a cluster fails at rest (its backups are written
  unencrypted), naming that reason.
- Memcached clusters keep data in memory only (no backups, no at-rest
  encryption exists): only transit encryption (Memcached 1.6.12+) is assessed.

Cache clusters that are members of a replication group are assessed through
their group. Serverless caches (always encrypted) are not listed here.

API cost per region: DescribeReplicationGroups 1 call per 100 groups,
DescribeCacheClusters 1 call per 100 clusters. Nothing is called per resource.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from collectors.evidence import ApiCall, ApiError, EvidenceBundle, listing_error
from collectors.registry import CheckContext, CollectorSpec, FetchContext, check, register_collector
from controls import CheckResult, Severity

OPERATIONS = {
    "elasticache:DescribeReplicationGroups": "elasticache:DescribeReplicationGroups",
    "elasticache:DescribeCacheClusters": "elasticache:DescribeCacheClusters",
}

PAGE_SIZE = 100  # MaxRecords maximum of both listings
GROUP_TYPE = "AWS::ElastiCache::ReplicationGroup"
CLUSTER_TYPE = "AWS::ElastiCache::CacheCluster"


def fetch(ctx: FetchContext) -> None:
    rec = ctx.recorder
    ec = ctx.client("elasticache")
    rec.paginate(
        "elasticache",
        "DescribeReplicationGroups",
        ec.describe_replication_groups,
        "Marker",
        "Marker",
        MaxRecords=PAGE_SIZE,
    )
    rec.paginate(
        "elasticache", "DescribeCacheClusters", ec.describe_cache_clusters, "Marker", "Marker", MaxRecords=PAGE_SIZE
    )


register_collector(
    CollectorSpec(
        id="aws.elasticache",
        provider="aws",
        service="elasticache",
        per_region=True,
        operations=OPERATIONS,
        fetch=fetch,
        description="ElastiCache replication groups and standalone cache clusters, per region",
    )
)


def _listing(bundle: EvidenceBundle, operation: str) -> tuple[list[dict[str, Any]], ApiCall | None]:
    """(items of the successful pages, the failed or missing call)."""
    key = "ReplicationGroups" if operation == "DescribeReplicationGroups" else "CacheClusters"
    pages = bundle.all("elasticache", operation)
    found = [item for page in pages for item in (page.response or {}).get(key, [])]
    if pages:
        return found, listing_error(pages)
    error = ApiError("NotCollected", f"no recorded {operation} answer", OPERATIONS[f"elasticache:{operation}"])
    return found, ApiCall("elasticache", operation, {"MaxRecords": PAGE_SIZE}, "", None, error)


def _gaps(item: dict[str, Any], standalone: bool) -> tuple[dict[str, Any], list[str]]:
    """(observed, what is missing) for a replication group or a standalone cluster."""
    engine = (item.get("Engine") or "redis").lower()
    memcached = engine == "memcached"
    at_rest = bool(item.get("AtRestEncryptionEnabled"))
    transit = bool(item.get("TransitEncryptionEnabled"))
    mode = item.get("TransitEncryptionMode")
    effective_mode = (mode or "required") if transit else None
    observed = {
        "engine": engine,
        "engine_version": item.get("EngineVersion"),
        "at_rest_encryption": None if memcached else at_rest,
        "kms_key_id": item.get("KmsKeyId"),
        "transit_encryption": transit,
        "transit_encryption_mode": mode,
        "auth_token_enabled": item.get("AuthTokenEnabled"),
        "status": item.get("Status") or item.get("CacheClusterStatus"),
    }
    gaps = []
    if memcached:
        observed["at_rest_note"] = "Memcached keeps data in memory only: no at-rest encryption exists"
    elif not at_rest:
        gaps.append(
            "at-rest encryption off (only replication groups can have it: recreate as a replication group)"
            if standalone
            else "at-rest encryption off"
        )
    if not transit:
        gaps.append("in-transit encryption off")
    elif effective_mode != "required":
        gaps.append(f"in-transit encryption mode {mode}: plain-text connections are still accepted")
    return observed, gaps


@check(
    id="aws.elasticache.encryption",
    collector="aws.elasticache",
    title="ElastiCache caches encrypt data at rest and require TLS in transit",
    description="Every replication group and every standalone cache cluster has at-rest encryption (Valkey / Redis "
    "OSS) and in-transit encryption in 'required' mode ('preferred' still accepts plain text); Memcached clusters "
    "are assessed in transit only. Members of a replication group are assessed through their group.",
    severity=Severity.HIGH,
    resource_type=GROUP_TYPE,
    permissions=["elasticache:DescribeReplicationGroups", "elasticache:DescribeCacheClusters"],
    remediation="In transit: aws elasticache modify-replication-group --replication-group-id ID "
    "--transit-encryption-enabled --transit-encryption-mode preferred, move clients to TLS, then modify again with "
    "--transit-encryption-mode required. At rest cannot be enabled in place: back up, create a new replication "
    "group with --at-rest-encryption-enabled [--kms-key-id KEY] from the backup, and cut over.",
    risk="Cached sessions, tokens and query results cross the network in plain text, and backups and swap files "
    "hold them unencrypted.",
)
def elasticache_encryption(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    expected = {"at_rest_encryption": True, "transit_encryption": True, "transit_encryption_mode": "required"}
    for operation, resource_type, id_field in (
        ("DescribeReplicationGroups", GROUP_TYPE, "ReplicationGroupId"),
        ("DescribeCacheClusters", CLUSTER_TYPE, "CacheClusterId"),
    ):
        standalone = resource_type == CLUSTER_TYPE
        ev = bundle.ref("elasticache", operation)
        found, failed = _listing(bundle, operation)
        if failed is not None:
            yield ctx.error(failed, evidence=ev, expected=expected, resource_type=resource_type)
        for item in found:
            if standalone and item.get("ReplicationGroupId"):
                continue  # a member: its group's result covers it
            identifier = item.get(id_field)
            observed, gaps = _gaps(item, standalone)
            observed["identifier"] = identifier
            kind = "cluster" if standalone else "replication group"
            common: dict[str, Any] = {
                "resource_type": resource_type,
                "evidence": ev,
                "expected": expected,
                "observed": observed,
            }
            if gaps:
                yield ctx.failed(
                    item.get("ARN") or identifier, reason=f"{kind} {identifier}: {'; '.join(gaps)}", **common
                )
            else:
                rest = "" if observed["engine"] == "memcached" else "encrypted at rest, "
                yield ctx.passed(
                    item.get("ARN") or identifier,
                    reason=f"{kind} {identifier}: {rest}TLS required in transit",
                    **common,
                )
