"""Throttling from the emulator (demo/emulators.py MotoEmulator.throttle, FaultRule(throttle=True)),
seen through boto3 against moto's server over HTTP.

Each protocol answers AWS's own throttling error (S3 / S3 Control 503 SlowDown, EC2 503
RequestLimitExceeded, query 400 Throttling, JSON 400 ThrottlingException, REST-JSON 429
TooManyRequestsException); boto3 parses it as that code and botocore's standard retry mode
retries it: the emulator's request count shows every attempt. The client config is the tool's
own (AwsTuning.botocore_config), so these tests also pin what `aws.max_attempts` means: attempts
in all, not retries. Random throttling is seeded (reproducible) and counted. Preflight (3
attempts) reports throttling as throttling, never as rejected credentials or a refused role."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest
import yaml

from collectors.aws.base import THROTTLING_CODES, AwsTuning
from demo.emulators import MotoEmulator, s3control_direct_host
from demo.moto_wsgi import THROTTLING, FaultRule
from flows.config import load_config
from flows.preflight import PREFLIGHT_TUNING, run_preflight

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"  # moto's default account, the one the "testing" keys are in
MEMBER = "222222222222"


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoEmulator]:
    with MotoEmulator() as emulator, emulator.use_env():
        emulator.reset()  # moto's state is per process: start from a clean slate, leave none behind
        yield emulator
        emulator.reset()


@pytest.fixture(autouse=True)
def clean(aws: MotoEmulator) -> Iterator[None]:
    aws.clear_faults()
    aws.reset_counts()
    yield
    aws.clear_faults()


def client(aws: MotoEmulator, service: str, attempts: int = 3) -> Any:
    made = boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url=aws.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=AwsTuning(max_attempts=attempts).botocore_config(),
    )
    return s3control_direct_host(made) if service == "s3control" else made


# (service, operation as the emulator names it, the call, protocol)
CALLS: list[tuple[str, str, Callable[[Any], Any], str]] = [
    ("s3", "ListBuckets", lambda c: c.list_buckets(), "rest-xml"),
    ("s3control", "GetPublicAccessBlock", lambda c: c.get_public_access_block(AccountId=ACCOUNT), "rest-xml"),
    ("ec2", "DescribeVolumes", lambda c: c.describe_volumes(), "ec2"),
    ("iam", "ListUsers", lambda c: c.list_users(), "query"),
    ("sts", "GetCallerIdentity", lambda c: c.get_caller_identity(), "query"),
    ("rds", "DescribeDBInstances", lambda c: c.describe_db_instances(), "query"),
    ("dynamodb", "ListTables", lambda c: c.list_tables(), "json"),
    ("kms", "ListKeys", lambda c: c.list_keys(), "json"),
    ("account", "ListRegions", lambda c: c.list_regions(), "rest-json"),
    # REST operations named from botocore's models (demo/rest_operations.py)
    ("efs", "DescribeFileSystems", lambda c: c.describe_file_systems(), "rest-json"),
    ("opensearch", "ListDomainNames", lambda c: c.list_domain_names(), "rest-json"),
    ("apigateway", "GetRestApis", lambda c: c.get_rest_apis(), "rest-json"),
    ("backup", "ListBackupVaults", lambda c: c.list_backup_vaults(), "rest-json"),
]


@pytest.mark.parametrize(("service", "operation", "call", "protocol"), CALLS, ids=[c[1] for c in CALLS])
def test_each_protocol_answers_its_throttling_error_and_botocore_retries_it(
    aws: MotoEmulator, service: str, operation: str, call: Callable[[Any], Any], protocol: str
) -> None:
    aws.add_fault(FaultRule(operation, throttle=True))  # times=None: always
    code, status, _ = THROTTLING[protocol]
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call(client(aws, service, attempts=3))
    answer = caught.value.response
    assert answer["Error"]["Code"] == code and code in THROTTLING_CODES
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == status
    assert answer["ResponseMetadata"]["RetryAttempts"] == 2  # retried as throttling, then gave up
    assert aws.counts() == {operation: 3} == aws.throttled()  # aws.max_attempts 3 = 3 requests in all


def test_rest_json_services_without_a_named_operation_are_throttled_too(aws: MotoEmulator) -> None:
    """throttle(services=) reaches a REST-JSON service's every operation, with 429 TooManyRequestsException."""
    aws.throttle(1.0, services={"apigateway"})
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        client(aws, "apigateway", attempts=2).get_rest_apis()
    assert caught.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert sum(aws.throttled().values()) == 2
    client(aws, "sts").get_caller_identity()  # another service: untouched
    assert aws.counts()["GetCallerIdentity"] == 1 and "GetCallerIdentity" not in aws.throttled()


