"""Output locations: the text of `output:` (a directory, `s3://bucket/prefix`, `gs://bucket/prefix`) parsed
into a `Location`.

Separate from the lockers because the config validates `output:` (flows.config) without opening
anything: parsing is pure and needs no cloud library.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$", re.DOTALL)
_S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_GS_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
_IP = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


class LocationError(ValueError):
    """`output:` is neither a directory nor a valid s3:// or gs:// location."""


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
