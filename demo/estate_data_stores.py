"""Dexo.chat's data tier (part A), seeded over HTTP into a moto server: snapshots, TLS parameter
groups, caches, file systems, search domains and the warehouse, compliant and not for every check.

seed_data_tier_estate() acts inside the demo organization's accounts (demo.seeding.member_session)
after seed_demo_estate has made their databases and volumes, and returns which resource each check must
fail (and pass), as the tool reports them:

- RDS: the existing DB instances get parameter groups (rds.force_ssl=1 in prod, =0 set in staging, the
  engine default elsewhere: moto's postgres 9.3 defaults to 0), the Aurora cluster a cluster parameter group
  with rds.force_ssl=1 (moto has no default *cluster* parameter group to describe, so every demo cluster needs
  one), and manual snapshots join the automated ones moto takes; no new database is created (the estate
  tests count them).
- EBS: snapshots of an encrypted and an unencrypted volume.
- ElastiCache replication groups (required / preferred transit mode) and a Memcached cluster without TLS;
  EFS file systems with and without encryption and a deny-insecure-transport policy; OpenSearch domains;
  Redshift clusters.

moto 5.2 has no ModifyClusterParameterGroup and answers DescribeClusterParameters with the defaults
(require_ssl false) for every group, so the warehouse's require_ssl=true is set on moto's in-process backend
of that account and region (the demo's MotoEmulator runs moto in this process; elsewhere it has no effect).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from demo.estate_storage import DB_CLUSTERS, DB_INSTANCES, VOLUMES
from demo.seeding import REGIONS, member_session

__all__ = ["DATA_TIER_CHECKS", "seed_data_tier_estate"]

DATA_TIER_CHECKS = (
    "aws.rds.snapshot_encryption",
    "aws.rds.transport_encryption",
    "aws.ebs.snapshot_encryption",
    "aws.elasticache.encryption",
    "aws.efs.encryption",
    "aws.efs.secure_transport",
    "aws.opensearch.encryption",
    "aws.redshift.encryption",
)
US, EU = "us-east-1", "eu-west-1"


class _Expect:
    def __init__(self) -> None:
        self.rows: dict[str, dict[bool, list[list[str]]]] = {c: {True: [], False: []} for c in DATA_TIER_CHECKS}

    def add(self, check_id: str, account: str, region: str, rid: str, ok: bool) -> None:
        self.rows[check_id][ok].append([account, region, rid])

    def result(self) -> dict[str, Any]:
        def ids(ok: bool) -> dict[str, list[str]]:
            return {c: sorted({r for _, _, r in rows[ok]}) for c, rows in self.rows.items()}

        return {
            "non_compliant": ids(False),
            "non_compliant_where": {c: sorted(rows[False]) for c, rows in self.rows.items()},
            "data_tier_compliant": ids(True),
        }


class _Clients:
    def __init__(self, endpoint_url: str, account_id: str) -> None:
        self.endpoint_url, self.id = endpoint_url, account_id
        self._session = member_session(endpoint_url, account_id, US)
        self._cache: dict[tuple[str, str], Any] = {}

    def __call__(self, service: str, region: str = US) -> Any:
        if (service, region) not in self._cache:
            self._cache[service, region] = self._session.client(
                service, region_name=region, endpoint_url=self.endpoint_url
            )
        return self._cache[service, region]


# DB instance -> the parameter group it gets (rds.force_ssl 1 or 0, set); any other keeps the engine default
DB_GROUPS = {
    "dexo-prod-accounts-db": ("dexo-pg-force-ssl", "1"),
    "dexo-prod-eu-accounts-db": ("dexo-pg-force-ssl", "1"),
    "dexo-staging-analytics-db": ("dexo-pg-lax", "0"),
}
MANUAL_SNAPSHOTS = ("dexo-prod-accounts-db", "dexo-staging-analytics-db")


def _rds(c: _Clients, key: str, exp: _Expect) -> None:
    """Parameter groups on the existing databases, manual snapshots; then every snapshot's verdict."""
    for region in REGIONS:
        rds = c("rds", region)
        for db_region, ident, _, _ in DB_INSTANCES.get(key, []):
            if db_region != region:
                continue
            group, value = DB_GROUPS.get(ident, (None, None))
            if group is not None:
                existing = rds.describe_db_parameter_groups()["DBParameterGroups"]
                if group not in {g["DBParameterGroupName"] for g in existing}:
                    rds.create_db_parameter_group(
                        DBParameterGroupName=group, DBParameterGroupFamily="postgres9.3", Description="Dexo.chat TLS"
                    )
                    param = {"ParameterName": "rds.force_ssl", "ParameterValue": value, "ApplyMethod": "immediate"}
                    rds.modify_db_parameter_group(DBParameterGroupName=group, Parameters=[param])
                rds.modify_db_instance(DBInstanceIdentifier=ident, DBParameterGroupName=group, ApplyImmediately=True)
            # without a group of its own: moto's postgres 9.3 default group, rds.force_ssl defaults to 0
            arn = f"arn:aws:rds:{region}:{c.id}:db:{ident}"
            exp.add("aws.rds.transport_encryption", c.id, region, arn, value == "1")
            if ident in MANUAL_SNAPSHOTS:
                rds.create_db_snapshot(DBSnapshotIdentifier=f"{ident}-before-migration", DBInstanceIdentifier=ident)
        for cl_region, name, _, _ in DB_CLUSTERS.get(key, []):
            if cl_region != region:
                continue
            rds.create_db_cluster_parameter_group(
                DBClusterParameterGroupName="dexo-apg-force-ssl",
                DBParameterGroupFamily="aurora-postgresql15",
                Description="Dexo.chat Aurora TLS",
            )
            param = {"ParameterName": "rds.force_ssl", "ParameterValue": "1", "ApplyMethod": "immediate"}
            rds.modify_db_cluster_parameter_group(DBClusterParameterGroupName="dexo-apg-force-ssl", Parameters=[param])
            rds.modify_db_cluster(
                DBClusterIdentifier=name, DBClusterParameterGroupName="dexo-apg-force-ssl", ApplyImmediately=True
            )
            exp.add("aws.rds.transport_encryption", c.id, region, f"arn:aws:rds:{region}:{c.id}:cluster:{name}", True)
            rds.create_db_cluster_snapshot(DBClusterSnapshotIdentifier=f"{name}-pre-upgrade", DBClusterIdentifier=name)
        # every snapshot, manual and automated, is encrypted exactly when its source database is
        encrypted = {ident for r, ident, _, enc in DB_INSTANCES.get(key, []) if r == region and enc}
        for cl_region, name, enc, members in DB_CLUSTERS.get(key, []):
            if cl_region == region and enc:  # moto also snapshots Aurora members, encrypted as their cluster
                encrypted |= {name, *(f"{name}-{i}" for i in range(1, members + 1))}
        for snap in rds.describe_db_snapshots()["DBSnapshots"]:
            ok = snap["DBInstanceIdentifier"] in encrypted
            exp.add("aws.rds.snapshot_encryption", c.id, region, snap["DBSnapshotArn"], ok)
        for snap in rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]:
            ok = snap["DBClusterIdentifier"] in encrypted
            exp.add("aws.rds.snapshot_encryption", c.id, region, snap["DBClusterSnapshotArn"], ok)


