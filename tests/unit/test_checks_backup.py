"""aws.backup.vault_encryption on recorded evidence.

Fixtures (eu-west-1): page 1 lists dexo-cmk-vault (customer managed key, 2 encrypted
recovery points), Default (the AWS managed aws/backup key; 3 recovery points over two
pages, one an unencrypted EBS backup) and dexo-airgapped (AWS owned key, empty); page 2
lists dexo-legacy (a key that is not described; 5 recovery points whose listing fails).
"""

from __future__ import annotations

from typing import Any

from controls import Status
from tests.helpers import Fail, bundle_from_calls, by_resource, fixture, ref_ops, run_check, scope

CHECK = "aws.backup.vault_encryption"
SCOPE = scope("aws.backup", region="eu-west-1")
PAGE1 = fixture("aws/backup/list_backup_vaults_page1.json")
PAGE2 = fixture("aws/backup/list_backup_vaults_page2.json")
ARN = "arn:aws:backup:eu-west-1:123456789012:backup-vault:"
CMK, DEFAULT, AIRGAPPED, LEGACY = (ARN + n for n in ("dexo-cmk-vault", "Default", "dexo-airgapped", "dexo-legacy"))
KEY = "arn:aws:kms:eu-west-1:123456789012:key/"
CMK_KEY, AWS_KEY, LEGACY_KEY = (KEY + c * 8 + f"-{c * 4}-{c * 4}-{c * 4}-" + c * 12 for c in "123")
MISSING = object()


def rp(vault: str) -> str:
    return f"{vault}/recovery-points"


def backup_bundle(
    *,
    page1: Any = PAGE1,
    page2: Any = PAGE2,
    keys: dict[str, Any] | None = None,
    points: dict[str, list[Any]] | None = None,
):
    keys = {
        CMK_KEY: fixture("aws/backup/describe_key_customer.json"),
        AWS_KEY: fixture("aws/backup/describe_key_aws_managed.json"),
        LEGACY_KEY: MISSING,
        **(keys or {}),
    }
    points = {
        "dexo-cmk-vault": [fixture("aws/backup/list_recovery_points_cmk_vault.json")],
        "Default": [
            fixture("aws/backup/list_recovery_points_default_page1.json"),
            fixture("aws/backup/list_recovery_points_default_page2.json"),
        ],
        "dexo-legacy": [Fail("NotImplemented", "moto: not implemented", 501)],
        **(points or {}),
    }
    calls: list[tuple[str, str, dict[str, Any], Any]] = [("backup", "ListBackupVaults", {"MaxResults": 1000}, page1)]
    if page2 is not MISSING:
        calls.append(("backup", "ListBackupVaults", {"MaxResults": 1000, "NextToken": "vaults-page-2"}, page2))
    for arn, answer in keys.items():
        if answer is not MISSING:
            calls.append(("kms", "DescribeKey", {"KeyId": arn}, answer))
    for name, pages in points.items():
        token = None
        for page in pages:
            params = {"BackupVaultName": name, "MaxResults": 1000, **({"NextToken": token} if token else {})}
            calls.append(("backup", "ListRecoveryPointsByBackupVault", params, page))
            token = page.get("NextToken") if isinstance(page, dict) else None
    return bundle_from_calls(SCOPE, calls)


def test_default_thresholds_accept_any_vault_key_and_report_its_type():
    results = by_resource(run_check(CHECK, backup_bundle()))
    assert len(results) == 8  # a vault result and a recovery-points result per vault
    cmk = results[CMK]
    assert cmk.status == Status.PASS and cmk.resource_type == "AWS::Backup::BackupVault"
    assert cmk.observed["key_type"] == "CUSTOMER_MANAGED" and cmk.observed["key_type_verified"] is True
    assert cmk.reason == "vault dexo-cmk-vault encrypted with customer managed key"
    assert ref_ops(cmk) == {"backup.ListBackupVaults", "kms.DescribeKey"}
    assert results[DEFAULT].observed["key_type"] == "AWS_MANAGED"
    assert results[AIRGAPPED].observed["key_type"] == "AWS_OWNED"
    assert results[AIRGAPPED].observed["vault_type"] == "LOGICALLY_AIR_GAPPED_BACKUP_VAULT"
    legacy = results[LEGACY]  # its key was not described: assumed customer managed, and says so
    assert legacy.status == Status.PASS and legacy.observed["key_type_verified"] is False
    assert "assumed: the KMS key was not described" in legacy.reason


