"""The ``endpoints:`` section: TLS endpoints to scan, as a list or as a mapping with options.

Host names, ports, SNI names and connect-to addresses are checked here; the
CA bundle is resolved next to the config file and must exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StrictBool, ValidationInfo, field_validator, model_validator

from flows.config.errors import _describe, _Problems
from flows.config.fields import _HOST_RE, _no_bool, _resolve_path, _Section


class Endpoint(_Section):
    host: str
    port: Annotated[int, BeforeValidator(_no_bool("an integer")), Field(ge=1, le=65535)] = 443
    sni: str | None = None
    # connect to this IP instead of resolving `host` (the label and the
    # certificate check still use the host/SNI name)
    address: str | None = None

    @field_validator("address")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is None:
            return None
        import ipaddress

        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            raise ValueError(f"expected an IP address, got {_describe(value)}") from None

    @field_validator("host", "sni")
    @classmethod
    def _hostname(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
        if "://" in value or "/" in value:
            raise ValueError(f"expected a host name, not a URL, got {_describe(value)}")
        if not _HOST_RE.fullmatch(value):
            raise ValueError(f"expected a host name or IP address, got {_describe(value)}")
        return value


class EndpointsConfig(_Section):
    """``endpoints:`` is either a list of targets or this mapping."""

    discover: StrictBool = False
    timeout_seconds: Annotated[float, BeforeValidator(_no_bool("a number")), Field(gt=0)] = 10.0
    # PEM bundle of CAs that endpoint certificates must chain to (private
    # PKI); default: the system trust store. Relative to the config's folder.
    ca_bundle: Path | None = None
    targets: tuple[Endpoint, ...] = ()

    @field_validator("ca_bundle", mode="before")
    @classmethod
    def _ca_text(cls, value: Any) -> Any:
        if value is None or isinstance(value, Path):
            return value
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"expected a path, got {_describe(value)}")
        return value.strip()

    @field_validator("ca_bundle")
    @classmethod
    def _ca_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        path = _resolve_path(value, info)
        if not path.is_file():
            raise ValueError(f"file not found: {path}")
        return path

    @model_validator(mode="before")
    @classmethod
    def _list_form(cls, data: Any) -> Any:
        if isinstance(data, list | tuple):
            return {"targets": data}
        return data

    @field_validator("targets")
    @classmethod
    def _unique(cls, value: tuple[Endpoint, ...]) -> tuple[Endpoint, ...]:
        seen: dict[tuple[str, int, str | None], int] = {}
        problems = []
        for i, target in enumerate(value):
            key = (target.host.lower(), target.port, target.sni)
            if key in seen:
                problems.append(((i,), f"duplicate endpoint {target.host}:{target.port} (already at [{seen[key]}])"))
            else:
                seen[key] = i
        if problems:
            raise _Problems(problems)
        return value
