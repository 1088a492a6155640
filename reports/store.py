"""The on-disk run: evidence files, findings, controls, manifest.

Layout (DESIGN.md):
    <output>/runs/<run_id>/manifest.json, findings.jsonl, controls.json,
    evidence/<provider>/<account>/<region>/<service>/<Operation>.json, workbook

Every file is written atomically and hashed. The manifest is written last:
a run directory without a manifest is an incomplete run (killed or crashed)
and is never used as a baseline.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from controls import ControlResult, EvidenceRef, Finding
from reports.atomic import sha256_file, write_bytes

MANIFEST = "manifest.json"
FINDINGS = "findings.jsonl"
CONTROLS = "controls.json"
MANIFEST_SCHEMA = 1
_SAFE = re.compile(r"[^A-Za-z0-9._@+=-]")


def new_run_id(now: datetime | None = None) -> str:
    """Sortable by time, unique across machines."""
    now = now or datetime.now(UTC)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


def safe_component(value: str) -> str:
    """A path component that cannot escape the run directory."""
    cleaned = _SAFE.sub("_", value).strip(".") or "_"
    return cleaned[:120]


def evidence_path(provider: str, account: str, region: str, service: str, operation: str) -> str:
    parts = [provider, account, region, service]
    return "/".join(["evidence", *(safe_component(p) for p in parts), safe_component(operation) + ".json"])


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, indent=1, ensure_ascii=False, default=str).encode()


def _sorted_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _sorted_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return [_sorted_keys(v) for v in value]
    return value


def finding_line(finding: Finding) -> str:
    """One findings.jsonl line: the contract's field order at the top level,
    nested objects with sorted keys, so the same finding is the same bytes."""
    row = finding.to_json()
    row["observed"] = _sorted_keys(row["observed"])
    row["expected"] = _sorted_keys(row["expected"])
    return json.dumps(row, ensure_ascii=False, default=str)


def findings_bytes(findings: Iterable[Finding]) -> bytes:
    lines = [finding_line(f) for f in findings]
    return ("\n".join(lines) + "\n").encode() if lines else b""


class RunWriter:
    """Writes one run's files; remembers each file's hash for the manifest."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.run_id = path.name

    @classmethod
    def create(cls, output: Path, run_id: str) -> RunWriter:
        path = output / "runs" / run_id
        path.mkdir(parents=True, exist_ok=False)
        return cls(path)

    def write_json(self, rel_path: str, payload: Any) -> EvidenceRef:
        data = canonical_json(payload)
        return EvidenceRef(rel_path, write_bytes(self._target(rel_path), data))

    def write_raw(self, rel_path: str, data: bytes) -> EvidenceRef:
        return EvidenceRef(rel_path, write_bytes(self._target(rel_path), data))

    def write_findings(self, findings: Iterable[Finding]) -> EvidenceRef:
        return self.write_raw(FINDINGS, findings_bytes(findings))

    def write_controls(self, results: Iterable[ControlResult]) -> EvidenceRef:
        return self.write_json(CONTROLS, [r.to_json() for r in results])

    def write_manifest(self, manifest: Mapping[str, Any]) -> EvidenceRef:
        """Last file of a run: its presence marks the run complete."""
        return self.write_json(MANIFEST, dict(manifest))

    def _target(self, rel_path: str) -> Path:
        target = (self.path / rel_path).resolve()
        if self.path.resolve() not in target.parents:
            raise ValueError(f"refusing to write outside the run directory: {rel_path}")
        return target


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    path: Path
    manifest: Mapping[str, Any]
    manifest_sha256: str

    @property
    def started_at(self) -> str:
        return str(self.manifest.get("started_at", ""))


class ManifestError(ValueError):
    """A manifest.json that cannot be read as a JSON object (truncated, not UTF-8, `[]`, ...)."""


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """The run's manifest as a dict; anything else is a ManifestError naming the file.

    Callers list runs from directories anyone can write to, so a damaged manifest must be a
    clear, catchable error for that one run, never an AttributeError that sinks every later
    run, history or drift on the same output."""
    path = Path(run_dir) / MANIFEST
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: not valid UTF-8 JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{path}: not a JSON object (found a JSON {type(data).__name__})")
    return data


def completed_runs(output: Path) -> list[RunInfo]:
    """Runs with a manifest, oldest first. Incomplete runs are skipped."""
    runs_dir = output / "runs"
    if not runs_dir.is_dir():
        return []
    out: list[RunInfo] = []
    for child in sorted(runs_dir.iterdir()):
        manifest_path = child / MANIFEST
        if not manifest_path.is_file():
            continue
        try:
            manifest = read_manifest(child)
        except (OSError, ManifestError):
            continue  # listed by `history` as an incomplete run, with the reason
        if manifest.get("status") != "completed":
            continue
        out.append(RunInfo(child.name, child, manifest, sha256_file(manifest_path)))
    out.sort(key=lambda r: (r.started_at, r.run_id))
    return out


def is_partial(manifest: Mapping[str, Any]) -> bool:
    """A completed run that could not assess some account, project or endpoint (flows.assessment).
    It stays in the hash chain but is never a drift baseline."""
    return manifest.get("assessment") == "partial"


def drift_baseline(runs: list[RunInfo]) -> RunInfo | None:
    """The run to compare with: the newest of `runs` (oldest first) that assessed everything.
    A partial run would make every resource it missed look "gone" and back again."""
    return next((r for r in reversed(runs) if not is_partial(r.manifest)), None)


def load_findings(run_dir: Path) -> list[Finding]:
    path = run_dir / FINDINGS
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                out.append(Finding.from_json(json.loads(line)))
    return out
