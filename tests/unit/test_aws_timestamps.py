"""collectors.aws.timestamps: the same instants as botocore's own parser, for every form AWS sends."""

from __future__ import annotations

import datetime as dt

import botocore.session
import pytest
from botocore.utils import parse_timestamp as botocore_parse

from collectors.aws.timestamps import parse_timestamp, use_fast_timestamps

VALUES = [
    # ISO 8601, as query, EC2 and REST-XML APIs send them
    "2026-01-02T03:04:05.000Z",
    "2026-01-02T03:04:05Z",
    "2026-01-02T03:04:05.1Z",
    "2026-01-02T03:04:05.123456Z",
    "2026-01-02T03:04:05.1234567Z",
    "2026-01-02T03:04:05.123456789Z",
    "2026-01-02T03:04:05,5Z",
    "2026-01-02T03:04:05+00:00",
    "2026-01-02T03:04:05.250+01:00",
    "2026-01-02T03:04:05-0530",
    "2026-01-02T03:04:05+02",
    "2026-01-02T03:04Z",
    "2026-01-02 03:04:05Z",
    # without a time zone: naive, as botocore returns them
    "2026-01-02T03:04:05",
    "2026-01-02T03:04:05.5",
    "2026-01-02",
    # RFC 822 (headers such as Last-Modified), and other forms botocore's parser handles
    "Fri, 02 Jan 2026 03:04:05 GMT",
    "Thu, 31 Dec 2026 23:59:59 GMT",
    "20260102T030405Z",
    # epoch seconds: JSON protocols send numbers; numeric strings are epoch too
    1767323045,
    1767323045.25,
    0,
    "1767323045",
    "1767323045.5",
    "20260102",
]


def _same(a: dt.datetime, b: dt.datetime) -> bool:
    if (a.tzinfo is None) != (b.tzinfo is None):
        return False
    return a == b and a.utcoffset() == b.utcoffset() and a.replace(tzinfo=None) == b.replace(tzinfo=None)


@pytest.mark.parametrize("value", VALUES, ids=str)
def test_same_instant_as_botocore(value: object) -> None:
    got, want = parse_timestamp(value), botocore_parse(value)
    assert _same(got, want), (value, got, want)


@pytest.mark.parametrize("value", ["not a date", "2026-13-01T00:00:00Z", "2026-02-30", "2026-01-02T24:00:00Z"])
def test_invalid_values_fail_as_botocore_does(value: str) -> None:
    with pytest.raises(ValueError) as want:
        botocore_parse(value)
    with pytest.raises(ValueError) as got:
        parse_timestamp(value)
    assert type(got.value) is type(want.value)


def test_iso_values_take_the_fast_path() -> None:
    parsed = parse_timestamp("2026-01-02T03:04:05.000Z")
    assert parsed.tzinfo is dt.UTC  # the standard library's, not dateutil's


def test_session_clients_use_it() -> None:
    session = botocore.session.get_session()
    use_fast_timestamps(session)
    client = session.create_client(
        "ec2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y", endpoint_url="http://x"
    )
    parser = client._endpoint._response_parser_factory.create_parser("ec2")
    assert parser._timestamp_parser is parse_timestamp
    other = botocore.session.get_session().create_client(
        "ec2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y", endpoint_url="http://x"
    )
    assert other._endpoint._response_parser_factory.create_parser("ec2")._timestamp_parser is not parse_timestamp
