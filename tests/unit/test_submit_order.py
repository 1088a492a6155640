"""flows.submit_order: the long collectors of every account are submitted first, the rest keep their order."""

from __future__ import annotations

from flows.submit_order import LONG_FIRST, long_first


def test_long_collectors_first_in_their_rank_then_the_rest_in_given_order() -> None:
    given = [
        ("a1", "us-east-1", "aws.acm"),
        ("a1", "global", "aws.s3"),
        ("a1", "us-east-1", "aws.ebs"),
        ("a1", "us-east-1", "aws.sqs"),
        ("a2", "us-east-1", "aws.acm"),
        ("a2", "us-east-1", "aws.ebs"),
        ("a2", "global", "aws.s3"),
    ]
    assert long_first(given) == [
        ("a1", "global", "aws.s3"),
        ("a2", "global", "aws.s3"),
        ("a1", "us-east-1", "aws.ebs"),
        ("a2", "us-east-1", "aws.ebs"),
        ("a1", "us-east-1", "aws.acm"),
        ("a1", "us-east-1", "aws.sqs"),
        ("a2", "us-east-1", "aws.acm"),
    ]


def test_nothing_lost_or_added() -> None:
    given = [(str(i), "r", cid) for i, cid in enumerate(["x", *LONG_FIRST, "y", *reversed(LONG_FIRST)])]
    assert sorted(long_first(given)) == sorted(given)
    assert long_first([]) == []
