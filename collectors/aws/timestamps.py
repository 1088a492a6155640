"""A fast timestamp parser for botocore's response parsers.

botocore parses every timestamp in every answer with dateutil's general-purpose parser
(botocore.utils.parse_timestamp): ~30x slower than datetime.fromisoformat, and the AWS answers
the collectors read carry thousands of them (a volume's CreateTime, a snapshot's StartTime,
a DB instance's InstanceCreateTime...). Query, EC2 and REST-XML APIs send ISO 8601
("2026-01-02T03:04:05.000Z"), which is parsed here with the standard library; anything else
(RFC 822 headers, epoch seconds of JSON APIs, numeric strings, odd forms) goes to botocore's own
parser, so every value parses to the same instant as before.

The parser is set on a botocore session's response parser factory (use_fast_timestamps), which
every client made from that session then uses.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from botocore.utils import parse_timestamp as botocore_parse_timestamp

__all__ = ["parse_timestamp", "use_fast_timestamps"]

# What fromisoformat and dateutil read the same way: a calendar date, optionally a time with
# optional fractional seconds, optionally "Z" or a numeric offset. A string of digits alone is
# epoch seconds to botocore (it tries float() first), so it never matches.
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?")


def parse_timestamp(value: Any) -> datetime:
    """botocore's parse_timestamp, with ISO 8601 strings parsed by datetime.fromisoformat."""
    if isinstance(value, str) and _ISO.fullmatch(value):
        try:
            return datetime.fromisoformat(value)
        except ValueError:  # e.g. an hour of 24, a day out of range: botocore decides
            pass
    return botocore_parse_timestamp(value)


def use_fast_timestamps(botocore_session: Any) -> None:
    """Make the clients created from this botocore session parse timestamps with parse_timestamp."""
    botocore_session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=parse_timestamp)
