"""What every `soc2-evidence` command shares: exit codes, the bad-input error, loading a config,
and reading stored runs (a directory, or a bucket through a local cache; a run by ID or folder).

Separate from flows.cli so the command modules (run_cli, catalog_cli, period_cli,
stored_runs_cli, access_review_cli, schedule_cli) and the CLI that registers
them all import it, and none imports another: the arrows point one way.

Exit codes: 0 a completed run or command (whatever the control results),
1 an internal failure (or a re-evaluation that does not match), 2 bad input
(config, catalog, run directory) or a failed preflight — reported in one
message, no traceback; 3 a run that finished but is incomplete: an account,
project or endpoint could not be assessed at all (flows.assessment).

`--fail-on` (`run` and `drift`, repeatable): `new-failures` (a resource newly
failing since the baseline), `any-failure` (any finding `fail`), `errors` (any
finding `error`, not assessed) exit 1 when they apply; reports.fail_on says
exactly what each means.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_INCOMPLETE = 0, 1, 2, 3


class BadInput(Exception):
    """Anything the user can fix; printed as-is, exit 2."""


def load_inputs(config: str):  # -> AppConfig
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


def locker_cache(loc: Any) -> Path:
    """Where a bucket's runs are fetched to: $SOC2_EVIDENCE_CACHE, else ~/.cache/soc2-evidence."""
    base = Path(os.environ.get("SOC2_EVIDENCE_CACHE", Path.home() / ".cache" / "soc2-evidence"))
    return base / loc.kind / loc.bucket / (loc.prefix or "_root")


def local_view(where: str, run_ids: list[str] | None = None, files: Any = None) -> Path:
    """A local directory with the runs of `where` (a directory, or a bucket fetched to a cache)."""
    from reports.locker import LocationError, LockerError, open_locker, parse_location

    try:
        loc = parse_location(where)
        if not loc.is_remote:
            return Path(where)
        return open_locker(loc).materialise(locker_cache(loc), run_ids, files=files)
    except LocationError as exc:
        raise BadInput(f"{where}: {exc}") from None
    except LockerError as exc:
        raise BadInput(str(exc)) from None


def resolve_run(spec: str, output: Path, runs: list):  # -> reports.store.RunInfo
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


def parse_interval(text: str):  # -> timedelta
    """An interval option (6h, 1d, 7d; units m, h, d, w) for argparse's type=."""
    import re
    from datetime import timedelta

    m = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", text or "")
    if not m or int(m.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"invalid interval {text!r}: expected e.g. 6h, 1d, 7d (units m, h, d, w)")
    unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
    return timedelta(**{unit: int(m.group(1))})


def add_fail_on(parser: argparse.ArgumentParser, which: str) -> None:
    """The `--fail-on` option, the same for `run` and `drift` (`which`: the run it judges)."""
    from reports.fail_on import FAIL_ON_CHOICES

    parser.add_argument(
        "--fail-on",
        action="append",
        choices=FAIL_ON_CHOICES,
        metavar="{" + ",".join(FAIL_ON_CHOICES) + "}",
        help=f"exit 1 when {which} has newly failing resources (new-failures), any failing finding (any-failure) "
        "or any finding not assessed (errors); repeat to combine. Without it the exit code ignores the results",
    )


def fail_on_exit(drift, choices) -> int:  # drift: reports.drift.Drift
    """EXIT_INTERNAL (1) when a `--fail-on` choice applies, with the reason on stderr; else EXIT_OK."""
    from reports.fail_on import fail_on_reasons

    reasons = fail_on_reasons(drift, choices)
    for reason in reasons:
        print(f"failing: {reason}", file=sys.stderr)
    return EXIT_INTERNAL if reasons else EXIT_OK


def print_drift(drift, limit: int) -> None:  # drift: reports.drift.Drift
    """Drift as a table: counts, controls that changed, the first `limit` items of each list with
    the check's severity and since when the resource has been failing."""
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
            since = it.get("failing_since_at") or it.get("failing_since")
            print(
                f"  {it.get('severity') or '-':8} {it['check_id']:32} {where:28} {it['resource_id']}  "
                f"({it['from'] or 'absent'} -> {it['to'] or 'absent'}"
                f"{f', failing since {since[:10]}' if since else ''}) {it['reason']}"
            )
        if len(items) > limit:
            print(f"  ... and {len(items) - limit} more (--format json lists them all)")
    if drift.new:
        print(f"\n{len(drift.new)} new resource(s) this run")
