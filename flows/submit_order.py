"""The order in which a run submits its collector tasks: the long ones first.

A run has more tasks than workers; the pool takes them in submission order. Submitted in the
order of the accounts and of the collectors' names, an account's S3 task (a call per bucket and
check) started last of its ~40 and ran alone at the end of the run while the other workers idled.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["LONG_FIRST", "long_first"]

# Collectors whose tasks make many calls (per bucket, per file system) or parse large answers
# (every volume, snapshot, DB instance), longest first: submitted before the others in every account,
# so that the last tasks to finish are short ones and the workers stay busy to the end. On the
# benchmark's estate the S3 task of an account was submitted last of its ~40 and ran alone at the end.
LONG_FIRST = ("aws.s3", "aws.ebs", "aws.rds", "aws.efs", "aws.iam", "aws.elasticache", "aws.kms", "aws.dynamodb")


def long_first(scopes: Sequence[tuple[Any, str, str]]) -> list[tuple[Any, str, str]]:
    """(target, region, collector) in submission order: LONG_FIRST's collectors (in that order, every
    account's), then the rest in their given order."""
    rank = {cid: i for i, cid in enumerate(LONG_FIRST)}
    order = sorted(range(len(scopes)), key=lambda i: (rank.get(scopes[i][2], len(rank)), i))
    return [scopes[i] for i in order]
