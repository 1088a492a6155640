"""`soc2-evidence schedule` and `soc2-evidence serve`: see flows.deploy.

Registered by flows.cli through register(subparsers); bad input (config,
cron, time zone, no Prefect server for `schedule`) raises flows.cli_common.BadInput
(exit 2, one message).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from flows.cli_common import EXIT_OK, BadInput, load_inputs


def _env_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _schedule(args: argparse.Namespace):  # -> prefect.schedules.Schedule
    from flows.deploy import cron_schedule
    from flows.task_runners import DeployError

    try:
        return cron_schedule(args.cron, args.timezone)
    except DeployError as exc:
        raise BadInput(str(exc)) from None


def cmd_schedule(args: argparse.Namespace) -> int:
    from flows.deploy import deploy_evidence_run, full_deployment_name
    from flows.task_runners import DeployError, api_url

    load_inputs(args.config)  # a bad config fails now, not at 06:00
    _schedule(args)
    url = api_url()
    if not url:
        raise BadInput(
            "schedule registers a deployment on a Prefect server, and none is configured: set PREFECT_API_URL "
            "(`prefect server start`, or Prefect Cloud via `prefect cloud login`), or run the schedule on this "
            "machine with `soc2-evidence serve`"
        )
    job_variables = {"env": dict(args.env)} if args.env else None
    try:
        deployment_id = deploy_evidence_run(
            args.config,
            cron=args.cron,
            timezone=args.timezone,
            name=args.name,
            work_pool=args.work_pool,
            job_variables=job_variables,
            paused=args.paused,
        )
    except DeployError as exc:
        raise BadInput(str(exc)) from None
    full = full_deployment_name(args.name)
    print(f"Deployment {full} ({deployment_id}) on {url}")
    print(f"Schedule:   {args.cron} ({args.timezone}){' (paused)' if args.paused else ''}")
    print(f"Config:     {Path(args.config).expanduser().resolve()}")
    print(f"Work pool:  {args.work_pool}: start a worker on this machine with")
    print(f"    prefect worker start --pool {args.work_pool}")
    print(f"Run it now: prefect deployment run '{full}'")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from flows.deploy import serve_evidence_run

    load_inputs(args.config)
    _schedule(args)
    print(f"Serving {args.name}: {args.cron} ({args.timezone}), config {Path(args.config).resolve()}; Ctrl-C stops")
    serve_evidence_run(args.config, cron=args.cron, timezone=args.timezone, name=args.name)
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    from flows.deploy import DEFAULT_DEPLOYMENT, DEFAULT_TIMEZONE, DEFAULT_WORK_POOL

    sc = subparsers.add_parser(
        "schedule", help="register a Prefect deployment of the evidence run on a cron schedule (needs a server)"
    )
    sc.add_argument("--config", required=True, help="soc2-evidence.yaml (stored as an absolute path)")
    sc.add_argument("--cron", required=True, help='cron expression, e.g. "0 6 * * *"')
    sc.add_argument("--timezone", default=DEFAULT_TIMEZONE, help="IANA time zone of the cron (default UTC)")
    sc.add_argument("--name", default=DEFAULT_DEPLOYMENT, help=f"deployment name (default {DEFAULT_DEPLOYMENT})")
    sc.add_argument(
        "--work-pool",
        default=DEFAULT_WORK_POOL,
        help=f"work pool (created as a process pool if missing; default {DEFAULT_WORK_POOL})",
    )
    sc.add_argument(
        "--env",
        action="append",
        type=_env_pair,
        default=[],
        metavar="KEY=VALUE",
        help="environment variable for the flow run's process (job variable env; repeatable)",
    )
    sc.add_argument("--paused", action="store_true", help="register the schedule paused")
    sc.set_defaults(func=cmd_schedule)

    se = subparsers.add_parser(
        "serve", help="run the evidence run on a cron schedule in this process (no server needed; Ctrl-C stops)"
    )
    se.add_argument("--config", required=True, help="soc2-evidence.yaml")
    se.add_argument("--cron", required=True, help='cron expression, e.g. "0 6 * * *"')
    se.add_argument("--timezone", default=DEFAULT_TIMEZONE, help="IANA time zone of the cron (default UTC)")
    se.add_argument("--name", default=DEFAULT_DEPLOYMENT, help=f"deployment name (default {DEFAULT_DEPLOYMENT})")
    se.set_defaults(func=cmd_serve)
