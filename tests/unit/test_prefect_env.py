"""The Prefect settings the tool applies to its own process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from flows.prefect_env import BULK_RECORDING, OFFLINE, PATIENT_START, QUIET, apply_prefect_defaults


@pytest.fixture
def clean_env(monkeypatch):
    for name in {**OFFLINE, **QUIET, **PATIENT_START, **BULK_RECORDING}:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults_are_applied(clean_env):
    apply_prefect_defaults()
    for name, value in {**OFFLINE, **QUIET, **PATIENT_START, **BULK_RECORDING}.items():
        assert os.environ[name] == value


def test_verbose_keeps_prefect_logging(clean_env):
    apply_prefect_defaults(verbose=True)
    assert "PREFECT_LOGGING_LEVEL" not in os.environ
    assert os.environ["DO_NOT_TRACK"] == "1"


def test_user_settings_win(clean_env):
    clean_env.setenv("PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE", "7")
    apply_prefect_defaults()
    assert os.environ["PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE"] == "7"


def test_prefect_reads_the_bulk_recording_settings(clean_env):
    """The names are Prefect's: a typo would be silently ignored, so ask
    Prefect's own settings model (in a fresh process: settings are read once)."""
    apply_prefect_defaults()
    code = (
        "from prefect.settings import get_current_settings as g; s = g().server.services; "
        "print(s.task_run_recorder.batch_size, s.task_run_recorder.read_batch_size, "
        "s.task_run_recorder.flush_interval, s.event_persister.batch_size, s.event_persister.read_batch_size)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=dict(os.environ))
    assert out.stdout.split() == ["100", "100", "1.0", "200", "200"]
