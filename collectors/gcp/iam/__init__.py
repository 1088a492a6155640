"""gcp.iam: a GCP project's IAM (its policy with conditions, the folder and organization policies it inherits)
and its service accounts' user-managed keys.

- collector.py: the fetch over the Resource Manager and IAM REST APIs (collectors.gcp.rest) and its cost;
- model.py: the recorded answers read back (bindings by source, keys), with what could not be read;
- checks.py: gcp.iam.primitive_roles, gcp.iam.public_bindings, gcp.iam.service_account_keys.

The access review (flows.access_review) reads the same model for its project IAM rows.
"""

from __future__ import annotations

from collectors.gcp.iam import checks  # noqa: F401  (registers the checks)
from collectors.gcp.iam.collector import CRM, OPERATIONS, SERVICE, fetch
from collectors.gcp.iam.model import PUBLIC_MEMBERS, Binding, ProjectIam, condition_text, project_iam

__all__ = [
    "CRM",
    "OPERATIONS",
    "PUBLIC_MEMBERS",
    "SERVICE",
    "Binding",
    "ProjectIam",
    "condition_text",
    "fetch",
    "project_iam",
]
