"""`soc2-evidence demo`: the real flow, end to end, on an embedded estate.

Starts moto's server on 127.0.0.1, seeds Dexo.chat's AWS organization
(management, prod and staging accounts, resources in two regions, every enabled region
examined but those excluded with their reasons, IAM Identity Center),
gcp-storage-emulator and the fake Resource Manager / IAM APIs
(demo.gcp_iam_fake: no emulator exists for them) for its GCP projects, writes
the config a real user would write (Organizations discovery, an assumed role
per account, aws.identity_center) and runs the same flow as
`soc2-evidence run`, then issues an access review. No cloud account, no network.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from demo.emulators import MotoEmulator
from demo.estate import DemoEstate, seed_demo_estate
from demo.estate_data_services import DEMO_THRESHOLDS as DATA_TIER_DEMO_THRESHOLDS
from demo.estate_gcp_iam import seed_gcp_iam
from demo.estate_sso import DEMO_THRESHOLDS as SSO_DEMO_THRESHOLDS
from demo.gcp_iam_fake import FakeGcpIam
from demo.gcs_emulator import DEMO_THRESHOLDS as GCS_DEMO_THRESHOLDS
from demo.gcs_emulator import GcsEmulator, seed_gcp_estate
from demo.tls_servers import DemoEndpoints, start_demo_endpoints
from flows.access_review import start as start_access_review
from flows.config import load_config

DEMO_REGIONS = ["us-east-1", "eu-west-1"]  # where the estate is seeded
# Enabled regions Dexo.chat leaves out on purpose, with the reasons an auditor reads on the Cover.
# The demo sets no aws.regions: every account's enabled regions are discovered (ec2:DescribeRegions)
# and every one not excluded is examined (18 of moto's 20 per account), as a real run would; these two
# show the exclusion rule. `soc2-evidence demo --workload-regions-only` also excludes every region
# without demo workloads (UNUSED_REGION_REASON): a quicker look, and what most tests run.
DEMO_EXCLUDED_REGIONS = [
    {
        "region": "af-south-1",
        "reason": "No workloads: enabled for a 2024 latency test; SCP dexo-region-guard denies it",
    },
    {"region": "ap-southeast-3", "reason": "No workloads; SCP dexo-region-guard denies every action there"},
]
UNUSED_REGION_REASON = "No workloads; SCP dexo-region-guard denies every action outside us-east-1 and eu-west-1"


def demo_exclusions(regions: list[str] | None, workload_regions_only: bool = False) -> list[dict[str, str]]:
    """The demo's aws.exclude_regions: the two above, plus (with workload_regions_only) every other
    enabled region of moto's that holds no demo workload; never a region the config also lists."""
    from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend

    out = [dict(e) for e in DEMO_EXCLUDED_REGIONS]
    if workload_regions_only:
        named = {e["region"] for e in out}
        unused = sorted(set(RegionsAndZonesBackend.regions_opt_in_not_required) - set(DEMO_REGIONS) - named)
        out += [{"region": r, "reason": UNUSED_REGION_REASON} for r in unused]
    return [e for e in out if e["region"] not in (regions or ())]


GCP_PROJECTS = ["dexo-prod", "dexo-analytics"]


def demo_exceptions(today: date) -> str:
    """One approved, current risk acceptance and one that has expired."""
    exceptions = {
        "exceptions": [
            {
                "check": "aws.s3.default_encryption",
                "resource": "dexo-staging-scratch",
                "reason": "Scratch bucket for load tests; holds synthetic data only, emptied nightly",
                "approved_by": "cto@dexo.chat",
                "approved_on": (today - timedelta(days=60)).isoformat(),
                "expires_on": (today + timedelta(days=120)).isoformat(),
                "ticket": "SEC-142",
            },
            {
                "check": "aws.s3.default_encryption",
                "resource": "dexo-mgmt-eu-athena-*",
                "reason": "Athena results bucket pending migration to the KMS-encrypted workgroup",
                "approved_by": "cto@dexo.chat",
                "approved_on": (today - timedelta(days=200)).isoformat(),
                "expires_on": (today - timedelta(days=14)).isoformat(),
                "ticket": "SEC-97",
            },
        ]
    }
    return "# Dexo.chat's approved risk acceptances (written by the demo).\n" + yaml.safe_dump(
        exceptions, sort_keys=False
    )


