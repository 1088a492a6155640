"""The ``gcp:`` section: the GCP projects in scope, checked against Google's project-id rules.

``projects: discover`` (or ``discover: true`` next to a list) adds every ACTIVE project the
credentials can see (Cloud Resource Manager projects.list, flows.gcp_projects); the projects
named in config and those visible are compared in the run's manifest, never silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import StrictBool, field_validator, model_validator

from flows.config.errors import _describe, _Problems
from flows.config.fields import _GCP_PROJECT_RE, _dedupe, _Section

DISCOVER = "discover"


class GcpConfig(_Section):
    projects: tuple[str, ...] = ()
    # also examine every project the credentials can see (set by `projects: discover` too)
    discover: StrictBool = False

    @model_validator(mode="before")
    @classmethod
    def _projects_discover(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and isinstance(data.get("projects"), str):
            if data["projects"].strip() != DISCOVER:
                raise _Problems(
                    [
                        (
                            ("projects",),
                            f"expected a list of project ids or 'discover', got {_describe(data['projects'])}",
                        )
                    ]
                )
            return {**data, "projects": (), "discover": True}
        return data

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
