"""Test-wide settings: offline, no telemetry, one Prefect test server per session."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest

from flows.prefect_env import apply_prefect_defaults

apply_prefect_defaults()  # offline, quiet, bulk task-run recording (as the CLI)
# never read a developer's real AWS profile or credentials
os.environ.setdefault("AWS_CONFIG_FILE", os.devnull)
os.environ.setdefault("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
logging.getLogger("werkzeug").setLevel(logging.ERROR)


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One ephemeral Prefect server for every flow test (~8 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