def _ebs(c: _Clients, key: str, exp: _Expect) -> None:
    wanted = {"dexo-prod-chat-api-root", "dexo-prod-legacy-xmpp-gateway", "dexo-staging-eu-worker-root"}
    for region, name, encrypted in VOLUMES.get(key, []):
        if name not in wanted:
            continue
        ec2 = c("ec2", region)
        volumes = ec2.describe_volumes(Filters=[{"Name": "tag:Name", "Values": [name]}])["Volumes"]
        snap = ec2.create_snapshot(VolumeId=volumes[0]["VolumeId"], Description=f"nightly {name}")
        exp.add("aws.ebs.snapshot_encryption", c.id, region, snap["SnapshotId"], encrypted)


def _elasticache(c: _Clients, key: str, exp: _Expect) -> None:
    ec = c("elasticache")
    node = {"Engine": "redis", "CacheNodeType": "cache.t4g.small", "NumCacheClusters": 2}
    groups = {
        "prod": [("dexo-prod-sessions", {"AtRestEncryptionEnabled": True, "TransitEncryptionEnabled": True}, True)],
        "staging": [
            (
                "dexo-staging-sessions",  # TLS being rolled out: plain-text clients still accepted
                {
                    "AtRestEncryptionEnabled": True,
                    "TransitEncryptionEnabled": True,
                    "TransitEncryptionMode": "preferred",
                },
                False,
            )
        ],
    }
    for name, settings, ok in groups.get(key, []):
        group = ec.create_replication_group(
            ReplicationGroupId=name, ReplicationGroupDescription=f"{name} (Dexo.chat)", **node, **settings
        )["ReplicationGroup"]
        exp.add("aws.elasticache.encryption", c.id, US, group["ARN"], ok)
    if key == "staging":
        cache = ec.create_cache_cluster(
            CacheClusterId="dexo-staging-presence", Engine="memcached", CacheNodeType="cache.t4g.small", NumCacheNodes=1
        )["CacheCluster"]
        exp.add("aws.elasticache.encryption", c.id, US, cache["ARN"], False)


