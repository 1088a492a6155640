"""gcp.projects: discover against a small Cloud Resource Manager fake over real HTTP (projects.list)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from collectors.gcp.base import GcpTuning
from flows.gcp_projects import CRM_URL_ENV, PERMISSION, discover_projects, discovery_lines
from flows.permissions import gcp_permissions

PROJECTS = [
    {"projectId": "dexo-prod", "lifecycleState": "ACTIVE"},
    {"projectId": "dexo-analytics", "lifecycleState": "ACTIVE"},
    {"projectId": "dexo-sandbox", "lifecycleState": "ACTIVE"},
    {"projectId": "dexo-old", "lifecycleState": "DELETE_REQUESTED"},
]


class FakeCrm:
    """GET /v1/projects, two projects a page; `status` answers every request with that error instead."""

    def __init__(self) -> None:
        self.status = 200
        self.queries: list[dict[str, list[str]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                fake.queries.append(query)
                if parts.path != "/v1/projects":
                    return self._send(404, {"error": {"code": 404, "message": "not found"}})
                if fake.status != 200:
                    message = f"The caller does not have permission ({PERMISSION})"
                    return self._send(fake.status, {"error": {"code": fake.status, "message": message}})
                start = int(query.get("pageToken", ["0"])[0])
                body: dict[str, Any] = {"projects": PROJECTS[start : start + 2]}
                if start + 2 < len(PROJECTS):
                    body["nextPageToken"] = str(start + 2)
                self._send(200, body)

            def _send(self, status: int, body: dict[str, Any]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def crm(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCrm]:
    fake = FakeCrm()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv(CRM_URL_ENV, fake.url)
    yield fake
    fake.server.shutdown()


def test_discovery_pages_through_visible_projects_and_compares_with_the_named_ones(crm: FakeCrm) -> None:
    found = discover_projects(["dexo-prod", "dexo-gone"], GcpTuning(timeout_seconds=5))
    assert found.error is None
    assert found.visible == ("dexo-analytics", "dexo-prod", "dexo-sandbox")
    assert found.projects == ("dexo-prod", "dexo-gone", "dexo-analytics", "dexo-sandbox")
    doc = found.to_json()
    assert doc["named_not_visible"] == ["dexo-gone"]
    assert doc["visible_not_named"] == ["dexo-analytics", "dexo-sandbox"]
    assert doc["inactive"] == ["dexo-old"]
    assert [q.get("pageToken") for q in crm.queries] == [None, ["2"]]
    assert found.recorder is not None and len(found.recorder.bundle.all("cloudresourcemanager", "projects.list")) == 2
    lines = discovery_lines(doc)
    assert "named but not visible: dexo-gone" in lines[1]


def test_denied_discovery_is_recorded_with_its_permission_and_keeps_the_named_projects(crm: FakeCrm) -> None:
    crm.status = 403
    found = discover_projects(["dexo-prod"], GcpTuning(timeout_seconds=5))
    assert found.error is not None
    assert found.error.code == "PermissionDenied" and found.error.permission == PERMISSION
    assert found.projects == ("dexo-prod",)
    doc = found.to_json()
    assert doc["named_not_visible"] is None  # unknown, not "none"
    assert doc["error"]["permission"] == PERMISSION
    assert "discovery FAILED" in discovery_lines(doc)[1]
    (call,) = found.recorder.bundle.all("cloudresourcemanager", "projects.list")  # type: ignore[union-attr]
    assert call.error is not None and call.error.http_status == 403


def test_gcp_permissions_include_project_discovery() -> None:
    assert PERMISSION in gcp_permissions()
