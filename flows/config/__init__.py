"""Load and validate ``soc2-evidence.yaml``.

Every problem in a config file is reported at once, as one human message with
one line per problem::

    soc2-evidence.yaml: aws.accounts[0].regions[1]: unknown AWS region 'us-east-9' (did you mean 'us-east-1'?)
    soc2-evidence.yaml: period: end 2025-01-01 is before start 2026-01-01

Nothing here talks to the network: AWS regions come from botocore's bundled
endpoint data and threshold names from the check registry.

The package, one module a concern (each opens with what it owns):

- ``errors``: ConfigError and the wording helpers ("did you mean", key paths);
- ``fields``: the base section model, shared field types and validators;
- ``aws``, ``gcp``, ``endpoints``: one module a provider section;
- ``thresholds``: thresholds checked against the check registry;
- ``app``: AppConfig, the whole file, with its small sections;
- ``humanize``: pydantic's errors as key path + problem lines;
- ``loading``: the file, strict YAML, validation.

This module only re-exports the public names, so ``from flows.config import
load_config`` keeps working; the submodules import each other directly.
"""

from __future__ import annotations

from flows.config.app import DEFAULT_OUTPUT, AppConfig, Orchestration, Period
from flows.config.aws import AwsAccount, AwsConfig, IdentityCenterConfig, OrgDiscovery, RegionExclusion
from flows.config.endpoints import Endpoint, EndpointsConfig
from flows.config.errors import ConfigError
from flows.config.fields import known_aws_regions
from flows.config.gcp import GcpConfig
from flows.config.loading import config_from_mapping, load_config
from flows.config.thresholds import validate_thresholds

__all__ = [
    "DEFAULT_OUTPUT",
    "AppConfig",
    "AwsAccount",
    "AwsConfig",
    "ConfigError",
    "Endpoint",
    "EndpointsConfig",
    "GcpConfig",
    "IdentityCenterConfig",
    "Orchestration",
    "OrgDiscovery",
    "Period",
    "RegionExclusion",
    "config_from_mapping",
    "known_aws_regions",
    "load_config",
    "validate_thresholds",
]
