"""MotoEmulator: moto's server over HTTP with latency, call counts and injected faults
that boto3 parses as ordinary ClientErrors for each protocol (JSON, query, EC2, S3 REST-XML)."""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from demo.emulators import MotoEmulator, s3control_direct_host
from demo.moto_wsgi import FaultRule

pytestmark = pytest.mark.integration

RETRYING = Config(retries={"mode": "standard", "max_attempts": 5})
NO_RETRY = Config(retries={"mode": "standard", "max_attempts": 1})


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoEmulator]:
    with MotoEmulator() as emulator:
        yield emulator
        emulator.reset()  # moto state is per process: leave none behind for other modules


@pytest.fixture(autouse=True)
def clean(aws: MotoEmulator) -> Iterator[None]:
    aws.clear_faults()
    aws.latency_seconds = 0.0
    aws.reset_counts()
    yield
    aws.clear_faults()
    aws.latency_seconds = 0.0


def client(aws: MotoEmulator, service: str, region: str = "us-east-1", config: Config = RETRYING) -> Any:
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=aws.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )


def error_code(exc: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def test_endpoint_is_local_and_env_points_boto3_at_it(aws: MotoEmulator) -> None:
    assert aws.endpoint_url.startswith("http://127.0.0.1:")
    env = aws.env()
    assert env["AWS_ENDPOINT_URL"] == aws.endpoint_url
    assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_CONFIG_FILE"] == env["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull
    before = os.environ.get("AWS_ENDPOINT_URL")
    with aws.use_env():
        assert "AWS_PROFILE" not in os.environ
        identity = boto3.client("sts").get_caller_identity()  # no explicit endpoint, keys or region
    assert identity["Account"] == "123456789012"
    assert os.environ.get("AWS_ENDPOINT_URL") == before
    assert aws.counts() == {"GetCallerIdentity": 1}


def test_latency_is_applied_and_settable_while_running(aws: MotoEmulator) -> None:
    sts = client(aws, "sts")
    sts.get_caller_identity()  # warm the connection
    aws.latency_seconds = 0.2
    started = time.perf_counter()
    sts.get_caller_identity()
    assert time.perf_counter() - started >= 0.2


def test_request_counts_per_operation(aws: MotoEmulator) -> None:
    ddb, kms, s3, ec2 = client(aws, "dynamodb"), client(aws, "kms"), client(aws, "s3"), client(aws, "ec2")
    ddb.list_tables()
    ddb.list_tables()
    kms.list_keys()
    s3.list_buckets()
    ec2.describe_volumes()
    client(aws, "rds").describe_db_instances()
    assert aws.counts() == {
        "ListTables": 2,
        "ListKeys": 1,
        "ListBuckets": 1,
        "DescribeVolumes": 1,
        "DescribeDBInstances": 1,
    }
    aws.reset_counts()
    assert aws.counts() == {}


def test_counts_are_thread_safe(aws: MotoEmulator) -> None:
    sts = client(aws, "sts")
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: sts.get_caller_identity(), range(40)))
    assert aws.request_counts["GetCallerIdentity"] == 40


