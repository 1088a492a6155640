"""Access reviews (issues 4 and 5): issue a reviewer workbook, then take the completed one back as evidence.

`start`: config -> AWS accounts (the config's accounts + AWS Organizations discovery, each entered through
its role as in an evidence run: flows.accounts.identify) -> per account the aws.iam collector's own fetch
(collectors.aws.iam.fetch through an AwsFetchContext), plus one paginated GetAccountAuthorizationDetails
(Filter Role) for the roles; and GCP projects (cfg.gcp.projects) -> per project the gcp.gcs collector's own
fetch (collectors.gcp.gcs.fetch through a GcpFetchContext: storage:ListBuckets pages, then
storage:GetBucketIamPolicy per bucket) -> the population -> the workbook. Either side may be empty, not
both ("no account or project in scope"). Stored, never overwritten, under
``<output>/access-reviews/<review_id>/``:

    evidence/aws/<account>/global/iam/<Operation>.json   the raw recorded AWS answers (hashed in review.json)
    evidence/gcp/<project>/global/gcs/<Operation>.json   the raw recorded Cloud Storage answers (hashed too)
    population.json                                      the population snapshot (its SHA-256 in review.json)
    <organization>-access-review-<review_id>.xlsx        the issued workbook (its SHA-256 in review.json)
    review.json                                          review id, organization, as_of, accounts (AWS),
                                                         projects (GCP), created_at, hashes, status "issued"
                                                         (written last)

The population must be complete: an AWS account that cannot be entered, an IAM call that failed, a GCP
project whose bucket listing failed or a bucket whose IAM policy could not be read makes `start` refuse
with every problem listed (account / project, operation, error and the permission it needs); nothing is
stored.

`complete`: the workbook read back and validated against population.json (reports.access_review.validate);
on success ``completed.json`` (decisions, reviewers, dates, hashes, status "completed") and
``completed-workbook.xlsx`` are added. A second completion of the same review is refused. The revocations
are listed; a GCS bucket member's carries the command that removes it ("action"):
``gcloud storage buckets remove-iam-policy-binding gs://BUCKET --member=M --role=R``.

The AWS population: IAM users (groups, policies attached directly, inline and through groups, privileged
flag, console access, MFA, last activity, access-key ages) and IAM roles that principals outside the
organization can assume (outside the account when no organization is configured): an Allow statement of
the role's trust policy whose AWS principal is "*" or in another account.

The GCP population ("GCS bucket member" rows, provider "gcp"): one row per (project, bucket, role, member)
of every bucket's IAM policy (version 3; a conditional binding is its own row, the condition shown).
Account = the project id; Principal = the member as IAM writes it (user:..., serviceAccount:..., group:...,
domain:..., projectOwner:..., allUsers, allAuthenticatedUsers); ARN = "gs://BUCKET ROLE MEMBER" (the row's
stable identity); Email = the member's address (user, service account, group); Policies = "ROLE on
gs://BUCKET"; Trusted outside principals = the member when it is public (allUsers, allAuthenticatedUsers);
console access, MFA, last activity and key ages are "n/a" (Cloud Storage IAM has no such notion).
Privileged (GCS_PRIVILEGED_ROLES): roles/owner, roles/editor (basic roles), roles/storage.admin and
roles/storage.legacyBucketOwner (they can change who has access: the bucket's IAM policy / ACLs) and
roles/storage.objectAdmin (editor-like: overwrites or deletes every object and sets object ACLs); a custom
role (projects/.../roles/..., organizations/.../roles/...) is "undetermined" (its permissions are not
collected); every other predefined role is "no".

The population has a provider hook: POPULATION_PROVIDERS maps a provider name to a function
(AccessReviewContext) -> list[Principal] ("aws", "gcp"); a provider may add per-row details (row key ->
JSON) to ctx.details, stored in population.json (hashed) and used by `complete` (the gcloud command).

Checks on stored reviews (collectors/access_review/reviews.py) are AWS-only today:
access_review.revocations_done verifies revoked IAM users / roles per AWS account; a GCS binding marked
Revoke is not checked by it (its account is a project id): it is verified by the next review, whose
population would still show the binding.

No Prefect: plain functions, so the command starts in a second (the Google client libraries are imported
only when a GCP project is in scope).
"""

