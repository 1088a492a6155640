"""Reading a run's findings.jsonl fast: the fields drift (and period reports) need, as tuples.

`load_run_findings_fast` reads 200,000 findings about 5x faster than building Finding
objects: it decodes only the head of each line (identity, status, controls) and the reason,
never observed, expected or evidence. The check's severity and remediation (the line's
`additional` object) are decoded from the first line of each check only. Separate from the
comparison (reports.drift) so that every reader of many runs shares one loader.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple


class FindingRow(NamedTuple):
    """The fields of a findings.jsonl line that drift needs (no pydantic, no nested objects)."""

    check_id: str
    account: str
    region: str
    resource_type: str
    resource_id: str
    status: str
    reason: str
    control_ids: tuple[str, ...]
    run_id: str
    severity: str = ""  # the check's (from the line's `additional`); "" for findings written before it
    remediation: str = ""


Key = tuple[str, str, str, str, str]
Value = tuple[str, str, tuple[str, ...], str, str]  # status, reason, control_ids, severity, remediation
Since = tuple[str | None, str | None]  # (run_id, started_at ISO) of the first run of a failing streak


_OBSERVED = b', "observed": '
_REASON = b', "reason": '
_EVIDENCE = b', "evidence": ['
_ADDITIONAL = b', "additional": {'
_META = object()  # the key, in a loader's `shared` dict, of its check_id -> (severity, remediation) cache


def meta_of(extra: Any) -> tuple[str, str]:
    """(severity, remediation) from a finding's `additional` object ("" for what is missing)."""
    if not isinstance(extra, Mapping):
        return "", ""
    return str(extra.get("severity") or ""), str(extra.get("remediation") or "")


def _line_meta(line: bytes, check_id: str, shared: dict[Any, Any]) -> tuple[str, str]:
    """(severity, remediation) of a check, decoded from the first of its lines only: both are the
    check's, the same on every line. `additional` is the line's last key and holds no nested object,
    so its last occurrence is the top-level one."""
    cache = shared.setdefault(_META, {})
    meta = cache.get(check_id)
    if meta is None:
        meta = ("", "")
        pos = line.rfind(_ADDITIONAL)
        if pos > 0:
            try:
                meta = meta_of(json.loads(line[pos + len(_ADDITIONAL) - 1 :].rstrip()[:-1]))
            except ValueError:
                meta = meta_of(json.loads(line).get("additional"))
        cache[check_id] = meta
    return meta


def _row(d: Mapping[str, Any], shared: dict[Any, Any] | None = None, meta: tuple[str, str] = ("", "")) -> FindingRow:
    if shared is None:
        shared = {}
    one = shared.setdefault  # the same str object for repeated values: 200,000 rows share a few
    return FindingRow(
        one(d["check_id"], d["check_id"]),
        one(d["account"], d["account"]),
        one(d["region"], d["region"]),
        one(d["resource_type"], d["resource_type"]),
        d["resource_id"],
        one(d["status"], d["status"]),
        d["reason"],
        one(tuple(d["control_ids"]), tuple(d["control_ids"])),
        one(d["run_id"], d["run_id"]),
        *meta,
    )


def parse_finding_line(line: bytes, shared: dict[Any, Any] | None = None) -> FindingRow:
    """One findings.jsonl line as a FindingRow, without decoding observed/expected/evidence.

    findings.jsonl lines have the contract's field order and json.dumps' default separators
    (reports.store.finding_line): every field drift needs comes before `observed`, except
    `reason`, which comes right before `evidence`. Inside a JSON string a quote is always
    escaped, so the separators searched for cannot occur in a value. Any other layout falls
    back to decoding the whole line. Severity and remediation come from the line's `additional`
    object, decoded once per check (`_line_meta`)."""
    if shared is None:
        shared = {}
    head = line.find(_OBSERVED)
    tail = line.rfind(_EVIDENCE)
    reason = line.rfind(_REASON, head, tail) if head > 0 and tail > 0 else -1
    if reason < 0:
        d = json.loads(line)
        return _row(d, shared, meta_of(d.get("additional")))
    d = json.loads(line[:head] + line[reason:tail] + b"}")
    return _row(d, shared, _line_meta(line, d["check_id"], shared))


def load_run_findings_fast(run_dir: Path) -> list[FindingRow]:
    """findings.jsonl as FindingRows (about 5x faster than Finding.from_json on 200,000 findings)."""
    shared: dict[Any, Any] = {}
    with open(Path(run_dir) / "findings.jsonl", "rb") as fh:
        return [parse_finding_line(line, shared) for line in fh if len(line) > 2]


def load_run_controls(run_dir: Path) -> list[dict[str, Any]]:
    """controls.json of a run ([] when the run has none)."""
    path = Path(run_dir) / "controls.json"
    if not path.is_file():
        return []
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    return list(data) if isinstance(data, list) else []
