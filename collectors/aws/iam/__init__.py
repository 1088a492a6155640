"""aws.iam: the IAM collector and its checks (root user, users' credentials, password policy,
administrative privileges, directly attached policies), one module per concern.

- collector.py: the fetch (credential report polling, GetAccountAuthorizationDetails and
  the other calls), its API cost, and the collector's registration;
- report.py: the credential report read back from the evidence;
- authz.py: GetAccountAuthorizationDetails read back (users, groups, customer managed policies);
- policy.py: the policy evaluation (pure: which documents grant administrative privilege);
- checks_root.py, checks_credentials.py, checks_privileges.py: the checks.

The registry discovers this package as one collector module (it lists the provider
package, not sub-packages): importing it imports the check modules below, which register
their checks in this order. The other names are the package's reading API, used by the
access review (flows.access_review, collectors.access_review); modules inside the package
import each other directly, never through this file.
"""

from __future__ import annotations

# the check modules register their checks on import, in this order (isort would reorder them)
# isort: off
from collectors.aws.iam import checks_root, checks_credentials, checks_privileges  # noqa: F401
# isort: on

from collectors.aws.iam.authz import Authorization, authorization
from collectors.aws.iam.collector import OPERATIONS, PAGE_SIZE, _pages, fetch
from collectors.aws.iam.policy import _as_list, _policy_document, privilege_of
from collectors.aws.iam.report import CredentialReport, _true, credential_report, parse_date

__all__ = [
    "OPERATIONS",
    "PAGE_SIZE",
    "Authorization",
    "CredentialReport",
    "_as_list",
    "_pages",
    "_policy_document",
    "_true",
    "authorization",
    "credential_report",
    "fetch",
    "parse_date",
    "privilege_of",
]
