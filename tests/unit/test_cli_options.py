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


def test_demo_examines_every_enabled_region_unless_asked_for_the_workload_regions_only(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from demo.run import DEMO_EXCLUDED_REGIONS, DEMO_REGIONS, UNUSED_REGION_REASON, demo_exclusions

    parser = build_parser()
    assert parser.parse_args(["demo"]).workload_regions_only is False
    assert parser.parse_args(["demo", "--workload-regions-only"]).workload_regions_only is True
    assert parser.parse_args(["demo", "--all-regions"]).workload_regions_only is False  # the old flag: a no-op
    with pytest.raises(SystemExit):
        parser.parse_args(["demo", "--help"])
    usage = capsys.readouterr().out
    assert "--workload-regions-only" in usage and "--all-regions" not in usage

    # the default: only the two deliberate exclusions, with their reasons
    assert demo_exclusions(None) == DEMO_EXCLUDED_REGIONS
    narrow = demo_exclusions(None, workload_regions_only=True)
    assert narrow[:2] == DEMO_EXCLUDED_REGIONS and len(narrow) == 18
    assert {e["reason"] for e in narrow[2:]} == {UNUSED_REGION_REASON}
    assert not {e["region"] for e in narrow} & set(DEMO_REGIONS)
    # never a region the config also lists
    assert "ap-northeast-1" not in {e["region"] for e in demo_exclusions(["ap-northeast-1"], True)}
