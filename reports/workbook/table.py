"""Streaming one table into a sheet: the writer every sheet family hands its rows to.

A table is a bold, frozen header row, the rows, an autofilter over them and, for a status
column, one conditional-formatting rule per status. Rows are streamed (xlsxwriter's
constant_memory mode flushes each row when the next starts), column widths come from the
first rows (capped per column: text wraps past the cap), and a table longer than Excel's row
limit continues on "<title> (2)", ... .

Every sheet is also set up to print (`PageSetup`): landscape, fitted to the page width (as
many pages tall as it needs), the header row repeated on every page, gridlines printed, a
page header naming the sheet, the organization and the run, and "page N of M" in the footer.
A table may freeze its key columns besides the header (`freeze_cols`), print only its first
columns (`print_cols`: the machine columns after them stay on screen) or fit on one page
(`one_page`, the Summary).

Kept apart from the sheets so that the hot loop (every finding of a population passes
through it) lives in one place and the sheet modules only say which rows and columns.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import chain, islice
from typing import Any

from xlsxwriter import Workbook
from xlsxwriter.worksheet import Worksheet

from reports.cells import is_plain_text, needs_quote_prefix, sheet_title, xlsx_text
from reports.workbook.styles import (
    AUTO,
    HEADER_FILL,
    STATUS_COLORS,
    TEXT,
    Column,
    Formats,
    Link,
    Styled,
    put_styled,
    putters,
)
from reports.workbook.textwidth import CELL_PADDING_PX, text_lines, text_px

# Excel's row limit; a longer table continues on a sheet named "<title> (2)".
MAX_SHEET_ROWS = 1_048_576
WIDTH_SAMPLE_ROWS = 200
KNOWN_PLAIN_MAX = 4096  # per table: plain texts remembered by the writer's fast path
MIN_WIDTH = 8
MAX_WIDTH = 66

_PIXELS_PER_CHAR = 7  # xlsxwriter's max digit width (Calibri 11): `width` pixels = width * 7
PAPER_LETTER, PAPER_A4 = 1, 9
WIDEST_CHAR_PX = 13.1  # "W" in Calibri 11: a text this short per character fits whatever its letters
LINE_HEIGHT = 15.0  # points per line of Calibri 11 (xlsxwriter's default row height)
MAX_ROW_HEIGHT = 409.0  # Excel's largest row height, in points


@dataclass(frozen=True)
class PageSetup:
    """How every sheet prints: the paper, and the text of each page's header (besides the sheet name)."""

    header: str = ""  # e.g. "Acme: SOC 2 evidence, run 20261130T100000Z-abcdef"
    paper: int = PAPER_LETTER


def _header_text(text: str) -> str:
    """Text for an Excel page header: `&` doubled (it starts a code), at most 200 characters."""
    return text.replace("&", "&&")[:200]


