"""`soc2-evidence package RUN`: one zip an auditor can receive, keep and check.

The zip holds the run folder as the manifest accounts for it (the workbook, every evidence
file, findings.jsonl, controls.json, drift.json, the catalog and exceptions as used, the
exports) plus manifest.json and README.txt for the auditor, under one top folder named after
the run, so it unzips into a folder where the workbook's relative links to evidence files work.
The run is verified first (every file against its SHA-256 in the manifest): a run that does not
verify is not packaged. The zip is deterministic (entries sorted, fixed timestamps, fixed
permissions), so packaging the same run twice gives the same bytes and the same SHA-256,
which the command prints for the auditor to record.
"""

from __future__ import annotations

import zipfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reports.atomic import atomic_path, sha256_file
from reports.drift_rows import load_run_findings_fast
from reports.store import MANIFEST, read_manifest
from reports.verify import manifest_files, verify_run

README = "README.txt"
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can hold: no clock in the bytes


class PackageError(Exception):
    """The run cannot be packaged (not a run, or it does not verify); the message says why."""


@dataclass(frozen=True)
class Package:
    path: Path
    sha256: str
    files: int  # entries in the zip, README and manifest included
    run_id: str


def package_run(run_dir: Path, zip_path: Path) -> Package:
    """Verify `run_dir` and write it, with a README for the auditor, to `zip_path` (atomically)."""
    run_dir = Path(run_dir)
    if not (run_dir / MANIFEST).is_file():
        raise PackageError(f"{run_dir}: no {MANIFEST} here (not a run directory, or an incomplete run)")
    report = verify_run(run_dir)
    if not report.ok:
        shown = "; ".join(report.problems[:5])
        raise PackageError(f"run {report.run_id} does not verify ({shown}): run `soc2-evidence verify {run_dir}`")
    manifest = read_manifest(run_dir)
    run_id = str(manifest.get("run_id") or run_dir.name)
    files = sorted({path for path, _ in manifest_files(manifest)} | {MANIFEST})
    statuses = Counter(row.status for row in load_run_findings_fast(run_dir))
    counts = ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
    readme = auditor_readme(manifest, counts=counts).encode("utf-8")
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(zip_path) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        _add(zf, f"{run_id}/{README}", readme)
        for rel in files:
            with open(run_dir / rel, "rb") as fh:
                _add(zf, f"{run_id}/{rel}", fh.read())
    return Package(zip_path, sha256_file(zip_path), len(files) + 1, run_id)


def _add(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def auditor_readme(manifest: Mapping[str, Any], counts: str = "") -> str:
    """What the package holds and how to check it, in plain text (nothing about the zip's own name or
    place, so the same run always packages to the same bytes)."""
    outputs = manifest.get("outputs") or {}
    workbook = (outputs.get("workbook") or {}).get("path", "the workbook (.xlsx)")
    period = manifest.get("period") or {}
    endpoints = manifest.get("endpoints") or {}
    lines = [
        f"SOC 2 evidence package: {manifest.get('organization', '')}, run {manifest.get('run_id', '')}",
        "",
        f"Audit period:   {period.get('start', '?')} to {period.get('end', '?')}",
        f"Run:            started {manifest.get('started_at', '?')}, finished {manifest.get('finished_at', '?')} (UTC)",
        f"Tool:           {manifest.get('tool', 'soc2-evidence')} {manifest.get('tool_version', '')}",
        f"Cloud endpoints: {endpoints.get('summary', 'not recorded')}",
        f"Evidence files: {len(manifest.get('evidence') or [])}",
    ]
    if counts:
        lines.append(f"Findings:       {counts}")
    lines += [
        "",
        "What is here",
        f"  {workbook}",
        "      The workbook: Cover, Summary, Populations, Privileged access (who holds admin, through",
        "      what), Criteria, Commitments, one population sheet per control,",
        "      Exceptions, Drift, Errors, Evidence index. The Evidence index links each evidence file",
        "      (relative links: open the workbook from this unzipped folder).",
        "  evidence/      The raw API answers every finding was judged on, one JSON file per call.",
        "  findings.jsonl One line per (check, resource): the machine-readable findings.",
        "  controls.json  The status of each control.",
        "  drift.json     What changed since the previous run.",
        "  catalog.yaml   The control catalog as used (exceptions.yaml: the risk exceptions, if any).",
        "  exports/       CSV populations, OSCAL Assessment Results, OCSF findings.",
        "  manifest.json  Every file above with its SHA-256, and the previous run's manifest hash.",
        "",
        "How to check it",
        "  1. The package: sha256sum PACKAGE.zip, and compare with the SHA-256 you were given.",
        "  2. Each file against the manifest: sha256sum FILE, or `soc2-evidence verify RUN_FOLDER`.",
        "  3. The findings from the evidence: `soc2-evidence evaluate RUN_FOLDER` re-runs the checks",
        "     on the evidence files and must reproduce findings.jsonl byte for byte.",
        "  4. The Cover's evidence-set SHA-256:",
        "     jq -r '.evidence[] | \"\\(.path) \\(.sha256)\"' manifest.json | LC_ALL=C sort | sha256sum",
        "",
    ]
    return "\n".join(lines)
