"""`make demo` end to end (demo.run.run_demo): the run assesses Identity Center and GCP IAM without an error,
and the access review it issues holds Identity Center rows and GCP project IAM rows beside IAM users, with
a complete population."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from demo.run import run_demo

pytestmark = pytest.mark.integration


def test_demo_issues_a_review_with_identity_center_and_gcp_iam_rows(prefect_harness: None, tmp_path):
    outcome, review = run_demo(tmp_path / "demo-output")
    kinds = Counter(p.principal_type for p in review.principals)
    assert kinds["IAM user"] > 0 and kinds["Identity Center user"] > 0 and kinds["GCP IAM member"] > 0
    stored = json.loads((review.review_dir / "review.json").read_text())
    assert stored["population_complete"] is True and stored["projects"] == ["dexo-prod", "dexo-analytics"]
    sso_gcp = [f.result for f in outcome.findings if f.result.check_id.startswith(("aws.sso.", "gcp.iam."))]
    assert {r.check_id for r in sso_gcp} == {
        "aws.sso.privileged_permission_sets",
        "aws.sso.assignments_to_users",
        "aws.sso.inactive_principals",
        "gcp.iam.primitive_roles",
        "gcp.iam.public_bindings",
        "gcp.iam.service_account_keys",
    }
    assert not [r.reason for r in sso_gcp if r.status == "error"]
    failing = {(r.check_id, r.resource_id) for r in sso_gcp if r.status == "fail"}
    assert ("gcp.iam.public_bindings", "projects/dexo-analytics roles/viewer allAuthenticatedUsers") in failing
    assert any(c == "aws.sso.privileged_permission_sets" for c, _ in failing)  # DeveloperAccess, * on *
