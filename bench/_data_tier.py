"""The AWS benchmark's data tier: a realistic count of each data-tier resource, seeded over HTTP, and the
API calls each one costs.

Counts for a SaaS company of the benchmark's size (500 buckets, 1,000 volumes, 200 DB instances over
2 accounts x 2 regions): a snapshot for every other volume, a manual snapshot for every other database (moto
also takes an automated one of each), a quarter of the databases on one of two custom parameter groups per
account and region, 40 ElastiCache replication groups and 20 Memcached clusters, 60 EFS file systems (half with a
policy), 20 OpenSearch domains and 12 Redshift clusters. Every tenth resource is non-compliant.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from demo.seeding import member_session

DENY_INSECURE = {
    "Effect": "Deny",
    "Principal": {"AWS": "*"},
    "Action": "*",
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


@dataclass
class DataTierCounts:
    db_instances: int = 200  # seeded by seed_scale; each gets an automated snapshot in moto
    ebs_snapshots: int = 500
    rds_manual_snapshots: int = 100
    custom_parameter_groups_per_place: int = 2
    replication_groups: int = 40
    memcached_clusters: int = 20
    file_systems: int = 60
    domains: int = 20
    warehouses: int = 12

    def summary(self) -> str:
        return (
            f"{self.ebs_snapshots} EBS snapshots, {self.rds_manual_snapshots} manual + {self.db_instances} automated "
            f"RDS snapshots, {self.replication_groups} replication groups, {self.memcached_clusters} Memcached "
            f"clusters, {self.file_systems} file systems, {self.domains} search domains, {self.warehouses} warehouses"
        )


def seed_data_tier_scale(
    endpoint_url: str, accounts: Sequence[str], regions: Sequence[str], counts: DataTierCounts, workers: int = 16
) -> DataTierCounts:
    places = list(itertools.product(accounts, regions))
    sessions = {a: member_session(endpoint_url, a) for a in accounts}
    clients: dict[tuple[str, str, str], Any] = {}
    for (account, region), service in itertools.product(
        places, ("ec2", "rds", "elasticache", "efs", "opensearch", "redshift")
    ):
        clients[account, region, service] = sessions[account].client(
            service, region_name=region, endpoint_url=endpoint_url
        )

    def c(i: int, service: str) -> Any:
        account, region = places[i % len(places)]
        return clients[account, region, service]

    volumes = {
        p: [v["VolumeId"] for v in clients[(*p, "ec2")].describe_volumes()["Volumes"] if v.get("Tags")] for p in places
    }
    databases = {
        p: [
            d["DBInstanceIdentifier"] for d in clients[(*p, "rds")].describe_db_instances(MaxRecords=100)["DBInstances"]
        ]
        for p in places
    }
    for (account, region), n in itertools.product(places, range(counts.custom_parameter_groups_per_place)):
        rds = clients[account, region, "rds"]
        group = f"bench-pg-{n}"
        rds.create_db_parameter_group(DBParameterGroupName=group, DBParameterGroupFamily="postgres9.3", Description="b")
        value = "1" if n == 0 else "0"
        param = {"ParameterName": "rds.force_ssl", "ParameterValue": value, "ApplyMethod": "immediate"}
        rds.modify_db_parameter_group(DBParameterGroupName=group, Parameters=[param])
        for ident in databases[account, region][n :: 4 * counts.custom_parameter_groups_per_place]:
            rds.modify_db_instance(DBInstanceIdentifier=ident, DBParameterGroupName=group, ApplyImmediately=True)

    def ebs_snapshot(i: int) -> None:
        place = places[i % len(places)]
        ids = volumes[place]
        c(i, "ec2").create_snapshot(VolumeId=ids[(i // len(places)) % len(ids)], Description=f"bench {i}")

    def rds_snapshot(i: int) -> None:
        ids = databases[places[i % len(places)]]
        ident = ids[(i // len(places)) % len(ids)]
        c(i, "rds").create_db_snapshot(DBSnapshotIdentifier=f"bench-manual-{i:04d}", DBInstanceIdentifier=ident)

    def replication_group(i: int) -> None:
        settings = {"AtRestEncryptionEnabled": bool(i % 10), "TransitEncryptionEnabled": True}
        c(i, "elasticache").create_replication_group(
            ReplicationGroupId=f"bench-rg-{i:03d}",
            ReplicationGroupDescription="bench",
            Engine="redis",
            CacheNodeType="cache.t4g.small",
            NumCacheClusters=2,
            TransitEncryptionMode="required" if i % 10 else "preferred",
            **settings,
        )

    def memcached(i: int) -> None:
        c(i, "elasticache").create_cache_cluster(
            CacheClusterId=f"bench-mc-{i:03d}", Engine="memcached", CacheNodeType="cache.t4g.small", NumCacheNodes=1
        )

    def file_system(i: int) -> None:
        fs = c(i, "efs").create_file_system(CreationToken=f"bench-fs-{i:03d}", Encrypted=bool(i % 10))
        if i % 2:
            policy = json.dumps({"Version": "2012-10-17", "Statement": [DENY_INSECURE]})
            c(i, "efs").put_file_system_policy(FileSystemId=fs["FileSystemId"], Policy=policy)

    def domain(i: int) -> None:
        on = bool(i % 10)
        c(i, "opensearch").create_domain(
            DomainName=f"bench-search-{i:03d}",
            EncryptionAtRestOptions={"Enabled": on},
            NodeToNodeEncryptionOptions={"Enabled": on},
            DomainEndpointOptions={"EnforceHTTPS": on, "TLSSecurityPolicy": "Policy-Min-TLS-1-2-2019-07"},
        )

    def warehouse(i: int) -> None:
        c(i, "redshift").create_cluster(
            ClusterIdentifier=f"bench-dw-{i:03d}",
            NodeType="ra3.xlplus",
            MasterUsername="bench",
            MasterUserPassword="Bench-Only-1",
            Encrypted=bool(i % 10),
        )

    jobs: list[tuple[Callable[[int], None], int]] = [
        *((ebs_snapshot, i) for i in range(counts.ebs_snapshots)),
        *((rds_snapshot, i) for i in range(counts.rds_manual_snapshots)),
        *((replication_group, i) for i in range(counts.replication_groups)),
        *((memcached, i) for i in range(counts.memcached_clusters)),
        *((file_system, i) for i in range(counts.file_systems)),
        *((domain, i) for i in range(counts.domains)),
        *((warehouse, i) for i in range(counts.warehouses)),
    ]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(fn, i) for fn, i in jobs]:
            future.result()
    return counts


def calls_per_resource(
    calls: Mapping[str, int], by_collector: Mapping[str, int], counts: DataTierCounts
) -> list[tuple[str, int, int]]:
    """(what, API calls, resources) for each data-tier collector. RDS and EBS share their collectors with other
    checks, so their operations are counted at the emulator; EFS and OpenSearch speak REST-JSON, which the
    emulator does not name (its "Unknown"), so their collectors' own counts from the manifest are used."""
    rows = [
        (
            "RDS snapshots (DescribeDB[Cluster]Snapshots)",
            sum(calls.get(op, 0) for op in ("DescribeDBSnapshots", "DescribeDBClusterSnapshots")),
            counts.rds_manual_snapshots + counts.db_instances,
        ),
        (
            "RDS transport, per DB instance (parameters)",
            sum(calls.get(op, 0) for op in ("DescribeDBParameters", "DescribeDBClusterParameters")),
            counts.db_instances,
        ),
        ("EBS snapshots (DescribeSnapshots)", calls.get("DescribeSnapshots", 0), counts.ebs_snapshots),
        (
            "ElastiCache groups + clusters (collector)",
            by_collector.get("aws.elasticache", 0),
            counts.replication_groups + counts.memcached_clusters,
        ),
        ("EFS file systems (collector)", by_collector.get("aws.efs", 0), counts.file_systems),
        ("OpenSearch domains (collector)", by_collector.get("aws.opensearch", 0), counts.domains),
        ("Redshift clusters (collector)", by_collector.get("aws.redshift", 0), counts.warehouses),
    ]
    return rows
