"""Name the operation of a REST request (rest-json, rest-xml) from botocore's own service models.

REST protocols carry no operation name on the wire: the operation is the one whose HTTP method and
request URI template (`/2015-02-01/file-systems/{FileSystemId}/policy`) match the request. The
emulator (demo/moto_wsgi.py) needs the name to count calls per operation and to aim a FaultRule
at one (EFS, OpenSearch, API Gateway, Backup, CloudFront, Route 53...); reading the templates from
botocore's models rather than a hand-written table keeps every operation of those services named.

Separate from moto_wsgi.py, which speaks the wire protocols; this only matches paths to models.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache

import botocore.exceptions
import botocore.session

__all__ = ["rest_operation"]

# SigV4 signing name -> botocore service names signed with it (where the two differ or several share one)
_SERVICES_BY_SIGNING_NAME = {
    "elasticfilesystem": ("efs",),
    "es": ("opensearch", "es"),
    "apigateway": ("apigateway", "apigatewayv2"),
}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class _Route:
    method: str
    path: re.Pattern[str]
    query_keys: frozenset[str]  # keys the template's query part requires, e.g. "?versioning"
    literal_length: int  # characters of the template outside {labels}: the more, the more specific
    operation: str


def _compile(uri: str) -> tuple[re.Pattern[str], frozenset[str], int]:
    path, _, query = uri.partition("?")
    pattern, literal, pos = "", 0, 0
    for match in re.finditer(r"\{([^}]+)\}", path):
        pattern += re.escape(path[pos : match.start()])
        literal += match.start() - pos
        pattern += ".+" if match.group(1).endswith("+") else "[^/]+"
        pos = match.end()
    pattern += re.escape(path[pos:])
    literal += len(path) - pos
    keys = frozenset(part.split("=", 1)[0] for part in query.split("&") if part)
    return re.compile(pattern.rstrip("/") + "/?"), keys, literal + len(query)


@lru_cache(maxsize=64)
def _routes(signing_name: str) -> tuple[_Route, ...]:
    """Every REST operation of the services signed as `signing_name`, most specific first."""
    with _LOCK:  # a botocore session is not thread-safe
        session = botocore.session.get_session()
        routes = []
        for name in _SERVICES_BY_SIGNING_NAME.get(signing_name, (signing_name,)):
            try:
                model = session.get_service_model(name)
            except botocore.exceptions.UnknownServiceError:
                continue
            if model.protocol not in ("rest-json", "rest-xml"):
                continue
            for op_name in model.operation_names:
                http = model.operation_model(op_name).http
                path, keys, literal = _compile(http.get("requestUri", "/"))
                routes.append(_Route(http.get("method", "GET").upper(), path, keys, literal, op_name))
    return tuple(sorted(routes, key=lambda r: (-len(r.query_keys), -r.literal_length)))


def rest_operation(signing_name: str, method: str, path: str, query_keys: frozenset[str]) -> str | None:
    """The operation a REST request calls, or None when no model of that signing name matches it."""
    for route in _routes(signing_name):
        if route.method == method and route.query_keys <= query_keys and route.path.fullmatch(path):
            return route.operation
    return None