from __future__ import annotations

import io
import json
import re
import secrets
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collectors.aws import iam
from collectors.aws.base import AwsFetchContext, AwsTuning, classify_error, clear_credentials_cache, session_for
from collectors.evidence import ApiCall, ApiError, EvidenceBundle, Recorder, Scope, dumps, listing_error
from flows.accounts import AccountTarget, discover_accounts, identify
from flows.config import AppConfig
from reports.access_review import (
    ROLE,
    USER,
    Principal,
    Validation,
    WorkbookError,
    population_rows,
    read_workbook,
    validate,
    write_workbook,
)
from reports.atomic import sha256_file, write_bytes
from reports.store import evidence_path, safe_component

if TYPE_CHECKING:
    from collectors.gcp.base import GcpTuning

REVIEWS = "access-reviews"
REVIEW_FILE = "review.json"
POPULATION_FILE = "population.json"
COMPLETED_FILE = "completed.json"
COMPLETED_WORKBOOK = "completed-workbook.xlsx"
ROLE_COLLECTOR = "access_review.roles"
ROLE_FILTER = ["Role"]
ACCOUNT_IN_ARN = re.compile(r"^arn:aws[\w-]*:(?:iam|sts)::(\d{12}):")
ACCOUNT_ID = re.compile(r"^\d{12}$")
GCS_COLLECTOR = "gcp.gcs"
GCS_FOLDER = "gcs"
GCS_MEMBER = "GCS bucket member"
NOT_APPLICABLE = "n/a"
# bucket IAM roles flagged privileged (see the module doc), with why
GCS_PRIVILEGED_ROLES: dict[str, str] = {
    "roles/owner": "basic Owner role (full control)",
    "roles/editor": "basic Editor role (modifies everything)",
    "roles/storage.admin": "full control of the bucket, its objects and its IAM policy",
    "roles/storage.legacyBucketOwner": "changes the bucket's IAM policy and ACLs",
    "roles/storage.objectAdmin": "overwrites or deletes every object, sets object ACLs",
}
CUSTOM_ROLE = re.compile(r"^(?:projects|organizations)/[^/]+/roles/")


class AccessReviewError(Exception):
    """Anything the user can fix (bad workbook, unreachable account...): one message, exit 2."""


def reviews_dir(output: Path) -> Path:
    return output / REVIEWS


def reviews_root(cfg: AppConfig) -> Path | None:
    """Where the config's access reviews live: `access_reviews.directory`, else
    <output>/access-reviews for a directory output; None when output: is a
    bucket and no directory is set (reviewers edit files: they need a folder)."""
    if cfg.access_reviews.directory is not None:
        return cfg.access_reviews.directory
    if cfg.output_location.is_remote:
        return None
    return reviews_dir(Path(cfg.output).resolve())


# ---------------------------------------------------------------------------------------------- population


@dataclass
class AccountEvidence:
    """One account's recorded IAM answers (the aws.iam fetch + the roles listing)."""

    account: str
    name: str
    iam: EvidenceBundle
    roles: EvidenceBundle


@dataclass
class ProjectEvidence:
    """One GCP project's recorded Cloud Storage answers (the gcp.gcs fetch)."""

    project: str
    gcs: EvidenceBundle


@dataclass
class AccessReviewContext:
    """What a population provider gets."""

    cfg: AppConfig
    as_of: datetime
    accounts: list[AccountEvidence]
    organization_accounts: frozenset[str] | None  # None: the organization is unknown (no discovery)
    privileged_policies: tuple[str, ...] = ("AdministratorAccess", "IAMFullAccess")
    projects: list[ProjectEvidence] = field(default_factory=list)
    gcs_privileged_roles: Mapping[str, str] = field(default_factory=lambda: dict(GCS_PRIVILEGED_ROLES))
    # row key -> provider details (JSON), stored in population.json; e.g. a GCS binding for its revocation
    details: dict[str, dict[str, Any]] = field(default_factory=dict)


