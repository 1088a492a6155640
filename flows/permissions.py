"""Least-privilege policies generated from the registry's declarations."""

from __future__ import annotations

from typing import Any

from collectors.registry import checks, collectors


def aws_actions() -> list[str]:
    """Every IAM action the registered AWS checks' fetches need (read-only)."""
    actions: set[str] = set()
    for chk in checks().values():
        if chk.spec.provider == "aws":
            actions.update(chk.spec.permissions)
    for spec in collectors().values():
        if spec.provider == "aws":
            actions.update(spec.operations.values())
    return sorted(actions)


def member_policy() -> dict[str, Any]:
    """The policy for the role soc2-evidence assumes in each member account."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Soc2EvidenceReadOnly", "Effect": "Allow", "Action": aws_actions(), "Resource": "*"},
        ],
    }


def management_policy(role_name: str = "soc2-evidence-reader") -> dict[str, Any]:
    """The policy of the identity that runs the flow (management or tooling account)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "DiscoverAccounts", "Effect": "Allow", "Action": ["organizations:ListAccounts"], "Resource": "*"},
            {
                "Sid": "AssumeEvidenceRole",
                "Effect": "Allow",
                "Action": ["sts:AssumeRole"],
                "Resource": f"arn:aws:iam::*:role/{role_name}",
            },
        ],
    }


def trust_policy(runner_principal_arn: str) -> dict[str, Any]:
    """The trust policy of the member-account role, trusting only the runner."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": runner_principal_arn},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def permissions_table() -> list[tuple[str, str, str]]:
    """(check ID, severity, permissions) rows for humans."""
    return [(cid, str(chk.spec.severity), ", ".join(chk.spec.permissions)) for cid, chk in sorted(checks().items())]
