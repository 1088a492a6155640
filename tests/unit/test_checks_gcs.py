"""gcp.gcs.* checks on recorded Cloud Storage JSON API answers (tests/fixtures/gcp)."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import pytest
import requests
from google.api_core import exceptions as gexc
from google.auth.exceptions import DefaultCredentialsError

from collectors.evidence import EvidenceBundle, Recorder, Scope, dumps
from collectors.gcp.base import classify_error
from collectors.registry import collectors
from controls import EvidenceRef, Status
from tests.helpers import by_resource, fixture, ref_ops, run_check

PROJECT = "acme-prod"
SCOPE = Scope("gcp", PROJECT, "global", "gcp.gcs")
PAGE1 = fixture("gcp/list_buckets_page1.json")
PAGE2 = fixture("gcp/list_buckets_page2.json")
PRIVATE = fixture("gcp/get_iam_policy_private.json")
PUBLIC = fixture("gcp/get_iam_policy_public.json")
NO_BINDINGS = fixture("gcp/get_iam_policy_no_bindings.json")
UPLOADS, EXPORTS, ASSETS = "acme-user-uploads", "acme-user-exports", "acme-public-assets"
BACKUPS, LOGS, PII = "acme-customer-backups", "acme-logs", "acme-pii-archive"
ALL = {UPLOADS, EXPORTS, ASSETS, BACKUPS, LOGS, PII}
LIST_PARAMS = {"project": PROJECT, "projection": "noAcl", "maxResults": 1000}
MISSING = object()


class Raise:
    """A recorded failure: the call raised this exception."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def forbidden(msg: str = "caller does not have permission") -> Raise:
    return Raise(gexc.Forbidden(msg))


def gcp_bundle(calls: Iterable[tuple[str, Mapping[str, Any], Any]]) -> EvidenceBundle:
    """Record (operation, params, response | Raise) through the production Recorder and classifier."""
    rec = Recorder(SCOPE, collectors()["gcp.gcs"].operations, classify_error)
    for operation, params, outcome in calls:

        def answer(outcome: Any = outcome, **_: Any) -> Any:
            if isinstance(outcome, Raise):
                raise outcome.exc
            return outcome

        rec.call("storage", operation, answer, **dict(params))
    bundle = rec.bundle
    for service, operation in bundle.operations():
        payload = dumps(bundle.file_payload(service, operation))
        path = f"evidence/gcp/{PROJECT}/global/gcs/{operation}.json"
        bundle.refs[(service, operation)] = EvidenceRef(path, hashlib.sha256(payload).hexdigest())
    return bundle


def iam_params(name: str) -> dict[str, Any]:
    return {"bucket": name, "optionsRequestedPolicyVersion": 3}


def gcs_bundle(
    *, iam: Mapping[str, Any] | None = None, page1: Any = PAGE1, page2: Any = PAGE2, edit: Any = None
) -> EvidenceBundle:
    """The six fixture buckets over two pages; IAM answers overridable (MISSING: none recorded).
    `edit(name, bucket_dict)` may change a bucket resource before it is recorded."""
    page1, page2 = copy.deepcopy(page1), copy.deepcopy(page2)
    if edit:
        for page in (page1, page2):
            if isinstance(page, dict):
                for b in page.get("items", []):
                    edit(b["name"], b)
    policies = {UPLOADS: PRIVATE, EXPORTS: PRIVATE, ASSETS: PUBLIC, BACKUPS: PRIVATE, LOGS: NO_BINDINGS, PII: PRIVATE}
    policies.update(iam or {})
    calls: list[tuple[str, Mapping[str, Any], Any]] = [("ListBuckets", LIST_PARAMS, page1)]
    names = []
    if not isinstance(page1, Raise):
        names += [b["name"] for b in page1["items"]]
        calls.append(("ListBuckets", {**LIST_PARAMS, "pageToken": page1["nextPageToken"]}, page2))
        if not isinstance(page2, Raise):
            names += [b["name"] for b in page2["items"]]
        calls.append(("ApiTransport", {"endpoint": "https://storage.googleapis.com"}, {"scheme": "https"}))
    for name in names:
        if policies[name] is not MISSING:
            calls.append(("GetBucketIamPolicy", iam_params(name), policies[name]))
    return gcp_bundle(calls)


