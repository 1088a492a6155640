"""Dexo.chat's AWS estate, seeded over HTTP into a moto server.

seed_demo_estate() builds the AWS Organization (management, prod and staging
accounts; us-east-1 and eu-west-1) with a deliberate mix of compliant and
non-compliant resources for every encryption / public-access check, including
cloud text that tries to become a spreadsheet formula. seed_scale() fills new
member accounts with thousands of resources for the benchmark.

Everything goes through boto3 against ``endpoint_url``. Member accounts are
entered the way the tool enters them, by assuming a role: moto maps the
assumed-role credentials to the role's account, so each account only sees its
own resources. moto keeps its state per process: every MotoEmulator in one
process shares it (call MotoEmulator.reset() for a clean slate).
"""

from __future__ import annotations

import functools
import itertools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from flows.demo.emulators import s3control_direct_host

__all__ = ["DemoEstate", "ScaleEstate", "member_session", "seed_demo_estate", "seed_scale"]

ORGANIZATION = "Dexo.chat"
MANAGEMENT_ACCOUNT = "123456789012"  # moto's default account: the "testing" credentials land here
ROLE_NAME = "soc2-evidence-reader"
ACCESS_ROLE = "OrganizationAccountAccessRole"
REGIONS = ("us-east-1", "eu-west-1")
MEMBERS = {"prod": "dexo-prod", "staging": "dexo-staging"}  # key in DemoEstate.accounts -> AWS account name
GLOBAL = "global"  # the region of account-wide S3 results

