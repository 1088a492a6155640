"""aws.rds.snapshot_encryption on recorded evidence: DB snapshots and DB cluster snapshots, manual and automated."""

from __future__ import annotations

from typing import Any

from controls import Status
from tests.helpers import Fail, bundle_from_calls, by_resource, fixture, ref_ops, run_check, scope

CHECK = "aws.rds.snapshot_encryption"
SCOPE = scope("aws.rds")
SNAPSHOTS = fixture("aws/rds/describe_db_snapshots.json")
CLUSTER_SNAPSHOTS = fixture("aws/rds/describe_db_cluster_snapshots.json")
ARN = "arn:aws:rds:us-east-1:123456789012"
AUTO_OK = f"{ARN}:snapshot:rds:prod-postgres-2025-06-29-03-10"
MANUAL_PLAIN = f"{ARN}:snapshot:legacy-before-migration"
AUTO_PLAIN = f"{ARN}:snapshot:rds:legacy-mysql-2025-06-29-04-00"
CLUSTER_OK = f"{ARN}:cluster-snapshot:orders-pre-upgrade"
CLUSTER_PLAIN = f"{ARN}:cluster-snapshot:rds:reporting-2025-06-29-05-00"
SNAP, CSNAP = "AWS::RDS::DBSnapshot", "AWS::RDS::DBClusterSnapshot"
MISSING = object()


def snap_bundle(*, snapshots: Any = SNAPSHOTS, cluster_snapshots: Any = CLUSTER_SNAPSHOTS, page2: Any = MISSING):
    calls: list[tuple[str, str, dict[str, Any], Any]] = []
    if snapshots is not MISSING:
        calls.append(("rds", "DescribeDBSnapshots", {"MaxRecords": 100}, snapshots))
    if page2 is not MISSING:
        calls.append(("rds", "DescribeDBSnapshots", {"MaxRecords": 100, "Marker": "p2"}, page2))
    if cluster_snapshots is not MISSING:
        calls.append(("rds", "DescribeDBClusterSnapshots", {"MaxRecords": 100}, cluster_snapshots))
    return bundle_from_calls(SCOPE, calls)


def test_manual_and_automated_snapshots_of_instances_and_clusters():
    results = by_resource(run_check(CHECK, snap_bundle()))
    assert {rid: r.status for rid, r in results.items()} == {
        AUTO_OK: Status.PASS,
        MANUAL_PLAIN: Status.FAIL,
        AUTO_PLAIN: Status.FAIL,
        CLUSTER_OK: Status.PASS,
        CLUSTER_PLAIN: Status.FAIL,
    }
    ok = results[AUTO_OK]
    assert ok.resource_type == SNAP
    assert ok.observed["snapshot_type"] == "automated"
    assert ok.observed["source"] == "prod-postgres"
    assert ok.observed["kms_key_id"].endswith("cccc3333cccc")
    assert ref_ops(ok) == {"rds.DescribeDBSnapshots"}
    manual = results[MANUAL_PLAIN]
    assert manual.reason == "manual DB snapshot legacy-before-migration of legacy-mysql is not encrypted"
    assert results[AUTO_PLAIN].observed["status"] == "creating"  # a snapshot being taken is assessed too
    cluster = results[CLUSTER_PLAIN]
    assert cluster.resource_type == CSNAP
    assert cluster.observed["source"] == "reporting"
    assert cluster.observed["kms_key_id"] is None  # a key id on an unencrypted snapshot is not reported
    assert ref_ops(cluster) == {"rds.DescribeDBClusterSnapshots"}
    assert results[CLUSTER_OK].reason.startswith("manual DB cluster snapshot orders-pre-upgrade of orders encrypted")


def test_snapshot_listing_denied_is_an_error_and_cluster_snapshots_still_assessed():
    results = run_check(CHECK, snap_bundle(snapshots=Fail("AccessDenied")))
    (err,) = [r for r in results if r.status == Status.ERROR]
    assert (err.resource_id, err.resource_type) == ("*", SNAP)
    assert err.observed["missing_permission"] == "rds:DescribeDBSnapshots"
    assert {r.resource_id for r in results if r.status != Status.ERROR} == {CLUSTER_OK, CLUSTER_PLAIN}


def test_unrecorded_cluster_snapshot_listing_is_not_collected():
    results = run_check(CHECK, snap_bundle(cluster_snapshots=MISSING))
    (err,) = [r for r in results if r.status == Status.ERROR]
    assert err.resource_type == CSNAP
    assert err.observed["error_code"] == "NotCollected"
    assert err.observed["required_permission"] == "rds:DescribeDBClusterSnapshots"


def test_failed_second_page_keeps_first_page_and_reports_error():
    first = {**SNAPSHOTS, "Marker": "p2"}
    results = run_check(CHECK, snap_bundle(snapshots=first, page2=Fail("Throttling")))
    errors = [r for r in results if r.status == Status.ERROR]
    assert [(e.resource_type, e.observed["error_code"]) for e in errors] == [(SNAP, "Throttling")]
    assert AUTO_OK in {r.resource_id for r in results}


def test_no_snapshots_gives_no_result():
    results = run_check(CHECK, snap_bundle(snapshots={"DBSnapshots": []}, cluster_snapshots={"DBClusterSnapshots": []}))
    assert results == []
