"""aws.dynamodb.encryption on recorded evidence."""

from __future__ import annotations

import copy
from typing import Any

from controls import Status
from tests.helpers import Fail, bundle_from_calls, by_resource, fixture, ref_ops, run_check, scope

CHECK = "aws.dynamodb.encryption"
SCOPE = scope("aws.dynamodb")
PAGE1 = fixture("aws/dynamodb/list_tables_page1.json")
PAGE2 = fixture("aws/dynamodb/list_tables_page2.json")
TABLES = {name: fixture(f"aws/dynamodb/describe_table_{name}.json") for name in ("events", "orders", "payments")}
SESSIONS = fixture("aws/dynamodb/describe_table_sessions.json")
CUSTOMER_KEY = fixture("aws/dynamodb/describe_key_customer.json")
AWS_KEY = fixture("aws/dynamodb/describe_key_aws_managed.json")
ORDERS_KEY = TABLES["orders"]["Table"]["SSEDescription"]["KMSMasterKeyArn"]
PAYMENTS_KEY = TABLES["payments"]["Table"]["SSEDescription"]["KMSMasterKeyArn"]
MISSING = object()


def with_sse(name: str, **sse: Any) -> dict[str, Any]:
    """A table fixture with its SSEDescription replaced (no fields: no SSEDescription at all)."""
    table = copy.deepcopy(TABLES[name])
    if not sse:
        table["Table"].pop("SSEDescription", None)
    else:
        table["Table"]["SSEDescription"] = {k: v for k, v in sse.items() if v is not None}
    return table


def ddb_bundle(
    *,
    tables: dict[str, Any] | None = None,
    keys: dict[str, Any] | None = None,
    page1: Any = PAGE1,
    page2: Any = PAGE2,
):
    tables = {**TABLES, "sessions": SESSIONS, **(tables or {})}
    keys = {ORDERS_KEY: CUSTOMER_KEY, PAYMENTS_KEY: AWS_KEY, **(keys or {})}
    calls: list[tuple[str, str, dict[str, Any], Any]] = [("dynamodb", "ListTables", {"Limit": 100}, page1)]
    listed = list(page1.get("TableNames", [])) if isinstance(page1, dict) else []
    if page2 is not MISSING:
        start = {"Limit": 100, "ExclusiveStartTableName": PAGE1["LastEvaluatedTableName"]}
        calls.append(("dynamodb", "ListTables", start, page2))
        listed += page2.get("TableNames", []) if isinstance(page2, dict) else []
    for name in listed:
        if tables[name] is not MISSING:
            calls.append(("dynamodb", "DescribeTable", {"TableName": name}, tables[name]))
    for arn, answer in keys.items():
        if answer is not MISSING:
            calls.append(("kms", "DescribeKey", {"KeyId": arn}, answer))
    return bundle_from_calls(SCOPE, calls)


def test_key_types_over_two_pages_all_pass_by_default():
    results = by_resource(run_check(CHECK, ddb_bundle()))
    assert set(results) == {"events", "orders", "payments", "sessions"}

    events = results["events"]  # no SSEDescription: AWS owned key, still encrypted
    assert events.status == Status.PASS
    assert events.resource_type == "AWS::DynamoDB::Table"
    assert events.observed["key_type"] == "AWS_OWNED"
    assert events.observed["encrypted_at_rest"] is True
    assert events.observed["kms_key_arn"] is None
    assert "aws owned key" in events.reason
    assert ref_ops(events) == {"dynamodb.ListTables", "dynamodb.DescribeTable"}

    orders = results["orders"]
    assert orders.status == Status.PASS
    assert orders.observed["key_type"] == "CUSTOMER_MANAGED"
    assert orders.observed["key_type_verified"] is True
    assert orders.observed["kms_key_arn"] == ORDERS_KEY
    assert ref_ops(orders) == {"dynamodb.ListTables", "dynamodb.DescribeTable", "kms.DescribeKey"}

    payments = results["payments"]  # KMS key ARN alone looks customer managed; DescribeKey says AWS
    assert payments.status == Status.PASS
    assert payments.observed["key_type"] == "AWS_MANAGED"
    assert payments.observed["key_type_verified"] is True


def test_inaccessible_key_fails():
    result = by_resource(run_check(CHECK, ddb_bundle()))["sessions"]
    assert result.status == Status.FAIL
    assert result.observed["table_status"] == "INACCESSIBLE_ENCRYPTION_CREDENTIALS"
    assert result.observed["inaccessible_since"] == "2025-06-28T07:00:00Z"
    assert "inaccessible since 2025-06-28T07:00:00Z" in result.reason
    assert "cannot be read" in result.reason


def test_inaccessible_sse_status_without_date_fails():
    table = with_sse("orders", Status="INACCESSIBLE_ENCRYPTION_CREDENTIALS", SSEType="KMS", KMSMasterKeyArn=ORDERS_KEY)
    result = by_resource(run_check(CHECK, ddb_bundle(tables={"orders": table})))["orders"]
    assert result.status == Status.FAIL
    assert result.observed["inaccessible_since"] == "unknown"


def test_archived_table_fails():
    table = copy.deepcopy(TABLES["orders"])
    table["Table"]["TableStatus"] = "ARCHIVED"
    result = by_resource(run_check(CHECK, ddb_bundle(tables={"orders": table})))["orders"]
    assert result.status == Status.FAIL
    assert "ARCHIVED" in result.reason


