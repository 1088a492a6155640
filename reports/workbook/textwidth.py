"""How many lines a text takes in a wrapped cell: the row heights the workbook writes.

Excel grows a row with wrapped text when it opens the file; LibreOffice does not (it keeps the
default height and lets lines overlap, on screen and in print). So the workbook writes each
row's height itself, from an estimate of the text's width in the workbook's font, Calibri 11
(LibreOffice lays it out with Carlito, which has the same metrics). The estimate uses the
font's advance widths for printable ASCII (other characters count as a digit's width per
UTF-8 byte) and, for text with spaces, a margin for the ends of lines that word wrapping
leaves empty: an estimate, on the generous side, so text is not cut off.
"""

from __future__ import annotations

from functools import lru_cache

# Calibri / Carlito Regular advance widths of " " .. "~" (units per em: 2048).
_ASCII_WIDTHS = (
    463, 667, 821, 1020, 1038, 1464, 1397, 452, 621, 621, 1020, 1020, 511, 627, 517, 791,
    1038, 1038, 1038, 1038, 1038, 1038, 1038, 1038, 1038, 1038, 548, 548, 1020, 1020, 1020, 949,
    1831, 1185, 1114, 1092, 1260, 1000, 941, 1292, 1276, 516, 653, 1064, 861, 1751, 1322, 1356,
    1058, 1378, 1112, 941, 998, 1314, 1162, 1822, 1063, 998, 959, 628, 791, 628, 1020, 1020,
    596, 981, 1076, 866, 1076, 1019, 625, 964, 1076, 470, 490, 931, 470, 1636, 1076, 1080,
    1076, 1076, 714, 801, 686, 1076, 925, 1464, 887, 927, 809, 644, 943, 644, 1020,
)  # fmt: skip
_UNIT = 8  # widths stored in eighths, so each fits in a byte
_DEFAULT = 1038 // _UNIT  # a digit: any other byte (non-ASCII text counts per UTF-8 byte)
_TABLE = bytes(
    _ASCII_WIDTHS[b - 32] // _UNIT if 32 <= b < 127 else (0 if b in (10, 13) else _DEFAULT) for b in range(256)
)
_EM_PX = 11 * 96 / 72  # 11 pt at 96 dpi
_PX_PER_UNIT = _UNIT * _EM_PX / 2048
CELL_PADDING_PX = 8  # both sides of a cell, with a margin
WORD_WRAP_FILL = 0.9  # the share of a line word wrapping fills, on average and then some
BOLD = 1.08  # bold text is wider


def text_px(text: str) -> float:
    """The width of `text` on one line, in pixels, in Calibri 11."""
    return sum(text.encode("utf-8", "replace").translate(_TABLE)) * _PX_PER_UNIT


@lru_cache(maxsize=8192)  # values repeat: expected values, reasons, evidence files of a scope
def text_lines(text: str, column_px: float, *, bold: bool = False) -> int:
    """Lines `text` takes in a wrapped cell `column_px` pixels wide (line feeds start new lines)."""
    room = max(1.0, column_px - CELL_PADDING_PX)
    lines = 0
    for part in text.split("\n"):
        width = text_px(part) * (BOLD if bold else 1.0)
        if width <= room:
            lines += 1
            continue
        if " " in part:
            width /= WORD_WRAP_FILL
        lines += max(1, -int(-width // room))
    return lines