def _days(as_of: datetime, then: datetime) -> int:
    return max(0, int((as_of - then).total_seconds() // 86400))


def _email(tags: Any) -> str:
    for tag in tags or []:
        if str(tag.get("Key", "")).strip().casefold() in ("email", "e-mail", "mail"):
            return str(tag.get("Value", ""))
    return ""


def _policy_names(entity: Mapping[str, Any], authz: iam.Authorization, inline_key: str) -> list[str]:
    out = [f"direct: {p.get('PolicyName') or p.get('PolicyArn')}" for p in entity.get("AttachedManagedPolicies") or []]
    out += [f"inline: {p.get('PolicyName')}" for p in entity.get(inline_key) or []]
    for group_name in entity.get("GroupList") or []:
        group = authz.groups.get(group_name) or {}
        out += [f"group {group_name}: {p.get('PolicyName')}" for p in group.get("AttachedManagedPolicies") or []]
        out += [f"group {group_name} inline: {p.get('PolicyName')}" for p in group.get("GroupPolicyList") or []]
    return out


def _user_row(
    acct: AccountEvidence, user: Mapping[str, Any], authz: iam.Authorization, report: iam.CredentialReport, ctx: Any
) -> Principal:
    name = str(user.get("UserName", ""))
    priv = iam.privilege_of(user, authz, ctx.privileged_policies)
    row = report.rows.get(name)
    console = mfa = last = keys = "unknown (not in the credential report)"
    if row is not None:
        console = "yes" if iam._true(row.get("password_enabled")) else "no"
        mfa = "yes" if iam._true(row.get("mfa_active")) else "no"
        used = [
            d
            for col in ("password_last_used", "access_key_1_last_used_date", "access_key_2_last_used_date")
            if (d := iam.parse_date(row.get(col)))
        ]
        last = max(used).strftime("%Y-%m-%d") if used else "never"
        ages = []
        for n in (1, 2):
            if iam._true(row.get(f"access_key_{n}_active")):
                made = iam.parse_date(row.get(f"access_key_{n}_last_rotated")) or iam.parse_date(
                    row.get("user_creation_time")
                )
                ages.append(f"access_key_{n}: {_days(ctx.as_of, made)} d" if made else f"access_key_{n}: unknown")
        keys = "; ".join(ages) or "no active key"
    return Principal(
        account=acct.account,
        account_name=acct.name,
        principal_type=USER,
        name=name,
        arn=str(user.get("Arn", "")),
        email=_email(user.get("Tags")),
        groups=", ".join(user.get("GroupList") or []),
        policies="; ".join(_policy_names(user, authz, "UserPolicyList")),
        privileged="yes" if priv.grants else ("undetermined" if priv.unknown else "no"),
        privileged_through="; ".join(priv.grants + [f"undetermined: {u}" for u in priv.unknown]),
        console_access=console,
        mfa=mfa,
        last_activity=last,
        key_ages=keys,
    )


def outside_principals(trust: Any, account: str, organization: frozenset[str] | None) -> list[str]:
    """AWS principals of Allow statements in a trust policy that are outside the organization (or the
    account when the organization is unknown): "*" or an ARN / account id of another account."""
    doc = iam._policy_document(trust)
    if not isinstance(doc, Mapping):
        return []
    inside = organization if organization is not None else frozenset({account})
    out: list[str] = []
    for stmt in iam._as_list(doc.get("Statement")):
        if not isinstance(stmt, Mapping) or stmt.get("Effect") != "Allow":
            continue
        principal = stmt.get("Principal")
        aws = (
            ["*"] if principal == "*" else iam._as_list(principal.get("AWS")) if isinstance(principal, Mapping) else []
        )
        for p in map(str, aws):
            m = ACCOUNT_IN_ARN.match(p)
            owner = m.group(1) if m else (p if ACCOUNT_ID.match(p) else None)
            if p == "*" or (owner is not None and owner not in inside):
                out.append(p)
    return sorted(set(out))


def _role_rows(acct: AccountEvidence, authz: iam.Authorization, ctx: AccessReviewContext) -> list[Principal]:
    out = []
    for page in acct.roles.all("iam", "GetAccountAuthorizationDetails"):
        for role in (page.response or {}).get("RoleDetailList") or []:
            outside = outside_principals(role.get("AssumeRolePolicyDocument"), acct.account, ctx.organization_accounts)
            if not outside:
                continue
            as_user = {
                "AttachedManagedPolicies": role.get("AttachedManagedPolicies"),
                "UserPolicyList": role.get("RolePolicyList"),
            }
            priv = iam.privilege_of(as_user, authz, ctx.privileged_policies)
            used = iam.parse_date((role.get("RoleLastUsed") or {}).get("LastUsedDate"))
            out.append(
                Principal(
                    account=acct.account,
                    account_name=acct.name,
                    principal_type=ROLE,
                    name=str(role.get("RoleName", "")),
                    arn=str(role.get("Arn", "")),
                    email=_email(role.get("Tags")),
                    policies="; ".join(_policy_names(role, authz, "RolePolicyList")),
                    privileged="yes" if priv.grants else ("undetermined" if priv.unknown else "no"),
                    privileged_through="; ".join(priv.grants + [f"undetermined: {u}" for u in priv.unknown]),
                    console_access="n/a (role)",
                    mfa="n/a (role)",
                    last_activity=used.strftime("%Y-%m-%d") if used else "never / unknown",
                    key_ages="n/a (role)",
                    trusted_principals=", ".join(outside),
                )
            )
    return out


def aws_population(ctx: AccessReviewContext) -> list[Principal]:
    """IAM users and outside-trusted IAM roles of every account; raises AccessReviewError when the
    evidence is incomplete (a review must cover the whole population)."""
    rows: list[Principal] = []
    problems: list[str] = []
    for acct in ctx.accounts:
        authz = iam.authorization(acct.iam)
        report, failed = iam.credential_report(acct.iam, ctx.as_of)
        role_pages = acct.roles.all("iam", "GetAccountAuthorizationDetails")
        role_fail = next((p for p in role_pages if not p.ok), None)
        for call in (authz.failed, failed, role_fail):
            if call is not None and call.error is not None:
                problems.append(
                    f"account {acct.account}: iam:{call.operation} failed: {call.error.code}: {call.error.message}"
                )
        if problems:
            continue
        assert report is not None
        rows += [_user_row(acct, u, authz, report, ctx) for u in authz.users]
        rows += _role_rows(acct, authz, ctx)
    if problems:
        raise AccessReviewError("cannot build the population (nothing stored):\n" + "\n".join(problems))
    return rows


def _member_email(member: str) -> str:
    kind, sep, rest = member.partition(":")
    if sep and kind in ("user", "serviceAccount", "group") and "@" in rest:
        return rest
    return ""


def _condition_text(condition: Mapping[str, Any] | None) -> str:
    if not condition:
        return ""
    title, expression = str(condition.get("title") or ""), str(condition.get("expression") or "")
    return f"{title}: {expression}" if title else expression


def gcs_binding_id(bucket: str, role: str, member: str, condition: Mapping[str, Any] | None = None) -> str:
    """The "ARN" of a GCS bucket member row: unique per (bucket, role, member, condition)."""
    cond = _condition_text(condition)
    return f"gs://{bucket} {role} {member}" + (f" [condition {cond}]" if cond else "")


def gcs_revoke_command(binding: Mapping[str, Any]) -> str:
    """The gcloud command that removes one member from one bucket IAM binding."""
    cmd = (
        f"gcloud storage buckets remove-iam-policy-binding gs://{binding['bucket']} "
        f"--member={shlex.quote(str(binding['member']))} --role={shlex.quote(str(binding['role']))}"
    )
    condition = binding.get("condition") or {}
    if condition:
        # gcloud's alternate delimiter (gcloud topic escaping): an expression may contain commas
        parts = [f"{k}={condition[k]}" for k in ("expression", "title", "description") if condition.get(k)]
        cmd += " --condition=" + shlex.quote("^~^" + "~".join(parts))
    return cmd


def _gcs_privilege(role: str, privileged_roles: Mapping[str, str]) -> tuple[str, str]:
    if role in privileged_roles:
        return "yes", f"{role}: {privileged_roles[role]}"
    if CUSTOM_ROLE.match(role):
        return "undetermined", f"undetermined: custom role {role} (its permissions are not collected)"
    return "no", ""


def _gcs_problem(project: str, call: ApiCall, what: str = "") -> str:
    err = call.error
    assert err is not None
    permission = f" (needs {err.permission})" if err.permission else ""
    return f"project {project}: storage:{call.operation}{what} failed: {err.code}: {err.message}{permission}"


def _gcs_project_rows(pe: ProjectEvidence, ctx: AccessReviewContext) -> tuple[list[Principal], list[str]]:
    from collectors.gcp import gcs

    bundle = pe.gcs
    pages = bundle.all(gcs.SERVICE, "ListBuckets")
    failed = listing_error(pages)
    if failed is None and not pages:
        failed = ApiCall(
            gcs.SERVICE,
            "ListBuckets",
            {"project": pe.project},
            "",
            None,
            ApiError("NotCollected", "no recorded bucket listing", gcs.LIST_PERMISSION),
        )
    if failed is not None:
        return [], [_gcs_problem(pe.project, failed)]
    rows: dict[str, Principal] = {}
    problems: list[str] = []
    for b in gcs.buckets(bundle):
        name = str(b["name"])
        call = bundle.find(
            gcs.SERVICE, "GetBucketIamPolicy", bucket=name, optionsRequestedPolicyVersion=gcs.IAM_POLICY_VERSION
        )
        if call is None:
            err = ApiError("NotCollected", "no recorded IAM policy for this bucket", gcs.IAM_PERMISSION)
            call = ApiCall(gcs.SERVICE, "GetBucketIamPolicy", {"bucket": name}, "", None, err)
        if call.error is not None:
            problems.append(_gcs_problem(pe.project, call, f" for gs://{name}"))
            continue
        for binding in (call.response or {}).get("bindings") or []:
            role = str(binding.get("role", ""))
            condition = binding.get("condition") or None
            privileged, through = _gcs_privilege(role, ctx.gcs_privileged_roles)
            cond = _condition_text(condition)
            for member in map(str, binding.get("members") or []):
                arn = gcs_binding_id(name, role, member, condition)
                p = Principal(
                    account=pe.project,
                    account_name=pe.project,
                    principal_type=GCS_MEMBER,
                    name=member,
                    arn=arn,
                    email=_member_email(member),
                    policies=f"{role} on gs://{name}" + (f" (condition {cond})" if cond else ""),
                    privileged=privileged,
                    privileged_through=through,
                    console_access=NOT_APPLICABLE,
                    mfa=NOT_APPLICABLE,
                    last_activity=NOT_APPLICABLE,
                    key_ages=NOT_APPLICABLE,
                    trusted_principals=member if member in gcs.PUBLIC_MEMBERS else "",
                    provider="gcp",
                )
                rows[p.key] = p
                ctx.details[p.key] = {
                    "kind": "gcs_binding",
                    "project": pe.project,
                    "bucket": name,
                    "role": role,
                    "member": member,
                    "condition": dict(condition) if condition else None,
                }
    return list(rows.values()), problems


def gcp_population(ctx: AccessReviewContext) -> list[Principal]:
    """One row per (project, bucket, role, member) of every bucket IAM policy of every project; raises
    AccessReviewError when a listing or an IAM policy is missing (a review must cover the whole population)."""
    rows: list[Principal] = []
    problems: list[str] = []
    for pe in ctx.projects:
        got, failed = _gcs_project_rows(pe, ctx)
        rows += got
        problems += failed
    if problems:
        raise AccessReviewError("cannot build the population (nothing stored):\n" + "\n".join(problems))
    return rows


# provider hook: every population provider adds its principals
POPULATION_PROVIDERS: dict[str, Callable[[AccessReviewContext], list[Principal]]] = {
    "aws": aws_population,
    "gcp": gcp_population,
}


# ---------------------------------------------------------------------------------------------- fetch


def _targets(cfg: AppConfig, tuning: AwsTuning) -> tuple[list[AccountTarget], frozenset[str] | None, Recorder | None]:
    """The accounts in scope (as an evidence run resolves them) and the organization's account ids."""
    targets = [AccountTarget(a.id, a.name or a.id, a.role_arn, tuple(a.regions), "config") for a in cfg.aws.accounts]
    org = cfg.aws.organization
    if not org.discover:
        return targets, None, None
    found = discover_accounts(org.role_name, tuple(org.exclude), tuple(cfg.aws.regions), tuning)
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


def fetch_project(project: str, tuning: GcpTuning | None = None) -> ProjectEvidence:
    """The gcp.gcs collector's fetch in the project (Application Default Credentials, or
    STORAGE_EMULATOR_HOST as google-cloud-storage supports it)."""
    from collectors.gcp import gcs
    from collectors.gcp.base import GLOBAL_REGION, GcpFetchContext
    from collectors.gcp.base import classify_error as classify_gcp_error

    rec = Recorder(Scope("gcp", project, GLOBAL_REGION, GCS_COLLECTOR), gcs.OPERATIONS, classify_gcp_error)
    gcs.fetch(GcpFetchContext(project, rec, tuning))
    return ProjectEvidence(project, rec.bundle)


# ---------------------------------------------------------------------------------------------- storage


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_new(path: Path, data: bytes) -> str:
    """Write atomically, never over an existing file; the SHA-256 of what was written."""
    if path.exists():
        raise AccessReviewError(f"{path}: already exists (stored evidence is never overwritten)")
    return write_bytes(path, data)


def _store_bundle(review: Path, bundle: EvidenceBundle, folder: str) -> list[dict[str, Any]]:
    out = []
    s = bundle.scope
    for service, operation in bundle.operations():
        rel = evidence_path(s.provider, s.account, s.region, folder, operation)
        sha = _write_new(review / rel, dumps(bundle.file_payload(service, operation)))
        out.append({"path": rel, "sha256": sha, "calls": len(bundle.all(service, operation))})
    return out


def new_review_id(now: datetime) -> str:
    return f"ar-{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


def workbook_name(organization: str, review_id: str) -> str:
    return f"{safe_component(organization)}-access-review-{review_id}.xlsx"


@dataclass
class StartOutcome:
    review_id: str
    review_dir: Path
    workbook: Path
    principals: list[Principal]
    review: dict[str, Any]


def start(cfg: AppConfig, *, as_of: date | None = None, output: Path | None = None) -> StartOutcome:
    """Issue an access review; see the module doc."""
    created = datetime.now(UTC)
    as_of_dt = datetime.combine(as_of, datetime.min.time(), UTC) if as_of else created
    root = reviews_dir(output.resolve()) if output is not None else reviews_root(cfg)
    if root is None:
        raise AccessReviewError(
            f"output {cfg.output} is a bucket: access reviews are kept in a directory; "
            "set access_reviews.directory in the config or pass --output DIR"
        )
    tuning = AwsTuning(retry_mode=cfg.aws.retry_mode, max_attempts=cfg.aws.max_attempts)
    clear_credentials_cache()
    targets, organization, discovery = _targets(cfg, tuning)
    projects = list(cfg.gcp.projects)
    if not targets and not projects:
        raise AccessReviewError(
            "no account or project in scope (aws.accounts is empty, no organization discovery, gcp.projects is empty)"
        )
    unreachable = []
    for t in targets:
        ident = identify(t, tuning)
        if not ident.ok and ident.call.error is not None:
            unreachable.append(f"account {t.id}: {ident.call.error.code}: {ident.call.error.message}")
    if unreachable:
        raise AccessReviewError("cannot enter every account in scope (nothing stored):\n" + "\n".join(unreachable))
    evidence = [fetch_account(t, tuning) for t in targets]
    project_evidence = [fetch_project(p) for p in projects]
    privileged = tuple(
        cfg.thresholds.get("aws.iam.privileged_users", {}).get(
            "privileged_aws_managed_policies", ["AdministratorAccess", "IAMFullAccess"]
        )
    )
    ctx = AccessReviewContext(cfg, as_of_dt, evidence, organization, privileged, projects=project_evidence)
    principals: list[Principal] = []
    failures: list[str] = []
    for provider in sorted(POPULATION_PROVIDERS):
        try:
            principals += POPULATION_PROVIDERS[provider](ctx)
        except AccessReviewError as exc:  # every provider's problems in one message
            failures.append(str(exc).removeprefix("cannot build the population (nothing stored):\n"))
    if failures:
        raise AccessReviewError("cannot build the population (nothing stored):\n" + "\n".join(failures))
    principals.sort(key=lambda p: (p.account, p.principal_type, p.name, p.arn))
    keys = [p.key for p in principals]
    if len(set(keys)) != len(keys):  # a provider bug: the workbook could not be validated back
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        raise AccessReviewError("duplicate population rows (nothing stored): " + ", ".join(dupes))

    review_id = new_review_id(created)
    folder = root / review_id
    folder.mkdir(parents=True, exist_ok=False)
    files: list[dict[str, Any]] = []
    if discovery is not None:
        files += _store_bundle(folder, discovery.bundle, "organizations")
    for acct in evidence:
        files += _store_bundle(folder, acct.iam, "iam")
        files += _store_bundle(folder, acct.roles, "iam-roles")
    for pe in project_evidence:
        files += _store_bundle(folder, pe.gcs, GCS_FOLDER)
    accounts = [t.id for t in targets]
    population = {
        "schema": 1,
        "review_id": review_id,
        "organization": cfg.organization,
        "as_of": as_of_dt.date().isoformat(),
        "created_at": _iso(created),
        "accounts": accounts,
        "projects": projects,
        "rows": [p.to_json() for p in principals],
        "details": {k: ctx.details[k] for k in sorted(ctx.details)},
    }
    population_sha = _write_new(folder / POPULATION_FILE, dumps(population))
    wb_path = folder / workbook_name(cfg.organization, review_id)
    buf = io.BytesIO()
    write_workbook(
        buf,
        principals,
        review_id=review_id,
        organization=cfg.organization,
        as_of=population["as_of"],
        population_sha256=population_sha,
        reviews_dir=str(root),
    )
    wb_sha = _write_new(wb_path, buf.getvalue())
    review = {
        "schema": 1,
        "review_id": review_id,
        "organization": cfg.organization,
        "as_of": population["as_of"],
        "accounts": accounts,
        "projects": projects,
        "account_names": {t.id: t.name for t in targets},
        "organization_accounts": sorted(organization) if organization is not None else None,
        "created_at": _iso(created),
        "principals": len(principals),
        "population": {"path": POPULATION_FILE, "sha256": population_sha},
        "workbook": {"path": wb_path.name, "sha256": wb_sha},
        "evidence": files,
        "status": "issued",
    }
    _write_new(folder / REVIEW_FILE, dumps(review))
    return StartOutcome(review_id, folder, wb_path, principals, review)


# ---------------------------------------------------------------------------------------------- complete


@dataclass
class CompleteOutcome:
    review_id: str
    review_dir: Path
    completed: dict[str, Any]
    revocations: list[dict[str, str]]
    warnings: list[str] = field(default_factory=list)


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise AccessReviewError(f"{path}: unreadable ({exc})") from None


def _candidate_dirs(meta: Mapping[str, str], output: Path | None, root: Path | None = None) -> list[Path]:
    if output is not None:  # explicit: only there
        return [reviews_dir(output.resolve())]
    if root is not None:  # the config's access_reviews.directory / <output>/access-reviews
        return [root]
    dirs = []
    if meta.get("reviews_dir"):
        dirs.append(Path(meta["reviews_dir"]))
    dirs.append(reviews_dir(Path("soc2-evidence-output").resolve()))
    return dirs


def complete(
    workbook: Path,
    *,
    output: Path | None = None,
    root: Path | None = None,
    allow_self_review: bool = False,
    now: datetime | None = None,
) -> CompleteOutcome:
    """Validate a completed workbook against its issued review and store it; see the module doc.

    output: the output directory holding access-reviews/; root: the access-reviews directory itself
    (a config's); default: the folder the workbook was issued from, as recorded in the workbook,
    else ./soc2-evidence-output/access-reviews."""
    now = now or datetime.now(UTC)
    try:
        data = Path(workbook).read_bytes()
    except OSError as exc:
        raise AccessReviewError(f"{workbook}: cannot read ({exc.strerror or exc})") from None
    try:
        read = read_workbook(data, str(workbook))
    except WorkbookError as exc:
        raise AccessReviewError(str(exc)) from None
    if not re.fullmatch(r"[A-Za-z0-9._-]+", read.review_id):
        raise AccessReviewError(f"{workbook}: wrong workbook (review id {read.review_id!r} is not valid)")
    folder = next(
        (d / read.review_id for d in _candidate_dirs(read.meta, output, root) if (d / read.review_id).is_dir()), None
    )
    if folder is None or not (folder / REVIEW_FILE).is_file():
        where = ", ".join(str(d) for d in _candidate_dirs(read.meta, output, root))
        raise AccessReviewError(f"{workbook}: wrong workbook: review {read.review_id} was not issued here ({where})")
    review = _load_json(folder / REVIEW_FILE)
    if (folder / COMPLETED_FILE).exists():
        done = _load_json(folder / COMPLETED_FILE)
        raise AccessReviewError(
            f"review {read.review_id} was already completed at {done.get('completed_at')} (nothing changed)"
        )
    pop_path = folder / review["population"]["path"]
    if sha256_file(pop_path) != review["population"]["sha256"]:
        raise AccessReviewError(f"{pop_path}: the stored population does not match its SHA-256 in review.json")
    stored_population = _load_json(pop_path)
    population = population_rows(stored_population["rows"])
    details: Mapping[str, Any] = stored_population.get("details") or {}
    issued_on = datetime.fromisoformat(review["created_at"].replace("Z", "+00:00")).date()
    result: Validation = validate(
        read, population, issued_on=issued_on, today=now.date(), allow_self_review=allow_self_review
    )
    if not result.ok:
        raise AccessReviewError(
            f"{workbook}: review {read.review_id} is not complete ({len(result.problems)} problem(s), "
            "nothing stored):\n" + "\n".join(f"  {p}" for p in result.problems)
        )
    wb_sha = _write_new(folder / COMPLETED_WORKBOOK, data)
    decisions = [d.to_json() for d in result.decisions]
    revocations = [_revocation(d, details.get(d.key)) for d in result.decisions if d.decision == "Revoke"]
    dates = sorted(d.reviewed_on for d in result.decisions)
    completed = {
        "schema": 1,
        "review_id": read.review_id,
        "organization": review.get("organization"),
        "as_of": review.get("as_of"),
        "accounts": review.get("accounts"),
        "created_at": review.get("created_at"),
        "completed_at": _iso(now),
        "reviewers": sorted({d.reviewer for d in result.decisions}),
        "reviewed_from": dates[0] if dates else None,
        "reviewed_to": dates[-1] if dates else None,
        "counts": {k: sum(1 for d in result.decisions if d.decision == k) for k in ("Keep", "Revoke", "Modify")},
        "self_reviews": result.self_reviews,
        "decisions": decisions,
        "revocations": revocations,
        "hashes": {
            "review_json": sha256_file(folder / REVIEW_FILE),
            "population": review["population"]["sha256"],
            "issued_workbook": review["workbook"]["sha256"],
            "completed_workbook": wb_sha,
        },
        "completed_workbook": {"path": COMPLETED_WORKBOOK, "sha256": wb_sha},
        "status": "completed",
    }
    _write_new(folder / COMPLETED_FILE, dumps(completed))
    return CompleteOutcome(read.review_id, folder, completed, revocations, result.self_reviews)


def _revocation(d: Any, detail: Mapping[str, Any] | None) -> dict[str, str]:
    out = {"account": d.account, "principal": d.name, "arn": d.arn, "type": d.principal_type}
    if detail and detail.get("kind") == "gcs_binding":
        out["action"] = gcs_revoke_command(detail)
    return out


def print_revocations(revocations: Sequence[Mapping[str, str]]) -> list[str]:
    if not revocations:
        return ["No revocations."]
    lines = [f"Revocations to carry out ({len(revocations)}):"]
    width = max(len(r["type"]) for r in revocations)
    for r in revocations:
        lines.append(f"  {r['account']}  {r['type'].ljust(width)}  {r['principal']}  ({r['arn']})")
        if r.get("action"):
            lines.append(f"      {r['action']}")
    return lines