DENY_INSECURE = {
    "Sid": "DenyInsecureTransport",
    "Effect": "Deny",
    "Principal": {"AWS": "*"},
    "Action": "*",
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
ALLOW_MOUNT = {
    "Sid": "AllowMount",
    "Effect": "Allow",
    "Principal": {"AWS": "*"},
    "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
}


def _efs(c: _Clients, key: str, exp: _Expect) -> None:
    # (region, name, encrypted, policy statements or None)
    systems = {
        "prod": [
            (US, "dexo-prod-uploads", True, [ALLOW_MOUNT, DENY_INSECURE]),
            (EU, "dexo-prod-eu-exports", True, [ALLOW_MOUNT]),
        ],
        "staging": [(US, "dexo-staging-scratch", False, None)],
    }
    for region, name, encrypted, statements in systems.get(key, []):
        efs = c("efs", region)
        fs = efs.create_file_system(CreationToken=name, Encrypted=encrypted, Tags=[{"Key": "Name", "Value": name}])
        if statements:
            policy = json.dumps({"Version": "2012-10-17", "Statement": statements})
            efs.put_file_system_policy(FileSystemId=fs["FileSystemId"], Policy=policy)
        exp.add("aws.efs.encryption", c.id, region, fs["FileSystemId"], encrypted)
        exp.add("aws.efs.secure_transport", c.id, region, fs["FileSystemId"], DENY_INSECURE in (statements or []))


def _opensearch(c: _Clients, key: str, exp: _Expect) -> None:
    if key == "prod":
        c("opensearch").create_domain(
            DomainName="dexo-prod-chat-search",
            EngineVersion="OpenSearch_2.13",
            EncryptionAtRestOptions={"Enabled": True},
            NodeToNodeEncryptionOptions={"Enabled": True},
            DomainEndpointOptions={"EnforceHTTPS": True, "TLSSecurityPolicy": "Policy-Min-TLS-1-2-PFS-2023-10"},
        )
        exp.add("aws.opensearch.encryption", c.id, US, "dexo-prod-chat-search", True)
    elif key == "staging":  # every default: no encryption, plain HTTP allowed, TLS 1.0 policy
        c("opensearch").create_domain(DomainName="dexo-staging-search", EngineVersion="OpenSearch_2.13")
        exp.add("aws.opensearch.encryption", c.id, US, "dexo-staging-search", False)


def _require_ssl_in_moto(account: str, region: str, group: str) -> None:
    """Set require_ssl=true on one parameter group of moto's in-process Redshift backend (see the docstring)."""
    from moto.redshift.models import redshift_backends

    backend = redshift_backends[account][region]
    plain = type(backend).describe_cluster_parameters

    def describe(parameter_group_name: str) -> list[dict[str, Any]]:
        params = plain(backend, parameter_group_name)
        if parameter_group_name != group:
            return params
        return [
            {**p, "ParameterValue": "true", "Source": "user"} if p["ParameterName"] == "require_ssl" else p
            for p in params
        ]

    backend.describe_cluster_parameters = describe  # type: ignore[method-assign]


def _redshift(c: _Clients, key: str, exp: _Expect) -> None:
    rs = c("redshift")
    login = {"NodeType": "ra3.xlplus", "MasterUsername": "dexo_admin", "MasterUserPassword": "DemoOnly-1-NotASecret"}
    if key == "prod":
        rs.create_cluster_parameter_group(
            ParameterGroupName="dexo-redshift-ssl", ParameterGroupFamily="redshift-1.0", Description="require_ssl"
        )
        _require_ssl_in_moto(c.id, US, "dexo-redshift-ssl")
        rs.create_cluster(
            ClusterIdentifier="dexo-prod-warehouse",
            Encrypted=True,
            ClusterParameterGroupName="dexo-redshift-ssl",
            **login,
        )
        exp.add("aws.redshift.encryption", c.id, US, "dexo-prod-warehouse", True)
    elif key == "staging":
        rs.create_cluster(ClusterIdentifier="dexo-staging-warehouse", **login)  # default group: require_ssl false
        exp.add("aws.redshift.encryption", c.id, US, "dexo-staging-warehouse", False)


def seed_data_tier_estate(endpoint_url: str, accounts: Mapping[str, str]) -> dict[str, Any]:
    """Seed the data tier into the accounts ("management" / "prod" / "staging" -> id), after seed_demo_estate's
    databases and volumes exist. Returns {"non_compliant": {check: ids}, "non_compliant_where": {check:
    [[account, region, id]]}, "data_tier_compliant": {check: ids}} for DATA_TIER_CHECKS, ids as the tool reports
    them (RDS ARNs, snapshot ids, ElastiCache ARNs, file system ids, domain and cluster names)."""
    exp = _Expect()
    for key, account_id in accounts.items():
        c = _Clients(endpoint_url, account_id)
        for seed in (_rds, _ebs, _elasticache, _efs, _opensearch, _redshift):
            seed(c, key, exp)
    return exp.result()
