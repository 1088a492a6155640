"""What the exports say about the run itself: `RunMeta` (ids, period, times, hashes, account names).

Its own module because every export format (OSCAL, OCSF) and the package's `write_exports`
need it: the formats import it from here, not from the package, so the package can import
the formats without an import circle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any


def _utc(value: datetime | str) -> datetime:
    dt = datetime.fromisoformat(value) if isinstance(value, str) else value
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _day(value: date | str) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


@dataclass(frozen=True)
class RunMeta:
    """What the exports say about the run itself.

    Hashes are optional: during a run the exports are written before the manifest (which hashes them), so
    `manifest_sha256` is only known when a completed run is exported again (`RunMeta.from_manifest`).
    """

    run_id: str
    organization: str
    period_start: date
    period_end: date
    started_at: datetime  # UTC (naive values are taken as UTC)
    finished_at: datetime  # UTC
    tool_version: str
    config_sha256: str = ""
    catalog_sha256: str = ""
    findings_sha256: str = ""
    controls_sha256: str = ""
    manifest_sha256: str = ""
    previous_manifest_sha256: str = ""
    account_names: Mapping[str, str] = field(default_factory=dict)  # account id -> name, when known

    def __post_init__(self) -> None:
        object.__setattr__(self, "started_at", _utc(self.started_at))
        object.__setattr__(self, "finished_at", _utc(self.finished_at))
        object.__setattr__(self, "period_start", _day(self.period_start))
        object.__setattr__(self, "period_end", _day(self.period_end))

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any], manifest_sha256: str = "") -> RunMeta:
        """The RunMeta of a stored run (reports.store.read_manifest), e.g. to export a past run again."""
        outputs = manifest.get("outputs") or {}
        names: dict[str, str] = {}
        for acct in (manifest.get("scope") or {}).get("aws_accounts") or ():
            if isinstance(acct, Mapping) and acct.get("id") and acct.get("name"):
                names[str(acct["id"])] = str(acct["name"])
        return cls(
            run_id=str(manifest["run_id"]),
            organization=str(manifest.get("organization") or ""),
            period_start=manifest["period"]["start"],
            period_end=manifest["period"]["end"],
            started_at=manifest["started_at"],
            finished_at=manifest.get("finished_at") or manifest["started_at"],
            tool_version=str(manifest.get("tool_version") or ""),
            config_sha256=str(manifest.get("config_sha256") or ""),
            catalog_sha256=str((manifest.get("catalog") or {}).get("sha256") or ""),
            findings_sha256=str((outputs.get("findings") or {}).get("sha256") or ""),
            controls_sha256=str((outputs.get("controls") or {}).get("sha256") or ""),
            manifest_sha256=manifest_sha256,
            previous_manifest_sha256=str(manifest.get("previous_manifest_sha256") or ""),
            account_names=names,
        )
