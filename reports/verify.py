"""Verify a stored run: nothing altered, removed or added since it was written.

Checked against the run's manifest.json:
- every evidence file's SHA-256 (`evidence[].path/sha256`), and the outputs
  (`outputs.*`: findings, controls, workbook, and any later output such as
  drift) and inputs (`catalog`, `exceptions` when present);
- files in the run directory the manifest does not list (planted evidence,
  or a leftover temporary file of an interrupted write);
- the hash chain, backwards: `previous_manifest_sha256` equals the SHA-256 of
  the previous run's manifest.json (found by `previous_run` in the same
  runs/ folder);
- and forwards: the manifest cannot hash itself, so an edited manifest is
  detected by the next run, whose `previous_manifest_sha256` recorded it. The
  newest run's own manifest cannot be verified until a later run exists
  (reported as a note, not a problem).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reports.atomic import sha256_file
from reports.store import MANIFEST


class VerifyInputError(Exception):
    """The path is not a run directory at all (exit 2)."""


@dataclass
class VerifyReport:
    run_dir: Path
    run_id: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files_checked: int = 0
    extra_files: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "run_dir": str(self.run_dir),
            "ok": self.ok,
            "files_checked": self.files_checked,
            "problems": self.problems,
            "extra_files": self.extra_files,
            "notes": self.notes,
        }


def _short(h: str) -> str:
    return (h[:12] + "…") if h else "(none)"


def _listed_files(manifest: Mapping[str, Any], report: VerifyReport) -> Iterator[tuple[str, str]]:
    """(relative path, expected SHA-256) of every file the manifest accounts for."""
    evidence = manifest.get("evidence")
    if not isinstance(evidence, list):
        report.problems.append(f"{MANIFEST}: no 'evidence' list")
        evidence = []
    for i, e in enumerate(evidence):
        if isinstance(e, Mapping) and isinstance(e.get("path"), str) and isinstance(e.get("sha256"), str):
            yield e["path"], e["sha256"]
        else:
            report.problems.append(f"{MANIFEST}: evidence[{i}] has no path and sha256")
    outputs = manifest.get("outputs")
    if not isinstance(outputs, Mapping):
        report.problems.append(f"{MANIFEST}: no 'outputs'")
        outputs = {}
    for name in ("findings", "controls"):
        if name not in outputs:
            report.problems.append(f"{MANIFEST}: outputs.{name} is missing")
    for name, entry in outputs.items():
        # an output is one file ({path, sha256}) or several (a list of them, e.g. the exports)
        for j, item in enumerate(entry if isinstance(entry, list) else [entry]):
            where = f"outputs.{name}[{j}]" if isinstance(entry, list) else f"outputs.{name}"
            if isinstance(item, Mapping) and "path" in item and "sha256" in item:
                yield str(item["path"]), str(item["sha256"])
            elif item is not None:
                report.problems.append(f"{MANIFEST}: {where} has no path and sha256")
    for name in ("catalog", "exceptions"):
        entry = manifest.get(name)
        if isinstance(entry, Mapping) and "path" in entry and "sha256" in entry:
            yield str(entry["path"]), str(entry["sha256"])
        elif name == "catalog":
            report.problems.append(f"{MANIFEST}: catalog has no path and sha256")


def manifest_files(manifest: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(relative path, SHA-256) of every file a run's manifest accounts for (the manifest itself excluded)."""
    return list(_listed_files(manifest, VerifyReport(Path("."), str(manifest.get("run_id", "")))))


def _inside(run_dir: Path, rel: str) -> Path | None:
    target = (run_dir / rel).resolve()
    return target if run_dir.resolve() in target.parents else None


def _manifest_sha(runs_dir: Path, run_id: str) -> tuple[str | None, str]:
    path = runs_dir / run_id / MANIFEST
    if not (runs_dir / run_id).is_dir():
        return None, f"previous run {run_id} not found in {runs_dir} (removed?)"
    if not path.is_file():
        return None, f"previous run {run_id} has no {MANIFEST} (removed?)"
    return sha256_file(path), ""


def _check_chain_back(manifest: Mapping[str, Any], runs_dir: Path, report: VerifyReport) -> None:
    prev = manifest.get("previous_run")
    recorded = manifest.get("previous_manifest_sha256")
    if prev is None:
        if recorded is not None:
            report.problems.append("manifest chain: previous_manifest_sha256 is set but previous_run is not")
        else:
            report.notes.append("first run of its chain (no previous run recorded)")
        return
    actual, why = _manifest_sha(runs_dir, str(prev))
    if actual is None:
        report.problems.append(f"manifest chain: {why}")
    elif actual != recorded:
        report.problems.append(
            f"manifest chain: previous run {prev}'s manifest hash differs "
            f"(recorded {_short(str(recorded or ''))}, file {_short(actual)}): edited after this run was written"
        )


