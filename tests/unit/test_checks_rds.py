"""aws.rds.storage_encryption on recorded evidence."""

from __future__ import annotations

from typing import Any

from controls import Status
from tests.helpers import Fail, bundle_from_calls, by_resource, fixture, ref_ops, run_check, scope

CHECK = "aws.rds.storage_encryption"
SCOPE = scope("aws.rds")
PAGE1 = fixture("aws/rds/describe_db_instances_page1.json")
PAGE2 = fixture("aws/rds/describe_db_instances_page2.json")
CLUSTERS = fixture("aws/rds/describe_db_clusters.json")
ARN = "arn:aws:rds:us-east-1:123456789012"
PROD, LEGACY, MEMBER = f"{ARN}:db:prod-postgres", f"{ARN}:db:legacy-mysql", f"{ARN}:db:orders-instance-1"
ORDERS, REPORTING = f"{ARN}:cluster:orders", f"{ARN}:cluster:reporting"
INSTANCE, CLUSTER = "AWS::RDS::DBInstance", "AWS::RDS::DBCluster"
MISSING = object()


def rds_bundle(*, page1: Any = PAGE1, page2: Any = PAGE2, clusters: Any = CLUSTERS):
    calls: list[tuple[str, str, dict[str, Any], Any]] = []
    if page1 is not MISSING:
        calls.append(("rds", "DescribeDBInstances", {"MaxRecords": 100}, page1))
    if page2 is not MISSING:
        calls.append(("rds", "DescribeDBInstances", {"MaxRecords": 100, "Marker": PAGE1["Marker"]}, page2))
    if clusters is not MISSING:
        calls.append(("rds", "DescribeDBClusters", {"MaxRecords": 100}, clusters))
    return bundle_from_calls(SCOPE, calls)


def test_instances_on_both_pages_and_clusters_are_assessed():
    results = by_resource(run_check(CHECK, rds_bundle()))
    assert set(results) == {PROD, LEGACY, MEMBER, ORDERS, REPORTING}

    prod = results[PROD]
    assert prod.status == Status.PASS
    assert prod.resource_type == INSTANCE
    assert prod.observed["identifier"] == "prod-postgres"
    assert prod.observed["storage_encrypted"] is True
    assert prod.observed["kms_key_id"].endswith("key/3333cccc-3333-cccc-3333-cccc3333cccc")
    assert prod.observed["engine"] == "postgres"
    assert prod.observed["cluster"] is None
    assert ref_ops(prod) == {"rds.DescribeDBInstances"}

    legacy = results[LEGACY]
    assert legacy.status == Status.FAIL
    assert legacy.observed["kms_key_id"] is None
    assert legacy.observed["engine"] == "mysql"
    assert legacy.reason == "instance legacy-mysql storage is not encrypted"

    member = results[MEMBER]  # page 2, Aurora member: still listed, names its cluster
    assert member.status == Status.PASS
    assert member.resource_type == INSTANCE
    assert member.observed["cluster"] == "orders"
    assert "member of cluster orders" in member.reason


def test_clusters_use_cluster_resource_type():
    results = by_resource(run_check(CHECK, rds_bundle()))
    orders = results[ORDERS]
    assert orders.status == Status.PASS
    assert orders.resource_type == CLUSTER
    assert orders.observed["engine"] == "aurora-postgresql"
    assert orders.observed["members"] == ["orders-instance-1"]
    assert ref_ops(orders) == {"rds.DescribeDBClusters"}
    reporting = results[REPORTING]
    assert reporting.status == Status.FAIL
    assert reporting.resource_type == CLUSTER
    assert reporting.observed["storage_encrypted"] is False
    assert reporting.reason == "cluster reporting storage is not encrypted"


def test_instance_listing_denied_still_assesses_clusters():
    results = run_check(CHECK, rds_bundle(page1=Fail("AccessDenied"), page2=MISSING))
    errors = [r for r in results if r.status == Status.ERROR]
    assert len(errors) == 1
    (err,) = errors
    assert err.resource_id == "*"
    assert err.resource_type == INSTANCE
    assert err.observed["missing_permission"] == "rds:DescribeDBInstances"
    assessed = {r.resource_id: r.status for r in results if r.status != Status.ERROR}
    assert assessed == {ORDERS: Status.PASS, REPORTING: Status.FAIL}


def test_cluster_listing_denied_still_assesses_instances():
    results = run_check(CHECK, rds_bundle(clusters=Fail("AccessDenied")))
    errors = [r for r in results if r.status == Status.ERROR]
    assert [(e.resource_id, e.resource_type, e.observed["missing_permission"]) for e in errors] == [
        ("*", CLUSTER, "rds:DescribeDBClusters")
    ]
    assessed = {r.resource_id: r.status for r in results if r.status != Status.ERROR}
    assert assessed == {PROD: Status.PASS, LEGACY: Status.FAIL, MEMBER: Status.PASS}


def test_both_listings_denied_give_two_errors():
    results = run_check(CHECK, rds_bundle(page1=Fail("AccessDenied"), page2=MISSING, clusters=Fail("AccessDenied")))
    assert sorted((r.status, r.resource_type) for r in results) == [(Status.ERROR, CLUSTER), (Status.ERROR, INSTANCE)]


def test_second_instance_page_failure_keeps_first_page():
    results = run_check(CHECK, rds_bundle(page2=Fail("Throttling")))
    by_type = {(r.resource_id, r.resource_type): r for r in results}
    assert by_type[("*", INSTANCE)].status == Status.ERROR
    assert by_type[("*", INSTANCE)].observed["error_code"] == "Throttling"
    assert by_type[(PROD, INSTANCE)].status == Status.PASS
    assert (MEMBER, INSTANCE) not in by_type


def test_unrecorded_listing_is_an_error():
    results = run_check(CHECK, rds_bundle(clusters=MISSING))
    (err,) = [r for r in results if r.status == Status.ERROR]
    assert err.resource_type == CLUSTER
    assert err.observed["error_code"] == "NotCollected"
    assert err.observed["required_permission"] == "rds:DescribeDBClusters"


def test_identifier_is_used_when_arn_is_absent():
    page = {"DBInstances": [{"DBInstanceIdentifier": "old", "StorageEncrypted": False, "Engine": "postgres"}]}
    results = by_resource(run_check(CHECK, rds_bundle(page1=page, page2=MISSING, clusters={"DBClusters": []})))
    assert results["old"].status == Status.FAIL
