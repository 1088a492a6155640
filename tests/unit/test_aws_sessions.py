"""collectors.aws.base.new_session: one boto3 session per credentials (and AWS_* environment) per
process, safe to make clients from on many threads, forgotten with the assumed-role credentials.

No network: making a client sends nothing."""

from __future__ import annotations

import threading

import pytest

from collectors.aws.base import AwsTuning, SharedSession, clear_credentials_cache, new_session

KEYS = {"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "secret", "aws_session_token": "token-1"}


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    clear_credentials_cache()
    yield
    clear_credentials_cache()


def test_the_same_credentials_share_one_session_and_other_credentials_get_their_own() -> None:
    first = new_session(**KEYS)
    assert isinstance(first, SharedSession)
    assert new_session(**KEYS) is first
    other = new_session(**{**KEYS, "aws_session_token": "token-2"})
    assert other is not first
    assert other.get_credentials().token == "token-2" and first.get_credentials().token == "token-1"
    assert new_session() is new_session() and new_session() is not first  # the default chain: its own


def test_a_changed_aws_environment_gets_a_new_session(monkeypatch: pytest.MonkeyPatch) -> None:
    before = new_session()
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    after = new_session()
    assert after is not before
    assert after.client("sts", region_name="us-east-1").meta.endpoint_url == "http://127.0.0.1:1"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "rotated")
    assert new_session() is not after and new_session().get_credentials().access_key == "rotated"


def test_clear_credentials_cache_forgets_the_sessions() -> None:
    first = new_session(**KEYS)
    clear_credentials_cache()
    assert new_session(**KEYS) is not first


def test_clients_are_made_from_one_session_on_many_threads() -> None:
    session = new_session(**KEYS)
    config = AwsTuning().botocore_config()
    made: list[object] = []
    failed: list[BaseException] = []

    def make(region: str) -> None:
        try:
            for service in ("ec2", "rds", "dynamodb", "kms", "sqs"):
                made.append(session.client(service, region_name=region, config=config))
        except BaseException as exc:  # collected and asserted below
            failed.append(exc)

    regions = ["us-east-1", "eu-west-1", "ap-northeast-1", "eu-central-1", "us-west-2", "sa-east-1"] * 2
    threads = [threading.Thread(target=make, args=(r,)) for r in regions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failed
    assert len(made) == len(regions) * 5
    assert {c.meta.region_name for c in made} == set(regions)  # type: ignore[attr-defined]
