"""The `soc2-evidence` command line.

Exit codes: 0 a completed run or command (whatever the control results),
1 an internal failure (or a re-evaluation that does not match), 2 bad input
(config, catalog, run directory) — reported in one message, no traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2


def _quiet_prefect(verbose: bool) -> None:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        os.environ.setdefault("PREFECT_LOGGING_SERVER_LEVEL", "WARNING")


class BadInput(Exception):
    """Anything the user can fix; printed as-is, exit 2."""


def _load(config: str):  # -> AppConfig
    from controls.catalog import CatalogError, load_catalog
    from flows.config import ConfigError, load_config

    try:
        cfg = load_config(config)
    except ConfigError as exc:
        raise BadInput(exc.message) from None
    from collectors.registry import checks

    try:
        catalog = load_catalog(cfg.catalog, set(checks()))
    except CatalogError as exc:
        raise BadInput(exc.message) from None
    for w in catalog.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return cfg


def print_summary(outcome) -> None:  # outcome: flows.run.RunOutcome
    from collections import Counter

    rows = [("Control", "Status", "pass", "fail", "error", "n/a", "excepted", "Title")]
    for r in outcome.controls:
        c = r.counts
        rows.append(
            (
                r.control_id,
                str(r.status),
                str(c["pass"]),
                str(c["fail"]),
                str(c["error"]),
                str(c["not_applicable"]),
                str(c["excepted"]),
                r.title,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row[:-1], widths, strict=False)) + "  " + row[-1])
    statuses = Counter(str(f.result.status) for f in outcome.findings)
    print()
    print(
        f"Run {outcome.run_id}: {len(outcome.findings)} findings "
        f"({', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))}), {outcome.api_calls} API calls"
    )
    errors = statuses.get("error", 0)
    if errors:
        print(f"{errors} resources could not be assessed: see the Errors sheet for the missing permissions")
    print(f"Run directory: {outcome.run_dir}")
    print(f"Workbook:      {outcome.workbook}")


def cmd_run(args: argparse.Namespace) -> int:
    _load(args.config)  # bad config or catalog: exit 2 before anything starts
    from flows.run import run_evidence

    outcome = run_evidence(args.config, output=Path(args.output) if args.output else None, concurrency=args.concurrency)
    print_summary(outcome)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from flows.demo.run import run_demo

    outcome = run_demo(Path(args.output), concurrency=args.concurrency)
    print_summary(outcome)
    return EXIT_OK


def cmd_controls(args: argparse.Namespace) -> int:
    from collectors.registry import checks
    from controls.catalog import CatalogError, load_catalog

    path = None
    if args.config:
        path = _load(args.config).catalog
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
    policy = permissions.management_policy(args.role_name) if args.for_ == "management" else permissions.member_policy()
    print(json.dumps(policy, indent=2))
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    from flows.evaluate import RunDirError, reevaluate
    from reports.store import findings_bytes

    try:
        result = reevaluate(Path(args.run_dir))
    except RunDirError as exc:
        raise BadInput(str(exc)) from None
    if args.write:
        Path(args.write).write_bytes(findings_bytes(result.findings))
    for p in result.problems:
        print(f"integrity: {p}")
    for d in result.differences[:50]:
        print(d)
    if result.identical:
        print(
            f"run {result.run_id}: re-evaluated {len(result.findings)} findings from {result.evidence_files} "
            "evidence files: identical to findings.jsonl"
        )
        return EXIT_OK
    print(
        f"run {result.run_id}: re-evaluation does NOT match the stored findings "
        f"({len(result.differences)} differences, {len(result.problems)} integrity problems)"
    )
    return EXIT_INTERNAL


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="soc2-evidence", description="Collect SOC 2 evidence and write the audit workbook."
    )
    p.add_argument("--verbose", action="store_true", help="show Prefect's task logs")
    p.add_argument("--debug", action="store_true", help="print tracebacks of internal errors")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the evidence flow for a config")
    run.add_argument("--config", required=True, help="soc2-evidence.yaml")
    run.add_argument("--output", help="output directory (overrides the config's output:)")
    run.add_argument("--concurrency", type=int, help="tasks and in-flight API calls (default from config)")
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser("demo", help="run the flow on the embedded Dexo.chat demo estate (local emulators)")
    demo.add_argument("--output", default="demo-output", help="output directory (default demo-output)")
    demo.add_argument("--concurrency", type=int)
    demo.set_defaults(func=cmd_demo)

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
        choices=["member", "management"],
        default="member",
        help="member: the role assumed in each account; management: the identity running the flow",
    )
    perm.add_argument("--role-name", default="soc2-evidence-reader")
    perm.add_argument("--format", choices=["json", "table"], default="json")
    perm.set_defaults(func=cmd_permissions)

    ev = sub.add_parser("evaluate", help="re-run the checks on a stored run's evidence and compare")
    ev.add_argument("run_dir")
    ev.add_argument("--write", help="also write the re-evaluated findings.jsonl here")
    ev.set_defaults(func=cmd_evaluate)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _quiet_prefect(args.verbose)
    try:
        return int(args.func(args))
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # e.g. `soc2-evidence checks | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        print(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
