"""The auditor's workbook: one XLSX per run.

Sheets, in order: Cover, Summary, Populations, Criteria, Commitments, one
population sheet per control (catalog order), Exceptions, Drift, Errors,
Evidence index. Every sheet is a table with a bold, frozen header row and an
autofilter; dates are real Excel datetimes in UTC; the Summary and the
Populations sheet link each control to its population sheet.

Population counts (completeness): for each control, *enumerated* is every
resource the collectors listed for the control's checks (every row of its
population sheet: pass, fail, excepted, not_applicable and error rows);
*evaluated* = pass + fail + excepted; *excluded* = not_applicable; *not
assessed* = error; so enumerated = evaluated + excluded + not assessed. They
are columns of the Summary, and the Populations sheet reconciles them with the
rows actually written on each population sheet (and its continuation sheets).
They are not written on the population sheets themselves: row 1 there stays
the table's header, so filters, sorting and pandas see a plain table.

The Cover carries an "Evidence set SHA-256" (see `evidence_set_sha256`): the
SHA-256 of the sorted lines "<path> <sha256>" of the evidence index, which an
auditor recomputes from the run's manifest.json.

The workbook is streamed with xlsxwriter's constant_memory mode, so a population
of hundreds of thousands of rows is written with constant memory (each row is
flushed to the sheet's temp file when the next one starts; strings are written
inline). Every text cell is written with `write_string` after going through
`reports.cells` (`xlsx_text`, `needs_quote_prefix`), so text from the cloud is
never a formula.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from itertools import chain, islice
from pathlib import Path
from typing import Any

from xlsxwriter import Workbook
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from controls.model import CheckSpec, ControlResult, ControlStatus, Finding, Status
from reports.atomic import atomic_path
from reports.cells import (
    DATE_FORMAT,
    DATETIME_FORMAT,
    PLAIN_TEXT_MAX_LEN,
    needs_quote_prefix,
    not_plain_text,
    sheet_ref,
    sheet_title,
    to_utc_naive,
    xlsx_text,
)


@dataclass(frozen=True)
class ControlInfo:
    """A control of the catalog."""

    id: str
    title: str
    description: str
    criteria: tuple[str, ...]
    checks: tuple[str, ...]
    frequency: str


@dataclass(frozen=True)
class EvidenceFileInfo:
    """One raw-evidence file of the run."""

    path: str  # relative to the run dir, e.g. evidence/aws/111111111111/us-east-1/ec2/DescribeVolumes.json
    provider: str
    account: str
    region: str
    service: str
    operation: str
    parameters: str  # short summary of the parameters of the calls
    records: int  # number of recorded calls (API answers) in the file
    errors: int  # how many of them failed
    sha256: str
    collected_at: str  # ISO 8601 UTC, e.g. "2026-11-30T10:00:00.123456Z"


@dataclass(frozen=True)
class WorkbookInput:
    organization: str
    period_start: date
    period_end: date
    run_id: str
    started_at: datetime  # timezone-aware UTC
    finished_at: datetime  # timezone-aware UTC
    tool_version: str
    config_sha256: str
    scope: Mapping[str, Any]  # {"aws_accounts": [{"id", "name", "regions": [...]}], "gcp_projects": [...], ...}
    callers: Mapping[str, str]  # account id -> caller identity ARN, or "error: ..." text
    controls: Sequence[ControlInfo]
    control_results: Sequence[ControlResult]
    checks: Mapping[str, CheckSpec]
    findings: Sequence[Finding]
    evidence_files: Sequence[EvidenceFileInfo]
    # optional sheets (each a list of row dicts with the same keys)
    criteria: Mapping[str, str] = field(default_factory=dict)  # every TSC id -> paraphrase
    commitments: Sequence[Mapping[str, Any]] = ()  # Commitment / Source / Controls / Control status / Support
    exceptions: Sequence[Mapping[str, Any]] = ()  # controls.exceptions.ExceptionsReport.rows()
    drift_summary: str = ""  # reports.drift.Drift.summary()
    drift_rows: Sequence[Mapping[str, Any]] = ()  # control changes then Drift.rows()


COVER_SHEET = "Cover"
CRITERIA_SHEET = "Criteria"
COMMITMENTS_SHEET = "Commitments"
EXCEPTIONS_SHEET = "Exceptions"
DRIFT_SHEET = "Drift"
SUMMARY_SHEET = "Summary"
POPULATIONS_SHEET = "Populations"
ERRORS_SHEET = "Errors"
EVIDENCE_SHEET = "Evidence index"

SUMMARY_HEADERS = (
    "Control ID",
    "Title",
    "Criteria",
    "Status",
    "Pass",
    "Fail",
    "Error",
    "Not applicable",
    "Excepted",
    "Total",
    "Enumerated",
    "Evaluated",
    "Excluded (n/a)",
    "Not assessed (error)",
)
POPULATIONS_HEADERS = (
    "Control ID",
    "Population sheet(s)",
    "Rows on sheet(s)",
    "Enumerated",
    "Evaluated",
    "Pass",
    "Fail",
    "Excepted",
    "Excluded (n/a)",
    "Not assessed (error)",
    "Reconciled",
)
POPULATION_HEADERS = (
    "Account",
    "Region",
    "Resource type",
    "Resource ID",
    "Check",
    "Check title",
    "Severity",
    "Status",
    "Observed",
    "Expected",
    "Reason",
    "Evaluated at",
    "Evidence file",
    "SHA-256",
)
CRITERIA_HEADERS = ("Criterion", "Paraphrase", "Controls", "Status")
ERRORS_HEADERS = (
    "Account",
    "Region",
    "Check",
    "Resource ID",
    "Operation",
    "Error code",
    "Missing permission",
    "Reason",
)
EVIDENCE_HEADERS = (
    "File",
    "Provider",
    "Account",
    "Region",
    "Service",
    "Operation",
    "Parameters",
    "Records",
    "Errors",
    "SHA-256",
    "Collected at",
)

STATUS_MEANINGS: dict[str, str] = {
    Status.PASS: "The resource meets the check's expectation.",
    Status.FAIL: "The resource does not meet the check's expectation.",
    Status.ERROR: "Not assessed: the evidence could not be collected (see Errors for the reason and permission).",
    Status.NOT_APPLICABLE: "The check does not apply to this resource.",
    Status.EXCEPTED: "A fail covered by an approved, unexpired exception; counted and shown, never hidden.",
}
CONTROL_STATUS_MEANINGS: dict[str, str] = {
    ControlStatus.EFFECTIVE: "At least one pass, no fail, no error.",
    ControlStatus.DEFICIENT: "At least one fail.",
    ControlStatus.INCOMPLETE: "No fail, but some resources could not be assessed (error).",
    ControlStatus.NO_EVIDENCE: "Nothing assessed: no pass, fail or error mapped to the control (none in scope,"
    " or only not_applicable / excepted).",
}
NOT_EVALUATED = "not evaluated"  # a control with findings but no ControlResult (should not happen)
NO_AUTOMATED_EVIDENCE = "no automated evidence"  # a criterion no control with checks maps to

# Population counts: what each count is made of.
EVALUATED_STATUSES = (Status.PASS, Status.FAIL, Status.EXCEPTED)
EXCLUDED_STATUSES = (Status.NOT_APPLICABLE,)
NOT_ASSESSED_STATUSES = (Status.ERROR,)

EXCEPTION_STATES = ("active", "expired", "stale", "not_yet_valid")  # controls.exceptions
MANIFEST_NOTE = (
    "manifest.json (written after this workbook) records this workbook's SHA-256;"
    " verify with `soc2-evidence verify RUN_DIR`"
)
EVIDENCE_SET_HOWTO = (
    'SHA-256 of the lines "<path> <sha256>" (one per evidence file, each ending in a line feed, UTF-8),'
    " sorted in byte order. From the run's manifest.json:"
    " jq -r '.evidence[] | \"\\(.path) \\(.sha256)\"' manifest.json | LC_ALL=C sort | sha256sum"
)

CONTROL_STATUS_COLORS: dict[str, str] = {
    ControlStatus.EFFECTIVE: "C6EFCE",  # green
    ControlStatus.DEFICIENT: "FFC7CE",  # red
    ControlStatus.INCOMPLETE: "FFEB9C",  # amber
    ControlStatus.NO_EVIDENCE: "D9D9D9",  # grey
}
STATUS_COLORS: dict[str, str] = {
    Status.PASS: "C6EFCE",
    Status.FAIL: "FFC7CE",
    Status.ERROR: "FFEB9C",
    Status.NOT_APPLICABLE: "EDEDED",
    Status.EXCEPTED: "DDEBF7",
}

# Excel's row limit; a longer table continues on a sheet named "<title> (2)".
MAX_SHEET_ROWS = 1_048_576
WIDTH_SAMPLE_ROWS = 200
KNOWN_PLAIN_MAX = 4096  # per table: plain texts remembered by the writer's fast path
MIN_WIDTH = 8
MAX_WIDTH = 66

HEADER_FILL = "D9E1F2"
LINK_COLOR = "0563C1"
# xlsxwriter options: constant memory (rows streamed to a temp file per sheet, strings inline);
# no guessing of formulas, numbers or URLs from text (only `write_string` is used for text anyway);
# aware datetimes are an error, not silently stripped (they are converted to naive UTC first);
# ZIP64 only when a part needs it (above 4 GB), as openpyxl's zipfile did.
XLSX_OPTIONS: dict[str, Any] = {
    "constant_memory": True,
    "strings_to_formulas": False,
    "strings_to_numbers": False,
    "strings_to_urls": False,
    "remove_timezone": False,
    "use_zip64": True,
}
_PIXELS_PER_CHAR = 7  # xlsxwriter's max digit width (Calibri 11): `width` pixels = width * 7


@dataclass(frozen=True, slots=True)
class _Styled:
    """A value with a fill, an internal hyperlink or bold text."""

    value: Any
    fill: str | None = None
    location: str | None = None  # internal hyperlink target, e.g. 'Sheet'!A1
    bold: bool = False


# Column kinds: how a raw row value becomes a cell.
TEXT, NUMBER, DATETIME, AUTO = "text", "number", "datetime", "auto"


@dataclass(frozen=True)
class _Column:
    header: str
    kind: str = TEXT


def write_workbook(path: Path, data: WorkbookInput) -> None:
    """Write the auditor's workbook to `path`, atomically (all or nothing)."""
    with atomic_path(path) as tmp:
        wb = Workbook(str(tmp), XLSX_OPTIONS)
        try:
            _WorkbookWriter(wb, data).write()
            wb.close()
        except BaseException:
            _discard_sheet_buffers(wb)
            raise


