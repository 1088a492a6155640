"""What the user's YAML inputs (catalog, exceptions, commitments) share: one
error type carrying a whole human message, and YAML syntax errors located."""

from __future__ import annotations

import yaml


class InputFileError(Exception):
    """A file that cannot be used; `message` has one `<file>: <where>: <problem>`
    line per problem (printed as is, exit 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def yaml_problem(exc: yaml.YAMLError, source: str) -> str:
    """`<file>: line L, column C: <problem>` for a YAML syntax error."""
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    return f"{source}: {where}{getattr(exc, 'problem', None) or exc}"
