"""RDS: storage encryption of every DB instance and every DB cluster.

API cost per region: DescribeDBInstances 1 call per 100 instances and
DescribeDBClusters 1 call per 100 clusters. Nothing is called per resource.

Results are keyed by ARN (an instance and a cluster may share an identifier);
the identifier is in `observed`. DescribeDBInstances/DescribeDBClusters also
return Neptune and DocumentDB resources, which are assessed the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from collectors.evidence import ApiCall, ApiError, EvidenceBundle, listing_error
from collectors.registry import CheckContext, CollectorSpec, FetchContext, check, register_collector
from controls import CheckResult, Severity

OPERATIONS = {
    "rds:DescribeDBInstances": "rds:DescribeDBInstances",
    "rds:DescribeDBClusters": "rds:DescribeDBClusters",
}

PAGE_SIZE = 100  # MaxRecords maximum for both listings
INSTANCE_TYPE = "AWS::RDS::DBInstance"
CLUSTER_TYPE = "AWS::RDS::DBCluster"


def fetch(ctx: FetchContext) -> None:
    rec = ctx.recorder
    rds = ctx.client("rds")
    rec.paginate("rds", "DescribeDBInstances", rds.describe_db_instances, "Marker", "Marker", MaxRecords=PAGE_SIZE)
    rec.paginate("rds", "DescribeDBClusters", rds.describe_db_clusters, "Marker", "Marker", MaxRecords=PAGE_SIZE)


register_collector(
    CollectorSpec(
        id="aws.rds",
        provider="aws",
        service="rds",
        per_region=True,
        operations=OPERATIONS,
        fetch=fetch,
        description="RDS/Aurora DB instances and DB clusters, per region",
    )
)


def _listing_failure(bundle: EvidenceBundle, operation: str) -> ApiCall | None:
    """The failed page of a listing, or a stand-in if the listing was never recorded."""
    pages = bundle.all("rds", operation)
    if pages:
        return listing_error(pages)
    error = ApiError("NotCollected", f"no recorded {operation} answer", OPERATIONS[f"rds:{operation}"])
    return ApiCall("rds", operation, {"MaxRecords": PAGE_SIZE}, "", None, error)


def _items(bundle: EvidenceBundle, operation: str, key: str) -> Iterator[dict[str, Any]]:
    for page in bundle.all("rds", operation):
        yield from (page.response or {}).get(key, [])


@check(
    id="aws.rds.storage_encryption",
    collector="aws.rds",
    title="RDS DB instances and clusters encrypt storage at rest",
    description="Every DB instance and DB cluster (Aurora, Multi-AZ DB cluster) has storage encryption enabled; "
    "instances that belong to a cluster are reported too, naming their cluster.",
    severity=Severity.HIGH,
    resource_type=INSTANCE_TYPE,
    permissions=["rds:DescribeDBInstances", "rds:DescribeDBClusters"],
    remediation="Encryption cannot be enabled in place: take a snapshot, copy it with --kms-key-id, restore the "
    "instance/cluster from the encrypted copy and cut over (aws rds copy-db-snapshot / copy-db-cluster-snapshot).",
    risk="Database storage, backups and snapshots hold customer data unencrypted at rest.",
)
def rds_storage_encryption(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    expected = {"storage_encrypted": True}
    listings = (
        ("DescribeDBInstances", "DBInstances", INSTANCE_TYPE, "DBInstanceIdentifier", "DBInstanceArn"),
        ("DescribeDBClusters", "DBClusters", CLUSTER_TYPE, "DBClusterIdentifier", "DBClusterArn"),
    )
    # Each listing is assessed on its own: one failing never hides the other.
    for operation, key, resource_type, id_field, arn_field in listings:
        ev = bundle.ref("rds", operation)
        failed = _listing_failure(bundle, operation)
        if failed is not None:
            yield ctx.error(failed, evidence=ev, expected=expected, resource_type=resource_type)
        for item in _items(bundle, operation, key):
            identifier = item.get(id_field)
            resource_id = item.get(arn_field) or identifier
            encrypted = bool(item.get("StorageEncrypted"))
            observed: dict[str, Any] = {
                "identifier": identifier,
                "storage_encrypted": encrypted,
                "kms_key_id": item.get("KmsKeyId"),
                "engine": item.get("Engine"),
                "status": item.get("DBInstanceStatus") if resource_type == INSTANCE_TYPE else item.get("Status"),
            }
            cluster = item.get("DBClusterIdentifier") if resource_type == INSTANCE_TYPE else None
            if resource_type == INSTANCE_TYPE:
                observed["cluster"] = cluster
            else:
                observed["members"] = [m.get("DBInstanceIdentifier") for m in item.get("DBClusterMembers") or []]
            kind = "cluster" if resource_type == CLUSTER_TYPE else "instance"
            note = f" (member of cluster {cluster}, which sets its encryption)" if cluster else ""
            if encrypted:
                yield ctx.passed(
                    resource_id,
                    resource_type=resource_type,
                    evidence=ev,
                    expected=expected,
                    observed=observed,
                    reason=f"{kind} {identifier} storage encrypted with {observed['kms_key_id'] or 'a KMS key'}{note}",
                )
            else:
                yield ctx.failed(
                    resource_id,
                    resource_type=resource_type,
                    evidence=ev,
                    expected=expected,
                    observed=observed,
                    reason=f"{kind} {identifier} storage is not encrypted{note}",
                )
