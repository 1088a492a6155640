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

Integrity of uploads
- S3: every object is sent with `ChecksumAlgorithm="SHA256"` and the SHA-256 computed from the
  local file (`ChecksumSHA256`): S3 recomputes it on receipt and rejects a mismatch (BadDigest),
  and the put's answer carries the stored ChecksumSHA256, which is compared to the local one.
  Objects are created with `IfNoneMatch="*"` (never overwritten); when the object already exists
  (a retried or resumed upload) its stored checksum is read back (HeadObject, ChecksumMode) and
  must equal the local one. Downloads use ChecksumMode=ENABLED: botocore validates the body.
- GCS: every object is sent with a CRC32C the library computes and the server checks; the answer's
  `crc32c` and `md5Hash` are compared to the local file's. Objects are created with
  `if_generation_match=0` (never overwritten); an existing object must have the same MD5 and CRC32C.
  The SHA-256 is also stored as custom metadata `sha256` (informational: GCS does not check it).
  Downloads are validated with CRC32C by the library.
  Either way, `reports.verify.verify_run` on a fetched copy then checks every file's SHA-256
  against the manifest.

Immutability (what `check()` warns about)
- S3: the bucket should have Object Lock with a default retention (COMPLIANCE mode for evidence):
  uploads rely on the bucket's default retention and set no per-object retention unless
  `S3Locker(retention=(mode, days))` is given (then also s3:PutObjectRetention is needed).
  Without Object Lock, versioning at least keeps overwritten/deleted versions.
- GCS: the bucket should have a retention policy (`retentionPolicy`), ideally locked.

The reports layer may not import collectors: clients are built here, with the collectors'
timeout and retry settings copied by value (collectors/aws/base.py AwsTuning,
collectors/gcp/base.py GcpTuning).
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from reports.atomic import atomic_path, sha256_file
from reports.store import CONTROLS, FINDINGS, MANIFEST, RunInfo, completed_runs, read_manifest

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
    "S3Locker",
    "materialise",
    "open_locker",
    "parse_location",
]

# What each reader needs of a run besides its manifest (materialise(files=...)); None = the whole run.
MANIFEST_ONLY: tuple[str, ...] = (MANIFEST,)
HISTORY_FILES: tuple[str, ...] = (MANIFEST, CONTROLS)
DRIFT_FILES: tuple[str, ...] = (MANIFEST, FINDINGS, CONTROLS)

DEFAULT_WORKERS = 8

# ---------------------------------------------------------------- locations

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$", re.DOTALL)
_S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_GS_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
_IP = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+=-]{0,119}$")


class LocationError(ValueError):
    """`output:` is neither a directory nor a valid s3:// or gs:// location."""


class LockerError(Exception):
    """The locker cannot do what was asked (missing bucket, refused upload, checksum mismatch...)."""


@dataclass(frozen=True)
class Location:
    """Where runs live. kind "dir": `path`; kind "s3"/"gs": `bucket` and `prefix` (no leading or
    trailing slash, "" for the bucket's root)."""

    kind: str  # "dir" | "s3" | "gs"
    bucket: str = ""
    prefix: str = ""
    path: Path | None = None

    @property
    def is_remote(self) -> bool:
        return self.kind != "dir"

    def __str__(self) -> str:
        if self.kind == "dir":
            return str(self.path)
        return f"{self.kind}://{self.bucket}/{self.prefix}" if self.prefix else f"{self.kind}://{self.bucket}"

    def key(self, *parts: str) -> str:
        """An object key under the prefix: key("runs", run_id, "manifest.json")."""
        return "/".join(p for p in (self.prefix, *parts) if p)

    def resolve(self, base: Path) -> Location:
        """A relative directory resolved against `base` (the config file's folder); buckets unchanged."""
        if self.kind != "dir" or self.path is None or self.path.is_absolute():
            return self
        return Location("dir", path=(base / self.path))


