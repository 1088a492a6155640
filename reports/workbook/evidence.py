"""The Evidence index sheet, and the evidence-set hash the Cover carries.

One row per raw-evidence file of the run (what was called, how many answers, how many
failed, its SHA-256); the file name is a relative hyperlink that opens the file from the run
folder (unzipped or copied whole). The "Evidence set SHA-256" on the Cover is the SHA-256 of the sorted
lines "<path> <sha256>" of this index, which an auditor recomputes from manifest.json: it
lives here, beside the index it summarises.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

from reports.workbook.model import EVIDENCE_HEADERS, EVIDENCE_PRINTED, EVIDENCE_SHEET, EVIDENCE_WIDTHS
from reports.workbook.styles import Link, table_columns
from reports.workbook.table import TableWriter
from reports.workbook.view import RunView

EVIDENCE_SET_HOWTO = (
    'SHA-256 of the lines "<path> <sha256>" (one per evidence file, each ending in a line feed, UTF-8),'
    " sorted in byte order. From the run's manifest.json:"
    " jq -r '.evidence[] | \"\\(.path) \\(.sha256)\"' manifest.json | LC_ALL=C sort | sha256sum"
)


def write_evidence_index(out: TableWriter, view: RunView) -> None:
    out.table(
        EVIDENCE_SHEET,
        table_columns(
            EVIDENCE_HEADERS,
            numbers=(EVIDENCE_HEADERS.index("Records"), EVIDENCE_HEADERS.index("Errors")),
            dates=(EVIDENCE_HEADERS.index("Collected at"),),
            links=(EVIDENCE_HEADERS.index("File"),),
            widths=EVIDENCE_WIDTHS,
        ),
        evidence_rows(view),
        freeze_cols=1,
        print_cols=EVIDENCE_PRINTED,
    )


def evidence_rows(view: RunView) -> Iterator[tuple[Any, ...]]:
    for e in view.data.evidence_files:
        yield (  # EVIDENCE_HEADERS order
            Link(e.path, e.path, "Opens the evidence file (relative to this workbook's folder)"),
            e.sha256,
            e.operation,
            e.parameters,
            e.records,
            e.errors,
            e.collected_at,
            e.provider,
            e.account,
            e.region,
            e.service,
        )


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
