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
from typing import Any

from flows.prefect_env import apply_prefect_defaults

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2


class BadInput(Exception):
    """Anything the user can fix; printed as-is, exit 2."""


def _load(config: str):  # -> AppConfig
    """The config and every file it names, validated before anything runs (exit 2 on a problem)."""
    from collectors.registry import checks
    from controls.catalog import load_catalog
    from controls.commitments import load_commitments
    from controls.exceptions import load_exceptions
    from controls.inputfile import InputFileError
    from flows.config import ConfigError, load_config

    try:
        cfg = load_config(config)
        known = set(checks())
        catalog = load_catalog(cfg.catalog, known)
        if cfg.exceptions:
            load_exceptions(cfg.exceptions, known)
        if cfg.commitments:
            load_commitments(cfg.commitments, [c.id for c in catalog.controls])
    except (ConfigError, InputFileError) as exc:
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
    from demo.run import run_demo

    outcome, review = run_demo(Path(args.output), concurrency=args.concurrency)
    print_summary(outcome)
    print(
        f"\nAccess review {review.review_id} issued: {len(review.principals)} principals to decide in\n"
        f"  {review.workbook}\n"
        "  (fill Decision, Reviewer, Reviewed on, Justification; then: soc2-evidence access-review complete FILE)"
    )
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
    if args.for_ == "gcp":
        print(json.dumps(permissions.gcp_custom_role(), indent=2))
        return EXIT_OK
    policy = permissions.management_policy(args.role_name) if args.for_ == "management" else permissions.member_policy()
    print(json.dumps(policy, indent=2))
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    from flows.evaluate import RunDirError, reevaluate
    from reports.store import findings_bytes

    try:
        result = reevaluate(_run_dir_arg(args.run_dir))
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


# --------------------------------------------------------------------------- drift, history, verify


def _output_dir(args: argparse.Namespace) -> Path:
    """--output, else the output: of --config, else the default output folder.
    An evidence locker (s3://, gs://) is read through a local cache, as a directory."""
    if getattr(args, "output", None):
        where = str(args.output)
    elif getattr(args, "config", None):
        from flows.config import ConfigError, load_config

        try:
            where = load_config(args.config).output
        except ConfigError as exc:
            raise BadInput(exc.message) from None
    else:
        from flows.config import DEFAULT_OUTPUT

        where = DEFAULT_OUTPUT
    from reports.locker import DRIFT_FILES

    return _local_view(where, files=DRIFT_FILES)  # manifest, findings, controls: enough for history and drift


def _locker_cache(loc: Any) -> Path:
    base = Path(os.environ.get("SOC2_EVIDENCE_CACHE", Path.home() / ".cache" / "soc2-evidence"))
    return base / loc.kind / loc.bucket / (loc.prefix or "_root")


def _local_view(where: str, run_ids: list[str] | None = None, files: Any = None) -> Path:
    """A local directory with the runs of `where` (a directory, or a bucket fetched to a cache)."""
    from reports.locker import LocationError, LockerError, open_locker, parse_location

    try:
        loc = parse_location(where)
        if not loc.is_remote:
            return Path(where)
        return open_locker(loc).materialise(_locker_cache(loc), run_ids, files=files)
    except LocationError as exc:
        raise BadInput(f"{where}: {exc}") from None
    except LockerError as exc:
        raise BadInput(str(exc)) from None


def _run_dir_arg(text: str) -> Path:
    """RUN_DIR, or a run in a locker: s3://bucket/prefix/runs/<run_id> (fetched whole to the cache)."""
    if "://" not in text:
        return Path(text)
    base, sep, run_id = text.rstrip("/").rpartition("/runs/")
    if not sep or not run_id:
        raise BadInput(f"{text}: expected <locker>/runs/<run_id>")
    return _local_view(base, [run_id]) / "runs" / run_id


