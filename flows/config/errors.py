"""The config's error type and the wording of its messages.

Every other module of ``flows.config`` reports through these: ``ConfigError``
(the whole human report, one ``<file>: <key path>: <problem>`` line per
problem), ``_Problems`` (several problems below one validated value), and the
helpers that phrase them: a key path, a short description of the value given,
and "did you mean". Separate so the models, the thresholds check and the
loader share one voice without importing each other.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any


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