def parse_location(text: str | Path | Location) -> Location:
    """`s3://bucket/prefix`, `gs://bucket/prefix` or a directory path.

    Rules: the scheme is s3 or gs (any case); the bucket follows the provider's naming rules
    (S3: 3-63 of a-z 0-9 . -; GCS: 3-63 of a-z 0-9 . - _, up to 222 with dots); the prefix may
    be empty ("s3://bucket") and loses its leading/trailing slashes; it has no empty, "." or ".."
    segment, no backslash and no control character. Anything else with a "<scheme>://" is refused;
    a text without a scheme is a directory (a Windows drive "C:\\..." too)."""
    if isinstance(text, Location):
        return text
    if isinstance(text, Path):
        return Location("dir", path=text)
    if not isinstance(text, str):
        raise LocationError(f"expected a directory or an s3:// / gs:// URL, got {type(text).__name__}")
    raw = text.strip()
    if not raw:
        raise LocationError("empty output location")
    m = _SCHEME.match(raw)
    if not m:
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:/", raw) and not re.match(r"^[A-Za-z]:[\\/]", raw):
            raise LocationError(f"{raw!r}: malformed URL (expected s3://bucket/prefix or gs://bucket/prefix)")
        return Location("dir", path=Path(raw))
    scheme, rest = m.group(1).lower(), m.group(2)
    if scheme not in ("s3", "gs"):
        raise LocationError(
            f"{raw!r}: unsupported scheme {scheme}:// (use a directory, s3://bucket/prefix or gs://bucket/prefix)"
        )
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise LocationError(f"{raw!r}: no bucket name (expected {scheme}://bucket/prefix)")
    if scheme == "s3":
        if not _S3_BUCKET.match(bucket) or ".." in bucket or _IP.match(bucket):
            raise LocationError(
                f"{raw!r}: invalid S3 bucket name {bucket!r} "
                "(3-63 characters: lowercase letters, digits, dots and hyphens; not an IP address)"
            )
    elif not _GS_BUCKET.match(bucket) or ".." in bucket or (len(bucket) > 63 and "." not in bucket):
        raise LocationError(
            f"{raw!r}: invalid GCS bucket name {bucket!r} "
            "(3-63 characters: lowercase letters, digits, dots, hyphens and underscores)"
        )
    prefix = prefix.strip("/")
    if prefix:
        if "\\" in prefix or any(ord(c) < 32 or ord(c) == 127 for c in prefix):
            raise LocationError(f"{raw!r}: the prefix may not contain backslashes or control characters")
        segments = prefix.split("/")
        if any(s in ("", ".", "..") for s in segments):
            raise LocationError(f"{raw!r}: the prefix has an empty, '.' or '..' segment")
    return Location(scheme, bucket=bucket, prefix=prefix)


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


# ---------------------------------------------------------------- the protocol


class Locker(ABC):
    """One code path for every kind of output location (see the module docstring)."""

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


# ---------------------------------------------------------------- a local directory


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
    def stage(self, keep: Path | None = None) -> Iterator[Path]:
        """Runs are assembled in place, as before the locker existed."""
        yield self.root


# ---------------------------------------------------------------- object stores


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


# ---------------------------------------------------------------- S3

# collectors/aws/base.py AwsTuning defaults, copied by value (reports may not import collectors);
# the read timeout is longer: a workbook upload is one request of several MB.
S3_RETRY_MODE = "standard"
S3_MAX_ATTEMPTS = 5
S3_CONNECT_TIMEOUT = 5.0
S3_READ_TIMEOUT = 60.0


def _client_error(exc: Exception) -> tuple[str, int | None]:
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", type(exc).__name__))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code, status


