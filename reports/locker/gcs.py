"""The GCS backend: runs in gs://bucket/prefix, through google-cloud-storage.

Integrity of uploads: every object is sent with a CRC32C the library computes and the server
checks; the answer's `crc32c` and `md5Hash` are compared to the local file's. Objects are created
with `if_generation_match=0` (never overwritten); an existing object must have the same MD5 and
CRC32C. The SHA-256 is also stored as custom metadata `sha256` (informational: GCS does not check
it). Downloads are validated with CRC32C by the library.

Immutability (what `check()` warns about): the bucket should have a retention policy
(`retentionPolicy`), ideally locked.

The reports layer may not import collectors: the client is built here, with the collectors'
timeout and retry settings copied by value (collectors/gcp/base.py GcpTuning).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reports.atomic import atomic_path
from reports.locker.base import _RUN_ID, DEFAULT_WORKERS, LockerError
from reports.locker.location import Location, LocationError, parse_location
from reports.locker.objects import _digests, _ObjectLocker
from reports.store import MANIFEST

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