BUNDLE = gcs_bundle()


def results(check: str, bundle: EvidenceBundle = BUNDLE, thresholds: Mapping[str, Any] | None = None):
    return by_resource(run_check(f"gcp.gcs.{check}", bundle, thresholds))


# ---------------------------------------------------------------- shared behaviour

CHECKS = ["encryption", "public_access_prevention", "uniform_access", "public_iam", "retention", "versioning"]


@pytest.mark.parametrize("check", CHECKS)
def test_every_check_gives_one_result_per_bucket_with_region_and_type(check):
    res = results(check)
    assert set(res) == ALL
    for r in res.values():
        assert r.provider == "gcp" and r.account == PROJECT
        assert r.resource_type == "GCP::Storage::Bucket"
        assert r.evidence, "a result must cite its evidence"
    assert res[UPLOADS].region == "us-east1"
    assert res[EXPORTS].region == "eu"
    assert res[PII].region == "europe-west1"


@pytest.mark.parametrize("check", CHECKS)
def test_listing_forbidden_is_one_project_error_naming_the_permission(check):
    bundle = gcs_bundle(page1=forbidden("sa does not have storage.buckets.list access to the project"))
    (err,) = run_check(f"gcp.gcs.{check}", bundle)
    assert err.status == Status.ERROR
    assert err.resource_id == "*"
    assert err.observed["error_code"] == "Forbidden"
    assert err.observed["missing_permission"] == "storage.buckets.list"
    assert "missing permission storage.buckets.list" in err.reason
    assert ref_ops(err) == {"ListBuckets"}


@pytest.mark.parametrize("check", CHECKS)
def test_project_not_found_is_an_error_never_an_empty_pass(check):
    bundle = gcs_bundle(page1=Raise(gexc.NotFound("The requested project was not found.")))
    (err,) = run_check(f"gcp.gcs.{check}", bundle)
    assert err.status == Status.ERROR and err.resource_id == "*"
    assert err.observed["error_code"] == "NotFound"
    assert err.observed["required_permission"] == "storage.buckets.list"
    assert err.observed["missing_permission"] is None


@pytest.mark.parametrize("check", CHECKS)
def test_second_page_failure_errors_the_rest_and_assesses_page_one(check):
    bundle = gcs_bundle(page2=Raise(gexc.ServiceUnavailable("backend error")))
    res = results(check, bundle)
    assert set(res) == {UPLOADS, EXPORTS, ASSETS, "*"}
    assert res["*"].status == Status.ERROR
    assert res["*"].observed["error_code"] == "ServiceUnavailable"


@pytest.mark.parametrize("check", CHECKS)
def test_no_recorded_listing_is_an_error(check):
    (err,) = run_check(f"gcp.gcs.{check}", gcp_bundle([]))
    assert err.status == Status.ERROR and err.observed["error_code"] == "NotCollected"


def test_empty_project_gives_no_results():
    bundle = gcp_bundle([("ListBuckets", LIST_PARAMS, {"kind": "storage#buckets"})])
    for check in CHECKS:
        assert run_check(f"gcp.gcs.{check}", bundle) == []


# ---------------------------------------------------------------- encryption


def test_encryption_default_passes_google_managed_and_customer_managed():
    res = results("encryption")
    assert all(r.status == Status.PASS for r in res.values())
    assert res[UPLOADS].observed["key_type"] == "CUSTOMER_MANAGED"
    assert res[UPLOADS].observed["kms_key"].endswith("/cryptoKeys/uploads")
    assert res[EXPORTS].observed == {
        "key_type": "GOOGLE_MANAGED",
        "kms_key": None,
        "algorithm": "AES-256",
        "cmek_required_by": [],
    }
    assert "Google-managed AES-256" in res[EXPORTS].reason


