"""Reproducible samples from a control's population, which an auditor can re-draw without us.

Population: every finding mapped to the control (all statuses: the rows of its population
sheet) in one run, or in every run of a period. Each item is one canonical line, the JSON array

    [run_id, check_id, account, region, resource_type, resource_id, status]

(UTF-8, no spaces: `jq -c` prints the same), and the population's SHA-256 is the SHA-256 of
these lines, each ending in a line feed, sorted in byte order, so an auditor recomputes it from
findings.jsonl with jq, sort and sha256sum (`Sample.how_to_recompute`).

Selection: each item's draw number is SHA-256("<seed>:<line>"); the sample is the `size` items
with the smallest draw numbers, in that order. The same seed and population give the same
items on any machine and in any language (no random-number generator whose algorithm could
change between versions); another seed gives another sample; an item's draw number does not
depend on the other items, so the selection cannot be steered by the order of the files.

Default sizes by how often the control operates, the frequency-based table for tests of
operating effectiveness that service auditors commonly use (AICPA Audit Guide *Audit
Sampling*, AU-C 530, non-statistical tests of controls; the low-risk end of each range):

    annual 1 · quarterly 2 · monthly 2 · weekly 5 · daily 25 · many times a day 25

A per-run population of resources checked by a daily (or more frequent) control takes 25; a
quarterly control (the user-access review) takes 2. A sample never exceeds the population;
`--size` overrides the default and the JSON records which applied.

Memory: findings are streamed one run at a time (reports.drift.parse_finding_line); only one
run's lines of the control and the best `size` candidates are held.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import yaml
from xlsxwriter import Workbook

from controls.additional import finding_id
from controls.catalog import CatalogModel, ControlModel
from reports.atomic import atomic_path, write_bytes
from reports.drift import parse_finding_line
from reports.store import FINDINGS, RunInfo, canonical_json, safe_component
from reports.workbook.styles import AUTO, XLSX_OPTIONS, Column, Formats, table_columns
from reports.workbook.table import TableWriter, discard_sheet_buffers

SAMPLE_SIZES: dict[str, int] = {
    "annual": 1,
    "annually": 1,
    "quarterly": 2,
    "monthly": 2,
    "weekly": 5,
    "daily": 25,
    "many times a day": 25,
    "continuous": 25,
    "per run": 25,
}
SIZE_TABLE = "annual 1, quarterly 2, monthly 2, weekly 5, daily 25, many times a day 25"
ITEM_FIELDS = ("run_id", "check_id", "account", "region", "resource_type", "resource_id", "status")

# the fields controls.additional.finding_id hashes, in its order
FINDING_KEY = ("check_id", "account", "region", "resource_type", "resource_id")


class SampleError(ValueError):
    """A sample that cannot be drawn (unknown control, empty population, bad size)."""


def default_size(frequency: str) -> int:
    """The table's size for a control frequency; unknown frequencies take the largest (25)."""
    return SAMPLE_SIZES.get(frequency.strip().lower(), max(SAMPLE_SIZES.values()))


def item_line(row: Sequence[str]) -> str:
    """The canonical line of an item (the fields of ITEM_FIELDS, in order)."""
    return json.dumps(list(row), ensure_ascii=False, separators=(",", ":"))


def draw_number(seed: str, line: str) -> str:
    return hashlib.sha256(f"{seed}:{line}".encode()).hexdigest()


@dataclass(frozen=True)
class SampledItem:
    draw: str  # SHA-256("<seed>:<line>"): the sample is the smallest of these
    line: str
    finding: Mapping[str, Any]  # the whole findings.jsonl object (reason, observed, evidence, ...)

    def fields(self) -> dict[str, str]:
        return dict(zip(ITEM_FIELDS, json.loads(self.line), strict=True))


