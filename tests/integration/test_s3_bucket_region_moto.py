"""The S3 collector's two ways to learn a bucket's region, over HTTP against the project's MotoEmulator.

AWS's ListBuckets names each bucket's BucketRegion; moto 5.2 omits it and the emulator adds it
(demo/moto_wsgi.py, _REWRITES), so the collector makes no GetBucketLocation call. With the rewrite
skipped (MotoEmulator.skip_rewrites, moto's own answer) the collector falls back to one
GetBucketLocation per bucket, with the same verdicts; and a bucket whose GetBucketLocation fails is
`error` naming s3:GetBucketLocation in every bucket check, never filed under a guessed region.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from collectors.aws.base import GLOBAL_REGION, AwsFetchContext, AwsTuning, classify_error
from collectors.evidence import Recorder, Scope
from collectors.registry import checks_for, collectors
from controls import CheckResult, Status
from demo.emulators import MotoEmulator
from demo.moto_wsgi import FaultRule

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"  # moto's default account
AS_OF = datetime(2026, 6, 30, tzinfo=UTC)
BUCKETS = {"region-us-aes": "us-east-1", "region-eu-aes": "eu-west-1", "region-ap-plain": "ap-southeast-2"}
BUCKET_CHECKS = ("aws.s3.default_encryption", "aws.s3.public_access_block", "aws.s3.secure_transport")


def seed() -> None:
    session = boto3.Session()
    for name, region in BUCKETS.items():
        s3 = session.client("s3", region_name=region)
        where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=name, **where)
        if name.endswith("-aes"):
            s3.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
            )


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoEmulator]:
    with MotoEmulator() as emulator, emulator.use_env():
        emulator.reset()  # moto's state is per process: only this module's buckets
        seed()
        yield emulator
        emulator.reset()


@pytest.fixture(autouse=True)
def clean(aws: MotoEmulator) -> Iterator[None]:
    aws.clear_faults()
    aws.skip_rewrites.clear()
    aws.reset_counts()
    yield
    aws.clear_faults()
    aws.skip_rewrites.clear()


def collect() -> Recorder:
    spec = collectors()["aws.s3"]
    recorder = Recorder(Scope("aws", ACCOUNT, GLOBAL_REGION, "aws.s3"), spec.operations, classify_error)
    tuning = AwsTuning(max_attempts=1, concurrency=4)
    spec.fetch(AwsFetchContext(boto3.Session(), ACCOUNT, GLOBAL_REGION, recorder, tuning))
    return recorder


def evaluate(recorder: Recorder) -> dict[str, dict[str, CheckResult]]:
    out: dict[str, dict[str, CheckResult]] = {}
    for check in checks_for("aws.s3"):
        out[check.spec.id] = {r.resource_id: r for r in check.run(recorder.bundle, thresholds={}, as_of=AS_OF)}
    return out


def verdicts(results: dict[str, dict[str, CheckResult]]) -> dict[tuple[str, str], tuple[str, str]]:
    return {
        (check_id, name): (str(r.status), r.region)
        for check_id, by_id in results.items()
        for name, r in by_id.items()
        if name in BUCKETS
    }


def test_list_buckets_names_each_bucket_region(aws: MotoEmulator) -> None:
    listed = boto3.client("s3", region_name="us-east-1").list_buckets()["Buckets"]
    assert {b["Name"]: b["BucketRegion"] for b in listed} == BUCKETS
    aws.skip_rewrites.add("ListBuckets")
    listed = boto3.client("s3", region_name="us-east-1").list_buckets()["Buckets"]
    assert all("BucketRegion" not in b for b in listed)  # moto's own answer


def test_bucket_region_spares_get_bucket_location(aws: MotoEmulator) -> None:
    recorder = collect()
    results = evaluate(recorder)
    found = verdicts(results)
    for name, region in BUCKETS.items():
        want = "pass" if name.endswith("-aes") else "fail"
        assert found["aws.s3.default_encryption", name] == (want, region)
        for check_id in BUCKET_CHECKS:
            assert found[check_id, name][1] == region
    assert aws.counts().get("GetBucketLocation", 0) == 0
    assert recorder.bundle.all("s3", "GetBucketLocation") == []
    # 1 ListBuckets + 1 s3control + per bucket GetBucketEncryption, GetPublicAccessBlock, GetBucketPolicy
    assert recorder.api_calls == 2 + 3 * len(BUCKETS)


def test_without_bucket_region_get_bucket_location_gives_the_same_verdicts(aws: MotoEmulator) -> None:
    with_region = verdicts(evaluate(collect()))
    aws.skip_rewrites.add("ListBuckets")
    aws.reset_counts()
    recorder = collect()
    assert verdicts(evaluate(recorder)) == with_region
    assert aws.counts()["GetBucketLocation"] == len(BUCKETS)
    assert recorder.api_calls == 2 + 4 * len(BUCKETS)


def test_failed_get_bucket_location_is_an_error_naming_the_permission(aws: MotoEmulator) -> None:
    aws.skip_rewrites.add("ListBuckets")
    aws.add_fault(FaultRule("GetBucketLocation", match="region-eu-aes", code="AccessDenied", status=403))
    results = evaluate(collect())
    for check_id in BUCKET_CHECKS:
        failed = results[check_id]["region-eu-aes"]
        assert failed.status == Status.ERROR, check_id
        assert failed.observed["operation"] == "s3:GetBucketLocation"
        assert failed.observed["missing_permission"] == "s3:GetBucketLocation"
        assert results[check_id]["region-ap-plain"].region == "ap-southeast-2"
    assert results["aws.s3.default_encryption"]["region-us-aes"].status == Status.PASS


def test_bucket_region_after_a_reset(aws: MotoEmulator) -> None:
    """moto's backends are rebuilt by /moto-api/reset: the rewrite reads the new ones."""
    aws.reset()
    try:
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(Bucket="region-after-reset", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        listed: Any = boto3.client("s3", region_name="us-east-1").list_buckets()["Buckets"]
        assert [(b["Name"], b["BucketRegion"]) for b in listed] == [("region-after-reset", "eu-west-1")]
    finally:  # the module's buckets again, for any test that runs after this one
        aws.reset()
        seed()
