"""Which Identity Center permission sets grant administrative privilege, and through what (pure).

A permission set becomes an IAM role in every account it is assigned to; its policies are:

- AWS managed policies, recognised by ARN: privileged when named in the threshold
  ``privileged_aws_managed_policies`` (default AdministratorAccess, IAMFullAccess: the same list
  as aws.iam.privileged_users); their documents are not in the evidence, so the others are judged
  not privileged by name;
- the inline policy: evaluated by collectors/aws/iam_privilege_eval.py, the evaluator every IAM
  privilege check shares (``*`` on ``*``, every IAM action, NotAction with Allow on ``*``, the
  policy-writing escalation actions, ``iam:PassRole`` / ``sts:AssumeRole`` on every role); a
  permission set and an IAM role with the same policy get the same answer;
- customer managed policy references (a name and path): the document lives in each assigned
  account's IAM, not in Identity Center, so such a reference is *undetermined*: never counted as
  "not privileged".

A permissions boundary can only narrow a permission set; it is not read (conservative: a bounded
administrator is still listed).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from collectors.aws.iam_privilege_eval import document_grants
from collectors.aws.sso.model import PermissionSet

AWS_MANAGED = re.compile(r"^arn:aws[\w-]*:iam::aws:policy/(?:.*/)?([^/]+)$")
DEFAULT_PRIVILEGED_AWS_MANAGED = ("AdministratorAccess", "IAMFullAccess")


@dataclass
class Privilege:
    grants: list[str] = field(default_factory=list)  # e.g. "AWS managed AdministratorAccess"
    undetermined: list[str] = field(default_factory=list)  # policies whose document is not in the evidence

    @property
    def privileged(self) -> bool:
        return bool(self.grants)


def permission_set_privilege(ps: PermissionSet, privileged_aws_managed: Iterable[str]) -> Privilege:
    """The administrative grants of a permission set, and what could not be judged (see the module doc)."""
    listed = {str(n).lower() for n in privileged_aws_managed}
    out = Privilege()
    for policy in ps.managed:
        arn = str(policy.get("Arn", ""))
        m = AWS_MANAGED.match(arn)
        name = str(policy.get("Name") or (m.group(1) if m else arn))
        if m and m.group(1).lower() in listed:
            out.grants.append(f"AWS managed {name}")
        elif not m:  # not an AWS managed ARN: nothing tells what it grants
            out.undetermined.append(f"managed policy {arn}")
    for grant in document_grants(ps.inline) if ps.inline else []:
        out.grants.append(f"inline policy: {grant.describe()}")
    for ref in ps.customer_managed:
        path = str(ref.get("Path") or "/")
        out.undetermined.append(f"customer managed policy {path}{ref.get('Name')} (its document is in each account)")
    return out
