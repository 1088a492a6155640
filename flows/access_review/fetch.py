"""The fetch of an access review: the accounts and projects in scope, and their recorded answers.

AWS accounts: the config's accounts + AWS Organizations discovery, each entered through its role as
in an evidence run (flows.accounts.identify, called by the issue step); per account the aws.iam
collector's own fetch (collectors.aws.iam.fetch through an AwsFetchContext), plus one paginated
GetAccountAuthorizationDetails (Filter Role) for the roles; IAM Identity Center where
flows.identity_center plans it (the aws.sso collector's own fetch). GCP projects (cfg.gcp.projects): per
project the gcp.gcs collector's own fetch (collectors.gcp.gcs.fetch through a GcpFetchContext:
storage:ListBuckets pages, then storage:GetBucketIamPolicy per bucket) and the gcp.iam one (the project
IAM policy, the policies it inherits, service-account keys).

Separate from the population modules, which only read what is recorded here: they are tested on
recorded evidence without any cloud.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from collectors.aws import iam, sso
from collectors.aws.base import AssumeRoleError, AwsFetchContext, AwsTuning, classify_error, session_for
from collectors.evidence import ApiCall, Recorder, Scope
from flows.access_review.context import AccessReviewError, AccountEvidence, IdentityCenterEvidence, ProjectEvidence
from flows.accounts import AccountTarget, discover_accounts
from flows.config import AppConfig
from flows.identity_center import COLLECTOR as SSO_COLLECTOR
from flows.identity_center import identity_center_plan, not_in_scope

if TYPE_CHECKING:
    from collectors.gcp.base import GcpTuning

ROLE_COLLECTOR = "access_review.roles"
ROLE_FILTER = ["Role"]
GCS_COLLECTOR = "gcp.gcs"
IAM_COLLECTOR = "gcp.iam"


def _targets(cfg: AppConfig, tuning: AwsTuning) -> tuple[list[AccountTarget], frozenset[str] | None, Recorder | None]:
    """The accounts in scope (as an evidence run resolves them) and the organization's account ids."""
    targets = [AccountTarget(a.id, a.name or a.id, a.role_arn, tuple(a.regions), "config") for a in cfg.aws.accounts]
    org = cfg.aws.organization
    if not org.discover:
        return targets, None, None
    found = discover_accounts(org.role_name, tuple(org.exclude), tuple(cfg.aws.regions or ()), tuning)
    if found.failure is not None and found.failure.error is not None:
        err = found.failure.error
        raise AccessReviewError(f"AWS Organizations discovery failed: {err.code}: {err.message}")
    known = {t.id for t in targets}
    targets = [t for t in targets if t.id not in set(org.exclude)]
    targets += [t for t in found.targets if t.id not in known]
    members = {t.id for t in found.targets} | set(found.excluded) | set(found.inactive)
    return targets, frozenset(members | known), found.recorder


def fetch_account(target: AccountTarget, tuning: AwsTuning) -> AccountEvidence:
    """The aws.iam collector's fetch in the account, plus the roles listing (Filter Role)."""
    session = session_for(target.role_arn, tuning)
    rec = Recorder(Scope("aws", target.id, "global", "aws.iam"), iam.OPERATIONS, classify_error)
    iam.fetch(AwsFetchContext(session, target.id, "global", rec, tuning))
    roles = Recorder(Scope("aws", target.id, "global", ROLE_COLLECTOR), iam.OPERATIONS, classify_error)
    client = session.client("iam", region_name="us-east-1", config=tuning.botocore_config())
    iam._pages(
        roles,
        "GetAccountAuthorizationDetails",
        client.get_account_authorization_details,
        Filter=ROLE_FILTER,
        MaxItems=iam.PAGE_SIZE,
    )
    return AccountEvidence(target.id, target.name, rec.bundle, roles.bundle)


def fetch_identity_center(
    cfg: AppConfig, targets: list[AccountTarget], tuning: AwsTuning
) -> list[IdentityCenterEvidence]:
    """The aws.sso collector's own fetch where flows.identity_center plans it (the configured account and
    region, or discovery in every account); aws.identity_center out of scope is a recorded failure."""
    out = []
    bad = not_in_scope(cfg, targets)
    if bad is not None and cfg.aws.identity_center is not None:
        out.append(IdentityCenterEvidence(cfg.aws.identity_center.account, None, bad))
    roles = {t.id: t.role_arn for t in targets}
    for account, plan in sorted(identity_center_plan(cfg, targets).items()):
        rec = Recorder(Scope("aws", account, "global", SSO_COLLECTOR), sso.OPERATIONS, classify_error)
        try:
            session = session_for(roles[account], tuning)
        except AssumeRoleError as exc:
            call = ApiCall("sts", "AssumeRole", {"RoleArn": roles[account]}, "", None, exc.error)
            out.append(IdentityCenterEvidence(account, None, call))
            continue
        ctx = AwsFetchContext(session, account, "global", rec, tuning)
        ctx.identity_center = plan
        sso.fetch(ctx)
        out.append(IdentityCenterEvidence(account, rec.bundle))
    return out


def fetch_project(project: str, tuning: GcpTuning | None = None) -> ProjectEvidence:
    """The gcp.gcs and gcp.iam collectors' fetches in the project (Application Default Credentials, or
    STORAGE_EMULATOR_HOST / CLOUDSDK_API_ENDPOINT_OVERRIDES_* pointing at emulators)."""
    from collectors.gcp import gcs
    from collectors.gcp import iam as gcp_iam
    from collectors.gcp.base import GLOBAL_REGION, GcpFetchContext
    from collectors.gcp.base import classify_error as classify_gcp_error

    rec = Recorder(Scope("gcp", project, GLOBAL_REGION, GCS_COLLECTOR), gcs.OPERATIONS, classify_gcp_error)
    ctx = GcpFetchContext(project, rec, tuning)
    gcs.fetch(ctx)
    iam_rec = Recorder(Scope("gcp", project, GLOBAL_REGION, IAM_COLLECTOR), gcp_iam.OPERATIONS, classify_gcp_error)
    gcp_iam.fetch(GcpFetchContext(project, iam_rec, tuning))
    return ProjectEvidence(project, rec.bundle, iam_rec.bundle)
