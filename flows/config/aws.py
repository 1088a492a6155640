"""The ``aws:`` section: regions, accounts (with their roles) and Organizations discovery.

An account that names no regions is given ``aws.regions`` here, while loading,
so everything downstream reads one resolved list per account.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import StrictBool, ValidationInfo, field_validator, model_validator

from flows.config.errors import _describe, _Problems
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
)

DEFAULT_REGIONS: tuple[str, ...] = ("us-east-1",)
DEFAULT_ORG_ROLE = "soc2-evidence-reader"


class AwsAccount(_Section):
    id: AccountId
    name: NonEmptyStr | None = None
    role_arn: str | None = None
    # Resolved at load: an account that gives no regions gets aws.regions.
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


class AwsConfig(_Section):
    regions: tuple[Region, ...] = DEFAULT_REGIONS
    accounts: tuple[AwsAccount, ...] = ()
    organization: OrgDiscovery = OrgDiscovery()
    retry_mode: Literal["standard", "adaptive"] = "standard"
    max_attempts: Count = 5

    @field_validator("regions")
    @classmethod
    def _known_regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("give at least one region")
        return _regions(value)

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
        for account in self.accounts:
            if not account.regions:
                # Frozen models: set the resolved value once, while loading.
                object.__setattr__(account, "regions", self.regions)
        return self
