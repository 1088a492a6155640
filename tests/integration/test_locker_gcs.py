"""GcsLocker against gcp-storage-emulator over HTTP (GcsEmulator): retention checks, manifest-last
uploads, listing (matchGlob), fetch + verify_run, MD5/CRC32C verification.

What the emulator cannot show (found by running it; see reports/locker/gcs.py):
- it stores a PATCHed retentionPolicy but does not enforce it (objects can still be deleted)
  and has no lockRetentionPolicy (501), so a locked policy cannot be produced here;
- it ignores ifGenerationMatch (an existing object is overwritten instead of answering 412), so
  "never overwrite" (if_generation_match=0) is covered in test_locker_gcs_create_only.py, against
  tests/fake_gcs.py (which answers 412).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.cloud import storage

from demo.gcs_emulator import GcsEmulator
from reports.drift import load_run_findings_fast
from reports.history import run_history
from reports.locker import DRIFT_FILES, HISTORY_FILES, GcsLocker, LockerError, materialise, open_locker
from reports.store import MANIFEST
from reports.verify import verify_run
from tests.unit.test_verify import EVIDENCE, RUN1, RUN2, RUN3, build_run

pytestmark = pytest.mark.integration

RETAINED = "evidence-retained"  # retention policy of 1 day (not locked: the emulator cannot lock)
PLAIN = "evidence-plain"  # no retention policy


@pytest.fixture(scope="module")
def gcs() -> Iterator[GcsEmulator]:
    with GcsEmulator() as emulator, emulator.use_env("soc2-evidence"):
        client = storage.Client()
        bucket = client.create_bucket(RETAINED, timeout=10)
        bucket.retention_period = 86400
        bucket.patch(timeout=10)
        client.create_bucket(PLAIN, timeout=10)
        yield emulator


@pytest.fixture
def client(gcs: GcsEmulator) -> Any:
    return storage.Client()


@pytest.fixture
def staging(tmp_path: Path) -> Path:
    for rid in (RUN1, RUN2, RUN3):
        build_run(tmp_path / "staging", rid)
    return tmp_path / "staging"


def _upload_all(locker: GcsLocker, staging: Path, run_ids: tuple[str, ...] = (RUN1, RUN2, RUN3)) -> None:
    for rid in run_ids:
        locker.upload_run(staging / "runs" / rid, rid)


def test_check_retention_policy(gcs: GcsEmulator) -> None:
    warnings = GcsLocker(f"gs://{RETAINED}/soc2").check()
    assert len(warnings) == 1 and "(1 days) is not locked" in warnings[0]  # the emulator cannot lock
    warnings = GcsLocker(f"gs://{PLAIN}/soc2").check()
    assert len(warnings) == 1 and "no retention policy" in warnings[0]


def test_check_missing_bucket_is_an_error(gcs: GcsEmulator) -> None:
    with pytest.raises(LockerError, match="does not exist"):
        GcsLocker("gs://no-such-evidence-bucket/x").check()


def test_upload_list_fetch_and_verify(gcs: GcsEmulator, client: Any, staging: Path, tmp_path: Path) -> None:
    locker = open_locker(f"gs://{RETAINED}/roundtrip/")
    assert isinstance(locker, GcsLocker)
    _upload_all(locker, staging)
    assert locker.list_runs() == [RUN1, RUN2, RUN3]
    assert locker.list_incomplete() == []

    blob = client.bucket(RETAINED).get_blob(f"roundtrip/runs/{RUN2}/{EVIDENCE}")
    assert blob.md5_hash and blob.crc32c and len(blob.metadata["sha256"]) == 64

    infos = locker.completed_runs(tmp_path / "manifests")
    assert [i.run_id for i in infos] == [RUN1, RUN2, RUN3]
    assert infos[2].manifest["previous_manifest_sha256"] == infos[1].manifest_sha256
    assert sorted(p.name for p in infos[0].path.iterdir()) == [MANIFEST]

    out = materialise(f"gs://{RETAINED}/roundtrip", tmp_path / "cache", [RUN2])
    report = verify_run(out / "runs" / RUN2)
    assert report.ok, report.problems
    assert report.files_checked == 6
    fetched = sorted(p.relative_to(out / "runs" / RUN2) for p in (out / "runs" / RUN2).rglob("*") if p.is_file())
    local = sorted(p.relative_to(staging / "runs" / RUN2) for p in (staging / "runs" / RUN2).rglob("*") if p.is_file())
    assert fetched == local


def test_materialise_for_history_and_drift(gcs: GcsEmulator, staging: Path, tmp_path: Path) -> None:
    locker = GcsLocker(f"gs://{RETAINED}/readers")
    _upload_all(locker, staging)
    out = materialise(locker, tmp_path / "cache", files=HISTORY_FILES)
    hist = run_history(out)
    assert [r.run_id for r in hist.runs] == [RUN1, RUN2, RUN3]
    assert all(r.control_counts for r in hist.runs)
    assert not (out / "runs" / RUN1 / EVIDENCE).exists()
    out = materialise(locker, tmp_path / "cache", [RUN2, RUN3], files=DRIFT_FILES)
    assert [f.resource_id for f in load_run_findings_fast(out / "runs" / RUN3)] == ["bucket-a", "bucket-b"]


def test_reader_never_sees_a_run_without_its_manifest(gcs: GcsEmulator, staging: Path, tmp_path: Path) -> None:
    locker = GcsLocker(f"gs://{RETAINED}/midupload")
    reader = GcsLocker(f"gs://{RETAINED}/midupload")
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
    finally:
        resume.set()
        thread.join(30)
    assert not errors
    assert reader.list_runs() == [RUN1]


def test_reupload_is_refused_and_a_broken_upload_resumes(gcs: GcsEmulator, staging: Path) -> None:
    locker = GcsLocker(f"gs://{PLAIN}")  # bucket root

    def die() -> None:
        raise RuntimeError("killed before the manifest")

    with pytest.raises(RuntimeError):
        locker.upload_run(staging / "runs" / RUN1, RUN1, before_manifest=die)
    assert locker.list_runs() == [] and locker.list_incomplete() == [RUN1]
    locker.upload_run(staging / "runs" / RUN1, RUN1)
    assert locker.list_runs() == [RUN1]
    with pytest.raises(LockerError, match="already stored"):
        locker.upload_run(staging / "runs" / RUN1, RUN1)


def test_verify_sees_files_planted_in_the_bucket(gcs: GcsEmulator, client: Any, staging: Path, tmp_path: Path) -> None:
    locker = GcsLocker(f"gs://{PLAIN}/planted")
    _upload_all(locker, staging, (RUN1,))
    bucket = client.bucket(PLAIN)
    bucket.blob(f"planted/runs/{RUN1}/evidence/planted.json").upload_from_string(b"{}")
    bucket.blob(f"planted/runs/{RUN1}/findings.jsonl").upload_from_string(b"tampered\n")
    out = locker.materialise(tmp_path / "cache", [RUN1])
    report = verify_run(out / "runs" / RUN1)
    assert not report.ok
    assert "evidence/planted.json" in report.extra_files
    assert any("findings.jsonl" in p for p in report.problems)


def test_upload_verifies_the_stored_checksums(gcs: GcsEmulator, staging: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stored object whose MD5/CRC32C is not the local file's is an error (here: a fake answer)."""
    locker = GcsLocker(f"gs://{PLAIN}/checksums")
    real = storage.Blob.upload_from_filename

    def corrupting(self: Any, *args: Any, **kwargs: Any) -> None:
        real(self, *args, **kwargs)
        self._properties["md5Hash"] = "AAAAAAAAAAAAAAAAAAAAAA=="

    monkeypatch.setattr(storage.Blob, "upload_from_filename", corrupting)
    with pytest.raises(LockerError, match="differ from the local"):
        locker.upload_run(staging / "runs" / RUN1, RUN1)
    assert locker.list_runs() == []


def test_fetch_of_a_run_that_is_not_stored(gcs: GcsEmulator, tmp_path: Path) -> None:
    locker = GcsLocker(f"gs://{RETAINED}/nothing-here")
    assert locker.list_runs() == []
    with pytest.raises(LockerError, match="no such completed run"):
        locker.fetch_run(RUN1, tmp_path / "x")
