"""The auditor's workbook opens in a real spreadsheet application: LibreOffice Calc, headless.

A workbook built by hand (hostile text, dates, numbers, every sheet, a 5,000-row population) is
converted by `soffice --headless --convert-to csv` with the sheet option -1, which writes EVERY
sheet to its own CSV (`<name>-<sheet>.csv`; LibreOffice >= 7.2, checked on 7.4.7). LibreOffice
loads the file with its own XLSX import and recalculates any formula, so:

- a hostile string such as `=1+1` must come out as the text "=1+1", never "2";
- the filter's 7th token ("quote all text cells") is on, so in the CSV text is quoted and
  numbers and dates are not: a date cell must come out unquoted as "2026-11-30 10:05:00"
  (its number format, as shown), and a text that looks like a date or a number stays quoted;
- every sheet is there, in order, with every row.

Skipped only when `soffice` is missing and not in CI; in CI (`CI` set) a missing soffice fails.
Debian: `apt-get install -y --no-install-recommends libreoffice-calc-nogui`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook

from controls.model import ControlStatus, Status
from reports.cells import clean_text
from reports.workbook import POPULATION_HEADERS, SUMMARY_HEADERS, write_workbook
from tests.unit.test_workbook import ACCOUNT, finding, make_input, result

pytestmark = pytest.mark.integration

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
if SOFFICE is None:
    if os.environ.get("CI"):
        pytest.fail("LibreOffice (soffice) is required in CI: apt-get install libreoffice-calc-nogui", pytrace=False)
    pytestmark = [pytestmark, pytest.mark.skip(reason="LibreOffice (soffice) not installed")]

# 44 = comma, 34 = double quote, 76 = UTF-8, 1 = from line 1, (no column formats), 0 = language,
# true = quote all text cells, true = detect special numbers (import only), false = not "as shown",
# false = no formulas (values: a formula would be computed), false = keep spaces, -1 = every sheet.
CSV_FILTER = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,true,true,false,false,false,-1"

HOSTILE = [
    "=1+1",
    '=HYPERLINK("http://attacker.example/x","Click for invoice")',
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "#N/A",
    "#DIV/0!",
    "\t=1",
    "\r=2",
    "_x003D_1+1",  # an OOXML escape lookalike: shown as typed
    "2026-01-01",  # looks like a date: stays text
    "0012",  # leading zeros: stays text
    "1E5",
    "TRUE",
    'multi\nline "quoted", text',
    "ünïcødé ✓ 😀",
]
N_POPULATION = 5_000


def parse_csv(text: str) -> list[list[tuple[str, bool]]]:
    """Records of (value, was_quoted): csv.reader loses the quoting, which tells text from numbers."""
    records: list[list[tuple[str, bool]]] = []
    row: list[tuple[str, bool]] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] == '"':
            j, buf = i + 1, []
            while True:
                k = text.index('"', j)
                buf.append(text[j:k])
                if k + 1 < n and text[k + 1] == '"':
                    buf.append('"')
                    j = k + 2
                    continue
                i = k + 1
                break
            row.append(("".join(buf), True))
        else:
            j = i
            while j < n and text[j] not in ",\n":
                j += 1
            row.append((text[i:j], False))
            i = j
        if i >= n or text[i] == "\n":
            records.append(row)
            row = []
        i += 1
    return records


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> tuple[Path, dict[str, list[list[tuple[str, bool]]]], float]:
    tmp = tmp_path_factory.mktemp("lo")
    findings = [
        finding(text, Status.FAIL, ("HOSTILE",), observed=text, reason=text, region=f"r{i}")
        for i, text in enumerate(HOSTILE)
    ]
    findings += [
        finding(
            f"vol-{i:05d}",
            (Status.PASS, Status.FAIL, Status.NOT_APPLICABLE, Status.ERROR, Status.EXCEPTED)[i % 5],
            ("BIG",),
            observed={"Encrypted": bool(i % 2), "KmsKeyId": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{i:08d}"},
        )
        for i in range(N_POPULATION)
    ]
    data = make_input(
        findings=findings,
        control_results=[
            result("HOSTILE", "Hostile", ControlStatus.DEFICIENT, fail=len(HOSTILE)),
            result("BIG", "Big", ControlStatus.DEFICIENT, **{str(s): N_POPULATION // 5 for s in Status}),
        ],
        criteria={"CC6.1": "=SUM(1,1)"},
        exceptions=[{"Exception": "EX-1", "Approved on": date(2026, 3, 1), "Status": "active", "Days": 12}],
        drift_summary="no baseline",
    )
    book = tmp / "Acme-SOC2-evidence.xlsx"
    write_workbook(book, data)
    out = tmp / "csv"
    profile = (tmp / "profile").as_uri()  # own profile: never clashes with a running LibreOffice
    start = time.perf_counter()
    proc = subprocess.run(
        [
            SOFFICE,
            f"-env:UserInstallation={profile}",
            "--headless",
            "--convert-to",
            CSV_FILTER,
            "--outdir",
            str(out),
            str(book),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    seconds = time.perf_counter() - start
    print(f"\nLibreOffice conversion of {book.stat().st_size / 1e3:.0f} kB to CSV: {seconds:.1f} s")
    assert proc.returncode == 0, proc.stderr
    sheets = {}
    for f in out.glob("*.csv"):
        sheets[f.stem.removeprefix(book.stem + "-")] = parse_csv(f.read_text(encoding="utf-8"))
    return book, sheets, seconds


def values(records: list[list[tuple[str, bool]]]) -> list[list[str]]:
    return [[v for v, _ in r] for r in records]


def by_header(records, header: str) -> list[tuple[str, bool]]:
    col = [v for v, _ in records[0]].index(header)
    return [r[col] for r in records[1:]]


def test_every_sheet_is_converted(converted):
    book, sheets, _ = converted
    names = load_workbook(book, read_only=True).sheetnames
    assert sorted(sheets) == sorted(names)
    assert names[:6] == ["Cover", "Summary", "Populations", "Privileged access", "Criteria", "Commitments"]
    assert names[-6:] == ["HOSTILE", "BIG", "Exceptions", "Drift", "Errors", "Evidence index"]
    assert len(names) == 18  # the 6 catalog controls of make_input() in between
    for name in names:
        assert sheets[name], name
        assert all(quoted for _, quoted in sheets[name][0]), f"header of {name} is text"


def test_row_counts(converted):
    _, sheets, _ = converted
    assert len(sheets["BIG"]) == N_POPULATION + 1
    assert len(sheets["HOSTILE"]) == len(HOSTILE) + 1
    assert [v for v, _ in sheets["BIG"][0]] == list(POPULATION_HEADERS)
    ids = [v for v, _ in by_header(sheets["BIG"], "Resource ID")]
    assert ids == [f"vol-{i:05d}" for i in range(N_POPULATION)]
    assert len(sheets["Errors"]) == N_POPULATION // 5 + 1


def test_hostile_text_is_text_not_a_formula(converted):
    _, sheets, _ = converted
    population = sheets["HOSTILE"]
    # what the user sees: the original text (CR as LF); the OOXML escape lookalike is shown as
    # typed, though it is stored escaped (`_x005F_x003D_1+1`)
    expected = [t.replace("\r", "\n") for t in HOSTILE]
    assert clean_text("_x003D_1+1") == "_x005F_x003D_1+1"
    for header in ("Resource ID", "Observed", "Reason"):
        got = by_header(population, header)
        assert [v for v, _ in got] == expected, header
        assert all(quoted for _, quoted in got), header  # text, not a computed number
    assert by_header(population, "Resource ID")[0] == ("=1+1", True)  # not "2"
    flat = [v for r in values(population) for v in r]
    assert "2" not in flat and "Click for invoice" not in flat
    criteria = sheets["Criteria"]
    assert by_header(criteria, "Paraphrase") == [("=SUM(1,1)", True)]


def test_dates_and_numbers_are_typed(converted):
    _, sheets, _ = converted
    evaluated = by_header(sheets["BIG"], "Evaluated at")
    assert set(evaluated) == {("2026-11-30 10:05:00", False)}  # a date (unquoted), in its number format
    cover = {(r[0][0], r[1][0]): r[2] for r in sheets["Cover"][1:]}
    assert cover[("Run", "Audit period start")] == ("2026-01-01", False)
    assert cover[("Run", "Started (UTC)")] == ("2026-11-30 10:00:00", False)
    assert cover[("Run", "Organization")] == ("Acme Corp", True)
    exceptions = sheets["Exceptions"]
    assert by_header(exceptions, "Approved on") == [("2026-03-01", False)]
    assert by_header(exceptions, "Days") == [("12", False)]
    summary = {r[0][0]: dict(zip(SUMMARY_HEADERS, r, strict=True)) for r in sheets["Summary"][1:]}
    assert summary["BIG"]["Enumerated"] == (str(N_POPULATION), False)
    assert summary["BIG"]["Status"] == ("deficient", True)
    collected = by_header(sheets["Evidence index"], "Collected at")
    assert collected == [("2026-11-30 10:00:00", False), ("2026-11-30 10:00:01", False)]
