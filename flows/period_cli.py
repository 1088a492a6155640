"""`soc2-evidence period` and `soc2-evidence sample`: the audit period and the auditor's samples.

`period --config FILE [--from DATE --to DATE] [--interval 7d]` writes
`<organization>-SOC2-period-<from>-<to>.xlsx` over every completed run of the period
(reports.period); `sample RUN_OR_PERIOD --control ID [--size N] [--seed S]` draws a
reproducible sample of a control's population and records it in a small workbook and a JSON
file (reports.sample). Runs are read from the config's output (a directory or a bucket, through
flows.period). Registered by flows.cli through register(subparsers).
"""

from __future__ import annotations

import argparse
import re
import secrets
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

from flows.cli_common import EXIT_OK, BadInput, local_view, parse_interval, resolve_run

_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid date {text!r}: expected YYYY-MM-DD") from None


def _config(path: str):  # -> AppConfig
    from flows.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        raise BadInput(exc.message) from None


def _view(where: str, run_ids: Sequence[str] | None, files: Sequence[str] | None) -> Path:
    return local_view(where, list(run_ids) if run_ids is not None else None, files)


def cmd_period(args: argparse.Namespace) -> int:
    from flows.period import write_period_report
    from reports.history import format_duration
    from reports.period import PeriodError

    cfg = _config(args.config)
    first = args.from_ or cfg.period.start
    last = args.to or cfg.period.end
    where = str(args.output or cfg.output)
    try:
        report = write_period_report(
            where,
            cfg.organization,
            first,
            last,
            _view,
            interval=args.interval,
            matrix=args.matrix,
            out_dir=Path(args.out_dir) if args.out_dir else None,
        )
    except PeriodError as exc:
        raise BadInput(str(exc)) from None
    print_period(report, format_duration)
    return EXIT_OK


def print_period(report, format_duration) -> None:  # report: reports.period.PeriodReport
    from reports.period.timeline import SHARE_BUCKETS

    tl = report.timeline
    print(
        f"Period {tl.first_day} to {tl.last_day}: {len(tl.runs)} completed run(s), {tl.expected_runs} expected "
        f"(one per {format_duration(tl.interval)})"
    )
    for gap in tl.gaps:
        print(f"  {gap.describe()}")
    problems = tl.chain_problems() + [c.problem for c in report.scanned.counts.values() if c.problem]
    if tl.runs:
        print(f"Hash chain: {'verified' if not problems else f'{len(problems)} problem(s)'} across the period")
    for p in problems:
        print(f"  {p}")
    if tl.control_ids():
        print(f"Share of the period per control ({', '.join(SHARE_BUCKETS).replace('_', ' ')}):")
    for cid in tl.control_ids():
        shares = tl.shares(cid)
        print(f"  {cid:12} " + "  ".join(f"{shares[b] * 100:6.2f}%" for b in SHARE_BUCKETS))
    print(f"Period report: {report.path}")


def _sample_runs(args: argparse.Namespace, cfg) -> tuple[str, str, list, Path]:  # (source, label, runs, local)
    from flows.period import PERIOD_FILES, period_view
    from reports.period.timeline import midnight, run_started
    from reports.store import completed_runs

    spec = args.run_or_period
    if Path(spec).is_dir():  # a run folder: read in place
        run = resolve_run(spec, Path(spec).parent.parent, [])
        return f"run {run.run_id}", run.run_id, [run], run.path.parent.parent
    where = str(args.output or (cfg.output if cfg else None) or "")
    if not where:
        raise BadInput("sample needs --config or --output to find the runs (or a run folder)")
    found = _RANGE.match(spec)
    if spec == "period" or found:
        if found:
            first, last = date.fromisoformat(found.group(1)), date.fromisoformat(found.group(2))
        elif cfg is None:
            raise BadInput("`sample period` takes the period from --config")
        else:
            first, last = cfg.period.start, cfg.period.end
        local = period_view(where, first, last, _view)
        lo, hi = midnight(first), midnight(last)
        runs = [r for r in completed_runs(local) if lo <= run_started(r) < hi + timedelta(days=1)]
        if not runs:
            raise BadInput(f"no completed run between {first} and {last} in {where}")
        return f"period {first} to {last}", f"{first}-{last}", runs, local
    manifests = _view(where, None, ("manifest.json",))
    run = resolve_run(spec, manifests, completed_runs(manifests))
    local = _view(where, [run.run_id], PERIOD_FILES)
    stored = next(r for r in completed_runs(local) if r.run_id == run.run_id)
    return f"run {run.run_id}", run.run_id, [stored], local


