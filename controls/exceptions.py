"""Risk acceptance: approved, time-boxed exceptions that turn matching `fail`
results into `excepted` ones.

The file (`exceptions.yaml`, named by the config's `exceptions:` key):

    exceptions:
      - check: aws.s3.default_encryption      # a registered check ID
        resource: "dexo-staging-*"            # fnmatch pattern over resource_id (case-sensitive)
        account: "828931197057"               # optional, exact
        region: eu-west-1                     # optional, exact
        reason: Scratch bucket holds synthetic data only
        approved_by: jane.doe@dexo.chat
        approved_on: 2026-03-01
        expires_on: 2026-12-31                # inclusive
        ticket: SEC-123                       # optional

Rules (pure functions, no I/O except `load_exceptions` reading the file):
- only `fail` results are ever excepted; `pass`, `error` and `not_applicable`
  are never changed (an exception never hides a resource that could not be
  assessed);
- an exception applies when approved_on <= as_of (UTC date) <= expires_on;
  `as_of` is the run's evaluation time, so re-evaluating a run gives the same
  result whatever today's date is;
- when several active exceptions match a fail, the first in the file is named
  in the reason; every matching exception counts the resource as matched;
- every exception is reported: `active` (excepts at least one fail), `stale`
  (in force but matches no failing resource: fixed, renamed or deleted, so it
  can be retired), `expired` (no longer applies; lists the fails it would have
  covered), `not_yet_valid` (approved_on in the future).

controls/ imports nothing of the project: the known check IDs are passed in.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import re
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from controls.inputfile import InputFileError, yaml_problem
from controls.model import CheckResult, Status

ACTIVE, EXPIRED, NOT_YET_VALID, STALE = "active", "expired", "not_yet_valid", "stale"


class _Loader(yaml.SafeLoader):
    """SafeLoader that leaves dates as text, so pydantic reports `2026-13-01` with its key path
    (PyYAML's own timestamp constructor raises a bare ValueError)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class ExceptionsError(InputFileError):
    """An exceptions file that cannot be used; `message` has one
    `<file>: <key path>: <problem>` line per problem."""


class _ExceptionModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    check: str = Field(min_length=1)
    resource: str = Field(min_length=1)
    account: str | None = None
    region: str | None = None
    reason: str = Field(min_length=1)
    approved_by: str = Field(min_length=1)
    approved_on: date
    expires_on: date
    ticket: str = ""

    @field_validator("account", "region", "ticket", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        if isinstance(value, bool | int | float):
            raise ValueError(f"expected a quoted string, got the number {value!r} (write it in quotes: '{value}')")
        return value

    @field_validator("approved_on", "expires_on", mode="before")
    @classmethod
    def _date_only(cls, value: Any) -> Any:
        if not isinstance(value, date | str):
            raise ValueError(f"expected a date YYYY-MM-DD, got {value!r}")
        if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            raise ValueError(f"expected a date YYYY-MM-DD, got {value!r}")
        return value


class _FileModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    exceptions: tuple[_ExceptionModel, ...] = ()


@dataclass(frozen=True)
class RiskException:
    """One approved exception, validated. `index` is its position in the file."""

    index: int
    check: str
    resource: str
    reason: str
    approved_by: str
    approved_on: date
    expires_on: date
    ticket: str = ""
    account: str | None = None
    region: str | None = None
    source: str = ""
    _pattern: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._pattern is None:
            object.__setattr__(self, "_pattern", re.compile(fnmatch.translate(self.resource)))

    @property
    def label(self) -> str:
        """`exceptions[2] (SEC-123)`: how messages name it."""
        return f"exceptions[{self.index}]" + (f" ({self.ticket})" if self.ticket else "")

    def state_on(self, day: date) -> str:
        if day < self.approved_on:
            return NOT_YET_VALID
        if day > self.expires_on:
            return EXPIRED
        return ACTIVE

    def matches(self, result: CheckResult) -> bool:
        """Same check, resource_id matching the pattern, and account/region if given."""
        return (
            result.check_id == self.check
            and (self.account is None or result.account == self.account)
            and (self.region is None or result.region == self.region)
            and self._pattern.match(result.resource_id) is not None  # type: ignore[union-attr]
        )

    def note(self) -> str:
        """Appended to an excepted result's reason."""
        ticket = f"{self.ticket}, " if self.ticket else ""
        return (
            f" — excepted: {ticket}approved by {self.approved_by} on {self.approved_on.isoformat()}, "
            f"expires {self.expires_on.isoformat()}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "check": self.check,
            "resource": self.resource,
            "account": self.account,
            "region": self.region,
            "reason": self.reason,
            "approved_by": self.approved_by,
            "approved_on": self.approved_on.isoformat(),
            "expires_on": self.expires_on.isoformat(),
            "ticket": self.ticket,
        }


def _loc(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        parts.append(f"[{item}]" if isinstance(item, int) else ("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def _msg(error: Mapping[str, Any]) -> str:
    msg = str(error["msg"])
    if error["type"] == "extra_forbidden":
        return "unknown key"
    if error["type"] == "missing":
        return "required field missing"
    if error["type"] == "string_too_short":
        return "must not be empty"
    return msg.removeprefix("Value error, ")


def parse_exceptions(text: str, source: str, known_checks: Collection[str]) -> list[RiskException]:
    """Parse and validate an exceptions file; raises ExceptionsError listing every problem."""
    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ExceptionsError(yaml_problem(exc, source)) from None
    if data is None:
        return []
    if not isinstance(data, Mapping):
        raise ExceptionsError(f"{source}: expected a mapping with an 'exceptions' list at the top level")
    problems: list[str] = []
    try:
        model = _FileModel.model_validate(data)
    except ValidationError as exc:
        problems = [f"{source}: {_loc(e['loc'])}: {_msg(e)}" for e in exc.errors(include_url=False)]
        model = None
    raw = data.get("exceptions")
    if model is not None:
        items = list(model.exceptions)
    else:
        # validate item by item so date ordering and check IDs are reported too
        items = []
        if isinstance(raw, list):
            for item in raw:
                try:
                    items.append(_ExceptionModel.model_validate(item))
                except ValidationError:
                    items.append(None)
    out: list[RiskException] = []
    for i, ex in enumerate(items):
        where = f"{source}: exceptions[{i}]"
        check = ex.check if ex is not None else raw[i].get("check") if isinstance(raw[i], Mapping) else None
        if isinstance(check, str) and check.strip() and check.strip() not in known_checks:
            match = difflib.get_close_matches(check.strip(), list(known_checks), n=1)
            hint = f" (did you mean {match[0]!r}?)" if match else ""
            problems.append(f"{where}.check: unknown check ID {check.strip()!r}{hint}")
        if ex is None:
            continue
        if ex.expires_on < ex.approved_on:
            problems.append(
                f"{where}.expires_on: {ex.expires_on.isoformat()} is before approved_on {ex.approved_on.isoformat()}"
            )
        out.append(
            RiskException(
                index=i,
                check=ex.check,
                resource=ex.resource,
                reason=ex.reason,
                approved_by=ex.approved_by,
                approved_on=ex.approved_on,
                expires_on=ex.expires_on,
                ticket=ex.ticket,
                account=ex.account,
                region=ex.region,
                source=source,
            )
        )
    if problems:
        raise ExceptionsError("\n".join(sorted(set(problems), key=problems.index)))
    return out


def load_exceptions(path: Path | str, known_checks: Collection[str]) -> list[RiskException]:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ExceptionsError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ExceptionsError(f"{path}: cannot read: {exc}") from None
    return parse_exceptions(text, str(path), known_checks)


# --------------------------------------------------------------------------- applying


def _resource(r: CheckResult) -> str:
    return f"{r.account}/{r.region}/{r.resource_id}"


@dataclass(frozen=True)
class ExceptionUse:
    """What one exception did in one evaluation."""

    exception: RiskException
    status: str  # active | stale | expired | not_yet_valid
    matched: tuple[str, ...]  # failing resources (account/region/resource_id) excepted, or that would have been
    other: Mapping[str, int]  # non-fail results it matches, per status (never changed)
    days_to_expiry: int  # negative once expired

    @property
    def matched_count(self) -> int:
        return len(self.matched)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.exception.to_json(),
            "status": self.status,
            "matched_count": self.matched_count,
            "matched": list(self.matched),
            "other_matches": dict(self.other),
            "days_to_expiry": self.days_to_expiry,
        }


@dataclass(frozen=True)
class ExceptionsReport:
    as_of: date
    uses: tuple[ExceptionUse, ...]
    excepted: int  # results turned from fail into excepted

    @property
    def active(self) -> list[ExceptionUse]:
        return [u for u in self.uses if u.status == ACTIVE]

    @property
    def stale(self) -> list[ExceptionUse]:
        return [u for u in self.uses if u.status == STALE]

    @property
    def expired(self) -> list[ExceptionUse]:
        """Expired exceptions; `matched` lists the fails they would have covered."""
        return [u for u in self.uses if u.status == EXPIRED]

    @property
    def not_yet_valid(self) -> list[ExceptionUse]:
        return [u for u in self.uses if u.status == NOT_YET_VALID]

    def warnings(self) -> list[str]:
        """Human lines for the log / CLI: expired, stale and not-yet-valid exceptions."""
        out = []
        for u in self.uses:
            ex = u.exception
            where = f"{ex.source}: {ex.label}" if ex.source else ex.label
            if u.status == EXPIRED:
                out.append(
                    f"{where}: expired on {ex.expires_on.isoformat()}; "
                    f"{u.matched_count} failing resource(s) of {ex.check} are no longer excepted"
                )
            elif u.status == STALE:
                out.append(f"{where}: matches no failing resource of {ex.check} ({ex.resource!r}); retire it")
            elif u.status == NOT_YET_VALID:
                out.append(f"{where}: not valid before {ex.approved_on.isoformat()}; not applied")
        return out

    def rows(self, max_resources: int = 50) -> list[dict[str, Any]]:
        """One row per exception, for the workbook's Exceptions sheet (dates are `date` objects)."""
        rows = []
        for u in self.uses:
            ex = u.exception
            shown = list(u.matched[:max_resources])
            if u.matched_count > max_resources:
                shown.append(f"… and {u.matched_count - max_resources} more")
            rows.append(
                {
                    "Exception": ex.label,
                    "Ticket": ex.ticket,
                    "Check": ex.check,
                    "Account": ex.account or "any",
                    "Region": ex.region or "any",
                    "Resource pattern": ex.resource,
                    "Reason": ex.reason,
                    "Approved by": ex.approved_by,
                    "Approved on": ex.approved_on,
                    "Expires on": ex.expires_on,
                    "Status": u.status,
                    "Days to expiry": u.days_to_expiry,
                    "Matched failing resources": u.matched_count,
                    "Resources": "\n".join(shown),
                    "Other matches (not excepted)": ", ".join(f"{k} {v}" for k, v in sorted(u.other.items())),
                }
            )
        return rows

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "excepted": self.excepted,
            "exceptions": [u.to_json() for u in self.uses],
        }


def _as_date(as_of: datetime | date) -> date:
    if isinstance(as_of, datetime):
        return (as_of.astimezone(UTC) if as_of.tzinfo else as_of).date()
    return as_of


def apply_exceptions(
    results: Sequence[CheckResult], exceptions: Sequence[RiskException], as_of: datetime | date
) -> tuple[list[CheckResult], ExceptionsReport]:
    """Turn `fail` results covered by an active exception into `excepted`.

    Returns the results in the same order (unchanged objects where nothing
    applies) and the report on every exception."""
    day = _as_date(as_of)
    states = [ex.state_on(day) for ex in exceptions]
    by_check: dict[str, list[int]] = {}
    for i, ex in enumerate(exceptions):
        by_check.setdefault(ex.check, []).append(i)
    matched: list[list[str]] = [[] for _ in exceptions]
    other: list[Counter[str]] = [Counter() for _ in exceptions]
    out: list[CheckResult] = []
    excepted = 0
    for r in results:
        candidates = by_check.get(r.check_id)
        if not candidates:
            out.append(r)
            continue
        applied: RiskException | None = None
        for i in candidates:
            ex = exceptions[i]
            if not ex.matches(r):
                continue
            if r.status == Status.FAIL:
                matched[i].append(_resource(r))
                if applied is None and states[i] == ACTIVE:
                    applied = ex
            else:
                other[i][str(r.status)] += 1
        if applied is not None:
            out.append(dataclasses.replace(r, status=Status.EXCEPTED, reason=r.reason + applied.note()))
            excepted += 1
        else:
            out.append(r)
    uses = []
    for i, ex in enumerate(exceptions):
        status = states[i]
        if status == ACTIVE and not matched[i]:
            status = STALE
        uses.append(
            ExceptionUse(
                exception=ex,
                status=status,
                matched=tuple(sorted(matched[i])),
                other=dict(other[i]),
                days_to_expiry=(ex.expires_on - day).days,
            )
        )
    return out, ExceptionsReport(as_of=day, uses=tuple(uses), excepted=excepted)
