"""`soc2-evidence controls`, `checks` and `permissions`: what the tool checks and what it needs.

Read-only views of the control catalog, the check registry and the IAM / GCP
permissions the checks' fetches need; nothing is collected. Registered by
flows.cli through register(subparsers).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from flows.cli_common import EXIT_OK, BadInput, load_inputs


def cmd_controls(args: argparse.Namespace) -> int:
    from collectors.registry import checks
    from controls.catalog import CatalogError, load_catalog

    path = None
    if args.config:
        path = load_inputs(args.config).catalog
    if args.catalog:
        path = Path(args.catalog)
    known = checks()
    try:
        catalog = load_catalog(path, set(known))
    except CatalogError as exc:
        raise BadInput(exc.message) from None
    if args.format == "json":
        print(
            json.dumps(
                {
                    "source": catalog.source,
                    "controls": [c.model_dump(mode="json") for c in catalog.controls],
                    "criteria_without_automated_evidence": catalog.uncovered_criteria(),
                    "warnings": list(catalog.warnings),
                },
                indent=2,
            )
        )
        return EXIT_OK
    print(f"Catalog: {catalog.source}\n")
    for ctl in catalog.controls:
        print(f"{ctl.id}  {ctl.title}  [{ctl.frequency}]")
        for crit in ctl.criteria:
            print(f"  criterion {crit}: {catalog.criteria.get(crit, '?')}")
        for chk in ctl.checks:
            title = known[chk].spec.title if chk in known else "?"
            print(f"  check     {chk}: {title}")
        print()
    uncovered = catalog.uncovered_criteria()
    print(f"Criteria with no automated evidence ({len(uncovered)} of {len(catalog.criteria)}):")
    print("  " + ", ".join(uncovered))
    for w in catalog.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return EXIT_OK


def cmd_checks(args: argparse.Namespace) -> int:
    from collectors.registry import checks

    registered = checks()
    if args.format == "json":
        rows = []
        for cid, chk in sorted(registered.items()):
            spec = chk.spec
            rows.append(
                {
                    "id": cid,
                    "title": spec.title,
                    "description": spec.description,
                    "severity": str(spec.severity),
                    "resource_type": spec.resource_type,
                    "collector": chk.collector,
                    "permissions": list(spec.permissions),
                    "thresholds": dict(spec.thresholds),
                    "remediation": spec.remediation,
                    "risk": spec.risk,
                }
            )
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for cid, chk in sorted(registered.items()):
        spec = chk.spec
        print(f"{cid}  [{spec.severity}]  {spec.title}")
        print(f"  resource:    {spec.resource_type}")
        print(f"  permissions: {', '.join(spec.permissions)}")
        if spec.thresholds:
            print(f"  thresholds:  {json.dumps(dict(spec.thresholds))}")
        print(f"  remediation: {spec.remediation}")
        print()
    return EXIT_OK


def cmd_permissions(args: argparse.Namespace) -> int:
    from flows import permissions

    if args.format == "table":
        for cid, severity, perms in permissions.permissions_table():
            print(f"{cid:34} {severity:9} {perms}")
        return EXIT_OK
    if args.for_ == "gcp":
        print(json.dumps(permissions.gcp_custom_role(), indent=2))
        return EXIT_OK
    if args.for_ == "init":
        print(json.dumps(permissions.init_policy(), indent=2))
        return EXIT_OK
    policy = permissions.management_policy(args.role_name) if args.for_ == "management" else permissions.member_policy()
    print(json.dumps(policy, indent=2))
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    ctl = sub.add_parser("controls", help="print the control catalog: control -> criteria -> checks")
    ctl.add_argument("--config", help="use the catalog named by this config")
    ctl.add_argument("--catalog", help="a catalog YAML file")
    ctl.add_argument("--format", choices=["text", "json"], default="text")
    ctl.set_defaults(func=cmd_controls)

    chk = sub.add_parser("checks", help="list every check with its metadata, thresholds and permissions")
    chk.add_argument("--format", choices=["text", "json"], default="text")
    chk.set_defaults(func=cmd_checks)

    perm = sub.add_parser("permissions", help="print the least-privilege IAM policy the checks need")
    perm.add_argument(
        "--for",
        dest="for_",
        choices=["member", "management", "gcp", "init"],
        default="member",
        help="member: the role assumed in each AWS account; management: the identity running the flow; "
        "gcp: the GCP custom role (and a predefined role) for the GCP checks; "
        "init: what `soc2-evidence init` reads to write a starting config",
    )
    perm.add_argument("--role-name", default="soc2-evidence-reader")
    perm.add_argument("--format", choices=["json", "table"], default="json")
    perm.set_defaults(func=cmd_permissions)