@dataclass
class Sample:
    control_id: str
    control_title: str
    frequency: str
    source: str  # "run <id>" or "period <from> to <to>"
    label: str  # for file names: the run ID, or "<from>-<to>"
    runs: list[str]
    seed: str
    size: int
    size_basis: str
    population_size: int
    population_sha256: str
    items: list[SampledItem] = field(default_factory=list)

    def how_to_recompute(self) -> str:
        files = " ".join(f"runs/{r}/{FINDINGS}" for r in self.runs)
        select = f'select(.control_ids | index("{self.control_id}")) | [{", ".join("." + f for f in ITEM_FIELDS)}]'
        return f"jq -c '{select}' {files} | LC_ALL=C sort | sha256sum"

    def how_to_redraw(self) -> str:
        return (
            "for each population line L (as above): printf '%s:%s' SEED \"$L\" | sha256sum; the sample is the "
            f"{self.size} lines with the smallest hashes, in that order (seed {self.seed!r})"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": 1,
            "control": {"id": self.control_id, "title": self.control_title, "frequency": self.frequency},
            "source": self.source,
            "runs": self.runs,
            "population": {
                "definition": "every finding mapped to the control, all statuses (its population sheet)",
                "item": list(ITEM_FIELDS),
                "size": self.population_size,
                "sha256": self.population_sha256,
                "how_to_recompute": self.how_to_recompute(),
            },
            "seed": self.seed,
            "size": self.size,
            "size_basis": self.size_basis,
            "method": 'the items with the smallest SHA-256("<seed>:<line>")',
            "how_to_redraw": self.how_to_redraw(),
            "selection": [
                {"draw": i + 1, "draw_sha256": it.draw, **it.fields(), "evidence": it.finding.get("evidence", [])}
                for i, it in enumerate(self.items)
            ],
        }