def test_require_customer_managed_threshold():
    results = by_resource(run_check(CHECK, ddb_bundle(), {"require_customer_managed": True}))
    assert results["orders"].status == Status.PASS
    assert results["orders"].expected["key_type_in"] == ["CUSTOMER_MANAGED"]
    assert results["events"].status == Status.FAIL
    assert "aws owned key, a customer managed KMS key is required" in results["events"].reason
    assert results["payments"].status == Status.FAIL
    assert results["payments"].observed["key_type"] == "AWS_MANAGED"
    assert results["sessions"].status == Status.FAIL


def test_alias_aws_dynamodb_arn_is_aws_managed_without_describe_key():
    arn = "arn:aws:kms:us-east-1:123456789012:alias/aws/dynamodb"
    table = with_sse("orders", Status="ENABLED", SSEType="KMS", KMSMasterKeyArn=arn)
    results = by_resource(run_check(CHECK, ddb_bundle(tables={"orders": table}), {"require_customer_managed": True}))
    assert results["orders"].observed["key_type"] == "AWS_MANAGED"
    assert results["orders"].status == Status.FAIL


def test_kms_without_key_arn_is_aws_managed():
    table = with_sse("orders", Status="ENABLED", SSEType="KMS")
    result = by_resource(run_check(CHECK, ddb_bundle(tables={"orders": table})))["orders"]
    assert result.observed["key_type"] == "AWS_MANAGED"
    assert result.status == Status.PASS


def test_undescribed_key_is_assumed_customer_managed():
    result = by_resource(run_check(CHECK, ddb_bundle(keys={ORDERS_KEY: MISSING})))["orders"]
    assert result.status == Status.PASS
    assert result.observed["key_type"] == "CUSTOMER_MANAGED"
    assert result.observed["key_type_verified"] is False
    assert "assumed customer managed" in result.reason


def test_describe_key_denied_only_matters_when_the_threshold_needs_it():
    bundle = ddb_bundle(keys={ORDERS_KEY: Fail("AccessDeniedException")})
    relaxed = by_resource(run_check(CHECK, bundle))["orders"]
    assert relaxed.status == Status.PASS
    assert relaxed.observed["key_type_verified"] is False

    strict = by_resource(run_check(CHECK, bundle, {"require_customer_managed": True}))
    assert strict["orders"].status == Status.ERROR
    assert strict["orders"].observed["missing_permission"] == "kms:DescribeKey"
    assert strict["orders"].observed["operation"] == "kms:DescribeKey"
    assert strict["payments"].status == Status.FAIL  # other tables still assessed


def test_transitional_and_disabled_sse_states():
    updating = with_sse("orders", Status="UPDATING", SSEType="KMS", KMSMasterKeyArn=ORDERS_KEY)
    enabling = with_sse("payments", Status="ENABLING", SSEType="KMS", KMSMasterKeyArn=PAYMENTS_KEY)
    disabled = with_sse("events", Status="DISABLED")
    bundle = ddb_bundle(tables={"orders": updating, "payments": enabling, "events": disabled})
    results = by_resource(run_check(CHECK, bundle))
    assert results["orders"].status == Status.PASS
    assert "UPDATING" in results["orders"].reason
    assert results["orders"].observed["sse_status"] == "UPDATING"
    assert results["payments"].status == Status.PASS
    assert "ENABLING" in results["payments"].reason
    assert results["events"].status == Status.PASS
    assert results["events"].observed["key_type"] == "AWS_OWNED"


def test_disabling_kms_is_assessed_on_the_aws_owned_key():
    disabling = with_sse("orders", Status="DISABLING", SSEType="KMS", KMSMasterKeyArn=ORDERS_KEY)
    results = by_resource(
        run_check(CHECK, ddb_bundle(tables={"orders": disabling}), {"require_customer_managed": True})
    )
    assert results["orders"].observed["key_type"] == "AWS_OWNED"
    assert results["orders"].status == Status.FAIL
    assert "DISABLING" in results["orders"].reason


def test_listing_access_denied_is_one_error():
    results = run_check(CHECK, ddb_bundle(page1=Fail("AccessDeniedException"), page2=MISSING))
    assert len(results) == 1
    (err,) = results
    assert err.status == Status.ERROR
    assert err.resource_id == "*"
    assert err.observed["missing_permission"] == "dynamodb:ListTables"
    assert ref_ops(err) == {"dynamodb.ListTables"}


def test_second_listing_page_failure_keeps_first_page():
    results = by_resource(run_check(CHECK, ddb_bundle(page2=Fail("InternalServerError", status=500))))
    assert set(results) == {"*", "events", "orders"}
    assert results["*"].status == Status.ERROR
    assert results["events"].status == Status.PASS


def test_describe_table_error_only_affects_that_table():
    results = by_resource(run_check(CHECK, ddb_bundle(tables={"orders": Fail("AccessDeniedException")})))
    assert results["orders"].status == Status.ERROR
    assert results["orders"].observed["missing_permission"] == "dynamodb:DescribeTable"
    assert results["events"].status == Status.PASS
    assert results["payments"].status == Status.PASS


def test_unrecorded_describe_table_is_an_error():
    results = by_resource(run_check(CHECK, ddb_bundle(tables={"events": MISSING})))
    assert results["events"].status == Status.ERROR
    assert results["events"].observed["error_code"] == "NotCollected"
    assert results["events"].observed["required_permission"] == "dynamodb:DescribeTable"
