"""The whole config file: ``AppConfig`` and its small sections (period, orchestration, access reviews).

The root model ties the sections together and owns the top-level settings:
organization, period, catalog, exceptions, commitments, output and
thresholds. The loader sets ``source`` and ``sha256``, never the file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from flows.config.aws import AwsConfig
from flows.config.endpoints import EndpointsConfig
from flows.config.errors import _Problems
from flows.config.fields import (
    ConfigDate,
    Count,
    NonEmptyStr,
    _directory_path,
    _key_text,
    _path_text,
    _resolve_path,
    _Section,
)
from flows.config.gcp import GcpConfig
from flows.config.thresholds import _check_thresholds

DEFAULT_OUTPUT = "soc2-evidence-output"

# Fields of AppConfig set by the loader, never read from the file.
_LOADER_FIELDS = frozenset({"source", "sha256"})


class Period(_Section):
    start: ConfigDate
    end: ConfigDate

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end < self.start:
            raise ValueError(f"end {self.end.isoformat()} is before start {self.start.isoformat()}")
        return self


class Orchestration(_Section):
    task_runner: Literal["thread", "dask"] = "thread"
    max_workers: Count = 8
    per_task_concurrency: Count = 16
    # dask: an existing scheduler (tcp://host:8786), else a LocalCluster of n_workers processes
    address: str | None = None
    n_workers: Count = 2

    @model_validator(mode="after")
    def _dask_address(self) -> Orchestration:
        if self.address is not None:
            if self.task_runner != "dask":
                raise ValueError("address is only used with task_runner: dask")
            if not self.address.startswith(("tcp://", "tls://")):
                raise ValueError(f"address must start with tcp:// or tls://, got {self.address!r}")
        return self


class AccessReviewsConfig(_Section):
    # where access reviews are issued, completed and read by evidence runs;
    # default: <output>/access-reviews (required when output: is a bucket)
    directory: Path | None = None

    @field_validator("directory", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return _path_text(value)

    @field_validator("directory")
    @classmethod
    def _directory(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else _directory_path(value, info)


PRIVILEGED_ROLES_CHECK = "aws.iam.privileged_roles"


class AppConfig(_Section):
    organization: NonEmptyStr
    period: Period
    aws: AwsConfig = AwsConfig()
    gcp: GcpConfig = GcpConfig()
    endpoints: EndpointsConfig = EndpointsConfig()
    thresholds: dict[str, dict[str, Any]] = Field(default_factory=dict, validate_default=True)
    catalog: Path | None = None
    exceptions: Path | None = None
    commitments: Path | None = None
    # a directory, or an evidence locker: s3://bucket/prefix or gs://bucket/prefix
    output: str = Field(default=DEFAULT_OUTPUT, validate_default=True)
    orchestration: Orchestration = Orchestration()
    access_reviews: AccessReviewsConfig = AccessReviewsConfig()
    # Set by the loader (never from the file): where the config came from and
    # the SHA-256 of its bytes (or of the canonical JSON of a mapping).
    source: str = "<config>"
    sha256: str = ""

    @model_validator(mode="before")
    @classmethod
    def _loader_fields(cls, data: Any, info: ValidationInfo) -> Any:
        ctx = info.context or {}
        if isinstance(data, Mapping) and "source" in ctx:
            data = {**data, "source": ctx["source"], "sha256": ctx["sha256"]}
        return data

    @field_validator("catalog", "exceptions", "commitments", "output", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return _path_text(value)

    @field_validator("catalog", "exceptions", "commitments")
    @classmethod
    def _existing_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        path = _resolve_path(value, info)
        if not path.exists():
            raise ValueError(f"file not found: {path}")
        if not path.is_file():
            raise ValueError(f"not a file: {path}")
        return path

    @field_validator("output")
    @classmethod
    def _output_location(cls, value: Path | str, info: ValidationInfo) -> str:
        from reports.locker import parse_location

        loc = parse_location(str(value))  # LocationError is a ValueError: reported at this key
        if loc.is_remote:
            return str(loc)
        return str(_directory_path(value, info))

    @property
    def output_location(self) -> Any:  # reports.locker.Location
        from reports.locker import parse_location

        return parse_location(self.output)

    @field_validator("thresholds", mode="before")
    @classmethod
    def _threshold_keys(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        return {
            _key_text(k): {_key_text(n): x for n, x in v.items()} if isinstance(v, Mapping) else v
            for k, v in value.items()
        }

    @field_validator("thresholds")
    @classmethod
    def _known_thresholds(cls, value: dict[str, dict[str, Any]], info: ValidationInfo) -> dict[str, dict[str, Any]]:
        if not value:
            return value
        get_specs: Callable[[], Mapping[str, Any]] | None = (info.context or {}).get("specs")
        if get_specs is None:  # built directly, not through the loader: nothing to check against
            return value
        checked, problems = _check_thresholds(value, get_specs())
        if problems:
            raise _Problems(problems)
        return checked

    @field_validator("thresholds")
    @classmethod
    def _tool_roles(cls, value: dict[str, dict[str, Any]], info: ValidationInfo) -> dict[str, dict[str, Any]]:
        """The roles this tool assumes are listed by aws.iam.privileged_roles, never failed: they
        are whatever this config names (the Organizations role name, each account's role ARN), so
        the check's `tool_roles` threshold follows the config unless it is set explicitly. It is
        stored with the run's thresholds, so `evaluate` reproduces the verdicts."""
        aws = info.data.get("aws")
        own = value.get(PRIVILEGED_ROLES_CHECK, {})
        if aws is None or "tool_roles" in own:
            return value
        roles = {aws.organization.role_name}
        roles.update(a.role_arn.rsplit("/", 1)[-1] for a in aws.accounts if a.role_arn)
        return {**value, PRIVILEGED_ROLES_CHECK: {**own, "tool_roles": sorted(roles)}}

    def to_json(self) -> dict[str, Any]:
        """The resolved config as JSON-ready data (paths as strings, dates ISO),
        for a run's manifest."""
        return self.model_dump(mode="json")