def stored_control(run: RunInfo, control_id: str) -> ControlModel:
    """The control as the run's own catalog (catalog.yaml in the run) defines it."""
    entry = run.manifest.get("catalog")
    rel = str(entry.get("path")) if isinstance(entry, Mapping) and entry.get("path") else "catalog.yaml"
    try:
        catalog = CatalogModel.model_validate(yaml.safe_load((run.path / rel).read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise SampleError(f"run {run.run_id}: {rel} missing (the catalog the run used)") from None
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise SampleError(f"run {run.run_id}: {rel} unreadable: {exc}") from None
    for ctl in catalog.controls:
        if ctl.id == control_id:
            return ctl
    known = ", ".join(c.id for c in catalog.controls)
    raise SampleError(f"control {control_id!r} is not in run {run.run_id}'s catalog (controls: {known})")


def draw_sample(
    runs: Sequence[RunInfo],
    control_id: str,
    seed: str,
    *,
    size: int | None = None,
    source: str = "",
    label: str = "",
) -> Sample:
    """Draw the sample of `control_id` from `runs` (one run, or the runs of a period)."""
    if not runs:
        raise SampleError("no completed run to sample from")
    if size is not None and size < 1:
        raise SampleError(f"sample size must be at least 1, not {size}")
    ordered = sorted(runs, key=lambda r: r.run_id)  # the byte order of the lines: run ID first
    control = stored_control(ordered[-1], control_id)
    wanted = size if size is not None else default_size(control.frequency)
    basis = (
        f"--size {size}"
        if size is not None
        else f"default for a {control.frequency} control ({SIZE_TABLE}: AICPA-style frequency table)"
    )
    digest = hashlib.sha256()
    population = 0
    best: list[tuple[str, str, bytes]] = []
    for run in ordered:
        lines = sorted(_control_lines(run, control_id))
        population += len(lines)
        for line, _ in lines:
            digest.update(line.encode("utf-8") + b"\n")
        candidates = ((draw_number(seed, line), line, raw) for line, raw in lines)
        best = heapq.nsmallest(wanted, chain(best, candidates))
    if not population:
        raise SampleError(f"control {control_id}: no findings in {source or 'the runs'}: nothing to sample")
    sample = Sample(
        control_id=control_id,
        control_title=control.title,
        frequency=control.frequency,
        source=source or f"run {ordered[0].run_id}",
        label=label or (ordered[0].run_id if len(ordered) == 1 else f"{ordered[0].run_id}-{ordered[-1].run_id}"),
        runs=[r.run_id for r in ordered],
        seed=seed,
        size=min(wanted, population),
        size_basis=basis if wanted <= population else f"{basis}; the whole population ({population} items)",
        population_size=population,
        population_sha256=digest.hexdigest(),
    )
    sample.items = [SampledItem(d, line, json.loads(raw)) for d, line, raw in best]
    return sample


def _control_lines(run: RunInfo, control_id: str) -> Iterable[tuple[str, bytes]]:
    """(canonical line, raw findings.jsonl line) of every finding of the control in one run."""
    shared: dict[Any, Any] = {}
    try:
        with open(run.path / FINDINGS, "rb") as fh:
            for raw in fh:
                if len(raw) <= 2:
                    continue
                row = parse_finding_line(raw, shared)
                if control_id in row.control_ids:
                    yield item_line((row.run_id, *row[:6])), raw
    except FileNotFoundError:
        raise SampleError(f"run {run.run_id}: {FINDINGS} missing (check it with `soc2-evidence verify`)") from None


def sample_file_stem(organization: str, sample: Sample) -> str:
    parts = (organization, "SOC2-sample", sample.control_id, sample.label, sample.seed)
    return "-".join(safe_component(p) for p in parts)


def write_sample_files(sample: Sample, out_dir: Path, organization: str) -> tuple[Path, Path]:
    """The sample as a small workbook (Sample: how it was drawn; Selection: the items) and as
    JSON (the same, machine-readable), both written atomically into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = sample_file_stem(organization, sample)
    json_path, xlsx_path = out_dir / f"{stem}.json", out_dir / f"{stem}.xlsx"
    write_bytes(json_path, canonical_json(sample.to_json()))
    with atomic_path(xlsx_path) as tmp:
        wb = Workbook(str(tmp), XLSX_OPTIONS)
        try:
            out = TableWriter(wb, Formats(wb), set())
            out.table("Sample", [Column("Item"), Column("Value", AUTO)], _about(sample, organization))
            headers = ("Draw", "Draw SHA-256", *ITEM_FIELDS, "Finding ID", "Reason", "Evidence")
            out.table(
                "Selection",
                table_columns(headers, numbers=(0,)),
                (
                    (
                        n,
                        it.draw,
                        *it.fields().values(),
                        finding_id(
                            *(it.fields()[k] for k in ("check_id", "account", "region", "resource_type", "resource_id"))
                        ),
                        it.finding.get("reason", ""),
                        "; ".join(f"{e.get('path')} ({e.get('sha256')})" for e in it.finding.get("evidence", [])),
                    )
                    for n, it in enumerate(sample.items, 1)
                ),
                status_col=2 + ITEM_FIELDS.index("status"),
            )
            wb.close()
        except BaseException:
            discard_sheet_buffers(wb)
            raise
    return xlsx_path, json_path


def _about(sample: Sample, organization: str) -> Iterable[tuple[str, Any]]:
    yield ("Organization", organization)
    yield ("Control", f"{sample.control_id}: {sample.control_title}")
    yield ("Control frequency", sample.frequency)
    yield ("Drawn from", sample.source)
    yield ("Runs", ", ".join(sample.runs))
    yield ("Population", "every finding mapped to the control, all statuses (its population sheet)")
    yield ("Population size", sample.population_size)
    yield ("Population SHA-256", sample.population_sha256)
    yield ("Recompute the population's SHA-256", sample.how_to_recompute())
    yield ("Seed", sample.seed)
    yield ("Sample size", sample.size)
    yield ("Sample size basis", sample.size_basis)
    yield ("Method", 'the items with the smallest SHA-256("<seed>:<line>"), in that order')
    yield ("Re-draw", sample.how_to_redraw())
