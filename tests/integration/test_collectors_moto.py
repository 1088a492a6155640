"""The S3, EBS, RDS, DynamoDB and KMS collectors fetched for real over HTTP against
moto's server, then checked.

Seeds a small estate with boto3, runs each collector's fetch through the
production AwsFetchContext + Recorder (classify_error, endpoint override via
AWS_ENDPOINT_URL), and asserts the result of every check for every resource.

Limitations found while writing this (moto 5.2.5, botocore 1.44.8):

- s3control: botocore's s3control endpoint rules put "<AccountId>." in front of
  any endpoint override ("http://123456789012.127.0.0.1:PORT"; not a moto gap);
  AwsFetchContext strips it (collectors.aws.base.strip_account_host_prefix) and
  the seeding below uses the same helper.
- s3 ListBuckets: no BucketRegion in the answer (so the collector falls back to
  one GetBucketLocation per bucket; the project's MotoEmulator adds BucketRegion, see
  test_s3_bucket_region_moto.py), and MaxBuckets truncates the list without
  returning a ContinuationToken.
- ec2 GetEbsDefaultKmsKeyId is not implemented (HTTP 500): recorded as an error
  on that informational call; the default-encryption verdict is unaffected.
- ec2 DescribeVolumes ignores MaxResults and kms ListKeys ignores Limit (one
  page); RDS MaxRecords and DynamoDB ListTables Limit do paginate.
- kms GetKeyRotationStatus does not return RotationPeriodInDays (nor
  NextRotationDate), though EnableKeyRotation accepts the period.
- kms: there are no AWS managed keys: the "alias/aws/dynamodb" key moto creates
  for SSE without a key ARN has KeyManager CUSTOMER, and a key with Origin
  EXTERNAL is Enabled at once (real KMS: PendingImport).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.request import Request, urlopen

import boto3
import pytest

from collectors.aws.base import GLOBAL_REGION, AwsFetchContext, AwsTuning, classify_error, strip_account_host_prefix
from collectors.evidence import Recorder, Scope
from collectors.registry import checks_for, collectors
from controls import CheckResult, Status

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"  # moto's default account
EBS_REGIONS = ("us-east-1", "eu-west-1")
KMS_REGION = "ap-southeast-2"  # nothing else creates keys there
BULK_REGION = "us-west-2"  # >100 tables / instances: real pagination
BULK = 101
AS_OF = datetime(2025, 6, 30, tzinfo=UTC)
PAB_ALL = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}


def _reset(endpoint: str) -> None:
    urlopen(Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=60).read()  # slow under load


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.CRITICAL)  # unimplemented actions log a traceback at ERROR
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("AWS_ENDPOINT_URL", endpoint)
            mp.setenv("AWS_ACCESS_KEY_ID", "testing")
            mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
            mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
            mp.delenv("AWS_SESSION_TOKEN", raising=False)
            mp.delenv("AWS_PROFILE", raising=False)
            _reset(endpoint)  # moto's backends are process-wide: start from nothing
            yield endpoint
            _reset(endpoint)
    finally:
        server.stop()
        werkzeug.setLevel(level)


@pytest.fixture(scope="module")
def estate(moto_endpoint: str) -> dict[str, Any]:
    """Seed every service once; returns the generated identifiers the tests need."""
    session = boto3.Session()
    out: dict[str, Any] = {}

    # S3: account-level BPA misses RestrictPublicBuckets
    s3 = session.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="acme-kms-blocked")
    s3.put_bucket_encryption(
        Bucket="acme-kms-blocked",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": True}]
        },
    )
    s3.put_public_access_block(Bucket="acme-kms-blocked", PublicAccessBlockConfiguration=PAB_ALL)
    s3.create_bucket(Bucket="acme-plain-open")
    s3_eu = session.client("s3", region_name="eu-west-1")
    s3_eu.create_bucket(Bucket="acme-eu-aes", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3_eu.put_bucket_encryption(
        Bucket="acme-eu-aes",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    strip_account_host_prefix(session.client("s3control", region_name="us-east-1")).put_public_access_block(
        AccountId=ACCOUNT, PublicAccessBlockConfiguration={**PAB_ALL, "RestrictPublicBuckets": False}
    )

    # EBS: us-east-1 has default encryption on (after its volumes were made), eu-west-1 off
    ec2 = session.client("ec2", region_name="us-east-1")
    # any AMI id will do for moto (describe_images would cost seconds)
    instance = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t3.micro")["Instances"][
        0
    ]
    out["instance"] = instance["InstanceId"]
    encrypted = ec2.create_volume(AvailabilityZone="us-east-1a", Size=8, Encrypted=True)["VolumeId"]
    plain = ec2.create_volume(AvailabilityZone="us-east-1a", Size=8)["VolumeId"]
    ec2.attach_volume(VolumeId=plain, InstanceId=out["instance"], Device="/dev/sdf")
    ec2.enable_ebs_encryption_by_default()
    eu_plain = session.client("ec2", region_name="eu-west-1").create_volume(AvailabilityZone="eu-west-1a", Size=1)
    out["volumes"] = {"encrypted": encrypted, "plain": plain, "eu_plain": eu_plain["VolumeId"]}
    out["root_volumes"] = {
        m["Ebs"]["VolumeId"] for m in instance.get("BlockDeviceMappings", []) if m.get("Ebs", {}).get("VolumeId")
    }

    # RDS
    rds = session.client("rds", region_name="us-east-1")
    db = {"DBInstanceClass": "db.t3.micro", "MasterUsername": "admin", "MasterUserPassword": "password-123"}
    rds.create_db_instance(
        DBInstanceIdentifier="enc-db", Engine="postgres", AllocatedStorage=20, StorageEncrypted=True, **db
    )
    rds.create_db_instance(DBInstanceIdentifier="plain-db", Engine="mysql", AllocatedStorage=20, **db)
    cluster = {"MasterUsername": "admin", "MasterUserPassword": "password-123"}
    rds.create_db_cluster(
        DBClusterIdentifier="enc-cluster", Engine="aurora-postgresql", StorageEncrypted=True, **cluster
    )
    rds.create_db_cluster(DBClusterIdentifier="plain-cluster", Engine="aurora-mysql", **cluster)
    rds.create_db_instance(
        DBInstanceIdentifier="enc-cluster-1",
        DBClusterIdentifier="enc-cluster",
        Engine="aurora-postgresql",
        DBInstanceClass="db.r6g.large",
    )

    # DynamoDB (us-east-1): default key, customer key, SSE without a key ARN
    ddb = session.client("dynamodb", region_name="us-east-1")
    table = {
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    cmk = session.client("kms", region_name="us-east-1").create_key(Description="orders table key")["KeyMetadata"]
    out["orders_key"] = cmk["Arn"]
    ddb.create_table(TableName="events", **table)
    ddb.create_table(
        TableName="orders", SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": cmk["Arn"]}, **table
    )
    ddb.create_table(TableName="payments", SSESpecification={"Enabled": True, "SSEType": "KMS"}, **table)

    # KMS (own region): rotating, not rotating, asymmetric, HMAC, disabled, pending deletion, imported
    kms = session.client("kms", region_name=KMS_REGION)

    def key(**kw: Any) -> str:
        return kms.create_key(**kw)["KeyMetadata"]["KeyId"]

    keys = {
        "rotating": key(Description="rotating"),
        "not_rotating": key(Description="not rotating"),
        "rsa": key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY"),
        "hmac": key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC"),
        "disabled": key(Description="disabled"),
        "pending": key(Description="pending deletion"),
        "imported": key(Origin="EXTERNAL"),
    }
    kms.enable_key_rotation(KeyId=keys["rotating"], RotationPeriodInDays=180)
    kms.disable_key(KeyId=keys["disabled"])
    kms.schedule_key_deletion(KeyId=keys["pending"], PendingWindowInDays=7)
    out["keys"] = keys

    # bulk region: more than one page of tables and of DB instances
    bulk_ddb = session.client("dynamodb", region_name=BULK_REGION)
    for i in range(BULK):
        bulk_ddb.create_table(TableName=f"bulk-{i:03d}", **table)
    bulk_rds = session.client("rds", region_name=BULK_REGION)
    for i in range(BULK):
        bulk_rds.create_db_instance(
            DBInstanceIdentifier=f"bulk-{i:03d}", Engine="postgres", AllocatedStorage=20, StorageEncrypted=True, **db
        )
    return out


def collect(collector_id: str, region: str) -> Recorder:
    """Run one collector's fetch for real, as the flow does."""
    spec = collectors()[collector_id]
    scope_region = region if spec.per_region else GLOBAL_REGION
    recorder = Recorder(Scope("aws", ACCOUNT, scope_region, collector_id), spec.operations, classify_error)
    # one attempt: moto answers unimplemented actions with HTTP 500, which would be retried with backoff
    tuning = AwsTuning(max_attempts=1, concurrency=4)
    spec.fetch(AwsFetchContext(boto3.Session(), ACCOUNT, scope_region, recorder, tuning))
    return recorder


