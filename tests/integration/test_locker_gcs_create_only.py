"""GcsLocker's create-only uploads over HTTP against tests/fake_gcs.py, which (unlike
gcp-storage-emulator, see test_locker_gcs.py) honours ifGenerationMatch=0: an existing object
is answered 412 conditionNotMet, and the locker must then compare its MD5/CRC32C with the local
file's: the same bytes are accepted (a resumed or repeated upload), other bytes are refused and
the stored object is left as it was. The fake counts its 412 answers, so these tests fail if the
locker stopped sending ifGenerationMatch=0 (the fake would then overwrite).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.api_core import exceptions as api
from google.cloud import storage

from reports.locker import GcsLocker, LockerError
from reports.store import MANIFEST
from reports.verify import verify_run
from tests.fake_gcs import FakeGcs, Fault, bucket_resource, crc32c_b64, md5_b64
from tests.unit.test_verify import EVIDENCE, RUN1, build_run

pytestmark = pytest.mark.integration

PROJECT = "soc2-evidence"
BUCKET = "evidence-create-only"
FILES = 6  # files of a build_run() run besides its manifest


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGcs]:
    with FakeGcs(projects={PROJECT: [bucket_resource(BUCKET)]}) as f:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", f.endpoint)
        monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
        yield f


@pytest.fixture
def client(fake: FakeGcs) -> Any:
    return storage.Client()


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return build_run(tmp_path / "staging", RUN1)


def inserts(fake: FakeGcs, status: int) -> int:
    return fake.statuses[("InsertObject", status)]


def assert_create_only(fake: FakeGcs) -> None:
    """Every object upload the fake received asked for create-only."""
    sent = [q for op, q in fake.queries if op == "InsertObject"]
    assert sent and all(q.get("ifGenerationMatch") == "0" for q in sent), sent


def stored(fake: FakeGcs, key: str) -> tuple[bytes, int]:
    obj = fake.objects[(BUCKET, key)]
    return obj.data, obj.generation


def test_the_fake_refuses_to_overwrite_only_when_asked(fake: FakeGcs, client: Any) -> None:
    """What gcp-storage-emulator does not do: ifGenerationMatch=0 on an existing object is a 412."""
    blob = client.bucket(BUCKET).blob("probe/object.json")
    blob.upload_from_string(b'{"v": 1}', if_generation_match=0, checksum="crc32c")
    assert (blob.md5_hash, blob.crc32c) == (md5_b64(b'{"v": 1}'), crc32c_b64(b'{"v": 1}'))
    first = blob.generation
    with pytest.raises(api.PreconditionFailed):
        client.bucket(BUCKET).blob("probe/object.json").upload_from_string(b'{"v": 2}', if_generation_match=0)
    assert stored(fake, "probe/object.json") == (b'{"v": 1}', first)
    client.bucket(BUCKET).blob("probe/object.json").upload_from_string(b'{"v": 2}')  # no precondition
    assert stored(fake, "probe/object.json")[0] == b'{"v": 2}'
    assert client.bucket(BUCKET).get_blob("probe/object.json").generation > first
    assert inserts(fake, 412) == 1


def test_a_run_is_uploaded_create_only_and_verifies(fake: FakeGcs, run: Path, tmp_path: Path) -> None:
    locker = GcsLocker(f"gs://{BUCKET}/soc2")
    locker.upload_run(run, RUN1)
    assert_create_only(fake)
    assert (inserts(fake, 200), inserts(fake, 412)) == (FILES + 1, 0)
    assert locker.list_runs() == [RUN1] and locker.list_incomplete() == []
    for rel in (EVIDENCE, MANIFEST):
        obj = fake.objects[(BUCKET, f"soc2/runs/{RUN1}/{rel}")]
        local = (run / rel).read_bytes()
        assert obj.data == local and (obj.md5_hash, obj.crc32c) == (md5_b64(local), crc32c_b64(local))
        assert obj.metadata is not None and len(obj.metadata["sha256"]) == 64
    out = locker.materialise(tmp_path / "cache", [RUN1])  # downloads checked against X-Goog-Hash
    report = verify_run(out / "runs" / RUN1)
    assert report.ok, report.problems
    assert report.files_checked == FILES


def test_a_broken_upload_resumes_over_412_and_a_reupload_is_refused(fake: FakeGcs, run: Path) -> None:
    locker = GcsLocker(f"gs://{BUCKET}")  # bucket root

    def die() -> None:
        raise RuntimeError("killed before the manifest")

    with pytest.raises(RuntimeError):
        locker.upload_run(run, RUN1, before_manifest=die)
    assert locker.list_runs() == [] and locker.list_incomplete() == [RUN1]
    assert (inserts(fake, 200), inserts(fake, 412)) == (FILES, 0)
    before = {key: obj.generation for key, obj in fake.objects.items()}

    locker.upload_run(run, RUN1)  # every file already stored: 412, same MD5/CRC32C, accepted
    assert_create_only(fake)
    assert (inserts(fake, 200), inserts(fake, 412)) == (FILES + 1, FILES)
    assert fake.statuses[("GetObject", 200)] >= FILES  # the stored objects' hashes were read back
    assert {key: fake.objects[key].generation for key in before} == before  # nothing rewritten
    assert locker.list_runs() == [RUN1] and locker.list_incomplete() == []

    with pytest.raises(LockerError, match="already stored"):
        locker.upload_run(run, RUN1)
    assert inserts(fake, 200) + inserts(fake, 412) == 2 * FILES + 1  # refused before any upload


def test_an_identical_manifest_stored_meanwhile_is_accepted(fake: FakeGcs, run: Path) -> None:
    """The manifest itself answered 412 (another upload of the same run finished first, or a lost
    answer to a stored upload): the same bytes are fine."""
    locker = GcsLocker(f"gs://{BUCKET}/race")
    other = GcsLocker(f"gs://{BUCKET}/race")
    locker.upload_run(run, RUN1, before_manifest=lambda: other.upload_run(run, RUN1))
    assert_create_only(fake)
    # ours: FILES created; the other's: FILES conflicts + its manifest; ours: the manifest conflicts
    assert (inserts(fake, 200), inserts(fake, 412)) == (FILES + 1, FILES + 1)
    assert locker.list_runs() == [RUN1]


def test_a_lost_answer_is_retried_and_the_412_accepted(fake: FakeGcs, run: Path) -> None:
    """The object was stored but the answer was a 503: the library retries, the retry gets 412,
    and the stored object (the same bytes) is accepted."""
    fake.lost_inserts[f"lost/runs/{RUN1}/{EVIDENCE}"] = Fault(503, "backend error", "backendError", times=1)
    locker = GcsLocker(f"gs://{BUCKET}/lost")
    locker.upload_run(run, RUN1)
    assert_create_only(fake)
    assert (inserts(fake, 200), inserts(fake, 503), inserts(fake, 412)) == (FILES, 1, 1)
    assert locker.list_runs() == [RUN1]


def test_different_content_at_an_existing_key_is_refused(fake: FakeGcs, client: Any, run: Path) -> None:
    key = f"clash/runs/{RUN1}/{EVIDENCE}"
    generation = fake.put_object(BUCKET, key, b"planted earlier").generation  # stored before the upload
    with pytest.raises(LockerError, match="differ from the local") as err:
        GcsLocker(f"gs://{BUCKET}/clash").upload_run(run, RUN1)
    assert key in str(err.value)
    assert f"{md5_b64(b'planted earlier')}/{crc32c_b64(b'planted earlier')}" in str(err.value)
    assert_create_only(fake)
    assert inserts(fake, 412) == 1
    assert stored(fake, key) == (b"planted earlier", generation)  # not overwritten
    assert client.bucket(BUCKET).blob(key).download_as_bytes() == b"planted earlier"
    assert (BUCKET, f"clash/runs/{RUN1}/{MANIFEST}") not in fake.objects  # the run was not completed
    locker = GcsLocker(f"gs://{BUCKET}/clash")
    assert locker.list_runs() == [] and locker.list_incomplete() == [RUN1]
