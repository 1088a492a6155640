"""Pydantic's validation errors as the config's messages: a key path and a problem a person can act on.

"unknown key (did you mean 'accounts'?)", "expected a date (YYYY-MM-DD), got
...", "must be at least 1, got 0": one line per problem, each at the key path
the file uses. Knows the models (to list the keys allowed where an unknown one
was given), so it sits above them.
"""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from flows.config.app import _LOADER_FIELDS, AppConfig
from flows.config.errors import ConfigError, _describe, _did_you_mean, _loc_to_path, _Problems


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


# Problems listed in one message: enough to see the pattern; 100,000 unknown keys once
# took 90 s to reject and printed 17.5 MB (issue 12, defect 8).
MAX_LISTED_PROBLEMS = 20


def _problem_count(err: Mapping[str, Any]) -> int:
    """How many lines an error would give, without phrasing it (no "did you mean" search)."""
    error = (err.get("ctx") or {}).get("error")
    return len(error.problems) if isinstance(error, _Problems) else 1


def _format_validation_error(
    exc: ValidationError, source: str, endpoints_as_list: bool, limit: int = MAX_LISTED_PROBLEMS
) -> ConfigError:
    """One line per problem, the first `limit` of them, then how many more there are."""
    lines: list[str] = []
    seen: set[str] = set()
    more = 0
    for err in exc.errors(include_url=False):
        if len(lines) >= limit:
            more += _problem_count(err)
            continue
        for loc, msg in _humanize(err):
            if endpoints_as_list and loc[:2] == ("endpoints", "targets"):
                loc = ("endpoints", *loc[2:])  # the file gave a list: endpoints[0], not endpoints.targets[0]
            line = f"{source}: {_loc_to_path(loc)}: {msg}"
            if line in seen:
                continue
            if len(lines) >= limit:
                more += 1
                continue
            seen.add(line)
            lines.append(line)
    if more:
        lines.append(f"{source}: ... and {more:,} more problem(s) like these (the first {limit} are listed)")
    return ConfigError("\n".join(lines), lines)