HOSTILE_EBS_NAMES = ('=HYPERLINK("http://attacker.example/x","Click for invoice")', "@SUM(1+1)")
HOSTILE_TABLE = "-2-3-chat-sessions"  # a legal DynamoDB name ([a-zA-Z0-9_.-]) that reads as a formula
HOSTILE_KEY_DESCRIPTION = "=cmd|' /C calc'!A0"
PROBE_BUCKET = "dexo-prod-user-exports"  # no other bucket name contains it: safe for FaultRule(match=...)

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=32)
_PAB_ON = dict.fromkeys(("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True)

# ---------------------------------------------------------------- what Dexo.chat runs
# S3: (region, bucket, default encryption or None, bucket-level Block Public Access on)
BUCKETS = {
    "management": [
        ("us-east-1", "dexo-mgmt-cloudtrail-logs", "aws:kms", True),
        ("us-east-1", "dexo-mgmt-config-history", "AES256", True),
        ("eu-west-1", "dexo-mgmt-eu-terraform-state", "aws:kms", True),
        ("eu-west-1", "dexo-mgmt-eu-athena-results", None, True),
    ],
    "prod": [
        ("us-east-1", "dexo-prod-chat-attachments", "aws:kms", True),
        ("us-east-1", PROBE_BUCKET, "aws:kms", True),
        ("us-east-1", "dexo-prod-message-archive", "AES256", True),
        ("us-east-1", "dexo-prod-marketing-site", "AES256", False),  # covered by the account-level block
        ("eu-west-1", "dexo-prod-eu-chat-attachments", "aws:kms", True),
        ("eu-west-1", "dexo-prod-eu-analytics", None, True),
    ],
    "staging": [
        ("us-east-1", "dexo-staging-chat-attachments", "AES256", True),
        ("us-east-1", "dexo-staging-scratch", None, False),
        ("eu-west-1", "dexo-staging-eu-exports", "aws:kms", True),
        ("eu-west-1", "dexo-staging-eu-load-test", "AES256", True),
    ],
}
ACCOUNT_PUBLIC_ACCESS_BLOCK = {"prod"}
# KMS: (region, alias, description, rotation); a region's first key encrypts that region's data.
KEYS = {
    "management": [
        ("us-east-1", "dexo-mgmt-cloudtrail", "CloudTrail organization trail", True),
        ("eu-west-1", "dexo-mgmt-terraform-state", "Terraform state (eu)", False),
    ],
    "prod": [
        ("us-east-1", "dexo-prod-chat-data", "Chat messages and attachments", True),
        ("us-east-1", "dexo-prod-user-exports", "GDPR data exports", True),
        ("eu-west-1", "dexo-prod-eu-chat-data", "Chat messages and attachments (eu)", True),
        ("eu-west-1", "dexo-prod-eu-backups", "Database snapshots (eu)", False),
    ],
    "staging": [
        ("us-east-1", "dexo-staging-chat-data", "Staging chat data", True),
        ("us-east-1", "dexo-staging-imported", HOSTILE_KEY_DESCRIPTION, False),
        ("eu-west-1", "dexo-staging-eu-chat-data", "Staging chat data (eu)", False),
    ],
}
# EBS: (region, Name tag, encrypted), created in this order; then encryption by default where listed.
VOLUMES = {
    "management": [
        ("us-east-1", "dexo-mgmt-bastion-root", True),
        ("eu-west-1", "dexo-mgmt-eu-ci-runner-cache", False),
    ],
    "prod": [
        ("us-east-1", "dexo-prod-legacy-xmpp-gateway", False),  # predates encryption by default
        ("us-east-1", "dexo-prod-chat-api-root", True),
        ("us-east-1", "dexo-prod-websocket-root", True),
        ("eu-west-1", "dexo-prod-eu-chat-api-root", True),
        ("eu-west-1", "dexo-prod-eu-media-transcoder-scratch", False),
    ],
    "staging": [
        ("us-east-1", "dexo-staging-chat-api-root", True),
        ("us-east-1", HOSTILE_EBS_NAMES[0], False),
        ("us-east-1", HOSTILE_EBS_NAMES[1], False),
        ("eu-west-1", "dexo-staging-eu-worker-root", True),
    ],
}
EBS_DEFAULT_ENCRYPTION = {("prod", "us-east-1")}
# RDS: (region, identifier, engine, encrypted); Aurora: (region, cluster, encrypted, member instances)
DB_INSTANCES = {
    "prod": [
        ("us-east-1", "dexo-prod-accounts-db", "postgres", True),
        ("eu-west-1", "dexo-prod-eu-accounts-db", "postgres", True),
    ],
    "staging": [
        ("us-east-1", "dexo-staging-accounts-db", "postgres", True),
        ("us-east-1", "dexo-staging-analytics-db", "postgres", False),
        ("eu-west-1", "dexo-staging-eu-accounts-db", "postgres", True),
    ],
}
DB_CLUSTERS = {"prod": [("us-east-1", "dexo-prod-messages-aurora", True, 2)]}
# DynamoDB: (region, table, customer managed KMS key); False = the AWS owned default key.
TABLES = {
    "prod": [
        ("us-east-1", "dexo-prod-chat-sessions", True),
        ("us-east-1", "dexo-prod-presence", False),
        ("eu-west-1", "dexo-prod-eu-chat-sessions", True),
    ],
    "staging": [
        ("us-east-1", "dexo-staging-chat-sessions", False),
        ("us-east-1", HOSTILE_TABLE, False),
        ("eu-west-1", "dexo-staging-eu-presence", True),
    ],
}


@dataclass
class DemoEstate:
    """What seed_demo_estate() made. `expected` holds:

    counts               resources per service ("s3", "kms", "ebs", "rds" incl. Aurora members, "rds_cluster",
                         "dynamodb")
    resources            {service: {resource id: [account key, region]}}; ids as the tool reports them
                         (bucket name, key id, volume id, DB instance/cluster ARN, table name)
    non_compliant        {check id: sorted resource ids the check must fail}, ids as the tool reports them:
                         S3 bucket names and, for the account-level block, account ids; EBS default encryption
                         the region; RDS ARNs. aws.dynamodb.encryption is empty: under the default thresholds
                         AWS owned keys pass (see dynamodb_key_types)
    non_compliant_where  {check id: [[account id, region, resource id], ...]}
    dynamodb_key_types   {table: "AWS_OWNED" | "CUSTOMER_MANAGED"}
    hostile_text         seeded strings that must show in the workbook as text, never as formulas
    probe_bucket         a prod bucket whose name no other bucket contains (for fault injection)
    """

    organization: str
    organization_id: str
    management_account: str
    accounts: dict[str, str]  # "management" / "prod" / "staging" -> account id
    regions: tuple[str, ...]
    role_name: str
    expected: dict[str, Any] = field(default_factory=dict)

    def role_arn(self, account: str) -> str:
        """The reader role's ARN for an account key or id."""
        return f"arn:aws:iam::{self.accounts.get(account, account)}:role/{self.role_name}"


@dataclass
class ScaleEstate:
    accounts: list[str]  # member account ids
    regions: tuple[str, ...]
    counts: dict[str, int]  # "s3", "ebs", "rds", "kms"
    noncompliant: dict[str, int]  # "s3" (no encryption, no block), "ebs", "rds" (unencrypted)
    seconds: float


# ---------------------------------------------------------------- sessions, clients, bookkeeping


@functools.cache
def _shared_session() -> boto3.Session:
    """One boto3 session for every seeding client, so service models are parsed once
    (a new session re-reads them: ~0.1 s per EC2 client); credentials are passed per client."""
    return boto3.Session(region_name="us-east-1")


def _credentials(endpoint_url: str, account_id: str) -> dict[str, str]:
    """The management account's own credentials, or OrganizationAccountAccessRole in a member."""
    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    if account_id == MANAGEMENT_ACCOUNT:
        return creds
    sts = _shared_session().client("sts", endpoint_url=endpoint_url, config=_CONFIG, **creds)
    role_arn = f"arn:aws:iam::{account_id}:role/{ACCESS_ROLE}"
    answer = sts.assume_role(RoleArn=role_arn, RoleSessionName="dexo-demo-seed")["Credentials"]
    return {
        "aws_access_key_id": answer["AccessKeyId"],
        "aws_secret_access_key": answer["SecretAccessKey"],
        "aws_session_token": answer["SessionToken"],
    }


def member_session(endpoint_url: str, account_id: str, region: str = "us-east-1") -> boto3.Session:
    """A session in an account: the management account assumes OrganizationAccountAccessRole
    (for the management account itself: its own credentials)."""
    return boto3.Session(region_name=region, **_credentials(endpoint_url, account_id))


class _Account:
    """One account's credentials and cached clients (botocore clients are thread-safe)."""

    def __init__(self, key: str, account_id: str, endpoint_url: str) -> None:
        self.key, self.id, self.endpoint_url = key, account_id, endpoint_url
        self.credentials = _credentials(endpoint_url, account_id)
        self._clients: dict[tuple[str, str], Any] = {}

    def client(self, service: str, region: str = "us-east-1") -> Any:
        if (service, region) not in self._clients:
            client = _shared_session().client(
                service, region_name=region, endpoint_url=self.endpoint_url, config=_CONFIG, **self.credentials
            )
            self._clients[service, region] = s3control_direct_host(client) if service == "s3control" else client
        return self._clients[service, region]


class _Ledger:
    """What was seeded, and which check each resource should fail."""

    def __init__(self) -> None:
        self.resources: dict[str, dict[str, list[str]]] = {}
        self.failing: dict[str, list[list[str]]] = {}
        self.key_types: dict[str, str] = {}

    def add(self, service: str, rid: str, acct: _Account, region: str, fails: str | None = None) -> None:
        self.resources.setdefault(service, {})[rid] = [acct.key, region]
        if fails:
            self.fail(fails, acct, region, rid)

    def fail(self, check_id: str, acct: _Account, region: str, rid: str) -> None:
        self.failing.setdefault(check_id, []).append([acct.id, region, rid])

    def expected(self) -> dict[str, Any]:
        checks = [
            "aws.s3.default_encryption",
            "aws.s3.public_access_block",
            "aws.ebs.default_encryption",
            "aws.ebs.volume_encryption",
            "aws.rds.storage_encryption",
            "aws.dynamodb.encryption",
            "aws.kms.key_rotation",
        ]
        where = {c: sorted(self.failing.get(c, [])) for c in checks}
        return {
            "counts": {service: len(ids) for service, ids in self.resources.items()},
            "resources": self.resources,
            "non_compliant": {c: sorted({rid for _, _, rid in rows}) for c, rows in where.items()},
            "non_compliant_where": where,
            "dynamodb_key_types": self.key_types,
            "hostile_text": [*HOSTILE_EBS_NAMES, HOSTILE_TABLE, HOSTILE_KEY_DESCRIPTION],
            "probe_bucket": PROBE_BUCKET,
        }


def _trust_policy(principal: str) -> str:
    statement = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _create_bucket(s3: Any, name: str, region: str) -> None:
    if region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})


