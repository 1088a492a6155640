"""Re-evaluate a stored run from its evidence: the auditor's proof that the
findings derive from the recorded API answers and nothing else.

The checks run again on the evidence files (hash-checked first), with the
thresholds, catalog and evaluation time stored in the run. Each finding's
`additional` object (finding_id, severity, ARN, console URL, remediation) is
derived again from the checks' metadata, for runs whose manifest says their
findings carry it (`findings_schema` 2). Results that do
not derive from an evidence file (a scope that could not be reached at all)
are carried over from the manifest's `collection_errors`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from collectors.registry import checks, checks_for, collectors, specs
from controls import Finding
from controls.catalog import parse_catalog
from controls.exceptions import apply_exceptions, parse_exceptions
from flows.collect import evaluate_bundle, load_bundle_files
from flows.finish import FINDINGS_SCHEMA, _finding, sort_findings
from reports.atomic import sha256_file
from reports.store import FINDINGS, MANIFEST, ManifestError, findings_bytes, read_manifest


class RunDirError(Exception):
    """Not a readable run directory (exit 2)."""


@dataclass
class Reevaluation:
    run_id: str
    findings: list[Finding]
    evidence_files: int
    identical: bool
    problems: list[str] = field(default_factory=list)  # tampered/missing evidence
    differences: list[str] = field(default_factory=list)


def _key(f: Finding) -> tuple[str, ...]:
    r = f.result
    return (r.check_id, r.account, r.region, r.resource_type, r.resource_id)


def reevaluate(run_dir: Path) -> Reevaluation:
    if not (run_dir / MANIFEST).is_file():
        raise RunDirError(f"{run_dir}: no {MANIFEST} here (not a run directory, or an incomplete run)")
    try:
        manifest = read_manifest(run_dir)
    except OSError as exc:
        raise RunDirError(f"{run_dir / MANIFEST}: unreadable: {exc}") from None
    except ManifestError as exc:
        raise RunDirError(str(exc)) from None
    try:
        return _reevaluate(run_dir, manifest)
    except (KeyError, TypeError, AttributeError) as exc:
        # A manifest that parses but lacks what every run writes was edited or damaged.
        raise RunDirError(f"{run_dir / MANIFEST}: not a complete run manifest ({type(exc).__name__}: {exc})") from None


def _inside_run(run_dir: Path, rel: str) -> Path | None:
    """The evidence file at `rel`, or None when it is a symlink or resolves outside the run:
    evaluating must read the run's own bytes, never follow a link to somewhere else."""
    relative = Path(rel)
    if relative.is_absolute() or ".." in relative.parts:
        return None
    path = run_dir / relative
    step = path
    while step != run_dir:
        if step.is_symlink():
            return None
        step = step.parent
    return path


def _stored_findings(stored_bytes: bytes, differences: list[str]) -> dict[tuple[str, ...], Finding]:
    """findings.jsonl parsed line by line; a line that is not a finding becomes a difference."""
    stored = {}
    for number, raw in enumerate(stored_bytes.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            f = Finding.from_json(json.loads(raw.decode("utf-8")))
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            differences.append(f"{FINDINGS} line {number}: not a finding (truncated or edited: {type(exc).__name__})")
            continue
        stored[_key(f)] = f
    return stored


def _checks_that_ran(manifest: dict[str, Any], catalog: Any) -> set[str]:
    """The checks the run evaluated: a newer tool version registers more checks on the same
    collectors (e.g. RDS snapshots on aws.rds), and re-evaluating last year's run must not invent
    findings it never had. The manifest lists them (`checks`); runs written before that field
    existed ran exactly the checks of their stored catalog (every built-in check was mapped)."""
    listed = manifest.get("checks")
    if listed is not None:
        return set(listed)
    return {check_id for control in catalog.controls for check_id in control.checks}


def _reevaluate(run_dir: Path, manifest: dict[str, Any]) -> Reevaluation:
    run_id = manifest["run_id"]
    evaluated_at = manifest["evaluated_at"]
    as_of = datetime.fromisoformat(evaluated_at.replace("Z", "+00:00"))
    thresholds = manifest.get("config", {}).get("thresholds", {})
    problems: list[str] = []

    cat = manifest["catalog"]
    cat_path = run_dir / cat["path"]
    if not cat_path.is_file():
        raise RunDirError(f"{cat_path}: the run's catalog is missing")
    if sha256_file(cat_path) != cat["sha256"]:
        problems.append(f"{cat['path']}: SHA-256 differs from the manifest")
    catalog = parse_catalog(cat_path.read_text(encoding="utf-8"), cat["source"], set(checks()))

    readable = []
    for entry in manifest["evidence"]:
        path = _inside_run(run_dir, str(entry["path"]))
        if path is None:
            problems.append(f"{entry['path']}: a symlink or outside the run directory (not followed)")
            continue
        if not path.is_file():
            problems.append(f"{entry['path']}: missing")
            continue
        if sha256_file(path) != entry["sha256"]:
            problems.append(f"{entry['path']}: SHA-256 differs from the manifest")
        readable.append(entry)
    bundles = load_bundle_files(
        run_dir, readable, on_unreadable=lambda rel, why: problems.append(f"{rel}: not an evidence file ({why})")
    )

    known = collectors()
    ran = _checks_that_ran(manifest, catalog)
    results = []
    for scope, bundle in sorted(bundles.items(), key=lambda kv: (kv[0].account, kv[0].region, kv[0].collector)):
        if scope.collector in known:
            evaluated = [c for c in checks_for(scope.collector) if c.spec.id in ran]
            results += evaluate_bundle(bundle, evaluated, thresholds, as_of)
    results += [Finding.from_json(x).result for x in manifest.get("collection_errors", [])]
    stored_exceptions = manifest.get("exceptions")
    if stored_exceptions:
        exc_path = run_dir / stored_exceptions["path"]
        if not exc_path.is_file():
            raise RunDirError(f"{exc_path}: the run's exceptions file is missing")
        if sha256_file(exc_path) != stored_exceptions["sha256"]:
            problems.append(f"{stored_exceptions['path']}: SHA-256 differs from the manifest")
        risk = parse_exceptions(exc_path.read_text(encoding="utf-8"), stored_exceptions["source"], set(checks()))
        results, _ = apply_exceptions(results, risk, as_of)
    # findings written with the `additional` object (schema 2) get it again, from the checks' metadata;
    # older runs are reproduced as they were written
    check_specs = specs() if manifest.get("findings_schema", 1) >= FINDINGS_SCHEMA else None
    findings = sort_findings([_finding(run_id, r, catalog, evaluated_at, check_specs) for r in results])

    stored_path = run_dir / FINDINGS
    stored_bytes = stored_path.read_bytes() if stored_path.is_file() else b""
    identical = findings_bytes(findings) == stored_bytes
    differences: list[str] = []
    if not identical:
        stored = _stored_findings(stored_bytes, differences)
        fresh = {_key(f): f for f in findings}
        for k in sorted(set(stored) | set(fresh)):
            a, b = stored.get(k), fresh.get(k)
            if a is None:
                differences.append(f"only in re-evaluation: {' '.join(k)}")
            elif b is None:
                differences.append(f"only in findings.jsonl: {' '.join(k)}")
            elif a.to_json() != b.to_json():
                differences.append(f"differs: {' '.join(k)}: stored {a.result.status}, re-evaluated {b.result.status}")
    if not identical and not differences:
        differences.append("same findings, different bytes (ordering or formatting of findings.jsonl)")
    return Reevaluation(run_id, findings, len(manifest["evidence"]), identical and not problems, problems, differences)