class S3Locker(_ObjectLocker):
    """Runs in s3://bucket/prefix. `session_factory` builds the boto3 session (default
    boto3.Session(): the standard credential chain, AWS_ENDPOINT_URL honoured).
    `retention=("COMPLIANCE"|"GOVERNANCE", days)` sets a per-object retention on every upload;
    by default none is set and the bucket's default retention applies."""

    def __init__(
        self,
        location: Location | str,
        *,
        session_factory: Callable[[], Any] | None = None,
        client: Any = None,
        retention: tuple[str, int] | None = None,
        workers: int = DEFAULT_WORKERS,
    ) -> None:
        self.location = parse_location(location)
        if self.location.kind != "s3":
            raise LocationError(f"{self.location}: not an s3:// location")
        if retention is not None and (retention[0] not in ("COMPLIANCE", "GOVERNANCE") or int(retention[1]) < 1):
            raise ValueError(f"retention must be ('COMPLIANCE'|'GOVERNANCE', days >= 1), got {retention!r}")
        self.retention = retention
        self.workers = workers
        self._session_factory = session_factory
        self._client = client
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                session = self._session_factory() if self._session_factory else boto3.Session()
                self._client = session.client(
                    "s3",
                    config=Config(
                        retries={"mode": S3_RETRY_MODE, "max_attempts": S3_MAX_ATTEMPTS},
                        connect_timeout=S3_CONNECT_TIMEOUT,
                        read_timeout=S3_READ_TIMEOUT,
                        max_pool_connections=max(10, self.workers * 2),
                        user_agent_extra="soc2-evidence-locker",
                    ),
                )
            return self._client

    def _error(self, exc: Exception, action: str, permission: str) -> LockerError:
        code, status = _client_error(exc)
        if code in ("AccessDenied", "AllAccessDisabled", "403"):
            return LockerError(f"{self.location}: {action}: access denied (needs {permission})")
        if code == "NoSuchBucket":
            return LockerError(f"{self.location}: bucket {self.location.bucket} does not exist")
        return LockerError(f"{self.location}: {action}: {code} (HTTP {status}): {exc}")

    def check(self) -> list[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, warnings = self.location.bucket, []
        try:
            lock = self.client.get_object_lock_configuration(Bucket=bucket).get("ObjectLockConfiguration", {})
        except ClientError as exc:
            code, _ = _client_error(exc)
            if code == "NoSuchBucket":
                raise self._error(exc, "GetObjectLockConfiguration", "") from None
            if code == "ObjectLockConfigurationNotFoundError":
                lock = {}
            elif code in ("AccessDenied", "403"):
                warnings.append(
                    f"{self.location}: cannot read the Object Lock configuration "
                    "(needs s3:GetBucketObjectLockConfiguration); immutability not verified"
                )
                lock = None
            else:
                raise self._error(exc, "GetObjectLockConfiguration", "s3:GetBucketObjectLockConfiguration") from None
        except BotoCoreError as exc:
            raise LockerError(f"{self.location}: cannot reach S3: {exc}") from None
        if lock and lock.get("ObjectLockEnabled") == "Enabled":
            default = (lock.get("Rule") or {}).get("DefaultRetention") or {}
            if not default and self.retention is None:
                warnings.append(
                    f"{self.location}: Object Lock is enabled but has no default retention: "
                    "uploaded evidence is versioned but not locked (set a default retention, COMPLIANCE mode)"
                )
            mode = default.get("Mode") or (self.retention[0] if self.retention else None)
            if mode == "GOVERNANCE":
                warnings.append(
                    f"{self.location}: Object Lock retention is in GOVERNANCE mode: principals with "
                    "s3:BypassGovernanceRetention can still delete evidence (COMPLIANCE mode cannot be bypassed)"
                )
            return warnings
        if lock is None:
            return warnings
        try:
            status = self.client.get_bucket_versioning(Bucket=bucket).get("Status")
        except ClientError as exc:
            code, _ = _client_error(exc)
            if code in ("AccessDenied", "403"):
                warnings.append(
                    f"{self.location}: no Object Lock, and cannot read versioning (needs s3:GetBucketVersioning): "
                    "evidence may be overwritten or deleted"
                )
                return warnings
            raise self._error(exc, "GetBucketVersioning", "s3:GetBucketVersioning") from None
        if status == "Enabled":
            warnings.append(
                f"{self.location}: the bucket has no Object Lock, only versioning: evidence versions can still "
                "be deleted (enable Object Lock with a default COMPLIANCE retention)"
            )
        else:
            warnings.append(
                f"{self.location}: the bucket has neither Object Lock nor versioning: evidence can be "
                "overwritten or deleted (enable Object Lock with a default COMPLIANCE retention)"
            )
        return warnings

    def _list_children(self, prefix: str) -> list[str]:
        out: list[str] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.location.bucket, Prefix=prefix, Delimiter="/"
            ):
                out += [p["Prefix"][len(prefix) :].rstrip("/") for p in page.get("CommonPrefixes", [])]
        except Exception as exc:
            raise self._error(exc, "ListObjectsV2", "s3:ListBucket") from None
        return out

    def _list_keys(self, prefix: str) -> list[str]:
        out: list[str] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.location.bucket, Prefix=prefix
            ):
                out += [o["Key"] for o in page.get("Contents", [])]
        except Exception as exc:
            raise self._error(exc, "ListObjectsV2", "s3:ListBucket") from None
        return out

    def _head(self, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.location.bucket, Key=key, ChecksumMode="ENABLED")
        except ClientError as exc:
            code, status = _client_error(exc)
            if status == 404 or code in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._error(exc, f"HeadObject {key}", "s3:GetObject") from None

    def _exists(self, key: str) -> bool:
        return self._head(key) is not None

    def _put(self, key: str, path: Path) -> None:
        from botocore.exceptions import ClientError

        d = _digests(path)
        extra: dict[str, Any] = {}
        if self.retention is not None:
            extra["ObjectLockMode"] = self.retention[0]
            extra["ObjectLockRetainUntilDate"] = datetime.now(UTC) + timedelta(days=int(self.retention[1]))
        try:
            with open(path, "rb") as body:
                answer = self.client.put_object(
                    Bucket=self.location.bucket,
                    Key=key,
                    Body=body,
                    ChecksumAlgorithm="SHA256",
                    ChecksumSHA256=d.sha256_b64,
                    IfNoneMatch="*",
                    ContentType="application/json" if key.endswith((".json", ".jsonl")) else "binary/octet-stream",
                    Metadata={"sha256": d.sha256_hex},
                    **extra,
                )
            stored = answer.get("ChecksumSHA256")
        except ClientError as exc:
            code, status = _client_error(exc)
            if not (status == 412 or code == "PreconditionFailed"):
                raise self._error(exc, f"PutObject {key}", "s3:PutObject") from None
            head = self._head(key)  # already stored (a retried or resumed upload): same bytes?
            stored = (head or {}).get("ChecksumSHA256")
            if stored is None:
                stored = self._remote_sha256_b64(key)
        if stored != d.sha256_b64:
            raise LockerError(
                f"{self.location}: {key}: stored SHA-256 {stored} differs from the local file's {d.sha256_b64}"
            )

    def _remote_sha256_b64(self, key: str) -> str:
        """SHA-256 of an object stored without a checksum: download and hash."""
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "object"
            self._get(key, target)
            return _digests(target).sha256_b64

    def _get(self, key: str, dest: Path) -> bool:
        from botocore.exceptions import ClientError

        try:
            answer = self.client.get_object(Bucket=self.location.bucket, Key=key, ChecksumMode="ENABLED")
        except ClientError as exc:
            code, status = _client_error(exc)
            if status == 404 or code in ("NoSuchKey", "404"):
                return False
            raise self._error(exc, f"GetObject {key}", "s3:GetObject") from None
        with atomic_path(dest) as tmp, open(tmp, "wb") as fh:
            for chunk in answer["Body"].iter_chunks(1 << 20):  # botocore validates the checksum at the end
                fh.write(chunk)
        return True