class _Formats:
    """The workbook's cell formats, made once per combination."""

    def __init__(self, wb: Workbook) -> None:
        self.wb = wb
        self.cache: dict[tuple[Any, ...], Format | None] = {}
        self.quote = self.get(quote=True)
        self.datetime = self.get(num_format=DATETIME_FORMAT)
        self.date = self.get(num_format=DATE_FORMAT)
        self.dxf: dict[str, Format] = {}

    def get(
        self,
        *,
        fill: str | None = None,
        bold: bool = False,
        link: bool = False,
        quote: bool = False,
        num_format: str | None = None,
    ) -> Format | None:
        key = (fill, bold, link, quote, num_format)
        if key not in self.cache:
            props: dict[str, Any] = {}
            if fill:
                props |= {"pattern": 1, "bg_color": "#" + fill}
            if link:  # a link's font replaces bold, as a hyperlink style does
                props |= {"font_color": "#" + LINK_COLOR, "underline": 1}
            elif bold:
                props["bold"] = True
            if quote:
                props["quote_prefix"] = True
            if num_format:
                props["num_format"] = num_format
            self.cache[key] = self.wb.add_format(props) if props else None
        return self.cache[key]

    def conditional(self, color: str) -> Format:
        """A conditional-formatting (dxf) format: background fill only."""
        if color not in self.dxf:
            self.dxf[color] = self.wb.add_format({"bg_color": "#" + color})
        return self.dxf[color]


