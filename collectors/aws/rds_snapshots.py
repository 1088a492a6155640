"""RDS: encryption at rest of every DB snapshot and DB cluster snapshot the account owns.

Reads the `aws.rds` collector's DescribeDBSnapshots / DescribeDBClusterSnapshots
evidence (fetched without SnapshotType, so AWS returns manual and automated
snapshots, plus AWS Backup's; snapshots shared with the account and public ones
are not included by default, so only the account's own are assessed).

A snapshot inherits its source's encryption and cannot be encrypted in place;
an unencrypted one is a full copy of the database outside the encrypted store.
Results are keyed by snapshot ARN (falling back to the identifier); manual and
automated snapshots are told apart in `observed["snapshot_type"]`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from collectors.aws.rds import items, listing_failure
from collectors.evidence import EvidenceBundle
from collectors.registry import CheckContext, check
from controls import CheckResult, Severity

SNAPSHOT_TYPE = "AWS::RDS::DBSnapshot"
CLUSTER_SNAPSHOT_TYPE = "AWS::RDS::DBClusterSnapshot"

# (operation, answer key, resource type, identifier, ARN, source identifier, encrypted flag, what)
LISTINGS = (
    (
        "DescribeDBSnapshots",
        "DBSnapshots",
        SNAPSHOT_TYPE,
        "DBSnapshotIdentifier",
        "DBSnapshotArn",
        "DBInstanceIdentifier",
        "Encrypted",
        "DB snapshot",
    ),
    (
        "DescribeDBClusterSnapshots",
        "DBClusterSnapshots",
        CLUSTER_SNAPSHOT_TYPE,
        "DBClusterSnapshotIdentifier",
        "DBClusterSnapshotArn",
        "DBClusterIdentifier",
        "StorageEncrypted",
        "DB cluster snapshot",
    ),
)


@check(
    id="aws.rds.snapshot_encryption",
    collector="aws.rds",
    title="RDS DB snapshots and DB cluster snapshots are encrypted at rest",
    description="Every DB snapshot and DB cluster snapshot the account owns, manual and automated, is encrypted "
    "with a KMS key; the snapshot type, source database and key are reported.",
    severity=Severity.HIGH,
    resource_type=SNAPSHOT_TYPE,
    permissions=["rds:DescribeDBSnapshots", "rds:DescribeDBClusterSnapshots"],
    remediation="Copy the snapshot with encryption (aws rds copy-db-snapshot --kms-key-id KEY / "
    "copy-db-cluster-snapshot --kms-key-id KEY), delete the unencrypted original, and encrypt the source database "
    "(restore it from the encrypted copy) so that its automated snapshots are encrypted too.",
    risk="A snapshot is a full copy of the database: unencrypted, it exposes customer data at rest and can be "
    "shared or restored elsewhere without any key policy to stop it.",
)
def rds_snapshot_encryption(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    expected = {"encrypted": True}
    for operation, key, resource_type, id_field, arn_field, source_field, flag, what in LISTINGS:
        # Each listing is assessed on its own: one failing never hides the other.
        ev = bundle.ref("rds", operation)
        failed = listing_failure(bundle, operation)
        if failed is not None:
            yield ctx.error(failed, evidence=ev, expected=expected, resource_type=resource_type)
        for snapshot in items(bundle, operation, key):
            identifier = snapshot.get(id_field)
            encrypted = bool(snapshot.get(flag))
            observed: dict[str, Any] = {
                "identifier": identifier,
                "encrypted": encrypted,
                "kms_key_id": snapshot.get("KmsKeyId") if encrypted else None,
                "snapshot_type": snapshot.get("SnapshotType"),
                "source": snapshot.get(source_field),
                "engine": snapshot.get("Engine"),
                "status": snapshot.get("Status"),
                "created": snapshot.get("SnapshotCreateTime"),
            }
            kind = f"{observed['snapshot_type'] or 'unknown type'} {what} {identifier} of {observed['source']}"
            if encrypted:
                yield ctx.passed(
                    snapshot.get(arn_field) or identifier,
                    resource_type=resource_type,
                    evidence=ev,
                    expected=expected,
                    observed=observed,
                    reason=f"{kind} encrypted with {observed['kms_key_id'] or 'a KMS key'}",
                )
            else:
                yield ctx.failed(
                    snapshot.get(arn_field) or identifier,
                    resource_type=resource_type,
                    evidence=ev,
                    expected=expected,
                    observed=observed,
                    reason=f"{kind} is not encrypted",
                )