def test_cloudfront_speaks_rest_xml_and_throttles_with_throttling(aws: MotoEmulator) -> None:
    """CloudFront is REST-XML and throttles with 400 Throttling: a JSON error body would parse as code "429"
    (found by the 80 % scenario of test_fault_injection.py)."""
    aws.throttle(1.0, services={"cloudfront"})
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        client(aws, "cloudfront", attempts=2).list_distributions()
    assert caught.value.response["Error"]["Code"] == "Throttling"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert aws.throttled() == {"ListDistributions": 2}  # named from botocore's model of CloudFront


@pytest.mark.parametrize("attempts", [1, 2, 5])
def test_max_attempts_counts_attempts_in_all_not_retries(aws: MotoEmulator, attempts: int) -> None:
    """botocore's own retries={"max_attempts": 5} would make 6 requests; the tool's 5 makes 5."""
    aws.add_fault(FaultRule("ListTables", throttle=True))
    with pytest.raises(botocore.exceptions.ClientError):
        client(aws, "dynamodb", attempts=attempts).list_tables()
    assert aws.counts() == {"ListTables": attempts}


def test_throttling_that_clears_within_the_attempts_is_invisible_to_the_caller(aws: MotoEmulator) -> None:
    aws.add_fault(FaultRule("ListBuckets", throttle=True, times=2))
    assert client(aws, "s3", attempts=3).list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert aws.counts() == {"ListBuckets": 3} and aws.throttled() == {"ListBuckets": 2}


def _pattern(aws: MotoEmulator, probability: float, seed: int, calls: int = 60) -> list[bool]:
    """Which of `calls` sequential single-attempt requests were throttled."""
    aws.clear_faults()
    aws.reset_counts()
    aws.throttle(probability, seed=seed)
    sts = client(aws, "sts", attempts=1)
    out = []
    for _ in range(calls):
        try:
            sts.get_caller_identity()
            out.append(False)
        except botocore.exceptions.ClientError as exc:
            assert exc.response["Error"]["Code"] == "Throttling"
            out.append(True)
    return out


def test_seeded_throttling_is_reproducible_and_counted(aws: MotoEmulator) -> None:
    first = _pattern(aws, 0.3, seed=7)
    assert aws.counts() == {"GetCallerIdentity": 60}
    assert aws.throttled() == {"GetCallerIdentity": sum(first)}
    assert aws.throttle_summary().startswith(f"{sum(first)} of 60 requests throttled")
    assert 0 < sum(first) < 60
    assert _pattern(aws, 0.3, seed=7) == first  # same seed, same requests: the same ones throttled
    assert _pattern(aws, 0.3, seed=8) != first  # another seed draws another pattern


def test_the_share_throttled_follows_the_probability(aws: MotoEmulator) -> None:
    throttled = sum(_pattern(aws, 0.3, seed=11, calls=300))
    assert 60 <= throttled <= 120, throttled  # 90 expected; far outside means the probability is not applied


def test_throttling_only_the_operations_asked_and_stopping_it(aws: MotoEmulator) -> None:
    aws.throttle(1.0, operations={"ListBuckets"})
    s3, sts = client(aws, "s3", attempts=1), client(aws, "sts", attempts=1)
    with pytest.raises(botocore.exceptions.ClientError):
        s3.list_buckets()
    sts.get_caller_identity()
    assert aws.throttled() == {"ListBuckets": 1}
    aws.throttle(0)  # stops
    s3.list_buckets()
    aws.throttle(1.0)
    aws.clear_faults()  # stops too
    s3.list_buckets()
    assert aws.counts() == {"ListBuckets": 3, "GetCallerIdentity": 1} and aws.throttled() == {"ListBuckets": 1}
    with pytest.raises(ValueError, match="probability"):
        aws.throttle(1.5)


