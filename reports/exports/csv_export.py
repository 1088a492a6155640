"""CSV exports: one file per control population (the workbook's population columns) and errors.csv.

For auditors who load the population into their own sampling tools rather than open the workbook.

**CSV injection.** A CSV file has no cell types: Excel, LibreOffice and Google Sheets decide on opening it
whether a cell is a formula, and treat text starting with `=`, `+`, `-` or `@` as one (tab and carriage
return can also lead to a formula in some importers). Resource IDs, tags and error messages come from the
cloud, so an attacker who can name a resource (`=HYPERLINK("http://attacker.example/x","invoice")`) could
otherwise plant a live formula in the auditor's spreadsheet. Following OWASP's CSV injection guidance, every
cell whose text starts with one of those characters (or their full-width forms, which some locales convert)
is written with a leading single quote: `'=HYPERLINK(...)`. This **changes the text visibly**: the
apostrophe is part of the value that any CSV reader (Python's csv, pandas, a text editor) sees, and a
spreadsheet shows it too; so a resource named `-backup` reads `'-backup` in the CSV, and a negative number in
Observed reads `'-5`. The exact, unprefixed values are in findings.jsonl (the machine contract) and in the
workbook (where cells are typed as text, so no prefix is needed). That trade-off is deliberate: a CSV
cannot both stay byte-exact and be safe to open.

Files are UTF-8 with a byte-order mark (Excel on Windows reads BOM-less CSV in the ANSI code page and mangles
non-ASCII names), comma-separated, every field quoted only when needed, CRLF line ends (RFC 4180).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from controls import Finding, Status
from controls.additional import additional_fields
from reports.atomic import write_with
from reports.workbook.model import ERRORS_HEADERS, POPULATION_HEADERS

# the same columns as the workbook's population and Errors sheets (one definition)
POPULATION_COLUMNS: tuple[str, ...] = POPULATION_HEADERS
ERRORS_COLUMNS: tuple[str, ...] = ERRORS_HEADERS
ERRORS_FILE = "errors.csv"
ENCODING = "utf-8-sig"  # UTF-8 with BOM

# OWASP: = + - @ tab CR; plus LF (a cell can start with it) and the full-width forms of = + - @.
_FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
_MAX_STEM = 100


def csv_safe(value: Any) -> str:
    """The text of one CSV cell, with a leading `'` if a spreadsheet could take it for a formula."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return "'" + text if text.startswith(_FORMULA_LEADS) else text


def safe_file_stem(control_id: str, taken: set[str]) -> str:
    """A file name stem from a control id: ASCII letters, digits, `.`, `_` and `-` only, no leading dot,
    not a Windows device name, at most 100 characters, unique ignoring case (Windows and macOS file
    systems are case-insensitive) among `taken`, which it is added to (casefolded)."""
    stem = _UNSAFE_FILE_CHARS.sub("_", control_id).lstrip(".")[:_MAX_STEM].rstrip(". ") or "control"
    if stem.split(".")[0].casefold() in _WINDOWS_RESERVED:
        stem = "_" + stem
    candidate, n = stem, 2
    while candidate.casefold() in taken:
        candidate = f"{stem}-{n}"
        n += 1
    taken.add(candidate.casefold())
    return candidate


def write_population_csvs(
    out_dir: Path,
    controls: Sequence[tuple[str, str]],
    findings: Sequence[Finding],
    check_titles: Mapping[str, tuple[str, str]],
) -> list[Path]:
    """Write `<control id>.csv` for each control and `errors.csv` into `out_dir`; return their paths
    (populations in control order, then errors.csv).

    `controls` are (id, title) in catalog order; controls that findings name but `controls` does not are
    added after them, so no finding is hidden. A control with no findings gets a header-only file (an empty
    population is evidence too). `check_titles` maps a check id to (title, severity). A finding mapped to
    two controls is in both files. Every file is written atomically.
    """
    out_dir = Path(out_dir)
    order = list(dict.fromkeys([cid for cid, _ in controls] + [cid for f in findings for cid in f.control_ids]))
    population: dict[str, list[Finding]] = {cid: [] for cid in order}
    for f in findings:
        for cid in dict.fromkeys(f.control_ids):
            population[cid].append(f)

    taken = {Path(ERRORS_FILE).stem.casefold()}
    paths: list[Path] = []
    for cid in order:
        path = out_dir / f"{safe_file_stem(cid, taken)}.csv"
        _write_csv(path, POPULATION_COLUMNS, _population_rows(population[cid], check_titles))
        paths.append(path)
    errors_path = out_dir / ERRORS_FILE
    _write_csv(errors_path, ERRORS_COLUMNS, _error_rows(findings))
    paths.append(errors_path)
    return paths


def _population_rows(findings: Iterable[Finding], check_titles: Mapping[str, tuple[str, str]]) -> Iterator[list[Any]]:
    for f in findings:
        r = f.result
        title, severity = check_titles.get(r.check_id, ("", ""))
        yield [  # POPULATION_COLUMNS order
            r.account,
            r.region,
            r.resource_id,
            r.check_id,
            severity,
            str(r.status),
            _compact(r.observed),
            _compact(r.expected),
            r.reason,
            "; ".join(e.path for e in r.evidence),
            r.resource_type,
            title,
            f.evaluated_at,
            "; ".join(e.sha256 for e in r.evidence),
            *_additional(f),
        ]


def _additional(f: Finding) -> list[Any]:
    """Remediation, ARN, console URL and finding ID (the finding's `additional`; derived when it has none)."""
    extra = f.additional or additional_fields(f.result, None)
    return [extra.get("remediation"), extra.get("resource_arn"), extra.get("console_url"), extra.get("finding_id")]


def _error_rows(findings: Iterable[Finding]) -> Iterator[list[Any]]:
    for f in findings:
        r = f.result
        if r.status != Status.ERROR:
            continue
        obs = r.observed if isinstance(r.observed, Mapping) else {}
        permission = obs.get("missing_permission")
        if permission in (None, "", [], ()):
            permission = obs.get("required_permission")
        yield [
            r.account,
            r.region,
            r.check_id,
            r.resource_id,
            _joined(obs.get("operation")),
            _joined(obs.get("error_code")),
            _joined(permission),
            r.reason,
        ]


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    def writer(fh: IO[bytes]) -> None:
        text = io.TextIOWrapper(fh, encoding=ENCODING, errors="replace", newline="")  # type: ignore[arg-type]
        try:
            out = csv.writer(text, lineterminator="\r\n")
            out.writerow(header)
            for row in rows:
                out.writerow([csv_safe(v) for v in row])
            text.flush()
        finally:
            text.detach()  # leave `fh` to write_with, which closes and fsyncs it

    write_with(path, writer)


def _compact(value: Any) -> str | None:
    """Observed/expected as text: strings as is, anything else as compact JSON with sorted keys."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True, default=str)


def _joined(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    return _compact(value)
