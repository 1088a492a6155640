"""The directory backend: runs under <dir>/runs/<run_id>/, as before the locker existed.

Separate from the object stores because a directory needs no staging, no checksums from a server
and no client: runs are assembled in place and read in place.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from reports.atomic import atomic_path, sha256_file
from reports.locker.base import Locker, LockerError, _check_run_id, _pool_map, _run_files, _safe_rel
from reports.locker.location import Location, LocationError, parse_location
from reports.locker.runlock import run_lock
from reports.store import MANIFEST, RunInfo, completed_runs


class DirLocker(Locker):
    """Today's behaviour: <dir>/runs/<run_id>/. The staging directory is the output itself, so
    upload_run of writer.path is a no-op; another local run directory is copied (manifest last)."""

    def __init__(self, location: Location | Path | str) -> None:
        self.location = parse_location(location)
        if self.location.kind != "dir" or self.location.path is None:
            raise LocationError(f"{self.location}: not a directory location")
        self.root = self.location.path

    def check(self) -> list[str]:
        if self.root.exists() and not self.root.is_dir():
            raise LockerError(f"{self.root}: expected a directory, but it is a file")
        return []

    def run_dir(self, run_id: str) -> Path:
        return self.root / "runs" / _check_run_id(run_id)

    def upload_run(
        self, local_run_dir: Path, run_id: str, *, before_manifest: Callable[[], None] | None = None
    ) -> None:
        local, rels = self._local_run(local_run_dir, run_id)
        target = self.run_dir(run_id)
        if target.resolve() == local.resolve():
            if before_manifest is not None:
                before_manifest()
            return
        if (target / MANIFEST).exists():
            raise LockerError(f"{target}: run {run_id} is already stored")

        def copy(rel: str) -> None:
            src, dst = local / rel, target / rel
            with atomic_path(dst) as tmp:
                shutil.copyfile(src, tmp)
            if sha256_file(dst) != sha256_file(src):
                raise LockerError(f"{dst}: SHA-256 differs from {src} after copying")

        _pool_map(copy, rels, self.workers)
        if before_manifest is not None:
            before_manifest()
        copy(MANIFEST)

    def _run_dirs(self) -> list[Path]:
        runs = self.root / "runs"
        if not runs.is_dir():
            return []
        return sorted(c for c in runs.iterdir() if c.is_dir() and not c.name.startswith("."))

    def list_runs(self) -> list[str]:
        return [c.name for c in self._run_dirs() if (c / MANIFEST).is_file()]

    def list_incomplete(self) -> list[str]:
        return [c.name for c in self._run_dirs() if not (c / MANIFEST).is_file()]

    def fetch_run(self, run_id: str, dest: Path, files: Sequence[str] | None = None) -> Path:
        src = self.run_dir(run_id)
        if not (src / MANIFEST).is_file():
            raise LockerError(f"{src}: no {MANIFEST} (no such completed run)")
        dest = Path(dest)
        if dest.resolve() == src.resolve():
            return dest
        rels = _run_files(src) if files is None else [_safe_rel(f) for f in files]
        if files is None and dest.is_dir():
            keep = set(rels)
            for rel in _run_files(dest):
                if rel not in keep:
                    (dest / rel).unlink()
        for rel in rels:
            if (src / rel).is_file():
                with atomic_path(dest / rel) as tmp:
                    shutil.copyfile(src / rel, tmp)
            else:
                (dest / rel).unlink(missing_ok=True)
        return dest

    def completed_runs(self, cache: Path) -> list[RunInfo]:
        """The directory is its own cache: `cache` is unused."""
        return completed_runs(self.root)

    def materialise(
        self, cache_dir: Path, run_ids: Sequence[str] | None = None, files: Sequence[str] | None = None
    ) -> Path:
        """The directory itself: readers read it in place (cache_dir unused)."""
        ids = set(self.list_runs())
        missing = [r for r in (run_ids or ()) if r not in ids]
        if missing:
            raise LockerError(f"{self.root}: no run with a manifest: {', '.join(missing)}")
        return self.root

    @contextmanager
    def run_lock(self, accounts: Sequence[str] | None = None) -> Iterator[None]:
        """<dir>/.soc2-evidence.lock for the run (reports.locker.runlock); RunLocked when held."""
        with run_lock(self.root, accounts):
            yield

    @contextmanager
    def stage(self, keep: Path | None = None) -> Iterator[Path]:
        """Runs are assembled in place, as before the locker existed."""
        yield self.root