# ---------------------------------------------------------------- GCS

# collectors/gcp/base.py GcpTuning defaults, copied by value (reports may not import collectors).
GCS_TIMEOUT_SECONDS = 10.0  # one HTTP attempt
GCS_DEADLINE_SECONDS = 30.0  # every attempt and back-off of one call together
GCS_INITIAL_BACKOFF_SECONDS = 0.5
GCS_MAX_BACKOFF_SECONDS = 8.0
GCS_UPLOAD_TIMEOUT_SECONDS = 60.0  # one upload attempt (a workbook is several MB)


class GcsLocker(_ObjectLocker):
    """Runs in gs://bucket/prefix. `client_factory` builds the google.cloud.storage.Client
    (default: Application Default Credentials; STORAGE_EMULATOR_HOST honoured by the library)."""

    def __init__(
        self,
        location: Location | str,
        *,
        client_factory: Callable[[], Any] | None = None,
        client: Any = None,
        workers: int = DEFAULT_WORKERS,
    ) -> None:
        self.location = parse_location(location)
        if self.location.kind != "gs":
            raise LocationError(f"{self.location}: not a gs:// location")
        self.workers = workers
        self._client_factory = client_factory
        self._client = client
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                import requests
                from google.cloud import storage

                client = self._client_factory() if self._client_factory else storage.Client()
                pool = max(10, self.workers * 2)
                adapter = requests.adapters.HTTPAdapter(pool_connections=pool, pool_maxsize=pool)
                client._http.mount("https://", adapter)
                client._http.mount("http://", adapter)
                self._client = client
            return self._client

    def retry(self) -> Any:
        from google.api_core.retry import Retry
        from google.cloud.storage.retry import _should_retry

        return Retry(
            predicate=_should_retry,
            initial=GCS_INITIAL_BACKOFF_SECONDS,
            maximum=GCS_MAX_BACKOFF_SECONDS,
            multiplier=2.0,
            timeout=GCS_DEADLINE_SECONDS,
        )

    def _bucket(self) -> Any:
        return self.client.bucket(self.location.bucket)

    def _error(self, exc: Exception, action: str, permission: str) -> LockerError:
        from google.api_core import exceptions as api

        if isinstance(exc, api.Forbidden | api.Unauthorized):
            return LockerError(f"{self.location}: {action}: access denied (needs {permission})")
        if isinstance(exc, api.NotFound):
            return LockerError(f"{self.location}: {action}: not found (does bucket {self.location.bucket} exist?)")
        return LockerError(f"{self.location}: {action}: {type(exc).__name__}: {exc}")

    def check(self) -> list[str]:
        from google.api_core import exceptions as api

        try:
            bucket = self.client.get_bucket(self.location.bucket, timeout=GCS_TIMEOUT_SECONDS, retry=self.retry())
        except api.NotFound:
            raise LockerError(f"{self.location}: bucket {self.location.bucket} does not exist") from None
        except (api.Forbidden, api.Unauthorized):
            return [
                f"{self.location}: cannot read the bucket's metadata (needs storage.buckets.get); "
                "retention not verified"
            ]
        except Exception as exc:
            raise self._error(exc, "buckets.get", "storage.buckets.get") from None
        period = bucket.retention_period
        if not period:
            return [
                f"{self.location}: the bucket has no retention policy: evidence can be overwritten or deleted "
                "(set a retention policy covering the audit period, and lock it)"
            ]
        if not bucket.retention_policy_locked:
            return [
                f"{self.location}: the retention policy ({int(period) // 86400} days) is not locked: "
                "a bucket owner can shorten or remove it (lock it once the period is right)"
            ]
        return []

    def _list_children(self, prefix: str) -> list[str]:
        try:
            it = self.client.list_blobs(
                self.location.bucket, prefix=prefix, delimiter="/", timeout=GCS_TIMEOUT_SECONDS, retry=self.retry()
            )
            for _ in it:  # the prefixes are collected while the pages are read
                pass
            return [p[len(prefix) :].rstrip("/") for p in it.prefixes]
        except Exception as exc:
            raise self._error(exc, "objects.list", "storage.objects.list") from None

    def _list_keys(self, prefix: str) -> list[str]:
        try:
            return [
                b.name
                for b in self.client.list_blobs(
                    self.location.bucket, prefix=prefix, timeout=GCS_TIMEOUT_SECONDS, retry=self.retry()
                )
            ]
        except Exception as exc:
            raise self._error(exc, "objects.list", "storage.objects.list") from None

    def list_runs(self) -> list[str]:
        """One listing: the manifests matched by a glob (`<prefix>/runs/*/manifest.json`)."""
        prefix = self._runs_prefix()
        try:
            names = [
                b.name
                for b in self.client.list_blobs(
                    self.location.bucket,
                    prefix=prefix,
                    match_glob=f"{_glob_escape(prefix)}*/{MANIFEST}",
                    timeout=GCS_TIMEOUT_SECONDS,
                    retry=self.retry(),
                )
            ]
        except Exception as exc:
            raise self._error(exc, "objects.list", "storage.objects.list") from None
        found = set(names)
        ids = {n[len(prefix) :].split("/", 1)[0] for n in found}
        return sorted(i for i in ids if _RUN_ID.match(i) and f"{prefix}{i}/{MANIFEST}" in found)

    def _exists(self, key: str) -> bool:
        try:
            return bool(self._bucket().blob(key).exists(timeout=GCS_TIMEOUT_SECONDS, retry=self.retry()))
        except Exception as exc:
            raise self._error(exc, f"objects.get {key}", "storage.objects.get") from None

    def _put(self, key: str, path: Path) -> None:
        from google.api_core import exceptions as api

        d = _digests(path, crc32c=True)
        blob = self._bucket().blob(key)
        blob.metadata = {"sha256": d.sha256_hex}
        try:
            blob.upload_from_filename(
                str(path),
                if_generation_match=0,  # create only: never overwrite stored evidence
                checksum="crc32c",
                timeout=GCS_UPLOAD_TIMEOUT_SECONDS,
                retry=self.retry(),
            )
        except api.PreconditionFailed:  # already stored (a retried or resumed upload): same bytes?
            try:
                blob.reload(timeout=GCS_TIMEOUT_SECONDS, retry=self.retry())
            except Exception as exc:
                raise self._error(exc, f"objects.get {key}", "storage.objects.get") from None
        except Exception as exc:
            raise self._error(exc, f"objects.insert {key}", "storage.objects.create") from None
        if blob.md5_hash != d.md5_b64 or blob.crc32c != d.crc32c_b64:
            raise LockerError(
                f"{self.location}: {key}: stored md5/crc32c {blob.md5_hash}/{blob.crc32c} differ from the local "
                f"file's {d.md5_b64}/{d.crc32c_b64}"
            )

    def _get(self, key: str, dest: Path) -> bool:
        from google.api_core import exceptions as api

        blob = self._bucket().blob(key)
        try:
            with atomic_path(dest) as tmp:
                blob.download_to_filename(str(tmp), checksum="crc32c", timeout=GCS_TIMEOUT_SECONDS, retry=self.retry())
        except api.NotFound:
            return False
        except Exception as exc:
            raise self._error(exc, f"objects.get {key}", "storage.objects.get") from None
        return True


def _glob_escape(text: str) -> str:
    """Escape glob metacharacters of a literal prefix (GCS matchGlob syntax)."""
    return re.sub(r"([*?\[\]{}\\])", r"\\\1", text)


# ---------------------------------------------------------------- entry points


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
