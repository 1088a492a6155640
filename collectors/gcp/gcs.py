"""Cloud Storage: encryption, public access, uniform access, retention, versioning, per bucket.

API cost per project: `storage:ListBuckets` once per page of up to 1,000
buckets, then one `storage:GetBucketIamPolicy` per bucket. No per-bucket GET:
buckets.list with projection=noAcl already returns the full bucket resource
except owner/acl/defaultObjectAcl (location, iamConfiguration, encryption,
lifecycle, versioning, labels, retentionPolicy, softDeletePolicy), with
storage.buckets.list alone. projection=full would add the legacy ACLs but then
the *listing* also needs storage.buckets.getIamPolicy, so one missing permission
would blank every check instead of only `gcp.gcs.public_iam`; bucket-level ACL
grants show up in the IAM policy anyway (as legacy roles).

Transport: the Cloud Storage JSON API is served over HTTPS only. The fetch
records that as evidence (`storage:ApiTransport`: the endpoint and scheme this
run actually used, e.g. http against a local emulator) for CC6.7; it is not a
check and cannot fail.

The lifecycle checks (gcp.gcs.retention, gcp.gcs.versioning) are in gcs_lifecycle.py.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote

from collectors.evidence import ApiCall, ApiError, EvidenceBundle, listing_error
from collectors.gcp.base import GLOBAL_REGION, endpoint_scheme
from collectors.registry import CheckContext, CollectorSpec, FetchContext, check, register_collector
from controls import CheckResult, Severity

SERVICE = "storage"
OPERATIONS = {
    "storage:ListBuckets": "storage.buckets.list",
    "storage:GetBucketIamPolicy": "storage.buckets.getIamPolicy",
}
LIST_PERMISSION = OPERATIONS["storage:ListBuckets"]
IAM_PERMISSION = OPERATIONS["storage:GetBucketIamPolicy"]
RESOURCE_TYPE = "GCP::Storage::Bucket"
PAGE_SIZE = 1000  # the API's maximum page
IAM_POLICY_VERSION = 3  # conditional bindings are returned as they are
PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
HTTPS_NOTE = (
    "The Cloud Storage JSON API (storage.googleapis.com) accepts HTTPS only; "
    "the scheme above is the one this collection actually used."
)
EMULATOR_NOTE = (
    "Collected from a non-Google endpoint (STORAGE_EMULATOR_HOST or api_endpoint override, "
    "e.g. a local emulator): its scheme says nothing about Cloud Storage's transport."
)


def _list_buckets(ctx: Any, **query: Any) -> Any:
    return ctx.get("/b", query)


def fetch(ctx: FetchContext) -> None:
    rec = ctx.recorder
    project = ctx.account
    pages = rec.paginate(
        SERVICE,
        "ListBuckets",
        lambda **q: _list_buckets(ctx, **q),
        "pageToken",
        "nextPageToken",
        project=project,
        projection="noAcl",
        maxResults=PAGE_SIZE,
    )
    if not pages or not pages[0].ok:
        return  # nothing was reached: the checks report the project as not assessed
    endpoint = str(getattr(ctx, "endpoint", "https://storage.googleapis.com"))
    google = endpoint.rstrip("/").endswith("storage.googleapis.com")
    rec.record(
        SERVICE,
        "ApiTransport",
        {"endpoint": endpoint},
        response={
            "endpoint": endpoint,
            "scheme": endpoint_scheme(endpoint),
            "google_endpoint": google,
            "api": "Cloud Storage JSON API v1",
            "note": HTTPS_NOTE if google else EMULATOR_NOTE,
        },
    )
    # a later page may have failed: its buckets are unknown ("*" error), the
    # buckets already listed are still assessed
    names = [b["name"] for p in pages if p.ok for b in (p.response or {}).get("items", []) if b.get("name")]

    def iam_policy(name: str) -> None:
        path = f"/b/{quote(name, safe='')}/iam"
        rec.call(
            SERVICE,
            "GetBucketIamPolicy",
            lambda **_: ctx.get(path, {"optionsRequestedPolicyVersion": IAM_POLICY_VERSION}),
            bucket=name,
            optionsRequestedPolicyVersion=IAM_POLICY_VERSION,
        )

    ctx.map(iam_policy, list(dict.fromkeys(names)))


register_collector(
    CollectorSpec(
        id="gcp.gcs",
        provider="gcp",
        service=SERVICE,
        per_region=False,
        operations=OPERATIONS,
        fetch=fetch,
        description="Cloud Storage buckets of a project (JSON API listing) and their IAM policies",
    )
)


# ---------------------------------------------------------------- helpers for checks


def buckets(bundle: EvidenceBundle) -> list[dict[str, Any]]:
    """Every listed bucket resource, in listing order, once each."""
    seen: dict[str, dict[str, Any]] = {}
    for page in bundle.all(SERVICE, "ListBuckets"):
        for b in (page.response or {}).get("items", []) if page.ok else []:
            if b.get("name") and b["name"] not in seen:
                seen[b["name"]] = b
    return list(seen.values())


def region_of(bucket: Mapping[str, Any]) -> str:
    return str(bucket.get("location") or GLOBAL_REGION).lower()


def _listing_failed(bundle: EvidenceBundle, ctx: CheckContext) -> list[CheckResult]:
    failed = listing_error(bundle.all(SERVICE, "ListBuckets"))
    if failed is None:
        if not bundle.all(SERVICE, "ListBuckets"):  # never recorded: not assessed, not "no buckets"
            failed = ApiCall(
                SERVICE,
                "ListBuckets",
                {"project": ctx.scope.account},
                "",
                None,
                ApiError("NotCollected", "no recorded bucket listing for this project", LIST_PERMISSION),
            )
        else:
            return []
    return [ctx.error(failed, "*", evidence=bundle.ref(SERVICE, "ListBuckets"))]


def selector_matches(bucket: Mapping[str, Any], patterns: Iterable[str]) -> list[str]:
    """The patterns that select this bucket: fnmatch over the name, or
    "label:key=value" (value may be a glob; "label:key" = has the label)."""
    name = str(bucket.get("name", ""))
    labels = bucket.get("labels") or {}
    out = []
    for pattern in patterns:
        if pattern.startswith("label:"):
            key, sep, value = pattern[len("label:") :].partition("=")
            if key in labels and (not sep or fnmatch.fnmatchcase(str(labels[key]), value)):
                out.append(pattern)
        elif fnmatch.fnmatchcase(name, pattern):
            out.append(pattern)
    return out


def _listing_ev(bundle: EvidenceBundle) -> tuple[Any, ...]:
    return bundle.ref(SERVICE, "ListBuckets")


def _iam(bucket: Mapping[str, Any]) -> Mapping[str, Any]:
    return bucket.get("iamConfiguration") or {}


# ---------------------------------------------------------------- gcp.gcs.encryption


@check(
    id="gcp.gcs.encryption",
    collector="gcp.gcs",
    title="Cloud Storage buckets encrypt data at rest (CMEK where required)",
    description="Every bucket is encrypted at rest: with Google-managed AES-256 keys by default, or with a "
    "customer-managed Cloud KMS key (encryption.defaultKmsKeyName). Buckets selected by require_cmek_patterns "
    "must have a customer-managed key.",
    severity=Severity.HIGH,
    resource_type=RESOURCE_TYPE,
    permissions=[LIST_PERMISSION],
    remediation="gcloud storage buckets update gs://BUCKET "
    "--default-encryption-key=projects/PROJECT/locations/LOCATION/keyRings/RING/cryptoKeys/KEY "
    "(grant the Cloud Storage service agent roles/cloudkms.cryptoKeyEncrypterDecrypter on the key first)",
    thresholds={"require_cmek_patterns": []},
    risk="Data at rest not protected by the key management the organization committed to (AES-256 at rest).",
)
def gcs_encryption(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    yield from _listing_failed(bundle, ctx)
    patterns = list(ctx.thresholds["require_cmek_patterns"])
    for b in buckets(bundle):
        name, region = b["name"], region_of(b)
        enc = b.get("encryption") or {}
        key = enc.get("defaultKmsKeyName")
        required = selector_matches(b, patterns)
        observed = {
            "key_type": "CUSTOMER_MANAGED" if key else "GOOGLE_MANAGED",
            "kms_key": key,
            "algorithm": "AES-256",
            "cmek_required_by": required,
        }
        expected = {"key_type": "CUSTOMER_MANAGED" if required else ["GOOGLE_MANAGED", "CUSTOMER_MANAGED"]}
        kw = {"region": region, "evidence": _listing_ev(bundle), "observed": observed, "expected": expected}
        if required and not key:
            yield ctx.failed(name, reason=f"no customer-managed KMS key, required by {', '.join(required)}", **kw)
        elif key:
            yield ctx.passed(name, reason=f"encrypted at rest with customer-managed key {key}", **kw)
        else:
            yield ctx.passed(name, reason="encrypted at rest with Google-managed AES-256 keys", **kw)


# ---------------------------------------------------------------- gcp.gcs.public_access_prevention

ORG_POLICY_NOTE = (
    "inherited: the bucket follows the organization policy constraint storage.publicAccessPrevention of its "
    "project/folder/organization, which is not visible to this collector (it reads buckets only)"
)


@check(
    id="gcp.gcs.public_access_prevention",
    collector="gcp.gcs",
    title="Cloud Storage public access prevention is enforced on every bucket",
    description="iamConfiguration.publicAccessPrevention is 'enforced', so no IAM binding or ACL can make the "
    "bucket or its objects public. 'inherited' defers to an organization policy the collector cannot see: "
    "a fail unless accept_inherited is set.",
    severity=Severity.HIGH,
    resource_type=RESOURCE_TYPE,
    permissions=[LIST_PERMISSION],
    remediation="gcloud storage buckets update gs://BUCKET --public-access-prevention "
    "(or enforce the organization policy constraints/storage.publicAccessPrevention and set accept_inherited)",
    thresholds={"accept_inherited": False},
    risk="A bucket that can be made public exposes customer data.",
)
def gcs_public_access_prevention(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    yield from _listing_failed(bundle, ctx)
    accept_inherited = bool(ctx.thresholds["accept_inherited"])
    expected = {"public_access_prevention": ["enforced", "inherited"] if accept_inherited else "enforced"}
    for b in buckets(bundle):
        name, region = b["name"], region_of(b)
        value = _iam(b).get("publicAccessPrevention")
        state = "inherited" if value in (None, "inherited", "unspecified") else str(value)
        observed: dict[str, Any] = {"public_access_prevention": value}
        if state == "inherited":
            observed["inherits_from"] = ORG_POLICY_NOTE
        kw = {"region": region, "evidence": _listing_ev(bundle), "observed": observed, "expected": expected}
        if state == "enforced":
            yield ctx.passed(name, reason="public access prevention enforced on the bucket", **kw)
        elif state == "inherited" and accept_inherited:
            yield ctx.passed(
                name,
                reason=f"public access prevention {value or 'unset'} (inherited), accepted by threshold; "
                "organization policy not visible to the collector",
                **kw,
            )
        elif state == "inherited":
            yield ctx.failed(
                name,
                reason=f"public access prevention {value or 'unset'} (inherited from an organization policy "
                "not visible to the collector), not enforced on the bucket",
                **kw,
            )
        else:
            yield ctx.failed(name, reason=f"public access prevention is {value!r}", **kw)


# ---------------------------------------------------------------- gcp.gcs.uniform_access


@check(
    id="gcp.gcs.uniform_access",
    collector="gcp.gcs",
    title="Cloud Storage buckets use uniform bucket-level access",
    description="iamConfiguration.uniformBucketLevelAccess.enabled is true: access is governed by IAM only, "
    "object ACLs are disabled.",
    severity=Severity.MEDIUM,
    resource_type=RESOURCE_TYPE,
    permissions=[LIST_PERMISSION],
    remediation="gcloud storage buckets update gs://BUCKET --uniform-bucket-level-access",
    risk="Per-object ACLs escape IAM review and can grant public or cross-project access to single objects.",
)
def gcs_uniform_access(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    yield from _listing_failed(bundle, ctx)
    expected = {"uniform_bucket_level_access": True}
    for b in buckets(bundle):
        name, region = b["name"], region_of(b)
        ubla = _iam(b).get("uniformBucketLevelAccess") or _iam(b).get("bucketPolicyOnly") or {}
        enabled = bool(ubla.get("enabled"))
        observed = {"uniform_bucket_level_access": enabled, "locked_time": ubla.get("lockedTime")}
        kw = {"region": region, "evidence": _listing_ev(bundle), "observed": observed, "expected": expected}
        if enabled:
            yield ctx.passed(name, reason="uniform bucket-level access enabled", **kw)
        else:
            yield ctx.failed(name, reason="uniform bucket-level access disabled: object ACLs are in effect", **kw)


# ---------------------------------------------------------------- gcp.gcs.public_iam


def _missing_iam(ctx: CheckContext, name: str, region: str, bundle: EvidenceBundle) -> CheckResult:
    call = ApiCall(
        SERVICE,
        "GetBucketIamPolicy",
        {"bucket": name, "optionsRequestedPolicyVersion": IAM_POLICY_VERSION},
        "",
        None,
        ApiError("NotCollected", "no recorded GetBucketIamPolicy answer for this bucket", IAM_PERMISSION),
    )
    return ctx.error(call, name, region=region, evidence=_listing_ev(bundle))


@check(
    id="gcp.gcs.public_iam",
    collector="gcp.gcs",
    title="No Cloud Storage bucket IAM binding grants access to allUsers or allAuthenticatedUsers",
    description="The bucket IAM policy (version 3, conditional bindings included) has no binding whose members "
    "include allUsers or allAuthenticatedUsers.",
    severity=Severity.HIGH,
    resource_type=RESOURCE_TYPE,
    permissions=[LIST_PERMISSION, IAM_PERMISSION],
    remediation="gcloud storage buckets remove-iam-policy-binding gs://BUCKET --member=allUsers --role=ROLE "
    "(and allAuthenticatedUsers); then enforce public access prevention",
    risk="Anyone on the internet (or any Google account) can read or change the bucket's data.",
)
def gcs_public_iam(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    yield from _listing_failed(bundle, ctx)
    expected = {"members_not_in_any_binding": list(PUBLIC_MEMBERS)}
    for b in buckets(bundle):
        name, region = b["name"], region_of(b)
        call = bundle.find(SERVICE, "GetBucketIamPolicy", bucket=name, optionsRequestedPolicyVersion=IAM_POLICY_VERSION)
        ev = bundle.refs_for((SERVICE, "ListBuckets"), (SERVICE, "GetBucketIamPolicy"))
        if call is None:
            yield _missing_iam(ctx, name, region, bundle)
            continue
        if call.error:
            yield ctx.error(call, name, region=region, evidence=ev, expected=expected)
            continue
        bindings = (call.response or {}).get("bindings") or []
        public = [
            {
                "role": bnd.get("role"),
                "member": m,
                **({"condition": (bnd.get("condition") or {}).get("title")} if bnd.get("condition") else {}),
            }
            for bnd in bindings
            for m in bnd.get("members") or []
            if m in PUBLIC_MEMBERS
        ]
        pap = _iam(b).get("publicAccessPrevention")
        observed = {"public_bindings": public, "bindings": len(bindings), "public_access_prevention": pap}
        kw = {"region": region, "evidence": ev, "observed": observed, "expected": expected}
        if public:
            grants = ", ".join(f"{p['role']} to {p['member']}" for p in public)
            note = " (currently blocked by public access prevention 'enforced')" if pap == "enforced" else ""
            yield ctx.failed(name, reason=f"IAM grants {grants}{note}", **kw)
        else:
            yield ctx.passed(name, reason=f"no public member in {len(bindings)} IAM binding(s)", **kw)
