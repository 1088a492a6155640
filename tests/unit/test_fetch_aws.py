"""The fetch side of the EBS, RDS, DynamoDB and KMS collectors, offline.

botocore's Stubber checks each request's parameters against the service model
and the expected values (page sizes, pagination tokens), so these tests pin the
exact calls, and their number, that each collector makes; the fixtures are the
same ones the check tests use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from collectors.aws.base import classify_error
from collectors.evidence import Recorder
from collectors.registry import collectors
from controls import Status
from tests.helpers import ACCOUNT, by_resource, fixture, run_check, scope


class StubContext:
    """A FetchContext whose clients are stubbed boto3 clients (sequential map)."""

    def __init__(self, collector: str, services: Iterable[str], region: str = "us-east-1") -> None:
        self.region = region
        self.account = ACCOUNT
        self.recorder = Recorder(scope(collector, region), collectors()[collector].operations, classify_error)
        self.clients = {
            s: boto3.client(s, region_name=region, aws_access_key_id="test", aws_secret_access_key="test")
            for s in services
        }
        self.stubs = {s: Stubber(c) for s, c in self.clients.items()}

    def client(self, service: str, region: str | None = None) -> Any:
        return self.clients[service]

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        return [fn(i) for i in items]

    def run(self, collector: str) -> None:
        for stub in self.stubs.values():
            stub.activate()
        try:
            collectors()[collector].fetch(self)
        finally:
            for stub in self.stubs.values():
                stub.deactivate()
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()


def table(name: str) -> dict[str, Any]:
    """A DescribeTable fixture the Stubber accepts: it validates responses with the *input*
    rules, which reject the zeros real on-demand tables report in ProvisionedThroughput."""
    answer = fixture(f"aws/dynamodb/describe_table_{name}.json")
    answer["Table"].pop("ProvisionedThroughput", None)
    return answer


@pytest.fixture(autouse=True)
def _no_endpoint_override(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


def test_ebs_fetch_paginates_volumes_500_at_a_time():
    ctx = StubContext("aws.ebs", ["ec2"])
    ec2 = ctx.stubs["ec2"]
    page1 = fixture("aws/ebs/describe_volumes_page1.json")
    ec2.add_response("get_ebs_encryption_by_default", fixture("aws/ebs/get_ebs_encryption_by_default_on.json"), {})
    ec2.add_response("get_ebs_default_kms_key_id", fixture("aws/ebs/get_ebs_default_kms_key_id.json"), {})
    ec2.add_response("describe_volumes", page1, {"MaxResults": 500})
    ec2.add_response(
        "describe_volumes",
        fixture("aws/ebs/describe_volumes_page2.json"),
        {"MaxResults": 500, "NextToken": page1["NextToken"]},
    )
    own = {"OwnerIds": ["self"], "MaxResults": 1000}
    ec2.add_response("describe_snapshots", fixture("aws/ebs/describe_snapshots_page2.json"), own)
    ctx.run("aws.ebs")
    assert ctx.recorder.api_calls == 5
    results = by_resource(run_check("aws.ebs.volume_encryption", ctx.recorder.bundle))
    assert {k: r.status for k, r in results.items()} == {
        "vol-0aaa1111aaaa11111": Status.PASS,
        "vol-0bbb2222bbbb22222": Status.FAIL,
        "vol-0ccc3333cccc33333": Status.FAIL,
    }


def test_ebs_fetch_records_denied_calls_with_their_permission():
    ctx = StubContext("aws.ebs", ["ec2"])
    ec2 = ctx.stubs["ec2"]
    ec2.add_client_error("get_ebs_encryption_by_default", "UnauthorizedOperation", http_status_code=403)
    ec2.add_client_error("get_ebs_default_kms_key_id", "UnauthorizedOperation", http_status_code=403)
    ec2.add_client_error("describe_volumes", "UnauthorizedOperation", http_status_code=403)
    ec2.add_client_error("describe_snapshots", "UnauthorizedOperation", http_status_code=403)
    ctx.run("aws.ebs")
    errors = {(c.operation, c.error.code, c.error.permission, c.error.http_status)
              for op in ctx.recorder.bundle.operations() for c in ctx.recorder.bundle.all(*op)}  # fmt: skip
    assert errors == {
        ("GetEbsEncryptionByDefault", "UnauthorizedOperation", "ec2:GetEbsEncryptionByDefault", 403),
        ("GetEbsDefaultKmsKeyId", "UnauthorizedOperation", "ec2:GetEbsDefaultKmsKeyId", 403),
        ("DescribeVolumes", "UnauthorizedOperation", "ec2:DescribeVolumes", 403),
        ("DescribeSnapshots", "UnauthorizedOperation", "ec2:DescribeSnapshots", 403),
    }


def test_rds_fetch_paginates_with_marker():
    ctx = StubContext("aws.rds", ["rds"])
    rds = ctx.stubs["rds"]
    page1 = fixture("aws/rds/describe_db_instances_page1.json")
    rds.add_response("describe_db_instances", page1, {"MaxRecords": 100})
    rds.add_response(
        "describe_db_instances",
        fixture("aws/rds/describe_db_instances_page2.json"),
        {"MaxRecords": 100, "Marker": page1["Marker"]},
    )
    rds.add_response("describe_db_clusters", fixture("aws/rds/describe_db_clusters.json"), {"MaxRecords": 100})
    rds.add_response("describe_db_snapshots", fixture("aws/rds/describe_db_snapshots.json"), {"MaxRecords": 100})
    snapshots = fixture("aws/rds/describe_db_cluster_snapshots.json")
    rds.add_response("describe_db_cluster_snapshots", snapshots, {"MaxRecords": 100})
    ctx.run("aws.rds")  # these fixtures name no parameter group: no parameter listing
    assert ctx.recorder.api_calls == 5
    assert len(run_check("aws.rds.storage_encryption", ctx.recorder.bundle)) == 5


def test_rds_fetch_lists_clusters_even_when_instances_fail():
    ctx = StubContext("aws.rds", ["rds"])
    ctx.stubs["rds"].add_client_error("describe_db_instances", "AccessDenied", http_status_code=403)
    ctx.stubs["rds"].add_response("describe_db_clusters", fixture("aws/rds/describe_db_clusters.json"))
    ctx.run("aws.rds")
    statuses = sorted(str(r.status) for r in run_check("aws.rds.storage_encryption", ctx.recorder.bundle))
    assert statuses == ["error", "fail", "pass"]


def test_dynamodb_fetch_describes_every_table_and_each_key_once():
    ctx = StubContext("aws.dynamodb", ["dynamodb", "kms"])
    ddb, kms = ctx.stubs["dynamodb"], ctx.stubs["kms"]
    ddb.add_response("list_tables", fixture("aws/dynamodb/list_tables_page1.json"), {"Limit": 100})
    ddb.add_response(
        "list_tables",
        fixture("aws/dynamodb/list_tables_page2.json"),
        {"Limit": 100, "ExclusiveStartTableName": "orders"},
    )
    orders = table("orders")
    payments = table("payments")
    # "sessions" shares the orders key here: the key is still described only once
    sessions = table("orders")
    sessions["Table"]["TableName"] = "sessions"
    for name, answer in (
        ("events", table("events")),
        ("orders", orders),
        ("payments", payments),
        ("sessions", sessions),
    ):
        ddb.add_response("describe_table", answer, {"TableName": name})
    orders_key = orders["Table"]["SSEDescription"]["KMSMasterKeyArn"]
    payments_key = payments["Table"]["SSEDescription"]["KMSMasterKeyArn"]
    kms.add_response("describe_key", fixture("aws/dynamodb/describe_key_customer.json"), {"KeyId": orders_key})
    kms.add_response("describe_key", fixture("aws/dynamodb/describe_key_aws_managed.json"), {"KeyId": payments_key})
    ctx.run("aws.dynamodb")
    assert ctx.recorder.api_calls == 2 + 4 + 2
    results = by_resource(run_check("aws.dynamodb.encryption", ctx.recorder.bundle))
    assert {k: r.observed["key_type"] for k, r in results.items()} == {
        "events": "AWS_OWNED",
        "orders": "CUSTOMER_MANAGED",
        "payments": "AWS_MANAGED",
        "sessions": "CUSTOMER_MANAGED",
    }


def test_dynamodb_fetch_describes_tables_of_pages_that_succeeded():
    ctx = StubContext("aws.dynamodb", ["dynamodb", "kms"])
    ddb = ctx.stubs["dynamodb"]
    ddb.add_response("list_tables", fixture("aws/dynamodb/list_tables_page1.json"), {"Limit": 100})
    ddb.add_client_error("list_tables", "InternalServerError", http_status_code=500)
    ddb.add_response("describe_table", table("events"), {"TableName": "events"})
    ddb.add_client_error("describe_table", "AccessDeniedException", expected_params={"TableName": "orders"})
    ctx.run("aws.dynamodb")  # no DescribeKey: the only KMS table could not be described
    results = by_resource(run_check("aws.dynamodb.encryption", ctx.recorder.bundle))
    assert {k: str(r.status) for k, r in results.items()} == {"*": "error", "events": "pass", "orders": "error"}


def test_kms_fetch_checks_rotation_only_for_eligible_keys():
    ctx = StubContext("aws.kms", ["kms"])
    kms = ctx.stubs["kms"]
    page1 = fixture("aws/kms/list_keys_page1.json")
    page2 = fixture("aws/kms/list_keys_page2.json")
    kms.add_response("list_keys", page1, {"Limit": 1000})
    kms.add_response("list_keys", page2, {"Limit": 1000, "Marker": page1["NextMarker"]})
    names = [
        "01_customer_rotating", "02_customer_not_rotating", "03_aws_managed", "04_rsa_signing", "05_hmac",
        "06_disabled", "07_pending_deletion", "08_imported", "09_cloudhsm",
    ]  # fmt: skip
    key_ids = [k["KeyId"] for k in page1["Keys"] + page2["Keys"]]
    for key_id, name in zip(key_ids, names, strict=True):
        if name == "02_customer_not_rotating":
            kms.add_client_error("describe_key", "AccessDeniedException", expected_params={"KeyId": key_id})
        else:
            kms.add_response("describe_key", fixture(f"aws/kms/describe_key_{name}.json"), {"KeyId": key_id})
    # only key 01 is eligible (02's DescribeKey failed, the others cannot rotate)
    kms.add_response(
        "get_key_rotation_status", fixture("aws/kms/get_key_rotation_status_enabled.json"), {"KeyId": key_ids[0]}
    )
    ctx.run("aws.kms")
    assert ctx.recorder.api_calls == 2 + 9 + 1
    results = by_resource(run_check("aws.kms.key_rotation", ctx.recorder.bundle))
    assert results[key_ids[0]].status == Status.PASS
    assert results[key_ids[1]].status == Status.ERROR
    assert results[key_ids[1]].observed["missing_permission"] == "kms:DescribeKey"
    # the key pending deletion (07) fails with its date; the others cannot rotate
    assert [str(results[k].status) for k in key_ids[2:]] == ["not_applicable"] * 4 + ["fail"] + ["not_applicable"] * 2