def _encryption(encrypted: bool, key_arn: str) -> dict[str, Any]:
    return {"StorageEncrypted": True, "KmsKeyId": key_arn} if encrypted else {"StorageEncrypted": False}


# ---------------------------------------------------------------- organization and one function per service


def seed_organization(endpoint_url: str, member_names: Sequence[str]) -> tuple[str, list[str]]:
    """Create (or reuse) the organization, then one member account per name: (org id, account ids)."""
    org = _Account("management", MANAGEMENT_ACCOUNT, endpoint_url).client("organizations")
    try:
        org_id = org.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    except org.exceptions.AlreadyInOrganizationException:
        org_id = org.describe_organization()["Organization"]["Id"]
    ids = []
    for name in member_names:
        status = org.create_account(AccountName=name, Email=f"aws+{name}@dexo.chat", RoleName=ACCESS_ROLE)
        status = status["CreateAccountStatus"]
        while status["State"] == "IN_PROGRESS":  # moto answers SUCCEEDED at once; AWS takes minutes
            time.sleep(0.1)
            status = org.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]
        ids.append(status["AccountId"])
    return org_id, ids


def seed_iam(acct: _Account) -> None:
    """The reader role the tool assumes. organizations.create_account already made OrganizationAccountAccessRole;
    an inline policy because moto knows AWS managed policies only with MOTO_IAM_LOAD_MANAGED_POLICIES."""
    iam = acct.client("iam")
    trust = _trust_policy(f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:root")
    iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=trust, Description="SOC 2 evidence (read-only)")
    # the least-privilege policy the tool itself generates (`soc2-evidence permissions`)
    from flows.permissions import member_policy

    policy = member_policy()
    iam.put_role_policy(RoleName=ROLE_NAME, PolicyName="soc2-evidence-read", PolicyDocument=json.dumps(policy))


