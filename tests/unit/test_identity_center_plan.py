"""Where a run reads IAM Identity Center (flows.identity_center) and the aws.identity_center config key."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.aws.sso import IdentityCenterScope
from flows.accounts import AccountTarget
from flows.config import ConfigError, config_from_mapping
from flows.identity_center import identity_center_plan, not_in_scope

BASE = {"organization": "Dexo.chat", "period": {"start": "2026-01-01", "end": "2026-12-31"}}
TARGETS = [
    AccountTarget("111111111111", "management", None, ("us-east-1", "eu-west-1"), "config"),
    AccountTarget("222222222222", "prod", None, ("us-east-1",), "organizations"),
]


def config(identity_center: dict | None = None):
    aws = {"identity_center": identity_center} if identity_center else {}
    return config_from_mapping({**BASE, "aws": aws}, base_dir=Path("."))


def test_configured_identity_center_runs_once_in_its_account_and_region():
    cfg = config({"account": "111111111111", "region": "eu-west-1"})
    plan = identity_center_plan(cfg, TARGETS)
    assert plan == {"111111111111": IdentityCenterScope(("eu-west-1",), ("111111111111", "222222222222"), True)}
    assert not_in_scope(cfg, TARGETS) is None


def test_without_the_key_every_account_discovers_in_its_regions():
    plan = identity_center_plan(config(), TARGETS)
    assert plan["111111111111"] == IdentityCenterScope(("us-east-1", "eu-west-1"), ("111111111111", "222222222222"))
    assert plan["222222222222"].regions == ("us-east-1",) and not plan["222222222222"].configured


def test_an_account_out_of_scope_is_an_error_naming_the_key():
    cfg = config({"account": "999999999999", "region": "us-east-1"})
    assert identity_center_plan(cfg, TARGETS) == {}
    failure = not_in_scope(cfg, TARGETS)
    assert failure is not None and failure.error is not None
    assert failure.error.code == "NotInScope" and "aws.identity_center.account 999999999999" in failure.error.message


@pytest.mark.parametrize(
    ("identity_center", "problem"),
    [
        ({"account": "1", "region": "us-east-1"}, "aws.identity_center.account: expected a 12-digit AWS account id"),
        ({"account": "111111111111", "region": "us-east-9"}, "unknown AWS region 'us-east-9' (did you mean"),
        ({"account": "111111111111"}, "aws.identity_center.region: required key is missing"),
        ({"account": "111111111111", "region": "us-east-1", "home": 1}, "aws.identity_center.home: unknown key"),
    ],
)
def test_bad_identity_center_key_is_one_clear_problem(identity_center, problem):
    with pytest.raises(ConfigError) as exc:
        config(identity_center)
    assert problem in str(exc.value)