def cmd_sample(args: argparse.Namespace) -> int:
    from flows.period import SAMPLES_FOLDER, default_out_dir
    from reports.sample import SampleError, draw_sample, write_sample_files

    cfg = _config(args.config) if args.config else None
    source, label, runs, local = _sample_runs(args, cfg)
    seed = args.seed if args.seed is not None else str(secrets.randbelow(10**9))
    try:
        sample = draw_sample(runs, args.control, seed, size=args.size, source=source, label=label)
    except SampleError as exc:
        raise BadInput(str(exc)) from None
    organization = cfg.organization if cfg else str(runs[-1].manifest.get("organization") or "organization")
    where = str(args.output or (cfg.output if cfg else local))
    out_dir = Path(args.out_dir) if args.out_dir else default_out_dir(where, local, SAMPLES_FOLDER)
    xlsx, js = write_sample_files(sample, out_dir, organization)
    print(
        f"Sample of {sample.control_id} ({sample.frequency}) from {sample.source}: {sample.size} of "
        f"{sample.population_size} items, seed {sample.seed}"
    )
    print(f"Population SHA-256: {sample.population_sha256}")
    for n, item in enumerate(sample.items, 1):
        f = item.fields()
        print(f"  {n:3}. {f['check_id']:32} {f['account']}/{f['region']}  {f['resource_id']}  [{f['status']}]")
    print(f"Sample workbook: {xlsx}\nSample JSON:     {js}")
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    pe = sub.add_parser("period", help="the audit-period workbook: control × time matrix, gaps, exceptions timeline")
    pe.add_argument("--config", required=True, help="soc2-evidence.yaml (organization, period, output)")
    pe.add_argument("--from", dest="from_", type=_date, metavar="DATE", help="first day (default: the config's)")
    pe.add_argument("--to", type=_date, metavar="DATE", help="last day, inclusive (default: the config's)")
    pe.add_argument("--interval", type=parse_interval, help="the schedule's interval, e.g. 1d, 7d (default 1d)")
    pe.add_argument("--matrix", choices=["auto", "runs", "weeks"], default="auto", help="matrix columns")
    pe.add_argument("--output", help="where the runs are (default: the config's output)")
    pe.add_argument("--out-dir", help="folder for the workbook (default: <output>/period-reports, or ./ for a bucket)")
    pe.set_defaults(func=cmd_period)

    sa = sub.add_parser("sample", help="a reproducible random sample of a control's population, for the auditor")
    sa.add_argument("run_or_period", metavar="RUN_OR_PERIOD", help="run ID or folder, FROM..TO, or 'period'")
    sa.add_argument("--control", required=True, help="control ID, e.g. ENC-01")
    sa.add_argument("--size", type=int, help="items to draw (default: by the control's frequency)")
    sa.add_argument("--seed", help="any text; the same seed re-draws the same sample (default: a random one)")
    sa.add_argument("--config", help="take the output, organization and period from this config")
    sa.add_argument("--output", help="where the runs are (overrides the config's output)")
    sa.add_argument("--out-dir", help="folder for the sample files (default: <output>/samples, or ./ for a bucket)")
    sa.set_defaults(func=cmd_sample)
