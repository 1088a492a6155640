"""Prefect settings this tool applies to its own process (as environment defaults).

They must be in the environment before Prefect starts its ephemeral API
server: that server is a subprocess and reads its settings from the
environment it inherits. Every value is a default (`setdefault`): a user's
own environment wins.

- offline: no telemetry (the machines this runs on often have no internet).
- quiet: Prefect's INFO lines ("Finished in state Completed()") for every
  one of hundreds of tasks drown the run's own output; `--verbose` keeps them.
- bulk task-run recording: Prefect's task-run recorder stores each task-run
  event in its own SQLite transaction by default (batch size 1). An
  evidence run emits three events per task and has hundreds of tasks; on the
  demo estate (63 tasks) that cost the ephemeral server 1.4 s of CPU per run,
  on the same cores as the collectors. Batches of 100 cut it to ~0.6 s
  (bench/bench_orchestration.py). The recorder still flushes at least once a
  second, so the UI lags by at most that. For a self-hosted `prefect server`
  set the same variables on the server (README, "Scheduled runs").
"""

from __future__ import annotations

import os

OFFLINE = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
}
QUIET = {
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_LOGGING_SERVER_LEVEL": "WARNING",
}
# Prefect waits 20 s for its local API server by default; on a loaded 2-core CI runner starting it
# was measured at over 20 s (the run then fails before collecting anything), so allow 90 s.
PATIENT_START = {
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
}
BULK_RECORDING = {
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "100",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_READ_BATCH_SIZE": "100",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL": "1",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE": "200",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_READ_BATCH_SIZE": "200",
}


def apply_prefect_defaults(*, verbose: bool = False) -> None:
    """Set this tool's Prefect defaults in os.environ, unless already set."""
    for name, value in {**OFFLINE, **({} if verbose else QUIET), **PATIENT_START, **BULK_RECORDING}.items():
        os.environ.setdefault(name, value)
