"""Benchmark: the aws.iam collector over 5,000 IAM users in 5 accounts on moto with latency.

Seeds 1,000 users per account (a thread pool; every user gets groups, most a
console password, many an MFA device and an access key, a few a direct inline
policy), injects 50 ms of latency per request, then runs the real flow
(Prefect, assumed roles, every collector, evidence store, workbook) over the 5
accounts in us-east-1. A warm-up run without latency starts Prefect's
ephemeral server first. Prints wall time, API calls (counted at the emulator),
IAM calls per user beyond the credential report (target <= 3), calls per
operation, and the peak RSS of the tool's process (moto runs in a child process).

    .venv/bin/python bench/bench_iam.py [--accounts 5] [--users-per-account 1000] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# AdministratorAccess must exist in the moto child (read when an account's IAM backend is created)
os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"

import boto3
from bench_aws_collect import PeakRss, write_config
from botocore.config import Config

from demo.emulators import MotoProcess
from demo.seeding import member_session, seed_organization
from flows.run import run_evidence

IAM_OPERATIONS = {
    "GenerateCredentialReport",
    "GetCredentialReport",
    "GetAccountSummary",
    "GetAccountPasswordPolicy",
    "ListVirtualMFADevices",
    "GetAccountAuthorizationDetails",
}
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
PASSWORD = "bench-only-Not-a-secret-1"


def _doc(action: Any) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})


def seed_users(endpoint_url: str, accounts: int, per_account: int, workers: int = 16) -> tuple[list[str], int]:
    """(member account ids, seeding requests). User i: a group (11% admins, 1% without MFA), 60% a console
    password, 40% MFA, 50% an access key, 5% an inline policy."""
    _, ids = seed_organization(endpoint_url, [f"dexo-iam-bench-{i:02d}" for i in range(1, accounts + 1)])
    config = Config(retries={"mode": "standard", "max_attempts": 8}, max_pool_connections=workers * 2)
    session = boto3.Session(region_name="us-east-1")
    clients = {}
    for account_id in ids:
        creds = member_session(endpoint_url, account_id).get_credentials().get_frozen_credentials()
        clients[account_id] = session.client(
            "iam",
            endpoint_url=endpoint_url,
            config=config,
            aws_access_key_id=creds.access_key,
            aws_secret_access_key=creds.secret_key,
            aws_session_token=creds.token,
        )
    requests = 0
    for iam in clients.values():
        iam.create_group(GroupName="admins")
        iam.attach_group_policy(GroupName="admins", PolicyArn=ADMIN)
        developer = iam.create_policy(PolicyName="developer", PolicyDocument=_doc(["logs:Get*", "s3:GetObject"]))
        iam.create_group(GroupName="developers")
        iam.attach_group_policy(GroupName="developers", PolicyArn=developer["Policy"]["Arn"])
        iam.update_account_password_policy(MinimumPasswordLength=14, RequireSymbols=True)
        requests += 6

    def user(job: tuple[str, int]) -> int:
        account_id, i = job
        iam = clients[account_id]
        name = f"user-{i:05d}"
        iam.create_user(UserName=name)
        admin = i % 10 == 0 or i % 100 == 5  # i % 100 == 5: a console password without MFA
        iam.add_user_to_group(GroupName="admins" if admin else "developers", UserName=name)
        n = 2
        if i % 10 < 6:
            iam.create_login_profile(UserName=name, Password=PASSWORD)
            n += 1
            if i % 10 < 4:  # 4 in 6 of the console users (i % 10 == 0, an admin, included)
                serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]["SerialNumber"]
                iam.enable_mfa_device(
                    UserName=name, SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
                )
                n += 2
        if i % 2:
            iam.create_access_key(UserName=name)
            n += 1
        if i % 20 == 7:
            iam.put_user_policy(UserName=name, PolicyName="direct", PolicyDocument=_doc("sqs:*"))
            n += 1
        return n

    jobs = [(account_id, i) for account_id in ids for i in range(per_account)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        requests += sum(pool.map(user, jobs))
    return ids, requests


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--latency-ms", type=float, default=50)
    ap.add_argument("--accounts", type=int, default=5)
    ap.add_argument("--users-per-account", type=int, default=1000)
    args = ap.parse_args()
    users = args.accounts * args.users_per_account

    with MotoProcess() as moto, moto.use_env(), tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        ids, seeding_requests = seed_users(moto.endpoint_url, args.accounts, args.users_per_account)
        seeded_s = time.perf_counter() - t
        print(f"seeded {users} IAM users over {args.accounts} accounts: {seeding_requests} requests in {seeded_s:.1f}s")
        config = write_config(Path(tmp) / "bench.yaml", ids, ["us-east-1"], Path(tmp) / "out")

        moto.latency_seconds = 0  # warm-up: Prefect's ephemeral server starts outside the measurement
        t = time.perf_counter()
        run_evidence(config)
        print(f"warm-up run (no latency): {time.perf_counter() - t:.1f}s")

        moto.latency_seconds = args.latency_ms / 1000
        moto.reset_counts()
        with PeakRss() as rss:
            t = time.perf_counter()
            outcome = run_evidence(config)
            wall = time.perf_counter() - t
        counts = Counter(moto.counts())

    iam_counts = {op: n for op, n in counts.items() if op in IAM_OPERATIONS}
    report_calls = iam_counts.get("GenerateCredentialReport", 0) + iam_counts.get("GetCredentialReport", 0)
    beyond = sum(iam_counts.values()) - report_calls
    iam_scopes = [c for c in outcome.manifest["collectors"] if c["collector"] == "aws.iam"]
    iam_findings = Counter(
        (f.result.check_id, str(f.result.status)) for f in outcome.findings if f.result.check_id.startswith("aws.iam.")
    )
    print(f"\nlatency {args.latency_ms:.0f} ms per request, {users} IAM users, {args.accounts} accounts x us-east-1\n")
    collection = outcome.manifest["collection_seconds"]
    print(f"wall time (whole flow, every collector): {wall:.1f}s   collection: {collection:.1f}s")
    print(
        "aws.iam task per account: "
        + ", ".join(f"{c['duration_s']:.1f}s/{c['api_calls']} calls/{c['status']}" for c in iam_scopes)
    )
    print(f"API calls, all collectors: {sum(counts.values())}   IAM: {sum(iam_counts.values())}")
    print(
        f"IAM calls beyond the credential report: {beyond} = {beyond / users:.4f} per user (target <= 3); "
        f"report calls (Generate polls + Get): {report_calls}"
    )
    print(f"peak RSS of the tool's process: {rss.peak / 2**20:.0f} MB")
    print("\nAPI calls per operation:")
    for op, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {op:32} {n:6d}")
    print("\naws.iam results:")
    for (check_id, status), n in sorted(iam_findings.items()):
        print(f"  {check_id:32} {status:15} {n:6d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