def evaluate(recorder: Recorder) -> dict[str, dict[str, CheckResult]]:
    """{check_id: {resource_id: result}} for every check of the recorder's collector."""
    out: dict[str, dict[str, CheckResult]] = {}
    for check in checks_for(recorder.scope.collector):
        results = check.run(recorder.bundle, thresholds={}, as_of=AS_OF)
        by_id: dict[str, CheckResult] = {}
        for r in results:
            assert r.resource_id not in by_id, (check.spec.id, r.resource_id)
            by_id[r.resource_id] = r
        out[check.spec.id] = by_id
    return out


def statuses(results: dict[str, CheckResult]) -> dict[str, str]:
    return {rid: str(r.status) for rid, r in results.items()}


def test_s3(estate):
    recorder = collect("aws.s3", "us-east-1")
    results = evaluate(recorder)
    assert statuses(results["aws.s3.default_encryption"]) == {
        "acme-kms-blocked": "pass",
        "acme-plain-open": "fail",
        "acme-eu-aes": "pass",
    }
    enc = results["aws.s3.default_encryption"]
    assert enc["acme-kms-blocked"].observed["algorithm"] == "aws:kms"
    assert enc["acme-eu-aes"].observed["algorithm"] == "AES256"
    assert enc["acme-eu-aes"].region == "eu-west-1"  # via GetBucketLocation (no BucketRegion in moto)
    assert enc["acme-plain-open"].region == "us-east-1"

    pab = results["aws.s3.public_access_block"]
    assert statuses(pab) == {
        ACCOUNT: "fail",
        "acme-kms-blocked": "pass",
        "acme-plain-open": "fail",
        "acme-eu-aes": "fail",
    }
    assert pab[ACCOUNT].reason == "account level off: RestrictPublicBuckets"
    assert pab["acme-plain-open"].reason == "not blocked: RestrictPublicBuckets"
    # 1 ListBuckets + 1 s3control + per bucket (GetBucketLocation, GetBucketEncryption, GetPublicAccessBlock,
    # GetBucketPolicy)
    assert recorder.api_calls == 2 + 3 * 4


