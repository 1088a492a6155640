"""The ``thresholds:`` section, checked against the check registry's defaults.

A threshold must name a known check and one of its thresholds, and match the
type of the default (an integer where a number is expected becomes a float).
Used while validating ``AppConfig`` and, through ``validate_thresholds``, by
anything holding thresholds outside a config file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flows.config.errors import ConfigError, _describe, _did_you_mean, _loc_to_path

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
