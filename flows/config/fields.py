"""What every config section is built from: the base model, field types and shared validators.

``_Section`` (unknown keys are errors, values frozen, an empty key means the
default), the reusable field types (``AccountId``, ``Count``, ``ConfigDate``,
...), the patterns ids and names must match, and the validators more than one
section uses: known AWS regions, paths given as text, paths resolved next to
the config file. Separate from the sections so each section module holds only
its own rules.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    model_validator,
)

from flows.config.errors import _describe, _did_you_mean, _Problems


@lru_cache(maxsize=1)
def known_aws_regions() -> frozenset[str]:
    """Every region in botocore's bundled endpoint data (offline), all partitions."""
    from botocore.session import get_session

    session = get_session()
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("ec2", partition_name=partition))
    return frozenset(regions)


def _no_bool(expected: str) -> Callable[[Any], Any]:
    # pydantic's lax mode turns true/false into 1/0; in a config file that is a mistake.
    def check(value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"expected {expected}, got {_describe(value)}")
        return value

    return check


def _yaml_date(value: Any) -> Any:
    # pydantic's lax mode reads numbers as Unix timestamps; a config date must look like one.
    if isinstance(value, str | date):
        return value
    raise ValueError(f"expected a date (YYYY-MM-DD), got {_describe(value)}")


_ACCOUNT_RE = re.compile(r"^\d{12}$")


def _account_id(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"expected a 12-digit AWS account id, got {_describe(value)}")
    if isinstance(value, int):
        # YAML reads an unquoted id as an integer, dropping leading zeros.
        if value < 0 or value >= 10**12:
            raise ValueError(f"expected a 12-digit AWS account id, got {value}")
        return f"{value:012d}"
    text = value.strip()
    if not _ACCOUNT_RE.fullmatch(text):
        raise ValueError(f"expected a 12-digit AWS account id, got {_describe(value)}")
    return text


def _key_text(key: Any) -> Any:
    """Mapping keys as text: YAML 1.1 reads unquoted ``on:``/``yes:`` as true
    and ``1:`` as an int; report those as the (unknown) keys they are."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int | float | date):
        return str(key)
    return key


def _dedupe(values: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(dict.fromkeys(values))


NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Region = Annotated[str, StringConstraints(strip_whitespace=True)]
AccountId = Annotated[str, BeforeValidator(_account_id)]
Count = Annotated[int, BeforeValidator(_no_bool("an integer")), Field(ge=1)]
ConfigDate = Annotated[date, BeforeValidator(_yaml_date)]

_ROLE_ARN_RE = re.compile(r"^arn:aws(?:-cn|-us-gov)?:iam::(\d{12}):role/[\w+=,.@/-]+$")
_ROLE_NAME_RE = re.compile(r"^[\w+=,.@-]{1,64}$")
_GCP_PROJECT_RE = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_HOST_RE = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?$|^\[?[0-9A-Fa-f:.]+\]?$")


def _regions(values: tuple[str, ...]) -> tuple[str, ...]:
    problems = []
    known = known_aws_regions()
    for i, region in enumerate(values):
        if region not in known:
            problems.append(((i,), f"unknown AWS region {region!r}{_did_you_mean(region, known)}"))
    if problems:
        raise _Problems(problems)
    return _dedupe(values)


class _Section(BaseModel):
    """Base of every config section: unknown keys are errors, values are
    immutable, and a key left empty in YAML (``key:``) means "use the default"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_means_default(cls, data: Any) -> Any:
        if data is None:
            return {}
        if isinstance(data, Mapping):
            return {_key_text(k): v for k, v in data.items() if v is not None}
        return data


def _path_text(value: Any) -> Any:
    """A path given as text: a Path as is, a non-empty string stripped, anything else an error."""
    if isinstance(value, Path):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a path, got {_describe(value)}")
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


def _directory_path(value: Path | str, info: ValidationInfo) -> Path:
    """Resolved next to the config; may not exist yet (created on first use), may not be a file."""
    path = _resolve_path(str(value), info)
    check_directory_shape(path)
    return path


# Linux limits (PATH_MAX, NAME_MAX); a longer path fails at the first write, as an OSError.
PATH_MAX, NAME_MAX = 4096, 255
# Kernel pseudo-filesystems: they list as directories but can never hold evidence.
_PSEUDO_FILESYSTEMS = ("/proc", "/sys", "/dev")


def check_directory_shape(path: Path) -> None:
    """What can be told about a directory to write into without touching it: a path
    the OS can hold, not inside a pseudo-filesystem, no file where a directory must be.
    Raises ValueError with the problem (the config reports it at its key; preflight
    applies the same rules to --output). Writability itself is preflight's probe."""
    text = str(path)
    if len(os.fsencode(text)) >= PATH_MAX:
        raise ValueError(f"path too long ({len(text)} characters; the limit is {PATH_MAX - 1} bytes)")
    for part in Path(text).parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise ValueError(f"a path component is too long ({len(part)} characters; the limit is {NAME_MAX} bytes)")
    absolute = os.path.abspath(text)
    for where in dict.fromkeys((absolute, os.path.realpath(absolute))):  # also through a symlink
        for root in _PSEUDO_FILESYSTEMS:
            if where == root or where.startswith(root + "/"):
                raise ValueError(f"{absolute} is inside {root}, a kernel pseudo-filesystem: choose a normal directory")
    for ancestor in (Path(absolute), *Path(absolute).parents):
        try:
            if not ancestor.exists():
                continue
        except OSError as exc:  # e.g. a permission denied on a parent
            raise ValueError(f"cannot inspect {ancestor}: {exc.strerror or exc}") from None
        if not ancestor.is_dir():
            where = "is a file" if ancestor == Path(absolute) else f"is below {ancestor}, which is a file"
            raise ValueError(f"expected a directory, but {absolute} {where}")
        return  # the nearest existing ancestor is a directory


def _resolve_path(value: Any, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base_dir")
    path = Path(value).expanduser()
    if not path.is_absolute():
        if base is None:  # built directly, not through the loader: leave it relative
            return path
        path = Path(base) / path
    return Path(os.path.abspath(path))