def test_recovery_points_pass_fail_not_applicable_and_error():
    results = by_resource(run_check(CHECK, backup_bundle()))
    ok = results[rp(CMK)]
    assert ok.status == Status.PASS and ok.resource_type == "AWS::Backup::RecoveryPoint"
    assert ok.reason == "all 2 recovery points in vault dexo-cmk-vault are encrypted"
    assert ref_ops(ok) == {"backup.ListBackupVaults", "backup.ListRecoveryPointsByBackupVault"}

    bad = results[rp(DEFAULT)]  # the unencrypted backup is on page 1 of 2: both pages are read
    assert bad.status == Status.FAIL
    assert bad.observed["recovery_points_listed"] == 3 and bad.observed["listing_complete"] is True
    assert [u["resource_arn"] for u in bad.observed["unencrypted"]] == [
        "arn:aws:ec2:eu-west-1:123456789012:volume/vol-0legacyxmpp"
    ]
    assert bad.reason.startswith("1 of 3 recovery points in vault Default are not encrypted")

    empty = results[rp(AIRGAPPED)]
    assert empty.status == Status.NOT_APPLICABLE
    assert empty.reason == "vault dexo-airgapped holds no recovery points (NumberOfRecoveryPoints 0)"

    unimplemented = results[rp(LEGACY)]  # moto: the listing is not implemented -> error, never pass
    assert unimplemented.status == Status.ERROR
    assert unimplemented.observed["operation"] == "backup:ListRecoveryPointsByBackupVault"
    assert unimplemented.observed["error_code"] == "NotImplemented"
    assert unimplemented.observed["required_permission"] == "backup:ListRecoveryPointsByBackupVault"


def test_require_customer_managed_fails_other_keys_and_errors_on_an_undescribed_key():
    results = by_resource(run_check(CHECK, backup_bundle(), {"require_customer_managed": True}))
    assert results[CMK].status == Status.PASS
    assert results[DEFAULT].status == Status.FAIL
    assert (
        "the AWS managed key" in results[DEFAULT].reason
        and "customer managed KMS key is required" in results[DEFAULT].reason
    )
    assert results[AIRGAPPED].status == Status.FAIL
    err = results[LEGACY]
    assert err.status == Status.ERROR
    assert err.observed["error_code"] == "NotCollected" and err.observed["required_permission"] == "kms:DescribeKey"


def test_describe_key_denied_is_an_error_only_when_the_verdict_depends_on_it():
    bundle = backup_bundle(keys={CMK_KEY: Fail("AccessDeniedException")})
    assert by_resource(run_check(CHECK, bundle))[CMK].status == Status.PASS
    err = by_resource(run_check(CHECK, bundle, {"require_customer_managed": True}))[CMK]
    assert err.status == Status.ERROR and err.observed["missing_permission"] == "kms:DescribeKey"


def test_a_vault_without_a_reported_key_is_the_default_aws_managed_key_not_a_customer_key():
    moto_vault = {"BackupVaultName": "plain", "BackupVaultArn": ARN + "plain", "NumberOfRecoveryPoints": 0}
    bundle = backup_bundle(page1={"BackupVaultList": [moto_vault]}, page2=MISSING, points={})
    default = by_resource(run_check(CHECK, bundle))[ARN + "plain"]
    assert default.status == Status.PASS and default.observed["key_type"] == "AWS_MANAGED"
    assert "no key ARN reported" in default.reason
    strict = by_resource(run_check(CHECK, bundle, {"require_customer_managed": True}))[ARN + "plain"]
    assert strict.status == Status.FAIL


def test_recovery_points_not_recorded_for_a_non_empty_vault_is_an_error():
    results = by_resource(run_check(CHECK, backup_bundle(points={"dexo-cmk-vault": []})))
    err = results[rp(CMK)]
    assert err.status == Status.ERROR and err.observed["error_code"] == "NotCollected"


def test_an_unencrypted_point_before_a_failed_page_is_a_fail_that_says_the_listing_is_incomplete():
    page1 = fixture("aws/backup/list_recovery_points_default_page1.json")
    results = by_resource(run_check(CHECK, backup_bundle(points={"Default": [page1, Fail("ThrottlingException")]})))
    bad = results[rp(DEFAULT)]
    assert bad.status == Status.FAIL and bad.observed["listing_complete"] is False
    assert "listing incomplete" in bad.reason
    # encrypted so far but incomplete: not a pass
    page = {"RecoveryPoints": page1["RecoveryPoints"][:1], "NextToken": "rp-page-2"}
    partial = by_resource(run_check(CHECK, backup_bundle(points={"Default": [page, Fail("ThrottlingException")]})))
    assert partial[rp(DEFAULT)].status == Status.ERROR


def test_vault_listing_denied_is_one_error():
    results = run_check(CHECK, backup_bundle(page1=Fail("AccessDeniedException"), page2=MISSING, points={}))
    assert [(r.resource_id, r.status) for r in results] == [("*", Status.ERROR)]
    assert results[0].observed["missing_permission"] == "backup:ListBackupVaults"


def test_vault_listing_never_recorded_is_an_error_not_an_empty_pass():
    results = run_check(CHECK, bundle_from_calls(SCOPE, []))
    assert [(r.resource_id, r.status) for r in results] == [("*", Status.ERROR)]
    assert results[0].observed["error_code"] == "NotCollected"
