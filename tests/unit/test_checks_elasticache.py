"""aws.elasticache.encryption on recorded evidence: replication groups, standalone clusters, Memcached."""

from __future__ import annotations

from typing import Any

from controls import Status
from tests.helpers import Fail, bundle_from_calls, by_resource, fixture, ref_ops, run_check, scope

CHECK = "aws.elasticache.encryption"
SCOPE = scope("aws.elasticache")
GROUPS = fixture("aws/elasticache/describe_replication_groups.json")
CLUSTERS = fixture("aws/elasticache/describe_cache_clusters.json")
A = "arn:aws:elasticache:us-east-1:123456789012"
MISSING = object()


def ec_bundle(*, groups: Any = GROUPS, clusters: Any = CLUSTERS):
    calls: list[tuple[str, str, dict[str, Any], Any]] = []
    if groups is not MISSING:
        calls.append(("elasticache", "DescribeReplicationGroups", {"MaxRecords": 100}, groups))
    if clusters is not MISSING:
        calls.append(("elasticache", "DescribeCacheClusters", {"MaxRecords": 100}, clusters))
    return bundle_from_calls(SCOPE, calls)


def test_groups_and_standalone_clusters():
    results = by_resource(run_check(CHECK, ec_bundle()))
    assert {rid.rsplit(":", 1)[-1]: str(r.status) for rid, r in results.items()} == {
        "sessions": "pass",
        "cache-migrating": "fail",
        "legacy-tls": "pass",  # transit on with no mode reported: predates 'preferred', TLS required
        "plain": "fail",
        "memc-tls": "pass",
        "memc-plain": "fail",
        "redis-single": "fail",
    }  # sessions-001 is a member of "sessions": no result of its own
    sessions = results[f"{A}:replicationgroup:sessions"]
    assert sessions.resource_type == "AWS::ElastiCache::ReplicationGroup"
    assert sessions.observed["kms_key_id"].endswith("eeee5555eeee")
    assert sessions.reason == "replication group sessions: encrypted at rest, TLS required in transit"
    assert ref_ops(sessions) == {"elasticache.DescribeReplicationGroups"}


def test_preferred_mode_fails_with_the_reason():
    results = by_resource(run_check(CHECK, ec_bundle()))
    migrating = results[f"{A}:replicationgroup:cache-migrating"]
    assert migrating.observed["transit_encryption_mode"] == "preferred"
    assert "mode preferred: plain-text connections are still accepted" in migrating.reason
    plain = results[f"{A}:replicationgroup:plain"]
    assert plain.reason == "replication group plain: at-rest encryption off; in-transit encryption off"


def test_memcached_is_assessed_in_transit_only_and_standalone_redis_cannot_encrypt_at_rest():
    results = by_resource(run_check(CHECK, ec_bundle()))
    memc = results[f"{A}:cluster:memc-tls"]
    assert memc.resource_type == "AWS::ElastiCache::CacheCluster"
    assert memc.observed["at_rest_encryption"] is None
    assert "in memory only" in memc.observed["at_rest_note"]
    assert memc.reason == "cluster memc-tls: TLS required in transit"
    assert results[f"{A}:cluster:memc-plain"].reason == "cluster memc-plain: in-transit encryption off"
    single = results[f"{A}:cluster:redis-single"]
    assert "only replication groups can have it" in single.reason
    assert "in-transit" not in single.reason


def test_denied_group_listing_is_an_error_and_clusters_still_assessed():
    results = run_check(CHECK, ec_bundle(groups=Fail("AccessDenied")))
    (err,) = [r for r in results if r.status == Status.ERROR]
    assert (err.resource_id, err.resource_type) == ("*", "AWS::ElastiCache::ReplicationGroup")
    assert err.observed["missing_permission"] == "elasticache:DescribeReplicationGroups"
    assert len([r for r in results if r.status != Status.ERROR]) == 3


def test_unrecorded_cluster_listing_is_not_collected():
    results = run_check(CHECK, ec_bundle(clusters=MISSING))
    (err,) = [r for r in results if r.status == Status.ERROR]
    assert err.observed["error_code"] == "NotCollected"
    assert err.observed["required_permission"] == "elasticache:DescribeCacheClusters"
