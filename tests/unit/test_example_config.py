"""The documented example config stays valid."""

from pathlib import Path

from flows.config import load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "soc2-evidence.yaml"


def test_example_config_loads() -> None:
    cfg = load_config(EXAMPLE)
    assert cfg.organization == "Dexo.chat"
    assert cfg.gcp.projects == ("dexo-prod",)
    assert cfg.endpoints.targets[0].host == "app.dexo.chat"
