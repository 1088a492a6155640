"""The Populations sheet: each population reconciled with the source listing's own count.

Completeness is not shown by counting findings (a resource a collector skipped leaves no
finding). For every check whose population a source listing enumerates (ListBuckets for the
S3 bucket checks, DescribeVolumes for EBS volumes, ListKeys for KMS keys, GCS's bucket list,
...: collectors.listings), one row per account and region of the listing (per account for
global listings) compares the IDs the listing returned with the resources the check judged:
*listed*, *judged*, the IDs *listed but not judged* (a gap in the population) and *judged but
not listed*, then the judged resources by status. A listing that failed makes the population
unknown, and says so. Checks without a declared listing (account-level settings, configured
endpoints, populations such as access keys) get one row that says they are not reconciled.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

from controls.model import Finding, Status
from reports.cells import sheet_ref
from reports.workbook.model import POPULATIONS_HEADERS, POPULATIONS_PRINTED, POPULATIONS_SHEET, SourceListing
from reports.workbook.styles import Styled, table_columns
from reports.workbook.table import TableWriter
from reports.workbook.view import RunView

GLOBAL = "global"
RED, GREEN = "FFC7CE", "C6EFCE"
SHOWN_IDS = 5  # IDs named in a "no" cell; the rest counted
NOT_DECLARED = "n/a: no source listing (account setting, endpoint or other population)"


def write_populations(out: TableWriter, view: RunView) -> None:
    out.table(
        POPULATIONS_SHEET,
        table_columns(
            POPULATIONS_HEADERS,
            numbers=range(POPULATIONS_HEADERS.index("Listed"), POPULATIONS_HEADERS.index("Reconciled")),
            widths={"Check": 28, "Source listing": 24, "Reconciled": 60, "Listing evidence": 70},
        ),
        populations_rows(view),
        freeze_cols=2,
        print_cols=POPULATIONS_PRINTED,
    )


def populations_rows(view: RunView) -> Iterator[tuple[Any, ...]]:
    by_check: dict[str, list[SourceListing]] = defaultdict(list)
    for listing in view.data.listings:
        for check in listing.checks:
            by_check[check].append(listing)
    for cid in view.control_ids:
        info = view.infos.get(cid)
        population = view.population.get(cid, ())
        checks = list(info.checks) if info else []
        checks += sorted({f.result.check_id for f in population} - set(checks))
        link = Styled(cid, location=sheet_ref(view.sheet_names[cid]))
        sheets = ", ".join(view.sheet_lists[cid])  # continuation sheets past Excel's row limit too
        for check in checks:
            findings = [f for f in population if f.result.check_id == check]
            listings = by_check.get(check, [])
            if not listings:
                counts = _statuses(findings)
                judged = len({(f.result.account, f.result.region, f.result.resource_id) for f in findings})
                yield (link, check, "", "", "(none)", None, judged, None, None, *counts, NOT_DECLARED, "", sheets)
                continue
            for listing in listings:
                row = _reconcile(listing, findings)
                if row is not None:
                    yield (link, check, *row, listing.evidence, sheets)


def _reconcile(listing: SourceListing, findings: list[Finding]) -> tuple[Any, ...] | None:
    """One row: the listing's IDs against the check's findings of that type in the listing's scope;
    None when both are empty (nothing listed, nothing judged)."""
    mine = [
        f
        for f in findings
        if f.result.account == listing.account
        and f.result.resource_type == listing.resource_type
        and (listing.region == GLOBAL or f.result.region == listing.region)
    ]
    judged = {f.result.resource_id for f in mine if f.result.resource_id != "*"}
    listed = set(listing.ids)
    if not listed and not mine and not listing.failed:
        return None
    counts = _statuses(mine)
    where = (listing.account, listing.region, listing.listing)
    if listing.failed:
        verdict = Styled(f"no: {listing.listing} failed ({listing.failed}): the population is unknown", fill=RED)
        return (*where, None, len(judged), None, None, *counts, verdict)
    missing, extra = sorted(listed - judged), sorted(judged - listed)
    problems = []
    if missing:
        problems.append(f"{len(missing)} listed but not judged: {_names(missing)}")
    if extra:
        problems.append(f"{len(extra)} judged but not listed: {_names(extra)}")
    verdict = Styled("no: " + "; ".join(problems), fill=RED) if problems else Styled("yes", fill=GREEN)
    return (*where, len(listed), len(judged), len(missing), len(extra), *counts, verdict)


def _statuses(findings: list[Finding]) -> tuple[int, ...]:
    c = Counter(str(f.result.status) for f in findings)
    return (
        c[Status.PASS],
        c[Status.FAIL],
        c[Status.EXCEPTED],
        c[Status.NOT_APPLICABLE],
        c[Status.ERROR],
    )


def _names(ids: list[str]) -> str:
    shown = ", ".join(ids[:SHOWN_IDS])
    return shown + (f" and {len(ids) - SHOWN_IDS} more" if len(ids) > SHOWN_IDS else "")
