"""`soc2-evidence evaluate`, `drift`, `history`, `verify` and `package`: the commands that read stored runs.

Re-evaluating a run's evidence, the drift between two runs, the history of
runs with gaps in coverage, a run's files against its manifest, and a run
packaged as one zip for the auditor. A run may
be a directory or live in an evidence locker (s3://, gs://): it is then read
through a local cache. Registered by flows.cli through register(subparsers).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from flows.cli_common import EXIT_INTERNAL, EXIT_OK, BadInput, add_fail_on, fail_on_exit, parse_interval, print_drift
from flows.cli_common import local_view as _local_view
from flows.cli_common import resolve_run as _resolve_run


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


def _run_dir_arg(text: str) -> Path:
    """RUN_DIR, or a run in a locker: s3://bucket/prefix/runs/<run_id> (fetched whole to the cache)."""
    if "://" not in text:
        return Path(text)
    base, sep, run_id = text.rstrip("/").rpartition("/runs/")
    if not sep or not run_id:
        raise BadInput(f"{text}: expected <locker>/runs/<run_id>")
    return _local_view(base, [run_id]) / "runs" / run_id


def _previous_of(info):  # RunInfo -> RunInfo | None
    """The default --from: the newest earlier run that assessed everything (a partial run never is a baseline)."""
    from reports.store import completed_runs, drift_baseline

    siblings = completed_runs(info.path.parent.parent)
    ids = [r.run_id for r in siblings]
    i = ids.index(info.run_id) if info.run_id in ids else len(ids)
    return drift_baseline(siblings[:i])


def cmd_drift(args: argparse.Namespace) -> int:
    from reports.drift import compute_drift, load_run_controls, load_run_findings_fast
    from reports.drift_chain import failing_since_of
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
        from_started=frm.started_at if frm is not None else None,
        to_started=to.started_at,
        baseline_failing_since=failing_since_of(frm, {r.run_id: r for r in runs}) if frm is not None else None,
    )
    if args.format == "json":
        print(json.dumps(drift.to_json(), indent=2, ensure_ascii=False))
    else:
        print_drift(drift, args.limit)
    return fail_on_exit(drift, args.fail_on)


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
    if hist.forks:
        print(f"\n{len(hist.forks)} fork(s) in the hash chain (runs started at once on this output?):")
        for f in hist.forks:
            print(f"  {f.describe()}")
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


def cmd_package(args: argparse.Namespace) -> int:
    from reports.package import PackageError, package_run

    run_dir = _run_dir_arg(args.run_dir).resolve()
    target = Path(args.zip) if args.zip else run_dir.parent.parent / "packages" / f"{run_dir.name}.zip"
    try:
        pkg = package_run(run_dir, target)
    except PackageError as exc:
        raise BadInput(str(exc)) from None
    print(f"run {pkg.run_id}: {pkg.files} files packaged")
    print(f"Package: {pkg.path}")
    print(f"SHA-256: {pkg.sha256}")
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
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
    add_fail_on(dr, "--to")
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

    pk = sub.add_parser(
        "package", help="verify a run and write it as one zip for the auditor (workbook, evidence, manifest, README)"
    )
    pk.add_argument("run_dir", metavar="RUN", help="the run directory (or <locker>/runs/<run_id>)")
    pk.add_argument("--zip", help="where to write the zip (default: <output>/packages/<run_id>.zip)")
    pk.set_defaults(func=cmd_package)
