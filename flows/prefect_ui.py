"""What the Prefect UI shows of a run while it works: its name and a progress artifact.

- The flow run is renamed to the run ID (`20261204T170000Z-ab12cd`), so the UI,
  the run folder and the workbook use one name (Prefect's default is a random
  "mega-jackalope"; the ID is only known once the run has started, hence a
  rename rather than the decorator's flow_run_name).
- A progress artifact (`soc2-run-progress`) is created at 0 % and updated, at
  most every `UPDATE_INTERVAL` seconds, from a thread started with the flow's
  context (Prefect's settings, hence its API URL, live in context variables).

Both are conveniences: any failure is a warning in the log, never the run's.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flows.progress import RunProgress, plain_line

UPDATE_INTERVAL = 3.0
ARTIFACT_KEY = "soc2-run-progress"
log = logging.getLogger(__name__)


def name_flow_run(run_id: str) -> None:
    """Rename the current flow run to the run ID (no-op outside a flow run)."""
    try:
        from prefect.client.orchestration import get_client
        from prefect.runtime import flow_run

        if not flow_run.id:
            return
        with get_client(sync_client=True) as client:
            client.update_flow_run(flow_run.id, name=run_id)
    except Exception as exc:
        log.warning("could not name the Prefect flow run %s: %s", run_id, exc)


@contextmanager
def progress_artifact(progress: RunProgress) -> Iterator[None]:
    """The progress artifact, kept current while the block runs (inside a flow run only)."""
    artifact_id = _create(progress)
    if artifact_id is None:
        yield
        return
    stop = threading.Event()
    last = [-1.0]

    def update() -> None:
        from prefect.artifacts import update_progress_artifact

        snap = progress.snapshot()
        pct = round(snap.fraction * 100, 1)
        if pct != last[0]:
            last[0] = pct
            update_progress_artifact(artifact_id, progress=pct, description=plain_line(snap, progress.run_id))

    def loop() -> None:
        while not stop.wait(UPDATE_INTERVAL):
            try:
                update()
            except Exception as exc:  # the API is busy or gone: the next tick tries again
                log.debug("progress artifact update failed: %s", exc)

    ctx = contextvars.copy_context()
    thread = threading.Thread(target=ctx.run, args=(loop,), name="soc2-progress-artifact", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(UPDATE_INTERVAL + 5)
        try:
            ctx.run(update)
        except Exception as exc:
            log.warning("could not update the progress artifact: %s", exc)


def _create(progress: RunProgress) -> Any:
    try:
        from prefect.artifacts import create_progress_artifact
        from prefect.runtime import flow_run

        if not flow_run.id:
            return None
        return create_progress_artifact(
            progress=0.0, key=ARTIFACT_KEY, description=f"SOC 2 evidence run {progress.run_id}: starting"
        )
    except Exception as exc:
        log.warning("could not create the progress artifact: %s", exc)
        return None
