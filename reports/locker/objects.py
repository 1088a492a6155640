"""What the object-store backends (S3, GCS) share: keys under <prefix>/runs/<run_id>/, uploads
with the manifest last, listing by "directory", fetching a run, and the local digests each upload
is verified against.

A backend provides five primitives (`_list_children`, `_list_keys`, `_exists`, `_put`, `_get`);
the protocol (upload_run, list_runs, list_incomplete, fetch_run) is written once here, so the
manifest-last and path-safety rules cannot differ between clouds.
"""

from __future__ import annotations

import base64
import hashlib
from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from reports.locker.base import _RUN_ID, Locker, LockerError, _check_run_id, _pool_map, _run_files, _safe_rel
from reports.store import MANIFEST


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True)
class _Digests:
    sha256_hex: str
    sha256_b64: str
    md5_b64: str
    crc32c_b64: str


def _digests(path: Path, *, crc32c: bool = False) -> _Digests:
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    crc = None
    if crc32c:
        import google_crc32c  # a dependency of google-cloud-storage

        crc = google_crc32c.Checksum()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            sha.update(chunk)
            md5.update(chunk)
            if crc is not None:
                crc.update(chunk)
    return _Digests(sha.hexdigest(), _b64(sha.digest()), _b64(md5.digest()), _b64(crc.digest()) if crc else "")


class _ObjectLocker(Locker):
    """What S3 and GCS share: keys under <prefix>/runs/<run_id>/, manifest-last uploads."""

    def _run_key(self, run_id: str, rel: str = "") -> str:
        return self.location.key("runs", _check_run_id(run_id), rel)

    def _runs_prefix(self) -> str:
        return self.location.key("runs") + "/"

    # primitives
    @abstractmethod
    def _list_children(self, prefix: str) -> list[str]:
        """Names of the 'directories' directly under prefix (delimiter listing)."""

    @abstractmethod
    def _list_keys(self, prefix: str) -> list[str]:
        """Every object key under prefix."""

    @abstractmethod
    def _exists(self, key: str) -> bool: ...

    @abstractmethod
    def _put(self, key: str, path: Path) -> None:
        """Create the object (never overwrite) and verify the stored checksum; raise LockerError."""

    @abstractmethod
    def _get(self, key: str, dest: Path) -> bool:
        """Download to dest atomically, integrity-checked; False when the object does not exist."""

    # the protocol
    def upload_run(
        self, local_run_dir: Path, run_id: str, *, before_manifest: Callable[[], None] | None = None
    ) -> None:
        local, rels = self._local_run(local_run_dir, run_id)
        if self._exists(self._run_key(run_id, MANIFEST)):
            raise LockerError(f"{self.location}: run {run_id} is already stored (its manifest exists)")
        _pool_map(lambda rel: self._put(self._run_key(run_id, rel), local / rel), rels, self.workers)
        if before_manifest is not None:
            before_manifest()
        self._put(self._run_key(run_id, MANIFEST), local / MANIFEST)

    def _run_prefixes(self) -> list[str]:
        return sorted(n for n in self._list_children(self._runs_prefix()) if _RUN_ID.match(n))

    def list_runs(self) -> list[str]:
        names = self._run_prefixes()
        found = _pool_map(lambda rid: self._exists(self._run_key(rid, MANIFEST)), names, self.workers)
        return [n for n, ok in zip(names, found, strict=True) if ok]

    def list_incomplete(self) -> list[str]:
        return sorted(self._incomplete(self.list_runs()))

    def _incomplete(self, complete: Sequence[str]) -> set[str]:
        return set(self._run_prefixes()) - set(complete)

    def fetch_run(self, run_id: str, dest: Path, files: Sequence[str] | None = None) -> Path:
        dest = Path(dest)
        if not self._get(self._run_key(run_id, MANIFEST), dest / MANIFEST):
            raise LockerError(f"{self.location}: run {run_id} has no {MANIFEST} (no such completed run)")
        if files is None:
            base = self._run_key(run_id) + "/"
            rels = [_safe_rel(k[len(base) :]) for k in self._list_keys(base) if not k.endswith("/")]
            keep = set(rels)
            if dest.is_dir():
                for rel in _run_files(dest):
                    if rel not in keep:
                        (dest / rel).unlink()
        else:
            rels = [_safe_rel(f) for f in files]
        rels = [r for r in rels if r != MANIFEST]

        def get(rel: str) -> None:
            target = (dest / rel).resolve()
            if dest.resolve() not in target.parents:
                raise LockerError(f"refusing to write outside {dest}: {rel}")
            if not self._get(self._run_key(run_id, rel), dest / rel):
                (dest / rel).unlink(missing_ok=True)

        _pool_map(get, rels, self.workers)
        return dest