def test_fault_rules_come_before_random_throttling(aws: MotoEmulator) -> None:
    aws.throttle(1.0)
    aws.add_fault(FaultRule("ListUsers", code="AccessDenied", status=403))
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        client(aws, "iam", attempts=3).list_users()
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    assert aws.counts() == {"ListUsers": 1} and aws.throttled() == {}  # not retried, not counted as throttled


# ---------------------------------------------------------------- preflight under throttling


def _config(tmp_path: Path, *, discover: bool = False) -> Any:
    """One configured member account, or (discover) Organizations discovery alone."""
    accounts = [{"id": MEMBER, "name": "member", "role_arn": f"arn:aws:iam::{MEMBER}:role/reader"}]
    body = {
        "organization": "Acme",
        "period": {"start": "2026-01-01", "end": "2026-12-31"},
        "aws": {"organization": {"discover": True}} if discover else {"accounts": accounts},
        "output": str(tmp_path / "out"),
    }
    path = tmp_path / "soc2-evidence.yaml"
    path.write_text(yaml.safe_dump(body))
    return load_config(path)


def test_preflight_passes_without_faults(aws: MotoEmulator, tmp_path: Path) -> None:
    result = run_preflight(_config(tmp_path))
    assert result.ok and result.warnings == [], result.problems


def test_preflight_retries_throttling_and_succeeds_when_it_clears(aws: MotoEmulator, tmp_path: Path) -> None:
    aws.add_fault(FaultRule("GetCallerIdentity", throttle=True, times=PREFLIGHT_TUNING.max_attempts - 1))
    result = run_preflight(_config(tmp_path))
    assert result.ok and result.warnings == [], (result.problems, result.warnings)
    assert aws.throttled() == {"GetCallerIdentity": PREFLIGHT_TUNING.max_attempts - 1}


def test_preflight_says_throttled_never_credentials_rejected(aws: MotoEmulator, tmp_path: Path) -> None:
    aws.add_fault(FaultRule("GetCallerIdentity", throttle=True))
    result = run_preflight(_config(tmp_path))
    assert result.ok, result.problems  # throttling proves nothing about the credentials: the run goes on
    text = "\n".join(result.warnings)
    assert "rejected" not in text and "cannot be entered" not in text
    assert "throttled sts:GetCallerIdentity (Throttling" in text and "not a credentials problem" in text
    assert f"AWS account {MEMBER} (member) could not be checked: sts:GetCallerIdentity throttled" in text
    assert "aws.max_attempts" in text
    # 3 attempts each: the base credentials, then the member account
    assert aws.counts()["GetCallerIdentity"] == 2 * PREFLIGHT_TUNING.max_attempts == 6


def test_preflight_a_throttled_assume_role_is_not_a_refused_role(aws: MotoEmulator, tmp_path: Path) -> None:
    aws.add_fault(FaultRule("AssumeRole", throttle=True))
    result = run_preflight(_config(tmp_path))
    assert result.ok, result.problems  # the only account: refused would be exit 2, throttled is not
    assert len(result.warnings) == 1 and "sts:AssumeRole throttled (Throttling" in result.warnings[0]
    assert aws.counts()["AssumeRole"] == PREFLIGHT_TUNING.max_attempts
    aws.clear_faults()
    aws.add_fault(FaultRule("AssumeRole", code="AccessDenied", status=403))
    refused = run_preflight(_config(tmp_path))
    assert not refused.ok and "no AWS account can be entered" in refused.message()


def test_preflight_a_throttled_organization_listing_is_a_warning_not_a_failure(
    aws: MotoEmulator, tmp_path: Path
) -> None:
    """With discovery alone (no configured account), a refused ListAccounts ends the run before it starts; a
    throttled one only warns: the run lists again with its own attempts (and errors "*" if that fails too)."""
    discovering = _config(tmp_path, discover=True)
    aws.add_fault(FaultRule("ListAccounts", throttle=True))
    result = run_preflight(discovering)
    assert result.ok, result.problems
    assert any(
        "organizations:ListAccounts): ThrottlingException" in w and "still throttled" in w for w in result.warnings
    )
    assert aws.counts()["ListAccounts"] == PREFLIGHT_TUNING.max_attempts
    aws.clear_faults()
    aws.add_fault(FaultRule("ListAccounts", code="AccessDeniedException", status=400))
    refused = run_preflight(discovering)
    assert not refused.ok and "no AWS account to assess" in refused.message()
