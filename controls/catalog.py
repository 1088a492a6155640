"""The control catalog: controls, the criteria they address, the checks that
evidence them; loaded from YAML (built-in or the user's own) and validated.

Validation gets the known check IDs passed in (controls/ imports nothing of
the project), so a catalog naming a check that does not exist is an error
rather than a control that silently has no evidence.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from controls.inputfile import InputFileError, yaml_problem

CHECK_ID = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")


class CatalogError(InputFileError):
    """A catalog that cannot be used; `message` names the file and the problem."""


class ControlModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    description: str = ""
    criteria: tuple[str, ...] = Field(min_length=1)
    checks: tuple[str, ...] = ()
    frequency: str = "daily"
    owner: str = ""

    @field_validator("id", "title")
    @classmethod
    def _strip(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("must not be empty")
        return v


class CatalogModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    controls: tuple[ControlModel, ...] = Field(min_length=1)


@dataclass(frozen=True)
class Catalog:
    source: str
    controls: tuple[ControlModel, ...]
    criteria: Mapping[str, str]  # every known criterion ID -> paraphrase
    warnings: tuple[str, ...] = ()
    _by_check: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    def controls_for(self, check_id: str) -> tuple[str, ...]:
        return self._by_check.get(check_id, ())

    def criteria_for_controls(self, control_ids: Collection[str]) -> tuple[str, ...]:
        wanted = set(control_ids)
        found = {c for ctl in self.controls if ctl.id in wanted for c in ctl.criteria}
        return tuple(sort_criteria(found))

    def control(self, control_id: str) -> ControlModel:
        for ctl in self.controls:
            if ctl.id == control_id:
                return ctl
        raise KeyError(control_id)

    def covered_criteria(self) -> set[str]:
        return {c for ctl in self.controls if ctl.checks for c in ctl.criteria}

    def uncovered_criteria(self) -> list[str]:
        """Criteria with no automated evidence in this catalog."""
        covered = self.covered_criteria()
        return [c for c in self.criteria if c not in covered]


def _criterion_key(cid: str) -> tuple[int, str, tuple[int, ...]]:
    order = ["CC", "A", "C", "PI", "P"]
    m = re.match(r"^([A-Z]+)(\d+)\.(\d+)$", cid)
    if not m:
        return (99, cid, ())
    prefix = m.group(1)
    rank = order.index(prefix) if prefix in order else 98
    return (rank, prefix, (int(m.group(2)), int(m.group(3))))


def sort_criteria(ids: Collection[str]) -> list[str]:
    return sorted(ids, key=_criterion_key)


def load_criteria() -> dict[str, str]:
    text = resources.files("controls").joinpath("data/criteria.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    return {str(k): str(v) for k, v in sorted(data.items(), key=lambda kv: _criterion_key(str(kv[0])))}


def _loc(loc: tuple[Any, ...], data: Any) -> str:
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int):
            label = ""
            if isinstance(node, list) and item < len(node) and isinstance(node[item], Mapping) and "id" in node[item]:
                label = f" ({node[item]['id']})"
            parts.append(f"[{item}]{label}")
            node = node[item] if isinstance(node, list) and item < len(node) else None
        else:
            parts.append(("." if parts else "") + str(item))
            node = node.get(item) if isinstance(node, Mapping) else None
    return "".join(parts) or "(top level)"


def parse_catalog(text: str, source: str, known_checks: Collection[str]) -> Catalog:
    """Parse and validate a catalog; raises CatalogError listing every problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogError(yaml_problem(exc, source)) from None
    if not isinstance(data, Mapping):
        raise CatalogError(f"{source}: expected a mapping with a 'controls' list at the top level")
    try:
        model = CatalogModel.model_validate(data)
    except ValidationError as exc:
        lines = [f"{source}: {_loc(e['loc'], data)}: {e['msg']}" for e in exc.errors(include_url=False)]
        raise CatalogError("\n".join(lines)) from None

    criteria = load_criteria()
    problems: list[str] = []
    seen: set[str] = set()
    by_check: dict[str, list[str]] = {}
    for i, ctl in enumerate(model.controls):
        where = f"{source}: controls[{i}] ({ctl.id})"
        if ctl.id in seen:
            problems.append(f"{where}.id: duplicate control id {ctl.id!r}")
        seen.add(ctl.id)
        for c in ctl.criteria:
            if c not in criteria:
                problems.append(f"{where}.criteria: unknown Trust Services Criterion {c!r}")
        for chk in ctl.checks:
            if chk not in known_checks:
                hint = _close(chk, known_checks)
                problems.append(f"{where}.checks: unknown check ID {chk!r}{hint}")
            by_check.setdefault(chk, []).append(ctl.id)
    if problems:
        raise CatalogError("\n".join(problems))
    warnings = tuple(
        f"{source}: check {chk} is mapped to no control; its results appear in findings only"
        for chk in sorted(known_checks)
        if chk not in by_check
    )
    return Catalog(
        source=source,
        controls=model.controls,
        criteria=criteria,
        warnings=warnings,
        _by_check={k: tuple(v) for k, v in by_check.items()},
    )


def _close(word: str, options: Collection[str]) -> str:
    import difflib

    match = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


BUILTIN_SOURCE = "built-in catalog"


def load_catalog(path: Path | None, known_checks: Collection[str]) -> Catalog:
    """The user's catalog if `path` is given, else the built-in one."""
    if path is None:
        text = resources.files("controls").joinpath("data/catalog.yaml").read_text(encoding="utf-8")
        return parse_catalog(text, BUILTIN_SOURCE, known_checks)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CatalogError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{path}: cannot read: {exc}") from None
    return parse_catalog(text, str(path), known_checks)