def demo_config(
    estate: DemoEstate,
    output: Path,
    endpoints: DemoEndpoints | None = None,
    *,
    gcp_projects: list[str] | None = None,
    regions: list[str] | None = None,
    workload_regions_only: bool = False,
) -> dict[str, Any]:
    """The demo's config; `regions` pins aws.regions (default: every enabled region, minus the exclusions;
    workload_regions_only: minus every region without demo workloads too)."""
    year = datetime.now(UTC).year
    config: dict[str, Any] = {
        "organization": estate.organization,
        "period": {"start": f"{year}-01-01", "end": f"{year}-12-31"},
        "aws": {
            **({"regions": list(regions)} if regions else {}),
            "exclude_regions": demo_exclusions(regions, workload_regions_only),
            "organization": {"discover": True, "role_name": estate.role_name, "exclude": []},
            "retry_mode": "standard",
            "max_attempts": 5,
        },
        "output": str(output.resolve()),
    }
    identity_center = estate.expected.get("identity_center")
    if identity_center:  # read Identity Center where Dexo.chat administers it
        config["aws"]["identity_center"] = {"account": identity_center["account"], "region": identity_center["region"]}
    config["thresholds"] = {**DATA_TIER_DEMO_THRESHOLDS, **SSO_DEMO_THRESHOLDS}
    if gcp_projects:
        config["gcp"] = {"projects": list(gcp_projects)}
        config["thresholds"].update(GCS_DEMO_THRESHOLDS)
    exceptions = output / "exceptions.yaml"
    exceptions.write_text(demo_exceptions(datetime.now(UTC).date()), encoding="utf-8")
    config["exceptions"] = str(exceptions.resolve())
    commitments = resources.files("demo").joinpath("data/commitments.yaml")
    config["commitments"] = str(Path(str(commitments)).resolve())
    if endpoints is not None:
        config["endpoints"] = {
            "timeout_seconds": 5,
            "ca_bundle": str(Path(endpoints.ca_bundle).resolve()),
            "targets": [
                {"host": t.host, "port": t.port, "sni": t.sni, "address": t.address} for t in endpoints.targets
            ],
        }
    return config


def write_demo_config(
    estate: DemoEstate,
    output: Path,
    endpoints: DemoEndpoints | None = None,
    *,
    gcp_projects: list[str] | None = None,
    regions: list[str] | None = None,
    workload_regions_only: bool = False,
) -> Path:
    output.mkdir(parents=True, exist_ok=True)
    path = output / "soc2-evidence.yaml"
    header = "# Written by `soc2-evidence demo`: the config a user would write for this estate.\n"
    body = yaml.safe_dump(
        demo_config(
            estate,
            output,
            endpoints,
            gcp_projects=gcp_projects,
            regions=regions,
            workload_regions_only=workload_regions_only,
        ),
        sort_keys=False,
    )
    path.write_text(header + body, encoding="utf-8")
    return path


def run_demo(
    output: Path, *, concurrency: int | None = None, workload_regions_only: bool = False
):  # -> (RunOutcome, access-review StartOutcome)
    from flows.run import run_evidence

    output.mkdir(parents=True, exist_ok=True)
    with (
        MotoEmulator() as moto,
        moto.use_env(),
        GcsEmulator() as gcs,
        gcs.use_env(),
        FakeGcpIam() as gcp_iam,
        gcp_iam.use_env(),
        start_demo_endpoints(output / "demo-ca") as endpoints,
    ):
        estate = seed_demo_estate(moto.endpoint_url)
        seed_gcp_estate(gcs.endpoint)
        seed_gcp_iam(gcp_iam)
        config_path = write_demo_config(
            estate, output, endpoints, gcp_projects=GCP_PROJECTS, workload_regions_only=workload_regions_only
        )
        print(
            f"Demo estate: {estate.organization} on moto at {moto.endpoint_url}; accounts "
            + ", ".join(f"{name} {aid}" for name, aid in estate.accounts.items())
        )
        print(f"GCP projects: {', '.join(GCP_PROJECTS)} on gcp-storage-emulator at {gcs.endpoint}")
        print(f"GCP IAM: the demo's fake Resource Manager / IAM APIs at {gcp_iam.endpoint}")
        print("TLS endpoints: " + ", ".join(t.label for t in endpoints.targets) + " (on 127.0.0.1, demo CA)")
        print(f"Config: {config_path}\n")
        outcome = run_evidence(config_path, concurrency=concurrency)
        # the quarterly user-access review a reviewer would now fill in
        review = start_access_review(load_config(config_path))
        return outcome, review
