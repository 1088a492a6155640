"""What every `soc2-evidence` command shares: exit codes, the bad-input error, and loading a config.

Separate from flows.cli so the command modules (run_cli, catalog_cli,
stored_runs_cli, access_review_cli, schedule_cli) and the CLI that registers
them all import it, and none imports another: the arrows point one way.

Exit codes: 0 a completed run or command (whatever the control results),
1 an internal failure (or a re-evaluation that does not match, or a `--fail-on`
condition that applies), 2 bad input (config, catalog, run directory) — reported
in one message, no traceback.

`--fail-on` (`run` and `drift`, repeatable): `new-failures` (a resource newly
failing since the baseline), `any-failure` (any finding `fail`), `errors` (any
finding `error`, not assessed); reports.fail_on says exactly what each means.
"""

from __future__ import annotations

import argparse
import sys

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2


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
