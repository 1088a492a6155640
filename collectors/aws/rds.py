"""RDS: the collector of DB instances, clusters, their snapshots and parameter groups,
and the storage encryption check of every DB instance and every DB cluster.

Two more checks read this collector's evidence, each in its own module:
`rds_snapshots` (snapshot encryption) and `rds_transport` (TLS enforced by the
parameter groups in use).

API cost per region: DescribeDBInstances 1 call per 100 instances,
DescribeDBClusters 1 call per 100 clusters, DescribeDBSnapshots 1 per 100
snapshots, DescribeDBClusterSnapshots 1 per 100 cluster snapshots (manual and
automated: AWS returns both when no SnapshotType is given), and
DescribeDBParameters / DescribeDBClusterParameters 1 per 100 parameters of each
distinct parameter group in use (a group shared by many databases is read once;
AWS's full listing of a group is a few pages). Nothing is called per database.

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
    "rds:DescribeDBSnapshots": "rds:DescribeDBSnapshots",
    "rds:DescribeDBClusterSnapshots": "rds:DescribeDBClusterSnapshots",
    "rds:DescribeDBParameters": "rds:DescribeDBParameters",
    "rds:DescribeDBClusterParameters": "rds:DescribeDBClusterParameters",
}

PAGE_SIZE = 100  # MaxRecords maximum for every listing here
INSTANCE_TYPE = "AWS::RDS::DBInstance"
CLUSTER_TYPE = "AWS::RDS::DBCluster"


def instance_parameter_group(instance: dict[str, Any]) -> str | None:
    """The DB parameter group of a standalone instance (cluster members take their cluster's)."""
    if instance.get("DBClusterIdentifier"):
        return None
    groups = instance.get("DBParameterGroups") or []
    return groups[0].get("DBParameterGroupName") if groups else None


def fetch(ctx: FetchContext) -> None:
    rec = ctx.recorder
    rds = ctx.client("rds")
    instances = rec.paginate(
        "rds", "DescribeDBInstances", rds.describe_db_instances, "Marker", "Marker", MaxRecords=PAGE_SIZE
    )
    clusters = rec.paginate(
        "rds", "DescribeDBClusters", rds.describe_db_clusters, "Marker", "Marker", MaxRecords=PAGE_SIZE
    )
    rec.paginate("rds", "DescribeDBSnapshots", rds.describe_db_snapshots, "Marker", "Marker", MaxRecords=PAGE_SIZE)
    rec.paginate(
        "rds",
        "DescribeDBClusterSnapshots",
        rds.describe_db_cluster_snapshots,
        "Marker",
        "Marker",
        MaxRecords=PAGE_SIZE,
    )
    # Every parameter group in use, once: the whole listing (not Source=user), so that where AWS reports
    # an engine default the check reads AWS's value instead of its own model of the default.
    in_use = [instance_parameter_group(i) for p in instances if p.ok for i in (p.response or {}).get("DBInstances", [])]
    groups = sorted({g for g in in_use if g})
    in_use = [
        c.get("DBClusterParameterGroup") for p in clusters if p.ok for c in (p.response or {}).get("DBClusters", [])
    ]
    cluster_groups = sorted({g for g in in_use if g})

    def db_group(name: str) -> None:
        rec.paginate(
            "rds",
            "DescribeDBParameters",
            rds.describe_db_parameters,
            "Marker",
            "Marker",
            DBParameterGroupName=name,
            MaxRecords=PAGE_SIZE,
        )

    def cluster_group(name: str) -> None:
        rec.paginate(
            "rds",
            "DescribeDBClusterParameters",
            rds.describe_db_cluster_parameters,
            "Marker",
            "Marker",
            DBClusterParameterGroupName=name,
            MaxRecords=PAGE_SIZE,
        )

    ctx.map(db_group, groups)
    ctx.map(cluster_group, cluster_groups)


register_collector(
    CollectorSpec(
        id="aws.rds",
        provider="aws",
        service="rds",
        per_region=True,
        operations=OPERATIONS,
        fetch=fetch,
        description="RDS/Aurora DB instances, DB clusters, their snapshots and parameter groups, per region",
    )
)


def listing_failure(bundle: EvidenceBundle, operation: str) -> ApiCall | None:
    """The failed page of a listing, or a stand-in if the listing was never recorded."""
    pages = bundle.all("rds", operation)
    if pages:
        return listing_error(pages)
    error = ApiError("NotCollected", f"no recorded {operation} answer", OPERATIONS[f"rds:{operation}"])
    return ApiCall("rds", operation, {"MaxRecords": PAGE_SIZE}, "", None, error)


def items(bundle: EvidenceBundle, operation: str, key: str) -> Iterator[dict[str, Any]]:
    """Every item of a (possibly paged) listing's successful pages."""
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
        failed = listing_failure(bundle, operation)
        if failed is not None:
            yield ctx.error(failed, evidence=ev, expected=expected, resource_type=resource_type)
        for item in items(bundle, operation, key):
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
