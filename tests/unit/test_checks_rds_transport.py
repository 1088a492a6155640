"""aws.rds.transport_encryption on recorded evidence: every engine branch, set vs defaulted values, errors."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from collectors.aws.base import AwsFetchContext, AwsTuning, classify_error
from collectors.aws.rds_transport import engine_rule
from collectors.evidence import Recorder
from collectors.registry import collectors
from controls import Status
from tests.helpers import Fail, bundle_from_calls, by_resource, fixture, ref_ops, run_check, scope

CHECK = "aws.rds.transport_encryption"
SCOPE = scope("aws.rds")
INSTANCES = fixture("aws/rds/transport_db_instances.json")
CLUSTERS = fixture("aws/rds/transport_db_clusters.json")
PARAMS = fixture("aws/rds/describe_db_parameters_by_group.json")
CLUSTER_PARAMS = fixture("aws/rds/describe_db_cluster_parameters_by_group.json")
ARN = "arn:aws:rds:us-east-1:123456789012"
MISSING = object()


def db(name: str) -> str:
    return f"{ARN}:db:{name}"


def cl(name: str) -> str:
    return f"{ARN}:cluster:{name}"


def transport_bundle(*, params: dict[str, Any] | None = None, cluster_params: dict[str, Any] | None = None):
    calls: list[tuple[str, str, dict[str, Any], Any]] = [
        ("rds", "DescribeDBInstances", {"MaxRecords": 100}, INSTANCES),
        ("rds", "DescribeDBClusters", {"MaxRecords": 100}, CLUSTERS),
    ]
    for group, answer in (PARAMS if params is None else params).items():
        if answer is not MISSING:
            calls.append(("rds", "DescribeDBParameters", {"DBParameterGroupName": group, "MaxRecords": 100}, answer))
    for group, answer in (CLUSTER_PARAMS if cluster_params is None else cluster_params).items():
        if answer is not MISSING:
            call_params = {"DBClusterParameterGroupName": group, "MaxRecords": 100}
            calls.append(("rds", "DescribeDBClusterParameters", call_params, answer))
    return bundle_from_calls(SCOPE, calls)


def test_every_branch_on_the_recorded_estate():
    results = by_resource(run_check(CHECK, transport_bundle()))
    assert {rid: str(r.status) for rid, r in results.items()} == {
        db("pg16-default"): "pass",  # PostgreSQL 15+: rds.force_ssl defaults to 1
        db("pg13-default"): "fail",  # before 15: defaults to 0
        db("pg14-forced"): "pass",
        db("mysql80-tls"): "pass",
        db("mysql80-default"): "fail",
        db("maria104"): "fail",  # no require_secure_transport before 10.5
        db("mssql"): "fail",
        db("ledger-oracle"): "not_applicable",
        db("orders-1"): "not_applicable",  # assessed on its cluster
        db("pg15-odd"): "fail",
        cl("orders"): "pass",
        cl("reporting"): "fail",
        cl("graph"): "not_applicable",
    }


def test_value_source_says_set_reported_or_modelled():
    results = by_resource(run_check(CHECK, transport_bundle()))
    modelled = results[db("pg16-default")].observed
    assert modelled["value"] == "1"
    assert modelled["value_source"] == "engine default (modelled)"
    assert modelled["parameter"] == "rds.force_ssl"
    assert modelled["parameter_group"] == "default.postgres16"
    assert modelled["parameter_group_kind"] == "DB parameter group"
    assert results[db("pg13-default")].observed["value"] == "0"
    assert "accepts connections without TLS" in results[db("pg13-default")].reason
    forced = results[db("pg14-forced")].observed
    assert (forced["value"], forced["value_source"]) == ("1", "set")
    assert forced["parameter_apply_status"] == "pending-reboot"
    reported = results[db("mysql80-default")].observed
    assert (reported["value"], reported["value_source"]) == ("0", "engine default (reported by AWS)")
    assert reported["parameter"] == "require_secure_transport"
    assert results[db("mysql80-tls")].observed["value"] == "ON"
    # listed by AWS without a value: the modelled default applies and says so
    assert results[db("mssql")].observed["value_source"] == "engine default (modelled)"
    assert results[db("mssql")].expected == {"parameter": "rds.force_ssl", "value": "1"}
    assert ref_ops(results[db("mssql")]) == {"rds.DescribeDBInstances", "rds.DescribeDBParameters"}


def test_clusters_read_the_cluster_parameter_group():
    results = by_resource(run_check(CHECK, transport_bundle()))
    orders = results[cl("orders")]
    assert orders.resource_type == "AWS::RDS::DBCluster"
    assert orders.observed["parameter_group_kind"] == "DB cluster parameter group"
    assert (orders.observed["value"], orders.observed["value_source"]) == ("1", "set")
    assert ref_ops(orders) == {"rds.DescribeDBClusters", "rds.DescribeDBClusterParameters"}
    reporting = results[cl("reporting")]
    assert reporting.observed["parameter"] == "require_secure_transport"
    assert reporting.observed["value_source"] == "engine default (modelled)"
    member = results[db("orders-1")]
    assert member.observed["cluster"] == "orders"
    assert "assessed on the cluster" in member.reason


def test_engines_not_enforced_by_parameter_are_not_assessed_never_passed():
    results = by_resource(run_check(CHECK, transport_bundle()))
    oracle = results[db("ledger-oracle")]
    assert oracle.reason.startswith("not assessed: Oracle enforces TLS through the SSL option of its option group")
    assert oracle.observed["assessed"] is False
    assert "Neptune" in results[cl("graph")].reason
    maria = results[db("maria104")]
    assert maria.observed["value"] is None
    assert "cannot require TLS" in maria.reason
    odd = results[db("pg15-odd")]
    assert "unrecognised value" in odd.reason


def test_denied_parameter_listing_is_an_error_for_that_database_only():
    params = {**PARAMS, "default.postgres13": Fail("AccessDenied")}
    results = by_resource(run_check(CHECK, transport_bundle(params=params)))
    err = results[db("pg13-default")]
    assert err.status == Status.ERROR
    assert err.observed["operation"] == "rds:DescribeDBParameters"
    assert err.observed["missing_permission"] == "rds:DescribeDBParameters"
    assert results[db("pg16-default")].status == Status.PASS


def test_unrecorded_parameter_group_is_not_collected():
    cluster_params = {**CLUSTER_PARAMS, "apg-tls": MISSING}
    results = by_resource(run_check(CHECK, transport_bundle(cluster_params=cluster_params)))
    err = results[cl("orders")]
    assert err.status == Status.ERROR
    assert err.observed["error_code"] == "NotCollected"
    assert err.observed["required_permission"] == "rds:DescribeDBClusterParameters"


def test_parameter_on_a_page_after_a_failed_one_is_an_error_but_found_before_is_used():
    page1 = {"Parameters": [{"ParameterName": "a", "ParameterValue": "x", "Source": "user"}], "Marker": "m"}
    calls = [
        ("rds", "DescribeDBInstances", {"MaxRecords": 100}, {"DBInstances": [INSTANCES["DBInstances"][2]]}),
        ("rds", "DescribeDBClusters", {"MaxRecords": 100}, {"DBClusters": []}),
        ("rds", "DescribeDBParameters", {"DBParameterGroupName": "pg14-tls", "MaxRecords": 100}, page1),
        (
            "rds",
            "DescribeDBParameters",
            {"DBParameterGroupName": "pg14-tls", "MaxRecords": 100, "Marker": "m"},
            Fail("Throttling"),
        ),
    ]
    (result,) = run_check(CHECK, bundle_from_calls(SCOPE, calls))
    assert result.status == Status.ERROR
    assert result.observed["error_code"] == "Throttling"
    page1["Parameters"].append({"ParameterName": "rds.force_ssl", "ParameterValue": "1", "Source": "user"})
    (result,) = run_check(CHECK, bundle_from_calls(SCOPE, calls))
    assert result.status == Status.PASS


def test_instance_listing_denied_is_an_error_and_clusters_still_assessed():
    calls = [
        ("rds", "DescribeDBInstances", {"MaxRecords": 100}, Fail("AccessDenied")),
        ("rds", "DescribeDBClusters", {"MaxRecords": 100}, CLUSTERS),
        *[
            ("rds", "DescribeDBClusterParameters", {"DBClusterParameterGroupName": g, "MaxRecords": 100}, a)
            for g, a in CLUSTER_PARAMS.items()
        ],
    ]
    results = run_check(CHECK, bundle_from_calls(SCOPE, calls))
    errors = [r for r in results if r.status == Status.ERROR]
    assert [(e.resource_id, e.observed["missing_permission"]) for e in errors] == [("*", "rds:DescribeDBInstances")]
    assert {r.resource_id for r in results if r.status != Status.ERROR} == {cl("orders"), cl("reporting"), cl("graph")}


@pytest.mark.parametrize(
    ("engine", "version", "parameter", "default"),
    [
        ("postgres", "14.12", "rds.force_ssl", "0"),
        ("postgres", "15.2", "rds.force_ssl", "1"),
        ("postgres", "17.1", "rds.force_ssl", "1"),
        ("aurora-postgresql", "16.1", "rds.force_ssl", "0"),
        ("sqlserver-ex", "16.00.4095.4.v1", "rds.force_ssl", "0"),
        ("mysql", "5.6.51", "require_secure_transport", None),
        ("mysql", "5.7.44", "require_secure_transport", "0"),
        ("mysql", "8.4.3", "require_secure_transport", "0"),
        ("mysql", "9.7.0", "require_secure_transport", "1"),
        ("mariadb", "10.11.8", "require_secure_transport", "0"),
        ("mariadb", "11.8.1", "require_secure_transport", "1"),
        ("aurora-mysql", "5.7.mysql_aurora.2.11.2", "require_secure_transport", "0"),
        ("aurora", "5.6.10a", "require_secure_transport", None),
        ("oracle-se2", "19.0.0.0", None, None),
        ("db2-se", "11.5.9.0.sb00000000.r1", None, None),
        ("custom-sqlserver-ee", "15.00", None, None),
        ("docdb", "5.0.0", None, None),
        ("something-new", "1.0", None, None),
    ],
)
def test_engine_model(engine, version, parameter, default):
    found, found_default, why = engine_rule(engine, version)
    assert (found, found_default) == (parameter, default), why
    assert why


def test_fetch_reads_each_parameter_group_in_use_once_and_pages_it():
    """The production fetch on botocore's Stubber: distinct groups of standalone instances (not of cluster
    members) and of clusters, each listed whole (no Source filter) with its Marker pages."""
    client = boto3.client("rds", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    two = {"DBInstances": [INSTANCES["DBInstances"][2], INSTANCES["DBInstances"][8]]}  # pg14-forced, orders-1
    stub.add_response("describe_db_instances", two, {"MaxRecords": 100})
    stub.add_response("describe_db_clusters", {"DBClusters": CLUSTERS["DBClusters"][:1]}, {"MaxRecords": 100})
    stub.add_response("describe_db_snapshots", {"DBSnapshots": []}, {"MaxRecords": 100})
    stub.add_response("describe_db_cluster_snapshots", {"DBClusterSnapshots": []}, {"MaxRecords": 100})
    group = {"DBParameterGroupName": "pg14-tls", "MaxRecords": 100}
    stub.add_response("describe_db_parameters", {"Parameters": [], "Marker": "m2"}, group)
    stub.add_response("describe_db_parameters", PARAMS["pg14-tls"], {**group, "Marker": "m2"})
    cluster_group = {"DBClusterParameterGroupName": "apg-tls", "MaxRecords": 100}
    stub.add_response("describe_db_cluster_parameters", CLUSTER_PARAMS["apg-tls"], cluster_group)
    spec = collectors()["aws.rds"]
    recorder = Recorder(SCOPE, spec.operations, classify_error)
    ctx = AwsFetchContext(boto3.Session(), SCOPE.account, SCOPE.region, recorder, AwsTuning(concurrency=1))
    ctx._clients["rds@us-east-1"] = client
    with stub:
        spec.fetch(ctx)
        stub.assert_no_pending_responses()
    assert recorder.api_calls == 7
    results = by_resource(run_check(CHECK, recorder.bundle))
    assert results[db("pg14-forced")].status == Status.PASS
    assert results[cl("orders")].status == Status.PASS
    assert results[db("orders-1")].status == Status.NOT_APPLICABLE
