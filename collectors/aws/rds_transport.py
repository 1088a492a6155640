"""RDS: encryption in transit enforced by the parameter group of every database.

Reads the `aws.rds` collector's evidence: DB instances and clusters, and the
parameters of each parameter group in use. A database enforces TLS when the
engine's parameter is on:

- ``rds.force_ssl`` = 1: RDS for PostgreSQL, RDS for SQL Server, Aurora PostgreSQL;
- ``require_secure_transport`` = ON/1: RDS for MySQL (5.7+), RDS for MariaDB (10.5+),
  Aurora MySQL (version 2 and 3).

Standalone instances are read from their DB parameter group; Aurora and Multi-AZ
DB clusters from their DB cluster parameter group (the parameter is cluster-level
there), and the cluster's member instances are `not_applicable`, naming the
cluster that carries the verdict.

Where the value comes from, always stated in ``observed["value_source"]``:
``set`` (Source ``user``: someone set it), ``engine default (reported by AWS)``
(AWS listed the parameter with its default value), or ``engine default
(modelled)``: the answer did not list the parameter at all (moto lists only
explicitly set parameters, never engine defaults), so the default is taken from
AWS's documentation, cited in ENGINE_DEFAULTS below.

Engines whose transport encryption is not a parameter (Oracle: the SSL option
of an option group; Db2; RDS Custom; Neptune and DocumentDB clusters) are
`not_applicable` with a reason that says they were not assessed, never a pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from collectors.aws.rds import (
    CLUSTER_TYPE,
    INSTANCE_TYPE,
    OPERATIONS,
    PAGE_SIZE,
    instance_parameter_group,
    items,
    listing_failure,
)
from collectors.evidence import ApiCall, ApiError, EvidenceBundle, listing_error
from collectors.registry import CheckContext, check
from controls import CheckResult, Severity

FORCE_SSL = "rds.force_ssl"
SECURE_TRANSPORT = "require_secure_transport"
ON_VALUES = frozenset({"1", "on", "true"})
OFF_VALUES = frozenset({"0", "off", "false"})

# Engine defaults, from AWS's documentation (checked 2026-12):
# - RDS for PostgreSQL: "rds.force_ssl ... defaults to 1 (on) for PostgreSQL 15 and later major versions,
#   0 (off) before" (docs.aws.amazon.com/AmazonRDS/latest/UserGuide/PostgreSQL.Concepts.General.SSL.html and
#   .../UserGuide/ssl-certificate-rotation-postgresql.html).
# - Aurora PostgreSQL: "By default, the rds.force_ssl parameter is set to 0 (off)"
#   (docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/ssl-certificate-rotation-aurora-postgresql.html).
# - RDS for SQL Server: "By default, the rds.force_ssl parameter is set to 0 (off)"
#   (docs.aws.amazon.com/AmazonRDS/latest/UserGuide/ssl-certificate-rotation-sqlserver.html).
# - RDS for MySQL: require_secure_transport is 0 (OFF) for MySQL 8.4 and lower, 1 (ON) for MySQL 9.7
#   (docs.aws.amazon.com/AmazonRDS/latest/UserGuide/mysql-ssl-connections.require-ssl.html); the parameter
#   exists from MySQL 5.7.
# - RDS for MariaDB: require_secure_transport only on 10.5 and later; OFF for 11.4 and earlier, ON for 11.8
#   and later (docs.aws.amazon.com/AmazonRDS/latest/UserGuide/mariadb-ssl-connections.require-ssl.html).
# - Aurora MySQL: require_secure_transport is a DB cluster parameter of Aurora MySQL version 2 and 3
#   (docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Security.html); modelled OFF, the MySQL
#   default (the page did not state Aurora's default in the text checked). Version 1 (engine "aurora",
#   MySQL 5.6) has no such parameter.
NOT_BY_PARAMETER = {
    "oracle": "Oracle enforces TLS through the SSL option of its option group, not a parameter",
    "custom-oracle": "RDS Custom for Oracle: TLS is configured on the host, not by a parameter",
    "custom-sqlserver": "RDS Custom for SQL Server: TLS is configured on the host, not by a parameter",
    "db2": "Db2 configures SSL with ssl_svcename/ssl_port; the plain port's use is not a parameter verdict",
    "neptune": "Neptune (neptune_enforce_ssl) is not modelled by this check",
    "docdb": "DocumentDB (the tls cluster parameter) is not modelled by this check",
}


def _version(text: str | None) -> tuple[int, ...]:
    """(major, minor) of an engine version such as "15.4", "8.0.mysql_aurora.3.05.2", "10.6.14"."""
    numbers = [int(n) for n in re.findall(r"\d+", text or "")[:2]]
    return tuple(numbers) or (0,)


def engine_rule(engine: str, version: str | None) -> tuple[str | None, str | None, str]:
    """(parameter, its default "1"/"0" or None if it does not exist, why) for an engine and version.

    A parameter of None means transport encryption is not assessed by parameter for this engine
    (`why` says so); a default of None means the engine version has no such parameter."""
    engine = (engine or "").lower()
    v = _version(version)
    for prefix, why in NOT_BY_PARAMETER.items():
        if engine.startswith(prefix):
            return None, None, why
    if engine == "postgres":
        return FORCE_SSL, "1" if v >= (15,) else "0", f"RDS for PostgreSQL {v[0]}: default {'1' if v >= (15,) else '0'}"
    if engine == "aurora-postgresql":
        return FORCE_SSL, "0", "Aurora PostgreSQL: default 0"
    if engine.startswith("sqlserver"):
        return FORCE_SSL, "0", "RDS for SQL Server: default 0"
    if engine == "mysql":
        if v < (5, 7):
            return SECURE_TRANSPORT, None, f"MySQL {version}: require_secure_transport exists from 5.7"
        return SECURE_TRANSPORT, "1" if v >= (9, 7) else "0", "RDS for MySQL: default OFF before 9.7"
    if engine == "mariadb":
        if v < (10, 5):
            return SECURE_TRANSPORT, None, f"MariaDB {version}: require_secure_transport exists from 10.5"
        return SECURE_TRANSPORT, "1" if v >= (11, 8) else "0", "RDS for MariaDB: default OFF before 11.8"
    if engine == "aurora-mysql":
        return SECURE_TRANSPORT, "0", "Aurora MySQL: default OFF"
    if engine == "aurora":
        return SECURE_TRANSPORT, None, "Aurora MySQL version 1 (MySQL 5.6) has no require_secure_transport"
    return None, None, f"engine {engine or 'unknown'} is not modelled by this check"


def _not_collected(operation: str, group: str, field: str) -> ApiCall:
    error = ApiError("NotCollected", f"no recorded {operation} answer for {group}", OPERATIONS[f"rds:{operation}"])
    return ApiCall("rds", operation, {field: group, "MaxRecords": PAGE_SIZE}, "", None, error)


def _lookup(
    bundle: EvidenceBundle, operation: str, field: str, group: str, parameter: str
) -> tuple[dict[str, Any] | None, ApiCall | None]:
    """(the parameter's entry in the group's listing or None, the failed call if the listing is incomplete)."""
    pages = [c for c in bundle.all("rds", operation) if c.params.get(field) == group]
    if not pages:
        return None, _not_collected(operation, group, field)
    for page in pages:
        for entry in (page.response or {}).get("Parameters") or []:
            if entry.get("ParameterName") == parameter:
                return entry, None
    return None, listing_error(pages)


def _judge(entry: dict[str, Any] | None, default: str | None, parameter: str) -> tuple[bool | None, str | None, str]:
    """(enforced, value, value source); enforced None = unrecognised value."""
    if entry is not None and entry.get("ParameterValue") is not None:
        value = str(entry["ParameterValue"])
        source = "set" if entry.get("Source") in (None, "user") else "engine default (reported by AWS)"
    elif default is None:
        return False, None, f"not available: this engine version has no {parameter}"
    else:
        value, source = default, "engine default (modelled)"
    low = value.strip().lower()
    if low in ON_VALUES:
        return True, value, source
    if low in OFF_VALUES:
        return False, value, source
    return None, value, source


@check(
    id="aws.rds.transport_encryption",
    collector="aws.rds",
    title="RDS databases refuse connections without TLS",
    description="Every standalone DB instance (DB parameter group) and every Aurora / Multi-AZ DB cluster (DB "
    "cluster parameter group) has rds.force_ssl = 1 (PostgreSQL, SQL Server, Aurora PostgreSQL) or "
    "require_secure_transport = ON (MySQL, MariaDB, Aurora MySQL). Whether the value is set or an engine default "
    "(reported by AWS, or modelled from AWS's documentation when the answer omits it) is observed; engines that do "
    "not enforce TLS by parameter (Oracle, Db2, RDS Custom, Neptune, DocumentDB) are not assessed.",
    severity=Severity.HIGH,
    resource_type=INSTANCE_TYPE,
    permissions=[
        "rds:DescribeDBInstances",
        "rds:DescribeDBClusters",
        "rds:DescribeDBParameters",
        "rds:DescribeDBClusterParameters",
    ],
    remediation="Use a custom parameter group (default groups cannot be changed) and set the parameter: "
    "aws rds modify-db-parameter-group --db-parameter-group-name GROUP --parameters "
    '"ParameterName=rds.force_ssl,ParameterValue=1,ApplyMethod=immediate" (MySQL/MariaDB: '
    "require_secure_transport=ON); for clusters use modify-db-cluster-parameter-group. Both parameters are dynamic.",
    risk="A database that accepts plain-text connections lets credentials and query results cross the network "
    "unencrypted whenever a client does not insist on TLS (libpq and JDBC default to 'prefer').",
)
def rds_transport_encryption(bundle: EvidenceBundle, ctx: CheckContext) -> Iterator[CheckResult]:
    listings = (
        ("DescribeDBInstances", "DBInstances", INSTANCE_TYPE, "DBInstanceIdentifier", "DBInstanceArn"),
        ("DescribeDBClusters", "DBClusters", CLUSTER_TYPE, "DBClusterIdentifier", "DBClusterArn"),
    )
    for operation, key, resource_type, id_field, arn_field in listings:
        failed = listing_failure(bundle, operation)
        if failed is not None:
            ev = bundle.ref("rds", operation)
            yield ctx.error(failed, evidence=ev, expected="TLS required", resource_type=resource_type)
        for item in items(bundle, operation, key):
            yield _assess(bundle, ctx, item, resource_type, item.get(id_field), item.get(arn_field))


def _assess(
    bundle: EvidenceBundle,
    ctx: CheckContext,
    item: dict[str, Any],
    resource_type: str,
    identifier: str | None,
    arn: str | None,
) -> CheckResult:
    is_cluster = resource_type == CLUSTER_TYPE
    resource_id = arn or identifier or "?"
    list_op = "DescribeDBClusters" if is_cluster else "DescribeDBInstances"
    kind = "cluster" if is_cluster else "instance"
    engine, version = item.get("Engine") or "", item.get("EngineVersion")
    parameter, default, why = engine_rule(engine, version)
    observed: dict[str, Any] = {"identifier": identifier, "engine": engine, "engine_version": version}
    expected: dict[str, Any] = {"parameter": parameter, "value": "1" if parameter == FORCE_SSL else "ON"}
    common: dict[str, Any] = {"resource_type": resource_type, "expected": expected, "observed": observed}
    cluster = None if is_cluster else item.get("DBClusterIdentifier")
    if cluster:
        observed["cluster"] = cluster
        return ctx.not_applicable(
            resource_id,
            evidence=bundle.ref("rds", list_op),
            reason=f"instance {identifier} is a member of cluster {cluster}: TLS enforcement is the cluster "
            "parameter group's, assessed on the cluster",
            **common,
        )
    if parameter is None:
        observed["assessed"] = False
        return ctx.not_applicable(
            resource_id, evidence=bundle.ref("rds", list_op), reason=f"not assessed: {why}", **common
        )
    if is_cluster:
        operation, field, group = "DescribeDBClusterParameters", "DBClusterParameterGroupName", None
        group, group_kind, apply_status = item.get("DBClusterParameterGroup"), "DB cluster parameter group", None
    else:
        operation, field, group = "DescribeDBParameters", "DBParameterGroupName", instance_parameter_group(item)
        group_kind = "DB parameter group"
        apply_status = ((item.get("DBParameterGroups") or [{}])[0]).get("ParameterApplyStatus")
    ev = bundle.refs_for(("rds", list_op), ("rds", operation))
    observed.update(parameter=parameter, parameter_group=group, parameter_group_kind=group_kind)
    if apply_status:
        observed["parameter_apply_status"] = apply_status
    entry, failed_call = (None, None) if group is None else _lookup(bundle, operation, field, group, parameter)
    if failed_call is not None:  # the listing stopped before the parameter was seen: not assessed
        return ctx.error(failed_call, resource_id, evidence=ev, expected=expected, resource_type=resource_type)
    enforced, value, source = _judge(entry, default, parameter)
    observed.update(value=value, value_source=source)
    where = f"{parameter} = {value} ({source}) in {group_kind} {group}"
    if enforced:
        return ctx.passed(resource_id, evidence=ev, reason=f"{kind} {identifier} requires TLS: {where}", **common)
    if enforced is None:
        return ctx.failed(
            resource_id, evidence=ev, reason=f"{kind} {identifier}: unrecognised value, {where}", **common
        )
    if value is None:
        return ctx.failed(
            resource_id, evidence=ev, reason=f"{kind} {identifier} cannot require TLS: {why}; upgrade", **common
        )
    return ctx.failed(
        resource_id, evidence=ev, reason=f"{kind} {identifier} accepts connections without TLS: {where}", **common
    )
