"""aws.s3.default_encryption and aws.s3.public_access_block on recorded evidence."""

from __future__ import annotations

from typing import Any

from collectors.evidence import ApiError
from controls import Status
from tests.helpers import ACCOUNT, Fail, bundle_from_calls, by_resource, fixture, ref_ops, run_check, scope

ENC = "aws.s3.default_encryption"
PAB = "aws.s3.public_access_block"
PAGE1 = fixture("aws/s3/list_buckets_page1.json")
PAGE2 = fixture("aws/s3/list_buckets_page2.json")
KMS = fixture("aws/s3/get_bucket_encryption_kms.json")
AES = fixture("aws/s3/get_bucket_encryption_aes256.json")
NO_ENC = Fail("ServerSideEncryptionConfigurationNotFoundError")
PAB_ALL = fixture("aws/s3/get_public_access_block_all_on.json")
PAB_ACLS = fixture("aws/s3/get_public_access_block_acls_only.json")
NO_PAB = Fail("NoSuchPublicAccessBlockConfiguration")
ACCOUNT_ALL = fixture("aws/s3/s3control_get_public_access_block_all_on.json")
ACCOUNT_POLICY = fixture("aws/s3/s3control_get_public_access_block_policy_only.json")
PROD, EU, LEGACY = "acme-logs-prod", "acme-data-eu", "acme-legacy-assets"
SCOPE = scope("aws.s3", region="global")
MISSING = object()


def s3_bundle(
    *,
    encryption: dict[str, Any] | None = None,
    pab: dict[str, Any] | None = None,
    account: Any = ACCOUNT_ALL,
    page2: Any = PAGE2,
    location: Any = None,
):
    """The three fixture buckets over two ListBuckets pages; per-bucket answers overridable
    (MISSING: no recorded answer for that bucket)."""
    encryption = {PROD: KMS, EU: AES, LEGACY: NO_ENC, **(encryption or {})}
    pab = {PROD: PAB_ALL, EU: PAB_ACLS, LEGACY: NO_PAB, **(pab or {})}
    calls: list[tuple[str, str, dict[str, Any], Any]] = [("s3", "ListBuckets", {"MaxBuckets": 1000}, PAGE1)]
    buckets = [PROD, EU]
    if page2 is not MISSING:
        calls.append(("s3", "ListBuckets", {"MaxBuckets": 1000, "ContinuationToken": "page-2-token"}, page2))
        if not isinstance(page2, Fail):
            buckets.append(LEGACY)
            loc = location if location is not None else fixture("aws/s3/get_bucket_location_eu.json")
            calls.append(("s3", "GetBucketLocation", {"Bucket": LEGACY}, loc))
    if account is not MISSING:
        calls.append(("s3control", "GetPublicAccessBlock", {"AccountId": ACCOUNT}, account))
    for name in buckets:
        if encryption[name] is not MISSING:
            calls.append(("s3", "GetBucketEncryption", {"Bucket": name}, encryption[name]))
        if pab[name] is not MISSING:
            calls.append(("s3", "GetPublicAccessBlock", {"Bucket": name}, pab[name]))
    return bundle_from_calls(SCOPE, calls)


# --- aws.s3.default_encryption ---


def test_default_encryption_pass_and_fail_across_both_listing_pages():
    results = by_resource(run_check(ENC, s3_bundle()))
    assert set(results) == {PROD, EU, LEGACY}

    prod = results[PROD]
    assert prod.status == Status.PASS
    assert prod.region == "us-east-1"
    assert prod.observed["algorithm"] == "aws:kms"
    assert prod.observed["kms_key"].endswith("key/1111aaaa-1111-aaaa-1111-aaaa1111aaaa")
    assert prod.observed["bucket_key_enabled"] is True
    assert ref_ops(prod) == {"s3.ListBuckets", "s3.GetBucketEncryption"}

    eu = results[EU]
    assert eu.status == Status.PASS
    assert eu.region == "eu-central-1"  # BucketRegion from ListBuckets
    assert eu.observed["algorithm"] == "AES256"
    assert "AES256" in eu.reason

    legacy = results[LEGACY]  # page 2, no BucketRegion: region from GetBucketLocation "EU"
    assert legacy.status == Status.FAIL
    assert legacy.region == "eu-west-1"
    assert legacy.observed == {"algorithm": None, "kms_key": None}
    assert "no default encryption" in legacy.reason
    assert legacy.resource_type == "AWS::S3::Bucket"
    assert legacy.account == ACCOUNT


