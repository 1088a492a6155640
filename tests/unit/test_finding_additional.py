"""A finding's `additional` object: stable finding_id, severity, remediation, ARN and console URL."""

from __future__ import annotations

import json

import pytest

from collectors.registry import specs
from controls import CheckResult, Finding, Status
from controls.additional import additional_fields, finding_id
from controls.model import ADDITIONAL_FIELDS
from controls.resources import console_url, resource_arn
from reports.store import finding_line

ACCOUNT = "123456789012"


def result(check_id: str, resource_type: str, resource_id: str, region: str = "eu-west-1", **kw) -> CheckResult:
    return CheckResult(
        check_id=check_id,
        provider=kw.get("provider", "aws"),
        account=kw.get("account", ACCOUNT),
        region=region,
        resource_type=resource_type,
        resource_id=resource_id,
        status=kw.get("status", Status.FAIL),
        observed={"b": 1, "a": 2},
        expected=None,
        reason="r",
    )


def test_finding_id_is_stable_and_distinguishes_every_key_field() -> None:
    key = ("aws.s3.default_encryption", ACCOUNT, "eu-west-1", "AWS::S3::Bucket", "logs")
    fid = finding_id(*key)
    assert len(fid) == 32 and all(c in "0123456789abcdef" for c in fid)
    assert fid == finding_id(*key)
    for i in range(len(key)):
        changed = list(key)
        changed[i] = changed[i] + "x"
        assert finding_id(*changed) != fid, i
    # joined with a separator that cannot occur in ids: moving a character between fields changes it
    assert finding_id("a", "bc", "r", "t", "i") != finding_id("ab", "c", "r", "t", "i")


def test_finding_id_is_pinned() -> None:
    """The id must not change between releases: tickets, dashboards and exceptions refer to it."""
    key = ("aws.s3.default_encryption", ACCOUNT, "eu-west-1", "AWS::S3::Bucket", "logs")
    assert finding_id(*key) == "27245150ace094de6fe9111a3adfc46e"


def test_additional_fields_from_spec_and_result() -> None:
    spec = specs()["aws.s3.default_encryption"]
    r = result(spec.id, "AWS::S3::Bucket", "logs")
    extra = additional_fields(r, spec)
    assert list(extra) == list(ADDITIONAL_FIELDS)
    assert extra["finding_id"] == finding_id(spec.id, ACCOUNT, "eu-west-1", "AWS::S3::Bucket", "logs")
    assert extra["severity"] == str(spec.severity)
    assert extra["remediation"] == spec.remediation and extra["remediation"]
    assert extra["resource_arn"] == "arn:aws:s3:::logs"
    assert extra["console_url"] == "https://s3.console.aws.amazon.com/s3/buckets/logs?region=eu-west-1"
    unknown = additional_fields(r, None)
    assert unknown["severity"] is None and unknown["remediation"] is None
    assert unknown["finding_id"] == extra["finding_id"]


