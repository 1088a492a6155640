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
from pathlib import Path
from typing import Any

from reports.exports.csv_export import (
    ERRORS_COLUMNS,
    POPULATION_COLUMNS,
    csv_safe,
    write_population_csvs,
)
from reports.exports.meta import RunMeta
from reports.exports.ocsf import OCSF_VERSION, ocsf_events, write_ocsf_jsonl
from reports.exports.oscal import OSCAL_VERSION, assessment_results, write_oscal_json

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
