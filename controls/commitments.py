"""Public commitments: what the company promised (privacy policy, security
page, contracts), quoted, and the controls whose evidence supports each.

An auditor reads a commitment as the claim under test; its status derives
from the mapped controls' status, never from the quote itself.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from controls.inputfile import InputFileError, yaml_problem
from controls.model import ControlStatus


class CommitmentsError(InputFileError):
    """An unusable commitments file; `message` names the file, key and problem."""


class Commitment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    quote: str = Field(min_length=1)  # the promise, word for word
    source: str = Field(min_length=1)  # where it is made (document and section)
    controls: tuple[str, ...] = ()  # controls whose evidence supports it; () = not automated
    note: str = ""

    @field_validator("id", "quote", "source")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("must not be empty")
        return value


class CommitmentsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    commitments: tuple[Commitment, ...] = Field(min_length=1)


class Support:
    """How far the evidence supports a commitment."""

    SUPPORTED = "supported"  # every mapped control effective
    CONTRADICTED = "contradicted"  # a mapped control is deficient
    UNVERIFIED = "unverified"  # no fail, but a control is incomplete or has no evidence
    NOT_AUTOMATED = "not automated"  # no control mapped: evidence is collected outside this tool


@dataclass(frozen=True)
class CommitmentResult:
    commitment: Commitment
    support: str
    control_statuses: Mapping[str, str]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.commitment.id,
            "quote": self.commitment.quote,
            "source": self.commitment.source,
            "controls": dict(self.control_statuses),
            "support": self.support,
        }


def _where(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_commitments(text: str, source: str, known_controls: Collection[str]) -> tuple[Commitment, ...]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CommitmentsError(yaml_problem(exc, source)) from None
    if not isinstance(data, Mapping):
        raise CommitmentsError(f"{source}: expected a mapping with a 'commitments' list at the top level")
    try:
        model = CommitmentsFile.model_validate(data)
    except ValidationError as exc:
        raise CommitmentsError(
            "\n".join(f"{source}: {_where(e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False))
        ) from None
    problems = []
    seen: set[str] = set()
    for i, c in enumerate(model.commitments):
        if c.id in seen:
            problems.append(f"{source}: commitments[{i}].id: duplicate commitment id {c.id!r}")
        seen.add(c.id)
        for ctl in c.controls:
            if ctl not in known_controls:
                problems.append(f"{source}: commitments[{i}] ({c.id}).controls: unknown control {ctl!r}")
    if problems:
        raise CommitmentsError("\n".join(problems))
    return model.commitments


def load_commitments(path: Path, known_controls: Collection[str]) -> tuple[Commitment, ...]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CommitmentsError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CommitmentsError(f"{path}: cannot read: {exc}") from None
    return parse_commitments(text, str(path), known_controls)


def evaluate_commitments(
    commitments: Sequence[Commitment], control_status: Mapping[str, str]
) -> list[CommitmentResult]:
    """A commitment is as strong as its weakest control."""
    out = []
    for c in commitments:
        statuses = {ctl: str(control_status.get(ctl, ControlStatus.NO_EVIDENCE)) for ctl in c.controls}
        values = set(statuses.values())
        if not statuses:
            support = Support.NOT_AUTOMATED
        elif ControlStatus.DEFICIENT in values:
            support = Support.CONTRADICTED
        elif values == {ControlStatus.EFFECTIVE}:
            support = Support.SUPPORTED
        else:
            support = Support.UNVERIFIED
        out.append(CommitmentResult(c, support, statuses))
    return out