def test_default_encryption_require_kms_fails_aes256():
    results = by_resource(run_check(ENC, s3_bundle(), {"require_kms": True}))
    assert results[PROD].status == Status.PASS
    assert results[EU].status == Status.FAIL
    assert "AES256" in results[EU].reason
    assert results[EU].expected == {"algorithm_in": ["aws:kms", "aws:kms:dsse"]}


def test_default_encryption_allowed_algorithms_threshold():
    results = by_resource(run_check(ENC, s3_bundle(), {"allowed_algorithms": ["aws:kms:dsse"]}))
    assert results[PROD].status == Status.FAIL
    assert "aws:kms is not one of ['aws:kms:dsse']" in results[PROD].reason
    assert results[EU].status == Status.FAIL


def test_default_encryption_listing_access_denied_is_one_error_for_everything():
    bundle = bundle_from_calls(
        SCOPE,
        [
            ("s3", "ListBuckets", {"MaxBuckets": 1000}, Fail("AccessDenied")),
            ("s3control", "GetPublicAccessBlock", {"AccountId": ACCOUNT}, ACCOUNT_ALL),
        ],
    )
    results = run_check(ENC, bundle)
    assert len(results) == 1
    (err,) = results
    assert err.status == Status.ERROR
    assert err.resource_id == "*"
    assert err.observed["missing_permission"] == "s3:ListAllMyBuckets"
    assert err.observed["error_code"] == "AccessDenied"
    assert err.observed["operation"] == "s3:ListBuckets"
    assert "missing permission s3:ListAllMyBuckets" in err.reason
    assert ref_ops(err) == {"s3.ListBuckets"}


def test_default_encryption_second_page_failure_still_assesses_first_page():
    results = by_resource(run_check(ENC, s3_bundle(page2=Fail("InternalError"))))
    assert set(results) == {PROD, EU, "*"}
    assert results["*"].status == Status.ERROR
    assert results["*"].observed["missing_permission"] is None  # not an access problem
    assert results["*"].observed["required_permission"] == "s3:ListAllMyBuckets"
    assert results[PROD].status == Status.PASS


def test_default_encryption_per_bucket_access_denied_errors_only_that_bucket():
    results = by_resource(run_check(ENC, s3_bundle(encryption={EU: Fail("AccessDenied")})))
    assert results[EU].status == Status.ERROR
    assert results[EU].observed["missing_permission"] == "s3:GetEncryptionConfiguration"
    assert results[EU].region == "eu-central-1"
    assert results[PROD].status == Status.PASS
    assert results[LEGACY].status == Status.FAIL


def test_default_encryption_unrecorded_answer_is_an_error_not_a_drop():
    results = by_resource(run_check(ENC, s3_bundle(encryption={PROD: MISSING})))
    assert results[PROD].status == Status.ERROR
    assert results[PROD].observed["error_code"] == "NotCollected"
    assert results[PROD].observed["required_permission"] == "s3:GetEncryptionConfiguration"


def test_default_encryption_location_constraint_null_is_us_east_1():
    results = by_resource(run_check(ENC, s3_bundle(location={"LocationConstraint": None})))
    assert results[LEGACY].region == "us-east-1"


# --- aws.s3.public_access_block ---

ACCOUNT_TYPE = "AWS::S3::AccountPublicAccessBlock"


def test_public_access_block_account_on_covers_every_bucket():
    results = by_resource(run_check(PAB, s3_bundle()))
    assert set(results) == {ACCOUNT, PROD, EU, LEGACY}
    account = results[ACCOUNT]
    assert account.status == Status.PASS
    assert account.resource_type == ACCOUNT_TYPE
    assert ref_ops(account) == {"s3control.GetPublicAccessBlock"}
    for name in (PROD, EU, LEGACY):
        assert results[name].status == Status.PASS, name
        assert results[name].resource_type == "AWS::S3::Bucket"
    assert results[LEGACY].observed["bucket"] == dict.fromkeys(
        ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), False
    )
    assert all(results[LEGACY].observed["effective"].values())
    assert ref_ops(results[EU]) == {"s3.ListBuckets", "s3.GetPublicAccessBlock", "s3control.GetPublicAccessBlock"}


def test_public_access_block_partial_account_combines_with_bucket_settings():
    results = by_resource(run_check(PAB, s3_bundle(account=ACCOUNT_POLICY)))
    account = results[ACCOUNT]
    assert account.status == Status.FAIL
    assert account.reason == "account level off: BlockPublicAcls, IgnorePublicAcls"
    assert results[PROD].status == Status.PASS  # bucket alone blocks everything
    assert results[EU].status == Status.PASS  # bucket ACL settings + account policy settings
    assert all(results[EU].observed["effective"].values())
    legacy = results[LEGACY]  # no bucket config, account only blocks policies
    assert legacy.status == Status.FAIL
    assert legacy.reason == "not blocked: BlockPublicAcls, IgnorePublicAcls"
    assert legacy.observed["effective"]["BlockPublicPolicy"] is True


