"""S3Locker against moto's server over HTTP (MotoEmulator): Object Lock / versioning checks,
manifest-last uploads, listing, fetch + verify_run, checksums, locked versions."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from demo.emulators import MotoEmulator
from demo.moto_wsgi import FaultRule
from reports.drift import load_run_findings_fast
from reports.history import run_history
from reports.locker import DRIFT_FILES, HISTORY_FILES, LockerError, S3Locker, materialise, open_locker
from reports.store import MANIFEST, read_manifest
from reports.verify import verify_run
from tests.unit.test_verify import EVIDENCE, RUN1, RUN2, RUN3, build_run

pytestmark = pytest.mark.integration

LOCKED = "evidence-locked"  # Object Lock, default COMPLIANCE retention of 1 day
PLAIN = "evidence-plain"  # neither Object Lock nor versioning
VERSIONED = "evidence-versioned"  # versioning only
LOCK_NO_DEFAULT = "evidence-lock-no-default"  # Object Lock enabled, no default retention


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoEmulator]:
    with MotoEmulator() as emulator, emulator.use_env():
        s3 = boto3.Session().client("s3")
        s3.create_bucket(Bucket=LOCKED, ObjectLockEnabledForBucket=True)
        s3.put_object_lock_configuration(
            Bucket=LOCKED,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
            },
        )
        s3.create_bucket(Bucket=PLAIN)
        s3.create_bucket(Bucket=VERSIONED)
        s3.put_bucket_versioning(Bucket=VERSIONED, VersioningConfiguration={"Status": "Enabled"})
        s3.create_bucket(Bucket=LOCK_NO_DEFAULT, ObjectLockEnabledForBucket=True)
        yield emulator


@pytest.fixture
def s3(aws: MotoEmulator) -> Any:
    return boto3.Session().client("s3")


@pytest.fixture
def staging(tmp_path: Path) -> Path:
    """Three chained runs assembled locally, as execute_run does."""
    for rid in (RUN1, RUN2, RUN3):
        build_run(tmp_path / "staging", rid)
    return tmp_path / "staging"


def _upload_all(locker: S3Locker, staging: Path, run_ids: tuple[str, ...] = (RUN1, RUN2, RUN3)) -> None:
    for rid in run_ids:
        locker.upload_run(staging / "runs" / rid, rid)


# ---------------------------------------------------------------- check()


def test_check_object_lock_with_default_retention_is_silent(aws: MotoEmulator) -> None:
    assert S3Locker(f"s3://{LOCKED}/soc2").check() == []


def test_check_plain_bucket_warns(aws: MotoEmulator) -> None:
    warnings = S3Locker(f"s3://{PLAIN}/soc2").check()
    assert len(warnings) == 1 and "neither Object Lock nor versioning" in warnings[0]


def test_check_versioning_only_warns(aws: MotoEmulator) -> None:
    warnings = S3Locker(f"s3://{VERSIONED}").check()
    assert len(warnings) == 1 and "no Object Lock, only versioning" in warnings[0]


def test_check_object_lock_without_default_retention_warns(aws: MotoEmulator) -> None:
    warnings = S3Locker(f"s3://{LOCK_NO_DEFAULT}").check()
    assert len(warnings) == 1 and "no default retention" in warnings[0]
    assert S3Locker(f"s3://{LOCK_NO_DEFAULT}", retention=("COMPLIANCE", 1)).check() == []
    governance = S3Locker(f"s3://{LOCK_NO_DEFAULT}", retention=("GOVERNANCE", 1)).check()
    assert len(governance) == 1 and "GOVERNANCE" in governance[0]


def test_check_missing_bucket_is_an_error(aws: MotoEmulator) -> None:
    with pytest.raises(LockerError, match="does not exist"):
        S3Locker("s3://no-such-evidence-bucket/x").check()


def test_check_access_denied_is_a_warning_naming_the_permission(aws: MotoEmulator) -> None:
    aws.add_fault(FaultRule("GetObjectLockConfiguration", match=LOCKED))
    try:
        warnings = S3Locker(f"s3://{LOCKED}").check()
    finally:
        aws.clear_faults()
    assert len(warnings) == 1 and "s3:GetBucketObjectLockConfiguration" in warnings[0]


# ---------------------------------------------------------------- upload, list, fetch, verify


def test_upload_list_fetch_and_verify(aws: MotoEmulator, s3: Any, staging: Path, tmp_path: Path) -> None:
    locker = open_locker(f"s3://{LOCKED}/roundtrip/")
    assert isinstance(locker, S3Locker)
    _upload_all(locker, staging)
    assert locker.list_runs() == [RUN1, RUN2, RUN3]
    assert locker.list_incomplete() == []

    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=LOCKED, Prefix="roundtrip/")["Contents"]}
    assert f"roundtrip/runs/{RUN2}/{EVIDENCE}" in keys and f"roundtrip/runs/{RUN2}/{MANIFEST}" in keys
    head = s3.head_object(Bucket=LOCKED, Key=f"roundtrip/runs/{RUN2}/{MANIFEST}", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] and head["Metadata"]["sha256"]
    assert head["ObjectLockMode"] == "COMPLIANCE"  # the bucket's default retention applied

    infos = locker.completed_runs(tmp_path / "manifests")
    assert [i.run_id for i in infos] == [RUN1, RUN2, RUN3]
    assert infos[2].manifest["previous_manifest_sha256"] == infos[1].manifest_sha256
    assert sorted(p.name for p in infos[0].path.iterdir()) == [MANIFEST]  # no evidence transferred

    out = materialise(f"s3://{LOCKED}/roundtrip", tmp_path / "cache", [RUN2])
    report = verify_run(out / "runs" / RUN2)
    assert report.ok, report.problems
    assert report.files_checked == 6
    assert any("matches the hash recorded by the next run" in n for n in report.notes)
    fetched = sorted(p.relative_to(out / "runs" / RUN2) for p in (out / "runs" / RUN2).rglob("*") if p.is_file())
    local = sorted(p.relative_to(staging / "runs" / RUN2) for p in (staging / "runs" / RUN2).rglob("*") if p.is_file())
    assert fetched == local


def test_materialise_for_history_and_drift(aws: MotoEmulator, staging: Path, tmp_path: Path) -> None:
    locker = S3Locker(f"s3://{LOCKED}/readers")
    _upload_all(locker, staging)
    out = materialise(locker, tmp_path / "cache", files=HISTORY_FILES)
    hist = run_history(out)
    assert [r.run_id for r in hist.runs] == [RUN1, RUN2, RUN3]
    assert all(
        r.control_counts == {"effective": 0, "deficient": 1, "incomplete": 0, "no_evidence": 1} for r in hist.runs
    )
    assert not (out / "runs" / RUN1 / EVIDENCE).exists()
    out = materialise(locker, tmp_path / "cache", [RUN2, RUN3], files=DRIFT_FILES)
    assert [f.resource_id for f in load_run_findings_fast(out / "runs" / RUN3)] == ["bucket-a", "bucket-b"]


def test_reader_never_sees_a_run_without_its_manifest(aws: MotoEmulator, staging: Path, tmp_path: Path) -> None:
    locker = S3Locker(f"s3://{LOCKED}/midupload")
    reader = S3Locker(f"s3://{LOCKED}/midupload")
    paused, resume = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hook() -> None:
        paused.set()
        assert resume.wait(30)

    def upload() -> None:
        try:
            locker.upload_run(staging / "runs" / RUN1, RUN1, before_manifest=hook)
        except BaseException as exc:  # pragma: no cover - surfaced below
            errors.append(exc)

    thread = threading.Thread(target=upload)
    thread.start()
    try:
        assert paused.wait(30)
        assert reader.list_runs() == []
        assert reader.list_incomplete() == [RUN1]
        assert reader.completed_runs(tmp_path / "cache") == []
        hist = run_history(materialise(reader, tmp_path / "cache2", files=HISTORY_FILES))
        assert hist.runs == [] and [i.run_id for i in hist.incomplete] == [RUN1]
    finally:
        resume.set()
        thread.join(30)
    assert not errors
    assert reader.list_runs() == [RUN1]


def test_reupload_is_refused_and_a_broken_upload_resumes(aws: MotoEmulator, staging: Path) -> None:
    locker = S3Locker(f"s3://{LOCKED}/resume")

    def die() -> None:
        raise RuntimeError("killed before the manifest")

    with pytest.raises(RuntimeError):
        locker.upload_run(staging / "runs" / RUN1, RUN1, before_manifest=die)
    assert locker.list_runs() == [] and locker.list_incomplete() == [RUN1]
    locker.upload_run(staging / "runs" / RUN1, RUN1)  # evidence already there: same checksums, accepted
    assert locker.list_runs() == [RUN1]
    with pytest.raises(LockerError, match="already stored"):
        locker.upload_run(staging / "runs" / RUN1, RUN1)


def test_different_content_at_an_existing_key_is_refused(aws: MotoEmulator, s3: Any, staging: Path) -> None:
    s3.put_object(Bucket=PLAIN, Key=f"clash/runs/{RUN1}/{EVIDENCE}", Body=b"planted earlier")
    with pytest.raises(LockerError, match="differs from the local file"):
        S3Locker(f"s3://{PLAIN}/clash").upload_run(staging / "runs" / RUN1, RUN1)


def test_verify_sees_files_planted_in_the_bucket(aws: MotoEmulator, s3: Any, staging: Path, tmp_path: Path) -> None:
    locker = S3Locker(f"s3://{PLAIN}")  # bucket root: runs/<id>/...
    _upload_all(locker, staging, (RUN1,))
    s3.put_object(Bucket=PLAIN, Key=f"runs/{RUN1}/evidence/planted.json", Body=b"{}")
    s3.put_object(Bucket=PLAIN, Key=f"runs/{RUN1}/findings.jsonl", Body=b"tampered\n")  # no lock: overwritable
    out = locker.materialise(tmp_path / "cache", [RUN1])
    report = verify_run(out / "runs" / RUN1)
    assert not report.ok
    assert "evidence/planted.json" in report.extra_files
    assert any("findings.jsonl" in p for p in report.problems)


def test_locked_object_versions_cannot_be_deleted(aws: MotoEmulator, s3: Any, staging: Path) -> None:
    locker = S3Locker(f"s3://{LOCKED}/worm")
    _upload_all(locker, staging, (RUN1,))
    key = f"worm/runs/{RUN1}/{MANIFEST}"
    version = s3.head_object(Bucket=LOCKED, Key=key)["VersionId"]
    with pytest.raises(ClientError) as err:
        s3.delete_object(Bucket=LOCKED, Key=key, VersionId=version)
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    # a plain delete only adds a delete marker: the locked version is still there
    s3.delete_object(Bucket=LOCKED, Key=key)
    assert s3.get_object(Bucket=LOCKED, Key=key, VersionId=version)["Body"].read()


def test_per_object_retention_when_configured(aws: MotoEmulator, s3: Any, staging: Path) -> None:
    locker = S3Locker(f"s3://{LOCK_NO_DEFAULT}/retained", retention=("GOVERNANCE", 2))
    _upload_all(locker, staging, (RUN1,))
    head = s3.head_object(Bucket=LOCK_NO_DEFAULT, Key=f"retained/runs/{RUN1}/{EVIDENCE}")
    assert head["ObjectLockMode"] == "GOVERNANCE" and head["ObjectLockRetainUntilDate"]


def test_fetch_of_a_run_that_is_not_stored(aws: MotoEmulator, tmp_path: Path) -> None:
    locker = S3Locker(f"s3://{LOCKED}/nothing-here")
    assert locker.list_runs() == []
    with pytest.raises(LockerError, match="no such completed run"):
        locker.fetch_run(RUN1, tmp_path / "x")


def test_staging_then_upload_like_execute_run(aws: MotoEmulator, tmp_path: Path) -> None:
    """The integration in flows/run.py: stage, previous run via the locker, upload."""
    locker = S3Locker(f"s3://{LOCKED}/flow")
    for rid in (RUN1, RUN2):
        with locker.stage() as out_dir:
            previous = locker.completed_runs(out_dir)
            if previous:
                baseline = previous[-1]
                locker.fetch_run(baseline.run_id, baseline.path, DRIFT_FILES)
                assert (baseline.path / "findings.jsonl").is_file()
            run = build_run(out_dir, rid)  # uses completed_runs(out_dir) for the hash chain
            locker.upload_run(run, rid)
        assert not out_dir.exists()
    out = locker.materialise(tmp_path / "cache", [RUN2])
    assert read_manifest(out / "runs" / RUN2)["previous_run"] == RUN1
    assert verify_run(out / "runs" / RUN2).ok
