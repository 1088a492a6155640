"""aws.sso: IAM Identity Center (sso-admin, identitystore) as evidence of who reaches which account.

- collector.py: the fetch (where it runs, what it enumerates, its API cost) and its registration;
- model.py: the recorded answers read back (instances, permission sets, assignments, users,
  groups, members, access paths), with what could not be read;
- privilege.py: which permission sets grant administrative privilege (pure);
- checks.py: aws.sso.privileged_permission_sets, aws.sso.assignments_to_users,
  aws.sso.inactive_principals.

The access review (flows.access_review) reads the same model for its Identity Center rows;
these names are its reading API.
"""

from __future__ import annotations

from collectors.aws.sso import checks  # noqa: F401  (registers the checks)
from collectors.aws.sso.collector import OPERATIONS, SERVICE, STORE, IdentityCenterScope, fetch
from collectors.aws.sso.model import AccessPath, Assignment, IdentityCenter, Instance, identity_center
from collectors.aws.sso.privilege import permission_set_privilege

__all__ = [
    "OPERATIONS",
    "SERVICE",
    "STORE",
    "AccessPath",
    "Assignment",
    "IdentityCenter",
    "IdentityCenterScope",
    "Instance",
    "fetch",
    "identity_center",
    "permission_set_privilege",
]
