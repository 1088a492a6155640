"""Which GCP projects a run covers: those named in config and, with discovery, those the credentials see.

`gcp.projects: discover` (or `gcp.discover: true`) lists the ACTIVE projects visible to the
Application Default Credentials with Cloud Resource Manager v1 `projects.list` (it returns the
projects on which the caller holds resourcemanager.projects.get), through google-auth's
AuthorizedSession. The pages are recorded as evidence; the manifest then says which named
projects the credentials cannot see and which visible projects were not named, so a project
outside the run's scope is never silent. A failed listing is reported with its permission and
the run examines the named projects only.

SOC2_EVIDENCE_GCP_CRM_URL points the listing at another endpoint (a test server); it is then
called with anonymous credentials, as google-cloud-storage does for STORAGE_EMULATOR_HOST.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from collectors.evidence import ApiError, Recorder, Scope
from collectors.gcp.base import GcpTuning, classify_error

CRM_URL = "https://cloudresourcemanager.googleapis.com"
CRM_URL_ENV = "SOC2_EVIDENCE_GCP_CRM_URL"
PERMISSION = "resourcemanager.projects.get"
OPERATIONS = {"cloudresourcemanager:projects.list": PERMISSION}
DISCOVERY_SCOPE = Scope("gcp", "organization", "global", "gcp.projects")
PAGE_SIZE = 500
MAX_PAGES = 200  # 100,000 projects: a runaway pagination stops here, recorded as an error


@dataclass
class ProjectDiscovery:
    named: tuple[str, ...]
    visible: tuple[str, ...] = ()
    recorder: Recorder | None = None
    error: ApiError | None = None
    inactive: list[str] = field(default_factory=list)

    @property
    def projects(self) -> tuple[str, ...]:
        """The projects the run examines: the named ones, then the visible ones not named."""
        return tuple(dict.fromkeys((*self.named, *self.visible)))

    def to_json(self) -> dict[str, Any]:
        named, visible = set(self.named), set(self.visible)
        return {
            "named": list(self.named),
            "visible": list(self.visible),
            "named_not_visible": sorted(named - visible) if self.error is None else None,
            "visible_not_named": sorted(visible - named),
            "inactive": sorted(self.inactive),
            "error": None if self.error is None else self.error.to_json(),
        }


def _session(tuning: GcpTuning) -> tuple[Any, str]:
    from google.auth.transport.requests import AuthorizedSession

    override = os.environ.get(CRM_URL_ENV)
    if override:
        from google.auth.credentials import AnonymousCredentials

        return AuthorizedSession(AnonymousCredentials()), override.rstrip("/")
    import google.auth

    credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform.read-only"])
    return AuthorizedSession(credentials), CRM_URL


def discover_projects(named: Sequence[str], tuning: GcpTuning) -> ProjectDiscovery:
    """List the visible ACTIVE projects, page by page, each page recorded as evidence."""
    rec = Recorder(DISCOVERY_SCOPE, OPERATIONS, classify_error)
    out = ProjectDiscovery(tuple(named), recorder=rec)
    try:
        session, base = _session(tuning)
    except Exception as exc:  # no credentials: recorded, the named projects are still examined
        err = classify_error(exc)
        out.error = ApiError(err.code, err.message, PERMISSION)
        rec.record("cloudresourcemanager", "projects.list", {}, error=out.error)
        return out
    token: str | None = None
    visible: list[str] = []
    for _ in range(MAX_PAGES):
        params = {"pageSize": PAGE_SIZE, **({"pageToken": token} if token else {})}
        try:
            answer = session.get(f"{base}/v1/projects", params=params, timeout=tuning.timeout_seconds)
        except Exception as exc:  # unreachable, timeout: recorded as the listing's failure
            err = classify_error(exc)
            out.error = ApiError(err.code, err.message, PERMISSION, err.http_status)
            rec.record("cloudresourcemanager", "projects.list", params, error=out.error)
            return out
        if answer.status_code != 200:
            code = {403: "PermissionDenied", 401: "Unauthenticated"}.get(answer.status_code, str(answer.status_code))
            out.error = ApiError(code, answer.text[:2000], PERMISSION, answer.status_code)
            rec.record("cloudresourcemanager", "projects.list", params, error=out.error)
            return out
        call = rec.record("cloudresourcemanager", "projects.list", params, response=answer.json())
        for project in (call.response or {}).get("projects", []):
            pid = str(project.get("projectId", ""))
            if project.get("lifecycleState", "ACTIVE") == "ACTIVE":
                visible.append(pid)
            else:
                out.inactive.append(pid)
        token = (call.response or {}).get("nextPageToken") or None
        if not token:
            break
    out.visible = tuple(sorted(set(visible)))
    return out


def resolve_projects(named: Sequence[str], discover: bool, tuning: GcpTuning) -> ProjectDiscovery | None:
    """The discovery when the config asks for it (its `projects` are what the run examines), else None."""
    return discover_projects(named, tuning) if discover else None


def discovery_lines(doc: dict[str, Any] | None) -> list[str]:
    """Console lines for the comparison of named and visible projects."""
    if not doc:
        return []
    lines = [f"  GCP projects visible to the credentials: {len(doc['visible'])}"]
    if doc.get("error"):
        lines.append(f"    discovery FAILED ({doc['error']['code']}, needs {PERMISSION}): named projects only")
    if doc.get("named_not_visible"):
        lines.append("    named but not visible: " + ", ".join(doc["named_not_visible"]))
    if doc.get("visible_not_named"):
        lines.append("    visible, not named (examined): " + ", ".join(doc["visible_not_named"]))
    return lines
