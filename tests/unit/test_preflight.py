"""Preflight (flows/preflight.py): a run that cannot succeed stops in seconds with exit 2 and
one message saying what to fix (issue 12, defects 1 and 2).

AWS answers are real botocore behaviour (no credentials, unknown profile); accounts and roles
are exercised against moto in tests/integration/test_run_exit_codes.py."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from flows.cli import main
from flows.config import ConfigError, load_config
from flows.preflight import Preflight, check_output, directory_problem, run_preflight

ACCOUNT = "111111111111"


def write_config(tmp_path: Path, **overrides: object) -> Path:
    body = {
        "organization": "Acme",
        "period": {"start": "2026-01-01", "end": "2026-12-31"},
        "aws": {"accounts": [{"id": ACCOUNT}]},
        "output": str(tmp_path / "out"),
        **overrides,
    }
    path = tmp_path / "soc2-evidence.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


@pytest.fixture
def no_aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Nothing in the default chain: no keys, no profile files, no instance metadata."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_DEFAULT_PROFILE", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_WEB_IDENTITY_TOKEN_FILE", raising=False)


def test_no_aws_credentials_exits_2_from_preflight_with_one_message(
    tmp_path: Path, no_aws_credentials: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defect 1: this run exited 0, blamed sts:GetCallerIdentity and became the drift baseline."""
    config = write_config(tmp_path)
    assert main(["run", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: preflight failed:")
    assert "no AWS credentials" in err and "AWS_PROFILE" in err and "AWS_ACCESS_KEY_ID" in err
    assert "Traceback" not in err and len(err.splitlines()) == 2
    assert not (tmp_path / "out" / "runs").exists(), "nothing was collected, no run was written"


def test_a_wrong_profile_name_exits_2_naming_the_profile(
    tmp_path: Path, no_aws_credentials: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defect 1: botocore's ProfileNotFound was an "internal error", exit 1."""
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    config = write_config(tmp_path)
    assert main(["run", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "AWS profile 'no-such-profile' does not exist" in err and "internal error" not in err


def test_no_aws_configured_needs_no_aws_credentials(tmp_path: Path, no_aws_credentials: None) -> None:
    cfg = load_config(write_config(tmp_path, aws={"regions": ["us-east-1"]}))
    assert run_preflight(cfg).ok


def test_gcp_projects_without_credentials_fail_unless_the_emulator_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing-key.json"))
    cfg = load_config(write_config(tmp_path, aws={"regions": ["us-east-1"]}, gcp={"projects": ["acme-prod-1"]}))
    result = run_preflight(cfg)
    assert any("GCP credentials" in p and "GOOGLE_APPLICATION_CREDENTIALS" in p for p in result.problems)
    discovered = load_config(write_config(tmp_path, aws={"regions": ["us-east-1"]}, gcp={"projects": "discover"}))
    assert any("GCP credentials" in p for p in run_preflight(discovered).problems)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:9")
    assert run_preflight(cfg).ok


@pytest.mark.parametrize(
    ("output", "words"),
    [
        ("/proc/self", "pseudo-filesystem"),
        ("/sys/kernel/soc2", "pseudo-filesystem"),
        ("/tmp/" + "a" * 5000, "path too long"),
        ("/tmp/" + "b" * 300 + "/x", "component is too long"),
    ],
)
def test_an_output_that_cannot_hold_runs_is_a_config_error(tmp_path: Path, output: str, words: str) -> None:
    """Defect 2: /proc/self passed validation, then tracebacks; 5,000 characters raised an OSError."""
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, output=output))
    assert "output:" in info.value.message and words in info.value.message
    assert len(info.value.message) < 400


def test_an_output_below_a_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ConfigError, match="which is a file"):
        load_config(write_config(tmp_path, output=str(tmp_path / "afile" / "runs")))


def test_bad_output_given_as_option_exits_2_from_preflight(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, aws={"regions": ["us-east-1"]})
    assert main(["run", "--config", str(config), "--output", "/proc/self"]) == 2
    err = capsys.readouterr().err
    assert "output /proc/self" in err and "pseudo-filesystem" in err and "Traceback" not in err


def test_an_unwritable_directory_fails_with_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "ro"
    target.mkdir()
    real_open = os.open

    def refuse(path: object, *args: object, **kwargs: object) -> int:
        if str(path).startswith(str(target)):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", refuse)
    problem = directory_problem(target)
    assert problem is not None and "cannot write there (Permission denied)" in problem and "--output" in problem


def _as_nobody(probe: Callable[[], str]) -> str:
    """Run probe in a forked child that has dropped root for the user nobody (the interpreter under
    /root is not executable by nobody, so fork, not exec); its answer comes back through a pipe."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        status = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            os.write(write_end, probe().encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as answer:
        text = answer.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the unprivileged probe failed"
    return text


def test_a_read_only_directory_fails(tmp_path: Path) -> None:
    """A real chmod 500 directory. Root writes into it anyway, so under root (CI runs as root) the
    check runs in a child process as the unprivileged user nobody, on a root-owned
    directory mode 555."""
    if os.geteuid() != 0:
        target = tmp_path / "ro"
        target.mkdir()
        target.chmod(0o500)
        try:
            assert "cannot write there" in (directory_problem(target) or "")
        finally:
            target.chmod(0o700)
        return
    base = Path(tempfile.mkdtemp(prefix="soc2-preflight-"))
    try:
        base.chmod(0o755)
        target = base / "ro"
        target.mkdir(mode=0o555)
        target.chmod(0o555)  # owned by root, so read-only for nobody
        assert "cannot write there" in _as_nobody(lambda: directory_problem(target) or "")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_a_writable_directory_is_created_and_left_clean(tmp_path: Path) -> None:
    target = tmp_path / "new" / "output"
    assert directory_problem(target) is None
    assert target.is_dir() and list(target.iterdir()) == []


def test_an_output_held_by_another_run_fails_naming_the_holder(tmp_path: Path) -> None:
    from reports.locker.runlock import run_lock

    with run_lock(tmp_path):
        result = Preflight()
        check_output(str(tmp_path), result)
    assert len(result.problems) == 1
    assert f"pid {os.getpid()}" in result.problems[0] and ".soc2-evidence.lock" in result.problems[0]
    after = Preflight()
    check_output(str(tmp_path), after)
    assert after.ok


def test_a_second_run_on_a_locked_output_exits_2_naming_the_holder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defect 5: two runs at once on one output forked the hash chain (4 of 4 trials)."""
    from reports.locker.runlock import run_lock

    config = write_config(tmp_path, aws={"regions": ["us-east-1"]})
    with run_lock(tmp_path / "out"):
        assert main(["run", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "is in use by another run" in err and f"pid {os.getpid()}" in err
    assert not (tmp_path / "out" / "runs").exists()


def test_a_run_that_loses_the_race_for_the_lock_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Preflight saw the output free; another run took it before this run's flow did."""
    from reports.locker import RunLocked

    def locked(*a: object, **k: object) -> None:
        raise RunLocked("output X is in use by another run (pid 1 on h, since t)")

    monkeypatch.setattr("flows.run.run_evidence", locked)
    config = write_config(tmp_path, aws={"regions": ["us-east-1"]})
    assert main(["run", "--config", str(config)]) == 2
    assert "error: output X is in use by another run" in capsys.readouterr().err
