"""The `soc2-evidence` command line: the parser's wiring and main().

Each command lives in the module that registers it (register(subparsers)):
run_cli (run, demo), catalog_cli (controls, checks, permissions),
stored_runs_cli (evaluate, drift, history, verify), period_cli (period,
sample), access_review_cli (access-review), schedule_cli (schedule, serve) and init_cli (init). What they share (exit
codes, BadInput, loading a config) is flows.cli_common.

Exit codes: 0 a completed run or command (whatever the control results),
1 an internal failure (or a re-evaluation that does not match), 2 bad input
(config, catalog, run directory) — reported in one message, no traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Iterator, Sequence

from flows import (
    access_review_cli,
    catalog_cli,
    init_cli,
    interrupt,
    period_cli,
    run_cli,
    schedule_cli,
    stored_runs_cli,
)
from flows.cli_common import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_OK, BadInput
from flows.prefect_env import apply_prefect_defaults


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="soc2-evidence", description="Collect SOC 2 evidence and write the audit workbook."
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    _global_options(p, default=False)
    sub = p.add_subparsers(dest="command", required=True)
    for module in (init_cli, run_cli, catalog_cli, stored_runs_cli, period_cli, access_review_cli, schedule_cli):
        module.register(sub)
    for parser in _subcommands(p):  # `soc2-evidence run --debug ...` as well as `soc2-evidence --debug run ...`
        _global_options(parser, default=argparse.SUPPRESS)
    return p


def _global_options(parser: argparse.ArgumentParser, default: object) -> None:
    """--verbose and --debug; on a subcommand their default is SUPPRESS, so an option given
    before the subcommand is not reset by the subcommand's parser."""
    parser.add_argument("--verbose", action="store_true", default=default, help="show Prefect's logs")
    parser.add_argument("--debug", action="store_true", default=default, help="print tracebacks of internal errors")


def _subcommands(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """Every subcommand's parser, nested ones included (access-review start, ...)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):  # aliases map to the same parser
                yield child
                yield from _subcommands(child)


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("soc2-evidence")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def main(argv: Sequence[str] | None = None) -> int:
    restore = interrupt.install()  # first: Ctrl-C at any moment exits 130 at once, leaving nothing behind
    try:
        return _main(argv)
    finally:
        restore()


def _main(argv: Sequence[str] | None) -> int:
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
