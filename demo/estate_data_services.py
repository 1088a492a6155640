"""Dexo.chat's data tier part B and privileged roles, seeded over HTTP into a moto server.

seed_data_services(endpoint_url, accounts, session_for) adds, inside the accounts seed_demo_estate made
(session_for(account_id) is demo.seeding.member_session bound to the endpoint, passed in so that this
module does not import the estate module that calls it), a pass and a fail for each of aws.backup.vault_encryption,
aws.sqs.encryption, aws.sns.encryption, aws.logs.encryption, aws.secretsmanager.rotation,
aws.iam.privileged_roles and a key pending deletion for aws.kms.key_rotation; it returns the
expected non-compliant resources in the tool's resource_id format, to merge into the estate's.

It reuses the estate's KMS data keys (found by alias) rather than making new ones, except the one
key it schedules for deletion, which it reports under ``resources["kms"]`` and
``kms_pending_deletion``. DEMO_THRESHOLDS are the thresholds the demo config sets for these checks:
Dexo.chat requires customer managed keys for backup vaults (AWS Backup always encrypts, so with the
default thresholds no vault can fail) and has approved OrganizationAccountAccessRole and the
platform-admins group as its administrators.

moto limits: a vault made without a key reports none (AWS reports aws/backup); vaults hold no
recovery points (NumberOfRecoveryPoints 0: not applicable); RotateSecret needs no Lambda and stamps
"now"; OrganizationAccountAccessRole comes without the AdministratorAccess inline policy AWS gives
it, so it is added here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import boto3
from botocore.config import Config

__all__ = ["DEMO_THRESHOLDS", "seed_data_services"]

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})
GLOBAL = "global"
EAST, EU = "us-east-1", "eu-west-1"
ACCESS_ROLE = "OrganizationAccountAccessRole"
DEMO_THRESHOLDS: dict[str, dict[str, Any]] = {
    "aws.backup.vault_encryption": {"require_customer_managed": True},
    "aws.iam.privileged_roles": {"approved_principals": [ACCESS_ROLE, "platform-admins"]},
}
CHECKS = (
    "aws.backup.vault_encryption",
    "aws.sqs.encryption",
    "aws.sns.encryption",
    "aws.logs.encryption",
    "aws.secretsmanager.rotation",
    "aws.iam.privileged_roles",
    "aws.kms.key_rotation",
)


def _doc(*statements: Mapping[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [dict(s) for s in statements]})


class _Seeder:
    def __init__(self, endpoint_url: str, key: str, account_id: str, session: boto3.Session) -> None:
        self.key, self.id = key, account_id
        self.session = session
        self.endpoint_url = endpoint_url
        self.failing: list[tuple[str, str, str]] = []  # (check id, region, resource id)

    def client(self, service: str, region: str = EAST) -> Any:
        return self.session.client(service, region_name=region, endpoint_url=self.endpoint_url, config=_CONFIG)

    def data_key(self, region: str) -> str:
        """The ARN of the estate's first customer key in the region (by its alias, alias/dexo-...)."""
        kms = self.client("kms", region)
        aliases = sorted(
            a["AliasName"] for a in kms.list_aliases()["Aliases"] if a["AliasName"].startswith("alias/dexo-")
        )
        return kms.describe_key(KeyId=aliases[0])["KeyMetadata"]["Arn"]

    def fail(self, check_id: str, region: str, rid: str) -> None:
        self.failing.append((check_id, region, rid))


def _backup(s: _Seeder) -> None:
    if s.key == "prod":
        s.client("backup").create_backup_vault(BackupVaultName="dexo-prod-backups", EncryptionKeyArn=s.data_key(EAST))
    if s.key == "staging":  # no key given: AWS uses aws/backup, which the demo's threshold does not accept
        arn = s.client("backup").create_backup_vault(BackupVaultName="Default")["BackupVaultArn"]
        s.fail("aws.backup.vault_encryption", EAST, arn)


def _queues_and_topics(s: _Seeder) -> None:
    if s.key == "prod":
        sqs = s.client("sqs")
        sqs.create_queue(QueueName="dexo-prod-message-fanout", Attributes={"KmsMasterKeyId": s.data_key(EAST)})
        sqs.create_queue(QueueName="dexo-prod-push-retry", Attributes={"SqsManagedSseEnabled": "false"})
        s.fail("aws.sqs.encryption", EAST, "dexo-prod-push-retry")
        s.client("sqs", EU).create_queue(QueueName="dexo-prod-eu-webhooks")  # SSE-SQS by default
        s.client("sns").create_topic(Name="dexo-prod-alerts", Attributes={"KmsMasterKeyId": "alias/aws/sns"})
    if s.key == "staging":
        arn = s.client("sns").create_topic(Name="dexo-staging-signups")["TopicArn"]
        s.fail("aws.sns.encryption", EAST, arn)


