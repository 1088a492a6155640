"""DynamoDB: encryption at rest of every table, and which kind of key protects it.

DynamoDB always encrypts table data at rest; what varies is the key:

- ``AWS_OWNED``: no ``SSEDescription`` (the default), ``SSEType`` AES256, or
  ``SSEDescription.Status`` DISABLED/DISABLING (SSE-KMS switched off, so the
  table is back on the AWS owned key).
- ``AWS_MANAGED``: ``SSEType`` KMS with no key ARN, or a key the evidence shows
  is AWS managed: the ARN names ``alias/aws/dynamodb``, or the recorded
  ``kms:DescribeKey`` of the key says ``KeyManager`` AWS.
- ``CUSTOMER_MANAGED``: ``SSEType`` KMS with a key ARN whose ``kms:DescribeKey``
  says ``KeyManager`` CUSTOMER. DescribeTable alone cannot tell the AWS managed
  key from a customer managed one (both appear as ``key/<uuid>``), so the fetch
  describes each distinct key once. When that answer is missing, the key is
  *assumed* customer managed (``observed["key_type_verified"]`` is False); if
  the DescribeKey call failed and the verdict depends on it
  (``require_customer_managed``), the table gets an ``error``, never a pass.

A table whose KMS key is unusable (TableStatus or SSE status
INACCESSIBLE_ENCRYPTION_CREDENTIALS, ``InaccessibleEncryptionDateTime`` set,
or the table archived for that reason) fails: its data cannot be read.
Transitional SSE states (ENABLING, UPDATING, DISABLING) are assessed on the
key they lead to and say so in the reason.

API cost per region: ListTables 1 call per 100 tables, DescribeTable 1 call per
table, kms:DescribeKey 1 call per distinct KMS key used by a table.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from collectors.evidence import ApiCall, ApiError, EvidenceBundle, listing_error
from collectors.registry import CheckContext, CollectorSpec, FetchContext, check, register_collector
from controls import CheckResult, Severity

OPERATIONS = {
    "dynamodb:ListTables": "dynamodb:ListTables",
    "dynamodb:DescribeTable": "dynamodb:DescribeTable",
    "kms:DescribeKey": "kms:DescribeKey",
}

PAGE_SIZE = 100  # ListTables maximum
AWS_OWNED = "AWS_OWNED"
AWS_MANAGED = "AWS_MANAGED"
CUSTOMER_MANAGED = "CUSTOMER_MANAGED"
INACCESSIBLE = "INACCESSIBLE_ENCRYPTION_CREDENTIALS"
INACCESSIBLE_TABLE_STATUSES = frozenset({INACCESSIBLE, "ARCHIVING", "ARCHIVED"})
TRANSITIONAL = frozenset({"ENABLING", "UPDATING", "DISABLING"})


def _kms_key_arn(table: dict[str, Any]) -> str | None:
    sse = table.get("SSEDescription") or {}
    if sse.get("SSEType") == "KMS" and sse.get("Status") not in ("DISABLED", "DISABLING"):
        return sse.get("KMSMasterKeyArn")
    return None


def fetch(ctx: FetchContext) -> None:
    rec = ctx.recorder
    ddb = ctx.client("dynamodb")
    pages = rec.paginate(
        "dynamodb", "ListTables", ddb.list_tables, "ExclusiveStartTableName", "LastEvaluatedTableName", Limit=PAGE_SIZE
    )
    # Tables from the pages that did succeed are still described.
    names = [n for p in pages if p.ok for n in (p.response or {}).get("TableNames", [])]
    described = ctx.map(lambda name: rec.call("dynamodb", "DescribeTable", ddb.describe_table, TableName=name), names)
    keys = {_kms_key_arn((c.response or {}).get("Table", {})) for c in described if c.ok}
    keys.discard(None)
    if keys:
        kms = ctx.client("kms")
        ctx.map(lambda arn: rec.call("kms", "DescribeKey", kms.describe_key, KeyId=arn), sorted(keys))


register_collector(
    CollectorSpec(
        id="aws.dynamodb",
        provider="aws",
        service="dynamodb",
        per_region=True,
        operations=OPERATIONS,
        fetch=fetch,
        description="DynamoDB tables and the KMS keys that encrypt them, per region",
    )
)


def _not_collected(operation: str, params: dict[str, Any], what: str) -> ApiCall:
    service = "kms" if operation == "DescribeKey" else "dynamodb"
    error = ApiError("NotCollected", f"no recorded {operation} answer for {what}", OPERATIONS[f"{service}:{operation}"])
    return ApiCall(service, operation, params, "", None, error)


def _key_type(table: dict[str, Any], bundle: EvidenceBundle) -> tuple[str, bool, ApiCall | None]:
    """(key type, whether the evidence proves it, the failed DescribeKey call if any)."""
    sse = table.get("SSEDescription")
    if not sse:
        return AWS_OWNED, True, None
    if sse.get("Status") in ("DISABLED", "DISABLING") or sse.get("SSEType") != "KMS":
        return AWS_OWNED, True, None
    arn = sse.get("KMSMasterKeyArn")
    if not arn:
        return AWS_MANAGED, True, None
    if "alias/aws/dynamodb" in arn:
        return AWS_MANAGED, True, None
    described = bundle.find("kms", "DescribeKey", KeyId=arn)
    if described is not None and described.ok:
        manager = ((described.response or {}).get("KeyMetadata") or {}).get("KeyManager")
        if manager == "AWS":
            return AWS_MANAGED, True, None
        if manager == "CUSTOMER":
            return CUSTOMER_MANAGED, True, None
    return CUSTOMER_MANAGED, False, described if described is not None and not described.ok else None


def _tables(bundle: EvidenceBundle) -> Iterator[str]:
    for page in bundle.all("dynamodb", "ListTables"):
        yield from (page.response or {}).get("TableNames", [])


@check(
    id="aws.dynamodb.encryption",
    collector="aws.dynamodb",
    title="DynamoDB tables are encrypted at rest with an accepted key",
    description="Every DynamoDB table is encrypted at rest (always true unless its KMS key is inaccessible); "
    "the key type (AWS owned, AWS managed, customer managed) is reported and, with require_customer_managed, "
    "only customer managed KMS keys pass.",
    severity=Severity.MEDIUM,
    resource_type="AWS::DynamoDB::Table",
    permissions=["dynamodb:ListTables", "dynamodb:DescribeTable", "kms:DescribeKey"],
    remediation="aws dynamodb update-table --table-name NAME --sse-specification "
    "Enabled=true,SSEType=KMS,KMSMasterKeyId=KEY_ARN; for an inaccessible key, re-enable the key or restore its "
    "grants/key policy within 7 days before the table is archived.",
    thresholds={"require_customer_managed": False},
    risk="Without a customer managed key the organisation cannot audit or revoke access to the data key; "
    "an inaccessible key makes the table unreadable.",
)
def dynamodb_encryption(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    require_cmk = bool(ctx.thresholds["require_customer_managed"])
    allowed = [CUSTOMER_MANAGED] if require_cmk else [AWS_OWNED, AWS_MANAGED, CUSTOMER_MANAGED]
    expected = {"encrypted_at_rest": True, "key_accessible": True, "key_type_in": allowed}
    list_ev = bundle.ref("dynamodb", "ListTables")
    pages = bundle.all("dynamodb", "ListTables")
    failed = listing_error(pages) if pages else _not_collected("ListTables", {"Limit": PAGE_SIZE}, "tables")
    if failed is not None:
        yield ctx.error(failed, evidence=list_ev, expected=expected)
    for name in _tables(bundle):
        ev = bundle.refs_for(("dynamodb", "ListTables"), ("dynamodb", "DescribeTable"))
        call = bundle.find("dynamodb", "DescribeTable", TableName=name)
        if call is None:
            call = _not_collected("DescribeTable", {"TableName": name}, f"table {name}")
        if not call.ok:
            yield ctx.error(call, name, evidence=ev, expected=expected)
            continue
        table = (call.response or {}).get("Table") or {}
        sse = table.get("SSEDescription") or {}
        key_type, verified, key_error = _key_type(table, bundle)
        if _kms_key_arn(table):  # the key's DescribeKey answer is part of this table's evidence
            ev += bundle.ref("kms", "DescribeKey")
        observed = {
            "encrypted_at_rest": True,
            "key_type": key_type,
            "key_type_verified": verified,
            "kms_key_arn": sse.get("KMSMasterKeyArn"),
            "sse_status": sse.get("Status"),
            "sse_type": sse.get("SSEType"),
            "table_status": table.get("TableStatus"),
        }
        inaccessible_since = sse.get("InaccessibleEncryptionDateTime")
        if table.get("TableStatus") in INACCESSIBLE_TABLE_STATUSES or sse.get("Status") == INACCESSIBLE:
            inaccessible_since = inaccessible_since or "unknown"
        if inaccessible_since:
            observed["inaccessible_since"] = inaccessible_since
            yield ctx.failed(
                name,
                evidence=ev,
                expected=expected,
                observed=observed,
                reason=f"KMS key {observed['kms_key_arn'] or ''} inaccessible since {inaccessible_since} "
                f"(table status {observed['table_status']}): the table cannot be read",
            )
            continue
        if require_cmk and key_error is not None:
            # The verdict depends on the key's manager and that evidence failed: not assessed.
            yield ctx.error(key_error, name, evidence=ev, expected=expected)
            continue
        note = ""
        if sse.get("Status") in TRANSITIONAL:
            note = f"; SSE status {sse['Status']} (change in progress)"
        if not verified:
            note += "; key assumed customer managed (KMS key not described)"
        if key_type in allowed:
            yield ctx.passed(
                name,
                evidence=ev,
                expected=expected,
                observed=observed,
                reason=f"encrypted at rest with {key_type.lower().replace('_', ' ')} key{note}",
            )
        else:
            yield ctx.failed(
                name,
                evidence=ev,
                expected=expected,
                observed=observed,
                reason=f"encrypted with {key_type.lower().replace('_', ' ')} key, a customer managed KMS key "
                f"is required{note}",
            )
