"""Options every command accepts: --version, and --debug / --verbose before or after the subcommand."""

from __future__ import annotations

import signal
from importlib import metadata
from pathlib import Path

import pytest

from flows.cli import build_parser, main


def test_version_prints_the_installed_version_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"soc2-evidence {metadata.version('soc2-evidence')}"


@pytest.mark.parametrize(
    "argv",
    [
        ["--debug", "evaluate", "RUN"],
        ["evaluate", "RUN", "--debug"],
        ["evaluate", "--debug", "RUN"],
        ["--debug", "evaluate", "RUN", "--debug"],
    ],
)
def test_debug_is_accepted_before_or_after_the_subcommand(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert args.debug is True and args.verbose is False


def test_an_option_before_the_subcommand_is_not_reset_by_it() -> None:
    args = build_parser().parse_args(["--verbose", "history", "--output", "x"])
    assert args.verbose is True and args.debug is False


def test_nested_subcommands_accept_debug_too() -> None:
    parser = build_parser()
    nested = [a for a in parser._subparsers._group_actions[0].choices["access-review"]._actions if a.dest == "debug"]
    assert nested, "access-review takes --debug"


def test_debug_after_the_subcommand_prints_the_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("flows.stored_runs_cli.cmd_history", boom)
    assert main(["history", "--output", str(tmp_path), "--debug"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "disk on fire" in err


def test_main_puts_the_previous_signal_handlers_back() -> None:
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit):
        main(["--version"])
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