def test_ebs(estate):
    volumes = estate["volumes"]
    east = evaluate(collect("aws.ebs", "us-east-1"))
    (default,) = east["aws.ebs.default_encryption"].values()
    assert (default.resource_id, default.status) == ("us-east-1", Status.PASS)
    # moto does not implement GetEbsDefaultKmsKeyId: recorded as an error, verdict unchanged
    assert default.observed["default_kms_key_id"] or default.observed["default_kms_key_error"]

    vols = east["aws.ebs.volume_encryption"]
    assert set(vols) == {volumes["encrypted"], volumes["plain"], *estate["root_volumes"]}
    assert vols[volumes["encrypted"]].status == Status.PASS
    assert vols[volumes["encrypted"]].observed["kms_key_id"]
    plain = vols[volumes["plain"]]
    assert plain.status == Status.FAIL
    assert plain.observed["attached_instances"] == [estate["instance"]]
    assert plain.observed["state"] == "in-use"

    west = evaluate(collect("aws.ebs", "eu-west-1"))
    assert statuses(west["aws.ebs.default_encryption"]) == {"eu-west-1": "fail"}
    assert statuses(west["aws.ebs.volume_encryption"]) == {volumes["eu_plain"]: "fail"}


def test_rds(estate):
    recorder = collect("aws.rds", "us-east-1")
    results = evaluate(recorder)["aws.rds.storage_encryption"]
    arn = f"arn:aws:rds:us-east-1:{ACCOUNT}"
    assert statuses(results) == {
        f"{arn}:db:enc-db": "pass",
        f"{arn}:db:plain-db": "fail",
        f"{arn}:db:enc-cluster-1": "pass",
        f"{arn}:cluster:enc-cluster": "pass",
        f"{arn}:cluster:plain-cluster": "fail",
    }
    assert results[f"{arn}:db:enc-cluster-1"].observed["cluster"] == "enc-cluster"
    assert results[f"{arn}:cluster:enc-cluster"].resource_type == "AWS::RDS::DBCluster"
    assert results[f"{arn}:db:plain-db"].observed["engine"] == "mysql"
    # 2 listings + 2 snapshot listings + 1 DescribeDBParameters per distinct DB parameter group of a standalone
    # instance (default.postgres9.3, default.mysql5.6) + 1 DescribeDBClusterParameters per distinct cluster group
    # (moto names both clusters' default group default.aurora8.0)
    assert recorder.api_calls == 4 + 2 + 1