def chain_link_problems(manifest: Mapping[str, Any], runs_dir: Path) -> tuple[list[str], list[str]]:
    """(problems, notes) of one run's link to its previous run: the check `verify_run` makes
    backwards, without hashing the run's own files (the period report checks every link of a
    period this way; `verify RUN_DIR` still checks each run whole)."""
    report = VerifyReport(run_dir=Path(runs_dir) / str(manifest.get("run_id", "")), run_id=str(manifest.get("run_id")))
    _check_chain_back(manifest, Path(runs_dir), report)
    return report.problems, report.notes


def _check_chain_forward(run_dir: Path, run_id: str, runs_dir: Path, report: VerifyReport) -> None:
    """The first later run naming this one as previous_run holds the hash of this run's manifest."""
    own = run_dir / MANIFEST
    if not runs_dir.is_dir() or not own.is_file():
        return
    needles = (f'"previous_run": "{run_id}"'.encode(), f'"previous_run":"{run_id}"'.encode())
    followers: list[tuple[str, dict]] = []
    for child in sorted(runs_dir.iterdir()):
        if child.name <= run_id or not (child / MANIFEST).is_file():
            continue
        raw = (child / MANIFEST).read_bytes()
        if not any(n in raw for n in needles):
            continue
        try:
            later = json.loads(raw)
        except ValueError:
            continue
        if isinstance(later, dict) and later.get("previous_run") == run_id:
            followers.append((child.name, later))
    if not followers:
        report.notes.append(f"{MANIFEST}: no later run records its hash yet, so it cannot be checked itself")
        return
    if len(followers) > 1:
        report.problems.append(
            f"hash chain forks after this run: {', '.join(name for name, _ in followers)} all record it as their "
            "previous run (runs started at the same time on one output?)"
        )
    actual = sha256_file(own)
    for name, later in followers:
        recorded = str(later.get("previous_manifest_sha256") or "")
        if recorded != actual:
            report.problems.append(
                f"{MANIFEST}: SHA-256 differs from the hash recorded by the next run {name} "
                f"(recorded {_short(recorded)}, file {_short(actual)}): edited after that run was written"
            )
        else:
            report.notes.append(f"{MANIFEST}: matches the hash recorded by the next run {name}")


def verify_run(run_dir: Path, output: Path | None = None) -> VerifyReport:
    """Check a run directory against its manifest and the manifest hash chain.

    `output` is the folder holding runs/ (default: the run directory's runs/ folder)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise VerifyInputError(f"{run_dir}: not a directory")
    runs_dir = Path(output) / "runs" if output is not None else run_dir.parent
    report = VerifyReport(run_dir=run_dir, run_id=run_dir.name)
    mpath = run_dir / MANIFEST
    if not mpath.is_file():
        if not (run_dir / "findings.jsonl").exists() and not (run_dir / "evidence").exists():
            raise VerifyInputError(f"{run_dir}: not a run directory (no {MANIFEST}, findings or evidence)")
        report.problems.append(f"{MANIFEST}: missing (an incomplete run, or the manifest was removed)")
        return report
    try:
        with open(mpath, encoding="utf-8") as fh:
            manifest = json.load(fh)
        if not isinstance(manifest, Mapping):
            raise ValueError("not a JSON object")
    except (ValueError, UnicodeDecodeError) as exc:
        report.problems.append(f"{MANIFEST}: does not parse as JSON ({exc})")
        _check_chain_forward(run_dir, run_dir.name, runs_dir, report)
        return report

    run_id = str(manifest.get("run_id", run_dir.name))
    report.run_id = run_id
    if run_id != run_dir.name:
        report.problems.append(f"{MANIFEST}: run_id {run_id!r} differs from the directory name {run_dir.name!r}")
    if manifest.get("status") != "completed":
        report.problems.append(f"{MANIFEST}: status {manifest.get('status')!r}, not 'completed'")
    if manifest.get("assessment") == "partial":  # intact as a record, but not a complete assessment
        missed = len(manifest.get("unassessed") or [])
        report.notes.append(f"partial run: {missed} account(s)/project(s)/endpoint(s) not assessed (see unassessed)")

    listed: set[str] = {MANIFEST}
    for rel, expected in _listed_files(manifest, report):
        target = _inside(run_dir, rel)
        if target is None:
            report.problems.append(f"{rel}: path outside the run directory")
            continue
        listed.add(target.relative_to(run_dir.resolve()).as_posix())
        report.files_checked += 1
        if not target.is_file():
            report.problems.append(f"{rel}: missing")
            continue
        actual = sha256_file(target)
        if actual != expected:
            report.problems.append(f"{rel}: SHA-256 differs (manifest {_short(expected)}, file {_short(actual)})")

    for path in sorted(run_dir.rglob("*")):
        if path.is_dir():
            continue
        rel = path.relative_to(run_dir).as_posix()
        if rel in listed:
            continue
        report.extra_files.append(rel)
        if path.name.startswith(".") and path.name.endswith(".tmp"):
            report.problems.append(f"{rel}: not in the manifest (leftover temporary file of an interrupted write)")
        else:
            report.problems.append(f"{rel}: not in the manifest (added after the run was written)")

    _check_chain_back(manifest, runs_dir, report)
    _check_chain_forward(run_dir, run_dir.name, runs_dir, report)
    return report