def continuation_sheets(rows: int) -> int:
    """How many continuation sheets a table of `rows` rows needs past its first (the header takes a row)."""
    per_sheet = MAX_SHEET_ROWS - 1
    return max(0, -(-rows // per_sheet) - 1)


class TableWriter:
    """Writes tables into `wb`; `taken` is the workbook's sheet names, so continuation sheets get new ones."""

    def __init__(self, wb: Workbook, formats: Formats, taken: set[str], page: PageSetup | None = None) -> None:
        self.wb = wb
        self.formats = formats
        self.taken = taken
        self.page = page or PageSetup()

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
        freeze_cols: int = 0,
        print_cols: int | None = None,
        one_page: bool = False,
    ) -> None:
        """Stream `rows` into a new sheet (and continuation sheets past Excel's row limit).

        `status_col` gets one conditional-formatting rule per status (`status_colors`), so a
        status edited in Excel recolours; `continuations` names the continuation sheets;
        `freeze_cols` key columns stay in view when scrolling right; `print_cols` limits the
        printed columns to the first ones; `one_page` fits the printout on one page.
        """
        it = iter(rows)
        sample = list(islice(it, WIDTH_SAMPLE_ROWS))
        widths = _widths(columns, sample)
        layout = (freeze_cols, print_cols, one_page)
        ws = self._open_sheet(title, columns, widths, tab_color, layout)
        puts = putters(ws, columns, self.formats, print_cols)
        write_string = ws.write_string
        is_text = [c.kind == TEXT for c in columns]
        plain = is_plain_text
        # Plain texts seen on this table (accounts, regions, checks, evidence files...): a set
        # lookup instead of a regex search for the values that repeat; bounded.
        known: set[str] = set()

        def remember(text: str) -> bool:
            if len(known) < KNOWN_PLAIN_MAX and len(text) <= 200:
                known.add(text)
            return True

        ncols = len(columns)
        styled = Styled
        # pixels of each wrapped column (the printed ones; 0: not counted), for the row heights; a text
        # shorter than `one_line` characters fits on one line whatever its letters
        printed = len(columns) if print_cols is None else print_cols
        col_px = [
            w * _PIXELS_PER_CHAR if c.kind in (TEXT, AUTO) and i < printed else 0.0
            for i, (c, w) in enumerate(zip(columns, widths, strict=True))
        ]
        one_line = [int((px - CELL_PADDING_PX) // WIDEST_CHAR_PX) for px in col_px]
        set_row = ws.set_row
        row_info, row_sizes = _row_dicts(ws)
        n = 0
        for row in chain(sample, it):
            if n + 1 >= MAX_SHEET_ROWS:
                self._close_table(ws, columns, n, status_col, status_colors, print_cols)
                name = next(continuations, None) if continuations is not None else None
                ws = self._open_sheet(name or sheet_title(title, self.taken), columns, widths, tab_color, layout)
                puts = putters(ws, columns, self.formats, print_cols)
                write_string, set_row = ws.write_string, ws.set_row
                row_info, row_sizes = _row_dicts(ws)
                n = 0
            if len(row) != ncols:
                raise ValueError(f"{title}: a row of {len(row)} values for {ncols} columns")
            n += 1
            lines = 1
            for col, value in enumerate(row):
                if value.__class__ is str:
                    if not value:
                        continue  # empty text: an empty cell, as openpyxl wrote it
                    if col_px[col] and (len(value) > one_line[col] or "\n" in value):
                        lines = max(lines, text_lines(value, col_px[col]))
                    if is_text[col] and (value in known or (plain(value) and remember(value))):
                        # The common case, inlined: text that clean_text keeps as is and that
                        # needs no quote prefix (cells.is_plain_text); the rest goes through put_text.
                        write_string(n, col, value)
                        continue
                elif value is None:
                    continue  # an empty cell
                elif value.__class__ is styled:  # a few cells per sheet
                    if col_px[col] and isinstance(value.value, str):
                        lines = max(lines, text_lines(value.value, col_px[col], bold=value.bold))
                    put_styled(ws, self.formats, columns[col].kind, n, col, value)
                    continue
                puts[col](n, col, value)
            if lines > 1:
                # Excel grows a wrapped row when it opens the file, LibreOffice does not: the height is written.
                set_row(n, min(MAX_ROW_HEIGHT, LINE_HEIGHT * lines))
            if n > 2:  # row n - 2 is in the sheet's file already: xlsxwriter no longer needs its height
                row_info.pop(n - 2, None)
                row_sizes.pop(n - 2, None)
        self._close_table(ws, columns, n, status_col, status_colors, print_cols)

    def _open_sheet(
        self,
        title: str,
        columns: Sequence[Column],
        widths: Sequence[float],
        tab_color: str | None,
        layout: tuple[int, int | None, bool] = (0, None, False),
    ) -> Worksheet:
        ws = self.wb.add_worksheet(title)
        freeze_cols, print_cols, one_page = layout
        ws.freeze_panes(1, freeze_cols)
        printed = len(columns) if print_cols is None else print_cols
        for i, width in enumerate(widths):
            # In pixels, so the file's <col width> is exactly `width` (set_column adds the cell padding).
            # Printed columns wrap; the others keep one line (their rows are not sized for them).
            fmt = self.formats.plain if i < printed else self.formats.single_line
            ws.set_column_pixels(i, i, round(width * _PIXELS_PER_CHAR), fmt)
        self._print_setup(ws, len(columns) if print_cols is None else min(print_cols, len(columns)), one_page)
        if tab_color:
            ws.set_tab_color("#" + tab_color)
        lines = 1
        for i, col in enumerate(columns):
            text = xlsx_text(col.header)
            fmt = self.formats.get(fill=HEADER_FILL, bold=True, quote=needs_quote_prefix(text), wrap=i < printed)
            ws.write_string(0, i, text, fmt)
            if i < printed:
                lines = max(lines, text_lines(text, widths[i] * _PIXELS_PER_CHAR, bold=True))
        if lines > 1:
            ws.set_row(0, min(MAX_ROW_HEIGHT, LINE_HEIGHT * lines))
        return ws

    def _print_setup(self, ws: Worksheet, print_cols: int, one_page: bool) -> None:
        """Landscape, fitted to the page width (one page tall too for `one_page`), the header row
        repeated on every page, gridlines printed, the sheet, organization and run in the page
        header, "page N of M" in the footer; only the first `print_cols` columns are printed."""
        ws.set_landscape()
        ws.set_paper(self.page.paper)
        ws.fit_to_pages(1, 1 if one_page else 0)
        ws.repeat_rows(0)
        ws.hide_gridlines(0)
        ws.set_margins(left=0.4, right=0.4, top=0.45, bottom=0.4)
        ws.set_header(f'&L&"-,Bold"&A&R{_header_text(self.page.header)}', {"margin": 0.2})
        ws.set_footer("&RPage &P of &N", {"margin": 0.2})

    def _close_table(
        self,
        ws: Worksheet,
        columns: Sequence[Column],
        n: int,
        status_col: int | None,
        status_colors: Mapping[str, str] = STATUS_COLORS,
        print_cols: int | None = None,
    ) -> None:
        """Autofilter, conditional formatting and the print area are kept apart from the rows: set them last."""
        ws.autofilter(0, 0, n, len(columns) - 1)
        if print_cols is not None and print_cols < len(columns):
            ws.print_area(0, 0, max(n, 1), print_cols - 1)
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
    """Each column as wide as its longest value in the first rows, within MIN_WIDTH and the column's
    cap (MAX_WIDTH by default): text past the cap wraps. A header wraps at spaces, so its longest word
    (and the filter button) is what it needs."""
    widths = []
    for i, col in enumerate(columns):
        cap = col.max_width or MAX_WIDTH
        longest = max((len(w) for w in col.header.split()), default=0) + 3  # bold, and the filter button
        for row in sample:
            longest = max(longest, _display_len(row[i]))
        widths.append(float(min(cap, max(MIN_WIDTH, longest + 2))))
    return widths


def _row_dicts(ws: Worksheet) -> tuple[dict[int, Any], dict[int, Any]]:
    """xlsxwriter's per-row height records: in constant_memory mode a written row's can be dropped
    (200,000 rows would otherwise keep 200,000 records); empty dicts if xlsxwriter changes them."""
    info, sizes = getattr(ws, "row_info", None), getattr(ws, "row_sizes", None)
    return (info if isinstance(info, dict) else {}), (sizes if isinstance(sizes, dict) else {})


def _display_len(value: Any) -> int:
    """How wide `value` shows, in characters of a digit's width (a column width's unit)."""
    if isinstance(value, Styled):
        value = value.value
    if isinstance(value, Link):
        value = value.text
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 19
    if isinstance(value, date):
        return 10
    if isinstance(value, str) and len(value) > 20 and value[:4].isdigit() and value.endswith("Z"):
        return 19  # an ISO timestamp, shown as yyyy-mm-dd hh:mm:ss
    text = str(value)
    # in digit widths (what a column width counts), from the font's widths: hex and capitals are wider
    return max((-int(-text_px(line) // _PIXELS_PER_CHAR) for line in text.splitlines()), default=0)


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