def test_public_access_block_account_not_configured_fails_account_and_open_buckets():
    results = by_resource(run_check(PAB, s3_bundle(account=NO_PAB)))
    assert results[ACCOUNT].status == Status.FAIL
    assert not any(results[ACCOUNT].observed.values())
    assert results[PROD].status == Status.PASS
    assert results[EU].status == Status.FAIL
    assert results[EU].reason == "not blocked: BlockPublicPolicy, RestrictPublicBuckets"
    assert results[LEGACY].status == Status.FAIL


def test_public_access_block_account_access_denied():
    results = by_resource(run_check(PAB, s3_bundle(account=Fail("AccessDenied"))))
    account = results[ACCOUNT]
    assert account.status == Status.ERROR
    assert account.resource_type == ACCOUNT_TYPE
    assert account.observed["missing_permission"] == "s3:GetAccountPublicAccessBlock"
    assert results[PROD].status == Status.PASS  # fully blocked at bucket level: account irrelevant
    for name in (EU, LEGACY):  # depends on the unknown account setting
        assert results[name].status == Status.ERROR, name
        assert results[name].observed["operation"] == "s3control:GetPublicAccessBlock"


def test_public_access_block_bucket_access_denied_errors_only_that_bucket():
    results = by_resource(run_check(PAB, s3_bundle(pab={EU: Fail("AccessDenied")})))
    assert results[EU].status == Status.ERROR
    assert results[EU].observed["missing_permission"] == "s3:GetBucketPublicAccessBlock"
    assert results[PROD].status == Status.PASS
    assert results[LEGACY].status == Status.PASS


def test_public_access_block_listing_denied_still_reports_account():
    bundle = bundle_from_calls(
        SCOPE,
        [
            ("s3", "ListBuckets", {"MaxBuckets": 1000}, Fail("AccessDenied")),
            ("s3control", "GetPublicAccessBlock", {"AccountId": ACCOUNT}, ACCOUNT_ALL),
        ],
    )
    results = by_resource(run_check(PAB, bundle))
    assert set(results) == {ACCOUNT, "*"}
    assert results[ACCOUNT].status == Status.PASS
    assert results["*"].status == Status.ERROR
    assert results["*"].observed["missing_permission"] == "s3:ListAllMyBuckets"


def test_public_access_block_unrecorded_account_answer_is_an_error():
    results = by_resource(run_check(PAB, s3_bundle(account=MISSING)))
    assert results[ACCOUNT].status == Status.ERROR
    assert results[ACCOUNT].observed["error_code"] == "NotCollected"
    assert results[PROD].status == Status.PASS
    for name in (EU, LEGACY):
        assert results[name].status == Status.ERROR, name
        assert results[name].observed["required_permission"] == "s3:GetAccountPublicAccessBlock"


def test_public_access_block_error_recorded_as_api_error_names_permission():
    bundle = s3_bundle(pab={PROD: ApiError("AccessDenied", "denied")})
    results = by_resource(run_check(PAB, bundle))
    assert results[PROD].observed["missing_permission"] == "s3:GetBucketPublicAccessBlock"


# --- a bucket whose region cannot be read (issue 12, defect 6) ---


def test_failed_get_bucket_location_is_an_error_naming_the_permission_in_every_bucket_check():
    bundle = s3_bundle(location=Fail("AccessDenied"))
    for check_id in (ENC, PAB, "aws.s3.secure_transport"):
        legacy = by_resource(run_check(check_id, bundle))[LEGACY]
        assert legacy.status == Status.ERROR, check_id
        assert legacy.observed["operation"] == "s3:GetBucketLocation"
        assert legacy.observed["missing_permission"] == "s3:GetBucketLocation"
        assert ref_ops(legacy) == {"s3.ListBuckets", "s3.GetBucketLocation"}


def test_a_bucket_without_region_or_location_answer_is_not_collected():
    bundle = s3_bundle()
    bundle.calls[("s3", "GetBucketLocation")] = []
    legacy = by_resource(run_check(ENC, bundle))[LEGACY]
    assert legacy.status == Status.ERROR
    assert legacy.observed["error_code"] == "NotCollected"
