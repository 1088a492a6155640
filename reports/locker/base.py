"""The locker interface (`Locker`) and what every backend shares: run-ID and path checks, the
listing of a local run's files, the worker pool, and the file sets readers ask for.

The backends (reports.locker.directory, .s3, .gcs through .objects) implement the abstract
methods; the reading side (`completed_runs`, `materialise`, `stage`) is written once here against
them. See the package docstring (reports.locker) for the layout and the manifest-last rule.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from reports.locker.location import Location
from reports.store import CONTROLS, FINDINGS, MANIFEST, RunInfo, completed_runs, read_manifest

# What each reader needs of a run besides its manifest (materialise(files=...)); None = the whole run.
MANIFEST_ONLY: tuple[str, ...] = (MANIFEST,)
HISTORY_FILES: tuple[str, ...] = (MANIFEST, CONTROLS)
DRIFT_FILES: tuple[str, ...] = (MANIFEST, FINDINGS, CONTROLS, "drift.json")  # drift.json: failing since

DEFAULT_WORKERS = 8

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+=-]{0,119}$")


class LockerError(Exception):
    """The locker cannot do what was asked (missing bucket, refused upload, checksum mismatch...)."""


def _check_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id) or run_id in (".", ".."):
        raise LockerError(f"invalid run ID {run_id!r}")
    return run_id


def _safe_rel(rel: str) -> str:
    """A relative POSIX path inside a run (from a remote listing): no absolute path, no '..'."""
    p = PurePosixPath(rel)
    if not rel or p.is_absolute() or any(part in ("", ".", "..") for part in rel.split("/")) or "\\" in rel:
        raise LockerError(f"refusing object path {rel!r}: not a plain relative path")
    return rel


def _run_files(run_dir: Path) -> list[str]:
    """Every regular file of a local run directory, as sorted relative POSIX paths."""
    out = []
    for p in sorted(run_dir.rglob("*")):
        if p.is_symlink():
            raise LockerError(f"{p}: symbolic links are not uploaded (a run holds regular files only)")
        if p.is_file():
            out.append(p.relative_to(run_dir).as_posix())
    return out


def _pool_map(fn: Callable[[Any], Any], items: Iterable[Any], workers: int) -> list[Any]:
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(fn, items))


class Locker(ABC):
    """One code path for every kind of output location (see the package docstring, reports.locker)."""

    location: Location
    workers: int = DEFAULT_WORKERS

    @abstractmethod
    def check(self) -> list[str]:
        """Start-up check: warnings about immutability; raises LockerError when unusable (no bucket)."""

    @abstractmethod
    def upload_run(
        self, local_run_dir: Path, run_id: str, *, before_manifest: Callable[[], None] | None = None
    ) -> None:
        """Store a complete local run: every file, verified, then manifest.json last.
        `before_manifest` is called after the other files and before the manifest (tests)."""

    @abstractmethod
    def list_runs(self) -> list[str]:
        """Run IDs whose manifest.json exists, sorted (run IDs sort by start time)."""

    @abstractmethod
    def list_incomplete(self) -> list[str]:
        """Run IDs with files but no manifest.json (killed, or an upload in progress)."""

    @abstractmethod
    def fetch_run(self, run_id: str, dest: Path, files: Sequence[str] | None = None) -> Path:
        """Download a run into `dest` (its manifest, plus `files`, or everything when None) and
        return `dest`. A whole-run fetch removes local files the locker does not hold, so
        verify_run sees exactly what is stored."""

    def completed_runs(self, cache: Path) -> list[RunInfo]:
        """Like reports.store.completed_runs, reading manifests only: each run's manifest is
        downloaded to cache/runs/<id>/manifest.json (no evidence is transferred)."""
        ids = self.list_runs()
        _pool_map(lambda rid: self._fetch_manifest(rid, Path(cache) / "runs" / rid), ids, self.workers)
        wanted = set(ids)
        return [r for r in completed_runs(Path(cache)) if r.run_id in wanted]

    def materialise(
        self, cache_dir: Path, run_ids: Sequence[str] | None = None, files: Sequence[str] | None = None
    ) -> Path:
        """A local output directory (cache_dir) whose runs/ mirrors the locker: every run's
        manifest, an empty directory per incomplete run, and for `run_ids` (None: every run
        with a manifest) `files` (None: the whole run). Local run directories the locker does
        not hold are removed: cache_dir belongs to the locker (do not stage runs in it)."""
        cache = Path(cache_dir)
        runs_dir = cache / "runs"
        runs_dir.mkdir(parents=True, exist_ok=True)
        ids = self.list_runs()
        incomplete = self._incomplete(ids)
        for child in runs_dir.iterdir():
            if child.name not in ids and child.name not in incomplete:
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        for rid in sorted(incomplete):
            (runs_dir / rid).mkdir(exist_ok=True)
            (runs_dir / rid / MANIFEST).unlink(missing_ok=True)
        _pool_map(lambda rid: self._fetch_manifest(rid, runs_dir / rid), ids, self.workers)
        targets = ids if run_ids is None else list(run_ids)
        missing = [r for r in targets if r not in ids]
        if missing:
            raise LockerError(f"{self.location}: no run with a manifest: {', '.join(missing)}")
        if files is None or any(f != MANIFEST for f in files):
            for rid in targets:
                self.fetch_run(rid, runs_dir / rid, files)
        return cache

    @contextmanager
    def stage(self, keep: Path | None = None) -> Iterator[Path]:
        """The local output directory to assemble a run in (RunWriter.create(staging, run_id)).
        A bucket: `keep` if given (kept afterwards), else a temporary directory removed on exit."""
        if keep is not None:
            Path(keep).mkdir(parents=True, exist_ok=True)
            yield Path(keep)
            return
        with tempfile.TemporaryDirectory(prefix="soc2-evidence-stage-") as tmp:
            yield Path(tmp)

    @contextmanager
    def run_lock(self, accounts: Sequence[str] | None = None) -> Iterator[None]:
        """Held from before a run reads its predecessor until its manifest is stored, so two runs
        cannot record the same predecessor. A bucket takes none (no lease object): forks there are
        detected afterwards (reports.history.chain_forks). DirLocker: a lock file (runlock.py), one per
        `accounts` filter (each filter keeps its own chain)."""
        yield

    # helpers for subclasses
    def _incomplete(self, complete: Sequence[str]) -> set[str]:
        return set(self.list_incomplete()) - set(complete)

    def _fetch_manifest(self, run_id: str, dest: Path) -> Path:
        return self.fetch_run(run_id, dest, MANIFEST_ONLY)

    @staticmethod
    def _local_run(local_run_dir: Path, run_id: str) -> tuple[Path, list[str]]:
        _check_run_id(run_id)
        local = Path(local_run_dir)
        if not (local / MANIFEST).is_file():
            raise LockerError(f"{local}: no {MANIFEST}: an incomplete run is never stored")
        try:
            manifest = read_manifest(local)
        except (OSError, ValueError) as exc:
            raise LockerError(f"{local / MANIFEST}: unreadable: {exc}") from None
        if manifest.get("run_id") not in (None, run_id):
            raise LockerError(f"{local / MANIFEST}: run_id {manifest.get('run_id')!r} is not {run_id!r}")
        return local, [f for f in _run_files(local) if f != MANIFEST]
