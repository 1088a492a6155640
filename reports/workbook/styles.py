"""The workbook's look and how a Python value becomes a cell: colours, formats, cell writers.

Every sheet family writes its cells through here, so a status has one colour, a date one
number format, and a value of a column's kind (text, number, datetime, auto) is written the
same way on every sheet. Text goes through `reports.cells` (the cell-safety layer: clean XML,
quote prefix for formula-like text); this module adds the xlsxwriter side: one `Format` per
combination of fill / bold / link / quote prefix / number format, made once per workbook
(xlsxwriter writes formats in the order they are made, so the same cells give the same styles).

Every format wraps text and aligns it to the top of the cell (the columns' default format
too), so a long value grows its row instead of running under the next column, on screen and
on paper. Hyperlinks (`Link`): an https URL opens the console; a relative path such as
`evidence/aws/.../ListBuckets.json` opens the evidence file next to the workbook, so links keep
working when the run folder is copied or zipped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from xlsxwriter import Workbook
from xlsxwriter.format import Format
from xlsxwriter.url import Url
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


@dataclass(frozen=True, slots=True)
class Link:
    """A cell that opens `target`: an absolute URL (https://...) or a path relative to the workbook."""

    text: str
    target: str | None
    tip: str | None = None


# Column kinds: how a raw row value becomes a cell. LINK takes a Link (or plain text).
TEXT, NUMBER, DATETIME, AUTO, LINK = "text", "number", "datetime", "auto", "link"
# Excel ignores hyperlinks past 65,530 per sheet, and xlsxwriter keeps every one in memory until the
# workbook is closed: past this budget a link is written as its text (the URL is still the cell's text).
LINKS_PER_SHEET = 20_000
MAX_URL_LENGTH = 2_079  # Excel's limit for a hyperlink target
URL_CACHE = 4_096  # Url objects kept per sheet for reuse


@dataclass(frozen=True)
class Column:
    """A table column: its header, how values become cells, and the widest it may be (in characters;
    text wraps past it). None: the table's default maximum."""

    header: str
    kind: str = TEXT
    max_width: float | None = None


class Formats:
    """The workbook's cell formats, made once per combination."""

    def __init__(self, wb: Workbook) -> None:
        self.wb = wb
        self.cache: dict[tuple[Any, ...], Format | None] = {}
        self.plain = self.get()  # every column's default: wrapped, top-aligned
        self.single_line = self.get(wrap=False)  # columns that are not printed: one line, cut at the border
        self.quote = self.get(quote=True)
        self.datetime = self.get(num_format=DATETIME_FORMAT)
        self.date = self.get(num_format=DATE_FORMAT)
        self.link = self.get(link=True)
        self.dxf: dict[str, Format] = {}

    def get(
        self,
        *,
        fill: str | None = None,
        bold: bool = False,
        link: bool = False,
        quote: bool = False,
        num_format: str | None = None,
        wrap: bool = True,
    ) -> Format | None:
        key = (fill, bold, link, quote, num_format, wrap)
        if key not in self.cache:
            props: dict[str, Any] = {"text_wrap": True, "valign": "top"} if wrap else {"valign": "top"}
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
            self.cache[key] = self.wb.add_format(props)
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


def table_columns(
    headers: Sequence[str],
    numbers: Iterable[int] = (),
    dates: Iterable[int] = (),
    links: Iterable[int] = (),
    widths: dict[str, float] | None = None,
) -> list[Column]:
    """Columns for `headers`: text unless listed as numbers, dates or links; `widths` caps some (by header)."""
    kinds = {i: NUMBER for i in numbers} | {i: DATETIME for i in dates} | {i: LINK for i in links}
    caps = widths or {}
    return [Column(h, kinds.get(i, TEXT), caps.get(h)) for i, h in enumerate(headers)]


def hyperlink(target: str, text: str, tip: str | None = None) -> Url | None:
    """An xlsxwriter Url for `target`, or None when Excel could not store it (too long, no target).

    A relative path is written as a relative, external link with forward slashes (what Excel
    itself writes, and what Excel for Mac and LibreOffice resolve; xlsxwriter would write
    backslashes), so the link opens the file beside the workbook wherever the folder is copied."""
    if not target or len(target) > MAX_URL_LENGTH:
        return None
    absolute = "://" in target
    try:
        url = Url(target if absolute else "external:" + target)
    except ValueError:
        return None
    if not absolute and hasattr(url, "_relationship_link"):
        relative = quote(target, safe="/._-~@+=,;")
        url._relationship_link = relative
        url._link = relative
    url.text = text
    if tip:
        url.tip = tip[:255]
    return url


Putter = Callable[[int, int, Any], Any]  # (row, col, value) -> write it into the sheet


def putters(ws: Worksheet, columns: Sequence[Column], formats: Formats, wrapped: int | None = None) -> list[Putter]:
    """One writer per column, for its kind; each takes a value that is not None. Columns from
    `wrapped` on (those not printed) keep their text on one line."""
    write_string, write_number, write_datetime = ws.write_string, ws.write_number, ws.write_datetime
    quote, dt_format, date_format = formats.quote, formats.datetime, formats.date
    quote_single = formats.get(quote=True, wrap=False)

    def put_text(row: int, col: int, value: Any) -> None:
        text = xlsx_text(value)
        if text:  # empty text is an empty cell, as openpyxl wrote it
            write_string(row, col, text, quote if needs_quote_prefix(text) else None)

    def put_text_single(row: int, col: int, value: Any) -> None:
        text = xlsx_text(value)
        if text:
            write_string(row, col, text, quote_single if needs_quote_prefix(text) else None)

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

    links_left = [LINKS_PER_SHEET - getattr(ws, "hlink_count", 0)]
    link_formats = {
        True: (formats.link, formats.get(link=True, quote=True)),
        False: (formats.get(link=True, wrap=False), formats.get(link=True, quote=True, wrap=False)),
    }
    # One Url per target: the evidence file of thousands of rows. xlsxwriter reads a Url's text when
    # the cell is written and only its target and tip afterwards, so one object can serve many cells.
    urls: dict[tuple[str, str | None], Url | None] = {}
    first_single = len(columns) if wrapped is None else wrapped

    def put_link(row: int, col: int, value: Any) -> None:
        if not isinstance(value, Link):
            (put_text if col < first_single else put_text_single)(row, col, value)
            return
        text = xlsx_text(value.text)
        url = None
        if value.target and text and links_left[0] > 0:
            key = (value.target, value.tip)
            url = urls.get(key, False)  # type: ignore[arg-type]
            if url is False:
                if len(urls) >= URL_CACHE:
                    urls.clear()
                url = urls[key] = hyperlink(value.target, text, value.tip)
        if url is None:
            put_text(row, col, value.text)
            return
        url.text = text
        links_left[0] -= 1
        link_format, link_quote = link_formats[col < first_single]
        ws.write_url(row, col, url, link_quote if needs_quote_prefix(text) else link_format)

    makers = {TEXT: put_text, NUMBER: put_number, DATETIME: put_datetime, AUTO: put_auto, LINK: put_link}
    out = [makers[c.kind] for c in columns]
    return [put_text_single if i >= first_single and c.kind == TEXT else out[i] for i, c in enumerate(columns)]


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
