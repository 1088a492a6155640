"""Entering Dexo.chat's AWS organization: the organization itself, sessions and clients in its accounts.

Every estate module (estate_storage, estate_iam, estate_tls, estate_scale) acts inside the demo
organization's accounts the way the tool does, by assuming a role. What they share lives here, below
all of them, so that estate.py can compose them without any of them importing it back: the
organization and its member accounts (seed_organization), the reader role the tool assumes
(seed_iam), member_session() and Account (one account's credentials and cached clients).

moto maps assumed-role credentials to the role's account, so each account only sees its own
resources.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Sequence
from typing import Any

import boto3
from botocore.config import Config

from demo.emulators import s3control_direct_host

__all__ = [
    "ACCESS_ROLE",
    "MANAGEMENT_ACCOUNT",
    "REGIONS",
    "ROLE_NAME",
    "Account",
    "member_session",
    "seed_iam",
    "seed_organization",
]

MANAGEMENT_ACCOUNT = "123456789012"  # moto's default account: the "testing" credentials land here
ROLE_NAME = "soc2-evidence-reader"
ACCESS_ROLE = "OrganizationAccountAccessRole"
REGIONS = ("us-east-1", "eu-west-1")

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=32)


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


class Account:
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


def _trust_policy(principal: str) -> str:
    statement = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def seed_organization(endpoint_url: str, member_names: Sequence[str]) -> tuple[str, list[str]]:
    """Create (or reuse) the organization, then one member account per name: (org id, account ids)."""
    org = Account("management", MANAGEMENT_ACCOUNT, endpoint_url).client("organizations")
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


def seed_iam(acct: Account) -> None:
    """The reader role the tool assumes. organizations.create_account already made OrganizationAccountAccessRole;
    an inline policy because moto knows AWS managed policies only with MOTO_IAM_LOAD_MANAGED_POLICIES."""
    iam = acct.client("iam")
    trust = _trust_policy(f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:root")
    iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=trust, Description="SOC 2 evidence (read-only)")
    # the least-privilege policy the tool itself generates (`soc2-evidence permissions`)
    from flows.permissions import member_policy

    policy = member_policy()
    iam.put_role_policy(RoleName=ROLE_NAME, PolicyName="soc2-evidence-read", PolicyDocument=json.dumps(policy))
