"""Benchmark: the aws.sso (IAM Identity Center) collector over a large organization with latency.

Seeds moto's Identity Center instance (management account, us-east-1; moto in its own process) with
2,000 users in 200 groups (10 members each), 50 permission sets (every 10th with AdministratorAccess,
every 7th an inline policy) and account assignments over 100 accounts (each group assigned one permission
set in 5 accounts, plus 50 users assigned directly), injects 50 ms of latency per request, then runs the
collector's fetch + its three checks, twice in the same process: at the default tuning (16 calls in
flight) and at concurrency 1. Prints wall time, API calls (counted at the emulator, per operation),
results, the peak RSS of this process and the speed-up.

The fetch enumerates accounts x permission sets (ListAccountAssignments per pair: 100 x 50 = 5,000 of
the ~5,400 calls), as the collector's docstring explains.

    .venv/bin/python bench/bench_identity_center.py [--users 2000] [--groups 200] [--permission-sets 50]
                                                    [--accounts 100] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

import boto3
from _common import PeakRss
from botocore.config import Config

from collectors.aws.base import GLOBAL_REGION, AwsFetchContext, AwsTuning, classify_error
from collectors.aws.sso import IdentityCenterScope
from collectors.evidence import Recorder, Scope
from collectors.registry import checks_for, collectors
from demo.emulators import MotoProcess
from demo.seeding import MANAGEMENT_ACCOUNT

REGION = "us-east-1"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def accounts(n: int) -> list[str]:
    return [f"{100000000000 + i * 7919:012d}" for i in range(n)]


def seed(endpoint_url: str, users: int, groups: int, sets: int, targets: list[str], workers: int = 16) -> int:
    """Seed the estate of the module doc; returns the number of seeding requests."""
    config = Config(retries={"mode": "standard", "max_attempts": 8}, max_pool_connections=workers * 2)
    session = boto3.Session(region_name=REGION)
    sso = session.client("sso-admin", endpoint_url=endpoint_url, config=config)
    store = session.client("identitystore", endpoint_url=endpoint_url, config=config)
    instance = sso.list_instances()["Instances"][0]
    arn, store_id = instance["InstanceArn"], instance["IdentityStoreId"]

    def user(i: int) -> str:
        name = f"user{i:05d}"
        full = {"GivenName": "U", "FamilyName": name}
        made = store.create_user(
            IdentityStoreId=store_id, UserName=f"{name}@bench.example", DisplayName=name, Name=full
        )
        return made["UserId"]

    def group(g: int) -> str:
        return store.create_group(IdentityStoreId=store_id, DisplayName=f"group{g:03d}")["GroupId"]

    def permission_set(p: int) -> str:
        ps = sso.create_permission_set(Name=f"set{p:02d}", InstanceArn=arn)["PermissionSet"]["PermissionSetArn"]
        policy = ADMIN if p % 10 == 0 else READONLY
        sso.attach_managed_policy_to_permission_set(InstanceArn=arn, PermissionSetArn=ps, ManagedPolicyArn=policy)
        if p % 7 == 0:
            doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
            sso.put_inline_policy_to_permission_set(InstanceArn=arn, PermissionSetArn=ps, InlinePolicy=json.dumps(doc))
        return ps

    # moto's identity store is not thread-safe (concurrent CreateUser: "dictionary changed size during
    # iteration", a 500): its writes go one at a time, the sso-admin ones in a pool
    user_ids = [user(i) for i in range(users)]
    group_ids = [group(g) for g in range(groups)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        set_arns = list(pool.map(permission_set, range(sets)))
        members = [(group_ids[i % groups], uid) for i, uid in enumerate(user_ids)]

        def member(m: tuple[str, str]) -> None:
            store.create_group_membership(IdentityStoreId=store_id, GroupId=m[0], MemberId={"UserId": m[1]})

        for m in members:
            member(m)
        jobs = [
            (set_arns[g % sets], "GROUP", gid, targets[(g * 7 + k) % len(targets)])
            for g, gid in enumerate(group_ids)
            for k in range(5)
        ]
        direct = user_ids[:: max(1, users // 50)][:50]  # 50 users with a direct assignment too
        jobs += [(set_arns[u % sets], "USER", uid, targets[u % len(targets)]) for u, uid in enumerate(direct)]

        def assign(j: tuple[str, str, str, str]) -> None:
            ps, kind, principal, target = j
            sso.create_account_assignment(
                InstanceArn=arn,
                TargetId=target,
                TargetType="AWS_ACCOUNT",
                PermissionSetArn=ps,
                PrincipalType=kind,
                PrincipalId=principal,
            )

        list(pool.map(assign, jobs))
    return 1 + users + groups + sets * 2 + len(range(0, sets, 7)) + len(members) + len(jobs)


def collect(targets: list[str], concurrency: int) -> tuple[Recorder, Counter[str], float]:
    """The aws.sso fetch (configured: management account, us-east-1) and its checks."""
    spec = collectors()["aws.sso"]
    rec = Recorder(Scope("aws", MANAGEMENT_ACCOUNT, GLOBAL_REGION, "aws.sso"), spec.operations, classify_error)
    ctx = AwsFetchContext(boto3.Session(), MANAGEMENT_ACCOUNT, GLOBAL_REGION, rec, AwsTuning(concurrency=concurrency))
    ctx.identity_center = IdentityCenterScope((REGION,), tuple(targets), True)
    t = time.perf_counter()
    spec.fetch(ctx)
    statuses: Counter[str] = Counter()
    for chk in checks_for("aws.sso"):
        name = chk.spec.id.rsplit(".", 1)[-1]
        statuses.update(f"{name} {r.status}" for r in chk.run(rec.bundle, {}, datetime.now(UTC)))
    return rec, statuses, time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--groups", type=int, default=200)
    ap.add_argument("--permission-sets", type=int, default=50)
    ap.add_argument("--accounts", type=int, default=100)
    ap.add_argument("--latency-ms", type=float, default=50)
    args = ap.parse_args()
    targets = accounts(args.accounts)
    with MotoProcess() as moto, moto.use_env():
        t = time.perf_counter()
        n = seed(moto.endpoint_url, args.users, args.groups, args.permission_sets, targets)
        what = f"{args.users} users, {args.groups} groups, {args.permission_sets} permission sets"
        what += f", {args.accounts} accounts"
        print(f"seeded {what}: {n} requests in {time.perf_counter() - t:.1f}s")
        collect(targets[:2], 16)  # warm-up (boto3 models, connections), outside the measurement
        moto.latency_seconds = args.latency_ms / 1000
        rows = []
        for label, concurrency in (("default", 16), ("concurrency 1", 1)):
            moto.reset_counts()
            with PeakRss() as rss:
                rec, statuses, wall = collect(targets, concurrency)
            counts = Counter(moto.counts())
            failed = sum(1 for calls in rec.bundle.calls.values() for c in calls if not c.ok)
            rows.append((label, concurrency, wall, sum(counts.values()), failed, rss.peak, statuses, counts))
    print(f"\nlatency {args.latency_ms:.0f} ms per request\n")
    print(f"{'mode':16} {'wall s':>8} {'API calls':>10} {'failed':>7} {'calls/s':>8} {'peak RSS MB':>12}")
    for label, _, wall, calls, failed, peak, _, _ in rows:
        print(f"{label:16} {wall:8.1f} {calls:10d} {failed:7d} {calls / wall:8.1f} {peak / 2**20:12.0f}")
    print(f"\nspeed-up (wall): {rows[1][2] / rows[0][2]:.1f}x")
    print("\nAPI calls per operation (default run):")
    for op, count in sorted(rows[0][7].items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {op:52} {count:6d}")
    print("\nresults (default run):")
    for key, count in sorted(rows[0][6].items()):
        print(f"  {key:40} {count:6d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
