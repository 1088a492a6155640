"""The "Population gaps" sheet of an access-review workbook: what the population could not cover.

A population provider that cannot read part of its source (IAM Identity Center denied, a permission
set's assignments unreadable...) states it instead of issuing a silently partial review. The workbook
then opens on this sheet: a banner saying the population is INCOMPLETE and one row per gap (the
operation, the error and the permission it needs). Reviewers decide on the rows they have; the gaps
are for whoever owns the tool's access. Nothing is written when the population is complete.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from openpyxl.styles import Alignment, Font, PatternFill

from reports.cells import text_cell

GAPS_SHEET = "Population gaps"
BANNER = "INCOMPLETE POPULATION: the access below could not be read, so it is not in this review"
_BANNER_FILL = PatternFill("solid", fgColor="C00000")


def add_gaps_sheet(wb: Any, gaps: Sequence[str]) -> None:
    """Insert the gaps sheet first and open the workbook on it (an openpyxl Workbook); no gaps, no sheet."""
    if not gaps:
        return
    ws = wb.create_sheet(GAPS_SHEET, 0)
    ws.append([BANNER])
    ws["A1"].font = Font(bold=True, color="FFFFFF")
    ws["A1"].fill = _BANNER_FILL
    ws.append(["What could not be read (operation, error, permission needed)"])
    ws["A2"].font = Font(bold=True)
    for gap in gaps:
        ws.append([text_cell(ws, gap)])
    for row in ws.iter_rows(min_row=3):
        row[0].alignment = Alignment(wrap_text=True, vertical="top")
    ws.column_dimensions["A"].width = 140
    ws.protection.sheet = True
    wb.active = 0