def test_rds_paginates(estate):
    recorder = collect("aws.rds", BULK_REGION)
    pages = recorder.bundle.all("rds", "DescribeDBInstances")
    assert len(pages) == 2
    assert "Marker" in pages[1].params
    results = evaluate(recorder)["aws.rds.storage_encryption"]
    assert len(results) == BULK
    assert set(statuses(results).values()) == {"pass"}


def test_dynamodb(estate):
    recorder = collect("aws.dynamodb", "us-east-1")
    results = evaluate(recorder)["aws.dynamodb.encryption"]
    assert statuses(results) == {"events": "pass", "orders": "pass", "payments": "pass"}
    assert results["events"].observed["key_type"] == "AWS_OWNED"
    assert results["orders"].observed["key_type"] == "CUSTOMER_MANAGED"
    assert results["orders"].observed["key_type_verified"] is True
    assert results["orders"].observed["kms_key_arn"] == estate["orders_key"]
    # moto's stand-in for the AWS managed aws/dynamodb key reports KeyManager CUSTOMER
    assert results["payments"].observed["key_type"] == "CUSTOMER_MANAGED"

    strict = checks_for("aws.dynamodb")[0].run(
        recorder.bundle, thresholds={"require_customer_managed": True}, as_of=AS_OF
    )
    assert {r.resource_id: str(r.status) for r in strict} == {"events": "fail", "orders": "pass", "payments": "pass"}
    # 1 ListTables + 3 DescribeTable + 2 DescribeKey (two distinct KMS keys)
    assert recorder.api_calls == 1 + 3 + 2


def test_dynamodb_paginates(estate):
    recorder = collect("aws.dynamodb", BULK_REGION)
    pages = recorder.bundle.all("dynamodb", "ListTables")
    assert len(pages) == 2
    assert pages[1].params["ExclusiveStartTableName"] == "bulk-099"
    results = evaluate(recorder)["aws.dynamodb.encryption"]
    assert len(results) == BULK
    assert set(statuses(results).values()) == {"pass"}


def test_kms(estate):
    keys = estate["keys"]
    recorder = collect("aws.kms", KMS_REGION)
    results = evaluate(recorder)["aws.kms.key_rotation"]
    assert statuses(results) == {
        keys["rotating"]: "pass",
        keys["not_rotating"]: "fail",
        keys["rsa"]: "not_applicable",
        keys["hmac"]: "not_applicable",
        keys["disabled"]: "not_applicable",
        keys["pending"]: "fail",  # data under it becomes unreadable: visible, never a silent not_applicable
        keys["imported"]: "not_applicable",
    }
    assert results[keys["rotating"]].observed["rotation_enabled"] is True
    # moto accepts RotationPeriodInDays but does not return it from GetKeyRotationStatus
    assert results[keys["rotating"]].observed["rotation_period_days"] in (180, None)
    assert "asymmetric" in results[keys["rsa"]].reason
    assert "HMAC" in results[keys["hmac"]].reason
    assert "Disabled" in results[keys["disabled"]].reason
    assert results[keys["pending"]].reason.startswith("pending deletion on ")
    assert results[keys["pending"]].observed["deletion_date"]  # moto sets it 7 days ahead
    assert "imported" in results[keys["imported"]].reason
    # GetKeyRotationStatus only for the two eligible keys
    rotation_calls = {c.params["KeyId"] for c in recorder.bundle.all("kms", "GetKeyRotationStatus")}
    assert rotation_calls == {keys["rotating"], keys["not_rotating"]}
    assert recorder.api_calls == 1 + 7 + 2


def test_unreachable_endpoint_becomes_error_results(estate, monkeypatch):
    """A call that never gets an answer is recorded as evidence of the failure: every check reports `error`."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # discard port: connection refused
    recorder = collect("aws.kms", KMS_REGION)
    (result,) = evaluate(recorder)["aws.kms.key_rotation"].values()
    assert result.status == Status.ERROR
    assert result.resource_id == "*"
    assert result.observed["error_code"] == "EndpointConnectionError"
    assert result.observed["required_permission"] == "kms:ListKeys"
    assert result.observed["missing_permission"] is None
