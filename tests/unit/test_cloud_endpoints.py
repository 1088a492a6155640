"""Which endpoints a run talked to: the public clouds, or an emulator that the manifest and Cover name."""

from __future__ import annotations

from flows.cloud_endpoints import AWS_DEFAULT, GCS_DEFAULT, cloud_endpoints


def test_public_clouds_by_default() -> None:
    ep = cloud_endpoints({})
    assert ep["emulated"] is False
    assert ep["aws"] == {"endpoint_url": None, "service_endpoint_urls": {}, "effective": AWS_DEFAULT}
    assert ep["gcp"] == {"storage_emulator_host": None, "effective": GCS_DEFAULT}
    assert ep["summary"] == "the public AWS and GCP endpoints"


def test_an_emulator_says_so() -> None:
    env = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
        "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:5001",
        "STORAGE_EMULATOR_HOST": "http://127.0.0.1:9023",
        "HOME": "/root",
    }
    ep = cloud_endpoints(env)
    assert ep["emulated"] is True
    assert ep["aws"]["effective"] == "http://127.0.0.1:5000"
    assert ep["aws"]["service_endpoint_urls"] == {"s3": "http://127.0.0.1:5001"}
    assert ep["gcp"]["effective"] == "http://127.0.0.1:9023"
    assert (
        ep["summary"].startswith("NOT the public clouds") and "Cloud Storage at http://127.0.0.1:9023" in ep["summary"]
    )


def test_one_service_pointed_elsewhere_is_enough() -> None:
    ep = cloud_endpoints({"AWS_ENDPOINT_URL_STS": "https://sts.internal.example"})
    assert ep["emulated"] is True and ep["aws"]["effective"] == AWS_DEFAULT
    assert "AWS sts at https://sts.internal.example" in ep["summary"]
