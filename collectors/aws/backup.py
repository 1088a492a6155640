"""AWS Backup: the encryption of every backup vault and of the recovery points it holds.

AWS Backup always encrypts a vault; what varies is the key, read like DynamoDB's
(collectors/aws/dynamodb.py): ``EncryptionKeyType`` AWS_OWNED_KMS_KEY (logically
air-gapped vaults by default), the AWS managed key ``aws/backup`` (the default of a
standard vault, "If you don't specify a key, AWS Backup uses the AWS managed key":
https://docs.aws.amazon.com/aws-backup/latest/devguide/encryption.html), or a customer
managed KMS key, told apart by one ``kms:DescribeKey`` per distinct key (KeyManager).
With ``require_customer_managed`` only customer managed keys pass; a vault whose key
could not be described is then an `error`, never a pass.

Recovery points are not always encrypted: for resource types without full AWS Backup
management (EBS, RDS, Aurora, Neptune, DocumentDB ...) a backup inherits the source's
encryption, so a backup of an unencrypted volume or database is unencrypted
(``IsEncrypted`` false). Each vault therefore gets a second result,
``<vault ARN>/recovery-points`` (type AWS::Backup::RecoveryPoint): pass when every
recovery point is encrypted, fail naming the unencrypted ones (an ``IsEncrypted`` that
is absent counts as unencrypted), not_applicable when ListBackupVaults says the vault
holds none (``NumberOfRecoveryPoints`` 0, so the listing is not called), `error` when
the listing failed or was not recorded. moto 5.2 does not implement
ListRecoveryPointsByBackupVault: against it the call fails (NotImplemented) and the
result is an error naming the operation and permission, never a pass.

API cost per region: ListBackupVaults 1 call per 1000 vaults, kms:DescribeKey 1 per
distinct vault key, ListRecoveryPointsByBackupVault 1 call per 1000 recovery points of
each non-empty vault.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from collectors.aws._gaps import listing_failure, not_collected
from collectors.evidence import ApiCall, ApiError, EvidenceBundle, listing_error
from collectors.registry import CheckContext, CollectorSpec, FetchContext, check, register_collector
from controls import CheckResult, Severity

OPERATIONS = {
    "backup:ListBackupVaults": "backup:ListBackupVaults",
    "backup:ListRecoveryPointsByBackupVault": "backup:ListRecoveryPointsByBackupVault",
    "kms:DescribeKey": "kms:DescribeKey",
}

PAGE_SIZE = 1000  # MaxResults maximum of both listings
VAULT_TYPE = "AWS::Backup::BackupVault"
RECOVERY_POINT_TYPE = "AWS::Backup::RecoveryPoint"
AWS_OWNED = "AWS_OWNED"
AWS_MANAGED = "AWS_MANAGED"
CUSTOMER_MANAGED = "CUSTOMER_MANAGED"
LABELS = {AWS_OWNED: "AWS owned", AWS_MANAGED: "AWS managed", CUSTOMER_MANAGED: "customer managed"}


def _vaults(pages: list[ApiCall]) -> list[dict[str, Any]]:
    return [v for p in pages if p.ok for v in (p.response or {}).get("BackupVaultList", [])]


def _needs_listing(vault: dict[str, Any]) -> bool:
    """List recovery points unless ListBackupVaults itself says there are none."""
    return vault.get("NumberOfRecoveryPoints") != 0


def fetch(ctx: FetchContext) -> None:
    rec = ctx.recorder
    backup = ctx.client("backup")
    pages = rec.paginate(
        "backup", "ListBackupVaults", backup.list_backup_vaults, "NextToken", "NextToken", MaxResults=PAGE_SIZE
    )
    vaults = _vaults(pages)
    keys = sorted({v["EncryptionKeyArn"] for v in vaults if v.get("EncryptionKeyArn")})
    if keys:
        kms = ctx.client("kms")
        ctx.map(lambda arn: rec.call("kms", "DescribeKey", kms.describe_key, KeyId=arn), keys)

    def recovery_points(name: str) -> None:
        rec.paginate(
            "backup",
            "ListRecoveryPointsByBackupVault",
            backup.list_recovery_points_by_backup_vault,
            "NextToken",
            "NextToken",
            BackupVaultName=name,
            MaxResults=PAGE_SIZE,
        )

    ctx.map(recovery_points, [v["BackupVaultName"] for v in vaults if _needs_listing(v)])


register_collector(
    CollectorSpec(
        id="aws.backup",
        provider="aws",
        service="backup",
        per_region=True,
        operations=OPERATIONS,
        fetch=fetch,
        description="AWS Backup vaults, their KMS keys and their recovery points, per region",
    )
)


def _key_type(vault: dict[str, Any], bundle: EvidenceBundle) -> tuple[str, bool, ApiCall | None]:
    """(key type, whether the evidence proves it, the failed DescribeKey call if any)."""
    arn = vault.get("EncryptionKeyArn")
    if vault.get("EncryptionKeyType") == "AWS_OWNED_KMS_KEY":
        return AWS_OWNED, True, None
    if not arn:  # AWS always reports the key; a vault without one is on the default aws/backup key
        return AWS_MANAGED, False, None
    if "alias/aws/backup" in arn:
        return AWS_MANAGED, True, None
    described = bundle.find("kms", "DescribeKey", KeyId=arn)
    if described is None:
        return CUSTOMER_MANAGED, False, not_collected(OPERATIONS, "kms", "DescribeKey", {"KeyId": arn}, f"key {arn}")
    if not described.ok:
        return CUSTOMER_MANAGED, False, described
    manager = ((described.response or {}).get("KeyMetadata") or {}).get("KeyManager")
    if manager in ("AWS", "CUSTOMER"):
        return (AWS_MANAGED if manager == "AWS" else CUSTOMER_MANAGED), True, None
    unknown = ApiError("NoKeyManager", f"DescribeKey of {arn} has no KeyManager", OPERATIONS["kms:DescribeKey"])
    return CUSTOMER_MANAGED, False, ApiCall("kms", "DescribeKey", {"KeyId": arn}, "", None, unknown)


def _vault_result(
    vault: dict[str, Any], bundle: EvidenceBundle, ctx: CheckContext, require_cmk: bool, expected: dict[str, Any]
) -> CheckResult:
    name, arn = vault.get("BackupVaultName", ""), vault.get("BackupVaultArn") or vault.get("BackupVaultName", "")
    ev = bundle.refs_for(("backup", "ListBackupVaults"), ("kms", "DescribeKey"))
    key_type, verified, key_error = _key_type(vault, bundle)
    observed = {
        "vault_name": name,
        "vault_type": vault.get("VaultType", "BACKUP_VAULT"),
        "encryption_key_arn": vault.get("EncryptionKeyArn"),
        "encryption_key_type": vault.get("EncryptionKeyType"),
        "key_type": key_type,
        "key_type_verified": verified,
        "number_of_recovery_points": vault.get("NumberOfRecoveryPoints"),
        "locked": vault.get("Locked"),
    }
    kw: dict[str, Any] = {"evidence": ev, "expected": expected, "resource_type": VAULT_TYPE}
    if require_cmk and key_error is not None:
        return ctx.error(key_error, arn, **kw)
    label = LABELS[key_type]
    note = ""
    if not verified:
        note = " (assumed: " + (
            "the KMS key was not described)"
            if vault.get("EncryptionKeyArn")
            else "no key ARN reported; AWS Backup's default is the AWS managed key aws/backup)"
        )
    if require_cmk and key_type != CUSTOMER_MANAGED:
        reason = f"vault {name} is encrypted with the {label} key{note}; a customer managed KMS key is required"
        return ctx.failed(arn, observed=observed, reason=reason, **kw)
    return ctx.passed(arn, observed=observed, reason=f"vault {name} encrypted with {label} key{note}", **kw)


def _recovery_points_result(
    vault: dict[str, Any], bundle: EvidenceBundle, ctx: CheckContext, expected: dict[str, Any]
) -> CheckResult:
    name, arn = vault.get("BackupVaultName", ""), vault.get("BackupVaultArn") or vault.get("BackupVaultName", "")
    rid = f"{arn}/recovery-points"
    ev = bundle.refs_for(("backup", "ListBackupVaults"), ("backup", "ListRecoveryPointsByBackupVault"))
    kw: dict[str, Any] = {"evidence": ev, "expected": expected, "resource_type": RECOVERY_POINT_TYPE}
    params = {"BackupVaultName": name, "MaxResults": PAGE_SIZE}
    pages = [
        p for p in bundle.all("backup", "ListRecoveryPointsByBackupVault") if p.params.get("BackupVaultName") == name
    ]
    if not pages and not _needs_listing(vault):
        observed = {"vault_name": name, "number_of_recovery_points": 0}
        return ctx.not_applicable(
            rid, observed=observed, reason=f"vault {name} holds no recovery points (NumberOfRecoveryPoints 0)", **kw
        )
    failed = listing_error(pages) if pages else None
    if not pages:
        failed = not_collected(OPERATIONS, "backup", "ListRecoveryPointsByBackupVault", params, f"vault {name}")
    points = [rp for p in pages if p.ok for rp in (p.response or {}).get("RecoveryPoints", [])]
    unencrypted = [
        {
            "recovery_point_arn": rp.get("RecoveryPointArn"),
            "resource_arn": rp.get("ResourceArn"),
            "resource_type": rp.get("ResourceType"),
            "created": rp.get("CreationDate"),
            "is_encrypted": rp.get("IsEncrypted"),
        }
        for rp in points
        if rp.get("IsEncrypted") is not True
    ]
    observed = {
        "vault_name": name,
        "recovery_points_listed": len(points),
        "unencrypted": unencrypted,
        "listing_complete": failed is None,
    }
    if unencrypted:  # a definite finding, even if a later page failed
        more = " (listing incomplete: more may exist)" if failed is not None else ""
        sources = ", ".join(sorted({str(u["resource_arn"] or u["recovery_point_arn"]) for u in unencrypted})[:5])
        reason = (
            f"{len(unencrypted)} of {len(points)} recovery points in vault {name} are not encrypted{more}: {sources}"
        )
        return ctx.failed(rid, observed=observed, reason=reason, **kw)
    if failed is not None:
        return ctx.error(failed, rid, **kw)
    if not points:
        return ctx.not_applicable(rid, observed=observed, reason=f"vault {name} lists no recovery points", **kw)
    return ctx.passed(
        rid, observed=observed, reason=f"all {len(points)} recovery points in vault {name} are encrypted", **kw
    )


@check(
    id="aws.backup.vault_encryption",
    collector="aws.backup",
    title="AWS Backup vaults and recovery points are encrypted",
    description="Every AWS Backup vault is encrypted with an accepted KMS key (with require_customer_managed, only "
    "a customer managed key), and every recovery point it holds is encrypted (IsEncrypted): backups of "
    "unencrypted EBS volumes or databases inherit the source's missing encryption.",
    severity=Severity.HIGH,
    resource_type=VAULT_TYPE,
    permissions=["backup:ListBackupVaults", "backup:ListRecoveryPointsByBackupVault", "kms:DescribeKey"],
    remediation="Vault key: create a new vault with --encryption-key-arn CUSTOMER_KEY_ARN (the key of a vault "
    "cannot change) and point backup plans at it. Unencrypted recovery points: encrypt the source (EBS / RDS "
    "snapshot copy with a KMS key), or copy the recovery point into an encrypted vault (aws backup "
    "start-copy-job), then delete the unencrypted one.",
    thresholds={"require_customer_managed": False},
    risk="Backups hold a full copy of customer data; an unencrypted backup or one under a key the organisation "
    "cannot control exposes that copy.",
)
def backup_vault_encryption(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    require_cmk = bool(ctx.thresholds["require_customer_managed"])
    allowed = [CUSTOMER_MANAGED] if require_cmk else [AWS_OWNED, AWS_MANAGED, CUSTOMER_MANAGED]
    expected = {"vault_key_type_in": allowed, "recovery_points_encrypted": True}
    failed = listing_failure(bundle, OPERATIONS, "backup", "ListBackupVaults", {"MaxResults": PAGE_SIZE}, "vaults")
    if failed is not None:
        yield ctx.error(failed, evidence=bundle.ref("backup", "ListBackupVaults"), expected=expected)
    for vault in _vaults(bundle.all("backup", "ListBackupVaults")):
        yield _vault_result(vault, bundle, ctx, require_cmk, expected)
        yield _recovery_points_result(vault, bundle, ctx, expected)
