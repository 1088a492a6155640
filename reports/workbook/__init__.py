"""The auditor's workbook: one XLSX per run.

Sheets, in order: Cover, Summary, Populations, Privileged access, Criteria, Commitments, one
population sheet per control (catalog order), Exceptions, Drift, Errors,
Evidence index. Every sheet is a table with a bold, frozen header row and an
autofilter; dates are real Excel datetimes in UTC; the Summary and the
Populations sheet link each control to its population sheet.

Population counts (completeness): for each control, *enumerated* is every
resource the collectors listed for the control's checks (every row of its
population sheet: pass, fail, excepted, not_applicable and error rows);
*evaluated* = pass + fail + excepted; *excluded* = not_applicable; *not
assessed* = error; so enumerated = evaluated + excluded + not assessed. They
are columns of the Summary. They are not written on the population sheets
themselves: row 1 there stays the table's header, so filters, sorting and pandas
see a plain table. The Populations sheet reconciles each population with the
source listing's own entries (ListBuckets' buckets, DescribeVolumes' volumes...,
per account and region), not with the findings (reports.workbook.populations).

Every sheet prints: landscape, fitted to the page width, header row repeated,
the reading columns printed and the machine columns after them not (see
reports.workbook.table); row heights are written (LibreOffice does not grow
wrapped rows).

The Cover carries an "Evidence set SHA-256" (see `evidence_set_sha256`): the
SHA-256 of the sorted lines "<path> <sha256>" of the evidence index, which an
auditor recomputes from the run's manifest.json.

The workbook is streamed with xlsxwriter's constant_memory mode, so a population
of hundreds of thousands of rows is written with constant memory (each row is
flushed to the sheet's temp file when the next one starts; strings are written
inline). Every text cell is written with `write_string` after going through
`reports.cells` (`xlsx_text`, `needs_quote_prefix`), so text from the cloud is
never a formula.

Where things are: `model` (the input, sheet names, column headers), `view` (the run as the
sheets see it: controls in order, their findings, sheet names), `styles` (colours, formats,
how a value becomes a cell), `table` (streaming one table into a sheet), then one module per
family of sheets: `overview` (Cover, Summary), `populations`, `privileged` (who holds
administrative privilege, through what: `privileged_paths` reads it from the findings), `criteria` (Criteria,
Commitments), `population` (the per-control sheets), `exceptions_drift_errors`, `evidence`
(Evidence index). This module only opens the file and writes the sheets in order.
"""

from __future__ import annotations

from pathlib import Path

from xlsxwriter import Workbook

from reports import tempfiles
from reports.atomic import atomic_path
from reports.workbook.criteria import write_commitments, write_criteria
from reports.workbook.evidence import evidence_set_sha256, write_evidence_index
from reports.workbook.exceptions_drift_errors import write_drift, write_errors, write_exceptions
from reports.workbook.model import (
    ERRORS_HEADERS,
    EVIDENCE_HEADERS,
    POPULATION_HEADERS,
    POPULATIONS_HEADERS,
    SUMMARY_HEADERS,
    ControlInfo,
    EvidenceFileInfo,
    SourceListing,
    WorkbookInput,
)
from reports.workbook.overview import population_counts, write_cover, write_summary
from reports.workbook.population import write_population_sheets
from reports.workbook.populations import write_populations
from reports.workbook.privileged import write_privileged
from reports.workbook.styles import XLSX_OPTIONS, Formats
from reports.workbook.table import PageSetup, TableWriter, discard_sheet_buffers
from reports.workbook.view import RunView


def write_workbook(path: Path, data: WorkbookInput) -> None:
    """Write the auditor's workbook to `path`, atomically (all or nothing)."""
    with atomic_path(path) as tmp:
        # xlsxwriter's sheet buffers go to a registered folder in the run folder, not
        # TMPDIR: Ctrl-C removes it, and a killed run leaves nothing outside its folder
        buffers = tempfiles.new_dir(path.parent)
        try:
            wb = Workbook(str(tmp), {**XLSX_OPTIONS, "tmpdir": str(buffers)})
            try:
                _write_sheets(wb, data)
                wb.close()
            except BaseException:
                discard_sheet_buffers(wb)
                raise
        finally:
            tempfiles.remove(buffers)


def _write_sheets(wb: Workbook, data: WorkbookInput) -> None:
    """Every sheet, in the workbook's order (formats first: xlsxwriter numbers them as they are made)."""
    formats = Formats(wb)
    view = RunView(data)
    page = PageSetup(header=f"{data.organization}: SOC 2 evidence, run {data.run_id}")
    out = TableWriter(wb, formats, view.taken, page)
    write_cover(out, view)
    write_summary(out, view)
    write_populations(out, view)
    write_privileged(out, view)
    write_criteria(out, view)
    write_commitments(out, view)
    write_population_sheets(out, view)
    write_exceptions(out, view)
    write_drift(out, view)
    write_errors(out, view)
    write_evidence_index(out, view)


__all__ = [
    "ERRORS_HEADERS",
    "EVIDENCE_HEADERS",
    "POPULATIONS_HEADERS",
    "POPULATION_HEADERS",
    "SUMMARY_HEADERS",
    "ControlInfo",
    "EvidenceFileInfo",
    "SourceListing",
    "WorkbookInput",
    "evidence_set_sha256",
    "population_counts",
    "write_workbook",
]