def test_s3_operations_are_named_from_method_path_and_query(aws: MotoEmulator) -> None:
    s3, s3_eu = client(aws, "s3"), client(aws, "s3", "eu-west-1")
    s3.create_bucket(Bucket="emu-names-us")
    s3_eu.create_bucket(Bucket="emu-names-eu", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    s3.put_bucket_encryption(Bucket="emu-names-us", ServerSideEncryptionConfiguration={"Rules": [rule]})
    s3.get_bucket_encryption(Bucket="emu-names-us")
    s3.delete_bucket_encryption(Bucket="emu-names-us")
    s3.get_bucket_location(Bucket="emu-names-eu")
    with pytest.raises(botocore.exceptions.ClientError):
        s3.get_public_access_block(Bucket="emu-names-us")
    s3.put_object(Bucket="emu-names-us", Key="a/b.txt", Body=b"x")
    s3.list_objects_v2(Bucket="emu-names-us")
    s3control = s3control_direct_host(client(aws, "s3control", config=Config(inject_host_prefix=False)))
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3control.get_public_access_block(AccountId="123456789012")
    assert error_code(exc) == "NoSuchPublicAccessBlockConfiguration"
    counts = aws.counts()
    for op in (
        "PutBucketEncryption",
        "GetBucketEncryption",
        "DeleteBucketEncryption",
        "GetBucketLocation",
        "PutObject",
        "ListObjectsV2",
    ):
        assert counts[op] == 1, op
    assert counts["CreateBucket"] == 2
    assert counts["GetPublicAccessBlock"] == 2  # bucket level and account level (s3control)


def test_s3control_with_endpoint_override_needs_direct_host(aws: MotoEmulator) -> None:
    """botocore's s3control endpoint rules prefix the host with the account id even with
    inject_host_prefix=False; against 127.0.0.1 that name does not resolve."""
    plain = client(aws, "s3control", config=Config(inject_host_prefix=False, retries={"max_attempts": 1}))
    with pytest.raises(botocore.exceptions.EndpointConnectionError, match=r"123456789012\.127\.0\.0\.1"):
        plain.get_public_access_block(AccountId="123456789012")


def test_request_bodies_reach_moto_intact(aws: MotoEmulator) -> None:
    s3 = client(aws, "s3")
    s3.create_bucket(Bucket="emu-bodies")
    payload = os.urandom(256 * 1024)
    s3.put_object(Bucket="emu-bodies", Key="blob.bin", Body=payload)
    assert s3.get_object(Bucket="emu-bodies", Key="blob.bin")["Body"].read() == payload
    ddb = client(aws, "dynamodb")
    ddb.create_table(
        TableName="emu-bodies",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert ddb.describe_table(TableName="emu-bodies")["Table"]["TableName"] == "emu-bodies"


def test_assume_role_fault_for_one_role_only(aws: MotoEmulator) -> None:
    denied = "arn:aws:iam::111111111111:role/soc2-evidence-reader"
    allowed = "arn:aws:iam::222222222222:role/soc2-evidence-reader"
    aws.add_fault(FaultRule("AssumeRole", match=denied))
    sts = client(aws, "sts")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sts.assume_role(RoleArn=denied, RoleSessionName="soc2-evidence")
    assert error_code(exc) == "AccessDenied"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert exc.value.response["Error"]["Message"] == "injected"
    creds = sts.assume_role(RoleArn=allowed, RoleSessionName="soc2-evidence")["Credentials"]
    assumed = boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=aws.endpoint_url,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    assert assumed.get_caller_identity()["Account"] == "222222222222"


def test_throttling_that_clears_is_retried_by_botocore(aws: MotoEmulator) -> None:
    aws.add_fault(FaultRule("DescribeVolumes", code="Throttling", status=400, times=2))
    answer = client(aws, "ec2").describe_volumes()
    assert answer["ResponseMetadata"]["RetryAttempts"] == 2
    assert aws.counts()["DescribeVolumes"] == 3
    client(aws, "ec2").describe_volumes()  # the rule is used up
    assert aws.counts()["DescribeVolumes"] == 4


def test_ec2_error_format(aws: MotoEmulator) -> None:
    aws.add_fault(FaultRule("DescribeVolumes", code="UnauthorizedOperation", message="not for you"))
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        client(aws, "ec2", "eu-west-1").describe_volumes()
    assert error_code(exc) == "UnauthorizedOperation"
    assert exc.value.response["Error"]["Message"] == "not for you"


def test_bucket_encryption_fault_on_one_bucket(aws: MotoEmulator) -> None:
    s3 = client(aws, "s3")
    for name in ("emu-denied-bucket", "emu-open-bucket"):
        s3.create_bucket(Bucket=name)
    aws.add_fault(FaultRule("GetBucketEncryption", match="emu-denied-bucket"))
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.get_bucket_encryption(Bucket="emu-denied-bucket")
    assert error_code(exc) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.get_bucket_encryption(Bucket="emu-open-bucket")
    assert error_code(exc) == "ServerSideEncryptionConfigurationNotFoundError"  # moto's real answer
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.get_public_access_block(Bucket="emu-denied-bucket")
    assert error_code(exc) == "NoSuchPublicAccessBlockConfiguration"  # other operations are untouched


def test_s3_and_s3control_xml_faults(aws: MotoEmulator) -> None:
    aws.add_fault(FaultRule("ListBuckets", code="AllAccessDisabled", message="All access to this object is disabled"))
    aws.add_fault(FaultRule("GetPublicAccessBlock", service="s3control", code="AccessDenied"))
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        client(aws, "s3").list_buckets()
    assert error_code(exc) == "AllAccessDisabled"
    assert exc.value.response["Error"]["Message"] == "All access to this object is disabled"
    s3control = s3control_direct_host(client(aws, "s3control", config=Config(inject_host_prefix=False)))
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3control.get_public_access_block(AccountId="123456789012")
    assert error_code(exc) == "AccessDenied"


def test_json_protocol_faults(aws: MotoEmulator) -> None:
    aws.add_fault(FaultRule("ListTables", code="ResourceNotFoundException", status=400, message="gone"))
    aws.add_fault(FaultRule("DescribeKey", code="AccessDeniedException", status=400, match="1234abcd"))
    ddb, kms = client(aws, "dynamodb"), client(aws, "kms")
    with pytest.raises(ddb.exceptions.ResourceNotFoundException) as exc:  # the modelled exception class
        ddb.list_tables()
    assert error_code(exc) == "ResourceNotFoundException"
    assert exc.value.response["Error"]["Message"] == "gone"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.describe_key(KeyId="1234abcd-12ab-34cd-56ef-1234567890ab")
    assert error_code(exc) == "AccessDeniedException"
    with pytest.raises(kms.exceptions.NotFoundException):  # other keys reach moto
        kms.describe_key(KeyId="99999999-12ab-34cd-56ef-1234567890ab")


def test_query_protocol_fault(aws: MotoEmulator) -> None:
    aws.add_fault(FaultRule("DescribeDBInstances", code="AccessDenied", message="no rds"))
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        client(aws, "rds", "eu-west-1").describe_db_instances()
    assert error_code(exc) == "AccessDenied"
    assert exc.value.response["Error"]["Message"] == "no rds"
    client(aws, "iam").list_roles()  # unaffected


def test_times_limits_a_fault_and_clear_faults_removes_all(aws: MotoEmulator) -> None:
    sts = client(aws, "sts", config=NO_RETRY)
    aws.add_fault(FaultRule("GetCallerIdentity", times=1))
    aws.add_fault(FaultRule("ListRoles"))
    with pytest.raises(botocore.exceptions.ClientError):
        sts.get_caller_identity()
    sts.get_caller_identity()
    aws.clear_faults()
    client(aws, "iam").list_roles()


def test_reset_drops_moto_state(aws: MotoEmulator) -> None:
    s3 = client(aws, "s3")
    s3.create_bucket(Bucket="emu-reset-me")
    aws.reset()
    assert "emu-reset-me" not in {b["Name"] for b in s3.list_buckets()["Buckets"]}


def test_cached_backend_lookup_serves_every_service_across_resets(aws: MotoEmulator) -> None:
    """The dispatcher caches host -> backend (demo.emulators.CachedDispatcher): after a reset each service
    still reaches its own backend, with the new state, in each region."""
    for _ in range(2):
        aws.reset()
        for region in ("us-east-1", "eu-west-1"):
            ec2 = client(aws, "ec2", region)
            volume = ec2.create_volume(AvailabilityZone=f"{region}a", Size=1)["VolumeId"]
            assert [v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]] == [volume]
            assert client(aws, "sqs", region).list_queues().get("QueueUrls", []) == []
        s3 = client(aws, "s3")
        s3.create_bucket(Bucket="emu-cached-dispatch")
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["emu-cached-dispatch"]
        assert client(aws, "sts").get_caller_identity()["Account"] == "123456789012"
    aws.reset()


def test_ec2_resource_tags_match_describe_tags(aws: MotoEmulator) -> None:
    """Tags inside DescribeVolumes / DescribeSnapshots items come from the indexed lookup
    (demo.emulators.index_ec2_tags); DescribeTags still scans moto's store: both must agree, in order."""
    ec2 = client(aws, "ec2", "eu-west-1")
    made = []
    for i in range(3):
        tags = [{"Key": f"k{j}", "Value": f"v{i}{j}"} for j in range(i)]  # 0, 1 and 2 tags
        spec = [{"ResourceType": "volume", "Tags": tags}] if tags else []
        made.append(ec2.create_volume(AvailabilityZone="eu-west-1a", Size=1, TagSpecifications=spec)["VolumeId"])
    snapshot = ec2.create_snapshot(VolumeId=made[2])["SnapshotId"]
    ec2.create_tags(Resources=[snapshot], Tags=[{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "1"}])
    listed = {v["VolumeId"]: v.get("Tags", []) for v in ec2.describe_volumes(VolumeIds=made)["Volumes"]}
    (snap,) = ec2.describe_snapshots(SnapshotIds=[snapshot])["Snapshots"]
    listed[snapshot] = snap.get("Tags", [])
    for resource, tags in listed.items():
        scanned = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [resource]}])["Tags"]
        assert tags == [{"Key": t["Key"], "Value": t["Value"]} for t in scanned], resource
    assert [len(listed[v]) for v in made] == [0, 1, 2]
    assert listed[snapshot] == [{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "1"}]


