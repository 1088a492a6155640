"""reports.locker without emulators: parse_location, DirLocker, and the object-store logic shared
by S3 and GCS (manifest last, listing, fetch, materialise) on an in-memory store."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from reports.drift import load_run_findings_fast
from reports.history import run_history
from reports.locker import (
    DRIFT_FILES,
    HISTORY_FILES,
    DirLocker,
    GcsLocker,
    Location,
    LocationError,
    LockerError,
    S3Locker,
    materialise,
    open_locker,
    parse_location,
)
from reports.locker.objects import _ObjectLocker
from reports.store import MANIFEST, completed_runs
from reports.verify import verify_run
from tests.unit.test_verify import EVIDENCE, RUN1, RUN2, RUN3, build_run

# ---------------------------------------------------------------- parse_location


@pytest.mark.parametrize(
    ("text", "kind", "bucket", "prefix"),
    [
        ("s3://evidence-locker/soc2", "s3", "evidence-locker", "soc2"),
        ("s3://evidence-locker", "s3", "evidence-locker", ""),
        ("s3://evidence-locker/", "s3", "evidence-locker", ""),
        ("S3://my.bucket/a/b/c/", "s3", "my.bucket", "a/b/c"),
        ("gs://b-1/p/", "gs", "b-1", "p"),
        ("gs://my_bucket/soc2/prod", "gs", "my_bucket", "soc2/prod"),
        ("  gs://abc/x  ", "gs", "abc", "x"),
    ],
)
def test_parse_bucket_locations(text: str, kind: str, bucket: str, prefix: str) -> None:
    loc = parse_location(text)
    assert (loc.kind, loc.bucket, loc.prefix, loc.path) == (kind, bucket, prefix, None)
    assert loc.is_remote
    assert parse_location(str(loc)) == loc  # round-trips


@pytest.mark.parametrize("text", ["./dir", "soc2-evidence-output", "/var/lib/soc2", "C:\\evidence", "a:b"])
def test_parse_directories(text: str) -> None:
    loc = parse_location(text)
    assert loc.kind == "dir" and loc.path == Path(text) and not loc.is_remote
    assert str(loc) == str(Path(text))


def test_parse_path_and_location_objects() -> None:
    assert parse_location(Path("out")) == Location("dir", path=Path("out"))
    loc = parse_location("s3://bucket/x")
    assert parse_location(loc) is loc


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("s3://", "no bucket name"),
        ("gs://", "no bucket name"),
        ("s3:///prefix", "no bucket name"),
        ("ftp://x", "unsupported scheme ftp://"),
        ("file:///tmp/x", "unsupported scheme file://"),
        ("https://bucket.s3.amazonaws.com/x", "unsupported scheme https://"),
        ("s3:/bucket/x", "malformed URL"),
        ("s3://ab", "invalid S3 bucket name"),
        ("s3://Upper-Case", "invalid S3 bucket name"),
        ("s3://bucket_underscore", "invalid S3 bucket name"),
        ("s3://192.168.1.1", "not an IP address"),
        ("s3://a..b", "invalid S3 bucket name"),
        ("gs://-bad", "invalid GCS bucket name"),
        ("gs://b/p/", "invalid GCS bucket name"),  # 3 characters at least, as GCS requires
        ("s3://bucket/a//b", "empty, '.' or '..' segment"),
        ("gs://bucket/a/../b", "empty, '.' or '..' segment"),
        ("s3://bucket/./a", "empty, '.' or '..' segment"),
        ("s3://bucket/a\\b", "backslashes or control characters"),
        ("s3://bucket/a\nb", "backslashes or control characters"),
        ("", "empty output location"),
        ("   ", "empty output location"),
    ],
)
def test_parse_bad_locations(text: str, message: str) -> None:
    with pytest.raises(LocationError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_location(text)


def test_location_error_is_a_value_error_for_pydantic() -> None:
    assert issubclass(LocationError, ValueError)
    with pytest.raises(LocationError):
        parse_location(42)  # type: ignore[arg-type]


def test_location_keys_and_resolve(tmp_path: Path) -> None:
    assert parse_location("s3://bkt/p/q").key("runs", "r1", MANIFEST) == "p/q/runs/r1/manifest.json"
    assert parse_location("s3://bkt").key("runs", "r1", MANIFEST) == "runs/r1/manifest.json"
    assert parse_location("rel").resolve(tmp_path) == Location("dir", path=tmp_path / "rel")
    assert parse_location(str(tmp_path)).resolve(Path("/elsewhere")).path == tmp_path
    remote = parse_location("gs://bkt/p")
    assert remote.resolve(tmp_path) is remote


def test_open_locker_picks_the_class(tmp_path: Path) -> None:
    assert isinstance(open_locker(tmp_path), DirLocker)
    assert isinstance(open_locker("s3://bucket/p"), S3Locker)
    assert isinstance(open_locker("gs://bucket/p"), GcsLocker)
    with pytest.raises(LocationError):
        S3Locker("gs://bucket/p")
    with pytest.raises(LocationError):
        GcsLocker("s3://bucket/p")
    with pytest.raises(ValueError, match="retention"):
        S3Locker("s3://bucket/p", retention=("FOREVER", 1))


# ---------------------------------------------------------------- DirLocker


def test_dir_locker_in_place_is_todays_behaviour(tmp_path: Path) -> None:
    locker = DirLocker(tmp_path)
    assert locker.check() == []
    with locker.stage() as out:
        assert out == tmp_path
        run = build_run(out, RUN1)
        locker.upload_run(run, RUN1)  # already in place: nothing to do
    assert locker.list_runs() == [RUN1]
    assert [r.run_id for r in locker.completed_runs(tmp_path / "ignored")] == [RUN1]
    assert materialise(tmp_path, tmp_path / "cache", [RUN1]) == tmp_path
    assert not (tmp_path / "cache").exists()
    assert locker.fetch_run(RUN1, run) == run


def test_dir_locker_copies_a_staged_run_manifest_last(tmp_path: Path) -> None:
    staging, out = tmp_path / "staging", tmp_path / "out"
    run = build_run(staging, RUN1)
    locker = DirLocker(out)
    seen: list[bool] = []
    locker.upload_run(run, RUN1, before_manifest=lambda: seen.append((out / "runs" / RUN1 / MANIFEST).exists()))
    assert seen == [False]
    assert (out / "runs" / RUN1 / EVIDENCE).is_file()
    assert verify_run(out / "runs" / RUN1).ok
    with pytest.raises(LockerError, match="already stored"):
        locker.upload_run(run, RUN1)


def test_dir_locker_lists_incomplete_and_fetches(tmp_path: Path) -> None:
    locker = DirLocker(tmp_path / "out")
    build_run(tmp_path / "out", RUN1)
    (tmp_path / "out" / "runs" / RUN2).mkdir()
    assert locker.list_runs() == [RUN1]
    assert locker.list_incomplete() == [RUN2]
    dest = tmp_path / "copy" / "runs" / RUN1
    dest.mkdir(parents=True)
    (dest / "stale.json").write_text("{}")
    locker.fetch_run(RUN1, dest)
    assert not (dest / "stale.json").exists()
    assert verify_run(dest).ok
    with pytest.raises(LockerError, match="no such completed run"):
        locker.fetch_run(RUN2, tmp_path / "x")
    with pytest.raises(LockerError, match="no run with a manifest"):
        locker.materialise(tmp_path / "cache", [RUN2])


def test_dir_locker_check_refuses_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(LockerError, match="is a file"):
        DirLocker(tmp_path / "f").check()


def test_upload_refuses_incomplete_or_mismatched_runs(tmp_path: Path) -> None:
    locker = DirLocker(tmp_path / "out")
    run = build_run(tmp_path / "staging", RUN1)
    with pytest.raises(LockerError, match="is not"):
        locker.upload_run(run, RUN2)
    with pytest.raises(LockerError, match="invalid run ID"):
        locker.upload_run(run, "../escape")
    (run / MANIFEST).unlink()
    with pytest.raises(LockerError, match="incomplete run is never stored"):
        locker.upload_run(run, RUN1)


# ---------------------------------------------------------------- object-store logic, in memory


class MemoryLocker(_ObjectLocker):
    """The shared _ObjectLocker logic over a dict, recording the order of puts."""

    def __init__(self, location: str = "s3://bucket/pre") -> None:
        self.location = parse_location(location)
        self.objects: dict[str, bytes] = {}
        self.puts: list[str] = []
        self.lock = threading.Lock()

    def check(self) -> list[str]:
        return []

    def _list_children(self, prefix: str) -> list[str]:
        return sorted({k[len(prefix) :].split("/", 1)[0] for k in self.objects if k.startswith(prefix)})

    def _list_keys(self, prefix: str) -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))

    def _exists(self, key: str) -> bool:
        return key in self.objects

    def _put(self, key: str, path: Path) -> None:
        data = path.read_bytes()
        with self.lock:
            if key in self.objects and self.objects[key] != data:
                raise LockerError(f"{key}: differs")
            self.objects[key] = data
            self.puts.append(key)

    def _get(self, key: str, dest: Path) -> bool:
        if key not in self.objects:
            return False
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(self.objects[key])
        return True


def test_object_upload_puts_the_manifest_last(tmp_path: Path) -> None:
    locker = MemoryLocker()
    run = build_run(tmp_path / "staging", RUN1)
    locker.upload_run(run, RUN1)
    assert locker.puts[-1] == f"pre/runs/{RUN1}/{MANIFEST}"
    assert len(locker.puts) == 7  # 2 evidence, findings, controls, catalog, workbook, manifest
    assert locker.list_runs() == [RUN1]
    with pytest.raises(LockerError, match="already stored"):
        locker.upload_run(run, RUN1)


def test_object_upload_failing_before_the_manifest_leaves_an_incomplete_run(tmp_path: Path) -> None:
    locker = MemoryLocker()
    run = build_run(tmp_path / "staging", RUN1)

    def boom() -> None:
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        locker.upload_run(run, RUN1, before_manifest=boom)
    assert locker.list_runs() == []
    assert locker.list_incomplete() == [RUN1]
    locker.upload_run(run, RUN1)  # resumable: the same bytes again are accepted
    assert locker.list_runs() == [RUN1] and locker.list_incomplete() == []


def test_object_materialise_for_each_reader(tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    locker = MemoryLocker()
    for rid in (RUN1, RUN2, RUN3):
        locker.upload_run(build_run(staging, rid), rid)
    locker.objects[f"pre/runs/20260304T000000Z-dddddd/{EVIDENCE}"] = b"{}"  # an upload that died
    cache = tmp_path / "cache"
    (cache / "runs" / "20250101T000000Z-stale0").mkdir(parents=True)  # no longer in the locker

    out = locker.materialise(cache, [], files=HISTORY_FILES)  # manifests only
    assert sorted(p.name for p in (out / "runs").iterdir()) == [RUN1, RUN2, RUN3, "20260304T000000Z-dddddd"]
    assert [r.run_id for r in completed_runs(out)] == [RUN1, RUN2, RUN3]
    assert not (out / "runs" / RUN1 / "controls.json").exists()

    out = locker.materialise(cache, None, files=HISTORY_FILES)
    hist = run_history(out)
    assert [r.run_id for r in hist.runs] == [RUN1, RUN2, RUN3]
    assert all(r.control_counts for r in hist.runs)
    assert [i.run_id for i in hist.incomplete] == ["20260304T000000Z-dddddd"]

    out = locker.materialise(cache, [RUN2, RUN3], files=DRIFT_FILES)
    assert len(load_run_findings_fast(out / "runs" / RUN3)) == 2
    assert not (out / "runs" / RUN3 / EVIDENCE).exists()

    out = locker.materialise(cache, [RUN2])
    report = verify_run(out / "runs" / RUN2)
    assert report.ok, report.problems
    assert any("matches the hash recorded by the next run" in n for n in report.notes)

    with pytest.raises(LockerError, match="no run with a manifest"):
        locker.materialise(cache, ["20260304T000000Z-dddddd"])


def test_object_completed_runs_reads_manifests_only(tmp_path: Path) -> None:
    locker = MemoryLocker("gs://bucket")
    staging = tmp_path / "staging"
    for rid in (RUN1, RUN2):
        locker.upload_run(build_run(staging, rid), rid)
    infos = locker.completed_runs(tmp_path / "cache")
    assert [i.run_id for i in infos] == [RUN1, RUN2]
    assert infos[1].manifest["previous_manifest_sha256"] == infos[0].manifest_sha256
    assert sorted(p.name for p in (tmp_path / "cache" / "runs" / RUN1).iterdir()) == [MANIFEST]


def test_object_fetch_refuses_escaping_keys(tmp_path: Path) -> None:
    locker = MemoryLocker()
    locker.upload_run(build_run(tmp_path / "staging", RUN1), RUN1)
    locker.objects[f"pre/runs/{RUN1}/../../evil"] = b"x"
    with pytest.raises(LockerError, match="not a plain relative path"):
        locker.fetch_run(RUN1, tmp_path / "dest")
    with pytest.raises(LockerError, match="invalid run ID"):
        locker.fetch_run("..", tmp_path / "dest")
