"""The workbook's look and how a Python value becomes a cell: colours, formats, cell writers.

Every sheet family writes its cells through here, so a status has one colour, a date one
number format, and a value of a column's kind (text, number, datetime, auto) is written the
same way on every sheet. Text goes through `reports.cells` (the cell-safety layer: clean XML,
quote prefix for formula-like text); this module adds the xlsxwriter side: one `Format` per
combination of fill / bold / link / quote prefix / number format, made once per workbook
(xlsxwriter writes formats in the order they are made, so the same cells give the same styles).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from xlsxwriter import Workbook
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from controls.model import ControlStatus, Status
from reports.cells import DATE_FORMAT, DATETIME_FORMAT, needs_quote_prefix, to_utc_naive, xlsx_text

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


@dataclass(frozen=True, slots=True)
class Styled:
    """A value with a fill, an internal hyperlink or bold text."""

    value: Any
    fill: str | None = None
    location: str | None = None  # internal hyperlink target, e.g. 'Sheet'!A1
    bold: bool = False


# Column kinds: how a raw row value becomes a cell.
TEXT, NUMBER, DATETIME, AUTO = "text", "number", "datetime", "auto"


@dataclass(frozen=True)
class Column:
    header: str
    kind: str = TEXT


class Formats:
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


@lru_cache(maxsize=64)
def parse_time(value: str) -> datetime | str:
    """An ISO timestamp as a naive UTC datetime (cached: a run has one evaluated_at); text kept if not ISO."""
    try:
        return to_utc_naive(value)
    except ValueError:
        return value


def table_columns(headers: Sequence[str], numbers: Iterable[int] = (), dates: Iterable[int] = ()) -> list[Column]:
    kinds = {i: NUMBER for i in numbers} | {i: DATETIME for i in dates}
    return [Column(h, kinds.get(i, TEXT)) for i, h in enumerate(headers)]


Putter = Callable[[int, int, Any], Any]  # (row, col, value) -> write it into the sheet


def putters(ws: Worksheet, columns: Sequence[Column], formats: Formats) -> list[Putter]:
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
            parsed = parse_time(value)
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


def put_styled(ws: Worksheet, formats: Formats, kind: str, row: int, col: int, value: Styled) -> None:
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
        parsed = parse_time(value)
        return parsed if isinstance(parsed, datetime) else None
    return None