def test_stop_frees_the_port_and_restart_works() -> None:
    emulator = MotoEmulator().start()
    url = emulator.endpoint_url
    emulator.stop()
    sts = boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=NO_RETRY,
    )
    with pytest.raises(botocore.exceptions.EndpointConnectionError):
        sts.get_caller_identity()
    with MotoEmulator(latency_seconds=0.01) as again:
        assert again.endpoint_url != url or again.port == emulator.port
        assert client(again, "sts").get_caller_identity()["Account"] == "123456789012"


def test_ebs_default_kms_key_id_is_answered_for_moto(aws: MotoEmulator) -> None:
    ec2 = client(aws, "ec2", "eu-west-1")
    assert ec2.get_ebs_default_kms_key_id()["KmsKeyId"] == "alias/aws/ebs"  # AWS's answer with no custom key
    key = client(aws, "kms", "eu-west-1").create_key(Description="ebs default")["KeyMetadata"]["Arn"]
    ec2.modify_ebs_default_kms_key_id(KmsKeyId=key)
    assert ec2.get_ebs_default_kms_key_id()["KmsKeyId"] == key
    assert client(aws, "ec2", "us-east-1").get_ebs_default_kms_key_id()["KmsKeyId"] == "alias/aws/ebs"
    assert aws.counts()["GetEbsDefaultKmsKeyId"] == 3


def test_operations_moto_lacks_fail_fast_without_retries(aws: MotoEmulator) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        client(aws, "ec2").get_snapshot_block_public_access_state()
    assert error_code(exc) == "NotImplemented"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert aws.counts()["GetSnapshotBlockPublicAccessState"] == 1  # not retried as a 500 would be


def test_presigned_urls_are_identified_and_faultable(aws: MotoEmulator) -> None:
    s3 = client(aws, "s3")
    s3.create_bucket(Bucket="emu-presigned")
    s3.put_object(Bucket="emu-presigned", Key="invoice.pdf", Body=b"%PDF")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "emu-presigned", "Key": "invoice.pdf"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as answer:
        assert answer.read() == b"%PDF"
    aws.add_fault(FaultRule("GetObject", match="invoice.pdf", service="s3"))
    with pytest.raises(urllib.error.HTTPError) as exc:
        opener.open(url, timeout=10)
    assert exc.value.code == 403 and b"<Code>AccessDenied</Code>" in exc.value.read()
    assert aws.counts()["GetObject"] == 2
