"""Reproducible samples: same seed, same items; another seed, another sample; the population's
hash and the draw recomputed the way the auditor is told to (jq, sort, sha256sum)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest

from reports.sample import SampleError, default_size, draw_number, draw_sample, write_sample_files
from reports.store import completed_runs
from tests.unit.test_verify import EBS, S3, build_run

RUNS = ("20260105T060000Z-000001", "20260112T060000Z-000002", "20260119T060000Z-000003")


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    for n, run_id in enumerate(RUNS):
        specs = [(S3, f"bucket-{i:03d}", "fail" if (i + n) % 7 == 0 else "pass") for i in range(60)]
        specs += [(EBS, f"vol-{i:03d}", "pass") for i in range(20)]
        specs += [("aws.kms.key_rotation", f"key-{i}", "pass") for i in range(3)]
        build_run(out, run_id, specs)
    return out


def runs(output: Path, *ids: str):  # -> list[RunInfo]
    return [r for r in completed_runs(output) if not ids or r.run_id in ids]


def test_same_seed_same_items_other_seed_other_items(output: Path) -> None:
    one = runs(output, RUNS[0])
    a = draw_sample(one, "ENC-01", "20260401")
    b = draw_sample(one, "ENC-01", "20260401")
    c = draw_sample(one, "ENC-01", "20260402")
    assert a.size == 25 and a.population_size == 80  # ENC-01 is a daily control: 25 of 80
    assert [i.line for i in a.items] == [i.line for i in b.items]
    assert a.population_sha256 == c.population_sha256
    assert [i.line for i in a.items] != [i.line for i in c.items]
    assert len({i.line for i in a.items}) == 25
    # the order of the files does not matter, only the seed and the population
    assert [i.line for i in draw_sample(list(reversed(runs(output))), "ENC-01", "7").items] == [
        i.line for i in draw_sample(runs(output), "ENC-01", "7").items
    ]


def test_population_hash_and_draw_recomputed_with_jq(output: Path) -> None:
    if shutil.which("jq") is None:
        pytest.skip("jq not installed")
    sample = draw_sample(runs(output), "ENC-01", "s3cret", size=10, source="period 2026-01-05 to 2026-01-25")
    assert sample.population_size == 240 and sample.runs == list(RUNS)
    command = sample.how_to_recompute()
    printed = subprocess.run(command, shell=True, cwd=output, capture_output=True, text=True, check=True).stdout
    assert printed.split()[0] == sample.population_sha256
    lines = subprocess.run(
        command.removesuffix(" | sha256sum"), shell=True, cwd=output, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    by_hand = sorted(lines, key=lambda line: hashlib.sha256(f"s3cret:{line}".encode()).hexdigest())[:10]
    assert [i.line for i in sample.items] == by_hand
    assert [i.draw for i in sample.items] == [draw_number("s3cret", line) for line in by_hand]
    assert {json.loads(i.line)[0] for i in sample.items} <= set(RUNS)


def test_default_sizes_follow_the_frequency_table_and_the_runs_catalog(tmp_path: Path) -> None:
    assert [default_size(f) for f in ("annual", "quarterly", "monthly", "weekly", "daily")] == [1, 2, 2, 5, 25]
    assert default_size("whenever") == 25  # unknown: the largest
    run = build_run(tmp_path, RUNS[0], [("aws.kms.key_rotation", f"key-{i}", "pass") for i in range(9)])
    catalog = run / "catalog.yaml"
    text = catalog.read_text()
    start = text.index("- id: ENC-02")
    end = text.index("frequency: daily", start)
    catalog.write_text(text[:end] + "frequency: quarterly" + text[end + len("frequency: daily") :])
    sample = draw_sample(runs(tmp_path), "ENC-02", "1")
    assert (sample.frequency, sample.size) == ("quarterly", 2)
    assert "default for a quarterly control" in sample.size_basis


def test_size_beyond_the_population_takes_it_all_and_bad_input_is_refused(output: Path) -> None:
    one = runs(output, RUNS[0])
    whole = draw_sample(one, "ENC-02", "1", size=50)
    assert whole.size == 3 and len(whole.items) == 3 and "the whole population (3 items)" in whole.size_basis
    with pytest.raises(SampleError, match=r"not in run .*'s catalog"):
        draw_sample(one, "NOPE-01", "1")
    with pytest.raises(SampleError, match="at least 1"):
        draw_sample(one, "ENC-01", "1", size=0)
    with pytest.raises(SampleError, match="no completed run"):
        draw_sample([], "ENC-01", "1")


def test_files_record_seed_hash_and_selection(output: Path, tmp_path: Path) -> None:
    sample = draw_sample(runs(output, RUNS[1]), "ENC-01", "99", size=5)
    xlsx, js = write_sample_files(sample, tmp_path, "Dexo.chat")
    assert xlsx.name == f"Dexo.chat-SOC2-sample-ENC-01-{RUNS[1]}-99.xlsx" and js.suffix == ".json"
    data = json.loads(js.read_text())
    assert (data["seed"], data["size"], data["population"]["sha256"]) == ("99", 5, sample.population_sha256)
    assert [s["resource_id"] for s in data["selection"]] == [json.loads(i.line)[5] for i in sample.items]
    assert data["selection"][0]["evidence"][0]["path"].startswith("evidence/")
    book = openpyxl.load_workbook(xlsx, read_only=True)
    about = {r[0]: r[1] for r in book["Sample"].iter_rows(min_row=2, values_only=True)}
    assert about["Seed"] == "99" and about["Population SHA-256"] == sample.population_sha256
    assert about["Population size"] == 80
    rows = list(book["Selection"].iter_rows(values_only=True))
    assert rows[0][:3] == ("Draw", "Draw SHA-256", "run_id")
    assert [r[7] for r in rows[1:]] == [s["resource_id"] for s in data["selection"]]
