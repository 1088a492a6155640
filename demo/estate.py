"""Dexo.chat's AWS estate, seeded over HTTP into a moto server.

seed_demo_estate() builds the AWS Organization (management, prod and staging
accounts; us-east-1 and eu-west-1) with a deliberate mix of compliant and
non-compliant resources for every check: the data stores (estate_storage), IAM
identities (estate_iam), IAM Identity Center (estate_sso) and encryption in transit
(estate_tls), each seeded by its own module; this one composes them and says what the run must find.

Everything goes through boto3 against ``endpoint_url``. Member accounts are
entered the way the tool enters them, by assuming a role: moto maps the
assumed-role credentials to the role's account, so each account only sees its
own resources. moto keeps its state per process: every MotoEmulator in one
process shares it (call MotoEmulator.reset() for a clean slate).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from demo.estate_data_services import seed_data_services
from demo.estate_data_stores import seed_data_tier_estate
from demo.estate_iam import seed_iam_identities
from demo.estate_sso import seed_identity_center
from demo.estate_storage import Ledger, seed_dynamodb, seed_ebs, seed_kms, seed_rds, seed_s3
from demo.estate_tls import seed_tls_estate
from demo.seeding import MANAGEMENT_ACCOUNT, REGIONS, ROLE_NAME, Account, member_session, seed_iam, seed_organization

__all__ = ["DemoEstate", "merge_expected", "seed_demo_estate"]

ORGANIZATION = "Dexo.chat"
MEMBERS = {"prod": "dexo-prod", "staging": "dexo-staging"}  # key in DemoEstate.accounts -> AWS account name


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
    identity_center      where Identity Center is administered (account, region) and what was seeded in it
                         (instance ARN, identity store, permission set ARNs, user and group ids)
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


def seed_demo_estate(endpoint_url: str) -> DemoEstate:
    """Seed Dexo.chat's organization into a moto server at endpoint_url (~100 requests, a few seconds).
    Bucket names are global: seed once per moto state (MotoEmulator.reset() before seeding again)."""
    org_id, member_ids = seed_organization(endpoint_url, list(MEMBERS.values()))
    accounts = {"management": MANAGEMENT_ACCOUNT, **dict(zip(MEMBERS, member_ids, strict=True))}
    ledger = Ledger()
    for key, account_id in accounts.items():
        acct = Account(key, account_id, endpoint_url)
        seed_iam(acct)
        keys = seed_kms(acct, ledger)
        seed_s3(acct, ledger, keys)
        seed_ebs(acct, ledger, keys)
        seed_rds(acct, ledger, keys)
        seed_dynamodb(acct, ledger, keys)
    expected = ledger.expected()
    merge_expected(expected, seed_iam_identities(endpoint_url, accounts))
    merge_expected(expected, seed_identity_center(endpoint_url, accounts))
    merge_expected(expected, seed_tls_estate(endpoint_url, accounts))
    merge_expected(
        expected, seed_data_services(endpoint_url, accounts, functools.partial(member_session, endpoint_url))
    )
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
            merged = into.setdefault(key, {}).setdefault(check_id, [])
            merged.extend(ids)
            merged.sort()  # two parts may name the same check (aws.kms.key_rotation): keep the order sorted
    into.setdefault("hostile_text", []).extend(part.get("hostile_text", []))
    for service, ids in part.get("resources", {}).items():  # more resources of a service: counts follow
        into.setdefault("resources", {}).setdefault(service, {}).update(ids)
        into.setdefault("counts", {})[service] = len(into["resources"][service])
    for key, value in part.items():
        if key not in ("non_compliant", "non_compliant_where", "hostile_text", "resources"):
            into.setdefault(key, value)
