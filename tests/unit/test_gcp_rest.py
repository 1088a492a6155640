"""collectors.gcp.rest: where a Google REST API is reached and with which credentials (no network)."""

from __future__ import annotations

from typing import Any

import google.auth
import google.auth.exceptions
import pytest
from google.auth.credentials import AnonymousCredentials

from collectors.evidence import Recorder, Scope
from collectors.gcp.base import GcpTuning, classify_error
from collectors.gcp.rest import RestApi, _credentials, endpoint_for


def test_endpoint_option_then_gcloud_override_variable_then_google(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM", raising=False)
    assert endpoint_for("iam") == "https://iam.googleapis.com/"
    monkeypatch.setenv("CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM", "http://127.0.0.1:9/")
    assert endpoint_for("iam") == "http://127.0.0.1:9/"
    assert endpoint_for("iam", {"iam": "https://proxy.example/iam"}) == "https://proxy.example/iam/"


def test_plain_http_gets_no_credentials_and_https_gets_application_default(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[Any] = []
    monkeypatch.setattr(google.auth, "default", lambda scopes: asked.append(scopes) or ("adc", "p"))
    assert isinstance(_credentials("http://127.0.0.1:9/", "given"), AnonymousCredentials)  # never a token in clear
    assert _credentials("https://iam.googleapis.com/", None) == "adc"
    assert asked == [["https://www.googleapis.com/auth/cloud-platform"]]
    assert _credentials("https://iam.googleapis.com/", "given") == "given"


def test_missing_application_default_credentials_are_a_recorded_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_adc(scopes: Any) -> Any:
        raise google.auth.exceptions.DefaultCredentialsError("Your default credentials were not found.")

    monkeypatch.setattr(google.auth, "default", no_adc)
    monkeypatch.delenv("CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM", raising=False)
    operations = {"iam:ListServiceAccounts": "iam.serviceAccounts.list"}
    rec = Recorder(Scope("gcp", "p", "global", "gcp.iam"), operations, classify_error)
    api = RestApi("iam", GcpTuning())
    call = rec.call("iam", "ListServiceAccounts", lambda **_: api.call("GET", "v1/projects/p/serviceAccounts"))
    assert call.error is not None and call.error.code == "NoCredentials"
    assert call.error.permission == "iam.serviceAccounts.list"
