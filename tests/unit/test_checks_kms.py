"""aws.kms.key_rotation on recorded evidence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from controls import Status
from tests.helpers import FIXTURES, Fail, bundle_from_calls, by_resource, fixture, ref_ops, run_check, scope

CHECK = "aws.kms.key_rotation"
SCOPE = scope("aws.kms", region="ap-southeast-2")
PAGE1 = fixture("aws/kms/list_keys_page1.json")
PAGE2 = fixture("aws/kms/list_keys_page2.json")
DESCRIBED = {
    f"10000000-0000-0000-0000-00000000000{p.name[14]}": fixture(f"aws/kms/{p.name}")
    for p in sorted(Path(FIXTURES / "aws/kms").glob("describe_key_0*.json"))
}
ROTATING, NOT_ROTATING, AWS_MANAGED, RSA, HMAC, DISABLED, PENDING, IMPORTED, CLOUDHSM = sorted(DESCRIBED)
ENABLED = fixture("aws/kms/get_key_rotation_status_enabled.json")
DISABLED_ROTATION = fixture("aws/kms/get_key_rotation_status_disabled.json")
MISSING = object()


def kms_bundle(
    *,
    described: dict[str, Any] | None = None,
    rotation: dict[str, Any] | None = None,
    page1: Any = PAGE1,
    page2: Any = PAGE2,
):
    described = {**DESCRIBED, **(described or {})}
    rotation = {ROTATING: ENABLED, NOT_ROTATING: DISABLED_ROTATION, **(rotation or {})}
    calls: list[tuple[str, str, dict[str, Any], Any]] = [("kms", "ListKeys", {"Limit": 1000}, page1)]
    listed = [k["KeyId"] for k in page1.get("Keys", [])] if isinstance(page1, dict) else []
    if page2 is not MISSING:
        calls.append(("kms", "ListKeys", {"Limit": 1000, "Marker": PAGE1["NextMarker"]}, page2))
        listed += [k["KeyId"] for k in page2.get("Keys", [])] if isinstance(page2, dict) else []
    for key_id in listed:
        if described[key_id] is not MISSING:
            calls.append(("kms", "DescribeKey", {"KeyId": key_id}, described[key_id]))
        if rotation.get(key_id, MISSING) is not MISSING:
            calls.append(("kms", "GetKeyRotationStatus", {"KeyId": key_id}, rotation[key_id]))
    return bundle_from_calls(SCOPE, calls)


def test_fixture_keys_are_what_the_names_say():
    assert DESCRIBED[ROTATING]["KeyMetadata"]["Description"] == "customer_rotating"
    assert DESCRIBED[CLOUDHSM]["KeyMetadata"]["Origin"] == "AWS_CLOUDHSM"


def test_rotation_enabled_passes_and_disabled_fails():
    results = by_resource(run_check(CHECK, kms_bundle()))
    assert len(results) == 9  # every key of both ListKeys pages has a result

    ok = results[ROTATING]
    assert ok.status == Status.PASS
    assert ok.resource_type == "AWS::KMS::Key"
    assert ok.region == "ap-southeast-2"
    assert ok.observed["rotation_enabled"] is True
    assert ok.observed["rotation_period_days"] == 365
    assert ok.observed["next_rotation_date"] == "2026-01-01T00:00:00Z"
    assert ok.observed["key_manager"] == "CUSTOMER"
    assert ok.reason == "automatic rotation enabled every 365 days"
    assert ref_ops(ok) == {"kms.ListKeys", "kms.DescribeKey", "kms.GetKeyRotationStatus"}

    bad = results[NOT_ROTATING]
    assert bad.status == Status.FAIL
    assert bad.observed["rotation_enabled"] is False
    assert bad.observed["rotation_period_days"] is None
    assert bad.reason == "automatic rotation is disabled"


def test_keys_rotation_does_not_apply_to_are_not_applicable_with_reasons():
    results = by_resource(run_check(CHECK, kms_bundle()))
    expected_reasons = {
        AWS_MANAGED: "AWS managed key: AWS rotates it automatically",
        RSA: "asymmetric key (RSA_2048)",
        HMAC: "HMAC key (HMAC_256)",
        DISABLED: "key state is Disabled",
        IMPORTED: "imported key material (Origin EXTERNAL)",
        CLOUDHSM: "custom key store (Origin AWS_CLOUDHSM)",
    }
    for key_id, reason in expected_reasons.items():
        result = results[key_id]
        assert result.status == Status.NOT_APPLICABLE, key_id
        assert reason in result.reason, (key_id, result.reason)
        assert "rotation_enabled" not in result.observed
    assert results[AWS_MANAGED].observed["key_manager"] == "AWS"
    assert results[RSA].observed["key_spec"] == "RSA_2048"


def test_a_key_pending_deletion_fails_visibly_with_its_date():
    """Data still encrypted under it becomes unreadable on that date: never a silent not-applicable."""
    results = by_resource(run_check(CHECK, kms_bundle()))
    pending = results[PENDING]
    assert pending.status == Status.FAIL
    assert pending.reason.startswith("pending deletion on 2025-07-07T00:00:00Z: data still encrypted under this key")
    assert pending.observed["key_state"] == "PendingDeletion"
    assert pending.observed["deletion_date"] == "2025-07-07T00:00:00Z"
    assert pending.observed["pending_window_days"] == 7
    assert "rotation_enabled" not in pending.observed  # no rotation status is fetched for it
    replica = {"KeyMetadata": {**DESCRIBED[PENDING]["KeyMetadata"], "KeyState": "PendingReplicaDeletion"}}
    assert by_resource(run_check(CHECK, kms_bundle(described={PENDING: replica})))[PENDING].status == Status.FAIL


def test_describe_key_error_only_affects_that_key():
    results = by_resource(run_check(CHECK, kms_bundle(described={NOT_ROTATING: Fail("AccessDeniedException")})))
    err = results[NOT_ROTATING]
    assert err.status == Status.ERROR
    assert err.observed["missing_permission"] == "kms:DescribeKey"
    assert err.observed["operation"] == "kms:DescribeKey"
    assert results[ROTATING].status == Status.PASS
    assert results[RSA].status == Status.NOT_APPLICABLE


def test_rotation_status_error_only_affects_that_key():
    results = by_resource(run_check(CHECK, kms_bundle(rotation={ROTATING: Fail("AccessDeniedException")})))
    assert results[ROTATING].status == Status.ERROR
    assert results[ROTATING].observed["missing_permission"] == "kms:GetKeyRotationStatus"
    assert results[NOT_ROTATING].status == Status.FAIL


def test_eligible_key_without_recorded_rotation_status_is_an_error():
    results = by_resource(run_check(CHECK, kms_bundle(rotation={NOT_ROTATING: MISSING})))
    assert results[NOT_ROTATING].status == Status.ERROR
    assert results[NOT_ROTATING].observed["error_code"] == "NotCollected"
    assert results[NOT_ROTATING].observed["required_permission"] == "kms:GetKeyRotationStatus"


def test_listing_access_denied_is_one_error():
    results = run_check(CHECK, kms_bundle(page1=Fail("AccessDeniedException"), page2=MISSING))
    assert len(results) == 1
    (err,) = results
    assert err.status == Status.ERROR
    assert err.resource_id == "*"
    assert err.observed["missing_permission"] == "kms:ListKeys"
    assert "missing permission kms:ListKeys" in err.reason


def test_second_listing_page_failure_keeps_first_page():
    results = by_resource(run_check(CHECK, kms_bundle(page2=Fail("KMSInternalException", status=500))))
    assert set(results) == {"*", ROTATING, NOT_ROTATING, AWS_MANAGED}
    assert results["*"].status == Status.ERROR
    assert results["*"].observed["missing_permission"] is None


def test_max_rotation_period_threshold():
    long_period = {**ENABLED, "RotationPeriodInDays": 730}
    bundle = kms_bundle(rotation={ROTATING: long_period})
    assert by_resource(run_check(CHECK, bundle))[ROTATING].status == Status.PASS
    strict = by_resource(run_check(CHECK, bundle, {"max_rotation_period_days": 365}))[ROTATING]
    assert strict.status == Status.FAIL
    assert strict.reason == "rotation period 730 days exceeds the maximum of 365"
    assert strict.expected == {"rotation_enabled": True, "rotation_period_days_at_most": 365}
    shorter = by_resource(run_check(CHECK, kms_bundle(), {"max_rotation_period_days": 365}))[ROTATING]
    assert shorter.status == Status.PASS


def test_rotation_without_period_counts_as_yearly():
    legacy = {"KeyRotationEnabled": True}
    bundle = kms_bundle(rotation={ROTATING: legacy})
    assert by_resource(run_check(CHECK, bundle, {"max_rotation_period_days": 365}))[ROTATING].status == Status.PASS
    assert by_resource(run_check(CHECK, bundle, {"max_rotation_period_days": 180}))[ROTATING].status == Status.FAIL