class _WorkbookWriter:
    def __init__(self, wb: Workbook, data: WorkbookInput) -> None:
        self.wb = wb
        self.formats = _Formats(wb)
        self.data = data
        self.taken: set[str] = {
            COVER_SHEET,
            SUMMARY_SHEET,
            POPULATIONS_SHEET,
            CRITERIA_SHEET,
            COMMITMENTS_SHEET,
            EXCEPTIONS_SHEET,
            DRIFT_SHEET,
            ERRORS_SHEET,
            EVIDENCE_SHEET,
        }
        self.results = {r.control_id: r for r in data.control_results}
        self.infos = {c.id: c for c in data.controls}
        self.population = _index_by_control(data.findings)
        self.control_ids = _control_order(data)
        self.sheet_names = {cid: sheet_title(cid, self.taken) for cid in self.control_ids}
        # Continuation sheets (past Excel's row limit) are named up front, so the
        # Populations sheet, written before them, can list them.
        per_sheet = MAX_SHEET_ROWS - 1  # the header takes a row
        self.sheet_lists = {cid: [self.sheet_names[cid]] for cid in self.control_ids}
        for cid in self.control_ids:
            extra = max(0, -(-len(self.population.get(cid, ())) // per_sheet) - 1)
            self.sheet_lists[cid] += [sheet_title(self.sheet_names[cid], self.taken) for _ in range(extra)]

    def write(self) -> None:
        self._table(COVER_SHEET, [_Column("Section"), _Column("Item"), _Column("Value", AUTO)], self._cover_rows())
        self._table(
            SUMMARY_SHEET,
            _columns(SUMMARY_HEADERS, numbers=range(4, len(SUMMARY_HEADERS))),
            self._summary_rows(),
            status_col=SUMMARY_HEADERS.index("Status"),
            status_colors=CONTROL_STATUS_COLORS,
        )
        self._table(
            POPULATIONS_SHEET,
            _columns(POPULATIONS_HEADERS, numbers=range(2, len(POPULATIONS_HEADERS) - 1)),
            self._populations_rows(),
        )
        self._table(
            CRITERIA_SHEET,
            _columns(CRITERIA_HEADERS),
            self._criteria_rows(),
            status_col=CRITERIA_HEADERS.index("Status"),
            status_colors=CONTROL_STATUS_COLORS,
        )
        self._dict_table(COMMITMENTS_SHEET, self.data.commitments, "No commitments file configured (commitments:).")
        status_col = POPULATION_HEADERS.index("Status")
        for cid in self.control_ids:
            tab = self._control_status(cid)
            self._table(
                self.sheet_names[cid],
                _columns(POPULATION_HEADERS, dates=(POPULATION_HEADERS.index("Evaluated at"),)),
                self._population_rows(cid),
                status_col=status_col,
                tab_color=CONTROL_STATUS_COLORS.get(tab),
                continuations=iter(self.sheet_lists[cid][1:]),
            )
        self._dict_table(EXCEPTIONS_SHEET, self.data.exceptions, "No exceptions file configured (exceptions:).")
        self._dict_table(DRIFT_SHEET, self.data.drift_rows, self.data.drift_summary or "No drift computed.")
        self._table(ERRORS_SHEET, _columns(ERRORS_HEADERS), self._error_rows())
        self._table(
            EVIDENCE_SHEET,
            _columns(EVIDENCE_HEADERS, numbers=(7, 8), dates=(EVIDENCE_HEADERS.index("Collected at"),)),
            self._evidence_rows(),
        )

    # --- sheets -----------------------------------------------------------

    def _criteria_rows(self) -> Iterator[tuple[Any, ...]]:
        """Every criterion -> its controls -> the worst of their statuses."""
        by_criterion: dict[str, list[str]] = {}
        for cid in self.control_ids:
            info = self.infos.get(cid)
            for crit in info.criteria if info else ():
                by_criterion.setdefault(crit, []).append(cid)
        order = list(self.data.criteria) or sorted(by_criterion)
        rank = {s: i for i, s in enumerate(("deficient", "incomplete", NOT_EVALUATED, "effective", "no_evidence"))}
        for crit in order:
            controls = by_criterion.get(crit, [])
            automated = [c for c in controls if self.infos.get(c) and self.infos[c].checks]
            if not automated:
                status = NO_AUTOMATED_EVIDENCE
            else:
                status = min((self._control_status(c) for c in automated), key=lambda s: rank.get(s, 99))
            yield (
                crit,
                self.data.criteria.get(crit, ""),
                ", ".join(controls) or "(none)",
                _Styled(status, fill=CONTROL_STATUS_COLORS.get(status)),
            )

    def _dict_table(self, title: str, rows: Sequence[Mapping[str, Any]], empty: str) -> None:
        """A sheet from row dicts; a one-line note when there is nothing to show."""
        if not rows:
            self._table(title, [_Column("Note")], [(empty,)])
            return
        headers = list(rows[0])
        columns = [_Column(h, AUTO) for h in headers]
        self._table(title, columns, ([r.get(h) for h in headers] for r in rows))

    def _cover_rows(self) -> Iterator[tuple[Any, ...]]:
        d = self.data
        yield ("Run", "Organization", d.organization)
        yield ("Run", "Audit period start", d.period_start)
        yield ("Run", "Audit period end", d.period_end)
        yield ("Run", "Run ID", d.run_id)
        yield ("Run", "Started (UTC)", d.started_at)
        yield ("Run", "Finished (UTC)", d.finished_at)
        yield ("Run", "Tool version", d.tool_version)
        yield ("Run", "Config SHA-256", d.config_sha256)
        yield ("Run", "Time zone", "All dates and times in this workbook are UTC.")
        yield from self._scope_rows()
        for account, caller in d.callers.items():
            failed = str(caller).startswith("error")
            yield ("Caller identity", f"Account {account}", _Styled(caller, fill="FFC7CE" if failed else None))
        yield ("Integrity", "Evidence set SHA-256", evidence_set_sha256((e.path, e.sha256) for e in d.evidence_files))
        yield ("Integrity", "Evidence set SHA-256: how to recompute", EVIDENCE_SET_HOWTO)
        yield ("Integrity", "This workbook", MANIFEST_NOTE)
        yield ("Totals", "Controls", len(self.control_ids))
        by_control_status: dict[str, int] = {}
        for cid in self.control_ids:
            s = self._control_status(cid)
            by_control_status[s] = by_control_status.get(s, 0) + 1
        for s in (*ControlStatus, NOT_EVALUATED):
            if s in by_control_status or s in CONTROL_STATUS_COLORS:
                yield ("Totals", f"Controls {s}", by_control_status.get(s, 0))
        yield ("Totals", "Findings", len(d.findings))
        counts = _count_statuses(d.findings)
        for s in Status:
            yield ("Totals", f"Findings {s}", counts[s])
        yield ("Totals", "Evidence files", len(d.evidence_files))
        yield ("Totals", "Evidence records (API answers)", sum(e.records for e in d.evidence_files))
        yield ("Totals", "Evidence records that failed", sum(e.errors for e in d.evidence_files))
        if d.exceptions:
            states = [str(r.get("Status", "")) for r in d.exceptions]
            yield ("Exceptions", "Exceptions", len(states))
            for state in (*EXCEPTION_STATES, *sorted(set(states) - set(EXCEPTION_STATES))):
                if state in EXCEPTION_STATES[:3] or state in states:
                    yield ("Exceptions", f"Exceptions {state}", states.count(state))
        else:
            yield ("Exceptions", "Exceptions", "none (no exceptions file configured)")
        yield ("Drift", "Since the previous run", d.drift_summary or "No drift computed.")
        yield (
            "Populations",
            "Completeness",
            "Per control on the Summary and the Populations sheet: enumerated ="
            " evaluated (pass + fail + excepted) + excluded (not_applicable) + not assessed (error).",
        )
        for s in Status:
            yield ("Check status (per resource)", _Styled(str(s), fill=STATUS_COLORS[s]), STATUS_MEANINGS[s])
        for cs in ControlStatus:
            yield ("Control status", _Styled(str(cs), fill=CONTROL_STATUS_COLORS[cs]), CONTROL_STATUS_MEANINGS[cs])

    def _scope_rows(self) -> Iterator[tuple[Any, ...]]:
        scope = self.data.scope
        labels = {"aws_accounts": "AWS account", "gcp_projects": "GCP project", "endpoints": "Endpoint"}
        for key in (*labels, *(k for k in scope if k not in labels)):
            entries = scope.get(key)
            label = labels.get(key, key)
            if entries is None or entries == [] or entries == ():
                yield ("Scope", label, "none")
            elif isinstance(entries, list | tuple):
                for entry in entries:
                    yield ("Scope", label, _describe(entry))
            else:
                yield ("Scope", label, _describe(entries))

    def _summary_rows(self) -> Iterator[tuple[Any, ...]]:
        for cid in self.control_ids:
            result = self.results.get(cid)
            info = self.infos.get(cid)
            title = info.title if info else (result.title if result else "")
            criteria = info.criteria if info else (result.criteria if result else ())
            counts = self._counts(cid)
            status = self._control_status(cid)
            yield (
                _Styled(cid, location=sheet_ref(self.sheet_names[cid])),
                title,
                ", ".join(criteria),
                _Styled(status, fill=CONTROL_STATUS_COLORS.get(status)),
                *(counts[s] for s in Status),
                sum(counts[s] for s in Status),
                *population_counts(counts),
            )

    def _populations_rows(self) -> Iterator[tuple[Any, ...]]:
        """Per control: the population sheets, the rows on them, and the counts they must reconcile with."""
        for cid in self.control_ids:
            counts = self._counts(cid)
            enumerated, evaluated, excluded, not_assessed = population_counts(counts)
            rows = len(self.population.get(cid, ()))
            problems = []
            if enumerated != evaluated + excluded + not_assessed:
                problems.append("enumerated != evaluated + excluded + not assessed")
            if rows != enumerated:
                problems.append(f"{rows} rows on the sheet(s) but {enumerated} enumerated")
            yield (
                _Styled(cid, location=sheet_ref(self.sheet_names[cid])),
                ", ".join(self.sheet_lists[cid]),
                rows,
                enumerated,
                evaluated,
                counts[Status.PASS],
                counts[Status.FAIL],
                counts[Status.EXCEPTED],
                excluded,
                not_assessed,
                _Styled("no: " + "; ".join(problems), fill="FFC7CE") if problems else "yes",
            )

    def _population_rows(self, cid: str) -> Iterator[tuple[Any, ...]]:
        checks = self.data.checks
        for f in self.population.get(cid, ()):
            r = f.result
            spec = checks.get(r.check_id)
            evaluated_at = _parse_time(f.evaluated_at) if isinstance(f.evaluated_at, str) else f.evaluated_at
            yield (
                r.account,
                r.region,
                r.resource_type,
                r.resource_id,
                r.check_id,
                spec.title if spec else "",
                str(spec.severity) if spec else "",
                str(r.status),
                _compact(r.observed),
                _compact(r.expected),
                r.reason,
                evaluated_at,
                "; ".join(e.path for e in r.evidence),
                "; ".join(e.sha256 for e in r.evidence),
            )

    def _error_rows(self) -> Iterator[tuple[Any, ...]]:
        for f in self.data.findings:
            r = f.result
            if r.status != Status.ERROR:
                continue
            obs = r.observed if isinstance(r.observed, Mapping) else {}
            permission = obs.get("missing_permission")
            if permission in (None, "", [], ()):
                permission = obs.get("required_permission")
            yield (
                r.account,
                r.region,
                r.check_id,
                r.resource_id,
                _joined(obs.get("operation")),
                _joined(obs.get("error_code")),
                _joined(permission),
                r.reason,
            )

    def _evidence_rows(self) -> Iterator[tuple[Any, ...]]:
        for e in self.data.evidence_files:
            yield (
                e.path,
                e.provider,
                e.account,
                e.region,
                e.service,
                e.operation,
                e.parameters,
                e.records,
                e.errors,
                e.sha256,
                e.collected_at,
            )

    # --- helpers ----------------------------------------------------------

    def _counts(self, cid: str) -> dict[str, int]:
        result = self.results.get(cid)
        if result is not None:
            return {s: int(result.counts.get(str(s), 0)) for s in Status}
        return _count_statuses(self.population.get(cid, ()))

    def _control_status(self, cid: str) -> str:
        result = self.results.get(cid)
        if result is not None:
            return str(result.status)
        return NOT_EVALUATED if self.population.get(cid) else str(ControlStatus.NO_EVIDENCE)

    def _table(
        self,
        title: str,
        columns: Sequence[_Column],
        rows: Iterable[Sequence[Any]],
        *,
        status_col: int | None = None,
        status_colors: Mapping[str, str] = STATUS_COLORS,
        tab_color: str | None = None,
        continuations: Iterator[str] | None = None,
    ) -> None:
        """Stream `rows` into a new sheet (and continuation sheets past Excel's row limit).

        `status_col` gets one conditional-formatting rule per status (`status_colors`), so a
        status edited in Excel recolours; `continuations` names the continuation sheets.
        """
        it = iter(rows)
        sample = list(islice(it, WIDTH_SAMPLE_ROWS))
        widths = _widths(columns, sample)
        ws = self._open_sheet(title, columns, widths, tab_color)
        puts = _putters(ws, columns, self.formats)
        write_string = ws.write_string
        is_text = [c.kind == TEXT for c in columns]
        plain, max_len = not_plain_text, PLAIN_TEXT_MAX_LEN
        # Plain texts seen on this table (accounts, regions, checks, evidence files...): a set
        # lookup instead of a regex search for the values that repeat; bounded.
        known: set[str] = set()

        def remember(text: str) -> bool:
            if len(known) < KNOWN_PLAIN_MAX and len(text) <= 200:
                known.add(text)
            return True

        ncols = len(columns)
        styled = _Styled
        n = 0
        for row in chain(sample, it):
            if n + 1 >= MAX_SHEET_ROWS:
                self._close_table(ws, columns, n, status_col, status_colors)
                name = next(continuations, None) if continuations is not None else None
                ws = self._open_sheet(name or sheet_title(title, self.taken), columns, widths, tab_color)
                puts = _putters(ws, columns, self.formats)
                write_string = ws.write_string
                n = 0
            if len(row) != ncols:
                raise ValueError(f"{title}: a row of {len(row)} values for {ncols} columns")
            n += 1
            for col, value in enumerate(row):
                if value.__class__ is str:
                    if not value:
                        continue  # empty text: an empty cell, as openpyxl wrote it
                    if is_text[col] and (
                        value in known or (len(value) <= max_len and plain(value) is None and remember(value))
                    ):
                        # The common case, inlined: text that clean_text keeps as is and that
                        # needs no quote prefix (cells.is_plain_text); the rest goes through put_text.
                        write_string(n, col, value)
                        continue
                elif value is None:
                    continue  # an empty cell
                elif value.__class__ is styled:  # a few cells per sheet
                    _put_styled(ws, self.formats, columns[col].kind, n, col, value)
                    continue
                puts[col](n, col, value)
        self._close_table(ws, columns, n, status_col, status_colors)

    def _open_sheet(
        self, title: str, columns: Sequence[_Column], widths: Sequence[float], tab_color: str | None
    ) -> Worksheet:
        ws = self.wb.add_worksheet(title)
        ws.freeze_panes(1, 0)
        for i, width in enumerate(widths):
            # In pixels, so the file's <col width> is exactly `width` (set_column adds the cell padding).
            ws.set_column_pixels(i, i, round(width * _PIXELS_PER_CHAR))
        if tab_color:
            ws.set_tab_color("#" + tab_color)
        for i, col in enumerate(columns):
            text = xlsx_text(col.header)
            fmt = self.formats.get(fill=HEADER_FILL, bold=True, quote=needs_quote_prefix(text))
            ws.write_string(0, i, text, fmt)
        return ws

    def _close_table(
        self,
        ws: Worksheet,
        columns: Sequence[_Column],
        n: int,
        status_col: int | None,
        status_colors: Mapping[str, str] = STATUS_COLORS,
    ) -> None:
        """Autofilter and conditional formatting are kept apart from the rows: set them last."""
        ws.autofilter(0, 0, n, len(columns) - 1)
        if status_col is not None and n:
            for status, color in status_colors.items():
                ws.conditional_format(
                    1,
                    status_col,
                    n,
                    status_col,
                    {
                        "type": "cell",
                        "criteria": "==",
                        "value": f'"{status}"',
                        "format": self.formats.conditional(color),
                    },
                )


def population_counts(counts: Mapping[str, int]) -> tuple[int, int, int, int]:
    """(enumerated, evaluated, excluded, not assessed) from per-status counts.

    enumerated = every finding row (all statuses); evaluated = pass + fail + excepted;
    excluded = not_applicable; not assessed = error.
    """
    evaluated = sum(int(counts.get(s, 0)) for s in EVALUATED_STATUSES)
    excluded = sum(int(counts.get(s, 0)) for s in EXCLUDED_STATUSES)
    not_assessed = sum(int(counts.get(s, 0)) for s in NOT_ASSESSED_STATUSES)
    return sum(int(counts.get(s, 0)) for s in Status), evaluated, excluded, not_assessed


def evidence_set_sha256(files: Iterable[tuple[str, str]]) -> str:
    """SHA-256 over the evidence index: the lines "<path> <sha256>\\n" (UTF-8), sorted.

    Python sorts str by code point, which is UTF-8 byte order, i.e. `LC_ALL=C sort`: so
    `jq -r '.evidence[] | "\\(.path) \\(.sha256)"' manifest.json | LC_ALL=C sort | sha256sum`
    gives the same hash.
    """
    lines = sorted(f"{path} {sha}" for path, sha in files)
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode("utf-8") + b"\n")
    return digest.hexdigest()


@lru_cache(maxsize=64)
def _parse_time(value: str) -> datetime | str:
    """An ISO timestamp as a naive UTC datetime (cached: a run has one evaluated_at); text kept if not ISO."""
    try:
        return to_utc_naive(value)
    except ValueError:
        return value


def _columns(headers: Sequence[str], numbers: Iterable[int] = (), dates: Iterable[int] = ()) -> list[_Column]:
    kinds = {i: NUMBER for i in numbers} | {i: DATETIME for i in dates}
    return [_Column(h, kinds.get(i, TEXT)) for i, h in enumerate(headers)]


Putter = Callable[[int, int, Any], Any]  # (row, col, value) -> write it into the sheet


def _putters(ws: Worksheet, columns: Sequence[_Column], formats: _Formats) -> list[Putter]:
    """One writer per column, for its kind; each takes a value that is not None."""
    write_string, write_number, write_datetime = ws.write_string, ws.write_number, ws.write_datetime
    quote, dt_format, date_format = formats.quote, formats.datetime, formats.date

    def put_text(row: int, col: int, value: Any) -> None:
        text = xlsx_text(value)
        if text:  # empty text is an empty cell, as openpyxl wrote it
            write_string(row, col, text, quote if needs_quote_prefix(text) else None)

    def put_number(row: int, col: int, value: Any) -> None:
        if value.__class__ is int or _is_number(value):
            write_number(row, col, value)
        elif isinstance(value, float):
            pass  # NaN or infinity: an empty cell, as openpyxl wrote it (Excel has neither)
        else:
            put_text(row, col, value)  # bool and anything else: as text

    def put_datetime(row: int, col: int, value: Any) -> None:
        if value.__class__ is datetime:
            if value.tzinfo is not None:
                value = to_utc_naive(value)
            write_datetime(row, col, value, dt_format)
        elif value == "":
            pass  # an empty cell
        elif isinstance(value, str):
            parsed = _parse_time(value)
            if parsed.__class__ is datetime:
                write_datetime(row, col, parsed, dt_format)
            else:
                put_text(row, col, value)  # not ISO 8601: kept as text, not lost
        elif isinstance(value, datetime):
            write_datetime(row, col, to_utc_naive(value), dt_format)
        elif isinstance(value, date):
            write_datetime(row, col, value, date_format)
        else:
            put_text(row, col, value)

    def put_auto(row: int, col: int, value: Any) -> None:
        if isinstance(value, date):
            put_datetime(row, col, value)
        else:
            put_number(row, col, value)

    makers = {TEXT: put_text, NUMBER: put_number, DATETIME: put_datetime, AUTO: put_auto}
    return [makers[c.kind] for c in columns]


def _put_styled(ws: Worksheet, formats: _Formats, kind: str, row: int, col: int, value: _Styled) -> None:
    """A value with a fill, bold text or an internal hyperlink (a few cells per sheet)."""
    v = value.value
    style: dict[str, Any] = {"fill": value.fill, "bold": value.bold, "link": value.location is not None}
    when = _as_datetime(v) if kind == DATETIME or (kind == AUTO and isinstance(v, date)) else None
    not_finite = kind in (NUMBER, AUTO) and isinstance(v, float) and not math.isfinite(v)
    if value.location is None and (v is None or v == "" or not_finite):
        ws.write_blank(row, col, None, formats.get(**style))
    elif value.location is None and when is not None:
        num_format = DATETIME_FORMAT if isinstance(when, datetime) else DATE_FORMAT
        ws.write_datetime(row, col, when, formats.get(**style, num_format=num_format))
    elif value.location is None and kind in (NUMBER, AUTO) and _is_number(v):
        ws.write_number(row, col, v, formats.get(**style))
    else:
        text = "" if v is None else xlsx_text(v)
        fmt = formats.get(**style, quote=needs_quote_prefix(text))
        if value.location is None:
            if text:
                ws.write_string(row, col, text, fmt)
            else:
                ws.write_blank(row, col, None, fmt)
        else:  # the link's text is the cell's text
            ws.write_url(row, col, "internal:" + value.location, fmt, string=text)


def _is_number(value: Any) -> bool:
    """A number Excel can store: int or float, not bool, finite."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _as_datetime(value: Any) -> datetime | date | None:
    """A date as is, a datetime as naive UTC, an ISO string parsed; None if not a date."""
    if isinstance(value, datetime):
        return to_utc_naive(value)
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        parsed = _parse_time(value)
        return parsed if isinstance(parsed, datetime) else None
    return None


def _widths(columns: Sequence[_Column], sample: Sequence[Sequence[Any]]) -> list[float]:
    widths = []
    for i, col in enumerate(columns):
        longest = len(col.header) + 2  # bold header and the filter button
        for row in sample:
            longest = max(longest, _display_len(row[i]))
        widths.append(float(min(MAX_WIDTH, max(MIN_WIDTH, longest + 2))))
    return widths


def _display_len(value: Any) -> int:
    if isinstance(value, _Styled):
        value = value.value
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 19
    if isinstance(value, date):
        return 10
    if isinstance(value, str) and len(value) > 20 and value[:4].isdigit() and value.endswith("Z"):
        return 19  # an ISO timestamp, shown as yyyy-mm-dd hh:mm:ss
    text = str(value)
    return max((len(line) for line in text.splitlines()), default=0)


def _compact(value: Any) -> str | None:
    """Observed/expected as the auditor reads them: strings as is, anything else as compact JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _joined(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    return _compact(value)


def _describe(entry: Any) -> str:
    """One scope entry (account, project, endpoint) as a line of text."""
    if isinstance(entry, Mapping):
        ident = entry.get("id")
        name = entry.get("name")
        head = str(ident) if ident not in (None, "") else ""
        if name not in (None, "") and name != ident:
            head = f"{head} ({name})" if head else str(name)
        rest = [f"{k}: {_describe(v)}" for k, v in entry.items() if k not in ("id", "name")]
        return "; ".join(p for p in (head, *rest) if p)
    if isinstance(entry, list | tuple | set | frozenset):
        return ", ".join(_describe(v) for v in entry)
    return str(entry)


def _count_statuses(findings: Iterable[Finding]) -> dict[str, int]:
    counts = {s: 0 for s in Status}
    for f in findings:
        counts[Status(f.result.status)] += 1
    return counts


def _index_by_control(findings: Iterable[Finding]) -> dict[str, list[Finding]]:
    """Control id -> its findings, in findings order; a finding may be on several controls."""
    index: dict[str, list[Finding]] = {}
    for f in findings:
        for cid in dict.fromkeys(f.control_ids):
            index.setdefault(cid, []).append(f)
    return index


def _control_order(data: WorkbookInput) -> list[str]:
    """Catalog order; then controls with results or findings but not in the catalog, so nothing is hidden."""
    ids = [c.id for c in data.controls]
    ids += [r.control_id for r in data.control_results]
    ids += [cid for f in data.findings for cid in f.control_ids]
    return list(dict.fromkeys(ids))


def _discard_sheet_buffers(wb: Workbook) -> None:
    """Close and remove the temp files xlsxwriter streams each constant_memory sheet into
    (xlsxwriter only removes them when the workbook is closed)."""
    for ws in wb.worksheets():
        fh = getattr(ws, "row_data_fh", None)
        name = getattr(ws, "row_data_filename", None)
        if fh is not None:
            with contextlib.suppress(Exception):
                fh.close()
            ws.row_data_fh_closed = True
        if name:
            with contextlib.suppress(OSError):
                os.unlink(name)