def seed_kms(acct: _Account, ledger: _Ledger) -> dict[str, str]:
    """Customer managed keys; returns region -> ARN of the region's data key."""
    data_keys: dict[str, str] = {}
    for region, alias, description, rotation in KEYS.get(acct.key, []):
        kms = acct.client("kms", region)
        meta = kms.create_key(Description=description, Tags=[{"TagKey": "team", "TagValue": "platform"}])
        key_id, arn = meta["KeyMetadata"]["KeyId"], meta["KeyMetadata"]["Arn"]
        kms.create_alias(AliasName=f"alias/{alias}", TargetKeyId=key_id)
        if rotation:
            kms.enable_key_rotation(KeyId=key_id)
        data_keys.setdefault(region, arn)
        ledger.add("kms", key_id, acct, region, None if rotation else "aws.kms.key_rotation")
    return data_keys


def seed_s3(acct: _Account, ledger: _Ledger, keys: dict[str, str]) -> None:
    account_block = acct.key in ACCOUNT_PUBLIC_ACCESS_BLOCK
    for region, name, sse, blocked in BUCKETS.get(acct.key, []):
        s3 = acct.client("s3", region)
        _create_bucket(s3, name, region)
        if sse:
            default = {"SSEAlgorithm": sse, **({"KMSMasterKeyID": keys[region]} if sse == "aws:kms" else {})}
            rule = {"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": sse == "aws:kms"}
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [rule]})
        else:
            s3.delete_bucket_encryption(Bucket=name)  # moto has no default; AWS applies SSE-S3 to new buckets
        if blocked:
            s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=_PAB_ON)
        ledger.add("s3", name, acct, region, None if sse else "aws.s3.default_encryption")
        if not blocked and not account_block:
            ledger.fail("aws.s3.public_access_block", acct, region, name)
    if account_block:
        acct.client("s3control").put_public_access_block(AccountId=acct.id, PublicAccessBlockConfiguration=_PAB_ON)
    else:
        ledger.fail("aws.s3.public_access_block", acct, GLOBAL, acct.id)


