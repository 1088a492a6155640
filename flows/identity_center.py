"""Where a run (or an access review) reads IAM Identity Center: which accounts run the aws.sso collector,
in which regions, enumerating which accounts' assignments.

- ``aws.identity_center: {account, region}`` configured: only that account, only that region. The
  account must be in scope (its role is how it is entered); when it is not, the caller reports an
  `error` naming the key (NotInScope), never a silent omission;
- not configured: discovery in every account in scope, in each of the account's regions (one
  ``sso:ListInstances`` call per account and region; the collector keeps the instance its owner sees).

Assignments are enumerated for every account in scope (the run's accounts), whatever account reads them.
Shared by flows.run and flows.access_review so both read Identity Center from the same place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from collectors.aws.base import GLOBAL_REGION
from collectors.aws.sso import IdentityCenterScope
from collectors.evidence import ApiCall, ApiError
from flows.accounts import AccountTarget
from flows.config import AppConfig

COLLECTOR = "aws.sso"


def identity_center_plan(
    cfg: AppConfig, targets: Sequence[AccountTarget], regions: Mapping[str, Sequence[str]] | None = None
) -> dict[str, IdentityCenterScope]:
    """Account id -> what its aws.sso fetch covers; accounts absent from the map do not run it.

    `regions`: each account's regions as planned for this run (flows.regions: every enabled one
    unless configured), where discovery looks for an instance; default the targets' own."""
    accounts = tuple(t.id for t in targets)
    configured = cfg.aws.identity_center
    if configured is not None:
        if configured.account not in accounts:
            return {}
        return {configured.account: IdentityCenterScope((configured.region,), accounts, True)}
    planned = regions or {}
    return {t.id: IdentityCenterScope(tuple(planned.get(t.id, t.regions) or ()), accounts, False) for t in targets}


def not_in_scope(cfg: AppConfig, targets: Sequence[AccountTarget]) -> ApiCall | None:
    """The failure to report when aws.identity_center names an account that is not in scope, else None."""
    configured = cfg.aws.identity_center
    if configured is None or configured.account in {t.id for t in targets}:
        return None
    error = ApiError(
        "NotInScope",
        f"aws.identity_center.account {configured.account} is not an account in scope: add it to aws.accounts "
        "(or the organization discovery) so its role can be assumed",
        "sso:ListInstances",
    )
    return ApiCall("sso-admin", "ListInstances", {"Region": configured.region}, "", None, error)


__all__ = ["COLLECTOR", "GLOBAL_REGION", "identity_center_plan", "not_in_scope"]
