"""Dexo.chat's data stores (KMS, S3, EBS, RDS and Aurora, DynamoDB), seeded over HTTP into a moto server.

What each account runs, with a deliberate mix of compliant and non-compliant resources for every
encryption-at-rest and public-access check, including cloud text that tries to become a spreadsheet
formula; one seed_<service>(account, ledger, keys) per service, and the Ledger that records what was
seeded and which check each resource must fail. estate.py runs them per account; estate_scale reuses
the request shapes (create_bucket, rds_encryption, PAB_ON).
"""

from __future__ import annotations

from typing import Any

from demo.seeding import REGIONS, Account

__all__ = [
    "PAB_ON",
    "Ledger",
    "create_bucket",
    "rds_encryption",
    "seed_dynamodb",
    "seed_ebs",
    "seed_kms",
    "seed_rds",
    "seed_s3",
]

GLOBAL = "global"  # the region of account-wide S3 results

HOSTILE_EBS_NAMES = ('=HYPERLINK("http://attacker.example/x","Click for invoice")', "@SUM(1+1)")
HOSTILE_TABLE = "-2-3-chat-sessions"  # a legal DynamoDB name ([a-zA-Z0-9_.-]) that reads as a formula
HOSTILE_KEY_DESCRIPTION = "=cmd|' /C calc'!A0"
PROBE_BUCKET = "dexo-prod-user-exports"  # no other bucket name contains it: safe for FaultRule(match=...)

PAB_ON = dict.fromkeys(("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True)

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


class Ledger:
    """What was seeded, and which check each resource should fail."""

    def __init__(self) -> None:
        self.resources: dict[str, dict[str, list[str]]] = {}
        self.failing: dict[str, list[list[str]]] = {}
        self.key_types: dict[str, str] = {}

    def add(self, service: str, rid: str, acct: Account, region: str, fails: str | None = None) -> None:
        self.resources.setdefault(service, {})[rid] = [acct.key, region]
        if fails:
            self.fail(fails, acct, region, rid)

    def fail(self, check_id: str, acct: Account, region: str, rid: str) -> None:
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


def create_bucket(s3: Any, name: str, region: str) -> None:
    if region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})


def rds_encryption(encrypted: bool, key_arn: str) -> dict[str, Any]:
    return {"StorageEncrypted": True, "KmsKeyId": key_arn} if encrypted else {"StorageEncrypted": False}


def seed_kms(acct: Account, ledger: Ledger) -> dict[str, str]:
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


def seed_s3(acct: Account, ledger: Ledger, keys: dict[str, str]) -> None:
    account_block = acct.key in ACCOUNT_PUBLIC_ACCESS_BLOCK
    for region, name, sse, blocked in BUCKETS.get(acct.key, []):
        s3 = acct.client("s3", region)
        create_bucket(s3, name, region)
        if sse:
            default = {"SSEAlgorithm": sse, **({"KMSMasterKeyID": keys[region]} if sse == "aws:kms" else {})}
            rule = {"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": sse == "aws:kms"}
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [rule]})
        else:
            s3.delete_bucket_encryption(Bucket=name)  # moto has no default; AWS applies SSE-S3 to new buckets
        if blocked:
            s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=PAB_ON)
        ledger.add("s3", name, acct, region, None if sse else "aws.s3.default_encryption")
        if not blocked and not account_block:
            ledger.fail("aws.s3.public_access_block", acct, region, name)
    if account_block:
        acct.client("s3control").put_public_access_block(AccountId=acct.id, PublicAccessBlockConfiguration=PAB_ON)
    else:
        ledger.fail("aws.s3.public_access_block", acct, GLOBAL, acct.id)


def seed_ebs(acct: Account, ledger: Ledger, keys: dict[str, str]) -> None:
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


def seed_rds(acct: Account, ledger: Ledger, keys: dict[str, str]) -> None:
    login = {"MasterUsername": "dexo_admin", "MasterUserPassword": "demo-only-not-a-secret"}
    for region, ident, engine, encrypted in DB_INSTANCES.get(acct.key, []):
        db = acct.client("rds", region).create_db_instance(
            DBInstanceIdentifier=ident,
            Engine=engine,
            DBInstanceClass="db.t4g.medium",
            AllocatedStorage=50,
            **login,
            **rds_encryption(encrypted, keys[region]),
        )["DBInstance"]
        ledger.add("rds", db["DBInstanceArn"], acct, region, None if encrypted else "aws.rds.storage_encryption")
    for region, name, encrypted, members in DB_CLUSTERS.get(acct.key, []):
        rds = acct.client("rds", region)
        cluster = rds.create_db_cluster(
            DBClusterIdentifier=name, Engine="aurora-postgresql", **login, **rds_encryption(encrypted, keys[region])
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


def seed_dynamodb(acct: Account, ledger: Ledger, keys: dict[str, str]) -> None:
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
