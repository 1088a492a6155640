"""The S3 backend: runs in s3://bucket/prefix, through boto3.

Integrity of uploads: every object is sent with `ChecksumAlgorithm="SHA256"` and the SHA-256
computed from the local file (`ChecksumSHA256`): S3 recomputes it on receipt and rejects a mismatch
(BadDigest), and the put's answer carries the stored ChecksumSHA256, which is compared to the local
one. Objects are created with `IfNoneMatch="*"` (never overwritten); when the object already exists
(a retried or resumed upload) its stored checksum is read back (HeadObject, ChecksumMode) and must
equal the local one. Downloads use ChecksumMode=ENABLED: botocore validates the body.

Immutability (what `check()` warns about): the bucket should have Object Lock with a default
retention (COMPLIANCE mode for evidence): uploads rely on the bucket's default retention and set no
per-object retention unless `S3Locker(retention=(mode, days))` is given (then also
s3:PutObjectRetention is needed). Without Object Lock, versioning at least keeps
overwritten/deleted versions.

The reports layer may not import collectors: the client is built here, with the collectors'
timeout and retry settings copied by value (collectors/aws/base.py AwsTuning).
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from reports.atomic import atomic_path
from reports.locker.base import DEFAULT_WORKERS, LockerError
from reports.locker.location import Location, LocationError, parse_location
from reports.locker.objects import _digests, _ObjectLocker

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
