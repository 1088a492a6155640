"""The evidence locker: where runs are kept, a local directory or an object-store bucket.

`output:` is a directory, `s3://bucket/prefix` or `gs://bucket/prefix`. The layout is the
same everywhere (DESIGN.md, "A run on disk"), under the prefix:

    <prefix>/runs/<run_id>/manifest.json, findings.jsonl, controls.json, evidence/..., workbook

A run is always assembled locally (for a bucket: in a staging directory, `Locker.stage()`),
then `upload_run` sends it whole, **manifest.json last**: a reader (`list_runs`,
`completed_runs`, `materialise`) only ever counts a run whose manifest object exists, so it
never sees a run without its manifest. A run whose upload died half-way is listed by
`list_incomplete()` (like a local run directory without a manifest).

Readers keep working on local files: `materialise(location, cache_dir, ...)` returns a local
output directory with runs/<id>/ populated (every run's manifest; for the runs asked, some
files or the whole run), which reports.history / drift / verify and flows.evaluate read
unchanged. For a directory location it returns the directory itself.

Integrity: each backend verifies every upload against the local file's digests (S3: SHA-256,
GCS: MD5 and CRC32C; see their modules), and `reports.verify.verify_run` on a fetched copy then
checks every file's SHA-256 against the manifest. Immutability: `check()` warns when the bucket
would let stored evidence be overwritten or deleted.

The modules, one job each:
    location.py    parse `output:` into a Location (pure, no cloud library)
    base.py        the Locker interface and the helpers every backend shares
    directory.py   DirLocker: a local directory
    objects.py     what S3 and GCS share: manifest-last uploads, listing, fetching, digests
    s3.py          S3Locker (boto3)
    gcs.py         GcsLocker (google-cloud-storage)
    runlock.py     one run at a time on a directory: the lock file
This package module opens a location's locker (`open_locker`, `materialise`) and re-exports the
public names, so callers import from `reports.locker` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reports.locker.base import DRIFT_FILES, HISTORY_FILES, MANIFEST_ONLY, Locker, LockerError
from reports.locker.directory import DirLocker
from reports.locker.gcs import GcsLocker
from reports.locker.location import Location, LocationError, parse_location
from reports.locker.runlock import RunLocked
from reports.locker.s3 import S3Locker

__all__ = [
    "DRIFT_FILES",
    "HISTORY_FILES",
    "MANIFEST_ONLY",
    "DirLocker",
    "GcsLocker",
    "Location",
    "LocationError",
    "Locker",
    "LockerError",
    "RunLocked",
    "S3Locker",
    "materialise",
    "open_locker",
    "parse_location",
]


def open_locker(location: str | Path | Location, **options: Any) -> Locker:
    """The locker of an output location. Options go to the locker class:
    S3: session_factory, client, retention, workers; GCS: client_factory, client, workers."""
    loc = parse_location(location)
    if loc.kind == "s3":
        return S3Locker(loc, **options)
    if loc.kind == "gs":
        return GcsLocker(loc, **options)
    return DirLocker(loc)


def materialise(
    location: str | Path | Location | Locker,
    cache_dir: Path,
    run_ids: Sequence[str] | None = None,
    *,
    files: Sequence[str] | None = None,
) -> Path:
    """A local output directory (holding runs/) that reports.history / drift / verify and
    flows.evaluate read unchanged. A directory location is returned as is. For a bucket:
    cache_dir/runs/<id>/manifest.json for every stored run, an empty runs/<id>/ per incomplete
    run, and for `run_ids` (None: all) the `files` (None: whole runs; MANIFEST_ONLY,
    HISTORY_FILES, DRIFT_FILES)."""
    locker = location if isinstance(location, Locker) else open_locker(location)
    return locker.materialise(cache_dir, run_ids, files)
