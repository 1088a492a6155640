"""The Cover's region rows: per AWS account, the regions examined and the enabled ones that were not.

Read from the manifest's `scope.aws_accounts[]` entries (flows.regions writes the keys), so a
reader of the Cover sees, next to each account, where the run looked and where it did not and
why (excluded with its reason, not in the configured list, or discovery failed): a skipped
region is never silent. Regions skipped for the same reason share one row.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from reports.workbook.styles import Styled

# Keys of an account's scope entry shown by region_rows, not in the account's own line.
REGION_KEYS = frozenset(
    {
        "regions",
        "regions_basis",
        "regions_enabled",
        "regions_not_examined",
        "regions_discovery_error",
        "regions_note",
    }
)
BASIS_TEXT = {
    "enabled": "every region enabled for the account (ec2:DescribeRegions)",
    "configured": "the configured list (aws.regions / aws.accounts[].regions)",
    "fallback": "region discovery FAILED: the regions every account has enabled by default",
    "unreachable": "the account could not be entered: nothing examined beyond the configured list",
}
WARN_FILL = "FFC7CE"


def account_line(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The account's entry without the region keys when region_rows shows them (rows of their own)."""
    if "regions_basis" not in entry:
        return dict(entry)
    return {k: v for k, v in entry.items() if k not in REGION_KEYS}


def region_rows(entry: Mapping[str, Any]) -> Iterator[tuple[Any, ...]]:
    """Cover rows for one account: regions examined (and on what basis), and those not examined."""
    if "regions_basis" not in entry:  # a run written before region planning: its regions only
        return
    account = str(entry.get("id", "?"))
    examined = [str(r) for r in entry.get("regions") or []]
    basis = str(entry.get("regions_basis"))
    warn = WARN_FILL if basis in ("fallback", "unreachable") else None
    yield (
        "Regions",
        f"Account {account}: examined ({len(examined)})",
        Styled(f"{', '.join(examined) or 'none'} — {BASIS_TEXT.get(basis, basis)}", fill=warn),
    )
    skipped = entry.get("regions_not_examined") or []
    if skipped:
        # one row per reason, naming its regions (as the console does): 17 regions excluded for the same
        # reason are one line to read and to print, not 17
        by_reason: dict[str, list[str]] = {}
        for item in skipped:
            by_reason.setdefault(str(item.get("why", "")), []).append(str(item.get("region")))
        for why, regions in by_reason.items():
            fill = None if why.startswith("excluded:") else WARN_FILL
            label = f"Account {account}: not examined" + (f" ({len(regions)})" if len(regions) > 1 else "")
            yield ("Regions", label, Styled(f"{', '.join(regions)}: {why}", fill=fill))
    elif entry.get("regions_enabled") is not None:
        yield ("Regions", f"Account {account}: not examined", "none: every enabled region was examined")
    if entry.get("regions_discovery_error"):
        yield (
            "Regions",
            f"Account {account}: discovery failed",
            Styled(entry["regions_discovery_error"], fill=WARN_FILL),
        )
    if entry.get("regions_note"):
        yield ("Regions", f"Account {account}: note", entry["regions_note"])
