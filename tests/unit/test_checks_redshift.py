"""aws.redshift.encryption on recorded evidence, and the real fetch against botocore's Stubber for the
require_ssl=true branch (moto cannot set cluster parameters)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.stub import Stubber

from collectors.aws.base import AwsFetchContext, AwsTuning, classify_error
from collectors.evidence import Recorder
from collectors.registry import checks, collectors
from controls import Status
from tests.helpers import AS_OF, Fail, bundle_from_calls, by_resource, fixture, ref_ops, run_check, scope

CHECK = "aws.redshift.encryption"
SCOPE = scope("aws.redshift")
CLUSTERS = fixture("aws/redshift/describe_clusters.json")
PARAMS: dict[str, Any] = fixture("aws/redshift/describe_cluster_parameters_by_group.json")
MISSING = object()


def rs_bundle(*, clusters: Any = CLUSTERS, params: dict[str, Any] | None = None):
    calls: list[tuple[str, str, dict[str, Any], Any]] = []
    if clusters is not MISSING:
        calls.append(("redshift", "DescribeClusters", {"MaxRecords": 100}, clusters))
    for group, answer in sorted({**PARAMS, **(params or {})}.items()):
        if answer is not MISSING:
            call_params = {"ParameterGroupName": group, "MaxRecords": 100}
            calls.append(("redshift", "DescribeClusterParameters", call_params, answer))
    return bundle_from_calls(SCOPE, calls)


def test_encryption_and_require_ssl_from_the_parameter_group():
    results = by_resource(run_check(CHECK, rs_bundle()))
    assert {k: str(r.status) for k, r in results.items()} == {
        "analytics": "pass",
        "bi-default": "fail",
        "legacy-dw": "fail",
        "sandbox": "fail",
    }
    ok = results["analytics"]
    assert ok.resource_type == "AWS::Redshift::Cluster"
    assert (ok.observed["require_ssl"], ok.observed["value_source"]) == ("true", "set")
    assert ok.reason.endswith("require_ssl = true (set)")
    assert ref_ops(ok) == {"redshift.DescribeClusters", "redshift.DescribeClusterParameters"}
    default = results["bi-default"].observed
    assert (default["require_ssl"], default["value_source"]) == ("false", "engine default (reported by AWS)")
    legacy = results["legacy-dw"]
    assert legacy.reason == "not encrypted at rest"
    assert "pending-reboot" in legacy.observed["note"]
    sandbox = results["sandbox"].observed
    assert (sandbox["require_ssl"], sandbox["value_source"]) == ("false", "engine default (modelled)")


def test_denied_parameter_listing_is_an_error_for_its_clusters_only():
    results = by_resource(run_check(CHECK, rs_bundle(params={"ssl-required": Fail("AccessDenied")})))
    assert {k for k, r in results.items() if r.status == Status.ERROR} == {"analytics", "legacy-dw"}
    assert results["analytics"].observed["missing_permission"] == "redshift:DescribeClusterParameters"
    assert results["bi-default"].status == Status.FAIL


def test_unrecorded_parameter_group_and_cluster_listing_are_not_collected():
    results = by_resource(run_check(CHECK, rs_bundle(params={"no-ssl-listed": MISSING})))
    assert results["sandbox"].observed["error_code"] == "NotCollected"
    (err,) = run_check(CHECK, rs_bundle(clusters=MISSING))
    assert (err.resource_id, err.observed["required_permission"]) == ("*", "redshift:DescribeClusters")


def test_cluster_listing_denied_is_one_error():
    (err,) = run_check(CHECK, rs_bundle(clusters=Fail("AccessDenied")))
    assert err.status == Status.ERROR
    assert err.observed["missing_permission"] == "redshift:DescribeClusters"


def test_fetch_against_stubbed_redshift_reads_require_ssl_true_across_pages():
    """The production fetch (pagination of both listings, one parameter listing per group) on botocore's
    Stubber: moto cannot set cluster parameters, so this is where require_ssl=true comes from the API."""
    client = boto3.client("redshift", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    stub.add_response("describe_clusters", {"Clusters": [CLUSTERS["Clusters"][0]], "Marker": "m1"}, {"MaxRecords": 100})
    stub.add_response("describe_clusters", {"Clusters": [CLUSTERS["Clusters"][2]]}, {"MaxRecords": 100, "Marker": "m1"})
    first = {"Parameters": PARAMS["ssl-required"]["Parameters"][:1], "Marker": "p2"}
    second = {"Parameters": PARAMS["ssl-required"]["Parameters"][1:]}
    stub.add_response("describe_cluster_parameters", first, {"ParameterGroupName": "ssl-required", "MaxRecords": 100})
    stub.add_response(
        "describe_cluster_parameters",
        second,
        {"ParameterGroupName": "ssl-required", "MaxRecords": 100, "Marker": "p2"},
    )
    spec = collectors()["aws.redshift"]
    recorder = Recorder(SCOPE, spec.operations, classify_error)
    ctx = AwsFetchContext(boto3.Session(), SCOPE.account, SCOPE.region, recorder, AwsTuning(concurrency=1))
    ctx._clients["redshift@us-east-1"] = client  # the stubbed client instead of one that would call AWS
    with stub:
        spec.fetch(ctx)
        stub.assert_no_pending_responses()
    assert recorder.api_calls == 4  # 2 cluster pages + 2 parameter pages of the one shared group
    results = {r.resource_id: r for r in checks()[CHECK].run(recorder.bundle, thresholds={}, as_of=AS_OF)}
    assert results["analytics"].status == Status.PASS
    assert results["analytics"].observed["value_source"] == "set"
    assert results["legacy-dw"].status == Status.FAIL  # require_ssl true, but not encrypted
