"""Which AWS and GCP endpoints a run talked to: recorded in the manifest and on the workbook's Cover.

boto3 honours `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>`, google-cloud-storage
`STORAGE_EMULATOR_HOST`: that is how the tests and the demo point the collectors at moto and a
GCS emulator. Evidence collected from an emulator is not evidence about a cloud account, so a
run that used one says so, in the manifest (`endpoints`) and on the Cover, for the auditor to
see. Read when the run finishes, from the process environment the collectors ran in (workers
on a remote task runner are configured the same way, or not at all).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

AWS_DEFAULT = "AWS public endpoints (boto3's defaults for each service and region)"
GCS_DEFAULT = "https://storage.googleapis.com"
_AWS_SERVICE_PREFIX = "AWS_ENDPOINT_URL_"


def cloud_endpoints(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """{"aws": {...}, "gcp": {...}, "emulated": bool, "summary": str}: what the run's clients talked to."""
    env = os.environ if environ is None else environ
    aws_url = env.get("AWS_ENDPOINT_URL") or None
    aws_services = {
        key[len(_AWS_SERVICE_PREFIX) :].lower(): value
        for key, value in sorted(env.items())
        if key.startswith(_AWS_SERVICE_PREFIX) and value
    }
    gcs_host = env.get("STORAGE_EMULATOR_HOST") or None
    emulated = bool(aws_url or aws_services or gcs_host)
    return {
        "aws": {"endpoint_url": aws_url, "service_endpoint_urls": aws_services, "effective": aws_url or AWS_DEFAULT},
        "gcp": {"storage_emulator_host": gcs_host, "effective": gcs_host or GCS_DEFAULT},
        "emulated": emulated,
        "summary": _summary(aws_url, aws_services, gcs_host),
    }


def _summary(aws_url: str | None, aws_services: Mapping[str, str], gcs_host: str | None) -> str:
    if not (aws_url or aws_services or gcs_host):
        return "the public AWS and GCP endpoints"
    parts = []
    if aws_url:
        parts.append(f"AWS at {aws_url}")
    parts += [f"AWS {service} at {url}" for service, url in aws_services.items()]
    if gcs_host:
        parts.append(f"Cloud Storage at {gcs_host}")
    return "NOT the public clouds: an emulator or other endpoint: " + "; ".join(parts)