def test_encryption_require_cmek_by_name_glob_and_label():
    res = results("encryption", thresholds={"require_cmek_patterns": ["label:data-class=personal", "*export*"]})
    assert res[UPLOADS].status == Status.PASS  # personal, has a key
    assert res[UPLOADS].observed["cmek_required_by"] == ["label:data-class=personal"]
    assert res[PII].status == Status.FAIL  # personal, no key
    assert "label:data-class=personal" in res[PII].reason
    assert res[EXPORTS].status == Status.FAIL  # name glob
    assert res[EXPORTS].expected == {"key_type": "CUSTOMER_MANAGED"}
    assert res[LOGS].status == Status.PASS  # label data-class=internal: not selected


def test_encryption_label_selector_without_value_and_with_glob():
    res = results("encryption", thresholds={"require_cmek_patterns": ["label:team"]})
    assert res[UPLOADS].status == Status.PASS and res[UPLOADS].observed["cmek_required_by"] == ["label:team"]
    res = results("encryption", thresholds={"require_cmek_patterns": ["label:data-class=int*"]})
    assert res[LOGS].status == Status.FAIL
    assert res[PII].status == Status.PASS


# ---------------------------------------------------------------- public access prevention


def test_public_access_prevention_enforced_passes_inherited_and_unspecified_fail():
    res = results("public_access_prevention")
    assert res[UPLOADS].status == Status.PASS
    assert res[EXPORTS].status == Status.FAIL
    assert res[EXPORTS].observed["public_access_prevention"] == "inherited"
    assert "not visible to this collector" in res[EXPORTS].observed["inherits_from"]
    assert "organization policy" in res[EXPORTS].reason
    assert res[LOGS].status == Status.FAIL  # legacy "unspecified" = inherited
    assert res[LOGS].observed["public_access_prevention"] == "unspecified"


def test_public_access_prevention_missing_field_is_inherited():
    bundle = gcs_bundle(edit=lambda n, b: b["iamConfiguration"].pop("publicAccessPrevention") if n == PII else None)
    res = results("public_access_prevention", bundle)
    assert res[PII].status == Status.FAIL
    assert res[PII].observed["public_access_prevention"] is None
    assert "unset" in res[PII].reason


def test_public_access_prevention_accept_inherited_threshold():
    res = results("public_access_prevention", thresholds={"accept_inherited": True})
    assert res[EXPORTS].status == Status.PASS
    assert "accepted by threshold" in res[EXPORTS].reason
    assert res[EXPORTS].expected == {"public_access_prevention": ["enforced", "inherited"]}


def test_public_access_prevention_unknown_value_fails():
    def edit(name, b):
        if name == UPLOADS:
            b["iamConfiguration"]["publicAccessPrevention"] = "disabled"

    res = results("public_access_prevention", gcs_bundle(edit=edit), {"accept_inherited": True})
    assert res[UPLOADS].status == Status.FAIL
    assert "'disabled'" in res[UPLOADS].reason


# ---------------------------------------------------------------- uniform access


def test_uniform_access():
    res = results("uniform_access")
    assert res[UPLOADS].status == Status.PASS
    assert res[UPLOADS].observed == {"uniform_bucket_level_access": True, "locked_time": "2025-06-10T08:00:00.000Z"}
    assert res[ASSETS].status == Status.FAIL
    assert "object ACLs" in res[ASSETS].reason


def test_uniform_access_legacy_bucket_policy_only_field():
    def edit(name, b):
        if name == ASSETS:
            b["iamConfiguration"] = {"bucketPolicyOnly": {"enabled": True}}
        if name == LOGS:
            b.pop("iamConfiguration")

    res = results("uniform_access", gcs_bundle(edit=edit))
    assert res[ASSETS].status == Status.PASS
    assert res[LOGS].status == Status.FAIL


# ---------------------------------------------------------------- public IAM


def test_public_iam_reports_each_public_role_and_member():
    res = results("public_iam")
    assert res[UPLOADS].status == Status.PASS
    assert res[UPLOADS].observed["bindings"] == 3
    assert res[LOGS].status == Status.PASS  # policy without a bindings key
    assets = res[ASSETS]
    assert assets.status == Status.FAIL
    assert assets.observed["public_bindings"] == [
        {"role": "roles/storage.objectViewer", "member": "allUsers"},
        {"role": "roles/storage.legacyBucketReader", "member": "allAuthenticatedUsers", "condition": "until-2026"},
    ]
    assert "roles/storage.objectViewer to allUsers" in assets.reason
    assert ref_ops(assets) == {"ListBuckets", "GetBucketIamPolicy"}


