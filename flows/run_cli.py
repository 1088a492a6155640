"""`soc2-evidence run` and `soc2-evidence demo`: start an evidence run and print its summary.

The run itself is flows.run; the demo's estate is the top-level package demo. Registered by
flows.cli through register(subparsers).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from flows import console
from flows.cli_common import EXIT_OK, BadInput, add_fail_on, fail_on_exit, load_inputs, print_drift
from flows.gcp_projects import discovery_lines
from flows.local_api import LocalApi
from flows.regions import summary_lines


def print_summary(outcome) -> None:  # outcome: flows.finish.RunOutcome
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
    scope = outcome.manifest.get("scope", {})
    if region_lines := summary_lines(scope) + discovery_lines(scope.get("gcp_discovery")):
        print("Scope (regions per AWS account, GCP projects):")
        print("\n".join(region_lines))
    errors = statuses.get("error", 0)
    if errors:
        print(f"{errors} resources could not be assessed: see the Errors sheet for the missing permissions")
        throttled = sum(1 for f in outcome.findings if f.result.status == "error" and _throttled(f.result.observed))
        if throttled:
            print(
                f"  {throttled} of them because AWS throttled the calls after their aws.max_attempts: "
                "run again, or raise aws.max_attempts / set aws.retry_mode: adaptive"
            )
    print(f"Run directory: {outcome.run_dir}")
    print(f"Workbook:      {outcome.workbook}")


def _throttled(observed: object) -> bool:
    from collectors.aws.base import THROTTLING_CODES

    return isinstance(observed, dict) and observed.get("error_code") in THROTTLING_CODES


def cmd_run(args: argparse.Namespace) -> int:
    with LocalApi() as api:  # Prefect's API server, owned by this process (starts while we load)
        cfg = load_inputs(args.config)  # bad config or catalog: exit 2 before anything starts
        from flows.assessment import run_exit_code
        from flows.preflight import preflight_or_exit
        from flows.run import run_evidence
        from reports.locker import RunLocked

        preflight_or_exit(cfg, args.output)  # credentials, accounts, output: exit 2 in seconds, one message
        console.enable(verbose=args.verbose)  # progress display; warnings as plain lines
        with api.serving():
            try:
                outcome = run_evidence(
                    args.config, output=Path(args.output) if args.output else None, concurrency=args.concurrency
                )
            except RunLocked as exc:  # another run took the output after preflight
                raise BadInput(str(exc)) from None
    print_summary(outcome)
    if outcome.drift is not None:
        print()
        print_drift(outcome.drift, args.limit)
    code = run_exit_code(outcome.manifest)  # 3 when an account/project/endpoint was not assessed
    if args.fail_on and outcome.drift is not None:
        return fail_on_exit(outcome.drift, args.fail_on) or code  # 1 when a --fail-on choice applies
    return code


def cmd_demo(args: argparse.Namespace) -> int:
    from demo.run import run_demo
    from flows.access_review import describe_population

    console.enable(verbose=args.verbose)
    with LocalApi() as api, api.serving():
        outcome, review = run_demo(
            Path(args.output), concurrency=args.concurrency, workload_regions_only=args.workload_regions_only
        )
    print_summary(outcome)
    described, warnings = describe_population(review)
    print(
        f"\nAccess review {review.review_id} issued: {len(review.principals)} principals to decide ({described}) in\n"
        f"  {review.workbook}\n"
        "  (fill Decision, Reviewer, Reviewed on, Justification; then: soc2-evidence access-review complete FILE)"
    )
    for line in warnings:
        print(line)
    print_demo_period(Path(args.output))
    return EXIT_OK


def print_demo_period(output: Path) -> None:
    """The demo ends with the period report over every run in its output (run it again to add
    runs): the config's period, cut at today, at the shipped daily schedule."""
    from flows.config import load_config
    from flows.period import write_period_report

    cfg = load_config(output / "soc2-evidence.yaml")
    report = write_period_report(cfg.output, cfg.organization, cfg.period.start, cfg.period.end)
    tl = report.timeline
    print(
        f"\nPeriod report ({tl.first_day} to {tl.last_day}, {len(tl.runs)} run(s) so far, "
        f"{len(tl.gaps)} gap(s)):\n  {report.path}"
    )


def register(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run the evidence flow for a config")
    run.add_argument("--config", required=True, help="soc2-evidence.yaml")
    run.add_argument("--output", help="output directory (overrides the config's output:)")
    run.add_argument("--concurrency", type=int, help="tasks and in-flight API calls (default from config)")
    run.add_argument("--limit", type=int, default=20, help="drift rows printed per list (default 20)")
    add_fail_on(run, "the run")
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser("demo", help="run the flow on the embedded Dexo.chat demo estate (local emulators)")
    demo.add_argument("--output", default="demo-output", help="output directory (default demo-output)")
    demo.add_argument("--concurrency", type=int)
    demo.add_argument(
        "--workload-regions-only",
        action="store_true",
        help="examine only us-east-1 and eu-west-1 (where the demo estate lives); "
        "the other enabled regions are excluded with a reason (a quicker look)",
    )
    # every enabled region is the default now; the old flag is kept so scripts that pass it still work
    demo.add_argument("--all-regions", action="store_true", help=argparse.SUPPRESS)
    demo.set_defaults(func=cmd_demo)
