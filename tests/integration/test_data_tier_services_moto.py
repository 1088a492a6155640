"""The Backup, SQS, SNS, logs, Secrets Manager and IAM-roles collectors fetched for real over HTTP against
moto (through the project's MotoEmulator), then checked; and the same fetches under moto's IAM enforcement
with only the least-privilege policy `soc2-evidence permissions` generates.

moto 5.2.5 limitations seen here (the branches moto cannot produce are unit-tested on recorded JSON):

- backup: ListRecoveryPointsByBackupVault is not implemented (moto has no route for it and answers HTTP
  404, code "404": the result is an `error` naming the operation, never a pass); NumberOfRecoveryPoints is 0 (no
  backup jobs), so the test sets it on moto's backend to make the fetch list; a vault created without a
  key has no EncryptionKeyArn (AWS reports the aws/backup key).
- secretsmanager: RotateSecret accepts no Lambda and sets LastRotatedDate to now; nothing can be
  backdated, so staleness is shown by evaluating 100 days later.
- iam: OrganizationAccountAccessRole-style inline admin policies and service-linked roles (path
  /aws-service-role/) are returned by GetAccountAuthorizationDetails with Filter Role.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from collectors.aws.base import GLOBAL_REGION, AwsFetchContext, AwsTuning, classify_error
from collectors.evidence import Recorder, Scope
from collectors.registry import ACCESS_DENIED_CODES, checks_for, collectors
from controls import CheckResult, Status
from demo.emulators import MotoEmulator
from flows.permissions import member_policy

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"
REGION = "us-east-1"
MINE = ("aws.backup", "aws.sqs", "aws.sns", "aws.logs", "aws.secretsmanager", "aws.iam_roles")


def _doc(statement: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoEmulator]:
    with MotoEmulator() as emulator, emulator.use_env():
        emulator.reset()
        yield emulator
        emulator.reset()


@pytest.fixture(scope="module")
def estate(aws: MotoEmulator) -> dict[str, Any]:
    session = boto3.Session(region_name=REGION)
    out: dict[str, Any] = {}
    key = session.client("kms").create_key(Description="dexo data")["KeyMetadata"]["Arn"]
    out["key"] = key

    backup = session.client("backup")
    out["cmk_vault"] = backup.create_backup_vault(BackupVaultName="dexo-cmk", EncryptionKeyArn=key)["BackupVaultArn"]
    out["plain_vault"] = backup.create_backup_vault(BackupVaultName="dexo-default")["BackupVaultArn"]
    from moto.backup.models import backup_backends

    backup_backends[ACCOUNT][REGION].vaults["dexo-cmk"].num_of_recovery_points = 3  # make the fetch list them

    sqs = session.client("sqs")
    sqs.create_queue(QueueName="dexo-kms", Attributes={"KmsMasterKeyId": key})
    sqs.create_queue(QueueName="dexo-default")  # SSE-SQS by default, as on AWS since 2022
    sqs.create_queue(QueueName="dexo-plain", Attributes={"SqsManagedSseEnabled": "false"})

    sns = session.client("sns")
    out["topic_kms"] = sns.create_topic(Name="dexo-alerts", Attributes={"KmsMasterKeyId": "alias/aws/sns"})["TopicArn"]
    out["topic_plain"] = sns.create_topic(Name="dexo-signups")["TopicArn"]

    session.client("s3").create_bucket(Bucket="dexo-trail-logs")
    trail = session.client("cloudtrail")
    out["trail_kms"] = trail.create_trail(Name="dexo-org", S3BucketName="dexo-trail-logs", KmsKeyId=key)["TrailARN"]
    out["trail_plain"] = trail.create_trail(Name="dexo-debug", S3BucketName="dexo-trail-logs")["TrailARN"]
    eu = boto3.Session(region_name="eu-west-1").client("cloudtrail")
    eu.create_trail(Name="dexo-eu-multi", S3BucketName="dexo-trail-logs", IsMultiRegionTrail=True)
    logs = session.client("logs")
    logs.create_log_group(logGroupName="/dexo/chat-api", kmsKeyId=key)
    logs.create_log_group(logGroupName="/aws/lambda/dexo-thumbnailer")

    secrets = session.client("secretsmanager")
    rotated = secrets.create_secret(Name="dexo/db-password", SecretString="x")["ARN"]
    secrets.rotate_secret(SecretId=rotated, RotationRules={"AutomaticallyAfterDays": 30})
    out["secret_rotated"] = rotated
    out["secret_static"] = secrets.create_secret(Name="dexo/stripe-key", SecretString="y")["ARN"]

    iam = session.client("iam")
    trust = _doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"})
    for name in ("dexo-admin", "dexo-ci", "dexo-read", "soc2-evidence-reader"):
        out[name] = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.put_role_policy(RoleName="dexo-admin", PolicyName="admin", PolicyDocument=_doc(
        {"Effect": "Allow", "Action": "*", "Resource": "*"}))  # fmt: skip
    ci = iam.create_policy(
        PolicyName="ci-deploy",
        PolicyDocument=_doc({"Effect": "Allow", "Action": ["iam:PassRole", "iam:Put*"], "Resource": "*"}),
    )["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="dexo-ci", PolicyArn=ci)
    iam.put_role_policy(RoleName="dexo-read", PolicyName="read", PolicyDocument=_doc(
        {"Effect": "Allow", "Action": ["s3:Get*"], "Resource": "*"}))  # fmt: skip
    iam.put_role_policy(RoleName="soc2-evidence-reader", PolicyName="read", PolicyDocument=json.dumps(member_policy()))
    out["slr"] = iam.create_service_linked_role(AWSServiceName="elasticbeanstalk.amazonaws.com")["Role"]["Arn"]
    out["group"] = iam.create_group(GroupName="iam-operators")["Group"]["Arn"]
    iam.put_group_policy(GroupName="iam-operators", PolicyName="iam", PolicyDocument=_doc(
        {"Effect": "Allow", "Action": "iam:*", "Resource": "*"}))  # fmt: skip
    iam.create_user(UserName="ivy")
    iam.add_user_to_group(GroupName="iam-operators", UserName="ivy")
    return out


def collect(collector_id: str, session: boto3.Session | None = None) -> Recorder:
    spec = collectors()[collector_id]
    region = REGION if spec.per_region else GLOBAL_REGION
    recorder = Recorder(Scope("aws", ACCOUNT, region, collector_id), spec.operations, classify_error)
    tuning = AwsTuning(max_attempts=1, concurrency=4)
    spec.fetch(AwsFetchContext(session or boto3.Session(), ACCOUNT, region, recorder, tuning))
    return recorder


def evaluate(recorder: Recorder, thresholds: dict[str, Any] | None = None, *, days_later: int = 0):
    (chk,) = checks_for(recorder.scope.collector)
    as_of = datetime.now(UTC) + timedelta(days=days_later)  # moto stamps "now": never evaluate before it
    results = chk.run(recorder.bundle, thresholds or {}, as_of)
    by_id: dict[str, CheckResult] = {r.resource_id: r for r in results}
    assert len(by_id) == len(results)
    return by_id


def statuses(results: dict[str, CheckResult]) -> dict[str, str]:
    return {rid: str(r.status) for rid, r in results.items()}


def test_backup_vault_keys_and_unimplemented_recovery_point_listing(estate):
    recorder = collect("aws.backup")
    results = evaluate(recorder)
    cmk, plain = estate["cmk_vault"], estate["plain_vault"]
    assert statuses(results) == {
        cmk: "pass",
        f"{cmk}/recovery-points": "error",  # moto lacks the listing: an honest error, never a pass
        plain: "pass",  # no key reported: AWS's default aws/backup key, said so
        f"{plain}/recovery-points": "not_applicable",  # NumberOfRecoveryPoints 0: not listed
    }
    err = results[f"{cmk}/recovery-points"].observed
    # moto has no route for it: werkzeug answers 404, botocore reports the code "404"
    assert err["operation"] == "backup:ListRecoveryPointsByBackupVault" and err["error_code"] == "404"
    assert err["required_permission"] == "backup:ListRecoveryPointsByBackupVault"
    assert results[cmk].observed["key_type"] == "CUSTOMER_MANAGED" and results[cmk].observed["key_type_verified"]
    strict = evaluate(recorder, {"require_customer_managed": True})
    assert strict[cmk].status == Status.PASS and strict[plain].status == Status.FAIL
    # 1 ListBackupVaults + 1 DescribeKey + 1 listing for the one non-empty vault
    assert recorder.api_calls == 3


def test_sqs_sse_kms_sse_sqs_and_unencrypted(estate):
    recorder = collect("aws.sqs")
    assert statuses(evaluate(recorder)) == {"dexo-kms": "pass", "dexo-default": "pass", "dexo-plain": "fail"}
    assert evaluate(recorder)["dexo-default"].observed["encryption"] == "SSE-SQS"
    assert recorder.api_calls == 1 + 3


def test_sns_topic_with_and_without_key(estate):
    recorder = collect("aws.sns")
    assert statuses(evaluate(recorder)) == {estate["topic_kms"]: "pass", estate["topic_plain"]: "fail"}
    assert recorder.api_calls == 1 + 2


def test_trails_in_their_home_region_and_log_groups(estate):
    recorder = collect("aws.logs")
    results = evaluate(recorder)
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:"
    assert statuses(results) == {
        estate["trail_kms"]: "pass",
        estate["trail_plain"]: "fail",  # the eu-west-1 multi-region trail is assessed in eu-west-1 only
        group + "/dexo/chat-api": "pass",
        group + "/aws/lambda/dexo-thumbnailer": "pass",
    }
    assert results[group + "/aws/lambda/dexo-thumbnailer"].observed["key_type"] == "SERVICE_MANAGED"
    strict = evaluate(recorder, {"log_groups_require_kms": True})
    assert strict[group + "/aws/lambda/dexo-thumbnailer"].status == Status.FAIL
    assert recorder.api_calls == 2


def test_secrets_rotation_now_and_100_days_later(estate):
    recorder = collect("aws.secretsmanager")
    now = evaluate(recorder)
    assert statuses(now) == {estate["secret_rotated"]: "pass", estate["secret_static"]: "fail"}
    assert now[estate["secret_rotated"]].observed["days_since_rotation"] == 0
    later = evaluate(recorder, days_later=100)
    assert later[estate["secret_rotated"]].status == Status.FAIL
    assert "last rotated 100 days ago" in later[estate["secret_rotated"]].reason
    assert recorder.api_calls == 1


def test_privileged_roles_and_groups(estate):
    recorder = collect("aws.iam_roles")
    results = evaluate(recorder)
    expected = {
        estate["dexo-admin"]: "fail",
        estate["dexo-ci"]: "fail",
        estate["dexo-read"]: "pass",
        estate["soc2-evidence-reader"]: "not_applicable",
        estate["slr"]: "not_applicable",
        estate["group"]: "fail",
    }
    assert {rid: statuses(results)[rid] for rid in expected} == expected
    ci = results[estate["dexo-ci"]]
    assert ci.observed["privileged_through"] == [
        "attached ci-deploy: iam:PutGroupPolicy, iam:PutRolePolicy, iam:PutUserPolicy on *; iam:PassRole on *"
    ]
    assert results[estate["group"]].observed["members"] == ["ivy"]
    assert "elasticbeanstalk.amazonaws.com" in results[estate["slr"]].reason
    approved = evaluate(recorder, {"approved_principals": ["dexo-admin"]})
    assert approved[estate["dexo-admin"]].status == Status.PASS
    assert recorder.api_calls == 1


@pytest.mark.parametrize("collector_id", MINE)
def test_the_generated_least_privilege_policy_is_enough(estate, collector_id, monkeypatch):
    """moto enforces IAM here: a user holding only `soc2-evidence permissions`' member policy runs the fetch.

    moto's SigV4 check miscalculates the signature of rest-json requests with a query string (Backup's
    ListBackupVaults?MaxResults=...) and answers SignatureDoesNotMatch: the signature comparison is turned off;
    the access key lookup and the policy evaluation (what this test is about) stay on."""
    from moto.core.authorization import enable_iam_authentication
    from moto.iam.access_control import IAMRequest

    monkeypatch.setattr(IAMRequest, "check_signature", lambda self: None)

    iam = boto3.client("iam", region_name=REGION)
    name = f"reader-{collector_id.replace('.', '-')}"
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="soc2-evidence", PolicyDocument=json.dumps(member_policy()))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    reader = boto3.Session(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], region_name=REGION
    )
    with enable_iam_authentication():
        recorder = collect(collector_id, reader)
        denied = [
            (c.service, c.operation, c.error.code)
            for calls in recorder.bundle.calls.values()
            for c in calls
            if c.error and c.error.code in ACCESS_DENIED_CODES
        ]
    assert denied == []
    assert recorder.api_calls >= 1
    # and enforcement is real: a user without the policy is denied
    iam.create_user(UserName=f"{name}-none")
    bare = iam.create_access_key(UserName=f"{name}-none")["AccessKey"]
    nobody = boto3.Session(
        aws_access_key_id=bare["AccessKeyId"], aws_secret_access_key=bare["SecretAccessKey"], region_name=REGION
    )
    with enable_iam_authentication():
        refused = collect(collector_id, nobody)
    errors = [c.error for calls in refused.bundle.calls.values() for c in calls if c.error]
    # moto answers some JSON-protocol denials with a body botocore cannot parse: the code is then "403"
    assert any(e.code in ACCESS_DENIED_CODES or e.http_status == 403 for e in errors), errors