def test_public_iam_notes_when_public_access_prevention_blocks_the_binding():
    res = results("public_iam", gcs_bundle(iam={UPLOADS: PUBLIC}))
    assert res[UPLOADS].status == Status.FAIL
    assert "blocked by public access prevention" in res[UPLOADS].reason


def test_public_iam_forbidden_on_one_bucket_errors_that_bucket_only():
    bundle = gcs_bundle(iam={EXPORTS: forbidden("no storage.buckets.getIamPolicy on acme-user-exports")})
    res = results("public_iam", bundle)
    err = res[EXPORTS]
    assert err.status == Status.ERROR
    assert err.region == "eu"
    assert err.observed["missing_permission"] == "storage.buckets.getIamPolicy"
    assert err.observed["operation"] == "storage:GetBucketIamPolicy"
    assert "missing permission storage.buckets.getIamPolicy" in err.reason
    assert res[ASSETS].status == Status.FAIL and res[UPLOADS].status == Status.PASS
    assert {r.status for n, r in res.items() if n != EXPORTS} <= {Status.PASS, Status.FAIL}
    # the other checks do not need the IAM policy: unaffected
    assert results("uniform_access", bundle)[EXPORTS].status == Status.PASS


def test_public_iam_missing_answer_is_not_collected_error():
    res = results("public_iam", gcs_bundle(iam={PII: MISSING}))
    assert res[PII].status == Status.ERROR
    assert res[PII].observed["error_code"] == "NotCollected"
    assert res[PII].observed["required_permission"] == "storage.buckets.getIamPolicy"


def test_public_iam_timeout_is_an_error_not_an_access_problem():
    bundle = gcs_bundle(iam={LOGS: Raise(gexc.RetryError("Timeout of 30.0s exceeded", requests.ReadTimeout("slow")))})
    err = results("public_iam", bundle)[LOGS]
    assert err.status == Status.ERROR
    assert err.observed["error_code"] == "Timeout"
    assert err.observed["missing_permission"] is None
    assert "ReadTimeout" in err.observed["message"]


# ---------------------------------------------------------------- retention


def test_retention_default_patterns_and_rules():
    res = results("retention")
    up = res[UPLOADS]  # versioned, live 30 + noncurrent 30
    assert up.status == Status.PASS
    assert up.observed["live_delete_days"] == 30 and up.observed["noncurrent_delete_days"] == 30
    assert up.observed["personal_data_match"] == ["*user*", "label:data-class=personal"]
    assert up.observed["soft_delete_days"] == 7
    assert "noncurrent versions after 30 days" in up.reason

    ex = res[EXPORTS]  # *user*, no lifecycle
    assert ex.status == Status.FAIL
    assert "no bucket-wide lifecycle Delete rule" in ex.reason
    assert ex.observed["delete_rules"] == []

    bk = res[BACKUPS]  # *customer*, versioned, Delete only live objects
    assert bk.status == Status.FAIL
    assert bk.observed["live_delete_days"] == 30
    assert bk.observed["noncurrent_delete_days"] is None
    assert "noncurrent versions" in bk.reason
    assert len(bk.observed["delete_rules"]) == 1  # the SetStorageClass rule is not a delete rule

    pii = res[PII]  # bucket-wide age 30 passes the rule, but a 90-day retention policy keeps objects
    assert pii.status == Status.FAIL
    assert pii.observed["live_delete_days"] == 30  # the matchesPrefix rule (7 days) does not count
    assert pii.observed["retention_policy_days"] == 90
    assert "retention policy keeps objects 90 days" in pii.reason

    for name in (ASSETS, LOGS):
        assert res[name].status == Status.NOT_APPLICABLE
        assert "personal_data_patterns" in res[name].reason


def test_retention_max_days_threshold():
    res = results("retention", thresholds={"max_days": 400})
    assert res[PII].status == Status.PASS
    res = results("retention", thresholds={"max_days": 14})
    assert res[UPLOADS].status == Status.FAIL
    assert "live objects deleted after 30 days" in res[UPLOADS].reason
    assert "noncurrent versions deleted after 30 days" in res[UPLOADS].reason