def seed_ebs(acct: _Account, ledger: _Ledger, keys: dict[str, str]) -> None:
    for region in REGIONS:
        ec2 = acct.client("ec2", region)
        for name, encrypted in [(n, e) for r, n, e in VOLUMES.get(acct.key, []) if r == region]:
            tags = [{"Key": "Name", "Value": name}, {"Key": "app", "Value": "dexo-chat"}]
            # moto ignores encryption by default for new volumes, so say what we want; an explicit key also
            # keeps moto from minting an "aws/ebs" key that it would report as customer managed.
            enc = {"Encrypted": True, "KmsKeyId": keys[region]} if encrypted else {}
            volume = ec2.create_volume(
                AvailabilityZone=f"{region}a",
                Size=20,
                VolumeType="gp3",
                TagSpecifications=[{"ResourceType": "volume", "Tags": tags}],
                **enc,
            )
            ledger.add("ebs", volume["VolumeId"], acct, region, None if encrypted else "aws.ebs.volume_encryption")
        if (acct.key, region) in EBS_DEFAULT_ENCRYPTION:
            ec2.enable_ebs_encryption_by_default()
        else:
            ledger.fail("aws.ebs.default_encryption", acct, region, region)


def seed_rds(acct: _Account, ledger: _Ledger, keys: dict[str, str]) -> None:
    login = {"MasterUsername": "dexo_admin", "MasterUserPassword": "demo-only-not-a-secret"}
    for region, ident, engine, encrypted in DB_INSTANCES.get(acct.key, []):
        db = acct.client("rds", region).create_db_instance(
            DBInstanceIdentifier=ident,
            Engine=engine,
            DBInstanceClass="db.t4g.medium",
            AllocatedStorage=50,
            **login,
            **_encryption(encrypted, keys[region]),
        )["DBInstance"]
        ledger.add("rds", db["DBInstanceArn"], acct, region, None if encrypted else "aws.rds.storage_encryption")
    for region, name, encrypted, members in DB_CLUSTERS.get(acct.key, []):
        rds = acct.client("rds", region)
        cluster = rds.create_db_cluster(
            DBClusterIdentifier=name, Engine="aurora-postgresql", **login, **_encryption(encrypted, keys[region])
        )["DBCluster"]
        fails = None if encrypted else "aws.rds.storage_encryption"
        ledger.add("rds_cluster", cluster["DBClusterArn"], acct, region, fails)
        for i in range(1, members + 1):
            db = rds.create_db_instance(
                DBInstanceIdentifier=f"{name}-{i}",
                DBClusterIdentifier=name,
                Engine="aurora-postgresql",
                DBInstanceClass="db.r6g.large",
            )["DBInstance"]
            ledger.add("rds", db["DBInstanceArn"], acct, region, fails)  # members inherit the cluster's setting


def seed_dynamodb(acct: _Account, ledger: _Ledger, keys: dict[str, str]) -> None:
    for region, table, customer_key in TABLES.get(acct.key, []):
        sse = {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": keys[region]}
        acct.client("dynamodb", region).create_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
            **({"SSESpecification": sse} if customer_key else {}),
        )
        ledger.add("dynamodb", table, acct, region)
        ledger.key_types[table] = "CUSTOMER_MANAGED" if customer_key else "AWS_OWNED"


def seed_demo_estate(endpoint_url: str) -> DemoEstate:
    """Seed Dexo.chat's organization into a moto server at endpoint_url (~100 requests, a few seconds).
    Bucket names are global: seed once per moto state (MotoEmulator.reset() before seeding again)."""
    org_id, member_ids = seed_organization(endpoint_url, list(MEMBERS.values()))
    accounts = {"management": MANAGEMENT_ACCOUNT, **dict(zip(MEMBERS, member_ids, strict=True))}
    ledger = _Ledger()
    for key, account_id in accounts.items():
        acct = _Account(key, account_id, endpoint_url)
        seed_iam(acct)
        keys = seed_kms(acct, ledger)
        seed_s3(acct, ledger, keys)
        seed_ebs(acct, ledger, keys)
        seed_rds(acct, ledger, keys)
        seed_dynamodb(acct, ledger, keys)
    # these build on member_session() below
    from flows.demo.estate_h6 import seed_data_tier_estate
    from flows.demo.estate_iam import seed_iam_identities
    from flows.demo.estate_tls import seed_tls_estate

    expected = ledger.expected()
    merge_expected(expected, seed_iam_identities(endpoint_url, accounts))
    merge_expected(expected, seed_tls_estate(endpoint_url, accounts))
    merge_expected(expected, seed_data_tier_estate(endpoint_url, accounts))
    return DemoEstate(
        organization=ORGANIZATION,
        organization_id=org_id,
        management_account=MANAGEMENT_ACCOUNT,
        accounts=accounts,
        regions=REGIONS,
        role_name=ROLE_NAME,
        expected=expected,
    )


