"""Every registered check declares usable metadata, consistent with its collector."""

from __future__ import annotations

import pytest

from collectors.registry import builtin_modules, checks, collectors

CHECKS = checks()
EXPECTED_CHECKS = {
    "aws.s3.default_encryption",
    "aws.s3.public_access_block",
    "aws.ebs.default_encryption",
    "aws.ebs.volume_encryption",
    "aws.rds.storage_encryption",
    "aws.dynamodb.encryption",
    "aws.kms.key_rotation",
    "aws.rds.snapshot_encryption",
    "aws.rds.transport_encryption",
    "aws.ebs.snapshot_encryption",
    "aws.elasticache.encryption",
    "aws.efs.encryption",
    "aws.efs.secure_transport",
    "aws.opensearch.encryption",
    "aws.redshift.encryption",
}


def test_builtin_modules_register_the_expected_checks():
    assert set(CHECKS) >= EXPECTED_CHECKS
    assert {"collectors.aws.ebs", "collectors.aws.rds", "collectors.aws.dynamodb", "collectors.aws.kms"} <= set(
        builtin_modules()
    )


@pytest.mark.parametrize("check_id", sorted(CHECKS))
def test_check_spec_is_complete_and_permissions_are_collected(check_id):
    check = CHECKS[check_id]
    spec = check.spec
    assert spec.id == check_id
    for field in ("title", "description", "remediation", "resource_type"):
        assert getattr(spec, field).strip(), f"{check_id}: empty {field}"
    collector = collectors().get(check.collector)
    assert collector is not None, f"{check_id}: unknown collector {check.collector}"
    # live endpoint scans call no cloud API: they need no permission
    assert spec.permissions or collector.provider == "endpoint", f"{check_id}: no permissions"
    assert check_id.startswith(collector.provider + "."), check_id
    missing = set(spec.permissions) - set(collector.operations.values())
    assert not missing, f"{check_id}: permissions not requested by {collector.id}: {sorted(missing)}"


@pytest.mark.parametrize(
    "collector_id",
    ["aws.ebs", "aws.rds", "aws.dynamodb", "aws.kms", "aws.elasticache", "aws.efs", "aws.opensearch", "aws.redshift"],
)
def test_new_collectors_run_per_region_and_are_used(collector_id):
    spec = collectors()[collector_id]
    assert spec.per_region is True
    assert spec.provider == "aws"
    used = {p for c in CHECKS.values() if c.collector == collector_id for p in c.spec.permissions}
    assert used == set(spec.operations.values()), "an operation is fetched that no check needs (or vice versa)"


def test_registry_walks_the_provider_packages_once(monkeypatch):
    """The registry is read on hot paths (every evidence file name): after the
    first load it must not list the packages again."""
    import collectors.registry as registry

    collectors()  # loaded
    walks = []
    monkeypatch.setattr(registry, "builtin_modules", lambda: walks.append(1) or [])
    assert registry.collector_spec("aws.s3") is collectors()["aws.s3"]
    assert registry.collector_spec("aws.nope") is None
    assert {c.spec.id for c in registry.checks_for("aws.s3")} >= {"aws.s3.default_encryption"}
    checks()
    assert walks == []


def test_every_module_of_the_provider_packages_is_loaded():
    """The registry lists the provider packages one level deep: a module inside a
    sub-package (e.g. collectors/aws/iam/) registers its checks only if the
    sub-package's __init__ imports it. A check module nobody imports would be
    silently missing from every run; this walks the packages recursively."""
    import importlib
    import pkgutil
    import sys

    from collectors.registry import PROVIDER_PACKAGES

    collectors()  # loaded
    loaded = set(sys.modules)  # before the walk below, which imports sub-packages itself
    every = []
    for package in PROVIDER_PACKAGES:
        pkg = importlib.import_module(package)
        every += [m.name for m in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}.")]
    assert "collectors.aws.iam.checks_root" in every
    assert [m for m in every if m not in loaded] == []