def _resolve_run(spec: str, output: Path, runs: list):  # -> reports.store.RunInfo
    """A completed run by directory or run ID (a unique prefix of one is enough)."""
    from reports.store import MANIFEST, completed_runs

    path = Path(spec)
    if path.is_dir() and (path / MANIFEST).exists():
        for info in completed_runs(path.resolve().parent.parent):
            if info.path.name == path.resolve().name:
                return info
        raise BadInput(f"{spec}: not a completed run (manifest unreadable or status not 'completed')")
    if path.is_dir():
        raise BadInput(f"{spec}: no manifest.json here (not a run directory, or an incomplete run)")
    exact = [r for r in runs if r.run_id == spec]
    matches = exact or [r for r in runs if r.run_id.startswith(spec)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise BadInput(f"run {spec!r}: not found among the completed runs in {output / 'runs'}")
    raise BadInput(f"run {spec!r}: ambiguous, matches {', '.join(r.run_id for r in matches[:5])}")


def _previous_of(info):  # RunInfo -> RunInfo | None
    from reports.store import completed_runs

    siblings = completed_runs(info.path.parent.parent)
    ids = [r.run_id for r in siblings]
    i = ids.index(info.run_id) if info.run_id in ids else len(ids)
    return siblings[i - 1] if i > 0 else None


def cmd_drift(args: argparse.Namespace) -> int:
    from reports.drift import compute_drift, load_run_controls, load_run_findings_fast
    from reports.store import completed_runs

    output = _output_dir(args)
    runs = completed_runs(output)
    if args.to:
        to = _resolve_run(args.to, output, runs)
    elif runs:
        to = runs[-1]
    else:
        raise BadInput(f"{output}: no completed runs in {output / 'runs'}")
    frm = _resolve_run(args.from_, output, runs) if args.from_ else _previous_of(to)
    if frm is not None and frm.path.resolve() == to.path.resolve():
        raise BadInput(f"--from and --to are the same run ({to.run_id})")
    try:
        current = load_run_findings_fast(to.path)
        previous = load_run_findings_fast(frm.path) if frm is not None else None
    except FileNotFoundError as exc:
        raise BadInput(f"{exc.filename}: missing (check the run with `soc2-evidence verify`)") from None
    except (ValueError, KeyError) as exc:
        raise BadInput(f"findings.jsonl unreadable: {exc}") from None
    drift = compute_drift(
        previous,
        current,
        load_run_controls(frm.path) if frm is not None else None,
        load_run_controls(to.path),
        from_run=frm.run_id if frm is not None else None,
        to_run=to.run_id,
    )
    if args.format == "json":
        print(json.dumps(drift.to_json(), indent=2, ensure_ascii=False))
    else:
        _print_drift(drift, args.limit)
    if args.fail_on == "new-failures" and drift.has_new_failures:
        return EXIT_INTERNAL
    return EXIT_OK


def _print_drift(drift, limit: int) -> None:  # drift: reports.drift.Drift
    print(drift.summary())
    if not drift.baseline:
        return
    if drift.controls:
        print("\nControls that changed status:")
        for c in drift.controls:
            print(f"  {c['control_id']:12} {c['from'] or '(absent)':>11} -> {c['to'] or '(absent)':11}  {c['title']}")
    for cat, title in (
        ("newly_failing", "Newly failing"),
        ("newly_erroring", "Newly not assessed (error)"),
        ("resolved", "Resolved"),
        ("newly_excepted", "Newly excepted"),
        ("gone", "Gone"),
    ):
        items = getattr(drift, cat)
        if not items:
            continue
        print(f"\n{title} ({len(items)}):")
        for it in items[:limit]:
            where = f"{it['account']}/{it['region']}"
            print(
                f"  {it['check_id']:32} {where:28} {it['resource_id']}  "
                f"({it['from'] or 'absent'} -> {it['to'] or 'absent'}) {it['reason']}"
            )
        if len(items) > limit:
            print(f"  ... and {len(items) - limit} more (--format json lists them all)")
    if drift.new:
        print(f"\n{len(drift.new)} new resource(s) this run")


def parse_interval(text: str):  # -> timedelta
    import re
    from datetime import timedelta

    m = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", text or "")
    if not m or int(m.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"invalid interval {text!r}: expected e.g. 6h, 1d, 7d (units m, h, d, w)")
    unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
    return timedelta(**{unit: int(m.group(1))})


def cmd_history(args: argparse.Namespace) -> int:
    from reports.history import CONTROL_STATUSES, format_duration, run_history

    output = _output_dir(args)
    if not (output / "runs").is_dir():
        raise BadInput(f"{output}: no runs folder ({output / 'runs'} does not exist)")
    hist = run_history(output, args.expected_interval)
    if args.format == "json":
        print(json.dumps(hist.to_json(), indent=2))
        return EXIT_OK
    period = f", audit period {hist.period[0]} to {hist.period[1]}" if hist.period else ""
    print(f"{len(hist.runs)} completed run(s) in {output / 'runs'}{period}\n")
    header = ("Run", "Started (UTC)", *CONTROL_STATUSES, "Gap before", "Note")
    rows = [header]
    for r in hist.rows():
        rows.append(
            (
                r["run_id"],
                r["started_at"],
                *("?" if r[s] is None else str(r[s]) for s in CONTROL_STATUSES),
                f"GAP {r['gap_before']}" if r["gap_before"] else "",
                r["note"],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    if hist.expected_interval is None:
        print("\n(pass --expected-interval, e.g. 1d, to flag gaps in coverage)")
    elif hist.gaps:
        print(f"\n{len(hist.gaps)} gap(s) longer than the expected interval {format_duration(hist.expected_interval)}:")
        for g in hist.gaps:
            print(f"  {g.describe()}")
    else:
        print(f"\nno gaps longer than {format_duration(hist.expected_interval)}")
    if hist.incomplete:
        print(f"\n{len(hist.incomplete)} incomplete run(s) (never used as a baseline):")
        for r in hist.incomplete:
            print(f"  {r.run_id}: {r.reason}")
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from reports.verify import VerifyInputError, verify_run

    try:
        run_dir = _run_dir_arg(args.run_dir)
        report = verify_run(run_dir, Path(args.output) if args.output else None)
    except VerifyInputError as exc:
        raise BadInput(str(exc)) from None
    if args.format == "json":
        print(json.dumps(report.to_json(), indent=2))
        return EXIT_OK if report.ok else EXIT_INTERNAL
    for p in report.problems:
        print(p)
    for n in report.notes:
        print(f"note: {n}")
    if report.ok:
        print(f"run {report.run_id}: intact ({report.files_checked} files match the manifest)")
        return EXIT_OK
    print(f"run {report.run_id}: {len(report.problems)} problem(s): altered, removed or added files")
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
        choices=["member", "management", "gcp"],
        default="member",
        help="member: the role assumed in each AWS account; management: the identity running the flow; "
        "gcp: the GCP custom role (and a predefined role) for the GCP checks",
    )
    perm.add_argument("--role-name", default="soc2-evidence-reader")
    perm.add_argument("--format", choices=["json", "table"], default="json")
    perm.set_defaults(func=cmd_permissions)

    ev = sub.add_parser("evaluate", help="re-run the checks on a stored run's evidence and compare")
    ev.add_argument("run_dir")
    ev.add_argument("--write", help="also write the re-evaluated findings.jsonl here")
    ev.set_defaults(func=cmd_evaluate)

    dr = sub.add_parser("drift", help="what changed between two completed runs")
    dr.add_argument(
        "--from", dest="from_", metavar="RUN", help="baseline run ID or directory (default: the run before --to)"
    )
    dr.add_argument("--to", metavar="RUN", help="run ID or directory (default: the latest completed run)")
    dr.add_argument(
        "--output", help="output directory holding runs/ (default: the config's output, else ./soc2-evidence-output)"
    )
    dr.add_argument("--config", help="take the output directory from this config")
    dr.add_argument("--format", choices=["table", "json"], default="table")
    dr.add_argument("--limit", type=int, default=50, help="rows per list in the table (default 50)")
    dr.add_argument("--fail-on", choices=["new-failures"], help="exit 1 when a resource is newly failing")
    dr.set_defaults(func=cmd_drift)

    hi = sub.add_parser("history", help="completed runs with control-status counts, gaps in coverage, incomplete runs")
    hi.add_argument("--output", help="output directory holding runs/")
    hi.add_argument("--config", help="take the output directory from this config")
    hi.add_argument("--expected-interval", type=parse_interval, help="flag gaps longer than this (6h, 1d, 7d)")
    hi.add_argument("--format", choices=["table", "json"], default="table")
    hi.set_defaults(func=cmd_history)

    ve = sub.add_parser("verify", help="check a run's files against its manifest and the manifest hash chain")
    ve.add_argument("run_dir")
    ve.add_argument("--output", help="output directory holding runs/ (default: the run directory's parent)")
    ve.add_argument("--format", choices=["text", "json"], default="text")
    ve.set_defaults(func=cmd_verify)
    from flows.access_review_cli import register as register_access_review

    register_access_review(sub)
    from flows.schedule_cli import register as register_schedule

    register_schedule(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    apply_prefect_defaults(verbose=args.verbose)
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
