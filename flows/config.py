"""Load and validate ``soc2-evidence.yaml``.

Every problem in a config file is reported at once, as one human message with
one line per problem::

    soc2-evidence.yaml: aws.accounts[0].regions[1]: unknown AWS region 'us-east-9' (did you mean 'us-east-1'?)
    soc2-evidence.yaml: period: end 2025-01-01 is before start 2026-01-01

Nothing here talks to the network: AWS regions come from botocore's bundled
endpoint data and threshold names from the check registry.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

__all__ = [
    "DEFAULT_OUTPUT",
    "DEFAULT_REGIONS",
    "AppConfig",
    "AwsAccount",
    "AwsConfig",
    "ConfigError",
    "Endpoint",
    "EndpointsConfig",
    "GcpConfig",
    "Orchestration",
    "OrgDiscovery",
    "Period",
    "config_from_mapping",
    "known_aws_regions",
    "load_config",
    "validate_thresholds",
]

DEFAULT_REGIONS: tuple[str, ...] = ("us-east-1",)
DEFAULT_OUTPUT = "soc2-evidence-output"
DEFAULT_ORG_ROLE = "soc2-evidence-reader"

# Fields of AppConfig set by the loader, never read from the file.
_LOADER_FIELDS = frozenset({"source", "sha256"})


# --------------------------------------------------------------------------- errors


class ConfigError(Exception):
    """A config file could not be loaded. ``message`` is the whole, human report:
    one ``<file>: <key path>: <problem>`` line per problem."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems: tuple[str, ...] = tuple(problems) or tuple(message.splitlines())

    def __str__(self) -> str:
        return self.message


