"""What every `soc2-evidence` command shares: exit codes, the bad-input error, and loading a config.

Separate from flows.cli so the command modules (run_cli, catalog_cli,
stored_runs_cli, access_review_cli, schedule_cli) and the CLI that registers
them all import it, and none imports another: the arrows point one way.

Exit codes: 0 a completed run or command (whatever the control results),
1 an internal failure (or a re-evaluation that does not match), 2 bad input
(config, catalog, run directory) — reported in one message, no traceback.
"""

from __future__ import annotations

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