def test_retention_count_soft_delete_adds_its_days():
    res = results("retention", thresholds={"count_soft_delete": True})
    assert res[UPLOADS].status == Status.FAIL
    assert "after 37 days" in res[UPLOADS].reason
    res = results("retention", thresholds={"count_soft_delete": True, "max_days": 37})
    assert res[UPLOADS].status == Status.PASS


def test_retention_custom_patterns_select_other_buckets():
    res = results("retention", thresholds={"personal_data_patterns": ["acme-logs"]})
    assert res[LOGS].status == Status.FAIL  # age 365
    assert res[UPLOADS].status == Status.NOT_APPLICABLE


@pytest.mark.parametrize(
    ("rules", "versioned", "status"),
    [
        ([{"age": 30}], True, Status.PASS),  # age without isLive also removes noncurrent versions
        ([{"age": 30, "isLive": True}, {"age": 10, "isLive": False}], True, Status.PASS),
        ([{"age": 30, "isLive": True}, {"numNewerVersions": 1}], True, Status.FAIL),  # not time-bound
        ([{"age": 30, "isLive": True}, {"daysSinceNoncurrentTime": 45}], True, Status.FAIL),
        ([{"age": 30, "isLive": True}, {"age": 20, "daysSinceNoncurrentTime": 20, "isLive": False}], True, Status.PASS),
        ([{"age": 30, "isLive": False}], False, Status.FAIL),  # noncurrent-only rule: live objects stay
        ([{"age": 30, "matchesSuffix": [".csv"]}], False, Status.FAIL),  # narrowed
        ([{"age": "not-a-number"}], False, Status.FAIL),
        ([{"age": 0}], False, Status.PASS),
    ],
)
def test_retention_rule_forms(rules, versioned, status):
    def edit(name, b):
        if name == EXPORTS:
            b["lifecycle"] = {"rule": [{"action": {"type": "Delete"}, "condition": c} for c in rules]}
            b["versioning"] = {"enabled": versioned}

    res = results("retention", gcs_bundle(edit=edit))
    assert res[EXPORTS].status == status, res[EXPORTS].reason


# ---------------------------------------------------------------- versioning


def test_versioning_reported_and_optionally_required():
    res = results("versioning")
    assert res[UPLOADS].status == Status.PASS
    assert res[EXPORTS].status == Status.NOT_APPLICABLE
    assert res[EXPORTS].observed == {"versioning": False}
    res = results("versioning", thresholds={"require_versioning": True})
    assert res[EXPORTS].status == Status.FAIL
    assert res[BACKUPS].status == Status.PASS


# ---------------------------------------------------------------- error classification


@pytest.mark.parametrize(
    ("exc", "code", "status"),
    [
        (gexc.Forbidden("denied"), "Forbidden", 403),
        (gexc.NotFound("no such project"), "NotFound", 404),
        (gexc.TooManyRequests("slow down"), "TooManyRequests", 429),
        (gexc.ServiceUnavailable("backend"), "ServiceUnavailable", 503),
        (gexc.RetryError("Timeout of 30.0s exceeded", gexc.ServiceUnavailable("backend")), "Timeout", 503),
        (gexc.DeadlineExceeded("deadline"), "Timeout", 504),
        (requests.ConnectionError("refused"), "EndpointConnectionError", None),
        (requests.ReadTimeout("read timed out"), "Timeout", None),
        (DefaultCredentialsError("no ADC"), "NoCredentials", None),
        (ValueError("odd"), "ValueError", None),
    ],
)
def test_classify_error(exc, code, status):
    err = classify_error(exc)
    assert err.code == code
    assert err.http_status == status
    assert err.permission is None  # the Recorder adds the operation's permission


def test_collector_spec():
    spec = collectors()["gcp.gcs"]
    assert (spec.provider, spec.service, spec.per_region) == ("gcp", "storage", False)
    assert set(spec.operations.values()) == {"storage.buckets.list", "storage.buckets.getIamPolicy"}
