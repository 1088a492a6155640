"""Cell safety layer for the workbooks: every cell that holds text goes through here.

Text in the workbook may come from the cloud (resource IDs, tags, error
messages), so it is never trusted:

- it is always stored as a string cell, never as a formula (openpyxl turns any
  string starting with "=" into a formula unless told otherwise);
- characters that are illegal in XML are removed, so the file stays readable;
- text that Excel could re-interpret when a user edits the cell (leading
  = + - @ tab CR LF) gets the cell's quotePrefix style, Excel's own "this is
  text" marker (the apostrophe shown in the formula bar);
- sequences that look like OOXML escapes (`_x0041_`) are themselves escaped,
  so Excel shows the original text and not the character they encode;
- carriage returns are written as line feeds (an XML reader would normalise a
  raw CR to LF anyway; doing it here makes every reader see the same text);
- text is cut at Excel's 32,767-character cell limit with a visible marker.

Datetimes are written as real Excel datetimes, in UTC, without tzinfo (Excel
has no time zones).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE

MAX_CELL_CHARS = 32_767  # Excel's limit, in UTF-16 code units
TRUNCATION_MARKER = "…[truncated]"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
DATE_FORMAT = "yyyy-mm-dd"
MAX_SHEET_TITLE = 31
_FAST_LEN = MAX_CELL_CHARS // 2  # at most 2 UTF-16 units per character: surely within Excel's limit

# openpyxl's set (C0 controls except tab, LF, CR) plus what XML 1.0 also forbids
# and Python strings can still carry: lone surrogates, U+FFFE and U+FFFF.
_ILLEGAL_RE = re.compile(ILLEGAL_CHARACTERS_RE.pattern + r"|[\ud800-\udfff\ufffe\uffff]")
# Excel decodes `_xHHHH_` in cell text to the character U+HHHH; `_x005F_` is the
# escaped underscore, so `_x0041_` must be written `_x005F_x0041_` to survive.
_OOXML_ESCAPE_RE = re.compile(r"_(x[0-9A-Fa-f]{4}_)")
_FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r", "\n")
_ERROR_CODES = frozenset(ERROR_CODES)
# Anything clean_text would change (besides length): one search on the fast path.
_NEEDS_CLEANING_RE = re.compile(_ILLEGAL_RE.pattern + r"|\r|_x[0-9A-Fa-f]{4}_")
_SHEET_TITLE_ILLEGAL_RE = re.compile(r"[\[\]:*?/\\]")


def clean_text(value: Any) -> str:
    """The text as it will be stored: legal XML, LF line ends, OOXML escapes
    escaped, within Excel's limit."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= _FAST_LEN and _NEEDS_CLEANING_RE.search(text) is None:
        return text  # the common case: nothing to remove, escape or cut
    text = _ILLEGAL_RE.sub("", text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "_x" in text:
        text = _OOXML_ESCAPE_RE.sub(r"_x005F_\1", text)
    return _truncate(text)


def needs_quote_prefix(text: str) -> bool:
    """Would Excel re-interpret this text (as a formula or an error value) if a user edited the cell?"""
    return text.startswith(_FORMULA_LEADS) or text in _ERROR_CODES


def text_cell(ws: Any, value: Any) -> WriteOnlyCell:
    """A string cell holding `value` as text, whatever it starts with.

    `None` gives an empty cell; other non-strings are written as `str(value)`.
    """
    cell = WriteOnlyCell(ws)
    if value is None:
        return cell
    _fill_text_cell(cell, clean_text(value))
    return cell


def text_value(ws: Any, value: Any) -> str | WriteOnlyCell | None:
    """What to append to a write-only sheet for text: the same as `text_cell`, but
    as a plain (cleaned) `str` when openpyxl is sure to store it as a string.

    That is the fast path for big tables: openpyxl only makes a formula of text
    starting with "=" and an error value of "#N/A" and the like, and such text
    (and any other text that needs the quote prefix) still gets a full cell.
    """
    if value is None:
        return None
    text = clean_text(value)
    if not needs_quote_prefix(text):
        return text
    cell = WriteOnlyCell(ws)
    _fill_text_cell(cell, text)
    return cell


def _fill_text_cell(cell: Any, text: str) -> None:
    # Setting the value first lets openpyxl do its own checks; then the type is
    # forced to string, since openpyxl marks any text starting with "=" as a
    # formula and "#N/A" and the like as error values.
    cell.value = text
    cell.data_type = "s"
    if needs_quote_prefix(text):
        cell.quotePrefix = True


def to_utc_naive(value: datetime | str) -> datetime:
    """An aware datetime or an ISO 8601 string as a naive UTC datetime.

    Naive input is taken to be UTC already. Raises ValueError on a string
    that is not ISO 8601.
    """
    dt = datetime.fromisoformat(value) if isinstance(value, str) else value
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


def datetime_cell(ws: Any, value: datetime | date | str | None) -> WriteOnlyCell:
    """A real Excel datetime (UTC, naive) formatted yyyy-mm-dd hh:mm:ss.

    A `date` gives a date cell. A string that is not ISO 8601 is kept as text
    (through `text_cell`) rather than lost: the auditor sees what was recorded.
    """
    if value is None or value == "":
        return WriteOnlyCell(ws)
    if isinstance(value, date) and not isinstance(value, datetime):
        cell = WriteOnlyCell(ws, value=value)
        cell.number_format = DATE_FORMAT
        return cell
    try:
        dt = to_utc_naive(value)
    except (TypeError, ValueError):
        return text_cell(ws, value)
    cell = WriteOnlyCell(ws, value=dt)
    cell.number_format = DATETIME_FORMAT
    return cell


def sheet_title(name: str, taken: set[str]) -> str:
    """A legal, unique Excel sheet name derived from `name`; adds it to `taken`.

    Excel sheet names: 1-31 characters, none of []:*?/\\, not starting or
    ending with an apostrophe, unique ignoring case, and not "History"
    (reserved). Clashes get a numeric suffix: "name (2)", "name (3)"...
    """
    title = _ILLEGAL_RE.sub("", name)
    title = _SHEET_TITLE_ILLEGAL_RE.sub("_", title).replace("\r", " ").replace("\n", " ").replace("\t", " ")
    title = _fit(title.strip().strip("'").strip()) or "Sheet"
    if title.casefold() == "history":
        title = "History_"
    folded = {t.casefold() for t in taken}
    candidate = title
    n = 2
    while candidate.casefold() in folded:
        suffix = f" ({n})"
        candidate = _fit(title, MAX_SHEET_TITLE - len(suffix)).rstrip().rstrip("'") + suffix
        n += 1
    taken.add(candidate)
    return candidate


def sheet_ref(title: str, cell: str = "A1") -> str:
    """An internal reference to a cell of a sheet, e.g. 'My sheet'!A1."""
    return "'" + title.replace("'", "''") + "'!" + cell


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _fit(text: str, limit: int = MAX_SHEET_TITLE) -> str:
    """Cut `text` to at most `limit` UTF-16 code units, never inside a surrogate pair."""
    if len(text) * 2 <= limit or _utf16_len(text) <= limit:
        return text
    return text.encode("utf-16-le")[: limit * 2].decode("utf-16-le", errors="ignore")


def _truncate(text: str) -> str:
    if len(text) * 2 <= MAX_CELL_CHARS or _utf16_len(text) <= MAX_CELL_CHARS:
        return text
    # Cutting escaped text never creates a new escape: any `_xHHHH_` in the
    # kept prefix was already in the escaped text.
    return _fit(text, MAX_CELL_CHARS - len(TRUNCATION_MARKER)) + TRUNCATION_MARKER


# --- xlsxwriter -------------------------------------------------------------------------------------
# xlsxwriter escapes `_xHHHH_` in string cells itself (as `_x005F_xHHHH_`, the same escape as
# clean_text's), so it is handed clean_text's result with that one escape undone: the stored text
# is then clean_text's, byte for byte.
_OOXML_ESCAPED_RE = re.compile(r"_x005F_(x[0-9A-Fa-f]{4}_)")
# A truncated escape left just before the truncation marker: `_x005F_` and at most part of `xHHHH_`.
_CUT_ESCAPE_RE = re.compile(r"_x005F_(x[0-9A-Fa-f]{0,4})?$")


def xlsx_text(value: Any) -> str:
    """The text to give xlsxwriter's `write_string` for `value`: `clean_text(value)`, with the
    OOXML escapes left for xlsxwriter to make (it escapes every `_xHHHH_` itself).

    Use `needs_quote_prefix` on the result to choose the quote-prefix format: undoing the
    escapes never changes a leading character or an error-code-like text.
    """
    text = clean_text(value)
    if "_x005F_" not in text:
        return text
    raw = _OOXML_ESCAPED_RE.sub(r"_\1", text)
    if text.endswith(TRUNCATION_MARKER) and _ooxml_escape(raw) != text:
        # The cut fell inside an escape: no input makes xlsxwriter store that half escape, so
        # its text is kept unescaped (Excel shows the same characters).
        kept = text[: -len(TRUNCATION_MARKER)]
        kept = _CUT_ESCAPE_RE.sub(lambda m: "_" + (m.group(1) or ""), kept)
        raw = _OOXML_ESCAPED_RE.sub(r"_\1", kept) + TRUNCATION_MARKER
    return raw


def _ooxml_escape(text: str) -> str:
    """What xlsxwriter stores for `text` (its `_xHHHH_` escape; clean text has no control characters)."""
    return _OOXML_ESCAPE_RE.sub(r"_x005F_\1", text)


# Text that clean_text keeps as is and that needs no quote prefix matches nothing here (and is
# at most _FAST_LEN long): no leading = + - @ tab CR LF, no leading "#" (every error code starts
# with one), nothing to remove, escape or cut. One search: the fast path for big tables.
_NOT_PLAIN_RE = re.compile(r"\A[=+\-@\t\r\n#]|" + _NEEDS_CLEANING_RE.pattern)
PLAIN_TEXT_MAX_LEN = _FAST_LEN
not_plain_text = _NOT_PLAIN_RE.search  # not_plain_text(text) is None: plain (if short enough)
# What the regex's leading-character branch still has to catch in printable text (tab, CR and LF are not printable).
_PRINTABLE_LEADS = ("=", "+", "-", "@", "#")


def is_plain_text(text: str) -> bool:
    """True when `text` is stored as is (`clean_text(text) == text`) and needs no quote prefix.

    Printable text (`str.isprintable`: no control character, surrogate or noncharacter, which is
    everything clean_text removes or rewrites) without "_x" is decided by its first character, ten
    times faster than the search; the rest (line breaks, non-breaking spaces, escape look-alikes)
    takes the search. Every population cell passes through here.
    """
    if len(text) > PLAIN_TEXT_MAX_LEN:
        return False
    if text.isprintable() and "_x" not in text:
        return not text.startswith(_PRINTABLE_LEADS)
    return _NOT_PLAIN_RE.search(text) is None
