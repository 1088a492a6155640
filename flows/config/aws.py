"""The ``aws:`` section: regions, accounts (with their roles), Organizations discovery and where IAM
Identity Center is administered.

An account that names no regions is given ``aws.regions`` here, while loading,
so everything downstream reads one resolved list per account. Without
``aws.regions`` (the default) that list stays empty, meaning "every region the
account has enabled", discovered per account at run time (flows.regions);
``aws.exclude_regions`` names regions left out on purpose, each with its reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import StrictBool, ValidationInfo, field_validator, model_validator

from flows.config.errors import _describe, _did_you_mean, _Problems
from flows.config.fields import (
    _ROLE_ARN_RE,
    _ROLE_NAME_RE,
    AccountId,
    Count,
    NonEmptyStr,
    Region,
    _dedupe,
    _regions,
    _Section,
    known_aws_regions,
)

DEFAULT_ORG_ROLE = "soc2-evidence-reader"


class AwsAccount(_Section):
    id: AccountId
    name: NonEmptyStr | None = None
    role_arn: str | None = None
    # Resolved at load: an account that gives no regions gets aws.regions;
    # still empty means every region enabled for the account (discovered per run).
    regions: tuple[Region, ...] = ()

    @field_validator("role_arn")
    @classmethod
    def _role_arn(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        value = value.strip()
        m = _ROLE_ARN_RE.fullmatch(value)
        if not m:
            raise ValueError(
                f"expected an IAM role ARN like 'arn:aws:iam::111111111111:role/NAME', got {_describe(value)}"
            )
        account = info.data.get("id")
        if account is not None and m.group(1) != account:
            raise ValueError(f"role ARN is in account {m.group(1)}, but the account id is {account}")
        return value

    @field_validator("regions")
    @classmethod
    def _known_regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _regions(value)

    def regions_or(self, default: Sequence[str]) -> tuple[str, ...]:
        """This account's regions, or ``default`` if it gives none."""
        return tuple(self.regions) or tuple(default)


class OrgDiscovery(_Section):
    discover: StrictBool = False
    role_name: str = DEFAULT_ORG_ROLE
    exclude: tuple[AccountId, ...] = ()

    @field_validator("role_name")
    @classmethod
    def _role_name(cls, value: str) -> str:
        value = value.strip()
        if not _ROLE_NAME_RE.fullmatch(value):
            raise ValueError(
                f"expected an IAM role name (1-64 letters, digits or +=,.@_-; not an ARN), got {_describe(value)}"
            )
        return value

    @field_validator("exclude")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _dedupe(value)


def _known_aws_region(value: str) -> str:
    """One region name checked against botocore's offline endpoint data (a did-you-mean when unknown)."""
    known = known_aws_regions()
    if value not in known:
        raise ValueError(f"unknown AWS region {value!r}{_did_you_mean(value, known)}")
    return value


class RegionExclusion(_Section):
    """A region deliberately not examined, and why (shown to the auditor on the Cover)."""

    region: Region
    reason: NonEmptyStr

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        return _known_aws_region(value)


class IdentityCenterConfig(_Section):
    """Where IAM Identity Center is administered: the management or delegated-administrator account
    (one of the accounts in scope) and its home region. Without this section, Identity Center is
    discovered (``sso:ListInstances`` in every account in scope and each of its regions)."""

    account: AccountId
    region: Region

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        return _known_aws_region(value)


class AwsConfig(_Section):
    # None: every region enabled for each account, discovered at run time
    regions: tuple[Region, ...] | None = None
    exclude_regions: tuple[RegionExclusion, ...] = ()
    accounts: tuple[AwsAccount, ...] = ()
    organization: OrgDiscovery = OrgDiscovery()
    identity_center: IdentityCenterConfig | None = None
    retry_mode: Literal["standard", "adaptive"] = "standard"
    # attempts per API call in all, the first included (1 = never retry; botocore's total_max_attempts);
    # throttling and 5xx answers are retried with backoff until then, after which the call is `error`
    max_attempts: Count = 5

    @field_validator("regions")
    @classmethod
    def _known_regions(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("give at least one region, or leave aws.regions out to examine every enabled region")
        return _regions(value)

    @field_validator("exclude_regions")
    @classmethod
    def _unique_exclusions(cls, value: tuple[RegionExclusion, ...]) -> tuple[RegionExclusion, ...]:
        seen: dict[str, int] = {}
        problems = []
        for i, exclusion in enumerate(value):
            if exclusion.region in seen:
                problems.append(
                    (
                        (i, "region"),
                        f"region {exclusion.region!r} excluded twice (already at [{seen[exclusion.region]}])",
                    )
                )
            seen.setdefault(exclusion.region, i)
        if problems:
            raise _Problems(problems)
        return value

    @field_validator("accounts")
    @classmethod
    def _unique_accounts(cls, value: tuple[AwsAccount, ...]) -> tuple[AwsAccount, ...]:
        seen: dict[str, int] = {}
        problems = []
        for i, account in enumerate(value):
            if account.id in seen:
                problems.append(
                    ((i, "id"), f"duplicate account id {account.id!r} (already at aws.accounts[{seen[account.id]}])")
                )
            else:
                seen[account.id] = i
        if problems:
            raise _Problems(problems)
        return value

    @model_validator(mode="after")
    def _resolve_account_regions(self) -> AwsConfig:
        excluded = {e.region: i for i, e in enumerate(self.exclude_regions)}
        problems = []
        lists = [("aws.regions", self.regions or ())]
        lists += [(f"aws.accounts[{n}].regions", a.regions) for n, a in enumerate(self.accounts)]
        for where, regions in lists:
            for region in regions:
                if region in excluded:
                    problems.append(
                        (
                            ("exclude_regions", excluded[region], "region"),
                            f"region {region!r} is also listed in {where}: examine it or exclude it, not both",
                        )
                    )
        if problems:
            raise _Problems(problems)
        for account in self.accounts:
            if not account.regions and self.regions:
                # Frozen models: set the resolved value once, while loading.
                object.__setattr__(account, "regions", self.regions)
        return self

    def excluded_regions(self) -> dict[str, str]:
        """Region -> the reason it is excluded."""
        return {e.region: e.reason for e in self.exclude_regions}
