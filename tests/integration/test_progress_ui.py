"""The Prefect UI during a run: the flow run is named by the run ID, and a progress
artifact follows the run to 100 % (against Prefect's test server)."""

from __future__ import annotations

import time

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.runtime import flow_run

from flows import prefect_ui
from flows.progress import RunProgress

pytestmark = pytest.mark.integration
RUN_ID = "20261204T170000Z-abc123"


def test_flow_run_named_by_run_id_and_progress_artifact_updated(prefect_harness: None, monkeypatch) -> None:
    monkeypatch.setattr(prefect_ui, "UPDATE_INTERVAL", 0.2)
    seen: dict[str, object] = {}

    @flow
    def a_run() -> None:
        progress = RunProgress()
        progress.run_id = RUN_ID
        progress.add_scope(4)
        prefect_ui.name_flow_run(RUN_ID)
        with prefect_ui.progress_artifact(progress):
            progress.record(3, 0)
            time.sleep(0.6)  # an update from the artifact's thread, in the flow's settings
            for _ in range(3):
                progress.record(2, 1)
        seen["id"] = flow_run.id

    a_run()
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(seen["id"]).name == RUN_ID  # type: ignore[arg-type]
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[seen["id"]]))  # type: ignore[list-item]
        )
    progress = [a for a in artifacts if a.type == "progress"]
    assert [(a.key, a.data) for a in progress] == [(prefect_ui.ARTIFACT_KEY, 100)]
    assert (progress[0].description or "").startswith(f"run {RUN_ID}: 4/4 scopes (100%), 9 API calls, 3 errors, ")