def merge_expected(into: dict[str, Any], part: Mapping[str, Any]) -> None:
    """Fold one seeding module's expectations into the estate's."""
    for key in ("non_compliant", "non_compliant_where"):
        for check_id, ids in part.get(key, {}).items():
            into.setdefault(key, {}).setdefault(check_id, []).extend(ids)
    into.setdefault("hostile_text", []).extend(part.get("hostile_text", []))
    for key, value in part.items():
        if key not in ("non_compliant", "non_compliant_where", "hostile_text"):
            into.setdefault(key, value)


# ---------------------------------------------------------------- benchmark scale


def seed_scale(
    endpoint_url: str,
    *,
    accounts: int = 2,
    regions: Sequence[str] = REGIONS,
    buckets: int = 500,
    volumes: int = 1000,
    db_instances: int = 200,
    workers: int = 16,
) -> ScaleEstate:
    """Many resources round-robin over new member accounts x regions; every tenth one non-compliant."""
    started = time.perf_counter()
    _, ids = seed_organization(endpoint_url, [f"dexo-scale-{i:02d}" for i in range(1, accounts + 1)])
    members = [_Account(f"scale-{i}", account_id, endpoint_url) for i, account_id in enumerate(ids, 1)]
    for acct in members:
        seed_iam(acct)
    places = list(itertools.product(members, regions))
    keys = {
        (a.id, r): a.client("kms", r).create_key(Description="scale data key")["KeyMetadata"]["Arn"] for a, r in places
    }

    def bucket(i: int) -> None:
        acct, region = places[i % len(places)]
        name = f"dexo-scale-{acct.id}-{i:05d}"
        s3 = acct.client("s3", region)
        _create_bucket(s3, name, region)
        if i % 10:
            default = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": keys[acct.id, region]}
            rules = [{"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": True}]
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
            s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=_PAB_ON)

    def volume(i: int) -> None:
        acct, region = places[i % len(places)]
        enc = {"Encrypted": True, "KmsKeyId": keys[acct.id, region]} if i % 10 else {}
        tags = [{"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": f"dexo-chat-worker-{i:05d}"}]}]
        acct.client("ec2", region).create_volume(AvailabilityZone=f"{region}a", Size=8, TagSpecifications=tags, **enc)

    def db_instance(i: int) -> None:
        acct, region = places[i % len(places)]
        acct.client("rds", region).create_db_instance(
            DBInstanceIdentifier=f"dexo-chat-shard-{i:05d}",
            Engine="postgres",
            DBInstanceClass="db.t4g.micro",
            AllocatedStorage=20,
            MasterUsername="dexo_admin",
            MasterUserPassword="demo-only-not-a-secret",
            **_encryption(bool(i % 10), keys[acct.id, region]),
        )

    for acct, region in places:  # build every client once, before the threads share them
        for service in ("s3", "ec2", "rds"):
            acct.client(service, region)
    jobs: list[tuple[Callable[[int], None], int]] = [
        *((bucket, i) for i in range(buckets)),
        *((volume, i) for i in range(volumes)),
        *((db_instance, i) for i in range(db_instances)),
    ]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(fn, i) for fn, i in jobs]:
            future.result()
    return ScaleEstate(
        accounts=ids,
        regions=tuple(regions),
        counts={"s3": buckets, "ebs": volumes, "rds": db_instances, "kms": len(keys)},
        noncompliant={"s3": (buckets + 9) // 10, "ebs": (volumes + 9) // 10, "rds": (db_instances + 9) // 10},
        seconds=round(time.perf_counter() - started, 2),
    )