@pytest.mark.parametrize(
    ("rtype", "region", "rid", "arn", "url"),
    [
        (
            "AWS::EC2::Volume",
            "us-east-1",
            "vol-0abc",
            f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/vol-0abc",
            "https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1#VolumeDetails:volumeId=vol-0abc",
        ),
        (
            "AWS::RDS::DBInstance",
            "eu-west-1",
            f"arn:aws:rds:eu-west-1:{ACCOUNT}:db:accounts-db",
            f"arn:aws:rds:eu-west-1:{ACCOUNT}:db:accounts-db",
            "https://eu-west-1.console.aws.amazon.com/rds/home?region=eu-west-1#database:id=accounts-db;is-cluster=false",
        ),
        (
            "AWS::RDS::DBCluster",
            "eu-west-1",
            "aurora",
            f"arn:aws:rds:eu-west-1:{ACCOUNT}:cluster:aurora",
            "https://eu-west-1.console.aws.amazon.com/rds/home?region=eu-west-1#database:id=aurora;is-cluster=true",
        ),
        (
            "AWS::DynamoDB::Table",
            "eu-west-1",
            "presence",
            f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/presence",
            "https://eu-west-1.console.aws.amazon.com/dynamodbv2/home?region=eu-west-1#table?name=presence",
        ),
        (
            "AWS::KMS::Key",
            "eu-west-1",
            "29eb1aa6-1e9f",
            f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/29eb1aa6-1e9f",
            "https://eu-west-1.console.aws.amazon.com/kms/home?region=eu-west-1#/kms/keys/29eb1aa6-1e9f",
        ),
        (
            "AWS::IAM::User",
            "global",
            "leo.ops",
            f"arn:aws:iam::{ACCOUNT}:user/leo.ops",
            "https://console.aws.amazon.com/iam/home#/users/details/leo.ops",
        ),
        (
            "AWS::IAM::User",
            "global",
            "leo.ops/access_key_1",  # a user's credential: the user's ARN and page
            f"arn:aws:iam::{ACCOUNT}:user/leo.ops",
            "https://console.aws.amazon.com/iam/home#/users/details/leo.ops",
        ),
        (
            "AWS::IAM::Role",
            "global",
            f"arn:aws:iam::{ACCOUNT}:role/ops/admin",
            f"arn:aws:iam::{ACCOUNT}:role/ops/admin",
            "https://console.aws.amazon.com/iam/home#/roles/details/admin",
        ),
        (
            "AWS::ElasticLoadBalancing::LoadBalancer",
            "us-east-1",
            "classic",
            f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:loadbalancer/classic",
            "https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1#LoadBalancers:search=classic",
        ),
        (
            "AWS::ElasticLoadBalancingV2::Listener",
            "us-east-1",
            f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:listener/app/web/7a19/62b5",
            f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:listener/app/web/7a19/62b5",
            "https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1#LoadBalancer:loadBalancerArn="
            f"arn%3Aaws%3Aelasticloadbalancing%3Aus-east-1%3A{ACCOUNT}%3Aloadbalancer%2Fapp%2Fweb%2F7a19",
        ),
        (
            "AWS::CloudFront::Distribution.Origin",
            "global",
            f"arn:aws:cloudfront::{ACCOUNT}:distribution/AL6ZD/origin/app",
            f"arn:aws:cloudfront::{ACCOUNT}:distribution/AL6ZD/origin/app",
            "https://console.aws.amazon.com/cloudfront/v4/home#/distributions/AL6ZD",
        ),
        (
            "AWS::S3::Bucket",
            "cn-north-1",
            "cn-logs",
            "arn:aws-cn:s3:::cn-logs",
            "https://s3.console.amazonaws.cn/s3/buckets/cn-logs?region=cn-north-1",
        ),
        ("AWS::::Account", "global", "<root_account>", f"arn:aws:iam::{ACCOUNT}:root", None),
        ("AWS::IAM::AccountPasswordPolicy", "global", ACCOUNT, None, None),
        ("AWS::EC2::EbsEncryptionByDefault", "eu-west-1", "eu-west-1", None, None),
        ("AWS::S3::Bucket", "eu-west-1", "*", None, None),  # the listing failed: no resource to name
        ("AWS::EC2::Volume", "global", "vol-1", None, None),  # a regional type without a region: no guess
    ],
)
def test_arn_and_console_url(rtype: str, region: str, rid: str, arn: str | None, url: str | None) -> None:
    assert resource_arn("aws", rtype, ACCOUNT, region, rid) == arn
    assert console_url("aws", rtype, ACCOUNT, region, rid) == url


def test_gcs_bucket_console_url_and_no_arn() -> None:
    args = ("gcp", "GCP::Storage::Bucket", "dexo-prod", "europe-west1", "warehouse")
    assert resource_arn(*args) is None
    assert console_url(*args) == "https://console.cloud.google.com/storage/browser/warehouse?project=dexo-prod"


def test_names_are_url_encoded() -> None:
    url = console_url("aws", "AWS::DynamoDB::Table", ACCOUNT, "eu-west-1", "a b#c")
    assert url is not None and url.endswith("#table?name=a%20b%23c")


def test_endpoint_has_neither() -> None:
    args = ("endpoint", "Endpoint::TLS", "app.example:443", "global", "app.example:443")
    assert resource_arn(*args) is None and console_url(*args) is None


def test_every_registered_check_has_severity_and_remediation() -> None:
    for check_id, spec in specs().items():
        extra = additional_fields(result(check_id, spec.resource_type, "x"), spec)
        assert extra["severity"] in {"low", "medium", "high", "critical"}, check_id
        assert extra["remediation"], check_id


def test_findings_jsonl_line_carries_additional_last_and_round_trips() -> None:
    spec = specs()["aws.s3.default_encryption"]
    r = result(spec.id, "AWS::S3::Bucket", "logs")
    f = Finding("run-1", r, ("ENC-01",), ("CC6.1",), "2026-01-01T00:00:00.000000Z", additional_fields(r, spec))
    line = finding_line(f)
    data = json.loads(line)
    assert list(data)[-1] == "additional" and list(data)[-2] == "evaluated_at"
    assert list(data["additional"]) == list(ADDITIONAL_FIELDS)
    assert finding_line(Finding.from_json(data)) == line
    legacy = Finding("run-1", r, ("ENC-01",), ("CC6.1",), "t")  # written before `additional` existed
    assert "additional" not in json.loads(finding_line(legacy))
