"""EBS: account-level default encryption (per region), encryption of every volume and
of every snapshot the account owns.

API cost per region: GetEbsEncryptionByDefault 1 call, GetEbsDefaultKmsKeyId 1 call,
DescribeVolumes 1 call per 500 volumes, DescribeSnapshots (OwnerIds=self) 1 call per
1,000 snapshots. Nothing is called per volume or snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from collectors.evidence import ApiCall, ApiError, EvidenceBundle, listing_error
from collectors.registry import CheckContext, CollectorSpec, FetchContext, check, register_collector
from controls import CheckResult, Severity

OPERATIONS = {
    "ec2:GetEbsEncryptionByDefault": "ec2:GetEbsEncryptionByDefault",
    "ec2:GetEbsDefaultKmsKeyId": "ec2:GetEbsDefaultKmsKeyId",
    "ec2:DescribeVolumes": "ec2:DescribeVolumes",
    "ec2:DescribeSnapshots": "ec2:DescribeSnapshots",
}

PAGE_SIZE = 500  # DescribeVolumes maximum
SNAPSHOT_PAGE_SIZE = 1000  # DescribeSnapshots maximum
SNAPSHOT_PARAMS = {"OwnerIds": ["self"], "MaxResults": SNAPSHOT_PAGE_SIZE}


def fetch(ctx: FetchContext) -> None:
    rec = ctx.recorder
    ec2 = ctx.client("ec2")
    rec.call("ec2", "GetEbsEncryptionByDefault", ec2.get_ebs_encryption_by_default)
    rec.call("ec2", "GetEbsDefaultKmsKeyId", ec2.get_ebs_default_kms_key_id)
    rec.paginate("ec2", "DescribeVolumes", ec2.describe_volumes, "NextToken", "NextToken", MaxResults=PAGE_SIZE)
    # Own snapshots only: public and shared ones are other accounts' data at rest.
    rec.paginate("ec2", "DescribeSnapshots", ec2.describe_snapshots, "NextToken", "NextToken", **SNAPSHOT_PARAMS)


register_collector(
    CollectorSpec(
        id="aws.ebs",
        provider="aws",
        service="ec2",
        per_region=True,
        operations=OPERATIONS,
        fetch=fetch,
        description="EBS encryption-by-default setting, every EBS volume and every own snapshot, per region",
    )
)


def _not_collected(operation: str, params: dict[str, Any], what: str) -> ApiCall:
    """A stand-in failed call for evidence that should exist but was not recorded."""
    error = ApiError("NotCollected", f"no recorded {operation} answer for {what}", OPERATIONS.get(f"ec2:{operation}"))
    return ApiCall("ec2", operation, params, "", None, error)


@check(
    id="aws.ebs.default_encryption",
    collector="aws.ebs",
    title="EBS encryption by default is enabled in every region",
    description="The region-level EBS setting that encrypts every new volume and snapshot copy is on; "
    "the default KMS key is reported alongside.",
    severity=Severity.MEDIUM,
    resource_type="AWS::EC2::EbsEncryptionByDefault",
    permissions=["ec2:GetEbsEncryptionByDefault", "ec2:GetEbsDefaultKmsKeyId"],
    remediation="aws ec2 enable-ebs-encryption-by-default --region REGION "
    "(optionally: aws ec2 modify-ebs-default-kms-key-id --kms-key-id KEY --region REGION)",
    risk="Volumes created without encryption store customer data unencrypted at rest.",
)
def ebs_default_encryption(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    region = ctx.scope.region
    expected = {"encryption_by_default": True}
    ev = bundle.refs_for(("ec2", "GetEbsEncryptionByDefault"), ("ec2", "GetEbsDefaultKmsKeyId"))
    call = bundle.find("ec2", "GetEbsEncryptionByDefault")
    if call is None:
        call = _not_collected("GetEbsEncryptionByDefault", {}, f"region {region}")
    if not call.ok:
        yield ctx.error(call, region, evidence=ev, expected=expected)
        return
    enabled = bool((call.response or {}).get("EbsEncryptionByDefault"))
    # The default key is informational: its absence never changes the verdict.
    key_call = bundle.find("ec2", "GetEbsDefaultKmsKeyId")
    observed: dict[str, Any] = {"encryption_by_default": enabled, "default_kms_key_id": None}
    if key_call is not None and key_call.ok:
        observed["default_kms_key_id"] = (key_call.response or {}).get("KmsKeyId")
    elif key_call is not None and key_call.error:
        observed["default_kms_key_error"] = f"{key_call.error.code} (needs {key_call.error.permission})"
    key = observed["default_kms_key_id"] or "unknown key"
    if enabled:
        yield ctx.passed(
            region, evidence=ev, expected=expected, observed=observed, reason=f"EBS encryption by default on ({key})"
        )
    else:
        yield ctx.failed(
            region,
            evidence=ev,
            expected=expected,
            observed=observed,
            reason="EBS encryption by default is off: new volumes may be created unencrypted",
        )


def _volumes(bundle: EvidenceBundle) -> Iterator[dict[str, Any]]:
    for page in bundle.all("ec2", "DescribeVolumes"):
        yield from (page.response or {}).get("Volumes", [])


@check(
    id="aws.ebs.volume_encryption",
    collector="aws.ebs",
    title="EBS volumes are encrypted at rest",
    description="Every EBS volume in the region is encrypted (with the AWS managed or a customer managed KMS key).",
    severity=Severity.HIGH,
    resource_type="AWS::EC2::Volume",
    permissions=["ec2:DescribeVolumes"],
    remediation="EBS volumes cannot be encrypted in place: snapshot the volume, copy the snapshot with --encrypted, "
    "create a volume from the encrypted copy and swap it in; enable EBS encryption by default to prevent new ones.",
    risk="An unencrypted volume or its snapshots expose customer data at rest.",
)
def ebs_volume_encryption(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    expected = {"encrypted": True}
    ev = bundle.ref("ec2", "DescribeVolumes")
    pages = bundle.all("ec2", "DescribeVolumes")
    failed = listing_error(pages) if pages else _not_collected("DescribeVolumes", {"MaxResults": PAGE_SIZE}, "volumes")
    if failed is not None:
        yield ctx.error(failed, evidence=ev, expected=expected)
    for volume in _volumes(bundle):
        volume_id = volume["VolumeId"]
        tags = {t.get("Key"): t.get("Value") for t in volume.get("Tags") or []}
        observed = {
            "encrypted": bool(volume.get("Encrypted")),
            "kms_key_id": volume.get("KmsKeyId"),
            "state": volume.get("State"),
            "attached_instances": [a["InstanceId"] for a in volume.get("Attachments") or [] if a.get("InstanceId")],
            "name": tags.get("Name"),
            "size_gib": volume.get("Size"),
            "availability_zone": volume.get("AvailabilityZone"),
        }
        if observed["encrypted"]:
            yield ctx.passed(
                volume_id,
                evidence=ev,
                expected=expected,
                observed=observed,
                reason=f"encrypted with {observed['kms_key_id'] or 'a KMS key'}",
            )
        else:
            attached = ", ".join(observed["attached_instances"]) or "no instance"
            yield ctx.failed(
                volume_id,
                evidence=ev,
                expected=expected,
                observed=observed,
                reason=f"volume is not encrypted ({observed['state']}, attached to {attached})",
            )


@check(
    id="aws.ebs.snapshot_encryption",
    collector="aws.ebs",
    title="EBS snapshots are encrypted at rest",
    description="Every EBS snapshot the account owns (DescribeSnapshots with OwnerIds=self) is encrypted; the "
    "source volume, key and state are reported.",
    severity=Severity.HIGH,
    resource_type="AWS::EC2::Snapshot",
    permissions=["ec2:DescribeSnapshots"],
    remediation="Copy the snapshot with encryption (aws ec2 copy-snapshot --source-snapshot-id SNAP "
    "--source-region REGION --encrypted --kms-key-id KEY), delete the unencrypted original, and enable EBS "
    "encryption by default so that new snapshots of new volumes are encrypted.",
    risk="A snapshot holds a full copy of a volume: unencrypted, it can be shared, copied or made public with the "
    "data readable by anyone who gets it.",
)
def ebs_snapshot_encryption(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    expected = {"encrypted": True}
    ev = bundle.ref("ec2", "DescribeSnapshots")
    pages = bundle.all("ec2", "DescribeSnapshots")
    failed = listing_error(pages) if pages else _not_collected("DescribeSnapshots", dict(SNAPSHOT_PARAMS), "snapshots")
    if failed is not None:
        yield ctx.error(failed, evidence=ev, expected=expected)
    for page in pages:
        for snapshot in (page.response or {}).get("Snapshots", []):
            owner = snapshot.get("OwnerId")
            if owner and owner != ctx.scope.account:
                # AWS never answers OwnerIds=self with another owner's snapshot (moto ignores the filter and
                # lists its AMIs' snapshots): not this account's data, so not assessed here.
                continue
            tags = {t.get("Key"): t.get("Value") for t in snapshot.get("Tags") or []}
            encrypted = bool(snapshot.get("Encrypted"))
            observed = {
                "encrypted": encrypted,
                "kms_key_id": snapshot.get("KmsKeyId") if encrypted else None,
                "volume_id": snapshot.get("VolumeId"),
                "state": snapshot.get("State"),
                "started": snapshot.get("StartTime"),
                "size_gib": snapshot.get("VolumeSize"),
                "description": snapshot.get("Description"),
                "name": tags.get("Name"),
            }
            what = f"snapshot of {observed['volume_id'] or 'an unknown volume'}"
            if encrypted:
                yield ctx.passed(
                    snapshot["SnapshotId"],
                    evidence=ev,
                    expected=expected,
                    observed=observed,
                    reason=f"{what} encrypted with {observed['kms_key_id'] or 'a KMS key'}",
                )
            else:
                yield ctx.failed(
                    snapshot["SnapshotId"],
                    evidence=ev,
                    expected=expected,
                    observed=observed,
                    reason=f"{what} is not encrypted",
                )
