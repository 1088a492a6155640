"""The period report and samples for a config: which runs to read, from where, into which folder.

Shared by the `period` and `sample` commands (flows.period_cli) and by `soc2-evidence demo`,
which ends with a period report over the demo's runs. The reading and writing is
reports.period / reports.sample; this module adds the config's defaults and the evidence locker:
for a bucket, every run's manifest is fetched first (to see which runs the period holds), then
only those runs' findings, controls and catalog, never their evidence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

from reports.locker import DRIFT_FILES, MANIFEST_ONLY, parse_location
from reports.period import PeriodReport, period_report
from reports.period.timeline import midnight, run_started
from reports.store import completed_runs

# The shipped deployment runs daily (prefect.yaml, `soc2-evidence schedule --cron "0 6 * * *"`);
# the config does not record the schedule, so the period report assumes it unless told otherwise.
DEFAULT_INTERVAL = timedelta(days=1)
DEFAULT_INTERVAL_SOURCE = "(default: the shipped daily schedule; set the real one with --interval)"
REPORTS_FOLDER = "period-reports"
SAMPLES_FOLDER = "samples"
PERIOD_FILES: tuple[str, ...] = (*DRIFT_FILES, "catalog.yaml")

# (where, run IDs or None for all, files) -> a local output directory holding runs/
View = Callable[[str, Sequence[str] | None, Sequence[str] | None], Path]


def default_out_dir(where: str, local: Path, folder: str) -> Path:
    """<output>/<folder> for a directory output; ./<folder> for a bucket (nothing is uploaded)."""
    return Path(folder) if parse_location(where).is_remote else Path(local) / folder


def period_view(where: str, first: date, last: date, view: View | None = None) -> Path:
    """A local output directory with what the period report reads of `where`: every manifest,
    and the findings, controls and catalog of the runs started in the period and of the last
    run before it. A directory output is read in place."""
    if not parse_location(where).is_remote:
        return Path(where)
    if view is None:
        raise ValueError(f"{where}: a bucket is read through a view (flows.cli_common.local_view)")
    manifests = view(where, None, MANIFEST_ONLY)
    start, end = midnight(first), midnight(last) + timedelta(days=1)
    infos = completed_runs(manifests)
    wanted = [i.run_id for i in infos if start <= run_started(i) < end]
    before = [i.run_id for i in infos if run_started(i) < start]
    ids = before[-1:] + wanted
    return view(where, ids, PERIOD_FILES) if ids else manifests


def write_period_report(
    where: str,
    organization: str,
    first: date,
    last: date,
    view: View | None = None,
    *,
    interval: timedelta | None = None,
    matrix: str = "auto",
    out_dir: Path | None = None,
    now: datetime | None = None,
) -> PeriodReport:
    """The period workbook for the runs at `where` (a directory or a bucket)."""
    local = period_view(where, first, last, view)
    source = "(--interval)" if interval is not None else DEFAULT_INTERVAL_SOURCE
    return period_report(
        local,
        first,
        last,
        interval or DEFAULT_INTERVAL,
        organization=organization,
        out_dir=out_dir or default_out_dir(where, local, REPORTS_FOLDER),
        interval_source=source,
        matrix=matrix,
        now=now,
    )
