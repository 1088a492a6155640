"""EFS: encryption at rest of every file system, and whether its file-system policy
refuses clients that do not use TLS.

EFS encrypts in transit only when the client mounts with TLS (the mount helper's
``-o tls``); the server side can only *require* it through the file-system
policy: a Deny for every principal on the client actions when
``aws:SecureTransport`` is false (what the console's "Enforce in-transit
encryption for all clients" writes). No policy, or a policy without such a Deny,
fails. A Deny covering ``elasticfilesystem:ClientMount`` is enough: without a
mount there is no read or write. A Deny narrowed by other conditions (source
VPC, principal tags ...) or to other principals does not count.

API cost per region: DescribeFileSystems 1 call per 100 file systems,
DescribeFileSystemPolicy 1 call per file system (PolicyNotFound is an answer:
no policy).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from typing import Any

from collectors.evidence import ApiCall, ApiError, EvidenceBundle, listing_error
from collectors.registry import CheckContext, CollectorSpec, FetchContext, check, register_collector
from controls import CheckResult, Severity

OPERATIONS = {
    "efs:DescribeFileSystems": "elasticfilesystem:DescribeFileSystems",
    "efs:DescribeFileSystemPolicy": "elasticfilesystem:DescribeFileSystemPolicy",
}
PAGE_SIZE = 100  # DescribeFileSystems MaxItems default and maximum
NO_POLICY = "PolicyNotFound"
MOUNT = "elasticfilesystem:clientmount"
RESOURCE_TYPE = "AWS::EFS::FileSystem"


def fetch(ctx: FetchContext) -> None:
    rec = ctx.recorder
    efs = ctx.client("efs")
    pages = rec.paginate(
        "efs", "DescribeFileSystems", efs.describe_file_systems, "Marker", "NextMarker", MaxItems=PAGE_SIZE
    )
    ids = [fs["FileSystemId"] for p in pages if p.ok for fs in (p.response or {}).get("FileSystems", [])]
    ctx.map(
        lambda fs_id: rec.call("efs", "DescribeFileSystemPolicy", efs.describe_file_system_policy, FileSystemId=fs_id),
        ids,
    )


register_collector(
    CollectorSpec(
        id="aws.efs",
        provider="aws",
        service="efs",
        per_region=True,
        operations=OPERATIONS,
        fetch=fetch,
        description="EFS file systems and their file-system policies, per region",
        absent_codes=frozenset({NO_POLICY}),
    )
)


def _not_collected(operation: str, params: dict[str, Any], what: str) -> ApiCall:
    error = ApiError("NotCollected", f"no recorded {operation} answer for {what}", OPERATIONS[f"efs:{operation}"])
    return ApiCall("efs", operation, params, "", None, error)


def _file_systems(bundle: EvidenceBundle) -> tuple[list[dict[str, Any]], ApiCall | None]:
    pages = bundle.all("efs", "DescribeFileSystems")
    found = [fs for page in pages for fs in (page.response or {}).get("FileSystems", [])]
    if not pages:
        return found, _not_collected("DescribeFileSystems", {"MaxItems": PAGE_SIZE}, "file systems")
    return found, listing_error(pages)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _matches(patterns: Any, value: str) -> bool:
    return any(fnmatch.fnmatchcase(value.lower(), str(p).lower()) for p in _as_list(patterns))


def _everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, dict) and "*" in _as_list(principal.get("AWS"))


def _insecure_only(condition: Any) -> bool:
    """The condition is exactly aws:SecureTransport false (Bool or BoolIfExists), nothing narrower."""
    if not isinstance(condition, dict) or len(condition) != 1:
        return False
    ((operator, tests),) = condition.items()
    if operator.lower() not in ("bool", "boolifexists") or not isinstance(tests, dict) or len(tests) != 1:
        return False
    ((key, value),) = tests.items()
    return key.lower() == "aws:securetransport" and [str(v).lower() for v in _as_list(value)] == ["false"]


def deny_insecure_statements(policy: dict[str, Any], fs_arn: str) -> tuple[list[str], list[str]]:
    """(Sids of statements that deny every non-TLS client, descriptions of partial denies)."""
    full, partial = [], []
    for i, stmt in enumerate(_as_list(policy.get("Statement") or [])):
        if not isinstance(stmt, dict) or stmt.get("Effect") != "Deny" or not _insecure_only(stmt.get("Condition")):
            continue
        sid = str(stmt.get("Sid") or f"statement {i}")
        if "NotAction" in stmt:
            covers_mount = not _matches(stmt["NotAction"], MOUNT)
        else:
            covers_mount = _matches(stmt.get("Action", []), MOUNT)
        resource_ok = "Resource" not in stmt or _matches(stmt["Resource"], fs_arn)
        if covers_mount and resource_ok and _everyone(stmt.get("Principal")):
            full.append(sid)
        else:
            partial.append(
                f"{sid} denies only {stmt.get('Action') or stmt.get('NotAction')!r} for {stmt.get('Principal')!r}"
            )
    return full, partial


def _policy_call(bundle: EvidenceBundle, fs_id: str) -> ApiCall:
    call = bundle.find("efs", "DescribeFileSystemPolicy", FileSystemId=fs_id)
    return call or _not_collected("DescribeFileSystemPolicy", {"FileSystemId": fs_id}, f"file system {fs_id}")


@check(
    id="aws.efs.encryption",
    collector="aws.efs",
    title="EFS file systems are encrypted at rest",
    description="Every EFS file system is encrypted at rest with a KMS key (set at creation).",
    severity=Severity.HIGH,
    resource_type=RESOURCE_TYPE,
    permissions=["elasticfilesystem:DescribeFileSystems"],
    remediation="Encryption at rest cannot be enabled on an existing file system: create an encrypted one "
    "(aws efs create-file-system --encrypted [--kms-key-id KEY]), copy the data with AWS DataSync or AWS Backup "
    "restore, and switch the mounts.",
    risk="Files shared between instances (uploads, exports, home directories) sit unencrypted on AWS storage.",
)
def efs_encryption(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    expected = {"encrypted": True}
    ev = bundle.ref("efs", "DescribeFileSystems")
    found, failed = _file_systems(bundle)
    if failed is not None:
        yield ctx.error(failed, evidence=ev, expected=expected)
    for fs in found:
        encrypted = bool(fs.get("Encrypted"))
        observed = {
            "name": fs.get("Name"),
            "encrypted": encrypted,
            "kms_key_id": fs.get("KmsKeyId"),
            "state": fs.get("LifeCycleState"),
            "mount_targets": fs.get("NumberOfMountTargets"),
        }
        if encrypted:
            reason = f"encrypted with {observed['kms_key_id'] or 'a KMS key'}"
            yield ctx.passed(fs["FileSystemId"], evidence=ev, expected=expected, observed=observed, reason=reason)
        else:
            reason = "file system is not encrypted at rest"
            yield ctx.failed(fs["FileSystemId"], evidence=ev, expected=expected, observed=observed, reason=reason)


@check(
    id="aws.efs.secure_transport",
    collector="aws.efs",
    title="EFS file-system policies refuse clients that do not use TLS",
    description="Every EFS file system has a file-system policy that denies every principal the client actions "
    "(at least elasticfilesystem:ClientMount) when aws:SecureTransport is false; no policy, or a policy without "
    "such an unconditional Deny, fails.",
    severity=Severity.MEDIUM,
    resource_type=RESOURCE_TYPE,
    permissions=["elasticfilesystem:DescribeFileSystems", "elasticfilesystem:DescribeFileSystemPolicy"],
    remediation='aws efs put-file-system-policy --file-system-id FS --policy \'{"Version":"2012-10-17","Statement":'
    '[{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":{"AWS":"*"},"Action":"*",'
    '"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}\' (keep your existing Allow statements), and mount '
    "with the EFS mount helper's -o tls.",
    risk="NFS traffic is plain text: any client that mounts without TLS sends and receives file contents "
    "unencrypted across the VPC.",
)
def efs_secure_transport(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    expected = {"policy_denies": "every principal, ClientMount, when aws:SecureTransport is false"}
    list_ev = bundle.ref("efs", "DescribeFileSystems")
    found, failed = _file_systems(bundle)
    if failed is not None:
        yield ctx.error(failed, evidence=list_ev, expected=expected)
    for fs in found:
        fs_id = fs["FileSystemId"]
        ev = bundle.refs_for(("efs", "DescribeFileSystems"), ("efs", "DescribeFileSystemPolicy"))
        call = _policy_call(bundle, fs_id)
        observed: dict[str, Any] = {"name": fs.get("Name"), "has_policy": False, "denying_statements": []}
        if not call.ok and call.error is not None and call.error.code == NO_POLICY:
            reason = "no file-system policy: clients may mount without TLS"
            yield ctx.failed(fs_id, evidence=ev, expected=expected, observed=observed, reason=reason)
            continue
        if not call.ok:
            yield ctx.error(call, fs_id, evidence=ev, expected=expected)
            continue
        observed["has_policy"] = True
        try:
            policy = json.loads((call.response or {}).get("Policy") or "{}")
        except (TypeError, ValueError):
            policy = None
        if not isinstance(policy, dict):
            reason = "the file-system policy is not valid JSON: no TLS requirement can be read from it"
            yield ctx.failed(fs_id, evidence=ev, expected=expected, observed=observed, reason=reason)
            continue
        full, partial = deny_insecure_statements(policy, fs.get("FileSystemArn") or "")
        observed.update(denying_statements=full, partial_denies=partial)
        if full:
            reason = f"policy statement {', '.join(full)} denies every client without TLS"
            yield ctx.passed(fs_id, evidence=ev, expected=expected, observed=observed, reason=reason)
        elif partial:
            reason = f"the policy's non-TLS deny is partial: {'; '.join(partial)}"
            yield ctx.failed(fs_id, evidence=ev, expected=expected, observed=observed, reason=reason)
        else:
            reason = "the policy has no Deny for aws:SecureTransport false: clients may mount without TLS"
            yield ctx.failed(fs_id, evidence=ev, expected=expected, observed=observed, reason=reason)