class _Problems(ValueError):
    """Raised from validators to report one or more problems *below* the
    validated value: each problem is (sub-location, message)."""

    def __init__(self, problems: Iterable[tuple[tuple[str | int, ...], str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(msg for _, msg in self.problems))


def _suggest(word: str, candidates: Iterable[str], n: int = 1, cutoff: float = 0.6) -> list[str]:
    """The closest candidates, best first; ties broken alphabetically so the
    suggestion is stable (difflib's own order prefers the larger string)."""
    scored = []
    for cand in set(candidates):
        m = difflib.SequenceMatcher(None, word, cand)
        if m.real_quick_ratio() >= cutoff and m.quick_ratio() >= cutoff and (r := m.ratio()) >= cutoff:
            scored.append((-r, cand))
    return [c for _, c in sorted(scored)[:n]]


def _did_you_mean(word: str, candidates: Iterable[str]) -> str:
    best = _suggest(word, candidates)
    return f" (did you mean {best[0]!r}?)" if best else ""


def _describe(value: Any) -> str:
    """A short, YAML-flavoured description of a user-supplied value."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        return repr(text)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        return repr(value.isoformat(sep=" "))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def _loc_to_path(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


# --------------------------------------------------------------------------- reusable field types


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


# --------------------------------------------------------------------------- models


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


class Period(_Section):
    start: ConfigDate
    end: ConfigDate

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end < self.start:
            raise ValueError(f"end {self.end.isoformat()} is before start {self.start.isoformat()}")
        return self


class AwsAccount(_Section):
    id: AccountId
    name: NonEmptyStr | None = None
    role_arn: str | None = None
    # Resolved at load: an account that gives no regions gets aws.regions.
    regions: tuple[Region, ...] = ()

    @field_validator("role_arn")
    @classmethod
    def _role_arn(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        value = value.strip()
        m = _ROLE_ARN_RE.fullmatch(value)
        if not m:
            raise ValueError(
                f"expected an IAM role ARN like 'arn:aws:iam::111111111111:role/NAME', got {_describe(value)}"
            )
        account = info.data.get("id")
        if account is not None and m.group(1) != account:
            raise ValueError(f"role ARN is in account {m.group(1)}, but the account id is {account}")
        return value

    @field_validator("regions")
    @classmethod
    def _known_regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _regions(value)

    def regions_or(self, default: Sequence[str]) -> tuple[str, ...]:
        """This account's regions, or ``default`` if it gives none."""
        return tuple(self.regions) or tuple(default)


class OrgDiscovery(_Section):
    discover: StrictBool = False
    role_name: str = DEFAULT_ORG_ROLE
    exclude: tuple[AccountId, ...] = ()

    @field_validator("role_name")
    @classmethod
    def _role_name(cls, value: str) -> str:
        value = value.strip()
        if not _ROLE_NAME_RE.fullmatch(value):
            raise ValueError(
                f"expected an IAM role name (1-64 letters, digits or +=,.@_-; not an ARN), got {_describe(value)}"
            )
        return value

    @field_validator("exclude")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _dedupe(value)


class AwsConfig(_Section):
    regions: tuple[Region, ...] = DEFAULT_REGIONS
    accounts: tuple[AwsAccount, ...] = ()
    organization: OrgDiscovery = OrgDiscovery()
    retry_mode: Literal["standard", "adaptive"] = "standard"
    max_attempts: Count = 5

    @field_validator("regions")
    @classmethod
    def _known_regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("give at least one region")
        return _regions(value)

    @field_validator("accounts")
    @classmethod
    def _unique_accounts(cls, value: tuple[AwsAccount, ...]) -> tuple[AwsAccount, ...]:
        seen: dict[str, int] = {}
        problems = []
        for i, account in enumerate(value):
            if account.id in seen:
                problems.append(
                    ((i, "id"), f"duplicate account id {account.id!r} (already at aws.accounts[{seen[account.id]}])")
                )
            else:
                seen[account.id] = i
        if problems:
            raise _Problems(problems)
        return value

    @model_validator(mode="after")
    def _resolve_account_regions(self) -> AwsConfig:
        for account in self.accounts:
            if not account.regions:
                # Frozen models: set the resolved value once, while loading.
                object.__setattr__(account, "regions", self.regions)
        return self


class GcpConfig(_Section):
    projects: tuple[str, ...] = ()

    @field_validator("projects")
    @classmethod
    def _project_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        problems = []
        for i, project in enumerate(value):
            if not _GCP_PROJECT_RE.fullmatch(project):
                problems.append(
                    (
                        (i,),
                        f"expected a GCP project id (6-30 lowercase letters, digits or hyphens, starting with a "
                        f"letter, not ending with a hyphen), got {_describe(project)}",
                    )
                )
        if problems:
            raise _Problems(problems)
        return _dedupe(value)


class Endpoint(_Section):
    host: str
    port: Annotated[int, BeforeValidator(_no_bool("an integer")), Field(ge=1, le=65535)] = 443
    sni: str | None = None
    # connect to this IP instead of resolving `host` (the label and the
    # certificate check still use the host/SNI name)
    address: str | None = None

    @field_validator("address")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is None:
            return None
        import ipaddress

        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            raise ValueError(f"expected an IP address, got {_describe(value)}") from None

    @field_validator("host", "sni")
    @classmethod
    def _hostname(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
        if "://" in value or "/" in value:
            raise ValueError(f"expected a host name, not a URL, got {_describe(value)}")
        if not _HOST_RE.fullmatch(value):
            raise ValueError(f"expected a host name or IP address, got {_describe(value)}")
        return value


class EndpointsConfig(_Section):
    """``endpoints:`` is either a list of targets or this mapping."""

    discover: StrictBool = False
    timeout_seconds: Annotated[float, BeforeValidator(_no_bool("a number")), Field(gt=0)] = 10.0
    # PEM bundle of CAs that endpoint certificates must chain to (private
    # PKI); default: the system trust store. Relative to the config's folder.
    ca_bundle: Path | None = None
    targets: tuple[Endpoint, ...] = ()

    @field_validator("ca_bundle", mode="before")
    @classmethod
    def _ca_text(cls, value: Any) -> Any:
        if value is None or isinstance(value, Path):
            return value
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"expected a path, got {_describe(value)}")
        return value.strip()

    @field_validator("ca_bundle")
    @classmethod
    def _ca_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        path = _resolve_path(value, info)
        if not path.is_file():
            raise ValueError(f"file not found: {path}")
        return path

    @model_validator(mode="before")
    @classmethod
    def _list_form(cls, data: Any) -> Any:
        if isinstance(data, list | tuple):
            return {"targets": data}
        return data

    @field_validator("targets")
    @classmethod
    def _unique(cls, value: tuple[Endpoint, ...]) -> tuple[Endpoint, ...]:
        seen: dict[tuple[str, int, str | None], int] = {}
        problems = []
        for i, target in enumerate(value):
            key = (target.host.lower(), target.port, target.sni)
            if key in seen:
                problems.append(((i,), f"duplicate endpoint {target.host}:{target.port} (already at [{seen[key]}])"))
            else:
                seen[key] = i
        if problems:
            raise _Problems(problems)
        return value


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
    if path.exists() and not path.is_dir():
        raise ValueError(f"expected a directory, but {path} is a file")
    return path


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


def _resolve_path(value: Any, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base_dir")
    path = Path(value).expanduser()
    if not path.is_absolute():
        if base is None:  # built directly, not through the loader: leave it relative
            return path
        path = Path(base) / path
    return Path(os.path.abspath(path))


class AppConfig(_Section):
    organization: NonEmptyStr
    period: Period
    aws: AwsConfig = AwsConfig()
    gcp: GcpConfig = GcpConfig()
    endpoints: EndpointsConfig = EndpointsConfig()
    thresholds: dict[str, dict[str, Any]] = Field(default_factory=dict)
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

    def to_json(self) -> dict[str, Any]:
        """The resolved config as JSON-ready data (paths as strings, dates ISO),
        for a run's manifest."""
        return self.model_dump(mode="json")


# --------------------------------------------------------------------------- thresholds

_KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "true or false"),
    (int, "an integer"),
    (float, "a number"),
    (str, "a string"),
    ((list, tuple), "a list"),
    (Mapping, "a mapping"),
)


def _kind(value: Any) -> str | None:
    for types_, name in _KINDS:
        if isinstance(value, types_):
            return name
    return None


def _coerce_threshold(value: Any, default: Any) -> tuple[Any, bool]:
    """``value`` made to match the type of ``default`` (an int where a float is
    expected becomes a float; a bool is never a number), and whether it does."""
    if default is None:
        return value, True
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok:
            value = float(value)
    elif isinstance(default, str):
        ok = isinstance(value, str)
    elif isinstance(default, list | tuple):
        ok = isinstance(value, list | tuple)
        if ok:
            value = list(value)
    elif isinstance(default, Mapping):
        ok = isinstance(value, Mapping)
    else:
        ok = isinstance(value, type(default))
    return value, ok


def _expected(default: Any) -> str:
    return _kind(default) or f"a {type(default).__name__}"


def _check_thresholds(
    thresholds: Mapping[str, Any], specs: Mapping[str, Any]
) -> tuple[dict[str, dict[str, Any]], list[tuple[tuple[str | int, ...], str]]]:
    checked: dict[str, dict[str, Any]] = {}
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for check_id, values in thresholds.items():
        if check_id not in specs:
            hint = _did_you_mean(str(check_id), specs)
            problems.append(((check_id,), f"unknown check id {check_id!r}{hint}"))
            continue
        if not isinstance(values, Mapping):
            problems.append(((check_id,), f"expected a mapping of threshold names to values, got {_describe(values)}"))
            continue
        defaults: Mapping[str, Any] = getattr(specs[check_id], "thresholds", None) or {}
        known = ", ".join(sorted(defaults)) if defaults else "none: this check has no thresholds"
        checked[check_id] = {}
        for name, value in values.items():
            if name not in defaults:
                hint = _did_you_mean(str(name), defaults)
                problems.append(((check_id, name), f"unknown threshold {name!r} for {check_id}{hint} (known: {known})"))
                continue
            default = defaults[name]
            value, ok = _coerce_threshold(value, default)
            if not ok:
                shown = json.dumps(default, default=str)
                problems.append(
                    ((check_id, name), f"expected {_expected(default)} (default {shown}), got {_describe(value)}")
                )
                continue
            if isinstance(default, list | tuple) and default and len({_kind(d) for d in default}) == 1:
                # A list of one kind (e.g. strings) must stay that kind.
                element = default[0]
                items = []
                for i, item in enumerate(value):
                    item, item_ok = _coerce_threshold(item, element)
                    if not item_ok:
                        problems.append(((check_id, name, i), f"expected {_expected(element)}, got {_describe(item)}"))
                    items.append(item)
                value = items
            checked[check_id][name] = value
    return checked, problems


def validate_thresholds(
    thresholds: Mapping[str, Any], specs: Mapping[str, Any], *, source: str = "<config>"
) -> dict[str, dict[str, Any]]:
    """Check ``{check_id: {threshold_name: value}}`` against the registry's
    ``{check_id: CheckSpec}`` (anything with a ``thresholds`` mapping of
    defaults). Returns the thresholds (ints given for float defaults become
    floats); raises ConfigError naming every unknown check, unknown threshold
    and value of the wrong type, at ``thresholds.<id>[.<name>]``."""
    if not isinstance(thresholds, Mapping):
        raise ConfigError(f"{source}: thresholds: expected a mapping of check ids, got {_describe(thresholds)}")
    checked, problems = _check_thresholds(thresholds, specs)
    if problems:
        lines = [f"{source}: {_loc_to_path(('thresholds', *loc))}: {msg}" for loc, msg in problems]
        raise ConfigError("\n".join(lines), lines)
    return checked


# --------------------------------------------------------------------------- error formatting


def _unwrap(tp: Any) -> Any:
    """Strip Annotated and Optional from a type annotation."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _keys_at(loc: Sequence[str | int]) -> list[str] | None:
    """The keys allowed in the mapping at ``loc`` (a pydantic location)."""
    tp: Any = AppConfig
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(part, int):
            if get_origin(tp) in (tuple, list):
                tp = get_args(tp)[0]
                continue
            return None
        if isinstance(tp, type) and issubclass(tp, BaseModel) and part in tp.model_fields:
            tp = tp.model_fields[part].annotation
        else:
            return None
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [name for name in tp.model_fields if not (tp is AppConfig and name in _LOADER_FIELDS)]
    return None


_TYPE_WORDS = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "tuple_type": "a list",
    "set_type": "a list",
    "dict_type": "a mapping (key: value)",
    "mapping_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "path_type": "a path",
}


def _humanize(err: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """One pydantic error as (location, human message) pairs."""
    loc = tuple(err.get("loc", ()))
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    value = err.get("input")
    got = _describe(value)

    if kind in ("value_error", "assertion_error"):
        error = ctx.get("error")
        if isinstance(error, _Problems):
            return [((*loc, *sub), msg) for sub, msg in error.problems]
        return [(loc, str(error) if error is not None else err.get("msg", "invalid value"))]
    if kind == "missing":
        return [(loc, "required key is missing or empty")]
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else ""
        allowed = _keys_at(loc[:-1]) or []
        hint = _did_you_mean(key, allowed)
        if not hint and allowed:
            hint = f" (allowed: {', '.join(allowed)})"
        if key in ("true", "false"):
            hint += "; YAML reads an unquoted yes/no/on/off as true/false"
        return [(loc, f"unknown key{hint}")]
    if kind.startswith("date"):
        return [(loc, f"expected a date (YYYY-MM-DD), got {got}")]
    if kind in _TYPE_WORDS:
        return [(loc, f"expected {_TYPE_WORDS[kind]}, got {got}")]
    if kind == "literal_error":
        return [(loc, f"expected {ctx.get('expected', 'one of the allowed values')}, got {got}")]
    if kind == "string_too_short":
        return [(loc, "must not be empty")]
    bounds = {
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("greater than", "gt"),
        "less_than_equal": ("at most", "le"),
        "less_than": ("less than", "lt"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        return [(loc, f"must be {words} {ctx.get(key)}, got {got}")]
    msg = str(err.get("msg", "invalid value"))
    return [(loc, f"{msg[0].lower()}{msg[1:]}" if msg else "invalid value")]


def _format_validation_error(exc: ValidationError, source: str, endpoints_as_list: bool) -> ConfigError:
    lines: list[str] = []
    for err in exc.errors():
        for loc, msg in _humanize(err):
            if endpoints_as_list and loc[:2] == ("endpoints", "targets"):
                loc = ("endpoints", *loc[2:])  # the file gave a list: endpoints[0], not endpoints.targets[0]
            line = f"{source}: {_loc_to_path(loc)}: {msg}"
            if line not in lines:
                lines.append(line)
    return ConfigError("\n".join(lines), lines)


# --------------------------------------------------------------------------- loading


def _canonical(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_canonical(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


def _mapping_sha256(data: Mapping[str, Any]) -> str:
    text = json.dumps(_canonical(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _validate(
    data: Any,
    *,
    source: str,
    origin: str,
    sha256: str,
    base_dir: Path,
    check_specs: Mapping[str, Any] | None,
) -> AppConfig:
    if data is None:
        raise ConfigError(f"{source}: the file is empty; expected settings such as 'organization:' and 'period:'")
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: the top level must be a mapping of settings (key: value), got {_describe(data)}")
    lines = [
        f"{source}: {key}: unknown key (set by the loader, not the config file)" for key in _LOADER_FIELDS & set(data)
    ]
    data = {k: v for k, v in data.items() if k not in _LOADER_FIELDS}

    def get_specs() -> Mapping[str, Any]:
        if check_specs is not None:
            return check_specs
        from collectors.registry import specs

        return specs()

    context = {"source": origin, "sha256": sha256, "base_dir": Path(base_dir), "specs": get_specs}
    try:
        cfg = AppConfig.model_validate(data, context=context)
    except ValidationError as exc:
        endpoints_as_list = isinstance(data.get("endpoints"), list | tuple)
        lines += _format_validation_error(exc, source, endpoints_as_list).problems
        raise ConfigError("\n".join(lines), lines) from None
    if lines:
        raise ConfigError("\n".join(lines), lines)
    return cfg


def config_from_mapping(
    data: Mapping[str, Any],
    *,
    source: str = "<config>",
    base_dir: Path,
    check_specs: Mapping[str, Any] | None = None,
) -> AppConfig:
    """Validate an in-memory config (same rules as a file). Relative paths are
    resolved against ``base_dir``; ``sha256`` is that of the mapping's
    canonical JSON. ``check_specs`` defaults to the check registry."""
    sha = _mapping_sha256(data) if isinstance(data, Mapping) else ""
    return _validate(data, source=source, origin=source, sha256=sha, base_dir=base_dir, check_specs=check_specs)


class _ConfigLoader(yaml.SafeLoader):
    """yaml.SafeLoader, stricter where YAML 1.1 silently loses information:
    duplicate keys are errors, leading-zero numbers (``012345670123``, octal in
    YAML 1.1) stay strings, and impossible dates (``2026-13-01``) stay strings
    so validation reports them instead of crashing."""


def _construct_mapping(loader: _ConfigLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
        except TypeError:  # unhashable key: let the base constructor report it
            break
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first given on line {seen[key].start_mark.line + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


def _construct_int(loader: _ConfigLoader, node: yaml.ScalarNode) -> Any:
    text = str(loader.construct_scalar(node))
    digits = text.lstrip("+-").replace("_", "")
    if len(digits) > 1 and digits.startswith("0") and digits.isdigit():
        return text  # not octal: an account id such as 012345670123
    return yaml.SafeLoader.construct_yaml_int(loader, node)


def _construct_timestamp(loader: _ConfigLoader, node: yaml.ScalarNode) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return str(loader.construct_scalar(node))


_ConfigLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_ConfigLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
_ConfigLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    lambda loader, node: dict(_construct_mapping(loader, node)),
)


def _parse_yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=_ConfigLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem and exc.context_mark is not None:
            problem += f" ({exc.context} on line {exc.context_mark.line + 1})"
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise ConfigError(f"{source}: {where}{problem}") from None
    except yaml.YAMLError as exc:
        text = " ".join(str(exc).split())
        raise ConfigError(f"{source}: invalid YAML: {text}") from None
    except RecursionError:
        raise ConfigError(f"{source}: invalid YAML: nested too deeply") from None


def load_config(path: str | Path, *, check_specs: Mapping[str, Any] | None = None) -> AppConfig:
    """Read, parse and validate a config file. Relative paths in it (catalog,
    exceptions, output) are resolved against the file's folder. Raises
    ConfigError, with every problem found, on any bad input."""
    source = str(path)
    file = Path(path).expanduser()
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{source}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{source}: is a directory, expected a YAML file") from None
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read the file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{source}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); save the file as UTF-8"
        ) from None
    data = _parse_yaml(text, source)
    return _validate(
        data,
        source=source,
        origin=os.path.abspath(file),
        sha256=hashlib.sha256(raw).hexdigest(),
        base_dir=Path(os.path.abspath(file)).parent,
        check_specs=check_specs,
    )
