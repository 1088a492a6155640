"""The demo estate seeded into moto over HTTP: Dexo.chat's organization, account
isolation through assumed roles, and every compliant / non-compliant resource
that `expected` promises to the flow tests."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.exceptions
import pytest

from demo.emulators import MotoEmulator, s3control_direct_host
from demo.estate import DemoEstate, seed_demo_estate
from demo.estate_scale import seed_scale
from demo.seeding import member_session

pytestmark = pytest.mark.integration

REGIONS = ("us-east-1", "eu-west-1")


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoEmulator]:
    with MotoEmulator() as emulator:
        emulator.reset()  # moto state is per process: start clean, leave nothing behind
        yield emulator
        emulator.reset()
        session.cache_clear()  # assumed-role credentials die with the state
        client.cache_clear()


@pytest.fixture(scope="module")
def seeded(aws: MotoEmulator) -> tuple[DemoEstate, list[dict[str, Any]]]:
    estate = seed_demo_estate(aws.endpoint_url)
    org = client(aws.endpoint_url, estate.management_account, "organizations")
    return estate, org.list_accounts()["Accounts"]  # the organization as seeding left it


@pytest.fixture(scope="module")
def estate(seeded: tuple[DemoEstate, list[dict[str, Any]]]) -> DemoEstate:
    return seeded[0]


@functools.cache
def session(endpoint_url: str, account_id: str) -> boto3.Session:
    """Inside the account (management: own credentials; members: assumed access role)."""
    return member_session(endpoint_url, account_id)


@functools.cache
def client(endpoint_url: str, account_id: str, service: str, region: str = "us-east-1") -> Any:
    made = session(endpoint_url, account_id).client(service, region_name=region, endpoint_url=endpoint_url)
    return s3control_direct_host(made) if service == "s3control" else made


def in_account(aws: MotoEmulator, estate: DemoEstate, key: str, service: str, region: str = "us-east-1") -> Any:
    return client(aws.endpoint_url, estate.accounts[key], service, region)


def seeded_ids(estate: DemoEstate, service: str, key: str, region: str | None = None) -> set[str]:
    return {
        rid
        for rid, (account, where) in estate.expected["resources"][service].items()
        if account == key and region in (None, where)
    }


def places(estate: DemoEstate) -> Iterator[tuple[str, str]]:
    for key in estate.accounts:
        for region in REGIONS:
            yield key, region


def test_organization_has_three_active_accounts(aws: MotoEmulator, seeded) -> None:
    estate, listed = seeded
    assert estate.organization == "Dexo.chat" and estate.role_name == "soc2-evidence-reader"
    assert estate.management_account == estate.accounts["management"] == "123456789012"
    assert set(estate.accounts) == {"management", "prod", "staging"}
    assert len(set(estate.accounts.values())) == 3
    assert {a["Id"] for a in listed} == set(estate.accounts.values())
    assert {a["Status"] for a in listed} == {"ACTIVE"}
    names = {a["Id"]: a["Name"] for a in listed}
    assert names[estate.accounts["prod"]] == "dexo-prod" and names[estate.accounts["staging"]] == "dexo-staging"
    org = in_account(aws, estate, "management", "organizations").describe_organization()["Organization"]
    assert org["Id"] == estate.organization_id and org["FeatureSet"] == "ALL"
    assert org["MasterAccountId"] == estate.management_account


def test_reader_role_in_every_account_is_assumable_and_lands_there(aws: MotoEmulator, estate: DemoEstate) -> None:
    sts = in_account(aws, estate, "management", "sts")
    for key, account_id in estate.accounts.items():
        role = in_account(aws, estate, key, "iam").get_role(RoleName=estate.role_name)["Role"]
        trust = role["AssumeRolePolicyDocument"]
        trust = json.loads(trust) if isinstance(trust, str) else trust
        assert trust["Statement"][0]["Principal"]["AWS"] == "arn:aws:iam::123456789012:root"
        creds = sts.assume_role(RoleArn=estate.role_arn(key), RoleSessionName="soc2-evidence")["Credentials"]
        reader = boto3.client(
            "sts",
            region_name="us-east-1",
            endpoint_url=aws.endpoint_url,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )
        identity = reader.get_caller_identity()
        assert identity["Account"] == account_id
        assert f":assumed-role/{estate.role_name}/" in identity["Arn"]


def test_each_account_sees_only_its_own_resources(aws: MotoEmulator, estate: DemoEstate) -> None:
    for key in estate.accounts:
        buckets = {b["Name"] for b in in_account(aws, estate, key, "s3").list_buckets()["Buckets"]}
        # the encryption-at-rest buckets, plus the TLS estate's (bucket policies), all this account's own
        assert seeded_ids(estate, "s3", key) <= buckets, key
        other_accounts = {n for k in estate.accounts if k != key for n in seeded_ids(estate, "s3", k)}
        assert not buckets & other_accounts, key
    for key, region in places(estate):
        ec2 = in_account(aws, estate, key, "ec2", region)
        rds = in_account(aws, estate, key, "rds", region)
        found = {
            "ebs": {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]},
            "rds": {d["DBInstanceArn"] for d in rds.describe_db_instances()["DBInstances"]},
            "rds_cluster": {c["DBClusterArn"] for c in rds.describe_db_clusters()["DBClusters"]},
            "dynamodb": set(in_account(aws, estate, key, "dynamodb", region).list_tables()["TableNames"]),
            "kms": {k["KeyId"] for k in in_account(aws, estate, key, "kms", region).list_keys()["Keys"]},
        }
        for service, ids in found.items():
            assert ids == seeded_ids(estate, service, key, region), (key, region, service)
    counts = estate.expected["counts"]
    assert counts == {service: len(ids) for service, ids in estate.expected["resources"].items()}
    assert counts["s3"] >= 12 and counts["ebs"] >= 10 and counts["kms"] >= 8


def test_every_check_has_compliant_and_non_compliant_resources(estate: DemoEstate) -> None:
    bad = estate.expected["non_compliant"]
    assert bad["aws.dynamodb.encryption"] == []  # AWS owned keys pass under the default thresholds
    # moto cannot produce these non-compliant cases: covered by unit tests on recorded JSON
    # (dynamodb: AWS-owned keys pass by default; IAM: moto cannot backdate keys or
    # give root keys, so these fail only N days later: expected["non_compliant_after_days"])
    moto_cannot = {
        "aws.dynamodb.encryption",
        "aws.iam.root_access_keys",
        "aws.iam.access_key_rotation",
        "aws.iam.unused_credentials",
    }
    for check_id, ids in bad.items():
        if check_id not in moto_cannot:
            assert ids, check_id
    key_types = estate.expected["dynamodb_key_types"]
    assert set(key_types.values()) == {"AWS_OWNED", "CUSTOMER_MANAGED"}
    for check_id, rows in estate.expected["non_compliant_where"].items():
        assert sorted({rid for _, _, rid in rows}) == bad[check_id]


def test_s3_encryption_and_public_access_as_expected(aws: MotoEmulator, estate: DemoEstate) -> None:
    bad = estate.expected["non_compliant"]
    for name, (key, region) in estate.expected["resources"]["s3"].items():
        s3 = in_account(aws, estate, key, "s3", region)
        location = s3.get_bucket_location(Bucket=name)["LocationConstraint"]
        assert (location or "us-east-1") == region
        if name in bad["aws.s3.default_encryption"]:
            with pytest.raises(botocore.exceptions.ClientError) as exc:
                s3.get_bucket_encryption(Bucket=name)
            assert exc.value.response["Error"]["Code"] == "ServerSideEncryptionConfigurationNotFoundError"
        else:
            rules = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
            default = rules[0]["ApplyServerSideEncryptionByDefault"]
            assert default["SSEAlgorithm"] in ("AES256", "aws:kms")
            if default["SSEAlgorithm"] == "aws:kms":
                assert default["KMSMasterKeyID"].startswith(f"arn:aws:kms:{region}:{estate.accounts[key]}:key/")
    staging = in_account(aws, estate, "staging", "s3")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        staging.get_public_access_block(Bucket="dexo-staging-scratch")
    assert exc.value.response["Error"]["Code"] == "NoSuchPublicAccessBlockConfiguration"
    blocked = staging.get_public_access_block(Bucket="dexo-staging-chat-attachments")["PublicAccessBlockConfiguration"]
    assert all(blocked.values())
    # account level: prod only; the unblocked prod bucket is covered by it, so it is not listed as bad
    assert "dexo-prod-marketing-site" not in bad["aws.s3.public_access_block"]
    for key, account_id in estate.accounts.items():
        s3control = in_account(aws, estate, key, "s3control")
        if key == "prod":
            config = s3control.get_public_access_block(AccountId=account_id)["PublicAccessBlockConfiguration"]
            assert all(config.values()) and account_id not in bad["aws.s3.public_access_block"]
        else:
            with pytest.raises(botocore.exceptions.ClientError) as exc:
                s3control.get_public_access_block(AccountId=account_id)
            assert exc.value.response["Error"]["Code"] == "NoSuchPublicAccessBlockConfiguration"
            assert account_id in bad["aws.s3.public_access_block"]
    probe = estate.expected["probe_bucket"]
    assert estate.expected["resources"]["s3"][probe][0] == "prod"
    assert [n for n in estate.expected["resources"]["s3"] if probe in n] == [probe]


def test_ebs_default_and_volume_encryption_as_expected(aws: MotoEmulator, estate: DemoEstate) -> None:
    off = {
        (account, region) for account, region, _ in estate.expected["non_compliant_where"]["aws.ebs.default_encryption"]
    }
    unencrypted = set(estate.expected["non_compliant"]["aws.ebs.volume_encryption"])
    names: dict[str, tuple[str, str]] = {}
    for key, region in places(estate):
        ec2 = in_account(aws, estate, key, "ec2", region)
        enabled = ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"]
        assert enabled == ((estate.accounts[key], region) not in off), (key, region)
        assert enabled == ((key, region) == ("prod", "us-east-1"))
        for volume in ec2.describe_volumes()["Volumes"]:
            assert volume["Encrypted"] == (volume["VolumeId"] not in unencrypted)
            name = {t["Key"]: t["Value"] for t in volume.get("Tags", [])}["Name"]
            names[name] = (key, region)
    # hostile Name tags survive verbatim, in staging, on unencrypted volumes (so they show up in failures)
    assert names['=HYPERLINK("http://attacker.example/x","Click for invoice")'][0] == "staging"
    assert names["@SUM(1+1)"][0] == "staging"
    assert set(estate.expected["hostile_text"]) >= {'=HYPERLINK("http://attacker.example/x","Click for invoice")'}


def test_rds_storage_encryption_as_expected(aws: MotoEmulator, estate: DemoEstate) -> None:
    bad = set(estate.expected["non_compliant"]["aws.rds.storage_encryption"])
    assert {arn.rsplit(":", 1)[1] for arn in bad} == {"dexo-staging-analytics-db"}
    engines = set()
    for key, region in places(estate):
        rds = in_account(aws, estate, key, "rds", region)
        for db in rds.describe_db_instances()["DBInstances"]:
            assert db["StorageEncrypted"] == (db["DBInstanceArn"] not in bad)
            engines.add(db["Engine"])
        for cluster in rds.describe_db_clusters()["DBClusters"]:
            assert (key, region) == ("prod", "us-east-1")
            assert cluster["Engine"] == "aurora-postgresql" and cluster["StorageEncrypted"]
            assert len(cluster["DBClusterMembers"]) == 2
    assert engines == {"postgres", "aurora-postgresql"}


def test_dynamodb_key_types_as_expected(aws: MotoEmulator, estate: DemoEstate) -> None:
    key_types = estate.expected["dynamodb_key_types"]
    assert key_types["-2-3-chat-sessions"] == "AWS_OWNED"
    assert estate.expected["resources"]["dynamodb"]["-2-3-chat-sessions"] == ["staging", "us-east-1"]
    for table, (key, region) in estate.expected["resources"]["dynamodb"].items():
        desc = in_account(aws, estate, key, "dynamodb", region).describe_table(TableName=table)["Table"]
        sse = desc.get("SSEDescription")
        if key_types[table] == "AWS_OWNED":
            assert sse is None, table
        else:
            assert sse["SSEType"] == "KMS" and sse["Status"] == "ENABLED"
            assert sse["KMSMasterKeyArn"].startswith(f"arn:aws:kms:{region}:{estate.accounts[key]}:key/")


def test_kms_rotation_and_hostile_description_as_expected(aws: MotoEmulator, estate: DemoEstate) -> None:
    bad = set(estate.expected["non_compliant"]["aws.kms.key_rotation"])
    pending = set(estate.expected["kms_pending_deletion"])
    assert pending and pending <= bad  # a key scheduled for deletion fails, with its date
    descriptions = {}
    for key_id, (key, region) in estate.expected["resources"]["kms"].items():
        kms = in_account(aws, estate, key, "kms", region)
        meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
        if key_id in pending:
            assert meta["KeyState"] == "PendingDeletion" and meta["DeletionDate"], key_id
            continue
        assert meta["KeyManager"] == "CUSTOMER" and meta["KeyState"] == "Enabled"
        rotation = kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"]
        assert rotation == (key_id not in bad), key_id
        descriptions[meta["Description"]] = (key, key_id)
    key, key_id = descriptions["=cmd|' /C calc'!A0"]
    assert key == "staging" and key_id in bad


def test_seed_scale_spreads_resources_over_member_accounts(aws: MotoEmulator, estate: DemoEstate) -> None:
    scale = seed_scale(aws.endpoint_url, accounts=2, buckets=24, volumes=40, db_instances=12)
    assert len(scale.accounts) == 2 and not set(scale.accounts) & set(estate.accounts.values())
    assert scale.counts == {"s3": 24, "ebs": 40, "rds": 12, "kms": 4}
    assert scale.noncompliant == {"s3": 3, "ebs": 4, "rds": 2}
    totals = {"s3": 0, "ebs": 0, "rds": 0, "ebs_unencrypted": 0, "rds_unencrypted": 0}
    for account_id in scale.accounts:
        totals["s3"] += len(client(aws.endpoint_url, account_id, "s3").list_buckets()["Buckets"])
        for region in scale.regions:
            volumes = client(aws.endpoint_url, account_id, "ec2", region).describe_volumes()["Volumes"]
            dbs = client(aws.endpoint_url, account_id, "rds", region).describe_db_instances()["DBInstances"]
            assert volumes and dbs, (account_id, region)  # spread over every account x region
            totals["ebs"] += len(volumes)
            totals["rds"] += len(dbs)
            totals["ebs_unencrypted"] += sum(not v["Encrypted"] for v in volumes)
            totals["rds_unencrypted"] += sum(not d["StorageEncrypted"] for d in dbs)
    assert totals == {"s3": 24, "ebs": 40, "rds": 12, "ebs_unencrypted": 4, "rds_unencrypted": 2}
    # the demo accounts are untouched
    demo_buckets = {b["Name"] for b in in_account(aws, estate, "prod", "s3").list_buckets()["Buckets"]}
    assert seeded_ids(estate, "s3", "prod") <= demo_buckets
    assert not any(name.startswith("dexo-scale-") for name in demo_buckets)
