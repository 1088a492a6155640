"""Machine-readable exports of a run, beside the workbook: one CSV per control population (plus errors.csv),
an OSCAL Assessment Results document and OCSF Compliance Finding events (JSON lines).

All of them are derived from the run's findings and control results only (no cloud access), are deterministic
(the same run gives the same bytes: UUIDs are uuid5 of the run id and a key, times come from the run, not the
clock) and are written atomically.

Layout inside the run directory (what `write_exports` writes):

    exports/csv/<control id>.csv          one per control, the workbook's population columns
    exports/csv/errors.csv                everything not assessed, with the missing permission
    exports/oscal-assessment-results.json OSCAL 1.1.3 Assessment Results
    exports/ocsf-compliance-findings.jsonl OCSF 1.5.0 Compliance Finding (class_uid 2003), one event a line
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any


def _utc(value: datetime | str) -> datetime:
    dt = datetime.fromisoformat(value) if isinstance(value, str) else value
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _day(value: date | str) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


@dataclass(frozen=True)
class RunMeta:
    """What the exports say about the run itself.

    Hashes are optional: during a run the exports are written before the manifest (which hashes them), so
    `manifest_sha256` is only known when a completed run is exported again (`RunMeta.from_manifest`).
    """

    run_id: str
    organization: str
    period_start: date
    period_end: date
    started_at: datetime  # UTC (naive values are taken as UTC)
    finished_at: datetime  # UTC
    tool_version: str
    config_sha256: str = ""
    catalog_sha256: str = ""
    findings_sha256: str = ""
    controls_sha256: str = ""
    manifest_sha256: str = ""
    previous_manifest_sha256: str = ""
    account_names: Mapping[str, str] = field(default_factory=dict)  # account id -> name, when known

    def __post_init__(self) -> None:
        object.__setattr__(self, "started_at", _utc(self.started_at))
        object.__setattr__(self, "finished_at", _utc(self.finished_at))
        object.__setattr__(self, "period_start", _day(self.period_start))
        object.__setattr__(self, "period_end", _day(self.period_end))

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any], manifest_sha256: str = "") -> RunMeta:
        """The RunMeta of a stored run (reports.store.read_manifest), e.g. to export a past run again."""
        outputs = manifest.get("outputs") or {}
        names: dict[str, str] = {}
        for acct in (manifest.get("scope") or {}).get("aws_accounts") or ():
            if isinstance(acct, Mapping) and acct.get("id") and acct.get("name"):
                names[str(acct["id"])] = str(acct["name"])
        return cls(
            run_id=str(manifest["run_id"]),
            organization=str(manifest.get("organization") or ""),
            period_start=manifest["period"]["start"],
            period_end=manifest["period"]["end"],
            started_at=manifest["started_at"],
            finished_at=manifest.get("finished_at") or manifest["started_at"],
            tool_version=str(manifest.get("tool_version") or ""),
            config_sha256=str(manifest.get("config_sha256") or ""),
            catalog_sha256=str((manifest.get("catalog") or {}).get("sha256") or ""),
            findings_sha256=str((outputs.get("findings") or {}).get("sha256") or ""),
            controls_sha256=str((outputs.get("controls") or {}).get("sha256") or ""),
            manifest_sha256=manifest_sha256,
            previous_manifest_sha256=str(manifest.get("previous_manifest_sha256") or ""),
            account_names=names,
        )


# The submodules import RunMeta from here, so they come after it.
from reports.exports.csv_export import (  # noqa: E402
    ERRORS_COLUMNS,
    POPULATION_COLUMNS,
    csv_safe,
    write_population_csvs,
)
from reports.exports.ocsf import OCSF_VERSION, ocsf_events, write_ocsf_jsonl  # noqa: E402
from reports.exports.oscal import OSCAL_VERSION, assessment_results, write_oscal_json  # noqa: E402

EXPORTS_DIR = "exports"
CSV_DIR = f"{EXPORTS_DIR}/csv"
OSCAL_FILE = f"{EXPORTS_DIR}/oscal-assessment-results.json"
OCSF_FILE = f"{EXPORTS_DIR}/ocsf-compliance-findings.jsonl"


def write_exports(
    run_dir: Path,
    run: RunMeta,
    catalog_controls: Sequence[Any],
    findings: Sequence[Any],
    control_results: Sequence[Any],
    check_specs: Mapping[str, Any],
) -> list[tuple[str, str]]:
    """Write every export into `run_dir/exports/`; return (path relative to run_dir, SHA-256) per file written,
    for the manifest. `catalog_controls` are the catalog's ControlModels (id, title, description, criteria),
    `check_specs` the registered checks' CheckSpecs by check id."""
    from reports.atomic import sha256_file

    run_dir = Path(run_dir)
    titles = {cid: (spec.title, str(spec.severity)) for cid, spec in check_specs.items()}
    controls = [(c.id, c.title) for c in catalog_controls]
    out: list[tuple[str, str]] = []
    for path in write_population_csvs(run_dir / CSV_DIR, controls, findings, titles):
        out.append((path.relative_to(run_dir).as_posix(), sha256_file(path)))
    oscal_sha = write_oscal_json(run_dir / OSCAL_FILE, run, catalog_controls, findings, control_results, check_specs)
    out.append((OSCAL_FILE, oscal_sha))
    out.append((OCSF_FILE, write_ocsf_jsonl(run_dir / OCSF_FILE, findings, check_specs, run)))
    return out


__all__ = [
    "CSV_DIR",
    "ERRORS_COLUMNS",
    "EXPORTS_DIR",
    "OCSF_FILE",
    "OCSF_VERSION",
    "OSCAL_FILE",
    "OSCAL_VERSION",
    "POPULATION_COLUMNS",
    "RunMeta",
    "assessment_results",
    "csv_safe",
    "ocsf_events",
    "write_exports",
    "write_ocsf_jsonl",
    "write_oscal_json",
    "write_population_csvs",
]
