"""The ``gcp:`` section: the GCP projects in scope, checked against Google's project-id rules."""

from __future__ import annotations

from pydantic import field_validator

from flows.config.errors import _describe, _Problems
from flows.config.fields import _GCP_PROJECT_RE, _dedupe, _Section


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
