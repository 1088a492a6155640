"""Streaming one table into a sheet: the writer every sheet family hands its rows to.

A table is a bold, frozen header row, the rows, an autofilter over them and, for a status
column, one conditional-formatting rule per status. Rows are streamed (xlsxwriter's
constant_memory mode flushes each row when the next starts), column widths come from the
first rows, and a table longer than Excel's row limit continues on "<title> (2)", ... .
Kept apart from the sheets so that the hot loop (every finding of a population passes
through it) lives in one place and the sheet modules only say which rows and columns.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from itertools import chain, islice
from typing import Any

from xlsxwriter import Workbook
from xlsxwriter.worksheet import Worksheet

from reports.cells import PLAIN_TEXT_MAX_LEN, needs_quote_prefix, not_plain_text, sheet_title, xlsx_text
from reports.workbook.styles import (
    AUTO,
    HEADER_FILL,
    STATUS_COLORS,
    TEXT,
    Column,
    Formats,
    Styled,
    put_styled,
    putters,
)

# Excel's row limit; a longer table continues on a sheet named "<title> (2)".
MAX_SHEET_ROWS = 1_048_576
WIDTH_SAMPLE_ROWS = 200
KNOWN_PLAIN_MAX = 4096  # per table: plain texts remembered by the writer's fast path
MIN_WIDTH = 8
MAX_WIDTH = 66

_PIXELS_PER_CHAR = 7  # xlsxwriter's max digit width (Calibri 11): `width` pixels = width * 7


def continuation_sheets(rows: int) -> int:
    """How many continuation sheets a table of `rows` rows needs past its first (the header takes a row)."""
    per_sheet = MAX_SHEET_ROWS - 1
    return max(0, -(-rows // per_sheet) - 1)


class TableWriter:
    """Writes tables into `wb`; `taken` is the workbook's sheet names, so continuation sheets get new ones."""

    def __init__(self, wb: Workbook, formats: Formats, taken: set[str]) -> None:
        self.wb = wb
        self.formats = formats
        self.taken = taken

    def table(
        self,
        title: str,
        columns: Sequence[Column],
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
        puts = putters(ws, columns, self.formats)
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
        styled = Styled
        n = 0
        for row in chain(sample, it):
            if n + 1 >= MAX_SHEET_ROWS:
                self._close_table(ws, columns, n, status_col, status_colors)
                name = next(continuations, None) if continuations is not None else None
                ws = self._open_sheet(name or sheet_title(title, self.taken), columns, widths, tab_color)
                puts = putters(ws, columns, self.formats)
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
                    put_styled(ws, self.formats, columns[col].kind, n, col, value)
                    continue
                puts[col](n, col, value)
        self._close_table(ws, columns, n, status_col, status_colors)

    def _open_sheet(
        self, title: str, columns: Sequence[Column], widths: Sequence[float], tab_color: str | None
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
        columns: Sequence[Column],
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

    def dict_table(self, title: str, rows: Sequence[Mapping[str, Any]], empty: str) -> None:
        """A sheet from row dicts; a one-line note when there is nothing to show."""
        if not rows:
            self.table(title, [Column("Note")], [(empty,)])
            return
        headers = list(rows[0])
        columns = [Column(h, AUTO) for h in headers]
        self.table(title, columns, ([r.get(h) for h in headers] for r in rows))


def _widths(columns: Sequence[Column], sample: Sequence[Sequence[Any]]) -> list[float]:
    widths = []
    for i, col in enumerate(columns):
        longest = len(col.header) + 2  # bold header and the filter button
        for row in sample:
            longest = max(longest, _display_len(row[i]))
        widths.append(float(min(MAX_WIDTH, max(MIN_WIDTH, longest + 2))))
    return widths


def _display_len(value: Any) -> int:
    if isinstance(value, Styled):
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


def discard_sheet_buffers(wb: Workbook) -> None:
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
