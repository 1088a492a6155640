"""Thousands of resources for the benchmarks, seeded over HTTP into a moto server.

seed_scale() fills new member accounts with buckets, volumes and DB instances, every tenth one
non-compliant, from a thread pool. Separate from the demo estate: it seeds volume, not a story.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from demo.estate_storage import PAB_ON, create_bucket, rds_encryption
from demo.seeding import REGIONS, Account, seed_iam, seed_organization

__all__ = ["ScaleEstate", "seed_scale"]


@dataclass
class ScaleEstate:
    accounts: list[str]  # member account ids
    regions: tuple[str, ...]
    counts: dict[str, int]  # "s3", "ebs", "rds", "kms"
    noncompliant: dict[str, int]  # "s3" (no encryption, no block), "ebs", "rds" (unencrypted)
    seconds: float


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
    members = [Account(f"scale-{i}", account_id, endpoint_url) for i, account_id in enumerate(ids, 1)]
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
        create_bucket(s3, name, region)
        if i % 10:
            default = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": keys[acct.id, region]}
            rules = [{"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": True}]
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
            s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=PAB_ON)

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
            **rds_encryption(bool(i % 10), keys[acct.id, region]),
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