def _logs(s: _Seeder) -> None:
    trail = s.client("cloudtrail")
    if s.key == "management":
        trail.create_trail(Name="dexo-org-trail", S3BucketName="dexo-mgmt-cloudtrail-logs", KmsKeyId=s.data_key(EAST))
    if s.key == "staging":
        made = trail.create_trail(Name="dexo-staging-debug-trail", S3BucketName="dexo-staging-chat-attachments")
        s.fail("aws.logs.encryption", EAST, made["TrailARN"])
    if s.key == "prod":
        logs = s.client("logs")
        logs.create_log_group(logGroupName="/dexo/prod/chat-api", kmsKeyId=s.data_key(EAST))
        logs.create_log_group(logGroupName="/aws/lambda/dexo-prod-thumbnailer")  # service-managed key: reported


def _secrets(s: _Seeder) -> None:
    if s.key == "prod":
        sm = s.client("secretsmanager")
        arn = sm.create_secret(Name="dexo/prod/accounts-db", SecretString="demo-only")["ARN"]
        sm.rotate_secret(SecretId=arn, RotationRules={"AutomaticallyAfterDays": 30})
        static = sm.create_secret(Name="dexo/prod/stripe-api-key", SecretString="demo-only")["ARN"]
        s.fail("aws.secretsmanager.rotation", EAST, static)
    if s.key == "staging":
        sm = s.client("secretsmanager", EU)
        arn = sm.create_secret(Name="dexo/staging/eu-smtp", SecretString="demo-only")["ARN"]
        sm.rotate_secret(SecretId=arn, RotationRules={"AutomaticallyAfterDays": 180})  # longer than 90 days
        s.fail("aws.secretsmanager.rotation", EU, arn)


def _pending_key(s: _Seeder) -> str | None:
    if s.key != "staging":
        return None
    kms = s.client("kms")
    key_id = kms.create_key(Description="Retired exports key (deletion scheduled)")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/zz-dexo-staging-retired-exports", TargetKeyId=key_id)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=30)
    s.fail("aws.kms.key_rotation", EAST, key_id)
    return key_id


def _roles(s: _Seeder) -> None:
    iam = s.client("iam")
    if s.key != "management":  # as AWS Organizations creates it: an inline AdministratorAccess policy
        admin = _doc({"Effect": "Allow", "Action": "*", "Resource": "*"})
        iam.put_role_policy(RoleName=ACCESS_ROLE, PolicyName="AdministratorAccess", PolicyDocument=admin)
    trust = _doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{s.id}:root"}, "Action": "sts:AssumeRole"})
    if s.key == "management":
        arn = iam.create_role(RoleName="dexo-ci-deployer", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        deploy = _doc(
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},
            {"Effect": "Allow", "Action": "iam:PutRolePolicy", "Resource": f"arn:aws:iam::{s.id}:role/dexo-*"},
        )
        iam.put_role_policy(RoleName="dexo-ci-deployer", PolicyName="deploy", PolicyDocument=deploy)
        s.fail("aws.iam.privileged_roles", GLOBAL, arn)
    if s.key == "staging":
        arn = iam.create_role(RoleName="dexo-staging-poweruser", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        power = _doc({"Effect": "Allow", "NotAction": ["iam:*", "organizations:*", "account:*"], "Resource": "*"})
        iam.put_role_policy(RoleName="dexo-staging-poweruser", PolicyName="power-user", PolicyDocument=power)
        s.fail("aws.iam.privileged_roles", GLOBAL, arn)
    if s.key == "prod":
        iam.create_service_linked_role(AWSServiceName="elasticbeanstalk.amazonaws.com")


def seed_data_services(
    endpoint_url: str, accounts: Mapping[str, str], session_for: Callable[[str], boto3.Session]
) -> dict[str, Any]:
    """Seed every account in `accounts` ("management" / "prod" / "staging" -> id), entered with
    session_for(account_id); return the expectations to merge into the estate's."""
    failing: dict[str, list[list[str]]] = {c: [] for c in CHECKS}
    pending: dict[str, list[str]] = {}
    for key, account_id in accounts.items():
        s = _Seeder(endpoint_url, key, account_id, session_for(account_id))
        _backup(s)
        _queues_and_topics(s)
        _logs(s)
        _secrets(s)
        _roles(s)
        key_id = _pending_key(s)
        if key_id:
            pending[key_id] = [key, EAST]
        for check_id, region, rid in s.failing:
            failing[check_id].append([account_id, region, rid])
    where = {c: sorted(rows) for c, rows in failing.items()}
    return {
        "non_compliant": {c: sorted({rid for _, _, rid in rows}) for c, rows in where.items()},
        "non_compliant_where": where,
        "resources": {"kms": pending},
        "kms_pending_deletion": sorted(pending),
        "thresholds": DEMO_THRESHOLDS,
    }
